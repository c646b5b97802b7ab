"""The source's phases of a migration: Begin, Perform and Confirm (libvirt's ``qemuMigrationSrc*``).

Begin checks the guest may go and starts the outgoing job; Perform runs
QEMU's ``migrate`` and watches it to its end (the guest is then paused
here); Confirm ends the guest's QEMU here once the destination runs it, or
gives the guest back ("running (migration canceled)") when it does not.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import DomainEvent, JobCompletedEvent, Resumed, Suspended
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.flags import DomainXMLFlags as Xml
from pyvirt.local_driver.domain_jobs import AsyncJob, Job
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, typed_param
from pyvirt_qemu.migration_checks import begin_xml, check_allowed, check_safe
from pyvirt_qemu.migration_cookie import Cookie, host_identity
from pyvirt_qemu.migration_jobs import (
    OUT_MASK,
    Outgoing,
    check_flags_and_params,
    end_recorded_job,
    jobs_of,
    record_phase,
    running,
    split_tcp,
)
from pyvirt_qemu.migration_resume import begin_resume, perform_resume
from pyvirt_qemu.migration_stats import OPERATIONS, migration_stats
from pyvirt_qemu.migration_storage import Mirrors
from pyvirt_qemu.moment_domain import migratable_xml
from pyvirt_qemu.process import QemuProcess
from pyvirt_qemu.state import DomainObj, QemuState

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = [
    "begin", "complete_source", "confirm", "pause_post_copy", "perform", "postcopy_failed", "restore_source", "send",
    "start_post_copy",
]  # fmt: skip

log = logging.getLogger("pyvirt.qemu.migration")

_WAIT = 3600.0  # how long a migration may run before it is given up (bounded, as every loop here)


# ---------------------------------------------------------------------- Begin
def begin(conn: QemuConnection, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
    """libvirt's qemuMigrationSrcBeginPhase: checks, the outgoing job, the XML and the cookie."""
    if flags & Flag.POSTCOPY_RESUME:  # (libvirt's qemuMigrationSrcBegin branches the same way)
        return begin_resume(conn, dom, params, flags)
    values = check_flags_and_params(params, flags, "qemuDomainMigrateBegin3Params")
    obj = conn.state.find(dom)
    running(obj)
    check_allowed(conn.state.paths, obj)
    if not flags & (Flag.UNSAFE | Flag.NON_SHARED_DISK):  # (copied disks are the destination's own: safe)
        check_safe(obj.live)
    jobs = jobs_of(conn.state)
    protected = bool(flags & Flag.CHANGE_PROTECTION)
    if protected:
        obj.job.begin_async(AsyncJob.MIGRATION_OUT, mask=OUT_MASK)
    try:
        running(obj)  # again: it may have ended while we waited for the job
        # qemuMigrationSrcBeginXML: the migratable copy of the live definition (passwords travel)
        xml = begin_xml(obj.live, values.get("destination_xml"), conn.state.paths)
        cookie = Cookie(
            obj.name, obj.uuid, socket.gethostname(), host_identity(conn.state.paths),
            [(s.model or "", s.label or "") for s in obj.live.seclabels or [] if s.model],
            _persistent_xml(obj, values, conn.state.paths) if flags & Flag.PERSIST_DEST else None,
        )  # fmt: skip
        if protected:
            with jobs.lock:
                jobs.outgoing[obj.uuid] = Outgoing(
                    obj.state == DomainState.RUNNING, (obj.state, obj.reason), time.monotonic(), True, flags=flags
                )
            record_phase(conn.state, obj, "begin3", flags)
        return xml, cookie.encode()
    except BaseException:
        if protected:
            with jobs.lock:
                jobs.outgoing.pop(obj.uuid, None)
            obj.migration_job = None
            obj.job.end_async()
        raise


def _persistent_xml(obj: DomainObj, values: dict[str, Any], paths: DriverPaths) -> str:
    """What PERSIST_DEST defines on the destination: persistent_xml, else the persistent definition here,
    else (a transient guest) its live one."""
    given = values.get("persistent_xml")
    if given:
        return str(given)
    # qemuDomainDefCopy(SECURE | MIGRATABLE) of the persistent definition, in the cookie INACTIVE | MIGRATABLE
    defn = obj.config if obj.config is not None else obj.live
    return migratable_xml(defn, paths, Xml.INACTIVE, running=obj.config is None)


