"""libvirt's remote program (0x20008086 v1) served by pyvirtd: decode, check, dispatch, reply.

One call: look the procedure up in the table generated from libvirt's
``remote_protocol.x``; decode its arguments (a malformed payload is answered
with libvirt's RPC error and the client stays); refuse it on a read-only
client when libvirt would (derived from the ``.x`` file's own ``@acl``
annotations, so the list of write calls is libvirt's, not ours); run the
handler from :mod:`pyvirt.daemon.procedures`; reply with the encoded result
or the error with libvirt's code, domain and message.

Where a call runs follows libvirt's worker model: a call of the test driver
(in memory, never waits) runs on the event loop, which saves the thread
hand-off, and so does a call of a hook the connection's driver declares never
blocks (``DriverCalls.never_blocks``: the QEMU driver's lookups, which read
its in-memory table), and a CONNECT_CLOSE with nothing to undo (no migration
phase of the client's left open: the rest is counting and dropping listeners);
everything else runs on a worker, calls libvirt marks
``@priority: high`` on the priority pool, so a slow start never delays a
lookup or a destroy.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from pyvirt.daemon.server import Client
from pyvirt.daemon.state import DaemonState, SharedConnection
from pyvirt.daemon.streams import FdStream
from pyvirt.errors import (
    ConnectionError,
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    NotSupportedError,
    OperationDeniedError,
)
from pyvirt.flags import BY_LIBVIRT_NAME
from pyvirt.local_driver.domain_jobs import calling_api
from pyvirt.remote.message import REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, Header, MessageType, Status, encode_message
from pyvirt.remote.procedure_table import Procedure
from pyvirt.remote.xdr import DECODE_ERRORS, decode_failure

if TYPE_CHECKING:
    from pyvirt.connection import Connection
    from pyvirt.plugin.facade import DriverCalls

__all__ = ["ClientContext", "RemoteProgram", "StreamOpen", "api_name"]

log = logging.getLogger("pyvirt.daemon.remote")

_ACRONYMS = frozenset({"XML", "UUID", "ID", "OS", "CPU", "URI", "DHCP", "FS", "PM", "FD", "NMI", "SEV", "MAC", "IP"})
# words of procedure names that libvirt's API names spell otherwise than capitalized
_SPELLED = {"IOTHREAD": "IOThread", "FSINFO": "FSInfo", "FSFREEZE": "FSFreeze", "FSTHAW": "FSThaw", "FSTRIM": "FSTrim",
            "SSH": "SSH", "NWFILTER": "NWFilter", "NWFILTERS": "NWFilters"}  # fmt: skip

# Permissions a read-only client holds (libvirt's read-only connections may read, look up and search).
_READ_PERMS = frozenset({"read", "getattr", "none"})
_SRC_AGENT = 1  # VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT: a source, not a flag, so not in pyvirt.flags
# The flag and parameter values named by the conditional @acl annotations of otherwise read-level
# procedures (from libvirt's public headers; a test checks that every such name is known here).
ACL_CONDITION_VALUES = {
    **{
        name: int(BY_LIBVIRT_NAME[name])
        for name in (
            "VIR_DOMAIN_XML_SECURE",
            "VIR_DOMAIN_XML_MIGRATABLE",
            "VIR_DOMAIN_SNAPSHOT_XML_SECURE",
            "VIR_DOMAIN_VCPU_GUEST",
            "VIR_DOMAIN_SAVE_IMAGE_XML_SECURE",
            "VIR_DOMAIN_CHECKPOINT_XML_SECURE",
        )
    },
    "VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT": _SRC_AGENT,
}
# libvirt's read-only connections refuse only the *secure* flags of the XML getters
# (virDomainGetXMLDesc: "with secure flag"); MIGRATABLE is read_secure in the ACL but allowed read-only.
_RO_ALLOWED_CONDITIONS = frozenset({"VIR_DOMAIN_XML_MIGRATABLE"})


def _close_all(fds: list[int]) -> None:
    """Close and forget descriptors a call brought (the list may be looked at again: it is left empty)."""
    for fd in fds:
        os.close(fd)
    fds.clear()


def api_name(proc_name: str) -> str:
    """``REMOTE_PROC_DOMAIN_GET_XML_DESC`` -> ``virDomainGetXMLDesc`` (libvirt's public API name)."""
    words = proc_name.removeprefix("REMOTE_PROC_").split("_")
    return "vir" + "".join(w if w in _ACRONYMS else _SPELLED.get(w) or w.capitalize() for w in words)


@functools.cache
def dispatch_name(proc_name: str) -> str:
    """``remoteDispatchDomainSave``: libvirtd's name for the thread running a call (its generated dispatcher),
    which the domain jobs it begins carry ("cannot acquire state change lock (held by monitor=...)")."""
    return "remoteDispatch" + api_name(proc_name).removeprefix("vir")


class ReadOnlyRule:
    """Whether a procedure may run on a read-only client, from its @acl annotations."""

    def __init__(self, proc: Procedure, fields: tuple[str, ...]) -> None:
        # (argument index, value, equal rather than bit test, flag name)
        self.conditions: list[tuple[int, int, bool, str]] = []
        acls = [acl.split(":") for acl in proc.annotation("acl")]
        writes = [p for p in acls if len(p) >= 2 and p[1] not in _READ_PERMS and not p[1].startswith("search_")]
        # An unconditional write permission makes the whole call a write; only otherwise do the
        # conditional ones (a flag set, an argument equal to a value) matter.
        self.always_write = any(len(p) == 2 for p in writes)
        if self.always_write:
            return
        for parts in writes:
            if len(parts) == 3:  # object:perm:FLAG -> when flags has FLAG
                names, field, exact = parts[2], "flags", False
            else:  # object:perm::param:VALUE -> when param == VALUE
                names, field, exact = parts[4], parts[3], True
            for name in names.split("|"):
                if name.startswith("!") or name in _RO_ALLOWED_CONDITIONS or field not in fields:
                    continue
                self.conditions.append((fields.index(field), ACL_CONDITION_VALUES[name], exact, name))

    def check(self, api: str, args: Any) -> None:
        if self.always_write:
            raise OperationDeniedError(ErrorCode.OPERATION_DENIED, f"read only access prevents {api}")
        for index, value, exact, name in self.conditions:
            got = args[index]
            if (got == value) if exact else (got & value):
                if "SECURE" in name:
                    raise OperationDeniedError(ErrorCode.OPERATION_DENIED, f"{api} with secure flag")
                # the guest agent's variants: libvirt's API refuses them as it refuses any write
                raise OperationDeniedError(ErrorCode.OPERATION_DENIED, f"read only access prevents {api}")


class ClientContext:
    """The remote program's state for one client: its connection, read-only flag and event callbacks."""

    def __init__(self, client: Client, state: DaemonState) -> None:
        self.client = client
        self.state = state
        self.read_only = client.read_only
        self.shared: SharedConnection | None = None
        self.uri = ""
        self.lock = threading.Lock()
        # libvirt callback id -> the shared connection's listener key
        self.callbacks: dict[int, int] = {}
        self.next_callback = 0
        # open streams by the serial of the call that opened them (touched on the loop thread only)
        self.streams: dict[int, FdStream] = {}
        # what to undo if the client goes away in the middle of something it drives across calls (a
        # migration between its phases: libvirt's connection close callbacks), by key; run at close
        self.on_close: dict[str, Callable[[], object]] = {}

    @property
    def conn(self) -> Connection:
        if self.shared is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "connection not open", domain=ErrorDomain.REMOTE)
        return self.shared.conn

    @property
    def calls(self) -> DriverCalls:
        """The driver (what nearly every handler asks for first: one property, not two)."""
        shared = self.shared
        if shared is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "connection not open", domain=ErrorDomain.REMOTE)
        return shared.conn.calls

    def send_event(self, proc: int, value: Any) -> None:
        """An event message (libvirt sends them as type MESSAGE with serial 1)."""
        from pyvirt.remote import _remote

        entry = _remote.PROCEDURES[proc]
        self.client.send(
            encode_message(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, MessageType.MESSAGE, 1, Status.OK,
                           entry.pack_args, value)
        )  # fmt: skip


