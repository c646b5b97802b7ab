"""Live migration of a QEMU guest between two hosts, libvirt's way (``src/qemu/qemu_migration.c``).

The five phases of libvirt's protocol version 3 (``pyvirt.migration`` drives
them from the client; :func:`perform` drives them itself for peer-to-peer):

- **Begin** (source): the guest must be running and migratable (no host
  devices but USB, no snapshots: they would stay behind); the outgoing async
  job "migration out" begins and lasts until Confirm (libvirt's
  CHANGE_PROTECTION); the answer is the guest's XML and a cookie.
- **Prepare** (destination): a QEMU with the same configuration started
  with ``-incoming defer``, then ``migrate-incoming tcp:ADDR:PORT`` on a port
  of libvirt's migration range; the async job "migration in" holds the new
  domain until Finish. The URI goes back to the caller.
- **Perform** (source): QEMU's ``migrate`` to that URI, progress from
  ``query-migrate`` (what ``domjobinfo`` and ``migrate --verbose`` show);
  ``domjobabort`` runs ``migrate_cancel``. When it completes, QEMU has
  paused the guest; it stays so until Confirm.
- **Finish** (destination): the arrived guest runs (unless PAUSED), and is
  defined when PERSIST_DEST asks; when Perform failed, the incoming QEMU is
  killed and the domain forgotten.
- **Confirm** (source): the guest's QEMU ends ("shut off (migrated)"), and
  with UNDEFINE_SOURCE its definition goes; when the destination failed, the
  guest runs again here ("running (migration canceled)").

The cookie (:mod:`pyvirt_qemu.migration_cookie`) carries the domain's name
and UUID, the source host's name and UUID (a guest cannot migrate to the host
it runs on), its security labels (the destination must offer the same
models), and with PERSIST_DEST the persistent definition. Begin's checks are
in :mod:`pyvirt_qemu.migration_checks` (host devices, snapshots, disks on
host-local storage), the disk copy of ``--copy-storage-all`` (NBD) in
:mod:`pyvirt_qemu.migration_storage`. ``--tunnelled`` (peer to peer only)
replaces Prepare's port with a socket the destination's daemon feeds from the
RPC stream, and Perform's URI with a socket the remote driver relays into it.

During Prepare the destination's status file says "paused, starting up", as
libvirt's state then is: a daemon that dies before Finish is followed by one
that kills that QEMU as an abandoned start. The source records the phase its
outgoing job has reached in the guest's status file, with libvirt's names
(``<job async='migration out' phase='perform3_done' .../>``), and a daemon
that starts and finds one resolves it as libvirt's
``qemuProcessRecoverMigrationOut`` does (:mod:`pyvirt_qemu.migration_recovery`).

Peer to peer, the source's daemon holds a connection to the destination
(with qemu.conf's keepalive, ``keepalive_interval`` x ``keepalive_count``,
libvirt's 5 s x 5 by default) and watches it while QEMU sends: when it dies
(a cut network, a dead host) the migration is cancelled with libvirt's "Lost
connection to destination host" and the guest runs on here.

For tests, ``PYVIRT_TEST_MIGRATION_CRASH=PHASE`` in the daemon's environment
makes it kill itself (SIGKILL) right after recording PHASE: the crash the
recovery is for, at a chosen point. What is not handled: post-copy, offline
and incremental-storage migration (refused by name), and the migration
parameters beyond ``PARAMS`` (refused by name).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import Defined, DomainEvent, Resumed, Started, Suspended
from pyvirt.flags import DomainGetJobStatsFlags
from pyvirt.local_driver.domain_jobs import DEFAULT_MASK, AsyncJob, Job
from pyvirt.local_driver.network_nics import resolve_network_nics
from pyvirt.local_driver.status_file import remove_status
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params, typed_param
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.firmware import prepare_nvram
from pyvirt_qemu.migration_checks import check_allowed, check_safe
from pyvirt_qemu.migration_cookie import Cookie, host_identity
from pyvirt_qemu.migration_stats import OPERATIONS, migration_stats
from pyvirt_qemu.migration_storage import Mirrors, start_nbd_server, stop_nbd_server
from pyvirt_qemu.process import QemuProcess, start_process
from pyvirt_qemu.state import DomainObj, QemuState
from pyvirt_qemu.volume_disks import resolve_volume_disks

if TYPE_CHECKING:
    from pyvirt import Connection
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["begin", "confirm", "finish", "job_stats", "perform", "prepare"]

log = logging.getLogger("pyvirt.qemu.migration")

# VIR_MIGRATE_* this driver honours (libvirt's QEMU_MIGRATION_FLAGS, without what needs NBD, TLS, RDMA,
# post-copy or tunnelling, which are refused by name instead of ignored)
LIVE, PEER2PEER, TUNNELLED, PERSIST_DEST, UNDEFINE_SOURCE, PAUSED = 1, 2, 4, 8, 16, 32
NON_SHARED_DISK, NON_SHARED_INC, CHANGE_PROTECTION, UNSAFE, OFFLINE = 64, 128, 256, 512, 1024
ABORT_ON_ERROR, AUTO_CONVERGE, POSTCOPY = 1 << 12, 1 << 13, 1 << 15
SUPPORTED_FLAGS = (
    LIVE | PEER2PEER | TUNNELLED | PERSIST_DEST | UNDEFINE_SOURCE | PAUSED | CHANGE_PROTECTION | UNSAFE
    | ABORT_ON_ERROR | AUTO_CONVERGE | NON_SHARED_DISK
)  # fmt: skip
_UNSUPPORTED_FLAG_NAMES = {
    NON_SHARED_INC: "migration of non-shared storage", OFFLINE: "offline migration", POSTCOPY: "post-copy migration",
}  # fmt: skip

PARAMS: dict[str, TypedParamType] = {
    "migrate_uri": TypedParamType.STRING,
    "destination_name": TypedParamType.STRING,
    "destination_xml": TypedParamType.STRING,
    "persistent_xml": TypedParamType.STRING,
    "bandwidth": TypedParamType.ULLONG,
    "listen_address": TypedParamType.STRING,
    "auto_converge.initial": TypedParamType.INT,
    "auto_converge.increment": TypedParamType.INT,
}
"""The VIR_MIGRATE_PARAM_* this driver takes (virTypedParamsValidate refuses the others by name)."""

PORT_MIN, PORT_MAX = 49152, 49215  # qemu.conf's migration_port_min/max defaults
_UNLIMITED = (2**63 - 1) // (1 << 20) * (1 << 20)  # libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX, in bytes/s
_OUT_MASK = DEFAULT_MASK | {Job.SUSPEND, Job.MIGRATION_OP}  # libvirt's mask of the outgoing job
_WAIT = 3600.0  # how long a migration may run before it is given up (bounded, as every loop here)
_CRASH_ENV = "PYVIRT_TEST_MIGRATION_CRASH"  # tests: the phase after whose recording the daemon dies
_PROBE_EVERY = 1.0  # seconds between two looks at a peer-to-peer destination's connection


@dataclass
class _Outgoing:
    was_running: bool
    before: tuple[int, int]  # (state, reason) when Begin found it: what a cancelled migration gives back
    started: float
    protected: bool  # begun by Begin (CHANGE_PROTECTION): Confirm ends the job
    mirrors: Mirrors | None = None  # copy-storage-all: the disks' mirror jobs while Perform runs
    performing: QemuProcess | None = None  # whose migration Perform is watching now


@dataclass
class _Incoming:
    added: bool  # the domain object is new here (a failed migration forgets it)
    cookie: Cookie
    started: float
    uri: str
    nbd_port: int | None = None  # copy-storage-all: the NBD server serving the disks


@dataclass
class _Jobs:
    """Per driver state: the migrations under way and each domain's last completed job statistics."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    outgoing: dict[str, _Outgoing] = field(default_factory=dict)
    incoming: dict[str, _Incoming] = field(default_factory=dict)
    completed: dict[str, list[TypedParam]] = field(default_factory=dict)
    ports: set[int] = field(default_factory=set)
    peers: dict[str, _Peer] = field(default_factory=dict)  # peer to peer: the destination each guest goes to