# ---------------------------------------------------------------------- Perform
def _qemu_uri(uri: str) -> str:
    host, port = split_tcp(uri)
    if not host or not port:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"migration URI {uri} must name a host and a port")
    return f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


def perform(conn: QemuConnection, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int) -> bytes:
    """libvirt's qemuMigrationSrcPerformPhase: QEMU sends the guest to the URI Prepare gave."""
    if flags & Flag.POSTCOPY_RESUME:
        return perform_resume(conn, dom, params, flags)
    values = check_flags_and_params(params, flags, "qemuDomainMigratePerform3Params")
    obj = conn.state.find(dom)
    jobs = jobs_of(conn.state)
    with jobs.lock:
        out = jobs.outgoing.get(obj.uuid)
    if out is None or obj.job.async_job != AsyncJob.MIGRATION_OUT:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not being migrated",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    try:
        uri = values.get("migrate_uri")
        if not uri:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "migration URI is required", domain=ErrorDomain.QEMU)
        nbd = Cookie.decode(cookie).nbd if flags & Flag.NON_SHARED_DISK else None
        if flags & Flag.NON_SHARED_DISK and nbd is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "the destination did not serve the disks to copy",
                                domain=ErrorDomain.QEMU)  # fmt: skip
        send(conn, obj, out, _qemu_uri(str(uri)), values, flags, nbd)
    except BaseException:
        # a failed Perform ends the job itself: the caller does not call Confirm then (libvirt's rule)
        with jobs.lock:
            jobs.outgoing.pop(obj.uuid, None)
        end_recorded_job(conn.state, obj)
        if out.protected:
            obj.job.end_async()
        raise
    return Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(conn.state.paths)).encode()


def send(
    conn: QemuConnection,
    obj: DomainObj,
    out: Outgoing,
    uri: str,
    values: dict[str, Any],
    flags: int,
    nbd: tuple[int, list[str]] | None,
) -> None:
    """QEMU's migrate, watched to its end. Succeeded: the guest is paused here, QEMU still alive for Confirm.
    Failed or cancelled: the guest runs again as before, and the error says why.

    With POSTCOPY, QEMU's ``postcopy-ram`` is on and the end is the switch to post-copy (libvirt's
    QEMU_MIGRATION_COMPLETED_POSTCOPY): the guest is then "paused (post-copy)" here while the destination
    runs it and fetches the pages it lacks from this QEMU, until Confirm."""
    st = conn.state
    proc = running(obj)
    monitor = proc.monitor
    was_running = obj.state == DomainState.RUNNING
    out.was_running = was_running
    bandwidth = int(values.get("bandwidth") or 0)
    # no bandwidth of its own: migrate-setspeed's (libvirt's priv->migMaxBandwidth, its maximum unless set)
    speed = bandwidth or obj.mig_max_bandwidth
    monitor.execute("migrate-set-parameters", {"max-bandwidth": speed << 20})
    if flags & Flag.POSTCOPY:  # libvirt's VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY, MiB/s; 0 is QEMU's unlimited
        monitor.execute(
            "migrate-set-parameters", {"max-postcopy-bandwidth": int(values.get("bandwidth.postcopy") or 0) << 20}
        )
    # "events": QEMU's MIGRATION_PASS, libvirt's migration-iteration event (libvirt turns it on for every QEMU)
    caps = [{"capability": "auto-converge", "state": bool(flags & Flag.AUTO_CONVERGE)},
            {"capability": "postcopy-ram", "state": bool(flags & Flag.POSTCOPY)},
            {"capability": "events", "state": True}]  # fmt: skip
    monitor.execute("migrate-set-capabilities", {"capabilities": caps})
    if flags & Flag.AUTO_CONVERGE and ("auto_converge.initial" in values or "auto_converge.increment" in values):
        tuning = {"cpu-throttle-initial": values.get("auto_converge.initial"),
                  "cpu-throttle-increment": values.get("auto_converge.increment")}  # fmt: skip
        monitor.execute("migrate-set-parameters", {k: v for k, v in tuning.items() if v is not None})
    if was_running and not flags & Flag.LIVE:  # an offline-ish migration: libvirt pauses the guest first
        obj.expect("STOP")
        monitor.execute("stop")
        with obj.lock:
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.MIGRATED)
    expecting_stop = was_running and bool(flags & Flag.LIVE)
    if expecting_stop:
        obj.expect("STOP")  # QEMU stops the guest for the last pass itself
    out.performing = proc
    peer = jobs_of(st).peers.get(obj.uuid)
    try:
        record_phase(st, obj, "perform3", flags)
        if nbd is not None:  # the disks first: the memory goes once every mirror has caught up
            out.mirrors = Mirrors(monitor, obj.live, split_tcp(uri)[0], nbd[0], nbd[1])
            obj.job.on_abort(lambda: None)  # (the wait below sees the request)
            out.mirrors.start()
            out.mirrors.wait_ready(lambda: obj.job.abort_requested)
        monitor.execute("migrate", {"uri": uri})
        obj.job.on_abort(lambda: monitor.execute("migrate_cancel"))
        try:
            info = _watch(proc, obj, peer.lost.is_set if peer is not None else None, bool(flags & Flag.POSTCOPY))
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
        restore_source(st, obj, proc, out)
        raise
    out.performing = None
    done = [
        typed_param("operation", TypedParamType.INT, OPERATIONS[AsyncJob.MIGRATION_OUT]),
        *migration_stats(info, out.started, completed=True),
    ]
    jobs_of(st).completed[obj.uuid] = done
    # QEMU can switch to post-copy and finish between two query-migrate polls (after the switch the rest goes
    # at full speed): libvirt hears of the switch from QEMU's MIGRATION event, pyvirt from the completed
    # statistics, whose ram.postcopy-bytes (QEMU >= 7.0) counts only what post-copy sent.
    out.postcopy = info.get("status") == "postcopy-active" or (
        info.get("status") == "completed" and int((info.get("ram") or {}).get("postcopy-bytes") or 0) > 0
    )
    with obj.lock:
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION
    if was_running:
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.MIGRATED)
    if out.postcopy:  # libvirt's qemuProcessHandleMigrationStatus corrects the reason when QEMU switches
        with obj.lock:
            obj.reason = PausedReason.POSTCOPY
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.POSTCOPY)
    record_phase(st, obj, "perform3_done", flags)


