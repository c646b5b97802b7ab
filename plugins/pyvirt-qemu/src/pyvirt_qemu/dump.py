"""``virsh dump`` on the QEMU driver: libvirt 9.0's qemuDomainCoreDumpWithFormat, doCoreDump and qemuDumpToFd.

A dump runs as the async job "domain core dump": queries, ``destroy`` and
``domjobabort`` may reach the guest meanwhile. The daemon creates the file
itself (root's, 0600, as libvirt's virQEMUFileOpenAs; a file that already
exists keeps its owner) and hands QEMU only a descriptor (``getfd``), so QEMU,
which runs as an unprivileged user, never needs to reach the path. Then:

- ``MEMORY_ONLY``: QMP ``dump-guest-memory`` (no paging, detached) in the
  format asked for -- ELF, or one QEMU lists in
  ``query-dump-guest-memory-capability`` -- until QEMU's ``DUMP_COMPLETED``;
  ``domjobinfo`` shows ``query-dump``'s progress, and the job cannot be
  aborted (libvirt: "cannot abort memory-only dump").
- otherwise QEMU's migration stream into the file, the very path a save
  takes (:meth:`QemuConnection.migrate_to_file`): ``domjobinfo`` shows the
  migration's figures, ``domjobabort`` cancels it, and job-completed
  (operation dump) is raised at its end, as libvirt's qemuMigrationSrcToFile
  raises it; only the raw format is possible there.

The guest is paused while it is dumped unless ``LIVE``; afterwards ``CRASH``
ends it ("shut off (crashed)", event stopped/crashed), ``RESET`` resets it,
and a guest that was running runs again. A failure removes the file the dump
created and leaves the guest as it was.

With ``BYPASS_CACHE`` the file is opened ``O_DIRECT`` and QEMU writes into a
pipe that :class:`~pyvirt_qemu.bypass_cache.CacheBypassingWriter` copies into
it, as libvirt's iohelper does.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    SystemCallError,
)
from pyvirt.events import DomainEvent, Resumed, Suspended
from pyvirt.flags import DomainCoreDumpFlags as Dump
from pyvirt.flags import DomainGetJobStatsFlags as JobStats
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.migration import JobType
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, typed_param
from pyvirt_qemu.bypass_cache import CacheBypassingWriter
from pyvirt_qemu.file_job_recovery import end_file_job, record_file_job

if TYPE_CHECKING:
    from pyvirt.plugin.records import DomainRef
    from pyvirt_qemu.driver import QemuConnection
    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["FORMATS", "core_dump", "job_stats", "on_dump_completed"]

# qemuDumpFormat's names, indexed by libvirt's virDomainCoreDumpFormat (0, raw, is QEMU's ELF)
FORMATS = ("elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp")
_OPERATION_DUMP = 8  # VIR_DOMAIN_JOB_OPERATION_DUMP
_FD_NAME = "dump"  # libvirt's name for the descriptor dump-guest-memory writes to
_POLL = 0.5  # seconds between two query-dump looks while DUMP_COMPLETED has not come
_SETTLE = 5.0  # seconds for QEMU's own STOP/RESUME events to reach the domain's state


@dataclass
class _Dump:
    """One dump under way: what ``domjobinfo`` asks about, and QEMU's DUMP_COMPLETED once it came."""

    memory_only: bool
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


_dumps: dict[int, _Dump] = {}  # by id() of the domain object (it lives while its dump runs)
_dumps_lock = threading.Lock()


def _failed(message: str) -> OperationFailedError:
    return OperationFailedError(ErrorCode.OPERATION_FAILED, message, domain=ErrorDomain.QEMU)


# ---------------------------------------------------------------------- the hook
def core_dump(conn: QemuConnection, dom: DomainRef, to: str, dumpformat: int, flags: int) -> None:
    """qemuDomainCoreDumpWithFormat. ``to`` is absolute (the public entry point made it so)."""
    check_flags(
        flags,
        Dump.CRASH | Dump.LIVE | Dump.BYPASS_CACHE | Dump.RESET | Dump.MEMORY_ONLY,
        "qemuDomainCoreDumpWithFormat",
    )
    st = conn.state
    obj = st.find(dom)
    with obj.job.holding_async(AsyncJob.DUMP):
        proc = conn._still_running(obj)  # (checked once the job is ours: it may have ended meanwhile)
        record = _Dump(memory_only=bool(flags & Dump.MEMORY_ONLY), started=time.monotonic())
        with _dumps_lock:
            _dumps[id(obj)] = record
        try:
            _dump_job(conn, obj, proc, to, dumpformat, flags, record)
        finally:
            with _dumps_lock:
                _dumps.pop(id(obj), None)
            end_file_job(st, obj)