class _Peer:
    """A peer-to-peer migration's destination: its URI (recorded for recovery) and whether its connection
    still lives. A thread calls the destination once a second; a call on a connection that keepalive
    gave up fails at once, and one waiting for an answer is released when keepalive gives up (after
    qemu.conf's keepalive_interval x (keepalive_count + 1) seconds of silence at most)."""

    def __init__(self, dconnuri: str, dest: Connection) -> None:
        self.dconnuri = dconnuri
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._probe, args=(dest,), name="migration-peer", daemon=True)
        self._thread.start()

    def _probe(self, dest: Connection) -> None:
        while not self._done.wait(_PROBE_EVERY):
            try:
                dest.get_version()
            except Error:
                if not self._done.is_set():
                    self.lost.set()
                return

    def stop(self) -> None:
        self._done.set()


_tables: weakref.WeakKeyDictionary[QemuState, _Jobs] = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def _jobs(state: QemuState) -> _Jobs:
    with _tables_lock:
        table = _tables.get(state)
        if table is None:
            table = _tables[state] = _Jobs()
        return table


def _phase(st: QemuState, obj: DomainObj, phase: str, flags: int) -> None:
    """Record the outgoing job's phase in the status file (libvirt's qemuMigrationJobSetPhase + save)."""
    job = {"type": "none", "async": "migration out", "phase": phase, "flags": hex(flags)}
    peer = _jobs(st).peers.get(obj.uuid)
    if peer is not None:
        job["dconnuri"] = peer.dconnuri
    obj.migration_job = job
    st.save_status(obj)
    if os.environ.get(_CRASH_ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)