def _watch(
    proc: QemuProcess, obj: DomainObj, lost: Callable[[], bool] | None = None, postcopy: bool = False
) -> dict[str, Any]:
    """query-migrate until QEMU's migration ends; libvirt's errors for how it ended. ``lost`` (peer to peer)
    says whether the connection to the destination died: then QEMU's migration is cancelled, as libvirt's
    qemuMigrationAnyCompleted does when virConnectIsAlive(dconn) fails. With ``postcopy`` the switch to
    post-copy ends the watch too (the rest of the guest's memory follows while it runs there)."""
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
        if status == "completed" or (postcopy and status == "postcopy-active"):
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


def restore_source(st: QemuState, obj: DomainObj, proc: QemuProcess, out: Outgoing) -> None:
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


# ---------------------------------------------------------------------- Confirm
def confirm(
    conn: QemuConnection, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> None:
    """libvirt's qemuMigrationSrcConfirmPhase: the guest here ends, or (``cancelled``) runs on."""
    check_flags_and_params(params, flags, "qemuDomainMigrateConfirm3Params")
    st = conn.state
    obj = st.find(dom)
    jobs = jobs_of(st)
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
        record_phase(st, obj, "confirm3_cancelled" if cancelled else "confirm3", flags)
        obj.migration_job = None  # (the kill removes the status file; a resume saves it without the job)
        complete_source(st, obj, flags, cancelled, out)
    finally:
        obj.migration_job = None
        if out.protected:
            obj.job.end_async()


def complete_source(st: QemuState, obj: DomainObj, flags: int, cancelled: bool, out: Outgoing) -> None:
    """Confirm's effect: the guest here ends (it runs on the destination now), or runs on (it does not).

    After the switch to post-copy neither is possible when the destination failed: the guest's memory is
    split between the hosts, so it stays paused here ("paused (post-copy failed)"), as libvirt's
    qemuMigrationSrcPostcopyFailed leaves it, until a resume (VIR_MIGRATE_POSTCOPY_RESUME,
    :mod:`pyvirt_qemu.migration_resume`) takes the stream up again."""
    proc = obj.process
    if cancelled:
        if proc is not None and out.postcopy:
            postcopy_failed(st, obj)
        elif proc is not None:
            restore_source(st, obj, proc, out)
        return
    if proc is not None and proc.alive() and out.postcopy:
        _wait_sent(st, obj, proc, out)
    if proc is not None and proc.alive():
        proc.stop_reason = "migrated"
        proc.kill(grace=3.0)
        proc.cleaned.wait(30)
    # qemuMigrationSrcComplete: after the guest's stopped (migrated) event, job-completed with the statistics
    # ``domjobinfo --completed`` shows
    completed = jobs_of(st).completed.get(obj.uuid)
    if completed is not None:
        ev = JobCompletedEvent(obj.ref(), list(completed))
        for sink in list(st.sinks):
            sink.emit("job-completed", ev)
    if flags & Flag.UNDEFINE_SOURCE and obj.persistent:
        with st.lock:
            st.forget_definition(obj)
            if not obj.active:
                st.remove(obj)


def postcopy_failed(st: QemuState, obj: DomainObj) -> None:
    """libvirt's qemuMigrationSrcPostcopyFailed: the guest stays paused here, its reason says why."""
    with obj.lock:
        if obj.state != DomainState.PAUSED or obj.reason == PausedReason.POSTCOPY_FAILED:
            return
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.POSTCOPY_FAILED
    log.warning("Migration of domain %s failed during post-copy; leaving the domain paused", obj.name)
    st.emit(obj, DomainEvent.SUSPENDED, Suspended.POSTCOPY_FAILED)
    st.save_status(obj)


def _wait_sent(st: QemuState, obj: DomainObj, proc: QemuProcess, out: Outgoing) -> None:
    """Confirm after post-copy: the destination has the whole guest (its Finish saw QEMU complete), so this
    QEMU's side completes too; its final figures replace the ones taken at the switch (libvirt refreshes
    them in qemuMigrationSrcConfirmPhase)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.alive():
        with contextlib.suppress(Error):
            info = proc.monitor.execute("query-migrate")
            if info.get("status") == "completed":
                operation = typed_param("operation", TypedParamType.INT, OPERATIONS[AsyncJob.MIGRATION_OUT])
                jobs_of(st).completed[obj.uuid] = [operation, *migration_stats(info, out.started, completed=True)]
                return
        time.sleep(0.05)


# ---------------------------------------------------------------------- post-copy controls
def start_post_copy(conn: QemuConnection, dom: DomainRef, flags: int) -> None:
    """libvirt's qemuDomainMigrateStartPostCopy: QEMU's ``migrate-start-postcopy`` on a running migration."""
    check_flags(flags, 0, "qemuDomainMigrateStartPostCopy")
    obj = conn.state.find(dom)
    with obj.job.holding(Job.MIGRATION_OP):
        proc = running(obj)
        with jobs_of(conn.state).lock:
            out = jobs_of(conn.state).outgoing.get(obj.uuid)
        if obj.job.async_job != AsyncJob.MIGRATION_OUT or out is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        "post-copy can only be started while outgoing migration is in progress",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        if not out.flags & Flag.POSTCOPY:
            raise OperationInvalidError(
                ErrorCode.OPERATION_INVALID,
                "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        proc.monitor.execute("migrate-start-postcopy")


def pause_post_copy(conn: QemuConnection, obj: DomainObj) -> None:
    """libvirt's qemuDomainAbortJobPostcopy (``domjobabort --postcopy``): QEMU's ``migrate-pause`` breaks the
    migration stream of an outgoing migration in post-copy; both sides then see post-copy fail."""
    with jobs_of(conn.state).lock:
        out = jobs_of(conn.state).outgoing.get(obj.uuid)
    proc = obj.process
    if obj.job.async_job != AsyncJob.MIGRATION_OUT or out is None or not out.postcopy or proc is None:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "current job is not outgoing migration in post-copy mode",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    proc.monitor.execute("migrate-pause")
