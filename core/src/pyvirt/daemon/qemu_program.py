"""pyvirtd's second RPC program: libvirt-qemu's (``qemu_protocol.x``, program 0x20008087, version 1).

libvirt's client library sends virDomainQemuMonitorCommand and
virDomainQemuAgentCommand there, not to the remote program, on the same
connection: the driver connection the client opened through the remote
program's CONNECT_OPEN is the one these calls use, and its read-only state
applies (the facade refuses both as writes). The monitor-event pair
(virConnectDomainQemuMonitorEventRegister/Deregister) listens on the shared
connection for the ``qemu-monitor`` events the QEMU driver reports for every
QMP event of a guest and sends each matching one as a
QEMU_PROC_DOMAIN_MONITOR_EVENT message; the event name filter is applied
here, as libvirt's virDomainQemuMonitorEventFilter does in the daemon's
event state. QEMU_PROC_DOMAIN_ATTACH and MONITOR_COMMAND_WITH_FILES answer
NO_SUPPORT in libvirt's words, as a libvirtd whose driver lacks them does.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from pyvirt.errors import (
    ConnectionError,
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    NotSupportedError,
    OperationDeniedError,
)
from pyvirt.local_driver.domain_jobs import calling_api
from pyvirt.qemu_monitor_events import event_filter
from pyvirt.remote import _qemu
from pyvirt.remote.calls import domain_ref, uuid_text, wire_domain
from pyvirt.remote.message import Header, MessageType, Status, encode_message
from pyvirt.remote.xdr import ProtocolError, decode

if TYPE_CHECKING:
    from pyvirt.daemon.remote_program import ClientContext
    from pyvirt.daemon.server import Client
    from pyvirt.remote.procedure_table import Procedure

__all__ = ["QemuProgram"]

log = logging.getLogger(__name__)


def _monitor_command(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_qemu_monitor_command(dom=domain_ref(a[0]), cmd=a[1], flags=a[2]),)


def _agent_command(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_qemu_agent_command(dom=domain_ref(a[0]), cmd=a[1], timeout=a[2], flags=a[3]),)


# the client's state key for the callback ids it registered through this program (libvirtd's qemuEventCallbacks)
_MONITOR_CALLBACKS = "qemu-monitor-callbacks"


def _monitor_ids(client: Client) -> set[int]:
    """The callback ids the client registered through this program (only those may be deregistered here)."""
    ids = client.state.get(_MONITOR_CALLBACKS)
    if not isinstance(ids, set):
        ids = set()
        client.state[_MONITOR_CALLBACKS] = ids
    return ids


def _register_monitor_event(ctx: ClientContext, a: Any) -> Any:
    """qemuDispatchConnectDomainMonitorEventRegister: one listener on the shared connection per callback id."""
    if ctx.read_only:
        raise OperationDeniedError(
            ErrorCode.OPERATION_DENIED, "read only access prevents virConnectDomainQemuMonitorEventRegister"
        )
    dom, event, flags = a
    shared = ctx.shared
    assert shared is not None
    if shared.conn.driver_name != "qemu":  # (libvirt's other drivers lack connectDomainQemuMonitorEventRegister)
        raise NotSupportedError(ErrorCode.NO_SUPPORT, "virConnectDomainQemuMonitorEventRegister")
    matches = event_filter(event, flags)
    uuid = uuid_text(dom[1]) if dom is not None else None  # (libvirtd does not look it up: a UUID filter)
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback

    def deliver(ev: Any) -> None:
        if not matches(ev.event):
            return
        value = (callback_id, wire_domain(ev.domain), ev.event, ev.seconds, ev.micros, ev.details)
        entry = _qemu.PROCEDURES[_qemu.QEMU_PROC_DOMAIN_MONITOR_EVENT]
        ctx.client.send(
            encode_message(_qemu.PROGRAM, _qemu.PROTOCOL_VERSION, entry.number, MessageType.MESSAGE, 1, Status.OK,
                           entry.pack_args, value)
        )  # fmt: skip

    key = shared.listen("qemu-monitor", deliver, uuid)
    with ctx.lock:
        ctx.callbacks[callback_id] = key  # (released with the client's other listeners when it goes)
        _monitor_ids(ctx.client).add(callback_id)
    return (callback_id,)


def _deregister_monitor_event(ctx: ClientContext, a: Any) -> Any:
    """qemuDispatchConnectDomainMonitorEventDeregister: only ids this program registered, in libvirtd's words."""
    callback_id = a[0]
    with ctx.lock:
        ours = _monitor_ids(ctx.client)
        key = ctx.callbacks.pop(callback_id, None) if callback_id in ours else None
        ours.discard(callback_id)
    if key is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"qemu monitor event callback {callback_id} not registered")
    if ctx.shared is not None:
        ctx.shared.unlisten(key)
    return None