def _end_recorded_job(st: QemuState, obj: DomainObj) -> None:
    """The outgoing job ended here: its phase leaves the status file (a later daemon has nothing to recover)."""
    if obj.migration_job is not None:
        obj.migration_job = None
        st.save_status(obj)


def _check_flags_and_params(params: list[TypedParam], flags: int, function: str) -> dict[str, Any]:
    for bit, what in _UNSUPPORTED_FLAG_NAMES.items():
        if flags & bit:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, f"{what} is not supported by this driver",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    check_flags(flags, SUPPORTED_FLAGS, function)
    check_typed_params(params, PARAMS)
    return {p.field: p.value for p in params}


# ---------------------------------------------------------------------- source: Begin
def _running(obj: DomainObj) -> QemuProcess:
    proc = obj.process
    if not obj.active or proc is None or not proc.alive():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.QEMU)
    return proc


def begin(conn: QemuConnection, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
    values = _check_flags_and_params(params, flags, "qemuDomainMigrateBegin3Params")
    obj = conn.state.find(dom)
    _running(obj)
    check_allowed(conn.state.paths, obj)
    if not flags & (UNSAFE | NON_SHARED_DISK):  # (copied disks are the destination's own: safe)
        check_safe(obj.live)
    jobs = _jobs(conn.state)
    protected = bool(flags & CHANGE_PROTECTION)
    if protected:
        obj.job.begin_async(AsyncJob.MIGRATION_OUT, mask=_OUT_MASK)
    try:
        _running(obj)  # again: it may have ended while we waited for the job
        xml = str(values.get("destination_xml") or format_domain(obj.live, 1))  # 1: SECURE, passwords travel
        if values.get("destination_xml"):
            _check_same_domain(obj, parse_domain(xml))
        cookie = Cookie(
            obj.name, obj.uuid, socket.gethostname(), host_identity(conn.state.paths),
            [(s.model or "", s.label or "") for s in obj.live.seclabels or [] if s.model],
            _persistent_xml(obj, values) if flags & PERSIST_DEST else None,
        )  # fmt: skip
        if protected:
            with jobs.lock:
                jobs.outgoing[obj.uuid] = _Outgoing(
                    obj.state == DomainState.RUNNING, (obj.state, obj.reason), time.monotonic(), True
                )
            _phase(conn.state, obj, "begin3", flags)
        return xml, cookie.encode()
    except BaseException:
        if protected:
            with jobs.lock:
                jobs.outgoing.pop(obj.uuid, None)
            obj.migration_job = None
            obj.job.end_async()
        raise


def _persistent_xml(obj: DomainObj, values: dict[str, Any]) -> str:
    """What PERSIST_DEST defines on the destination: persistent_xml, else the persistent definition here,
    else (a transient guest) its live one."""
    given = values.get("persistent_xml")
    if given:
        return str(given)
    return format_domain(obj.config if obj.config is not None else obj.live, 2 | 1)  # INACTIVE | SECURE


def _check_same_domain(obj: DomainObj, new: Domain) -> None:
    """A destination XML must describe the same guest (libvirt checks ABI stability; the identity at least)."""
    if new.uuid and new.uuid != obj.uuid:
        raise OperationInvalidError(
            ErrorCode.OPERATION_INVALID, f"Target domain uuid {new.uuid} does not match source {obj.uuid}",
            domain=ErrorDomain.DOMAIN,
        )  # fmt: skip


# ---------------------------------------------------------------------- destination: Prepare
def _free_port(host: str, taken: set[int]) -> int:
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


def _listen_host(values: dict[str, Any]) -> tuple[str, str | None]:
    """(address QEMU listens on, host named in the URI): the URI's host, else listen_address, else all."""
    uri = str(values.get("migrate_uri") or "")
    if uri:
        if not uri.startswith("tcp:"):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported scheme in migration URI {uri}")
        host, port = _split_tcp(uri)
        return host, str(port) if port else None
    return str(values.get("listen_address") or "0.0.0.0"), None


def _split_tcp(uri: str) -> tuple[str, int]:
    """``tcp://host[:port]`` or ``tcp:host:port`` (what Prepare hands out) -> (host, port or 0)."""
    rest = uri[len("tcp:") :].removeprefix("//").rstrip("/")
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":")
    else:
        host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    try:
        return host, int(port) if port else 0
    except ValueError:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"malformed migration URI {uri}") from None


