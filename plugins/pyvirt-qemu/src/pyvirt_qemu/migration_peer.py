"""Peer-to-peer migration: the source's daemon drives the phases itself (libvirt's
``qemuMigrationSrcPerformPeer2Peer3``), over its own connection to the destination.

That connection carries qemu.conf's keepalive (``keepalive_interval`` x
``keepalive_count``, libvirt's 5 s x 5 by default) and is watched while
QEMU sends (:class:`~pyvirt_qemu.migration_jobs.Peer`): when it dies (a cut
network, a dead host) the migration is cancelled with libvirt's "Lost
connection to destination host" and the guest runs on here.
``--tunnelled`` replaces Prepare's port with a socket the destination's
daemon feeds from the RPC stream, and Perform's URI with a socket the remote
driver relays into it.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from pyvirt.domain_state import DomainState
from pyvirt.errors import Error, ErrorCode, ErrorDomain, NotSupportedError, OperationFailedError, OperationInvalidError
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.migration import MigrateParam, migrate_v3, replace_param
from pyvirt.plugin.facade import DriverCalls, direct_calls
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType
from pyvirt_qemu.migration_jobs import Peer, end_recorded_job, jobs_of, running
from pyvirt_qemu.migration_source import begin, confirm, send
from pyvirt_qemu.state import QemuState

if TYPE_CHECKING:
    from pyvirt import Connection
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["open_destination", "peer_to_peer"]


def open_destination(st: QemuState, dconnuri: str) -> Connection:
    """The source's connection to the destination, with qemu.conf's ``keepalive_interval`` and
    ``keepalive_count`` set on it as libvirt sets them (virConnectSetKeepAlive right after the open, a
    failure to set them failing the migration): they decide how soon :class:`Peer` notices a dead peer."""
    import pyvirt

    try:
        dest = pyvirt.open(dconnuri)
    except Error as exc:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"Failed to connect to remote libvirt URI {dconnuri}: {exc.message}",
            domain=ErrorDomain.QEMU,
        ) from exc  # fmt: skip
    interval, count = st.migration_keepalive
    try:
        dest.set_keep_alive(interval, count)
    except Error:
        with contextlib.suppress(Error):
            dest.close()
        raise
    return dest


def peer_to_peer(conn: QemuConnection, dom: DomainRef, dconnuri: str, params: list[TypedParam], flags: int) -> None:
    """libvirt's qemuMigrationSrcPerformPeer2Peer3: this driver opens the destination and runs the phases."""

    dest = open_destination(conn.state, dconnuri)
    jobs = jobs_of(conn.state)
    peer = Peer(dconnuri, dest)
    try:
        if not dest.calls.implements("domain_migrate_prepare"):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    "Destination libvirt does not support peer-to-peer migration protocol",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
        with jobs.lock:
            if dom.uuid in jobs.peers:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is already being migrated",
                                            domain=ErrorDomain.QEMU)  # fmt: skip
            jobs.peers[dom.uuid] = peer
        try:
            if flags & Flag.TUNNELLED:
                tunnelled(conn, dom, dest.calls, list(params), flags)
            else:
                migrate_v3(direct_calls(conn), dom, dest.calls, list(params), flags & ~Flag.PEER2PEER, watch=False)
        except Error as exc:
            if peer.lost.is_set() and "Lost connection to destination host" not in exc.message:
                # the later phases' errors are the dead connection's; the cause is the lost destination
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, "Lost connection to destination host",
                                           domain=ErrorDomain.QEMU) from exc  # fmt: skip
            raise
        finally:
            with jobs.lock:
                jobs.peers.pop(dom.uuid, None)
    finally:
        peer.stop()
        with contextlib.suppress(Error):
            dest.close()


def tunnelled(conn: QemuConnection, dom: DomainRef, dest: DriverCalls, params: list[TypedParam], flags: int) -> None:
    """libvirt's qemuMigrationSrcPerformTunnel inside the peer-to-peer phases: QEMU migrates into a socket
    whose data the remote driver sends through the destination's RPC connection (no port is opened on
    either host for the guest's memory); Finish and Confirm then run as for any migration."""
    flags |= Flag.CHANGE_PROTECTION
    xml, cookie = begin(conn, dom, params, flags)
    obj = conn.state.find(dom)
    dest_flags = flags & ~(Flag.ABORT_ON_ERROR | Flag.AUTO_CONVERGE)
    if obj.state == DomainState.PAUSED:
        dest_flags |= Flag.PAUSED
    params = replace_param(params, MigrateParam.DEST_XML, TypedParamType.STRING, xml)
    try:
        cookie, fd = dest.domain_migrate_prepare_tunnel(params=params, cookie=cookie, flags=dest_flags)
    except Error:
        with contextlib.suppress(Error):
            confirm(conn, dom, params, b"", flags, cancelled=True)
        raise
    params = replace_param(params, MigrateParam.DEST_NAME, TypedParamType.STRING, dom.name)
    jobs = jobs_of(conn.state)
    with jobs.lock:
        out = jobs.outgoing[obj.uuid]
    try:
        proc = running(obj)
        proc.monitor.pass_fd(fd, "pyvirt-tunnel")
        send(conn, obj, out, "fd:pyvirt-tunnel", {p.field: p.value for p in params}, flags, None)
    except Error:
        with jobs.lock:
            jobs.outgoing.pop(obj.uuid, None)
        end_recorded_job(conn.state, obj)
        obj.job.end_async()
        with contextlib.suppress(Error):
            dest.domain_migrate_finish(params=params, cookie=b"", flags=dest_flags, cancelled=True)
        raise
    finally:
        os.close(fd)  # QEMU keeps its own copy until the stream ends; then the relay finishes the stream
    try:
        _ref, cookie = dest.domain_migrate_finish(params=params, cookie=cookie, flags=dest_flags, cancelled=False)
    except Error:
        with contextlib.suppress(Error):
            confirm(conn, dom, params, b"", flags, cancelled=True)
        raise
    confirm(conn, dom, params, cookie, flags, cancelled=False)
