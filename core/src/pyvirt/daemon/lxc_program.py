"""pyvirtd's third RPC program: libvirt-lxc's (``lxc_protocol.x``, program 0x68000, version 1).

libvirt's client library sends virDomainLxcOpenNamespace there, on the
connection the client opened through the remote program's CONNECT_OPEN (its
driver and read-only state apply: the facade refuses the call as a write, as
libvirt's library does). The reply carries no payload but the container's
namespace descriptors (REPLY_WITH_FDS), as libvirtd's
lxcDispatchDomainOpenNamespace answers; descriptors a client sent with the
call are closed unused, as libvirtd closes them.
"""

from __future__ import annotations

import functools
import logging
import os
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
from pyvirt.remote import _lxc
from pyvirt.remote.calls import domain_ref
from pyvirt.remote.message import Header, MessageType, Status, encode_message
from pyvirt.remote.xdr import ProtocolError, decode

if TYPE_CHECKING:
    from pyvirt.daemon.remote_program import ClientContext
    from pyvirt.daemon.server import Client

__all__ = ["LxcProgram"]

log = logging.getLogger(__name__)


class LxcProgram:
    """The dispatcher of libvirt-lxc's one procedure; the client's state is the remote program's."""

    program = _lxc.PROGRAM
    version = _lxc.PROTOCOL_VERSION

    def dispatch(self, client: Client, header: Header, body: bytes, fds: list[int] | None = None) -> None:
        from pyvirt.daemon.remote_program import ClientContext, _close_all

        if fds:
            _close_all(fds)  # (lxcDispatchDomainOpenNamespace: "in case they're playing games with us")
        proc = _lxc.PROCEDURES.get(header.proc)
        if header.type == MessageType.STREAM or proc is None or proc.is_message:
            client.send_error(
                header, ConnectionError(ErrorCode.RPC, f"unknown procedure: {header.proc}", domain=ErrorDomain.RPC)
            )
            return
        ctx = client.state.get("remote")
        if not isinstance(ctx, ClientContext) or ctx.shared is None:
            client.send_error(
                header, InternalError(ErrorCode.INTERNAL_ERROR, "connection not open", domain=ErrorDomain.RPC)
            )
            return
        try:
            dom, flags = decode(proc.unpack_args, body, 0, what="payload")
        except ProtocolError as e:
            client.send_error(header, e)
            return
        client.run_in_worker(functools.partial(self._run, ctx, header, dom, flags))

    @staticmethod
    def _run(ctx: ClientContext, header: Header, dom: Any, flags: int) -> None:
        client = ctx.client
        fds: list[int] = []
        try:
            if ctx.read_only:  # (the library's virCheckReadOnlyGoto, in libvirtd's connection of this client)
                raise OperationDeniedError(
                    ErrorCode.OPERATION_DENIED, "read only access prevents virDomainLxcOpenNamespace"
                )
            with calling_api("lxcDispatchDomainOpenNamespace"):
                fds = ctx.calls.domain_lxc_open_namespace(dom=domain_ref(dom), flags=flags)
            if fds and not client.passes_fds:  # virNetSocketSendFD's refusal on a socket without SCM_RIGHTS
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    "Sending file descriptors is not supported on this socket",
                    domain=ErrorDomain.RPC,
                )
            kind = MessageType.REPLY_WITH_FDS if fds else MessageType.REPLY
            reply = encode_message(header.prog, header.vers, header.proc, kind, header.serial, Status.OK,
                                   num_fds=len(fds) if fds else None)  # fmt: skip
        except Error as e:
            for fd in fds:
                os.close(fd)
            client.send_error(header, e)
        except Exception as e:  # a driver bug must not take the daemon down; report it as libvirt would
            for fd in fds:
                os.close(fd)
            log.exception("LXC_PROC_DOMAIN_OPEN_NAMESPACE failed")
            client.send_error(header, e)
        else:
            if fds:
                client.send_with_fds(reply, fds)  # (the client's now: closed here once sent)
            else:
                client.send(reply)

    def client_closed(self, client: Client) -> None:
        """Nothing of its own: the connection is the remote program's to release."""