# procedure number -> (handler, libvirtd's dispatcher name, which jobs carry as their owner)
_HANDLERS = {
    _qemu.QEMU_PROC_DOMAIN_MONITOR_COMMAND: (_monitor_command, "qemuDispatchDomainMonitorCommand"),
    _qemu.QEMU_PROC_DOMAIN_AGENT_COMMAND: (_agent_command, "qemuDispatchDomainAgentCommand"),
    _qemu.QEMU_PROC_CONNECT_DOMAIN_MONITOR_EVENT_REGISTER: (
        _register_monitor_event,
        "qemuDispatchConnectDomainMonitorEventRegister",
    ),
    _qemu.QEMU_PROC_CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER: (
        _deregister_monitor_event,
        "qemuDispatchConnectDomainMonitorEventDeregister",
    ),
}
_API = {
    "QEMU_PROC_DOMAIN_ATTACH": "virDomainQemuAttach",
    "QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES": "virDomainQemuMonitorCommandWithFiles",
}


class QemuProgram:
    """The dispatcher of libvirt-qemu's procedures; the client's state is the remote program's."""

    program = _qemu.PROGRAM
    version = _qemu.PROTOCOL_VERSION

    def dispatch(self, client: Client, header: Header, body: bytes, fds: list[int] | None = None) -> None:
        from pyvirt.daemon.remote_program import _close_all

        if fds:
            _close_all(fds)  # (WITH_FILES is not served: nothing takes them)
        proc = _qemu.PROCEDURES.get(header.proc)
        if header.type == MessageType.STREAM or proc is None or proc.is_message:
            err = ConnectionError(ErrorCode.RPC, f"unknown procedure: {header.proc}", domain=ErrorDomain.RPC)
            client.send_error(header, err)
            return
        entry = _HANDLERS.get(header.proc)
        if entry is None:
            api = _API.get(proc.name, proc.name)
            client.send_error(header, NotSupportedError(ErrorCode.NO_SUPPORT, api, domain=ErrorDomain.REMOTE))
            return
        from pyvirt.daemon.remote_program import ClientContext

        ctx = client.state.get("remote")
        if not isinstance(ctx, ClientContext) or ctx.shared is None:
            client.send_error(
                header, InternalError(ErrorCode.INTERNAL_ERROR, "connection not open", domain=ErrorDomain.RPC)
            )
            return
        try:
            args = decode(proc.unpack_args, body, 0, what="payload")  # (strings come cut at a NUL, as libvirtd's)
        except ProtocolError as e:
            client.send_error(header, e)
            return
        handler, name = entry
        # a guest's monitor or agent may take its time: never on the event loop
        client.run_in_worker(functools.partial(self._run, ctx, header, proc, handler, name, args))

    @staticmethod
    def _run(ctx: ClientContext, header: Header, proc: Procedure, handler: Any, name: str, args: Any) -> None:
        client = ctx.client
        try:
            with calling_api(name):
                result = handler(ctx, args)
            reply = encode_message(
                header.prog, header.vers, header.proc, MessageType.REPLY, header.serial, Status.OK,
                proc.pack_ret, result,
            )  # fmt: skip
        except Error as e:
            client.send_error(header, e)
        except Exception as e:  # a driver bug must not take the daemon down; report it as libvirt would
            log.exception("%s failed", proc.name)
            client.send_error(header, e)
        else:
            client.send(reply)

    def client_closed(self, client: Client) -> None:
        """Nothing of its own: the connection and its callbacks are the remote program's to release."""