def prepare(conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
    if flags & TUNNELLED:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "tunnelled migration requires Prepare of the tunnel",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    out, uri, _fd = _prepare(conn, params, cookie, flags, "qemuDomainMigratePrepare3Params", tunnel=False)
    return out, uri


def prepare_tunnel(conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
    """libvirt's qemuMigrationDstPrepareTunnel: the incoming QEMU reads from a socket; the other end goes
    to the caller (the daemon, which writes the RPC stream's data into it)."""
    if not flags & TUNNELLED or flags & NON_SHARED_DISK:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "tunnelled migration needs VIR_MIGRATE_TUNNELLED and "
                                   "cannot copy storage here", domain=ErrorDomain.QEMU)  # fmt: skip
    out, _uri, fd = _prepare(conn, params, cookie, flags, "qemuDomainMigratePrepareTunnel3Params", tunnel=True)
    assert fd is not None
    return out, fd


def _prepare(
    conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int, function: str, *, tunnel: bool
) -> tuple[bytes, str | None, int | None]:
    values = _check_flags_and_params(params, flags, function)
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
    jobs = _jobs(st)
    try:
        obj.job.begin_async(AsyncJob.MIGRATION_IN, mask=frozenset(), lock_file=st.paths.lockfile(obj.name))
    except BaseException:
        _forget(st, obj, added)
        raise
    try:
        st.refresh(obj)
        if obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{obj.name}' is already active")
        address, named = _listen_host(values)
        with jobs.lock:
            if tunnel:
                port = 0  # (no port: the stream arrives through the daemon)
            else:
                port = _split_tcp(f"tcp:{address}:{named}")[1] if named else _free_port(address, jobs.ports)
            jobs.ports.add(port)
        nbd_port = None
        if flags & NON_SHARED_DISK:
            with jobs.lock:
                nbd_port = _free_port(address, jobs.ports)
                jobs.ports.add(nbd_port)
        tunnel_ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if tunnel else None
        try:
            targets = _launch_incoming(conn, obj, address, port, nbd_port, tunnel_ends[0] if tunnel_ends else None)
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
            jobs.incoming[obj.uuid] = _Incoming(added, source, time.monotonic(), uri, nbd_port)
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
    if added and not obj.active:
        with st.lock:
            if st.domains.get(obj.uuid) is obj:
                st.remove(obj)


def _launch_incoming(
    conn: QemuConnection,
    obj: DomainObj,
    address: str,
    port: int,
    nbd_port: int | None,
    tunnel: socket.socket | None = None,
) -> list[str]:
    """Start QEMU for the arriving guest, paused, and have it listen (``migrate-incoming``); with ``nbd_port``
    also serve its disks for copy-storage-all. Returns the disks served (their targets)."""
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
            on_event=lambda ev, data: st.on_qmp_event(obj, ev, data), on_eof=lambda: None,
            qemu_uid=st.qemu_uid, qemu_gid=st.qemu_gid, graphics_cfg=st.graphics_cfg, domain_id=domain_id,
            chardev_tls=st.chardev_tls,
            hugepage_mounts=st.hugepage_mounts, incoming="defer",
            on_starting=lambda pid, labelled, dirs: st.save_starting(live, domain_id, pid, labelled, dirs),
        )  # fmt: skip
    except Exception:
        remove_status(st.paths.status_xml(obj.name))
        raise
    try:
        with obj.lock:
            obj.config = obj.live if obj.persistent else None
            obj.live, obj.process, obj.id = live, proc, domain_id
            # libvirt's state until Finish: "paused (starting up)". The status file says so too (with the
            # start's job marker): a daemon that dies meanwhile is followed by one that kills this QEMU as
            # an abandoned start, as libvirt kills a domain it finds in an incoming migration's Prepare.
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.STARTING_UP
        st.save_status(obj)
        targets = start_nbd_server(proc.monitor, live, address, nbd_port) if nbd_port is not None else []
        host = f"[{address}]" if ":" in address else address
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


