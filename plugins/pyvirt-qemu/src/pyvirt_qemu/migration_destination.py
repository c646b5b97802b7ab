"""The destination's phases of a migration: Prepare and Finish (libvirt's ``qemuMigrationDst*``).

Prepare starts a QEMU with the guest's configuration and ``-incoming
defer``, then has it listen (``migrate-incoming``) on a port of libvirt's
migration range, or on a socket the daemon feeds from the RPC stream
(tunnelled); the "migration in" job holds the new domain until Finish, which
runs the arrived guest, or kills that QEMU and forgets the domain.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import Defined, DomainEvent, Resumed, Started, Suspended
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.flags import DomainXMLFlags as Xml
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.local_driver.network_nics import resolve_network_nics
from pyvirt.local_driver.status_file import remove_status
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.firmware import prepare_nvram
from pyvirt_qemu.migration_cookie import Cookie, host_identity
from pyvirt_qemu.migration_jobs import (
    Incoming,
    MigrationEvents,
    check_flags_and_params,
    jobs_of,
    running,
    split_tcp,
)
from pyvirt_qemu.migration_resume import finish_resume, prepare_resume
from pyvirt_qemu.migration_storage import start_nbd_server, stop_nbd_server
from pyvirt_qemu.process import QemuProcess, start_process
from pyvirt_qemu.state import DomainObj, QemuState
from pyvirt_qemu.vcpus import start_vcpus
from pyvirt_qemu.volume_disks import resolve_volume_disks

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["finish", "prepare", "prepare_tunnel"]

log = logging.getLogger("pyvirt.qemu.migration")

PORT_MIN, PORT_MAX = 49152, 49215  # qemu.conf's migration_port_min/max defaults
_POSTCOPY_WAIT = 3600.0  # how long the rest of a guest running here in post-copy may take to arrive


# ---------------------------------------------------------------------- Prepare
def free_port(host: str, taken: set[int]) -> int:
    """A port of libvirt's migration range nobody listens on (virPortAllocatorAcquire)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in range(PORT_MIN, PORT_MAX + 1):
        if port in taken:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise InternalError(
        ErrorCode.INTERNAL_ERROR, f"Unable to find an unused port in range 'migration' ({PORT_MIN}-{PORT_MAX})"
    )


def listen_host(values: dict[str, Any]) -> tuple[str, str | None]:
    """(address QEMU listens on, host named in the URI): the URI's host, else listen_address, else all."""
    uri = str(values.get("migrate_uri") or "")
    if uri:
        if not uri.startswith("tcp:"):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported scheme in migration URI {uri}")
        host, port = split_tcp(uri)
        return host, str(port) if port else None
    return str(values.get("listen_address") or "0.0.0.0"), None


