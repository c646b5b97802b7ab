"""What every phase of a migration shares: the flags and parameters it takes, the table of migrations under
way, the phase recorded in the status file, and ``domjobinfo``'s figures (libvirt's ``qemu_migration.c``
helpers and ``qemuDomainGetJobStats``).

The table (:func:`jobs_of`) is per driver state: the outgoing migrations
(from Begin to Confirm), the incoming ones (Prepare to Finish), the ports
they hold, each guest's peer-to-peer destination, and each domain's last
completed job, which ``domjobinfo --completed`` shows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InvalidArgumentError, OperationInvalidError
from pyvirt.events import JobCompletedEvent
from pyvirt.flags import DomainGetJobStatsFlags as JobStats
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.local_driver.domain_jobs import DEFAULT_MASK, AsyncJob, Job
from pyvirt.migration import JobType
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params, typed_param
from pyvirt_qemu.migration_cookie import Cookie
from pyvirt_qemu.migration_stats import OPERATIONS, migration_stats
from pyvirt_qemu.migration_storage import Mirrors
from pyvirt_qemu.process import QemuProcess
from pyvirt_qemu.state import DomainObj, QemuState

if TYPE_CHECKING:
    from pyvirt import Connection
    from pyvirt_qemu.driver import QemuConnection

__all__ = [
    "CRASH_ENV", "OUT_MASK", "PARAMS", "SUPPORTED_FLAGS", "Incoming", "Jobs", "MigrationEvents", "Outgoing", "Peer",
    "check_flags_and_params", "end_recorded_job", "file_job_completed", "job_stats", "jobs_of", "record_phase",
    "running", "split_tcp",
]  # fmt: skip
# VIR_MIGRATE_* this driver honours (libvirt's QEMU_MIGRATION_FLAGS, without what needs TLS, RDMA,
# compression or multiple connections); the ones below are refused by name instead of ignored
SUPPORTED_FLAGS = (
    Flag.LIVE | Flag.PEER2PEER | Flag.TUNNELLED | Flag.PERSIST_DEST | Flag.UNDEFINE_SOURCE | Flag.PAUSED
    | Flag.CHANGE_PROTECTION | Flag.UNSAFE | Flag.ABORT_ON_ERROR | Flag.AUTO_CONVERGE | Flag.NON_SHARED_DISK
    | Flag.POSTCOPY | Flag.POSTCOPY_RESUME
)  # fmt: skip
_UNSUPPORTED_FLAG_NAMES = {
    Flag.NON_SHARED_INC: "migration of non-shared storage", Flag.OFFLINE: "offline migration",
}  # fmt: skip

PARAMS: dict[str, TypedParamType] = {
    "migrate_uri": TypedParamType.STRING,
    "destination_name": TypedParamType.STRING,
    "destination_xml": TypedParamType.STRING,
    "persistent_xml": TypedParamType.STRING,
    "bandwidth": TypedParamType.ULLONG,
    "bandwidth.postcopy": TypedParamType.ULLONG,
    "listen_address": TypedParamType.STRING,
    "auto_converge.initial": TypedParamType.INT,
    "auto_converge.increment": TypedParamType.INT,
}
"""The VIR_MIGRATE_PARAM_* this driver takes (virTypedParamsValidate refuses the others by name)."""

OUT_MASK = DEFAULT_MASK | {Job.SUSPEND, Job.MIGRATION_OP}  # libvirt's mask of the outgoing job
CRASH_ENV = "PYVIRT_TEST_MIGRATION_CRASH"  # tests: the phase after whose recording the daemon dies
_PROBE_EVERY = 1.0  # seconds between two looks at a peer-to-peer destination's connection


@dataclass
class Outgoing:
    was_running: bool
    before: tuple[int, int]  # (state, reason) when Begin found it: what a cancelled migration gives back
    started: float
    protected: bool  # begun by Begin (CHANGE_PROTECTION): Confirm ends the job
    mirrors: Mirrors | None = None  # copy-storage-all: the disks' mirror jobs while Perform runs
    performing: QemuProcess | None = None  # whose migration Perform is watching now
    flags: int = 0  # the migration's VIR_MIGRATE_* (libvirt's job apiFlags): may it switch to post-copy?
    postcopy: bool = False  # it switched: the guest runs on the destination, pages still come from here


class MigrationEvents:
    """An incoming QEMU's MIGRATION events (its ``events`` capability): the status they last gave.

    In post-copy the destination's main loop may wait for a page that never comes (the stream broke), and
    commands such as query-migrate wait with it; events still come, from QEMU's monitor thread, which is
    how libvirt follows the end of a post-copy migration too.
    """

    def __init__(self) -> None:
        self.status = ""
        self._changed = threading.Condition()

    def note(self, event: str, data: dict[str, Any]) -> None:
        if event == "MIGRATION":
            with self._changed:
                self.status = str(data.get("status", ""))
                self._changed.notify_all()

    def wait(self, statuses: tuple[str, ...], timeout: float) -> str:
        """The status once it is one of ``statuses``, or (``timeout`` seconds later) whatever it is then."""
        with self._changed:
            self._changed.wait_for(lambda: self.status in statuses, timeout)
            return self.status


@dataclass
class Incoming:
    added: bool  # the domain object is new here (a failed migration forgets it)
    cookie: Cookie
    started: float
    uri: str
    nbd_port: int | None = None  # copy-storage-all: the NBD server serving the disks
    events: MigrationEvents = field(default_factory=MigrationEvents)


@dataclass
class Jobs:
    """Per driver state: the migrations under way and each domain's last completed job statistics."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    outgoing: dict[str, Outgoing] = field(default_factory=dict)
    incoming: dict[str, Incoming] = field(default_factory=dict)
    completed: dict[str, list[TypedParam]] = field(default_factory=dict)
    ports: set[int] = field(default_factory=set)
    peers: dict[str, Peer] = field(default_factory=dict)  # peer to peer: the destination each guest goes to
    # a guest whose incoming post-copy failed here: its QEMU's migration events, which a resume follows
    failed_postcopy: dict[str, MigrationEvents] = field(default_factory=dict)