class StreamOpen(NamedTuple):
    """What a stream procedure's handler returns: the call's reply value and the descriptor to relay."""

    ret: Any
    fd: int
    upload: bool = False  # a write stream whose finish waits for the data to be stored (FdStream.upload)


Handler = Callable[[ClientContext, Any], Any]

_STREAM = int(MessageType.STREAM)
_REPLY = int(MessageType.REPLY)
_OK = int(Status.OK)


class Route:
    """What dispatching one procedure needs, gathered once per procedure number on its first call.

    Why: every call used to look its procedure up in the generated table (a
    ``Mapping``, so Python frames), its handler by name, the name in three
    sets, and its API name for a read-only check; with the walk over the
    decoded arguments that cutting strings at a NUL took before the decoder
    did it, that was about a tenth of a test-driver lookup+info pair in
    pyvirtd (1.5 of 16 µs, measured in process). A route is made only for a
    procedure of the table, so a client sending made-up numbers adds nothing
    to the cache.
    """

    __slots__ = ("api", "closes", "handler", "hook", "name", "needs_conn", "pack", "priority", "proc", "rule",
                 "unpack", "with_fds")  # fmt: skip

    def __init__(self, proc: Procedure, handler: Handler | None, rule: ReadOnlyRule, *, needs_conn: bool,
                 with_fds: bool, hook: str | None, closes: bool) -> None:  # fmt: skip
        self.proc = proc
        self.unpack = proc.unpack_args
        self.pack = proc.pack_ret
        self.handler = handler  # None: a procedure of libvirt's that pyvirtd does not serve (NO_SUPPORT)
        self.rule = rule  # checked for read-only clients only
        self.needs_conn = needs_conn
        self.with_fds = with_fds
        self.hook = hook  # the one hook the handler calls (ONE_HOOK), for the driver's never-blocks declaration
        self.closes = closes  # CONNECT_CLOSE: its reply ends the connection
        self.priority = proc.priority == "high"
        self.api = api_name(proc.name)  # virDomainLookupByName, for the read-only refusals
        self.name = dispatch_name(proc.name)  # remoteDispatchDomainLookupByName, what a worker's call is named