# ---------------------------------------------------------------------- source: Perform
def _qemu_uri(uri: str) -> str:
    host, port = _split_tcp(uri)
    if not host or not port:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"migration URI {uri} must name a host and a port")
    return f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


def perform(
    conn: QemuConnection, dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
) -> bytes:
    values = _check_flags_and_params(params, flags, "qemuDomainMigratePerform3Params")
    if flags & PEER2PEER:
        if not dconnuri:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "dconnuri is required for peer-to-peer migration")
        _peer_to_peer(conn, dom, dconnuri, params, flags)
        return b""
    obj = conn.state.find(dom)
    jobs = _jobs(conn.state)
    with jobs.lock:
        out = jobs.outgoing.get(obj.uuid)
    if out is None or obj.job.async_job != AsyncJob.MIGRATION_OUT:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not being migrated",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    try:
        uri = values.get("migrate_uri")
        if not uri:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "migration URI is required", domain=ErrorDomain.QEMU)
        nbd = Cookie.decode(cookie).nbd if flags & NON_SHARED_DISK else None
        if flags & NON_SHARED_DISK and nbd is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "the destination did not serve the disks to copy",
                                domain=ErrorDomain.QEMU)  # fmt: skip
        _send(conn, obj, out, _qemu_uri(str(uri)), values, flags, nbd)
    except BaseException:
        # a failed Perform ends the job itself: the caller does not call Confirm then (libvirt's rule)
        with jobs.lock:
            jobs.outgoing.pop(obj.uuid, None)
        _end_recorded_job(conn.state, obj)
        if out.protected:
            obj.job.end_async()
        raise
    return Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(conn.state.paths)).encode()


def _send(
    conn: QemuConnection,
    obj: DomainObj,
    out: _Outgoing,
    uri: str,
    values: dict[str, Any],
    flags: int,
    nbd: tuple[int, list[str]] | None,
) -> None:
    """QEMU's migrate, watched to its end. Succeeded: the guest is paused here, QEMU still alive for Confirm.
    Failed or cancelled: the guest runs again as before, and the error says why."""
    st = conn.state
    proc = _running(obj)
    monitor = proc.monitor
    was_running = obj.state == DomainState.RUNNING
    out.was_running = was_running
    bandwidth = int(values.get("bandwidth") or 0)
    monitor.execute("migrate-set-parameters", {"max-bandwidth": bandwidth << 20 if bandwidth else _UNLIMITED})
    caps = [{"capability": "auto-converge", "state": bool(flags & AUTO_CONVERGE)}]
    monitor.execute("migrate-set-capabilities", {"capabilities": caps})
    if flags & AUTO_CONVERGE and ("auto_converge.initial" in values or "auto_converge.increment" in values):
        tuning = {"cpu-throttle-initial": values.get("auto_converge.initial"),
                  "cpu-throttle-increment": values.get("auto_converge.increment")}  # fmt: skip
        monitor.execute("migrate-set-parameters", {k: v for k, v in tuning.items() if v is not None})
    if was_running and not flags & LIVE:  # an offline-ish migration: libvirt pauses the guest first
        obj.expect("STOP")
        monitor.execute("stop")
        with obj.lock:
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.MIGRATED)
    expecting_stop = was_running and bool(flags & LIVE)
    if expecting_stop:
        obj.expect("STOP")  # QEMU stops the guest for the last pass itself
    out.performing = proc
    peer = _jobs(st).peers.get(obj.uuid)
    try:
        _phase(st, obj, "perform3", flags)
        if nbd is not None:  # the disks first: the memory goes once every mirror has caught up
            out.mirrors = Mirrors(monitor, obj.live, _split_tcp(uri)[0], nbd[0], nbd[1])
            obj.job.on_abort(lambda: None)  # (the wait below sees the request)
            out.mirrors.start()
            out.mirrors.wait_ready(lambda: obj.job.abort_requested)
        monitor.execute("migrate", {"uri": uri})
        obj.job.on_abort(lambda: monitor.execute("migrate_cancel"))
        try:
            info = _watch(proc, obj, peer.lost.is_set if peer is not None else None)
        finally:
            obj.job.on_abort(None)
        if out.mirrors is not None:
            out.mirrors.complete()  # the guest is paused: every disk ends in sync
            out.mirrors = None
    except BaseException:
        out.performing = None
        if out.mirrors is not None:
            out.mirrors.cancel()
            out.mirrors = None
        with obj.lock:
            if expecting_stop and obj.expected.get("STOP", 0) > 0:
                obj.expected["STOP"] -= 1  # the guest never stopped
        obj.migration_job = None  # the job ends with this failure (saved by the restore)
        _restore_source(st, obj, proc, out)
        raise
    out.performing = None
    done = [typed_param("operation", TypedParamType.INT, 5), *migration_stats(info, out.started, completed=True)]
    _jobs(st).completed[obj.uuid] = done
    with obj.lock:
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
    if was_running:
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.MIGRATED)
    _phase(st, obj, "perform3_done", flags)