def prepare(conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
    """libvirt's qemuMigrationDstPrepareDirect: a QEMU waiting on a TCP port; the URI goes back."""
    if flags & Flag.POSTCOPY_RESUME:  # (no new QEMU: the one running the guest listens again)
        return prepare_resume(conn, params, cookie, flags)
    if flags & Flag.TUNNELLED:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "tunnelled migration requires Prepare of the tunnel",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    out, uri, _fd = _prepare(conn, params, cookie, flags, "qemuDomainMigratePrepare3Params", tunnel=False)
    return out, uri


def prepare_tunnel(conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
    """libvirt's qemuMigrationDstPrepareTunnel: the incoming QEMU reads from a socket; the other end goes
    to the caller (the daemon, which writes the RPC stream's data into it)."""
    if not flags & Flag.TUNNELLED or flags & Flag.NON_SHARED_DISK:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "tunnelled migration needs VIR_MIGRATE_TUNNELLED and "
                                   "cannot copy storage here", domain=ErrorDomain.QEMU)  # fmt: skip
    out, _uri, fd = _prepare(conn, params, cookie, flags, "qemuDomainMigratePrepareTunnel3Params", tunnel=True)
    assert fd is not None
    return out, fd


def _prepare(
    conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int, function: str, *, tunnel: bool
) -> tuple[bytes, str | None, int | None]:
    values = check_flags_and_params(params, flags, function)
    source = Cookie.decode(cookie)
    st = conn.state
    if source.hostuuid == host_identity(st.paths):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Attempt to migrate guest to the same host {source.hostuuid}",
                            domain=ErrorDomain.QEMU)  # fmt: skip
    ours = {model for model, _doi in st.security.models}
    for model, _label in source.seclabels:
        if model not in ours:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"security driver model '{model}' of the migrated domain is not available on this host",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
    xml = values.get("destination_xml")
    if not xml:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "no domain XML passed", domain=ErrorDomain.QEMU)
    dom = apply_defaults(parse_domain(str(xml)), st.paths.cache)
    if values.get("destination_name"):
        dom.name = str(values["destination_name"])
    with st.lock:
        obj, added = st.add_definition(dom, live=True)  # libvirt's name/uuid clash errors
    jobs = jobs_of(st)
    try:
        obj.job.begin_async(AsyncJob.MIGRATION_IN, mask=frozenset(), lock_file=st.paths.lockfile(obj.name))
    except BaseException:
        _forget(st, obj, added)
        raise
    try:
        st.refresh(obj)
        if obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{obj.name}' is already active")
        address, named = listen_host(values)
        with jobs.lock:
            if tunnel:
                port = 0  # (no port: the stream arrives through the daemon)
            elif named:
                port = split_tcp(f"tcp:{address}:{named}")[1]
            else:
                port = free_port(address, jobs.ports)
            jobs.ports.add(port)
        nbd_port = None
        if flags & Flag.NON_SHARED_DISK:
            with jobs.lock:
                nbd_port = free_port(address, jobs.ports)
                jobs.ports.add(nbd_port)
        events = MigrationEvents()
        tunnel_ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if tunnel else None
        try:
            targets = _launch_incoming(conn, obj, address, port, nbd_port, tunnel_ends[0] if tunnel_ends else None,
                                       postcopy=bool(flags & Flag.POSTCOPY), events=events)  # fmt: skip
        except BaseException:
            with jobs.lock:
                jobs.ports.difference_update({port, nbd_port})
            if tunnel_ends is not None:
                for end in tunnel_ends:
                    end.close()
            raise
        host = address if address not in ("0.0.0.0", "::") else socket.gethostname()
        uri = "" if tunnel else f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"
        with jobs.lock:
            jobs.incoming[obj.uuid] = Incoming(added, source, time.monotonic(), uri, nbd_port, events)
    except BaseException:
        obj.job.end_async()
        _forget(st, obj, added)
        raise
    mine = Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths))
    if nbd_port is not None:
        mine.nbd = (nbd_port, targets)
    if tunnel_ends is not None:
        tunnel_ends[0].close()  # QEMU has its own copy
        return mine.encode(), None, tunnel_ends[1].detach()
    return mine.encode(), uri, None


def _forget(st: QemuState, obj: DomainObj, added: bool) -> None:
    """A failed incoming migration leaves no domain behind that was not here before."""
    with st.lock:
        if st.domains.get(obj.uuid) is obj:
            st.undo_add_definition(obj, added)