def _dump_job(
    conn: QemuConnection, obj: DomainObj, proc: QemuProcess, to: str, dumpformat: int, flags: int, record: _Dump
) -> None:
    st = conn.state
    # the guest runs again afterwards if it ran before, whether it was paused here or by QEMU's own dump
    resume = obj.state == DomainState.RUNNING
    paused = False
    record_file_job(st, obj, AsyncJob.DUMP)  # (what a daemon that follows a killed one recovers)
    if not flags & Dump.LIVE and obj.state == DomainState.RUNNING:
        obj.expect("STOP")
        proc.monitor.execute("stop")
        paused = True
        with obj.lock:  # what queries show meanwhile, as libvirt: "paused (dumping)"
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.DUMP
        st.save_status(obj)
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)  # qemuProcessHandleStop: a plain pause
        if not proc.alive():
            raise InternalError(ErrorCode.INTERNAL_ERROR, "guest unexpectedly quit", domain=ErrorDomain.QEMU)
    failure: BaseException | None = None
    try:
        _write(conn, obj, proc, to, dumpformat, flags, record)
        paused = True  # a migration ends with the guest paused, a live one too
    except BaseException as exc:
        failure = exc
    if failure is None and flags & Dump.CRASH:
        proc.stop_reason = "dumped"  # the exit is reported as "stopped (crashed)", "shut off (crashed)"
        proc.kill(grace=3.0)
        proc.cleaned.wait(30)
        return
    try:
        if ((resume and paused) or flags & Dump.RESET) and proc.alive():
            if failure is None and flags & Dump.RESET:
                proc.monitor.execute("system_reset")
            if resume and proc.alive():
                _resume(st, obj, proc)
    except Error:
        if failure is None:
            raise
        # (the dump's own error is the one reported, as libvirt keeps its first error)
    if failure is not None:
        raise failure


def _resume(st: QemuState, obj: DomainObj, proc: QemuProcess) -> None:
    """Run the guest again (qemuProcessStartCPUs), unless QEMU already did: a memory-only dump pauses and
    resumes a running guest by itself. QEMU's own STOP/RESUME events are awaited first, so that this
    decision and the state they record agree."""
    running_now = bool(proc.monitor.execute("query-status").get("running"))
    deadline = time.monotonic() + _SETTLE
    while (obj.state == DomainState.RUNNING) != running_now and time.monotonic() < deadline:
        time.sleep(0.02)
    if running_now:
        return
    obj.expect("RESUME")
    try:
        proc.monitor.execute("cont")
    except Error:
        with obj.lock:
            obj.expected["RESUME"] = max(0, obj.expected.get("RESUME", 0) - 1)
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.API_ERROR)
        raise
    with obj.lock:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
    st.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)


# ---------------------------------------------------------------------- the file
def _open_file(path: str, direct: bool) -> tuple[int, bool]:
    """libvirt's virQEMUFileOpenAs for the dump: (fd, whether we created the file, so a failure removes it).

    A new file is root's with mode 0600 (the daemon's user and group even in
    a set-group-id directory); an existing regular file keeps its owner and
    is truncated; an existing device is written in place.
    """
    created = not os.path.lexists(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | (os.O_DIRECT if direct else 0)
    try:
        if not created and not os.path.isfile(path):
            flags &= ~(os.O_CREAT | os.O_TRUNC)
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"Failed to create file '{path}'") from exc
    try:
        if created:
            st = os.fstat(fd)
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, os.geteuid(), os.getegid())
    except OSError as exc:
        os.close(fd)
        os.unlink(path)
        raise SystemCallError(exc.errno or 0, f"Failed to create file '{path}'") from exc
    return fd, created


def _write(
    conn: QemuConnection, obj: DomainObj, proc: QemuProcess, path: str, dumpformat: int, flags: int, record: _Dump
) -> None:
    """doCoreDump: create the file, have QEMU fill it (through the cache-bypassing copy with ``BYPASS_CACHE``),
    close it; a file created here goes again on failure."""
    fd, created = _open_file(path, direct=bool(flags & Dump.BYPASS_CACHE))
    writer: CacheBypassingWriter | None = None
    try:
        writer = CacheBypassingWriter(fd, path) if flags & Dump.BYPASS_CACHE else None
        to_qemu = writer.fd if writer is not None else fd
        if flags & Dump.MEMORY_ONLY:
            _dump_guest_memory(obj, proc, to_qemu, FORMATS[dumpformat], record)
        else:
            if dumpformat != 0:
                raise NotSupportedError(
                    ErrorCode.OPERATION_UNSUPPORTED,
                    "kdump-compressed format is only supported with memory-only dump",
                    domain=ErrorDomain.QEMU,
                )
            from pyvirt_qemu.migration_jobs import file_job_completed

            info = conn.migrate_to_file(obj, proc, to_qemu)
            file_job_completed(conn.state, obj, AsyncJob.DUMP, info)
        if writer is not None:
            copying, writer = writer, None  # (closed once: a failure of its own is not waited for again)
            copying.close()
        try:
            os.close(fd)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"unable to close file {path}") from exc
        finally:
            fd = -1
    except BaseException as exc:
        copy_error = None
        if writer is not None:  # QEMU's side failed, or ours did and QEMU's followed (libvirt reports ours last)
            try:
                writer.close()
            except Error as err:
                copy_error = err
        if fd >= 0:
            os.close(fd)
        if created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if copy_error is not None:
            raise copy_error from exc
        raise