def _watch(proc: QemuProcess, obj: DomainObj, lost: Callable[[], bool] | None = None) -> dict[str, Any]:
    """query-migrate until QEMU's migration ends; libvirt's errors for how it ended. ``lost`` (peer to peer)
    says whether the connection to the destination died: then QEMU's migration is cancelled, as libvirt's
    qemuMigrationAnyCompleted does when virConnectIsAlive(dconn) fails."""
    deadline = time.monotonic() + _WAIT
    while time.monotonic() < deadline:
        if lost is not None and lost():
            with contextlib.suppress(Error):
                proc.monitor.execute("migrate_cancel")
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "Lost connection to destination host",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        if not proc.alive():
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "domain is not running", domain=ErrorDomain.QEMU)
        try:
            info: dict[str, Any] = proc.monitor.execute("query-migrate")
        except Error:
            if not proc.alive() or proc.exited.wait(0.5):
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, "migration out job: unexpectedly failed", domain=ErrorDomain.QEMU
                ) from None
            raise
        status = info.get("status")
        if status == "completed":
            return info
        if status == "cancelled" and obj.job.abort_requested:
            raise OperationFailedError(ErrorCode.OPERATION_ABORTED, "migration out job: canceled by client",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        if status in ("failed", "cancelled"):
            reason = info.get("error-desc") or "unexpectedly failed"
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"migration out job: {reason}",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        time.sleep(0.05)
    with contextlib.suppress(Error):
        proc.monitor.execute("migrate_cancel")
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "migration out job: did not finish",
                               domain=ErrorDomain.QEMU)  # fmt: skip


def _restore_source(st: QemuState, obj: DomainObj, proc: QemuProcess, out: _Outgoing) -> None:
    """libvirt's qemuMigrationSrcRestoreDomainState: the guest runs here again if it ran before the
    migration paused it ("running (migration canceled)"); otherwise it keeps the state it had."""
    if not proc.alive():
        return
    resumed = False
    with contextlib.suppress(Error):
        status = proc.monitor.execute("query-status").get("status")
        if out.was_running and status in ("postmigrate", "paused", "finish-migrate"):
            obj.expect("RESUME")
            proc.monitor.execute("cont")
            resumed = True
    with obj.lock:
        if obj.process is proc and proc.alive():
            if resumed:
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.MIGRATION_CANCELED
            elif not out.was_running:
                obj.state, obj.reason = out.before
    if resumed:
        st.emit(obj, DomainEvent.RESUMED, Resumed.MIGRATED)
    st.save_status(obj)