class Peer:
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


_tables: weakref.WeakKeyDictionary[QemuState, Jobs] = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def jobs_of(state: QemuState) -> Jobs:
    """The driver's migration table (one per driver state, kept beside it, gone with it)."""
    with _tables_lock:
        table = _tables.get(state)
        if table is None:
            table = _tables[state] = Jobs()
        return table


def record_phase(st: QemuState, obj: DomainObj, phase: str, flags: int) -> None:
    """Record the outgoing job's phase in the status file (libvirt's qemuMigrationJobSetPhase + save)."""
    job = {"type": "none", "async": "migration out", "phase": phase, "flags": hex(flags)}
    peer = jobs_of(st).peers.get(obj.uuid)
    if peer is not None:
        job["dconnuri"] = peer.dconnuri
    obj.migration_job = job
    st.save_status(obj)
    if os.environ.get(CRASH_ENV) == phase:
        os.kill(os.getpid(), signal.SIGKILL)


def end_recorded_job(st: QemuState, obj: DomainObj) -> None:
    """The outgoing job ended here: its phase leaves the status file (a later daemon has nothing to recover)."""
    if obj.migration_job is not None:
        obj.migration_job = None
        st.save_status(obj)


def check_flags_and_params(params: list[TypedParam], flags: int, function: str) -> dict[str, Any]:
    """Every phase's first step (libvirt's virCheckFlags + virTypedParamsValidate): the parameters by name."""
    for bit, what in _UNSUPPORTED_FLAG_NAMES.items():
        if flags & bit:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, f"{what} is not supported by this driver",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    check_flags(flags, SUPPORTED_FLAGS, function)
    if flags & Flag.POSTCOPY and (not flags & Flag.LIVE or flags & Flag.PAUSED):
        raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED,
                                   "post-copy migration is not supported with non-live or paused migration",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    if flags & Flag.POSTCOPY and flags & Flag.TUNNELLED:
        raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "post-copy is not supported with tunnelled migration",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    check_typed_params(params, PARAMS)
    return {p.field: p.value for p in params}


def split_tcp(uri: str) -> tuple[str, int]:
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


def running(obj: DomainObj) -> QemuProcess:
    """The guest's QEMU, which every phase needs alive (libvirt's virDomainObjCheckActive)."""
    proc = obj.process
    if not obj.active or proc is None or not proc.alive():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.QEMU)
    return proc


# ---------------------------------------------------------------------- job statistics
def file_job_completed(state: QemuState, obj: DomainObj, job: AsyncJob, info: dict[str, Any]) -> None:
    """The end of QEMU's migration into a file (save, managedsave): libvirt's qemuMigrationSrcToFile keeps the
    final figures for ``domjobinfo --completed`` and raises job-completed with them, before the guest stops.

    ``info``: QEMU's last ``query-migrate`` answer, status "completed".
    """
    done = [typed_param("operation", TypedParamType.INT, OPERATIONS[job]), *migration_stats(info, 0.0, completed=True)]
    jobs = jobs_of(state)
    with jobs.lock:
        jobs.completed[obj.uuid] = done
    ev = JobCompletedEvent(obj.ref(), list(done))
    for sink in list(state.sinks):
        sink.emit("job-completed", ev)


def job_stats(conn: QemuConnection, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]]:
    """libvirt's qemuDomainGetJobStats: the running async job's progress (a migration's from QEMU), or with
    COMPLETED (1) the last migration's final figures."""
    check_flags(flags, JobStats.COMPLETED | JobStats.KEEP_COMPLETED, "qemuDomainGetJobStats")
    st = conn.state
    obj = st.find(dom)
    jobs = jobs_of(st)
    if flags & JobStats.COMPLETED:
        with jobs.lock:
            keep = flags & JobStats.KEEP_COMPLETED
            done = jobs.completed.get(obj.uuid) if keep else jobs.completed.pop(obj.uuid, None)
        return (JobType.COMPLETED, list(done)) if done is not None else (JobType.NONE, [])
    job, started = obj.job.async_job, obj.job.async_started
    if job == AsyncJob.NONE:
        return JobType.NONE, []
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
                return JobType.BOUNDED, operation + migration_stats(info, started) + disks
    elapsed = int((time.monotonic() - started) * 1000)
    return JobType.UNBOUNDED, [*operation, typed_param("time_elapsed", TypedParamType.ULLONG, elapsed)]