def _launch_incoming(
    conn: QemuConnection,
    obj: DomainObj,
    address: str,
    port: int,
    nbd_port: int | None,
    tunnel: socket.socket | None = None,
    *,
    postcopy: bool = False,
    events: MigrationEvents | None = None,
) -> list[str]:
    """Start QEMU for the arriving guest, paused, and have it listen (``migrate-incoming``); with ``nbd_port``
    also serve its disks for copy-storage-all; with ``postcopy`` take pages on demand (QEMU's ``postcopy-ram``,
    which needs userfaultfd here). Returns the disks served (their targets)."""
    st = conn.state
    live = obj.live.model_copy(deep=True)
    conn._firmware(live)
    conn._host_model_cpu(live)
    resolve_volume_disks(live, conn.uri)
    resolve_network_nics(live, conn.uri)
    prepare_nvram(live)
    domain_id = next(st.next_id)
    try:
        proc = start_process(
            live, st.paths, st.security,
            on_event=lambda ev, data: _on_event(st, obj, events, ev, data), on_eof=lambda: None,
            qemu_uid=st.qemu_uid, qemu_gid=st.qemu_gid, graphics_cfg=st.graphics_cfg, domain_id=domain_id,
            chardev_tls=st.chardev_tls, nbd_tls=st.nbd_tls,
            hugepage_mounts=st.hugepage_mounts, incoming="defer",
            on_starting=lambda pid, labelled, dirs: st.save_starting(live, domain_id, pid, labelled, dirs),
        )  # fmt: skip
    except Exception:
        remove_status(st.paths.status_xml(obj.name))
        raise
    try:
        with obj.lock:
            obj.config = (obj.config or obj.live) if obj.persistent else None
            obj.live, obj.process, obj.id = live, proc, domain_id
            # libvirt's state until Finish: "paused (starting up)". The status file says so too (with the
            # start's job marker): a daemon that dies meanwhile is followed by one that kills this QEMU as
            # an abandoned start, as libvirt kills a domain it finds in an incoming migration's Prepare.
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.STARTING_UP
        st.save_status(obj)
        start_vcpus(proc, live)  # the source's plugged vCPUs, before its state arrives (as a start plugs them)
        targets = start_nbd_server(proc.monitor, live, address, nbd_port) if nbd_port is not None else []
        host = f"[{address}]" if ":" in address else address
        if postcopy:  # both QEMUs must have it before the stream starts (libvirt's qemuMigrationParamsApply)
            caps = [{"capability": "postcopy-ram", "state": True}, {"capability": "events", "state": True}]
            proc.monitor.execute("migrate-set-capabilities", {"capabilities": caps})
        if tunnel is not None:  # the stream comes through the daemon into this socket
            proc.monitor.pass_fd(tunnel.fileno(), "pyvirt-tunnel")
            proc.monitor.execute("migrate-incoming", {"uri": "fd:pyvirt-tunnel"})
        else:
            proc.monitor.execute("migrate-incoming", {"uri": f"tcp:{host}:{port}"})
    except BaseException:
        _kill(st, obj, proc, watched=False)
        raise
    proc.watch(lambda p: st.on_exit(obj, p))
    return targets


def _kill(st: QemuState, obj: DomainObj, proc: QemuProcess, *, watched: bool) -> None:
    """End a QEMU this migration started and wait until its labels and files are gone: its watcher cleans
    up once it sees the exit, or (not watched yet) this thread does."""
    proc.stop_reason = proc.stop_reason or "failed"
    proc.kill(2)
    if watched:
        proc.cleaned.wait(30)
    else:
        st.on_exit(obj, proc)