# ---------------------------------------------------------------------- destination: Finish
def finish(
    conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> tuple[DomainRef, bytes]:
    values = _check_flags_and_params(params, flags, "qemuDomainMigrateFinish3Params")
    st = conn.state
    name = str(values.get("destination_name") or "")
    obj = st.by_name.get(name)
    jobs = _jobs(st)
    with jobs.lock:
        inc = jobs.incoming.get(obj.uuid) if obj is not None else None
    if obj is None or inc is None:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not processing incoming migration",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    try:
        if cancelled:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "migration in job: canceled by the source",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        proc = _running(obj)
        _wait_arrived(proc)
        if inc.nbd_port is not None:
            stop_nbd_server(proc.monitor)
        persistent = None
        if flags & PERSIST_DEST:
            persistent = inc.cookie.persistent or format_domain(obj.live, 2 | 1)
            definition = apply_defaults(parse_domain(persistent), st.paths.cache)
            definition.name = obj.name
        if not flags & PAUSED:
            obj.expect("RESUME")
            proc.monitor.execute("cont")
        with obj.lock:
            if flags & PAUSED:
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
            else:
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.MIGRATED
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
        if proc_now is not None:
            _kill(st, obj, proc_now, watched=True)
        _end_incoming(st, obj)
        _forget(st, obj, inc.added)
        raise
    _end_incoming(st, obj)
    st.emit(obj, DomainEvent.STARTED, Started.MIGRATED)
    if not flags & PAUSED:
        st.emit(obj, DomainEvent.RESUMED, Resumed.MIGRATED)
    else:
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
    return obj.ref(), Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode()


def _end_incoming(st: QemuState, obj: DomainObj) -> None:
    jobs = _jobs(st)
    with jobs.lock:
        inc = jobs.incoming.pop(obj.uuid, None)
        if inc is not None:
            jobs.ports.difference_update({_split_tcp(inc.uri)[1], inc.nbd_port})
    if inc is not None:
        obj.job.end_async()


def _wait_arrived(proc: QemuProcess) -> None:
    """Until the incoming QEMU has the whole guest (its own query-migrate says "completed")."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.alive():
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "domain is not running", domain=ErrorDomain.QEMU)
        info = proc.monitor.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"migration in job: {info.get('error-desc') or 'unexpectedly failed'}",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        time.sleep(0.02)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "migration in job: the guest did not arrive",
                               domain=ErrorDomain.QEMU)  # fmt: skip


# ---------------------------------------------------------------------- source: Confirm
def confirm(
    conn: QemuConnection, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> None:
    _check_flags_and_params(params, flags, "qemuDomainMigrateConfirm3Params")
    st = conn.state
    obj = st.find(dom)
    jobs = _jobs(st)
    with jobs.lock:
        out = jobs.outgoing.get(obj.uuid)
        busy = out.performing if out is not None else None
        if out is not None and busy is None:
            del jobs.outgoing[obj.uuid]
    if out is None:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not being migrated",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    if busy is not None:
        # Perform still runs (its client went away and the daemon cleans up): stop QEMU's migration; the
        # failing Perform then gives the guest back and ends the job itself
        if not cancelled:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "migration is still in progress",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        with contextlib.suppress(Error):
            busy.monitor.execute("migrate_cancel")
        if out.mirrors is not None:
            out.mirrors.cancel()
        return
    try:
        _phase(st, obj, "confirm3_cancelled" if cancelled else "confirm3", flags)
        obj.migration_job = None  # (the kill removes the status file; a resume saves it without the job)
        _complete(st, obj, flags, cancelled, out)
    finally:
        obj.migration_job = None
        if out.protected:
            obj.job.end_async()


def _complete(st: QemuState, obj: DomainObj, flags: int, cancelled: bool, out: _Outgoing) -> None:
    """Confirm's effect: the guest here ends (it runs on the destination now), or runs on (it does not)."""
    proc = obj.process
    if cancelled:
        if proc is not None:
            _restore_source(st, obj, proc, out)
        return
    if proc is not None and proc.alive():
        proc.stop_reason = "migrated"
        proc.kill(grace=3.0)
        proc.cleaned.wait(30)
    if flags & UNDEFINE_SOURCE and obj.persistent:
        with st.lock:
            st.forget_definition(obj)
            if not obj.active:
                st.remove(obj)


# ---------------------------------------------------------------------- peer to peer
def _open_destination(st: QemuState, dconnuri: str) -> Connection:
    """The source's connection to the destination, with qemu.conf's ``keepalive_interval`` and
    ``keepalive_count`` set on it as libvirt sets them (virConnectSetKeepAlive right after the open, a
    failure to set them failing the migration): they decide how soon :class:`_Peer` notices a dead peer."""
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


def _peer_to_peer(conn: QemuConnection, dom: DomainRef, dconnuri: str, params: list[TypedParam], flags: int) -> None:
    """libvirt's qemuMigrationSrcPerformPeer2Peer3: this driver opens the destination and runs the phases."""
    from pyvirt.migration import migrate_v3
    from pyvirt.plugin.facade import direct_calls

    dest = _open_destination(conn.state, dconnuri)
    jobs = _jobs(conn.state)
    peer = _Peer(dconnuri, dest)
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
            if flags & TUNNELLED:
                _tunnelled(conn, dom, dest.calls, list(params), flags)
            else:
                migrate_v3(direct_calls(conn), dom, dest.calls, list(params), flags & ~PEER2PEER)
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


def _tunnelled(conn: QemuConnection, dom: DomainRef, dest: DriverCalls, params: list[TypedParam], flags: int) -> None:
    """libvirt's qemuMigrationSrcPerformTunnel inside the peer-to-peer phases: QEMU migrates into a socket
    whose data the remote driver sends through the destination's RPC connection (no port is opened on
    either host for the guest's memory); Finish and Confirm then run as for any migration."""
    from pyvirt.migration import MigrateParam, replace_param

    flags |= CHANGE_PROTECTION
    xml, cookie = begin(conn, dom, params, flags)
    obj = conn.state.find(dom)
    dest_flags = flags & ~(ABORT_ON_ERROR | AUTO_CONVERGE)
    if obj.state == DomainState.PAUSED:
        dest_flags |= PAUSED
    params = replace_param(params, MigrateParam.DEST_XML, TypedParamType.STRING, xml)
    try:
        cookie, fd = dest.domain_migrate_prepare_tunnel(params=params, cookie=cookie, flags=dest_flags)
    except Error:
        with contextlib.suppress(Error):
            confirm(conn, dom, params, b"", flags, cancelled=True)
        raise
    params = replace_param(params, MigrateParam.DEST_NAME, TypedParamType.STRING, dom.name)
    jobs = _jobs(conn.state)
    with jobs.lock:
        out = jobs.outgoing[obj.uuid]
    try:
        proc = _running(obj)
        proc.monitor.pass_fd(fd, "pyvirt-tunnel")
        _send(conn, obj, out, "fd:pyvirt-tunnel", {p.field: p.value for p in params}, flags, None)
    except Error:
        with jobs.lock:
            jobs.outgoing.pop(obj.uuid, None)
        _end_recorded_job(conn.state, obj)
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


# ---------------------------------------------------------------------- job statistics
def job_stats(conn: QemuConnection, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]]:
    """libvirt's qemuDomainGetJobStats: the running async job's progress (a migration's from QEMU), or with
    COMPLETED (1) the last migration's final figures."""
    check_flags(
        flags, DomainGetJobStatsFlags.COMPLETED | DomainGetJobStatsFlags.KEEP_COMPLETED, "qemuDomainGetJobStats"
    )  # COMPLETED 1, KEEP_COMPLETED 2
    st = conn.state
    obj = st.find(dom)
    jobs = _jobs(st)
    if flags & 1:
        with jobs.lock:
            done = jobs.completed.get(obj.uuid) if flags & 2 else jobs.completed.pop(obj.uuid, None)
        return (3, list(done)) if done is not None else (0, [])
    job, started = obj.job.async_job, obj.job.async_started
    if job == AsyncJob.NONE:
        return 0, []
    operation = [typed_param("operation", TypedParamType.INT, OPERATIONS.get(job, 0))]
    proc = obj.process
    with jobs.lock:
        out = jobs.outgoing.get(obj.uuid)
    mirrors = out.mirrors if out is not None else None
    disks: list[TypedParam] = []
    if mirrors is not None:
        with contextlib.suppress(Error):
            total, copied = mirrors.progress()
            disks = [typed_param(f, TypedParamType.ULLONG, v) for f, v in
                     (("disk_total", total), ("disk_processed", copied), ("disk_remaining", total - copied))]  # fmt: skip
    if job in (AsyncJob.MIGRATION_OUT, AsyncJob.SAVE, AsyncJob.MIGRATION_IN) and proc is not None and proc.alive():
        with contextlib.suppress(Error):
            info = proc.monitor.execute("query-migrate")
            if info.get("ram") or disks:
                return 1, operation + migration_stats(info, started) + disks
    elapsed = int((time.monotonic() - started) * 1000)
    return 2, [*operation, typed_param("time_elapsed", TypedParamType.ULLONG, elapsed)]