def _dump_guest_memory(obj: DomainObj, proc: QemuProcess, fd: int, fmt: str, record: _Dump) -> None:
    """qemuDumpToFd + qemuDumpWaitForCompletion."""
    monitor = proc.monitor
    if fmt != "elf":  # QEMU writes ELF when no format is named, which every QEMU can
        formats = monitor.execute("query-dump-guest-memory-capability").get("formats", [])
        if fmt not in formats:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"unsupported dumpformat '{fmt}' for this QEMU binary", domain=ErrorDomain.QEMU
            )
    args: dict[str, Any] = {"paging": False, "protocol": f"fd:{_FD_NAME}", "detach": True}
    if fmt != "elf":
        args["format"] = fmt
    monitor.pass_fd(fd, _FD_NAME)
    try:
        monitor.execute("dump-guest-memory", args)
    except Error:
        with contextlib.suppress(Error):  # QEMU keeps a named fd the command did not take
            monitor.execute("closefd", {"fdname": _FD_NAME})
        raise

    def refuse_abort() -> None:  # libvirt's qemuDomainAbortJobFlags: QEMU cannot cancel a dump
        raise OperationInvalidError(
            ErrorCode.OPERATION_INVALID, "cannot abort memory-only dump", domain=ErrorDomain.QEMU
        )

    obj.job.on_abort(refuse_abort)
    try:
        status = _wait_dump(proc, record)
    finally:
        obj.job.on_abort(None)
    if status == "failed":
        if record.error:
            raise _failed(f"memory-only dump failed: {record.error}")
        raise _failed("memory-only dump failed for unknown reason")


def _wait_dump(proc: QemuProcess, record: _Dump) -> str:
    """Until QEMU's DUMP_COMPLETED ("completed" or "failed"). ``query-dump`` is asked too, now and then,
    so that a missed event (another process held the monitor for a moment) cannot leave us waiting."""
    while not record.done.wait(_POLL):
        status = str(proc.monitor.execute("query-dump").get("status", ""))
        if status in ("completed", "failed") and not record.done.wait(1.0):
            return status  # (the event, which would carry QEMU's error text, did not come)
    return str(record.result.get("status", ""))


def on_dump_completed(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """QEMU's DUMP_COMPLETED (qemuProcessHandleDumpCompleted): the dump under way learns its outcome."""
    with _dumps_lock:
        record = _dumps.get(id(obj))
    if record is None:
        return  # no dump of ours runs (libvirt ignores it too)
    result = data.get("result")
    record.result = dict(result) if isinstance(result, dict) else {"status": "failed"}
    error = data.get("error")
    record.error = str(error) if error else None
    if record.error and record.result.get("status") != "failed":
        record.result["status"] = "failed"
    record.done.set()


# ---------------------------------------------------------------------- domjobinfo
def job_stats(conn: QemuConnection, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]] | None:
    """The running dump's progress (qemuDomainGetJobStatsInternal); None when no dump runs or the completed
    job is asked for (the migration code answers those)."""
    check_flags(flags, JobStats.COMPLETED | JobStats.KEEP_COMPLETED, "qemuDomainGetJobStats")
    if flags & JobStats.COMPLETED:
        return None
    obj = conn.state.find(dom)
    with _dumps_lock:
        record = _dumps.get(id(obj))
    proc = obj.process
    if record is None or obj.job.async_job != AsyncJob.DUMP or proc is None:
        return None
    operation = typed_param("operation", TypedParamType.INT, _OPERATION_DUMP)
    if not record.memory_only:  # qemuDomainGetJobInfoMigrationStats: the migration's figures
        from pyvirt_qemu.migration_stats import migration_stats

        info = proc.monitor.execute("query-migrate")
        return JobType.UNBOUNDED, [operation, *migration_stats(info, record.started)]
    # qemuDomainGetJobInfoDumpStats
    info = proc.monitor.execute("query-dump")
    status = str(info.get("status", ""))
    if status not in ("active", "completed"):
        number = {"none": 0, "failed": 3}.get(status, 4)  # qemuMonitorDumpStatus
        raise _failed(f"dump query failed, status={number}")
    total, done = int(info.get("total", 0)), int(info.get("completed", 0))
    elapsed = int((time.monotonic() - record.started) * 1000)
    kind = JobType.UNBOUNDED if status == "active" else JobType.COMPLETED
    return kind, [
        operation,
        typed_param("time_elapsed", TypedParamType.ULLONG, elapsed),
        typed_param("memory_total", TypedParamType.ULLONG, total),
        typed_param("memory_processed", TypedParamType.ULLONG, done),
        typed_param("memory_remaining", TypedParamType.ULLONG, total - done),
    ]