class RemoteProgram:
    """The dispatcher the server hands every remote-program message to."""

    program = REMOTE_PROGRAM
    version = REMOTE_PROTOCOL_VERSION

    def __init__(self, state: DaemonState) -> None:
        from pyvirt.daemon.procedures import HANDLERS, NO_CONNECTION_NEEDED, ONE_HOOK, WITH_FDS
        from pyvirt.remote import _remote

        self.state = state
        self._procedures = _remote.PROCEDURES
        self._fields = _remote.FIELDS
        self._handlers = HANDLERS
        self._no_conn = NO_CONNECTION_NEEDED
        self._one_hook = ONE_HOOK
        self._with_fds = WITH_FDS
        self._routes: dict[int, Route] = {}
        self._connect_close = _remote.REMOTE_PROC_CONNECT_CLOSE

    def context(self, client: Client) -> ClientContext:
        ctx = client.state.get("remote")
        if ctx is None:
            ctx = client.state["remote"] = ClientContext(client, self.state)
        assert isinstance(ctx, ClientContext)
        return ctx

    def _route(self, number: int) -> Route | None:
        """The route of procedure ``number``, made on its first call; None for a number that is no call."""
        if number not in self._procedures:
            return None
        proc = self._procedures[number]
        if proc.is_message:
            return None
        base = proc.name.removeprefix("REMOTE_PROC_").lower()
        route = self._routes[number] = Route(
            proc, self._handlers.get(proc.name), ReadOnlyRule(proc, self._fields.get(f"remote_{base}_args", ())),
            needs_conn=proc.name not in self._no_conn, with_fds=proc.name in self._with_fds,
            hook=self._one_hook.get(proc.name), closes=number == self._connect_close,
        )  # fmt: skip
        return route

    def dispatch(self, client: Client, header: Header, body: bytes, fds: list[int] | None = None) -> None:
        """One message. ``fds``, a CALL_WITH_FDS's descriptors, are closed on every path once the call is done.

        A procedure that takes descriptors (``handles(..., fds=True)``) gets
        them as one more argument after its wire arguments, an empty list when
        the client sent a plain CALL; any other procedure's are closed unused,
        as libvirtd frees them with the message.

        Every call of every client passes here, so it is written as one flat
        function over the procedure's :class:`Route`: decoding is inlined
        (``xdr.decode``'s words, through ``decode_failure``) and each step
        that only some calls need is one test.
        """
        try:
            if header.type == _STREAM:
                ctx = self.context(client)
                stream = ctx.streams.get(header.serial)
                if stream is not None:  # data for a stream already closed is dropped, as libvirt drops it
                    stream.incoming(header, body)
                return
            route = self._routes.get(header.proc) or self._route(header.proc)
            if route is None:
                client.send_error(
                    header, ConnectionError(ErrorCode.RPC, f"unknown procedure: {header.proc}", domain=ErrorDomain.RPC)
                )
                return
            found = client.state.get("remote")
            ctx = found if isinstance(found, ClientContext) else self.context(client)
            unpack = route.unpack
            try:
                args: Any = None if unpack is None else unpack(body, 0)[0]
            except DECODE_ERRORS as exc:
                client.send_error(header, decode_failure(exc, "payload"))
                return
            handler = route.handler
            if handler is None:
                client.send_error(
                    header,
                    NotSupportedError(ErrorCode.NO_SUPPORT, route.api, domain=ErrorDomain.REMOTE),
                )
                return
            shared = ctx.shared
            if shared is None and route.needs_conn:
                client.send_error(
                    header, InternalError(ErrorCode.INTERNAL_ERROR, "connection not open", domain=ErrorDomain.RPC)
                )
                return
            if route.with_fds:
                args = (*args, list(fds or ()))  # lent to the handler: _run_with_fds closes them after the call
                if fds:
                    fds.clear()
                run = self._run_with_fds
            else:
                if fds:
                    _close_all(fds)  # a call that takes none: nothing will use them
                run = self._run
            if shared is None or shared.uri.startswith("test:") or self._never_blocks(ctx, route):
                # Inline, unnamed: neither the test driver nor the connection-less procedures begin a
                # domain job, the only reader of the name ``calling_api`` sets (half a microsecond of
                # the dozen a lookup costs here).
                run(ctx, header, route, args, False)
            else:
                client.run_in_worker(functools.partial(run, ctx, header, route, args, True), priority=route.priority)
        finally:
            if fds:
                _close_all(fds)  # left here when the call was refused before it ran

    def _never_blocks(self, ctx: ClientContext, route: Route) -> bool:
        if route.closes:
            with ctx.lock:
                return not ctx.on_close  # (an undo may talk to a guest or another host)
        return route.hook is not None and ctx.calls.never_blocks(route.hook)

    def _run_with_fds(self, ctx: ClientContext, header: Header, route: Route, args: Any, named: bool) -> None:
        """:meth:`_run` of a call that brought descriptors (its last argument): they are closed before the
        reply goes out, whatever happened (what the driver keeps of them, it duplicated), so that a client
        that has its answer finds none of them left in the daemon."""
        try:
            self._run(ctx, header, route, args, named, args[-1])
        finally:
            _close_all(args[-1])  # (a failure before any reply)

    def _run(self, ctx: ClientContext, header: Header, route: Route, args: Any, named: bool,
             fds: list[int] | None = None) -> None:  # fmt: skip
        """Check, call the handler, reply (on the loop for the test driver, on a worker otherwise)."""
        client = ctx.client
        try:
            if ctx.read_only:
                route.rule.check(route.api, args)
            handler = route.handler
            assert handler is not None  # (dispatch answers NO_SUPPORT for the others)
            if named:
                with calling_api(route.name):
                    result = handler(ctx, args)
            else:
                result = handler(ctx, args)
            opened = result if type(result) is StreamOpen else None
            if opened is not None:
                result = opened.ret
            prog, vers, number, _type, serial, _status = header  # (one step, not four attribute reads)
            reply = encode_message(prog, vers, number, _REPLY, serial, _OK, route.pack, result)
        except Error as e:
            if fds:
                _close_all(fds)
            client.send_error(header, e)
        except Exception as e:  # a driver bug must not take the daemon down; report it as libvirt would
            log.exception("%s failed", route.proc.name)
            if fds:
                _close_all(fds)
            client.send_error(header, e)
        else:
            if fds:
                _close_all(fds)
            if opened is not None:
                # Queued before the reply (the loop runs its callbacks in order): a write stream's client
                # sends data as soon as it has the reply, and data for a stream not yet registered is dropped.
                client.server.loop.call_soon_threadsafe(self._start_stream, ctx, header, opened.fd, opened.upload)
            if route.closes:
                client.send_last(reply)  # libvirt's delayed close: the connection ends with this reply
            else:
                client.send(reply)

    def _start_stream(self, ctx: ClientContext, header: Header, fd: int, upload: bool = False) -> None:
        if ctx.client.closed:
            os.close(fd)
            return
        stream = FdStream(
            ctx.client, header, fd, on_close=lambda st: ctx.streams.pop(st.call.serial, None), upload=upload
        )
        ctx.streams[header.serial] = stream
        stream.start()

    def client_closed(self, client: Client) -> None:
        ctx = client.state.pop("remote", None)
        if isinstance(ctx, ClientContext):
            close_context(ctx, self.state)


def close_context(ctx: ClientContext, state: DaemonState) -> None:
    """Drop the client's event listeners and its share of the driver connection."""
    for stream in list(ctx.streams.values()):
        stream.close()
    with ctx.lock:
        pending = list(ctx.on_close.values())
        ctx.on_close.clear()
    for undo in pending:  # while the connection is still there to undo through
        try:
            undo()
        except Exception:
            log.warning("cleanup after a closed client failed", exc_info=True)
    with ctx.lock:
        shared, ctx.shared = ctx.shared, None
        keys = list(ctx.callbacks.values())
        ctx.callbacks.clear()
    if shared is not None:
        for key in keys:
            shared.unlisten(key)
        state.release(shared)