# ---------------------------------------------------------------------- Finish
def finish(
    conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> tuple[DomainRef, bytes]:
    """libvirt's qemuMigrationDstFinish: the arrived guest runs here, or (``cancelled``) is discarded."""
    values = check_flags_and_params(params, flags, "qemuDomainMigrateFinish3Params")
    st = conn.state
    name = str(values.get("destination_name") or "")
    obj = st.by_name.get(name)
    jobs = jobs_of(st)
    with jobs.lock:
        inc = jobs.incoming.get(obj.uuid) if obj is not None else None
    if obj is None or inc is None:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not processing incoming migration",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    if flags & Flag.POSTCOPY_RESUME:
        return finish_resume(conn, obj, inc, flags, cancelled)
    switched = False
    try:
        if cancelled:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "migration in job: canceled by the source",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        proc = running(obj)
        in_postcopy = _wait_arrived(proc, postcopy=bool(flags & Flag.POSTCOPY)) == "postcopy-active"
        if inc.nbd_port is not None:
            stop_nbd_server(proc.monitor)
        persistent = None
        if flags & Flag.PERSIST_DEST:
            persistent = inc.cookie.persistent or format_domain(obj.live, Xml.INACTIVE | Xml.SECURE)
            definition = apply_defaults(parse_domain(persistent), st.paths.cache)
            definition.name = obj.name
        if not flags & Flag.PAUSED:
            obj.expect("RESUME")
            proc.monitor.execute("cont")
        with obj.lock:
            if flags & Flag.PAUSED:
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
            else:
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.MIGRATED
        if in_postcopy:
            switched = True  # from here the guest runs only here: a failure does not kill it
            _run_postcopy(st, obj, proc, inc.events)
        st.save_status(obj)
        if persistent is not None:
            with st.lock, obj.lock:
                was_persistent = obj.persistent
                obj.persistent = True
                obj.config = definition
                st.save_config(definition)
            st.emit(obj, DomainEvent.DEFINED, Defined.UPDATED if was_persistent else Defined.ADDED)
    except BaseException:
        proc_now = obj.process
        if switched:
            postcopy_failed_here(st, obj)  # the guest runs here already: it is not killed (libvirt's doKill false)
            with jobs.lock:  # its QEMU's migration events, for a resume (POSTCOPY_RESUME) to follow
                jobs.failed_postcopy[obj.uuid] = inc.events
        elif proc_now is not None:
            _kill(st, obj, proc_now, watched=True)
        end_incoming(st, obj)
        if not switched:
            _forget(st, obj, inc.added)
        raise
    end_incoming(st, obj)
    if in_postcopy:  # (started and resumed in post-copy already)
        st.emit(obj, DomainEvent.RESUMED, Resumed.MIGRATED)
        return obj.ref(), Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode()
    st.emit(obj, DomainEvent.STARTED, Started.MIGRATED)
    if not flags & Flag.PAUSED:
        st.emit(obj, DomainEvent.RESUMED, Resumed.MIGRATED)
    else:
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
    return obj.ref(), Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode()


def end_incoming(st: QemuState, obj: DomainObj) -> None:
    jobs = jobs_of(st)
    with jobs.lock:
        inc = jobs.incoming.pop(obj.uuid, None)
        if inc is not None:
            jobs.ports.difference_update({split_tcp(inc.uri)[1], inc.nbd_port})
    if inc is not None:
        obj.job.end_async()


def _on_event(st: QemuState, obj: DomainObj, events: MigrationEvents | None, event: str, data: dict[str, Any]) -> None:
    if events is not None:
        events.note(event, data)
    st.on_qmp_event(obj, event, data)


def _run_postcopy(st: QemuState, obj: DomainObj, proc: QemuProcess, events: MigrationEvents) -> None:
    """The guest runs here while its memory still arrives (libvirt's qemuMigrationDstFinishFresh in post-copy):
    "running (post-copy)" until QEMU has every page, then "running (migrated)". A stream that breaks meanwhile
    is "failed in post-copy phase"."""
    with obj.lock:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.POSTCOPY
    st.save_status(obj)
    st.emit(obj, DomainEvent.STARTED, Started.MIGRATED)
    st.emit(obj, DomainEvent.RESUMED, Resumed.POSTCOPY)
    deadline = time.monotonic() + _POSTCOPY_WAIT
    status = events.status
    while proc.alive() and time.monotonic() < deadline and status not in ("completed", "failed", "postcopy-paused"):
        status = events.wait(("completed", "failed", "postcopy-paused"), 1.0)
    if status != "completed":  # (a QEMU that died, or an hour without the last pages, ends the same way)
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, "job 'migration in' failed in post-copy phase",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    with obj.lock:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.MIGRATED


def postcopy_failed_here(st: QemuState, obj: DomainObj) -> None:
    """libvirt's qemuMigrationDstPostcopyFailed: the guest stays, "running (post-copy failed)"."""
    with obj.lock:
        if obj.state != DomainState.RUNNING or obj.reason == RunningReason.POSTCOPY_FAILED:
            return
        obj.reason = RunningReason.POSTCOPY_FAILED
    log.warning("Incoming migration of domain '%s' failed during post-copy; leaving the domain running", obj.name)
    st.emit(obj, DomainEvent.RESUMED, Resumed.POSTCOPY_FAILED)
    st.save_status(obj)


def _wait_arrived(proc: QemuProcess, *, postcopy: bool = False) -> str:
    """Until the incoming QEMU has the whole guest (its own query-migrate says "completed"), or with
    ``postcopy`` until it may run the guest (the source switched: "postcopy-active"). Returns that status."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.alive():
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "domain is not running", domain=ErrorDomain.QEMU)
        info = proc.monitor.execute("query-migrate")
        status = str(info.get("status"))
        if status == "completed" or (postcopy and status == "postcopy-active"):
            return status
        if status == "postcopy-paused":
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "job 'migration in' failed in post-copy phase",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        if status in ("failed", "cancelled"):
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"migration in job: {info.get('error-desc') or 'unexpectedly failed'}",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        time.sleep(0.02)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "migration in job: the guest did not arrive",
                               domain=ErrorDomain.QEMU)  # fmt: skip
