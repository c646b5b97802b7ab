"""Resuming a post-copy migration whose stream broke (VIR_MIGRATE_POSTCOPY_RESUME, libvirt's ``*Resume*`` phases).

After the switch to post-copy neither host has the whole guest, so a broken
stream (a cut link, ``domjobabort --postcopy``) leaves the source's guest
"paused (post-copy failed)" with QEMU's migration "postcopy-paused", and the
destination's "running (post-copy failed)", waiting for pages. Both QEMUs
can take the stream up again where it stopped, and libvirt drives that
with the same five phases and the POSTCOPY_RESUME flag:

- **Begin** (source): the guest must be in that state, and its QEMU's
  migration "postcopy-paused" (else "QEMU reports migration is still
  running"); the outgoing job begins again.
- **Prepare** (destination): the guest must be there in that state; its
  QEMU listens anew (``migrate-recover`` on a fresh port) and the port goes
  back. No new QEMU: the one holding the running guest receives.
- **Perform** (source): QEMU's ``migrate`` with ``resume``; it sends what
  the destination still lacks, to the end ("completed").
- **Finish** (destination): once its QEMU has every page, "running
  (migrated)". **Confirm** (source): the usual end, the guest's QEMU here
  goes (:func:`~pyvirt_qemu.migration_source.complete_source`).

A resume that fails again leaves both halves as they were, in post-copy
failed, so that it can be tried once more.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import TYPE_CHECKING

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import Defined, DomainEvent, Resumed, Suspended
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.flags import DomainXMLFlags as Xml
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.migration_checks import begin_xml
from pyvirt_qemu.migration_cookie import Cookie, host_identity
from pyvirt_qemu.migration_jobs import (
    OUT_MASK,
    Incoming,
    Outgoing,
    check_flags_and_params,
    jobs_of,
    record_phase,
    running,
    split_tcp,
)
from pyvirt_qemu.moment_domain import migratable_xml
from pyvirt_qemu.process import QemuProcess
from pyvirt_qemu.state import DomainObj

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["begin_resume", "finish_resume", "perform_resume", "prepare_resume"]

_WAIT = 3600.0  # how long the rest of the guest may take to arrive (bounded, as every loop here)
_CONNECT = 30.0  # how long QEMU may take to reach the destination again before the resume is failed


def _check_postcopy(flags: int) -> None:
    if not flags & Flag.POSTCOPY:
        raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED,
                                   "resuming failed post-copy migration requires post-copy to be enabled",
                                   domain=ErrorDomain.QEMU)  # fmt: skip


def _migration_status(proc: QemuProcess) -> str:
    return str(proc.monitor.execute("query-migrate").get("status", ""))


# ---------------------------------------------------------------------- source
def begin_resume(conn: QemuConnection, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
    """libvirt's qemuMigrationSrcBeginResumePhase: the guest's outgoing post-copy migration failed here and
    its QEMU waits ("postcopy-paused"); the outgoing job begins again for the resumed stream."""
    values = check_flags_and_params(params, flags, "qemuDomainMigrateBegin3Params")
    _check_postcopy(flags)
    st = conn.state
    obj = st.find(dom)
    obj.job.begin_async(AsyncJob.MIGRATION_OUT, mask=OUT_MASK)
    try:
        proc = running(obj)
        if (obj.state, obj.reason) != (DomainState.PAUSED, PausedReason.POSTCOPY_FAILED):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{obj.name}' is not being migrated",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        if _migration_status(proc) != "postcopy-paused":
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "QEMU reports migration is still running",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        # qemuMigrationSrcBeginXML and the cookie's persistent definition, as a first Begin makes them
        xml = begin_xml(obj.live, values.get("destination_xml"), st.paths)
        persistent = None
        if flags & Flag.PERSIST_DEST:
            persistent = str(values.get("persistent_xml") or "") or migratable_xml(
                obj.config if obj.config is not None else obj.live, st.paths, Xml.INACTIVE, running=obj.config is None
            )
        cookie = Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths), [], persistent)
        with jobs_of(st).lock:
            jobs_of(st).outgoing[obj.uuid] = Outgoing(False, (obj.state, obj.reason), time.monotonic(), True,
                                                      flags=flags, postcopy=True)  # fmt: skip
        record_phase(st, obj, "begin_resume", flags)
        return xml, cookie.encode()
    except BaseException:
        obj.migration_job = None
        obj.job.end_async()
        raise


def perform_resume(conn: QemuConnection, dom: DomainRef, params: list[TypedParam], flags: int) -> bytes:
    """libvirt's qemuMigrationSrcPerformResume: ``migrate`` with ``resume`` to the URI the destination's
    Prepare gave, watched until QEMU has sent the rest ("completed"). A stream that breaks again fails
    this phase and leaves the guest paused (post-copy failed), ready for another try."""
    values = check_flags_and_params(params, flags, "qemuDomainMigratePerform3Params")
    st = conn.state
    obj = st.find(dom)
    jobs = jobs_of(st)
    with jobs.lock:
        out = jobs.outgoing.get(obj.uuid)
    if out is None or obj.job.async_job != AsyncJob.MIGRATION_OUT:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not being migrated",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    try:
        uri = str(values.get("migrate_uri") or "")
        host, port = split_tcp(uri) if uri else ("", 0)
        if not host or not port:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"migration URI {uri} must name a host and a port",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        proc = running(obj)
        record_phase(st, obj, "perform_resume", flags)
        qemu_uri = f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"
        # this call's post-copy bandwidth (MiB/s, 0 unlimited), as libvirt applies a resume's own parameters
        proc.monitor.execute("migrate-set-parameters",
                             {"max-postcopy-bandwidth": int(values.get("bandwidth.postcopy") or 0) << 20})  # fmt: skip
        proc.monitor.execute("migrate", {"uri": qemu_uri, "resume": True})
        with obj.lock:  # libvirt's qemuProcessHandleMigrationStatus: post-copy again, no longer failed
            obj.reason = PausedReason.POSTCOPY
        st.emit(obj, DomainEvent.SUSPENDED, Suspended.POSTCOPY)
        _wait_sent(proc, obj)
    except BaseException:
        with jobs.lock:
            jobs.outgoing.pop(obj.uuid, None)
        _failed_again_source(conn, obj)
        raise
    record_phase(st, obj, "perform3_done", flags)
    return Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode()


def _wait_sent(proc: QemuProcess, obj: DomainObj) -> None:
    """Until QEMU sent the rest. It leaves "postcopy-paused" only once its connection to the destination is
    up (QEMU connects after ``migrate`` returns), so that status is a new failure only after it was left,
    or when it was never left within ``_CONNECT`` seconds."""
    start = time.monotonic()
    deadline, left = start + _WAIT, False
    while time.monotonic() < deadline:
        if not proc.alive():
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "domain is not running", domain=ErrorDomain.QEMU)
        status = _migration_status(proc)
        if status == "completed":
            return
        left = left or status != "postcopy-paused"
        paused_again = status == "postcopy-paused" and (left or time.monotonic() - start > _CONNECT)
        if paused_again or status in ("failed", "cancelled") or obj.job.abort_requested:
            with contextlib.suppress(Error):
                proc.monitor.execute("migrate-pause")
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "job 'migration out' failed in post-copy phase",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        time.sleep(0.05)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "migration out job: did not finish",
                               domain=ErrorDomain.QEMU)  # fmt: skip


def _failed_again_source(conn: QemuConnection, obj: DomainObj) -> None:
    """The resumed stream failed too: the guest stays paused (post-copy failed) and the job ends, so that
    the migration may be resumed again (libvirt's phase POSTCOPY_FAILED)."""
    from pyvirt_qemu.migration_source import postcopy_failed  # (it imports this module)

    with obj.lock:
        if obj.state == DomainState.PAUSED and obj.reason == PausedReason.POSTCOPY:
            obj.reason = PausedReason.POSTCOPY_FAILED
    obj.migration_job = None
    postcopy_failed(conn.state, obj)
    conn.state.save_status(obj)
    obj.job.end_async()


# ---------------------------------------------------------------------- destination
def prepare_resume(conn: QemuConnection, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str]:
    """libvirt's qemuMigrationDstPrepareResume: the guest already runs here (post-copy failed); its QEMU
    listens again (``migrate-recover``) on a fresh port, whose URI goes back."""
    from pyvirt_qemu.migration_destination import free_port, listen_host  # (it imports this module)

    values = check_flags_and_params(params, flags, "qemuDomainMigratePrepare3Params")
    _check_postcopy(flags)
    source = Cookie.decode(cookie)
    st = conn.state
    obj = st.domains.get(source.uuid)
    name = str(values.get("destination_name") or source.name)
    if obj is None or (obj.state, obj.reason) != (DomainState.RUNNING, RunningReason.POSTCOPY_FAILED):
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{name}' is not processing incoming migration",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    jobs = jobs_of(st)
    with jobs.lock:
        events = jobs.failed_postcopy.get(obj.uuid)
    obj.job.begin_async(AsyncJob.MIGRATION_IN, mask=frozenset())
    try:
        proc = running(obj)
        if events is None or events.status != "postcopy-paused":
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "QEMU reports migration is still running",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        address, named = listen_host(values)
        with jobs.lock:
            port = split_tcp(f"tcp:{address}:{named}")[1] if named else free_port(address, jobs.ports)
            jobs.ports.add(port)
        host = address if address not in ("0.0.0.0", "::") else socket.gethostname()
        uri = f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"
        try:
            # out of band: under TCG the vCPU waiting for its page may hold QEMU's main lock, so an in-band
            # command would wait for the page this one is to bring (QEMU allows it OOB for that reason)
            listen = f"tcp:[{address}]:{port}" if ":" in address else f"tcp:{address}:{port}"
            proc.monitor.execute("migrate-recover", {"uri": listen}, oob=True)
        except BaseException:
            with jobs.lock:
                jobs.ports.discard(port)
            raise
        with jobs.lock:
            jobs.failed_postcopy.pop(obj.uuid, None)
            jobs.incoming[obj.uuid] = Incoming(False, source, time.monotonic(), uri, None, events)
    except BaseException:
        obj.job.end_async()
        raise
    return Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode(), uri


def finish_resume(
    conn: QemuConnection, obj: DomainObj, inc: Incoming, flags: int, cancelled: bool
) -> tuple[DomainRef, bytes]:
    """libvirt's qemuMigrationDstFinishResume: once this QEMU has every page the guest is "running
    (migrated)"; a cancelled or failed resume leaves it running (post-copy failed), for another try."""
    from pyvirt_qemu.migration_destination import end_incoming, postcopy_failed_here  # (it imports this module)

    st = conn.state
    jobs = jobs_of(st)
    try:
        if cancelled:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "job 'migration in' failed in post-copy phase",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        proc = running(obj)
        with obj.lock:
            obj.reason = RunningReason.POSTCOPY
        st.emit(obj, DomainEvent.RESUMED, Resumed.POSTCOPY)
        # the source sent everything, so this QEMU left "postcopy-paused" (its event may still be on its way)
        status = inc.events.wait(("postcopy-recover", "postcopy-active", "completed", "failed"), _CONNECT)
        deadline = time.monotonic() + _WAIT
        while proc.alive() and time.monotonic() < deadline and status not in ("completed", "failed", "postcopy-paused"):
            status = inc.events.wait(("completed", "failed", "postcopy-paused"), 1.0)
        if status != "completed":
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "job 'migration in' failed in post-copy phase",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        with obj.lock:
            obj.state, obj.reason = DomainState.RUNNING, RunningReason.MIGRATED
        st.save_status(obj)
        _define(conn, obj, inc, flags)
    except BaseException:
        postcopy_failed_here(st, obj)
        with jobs.lock:
            jobs.failed_postcopy[obj.uuid] = inc.events
        end_incoming(st, obj)
        raise
    end_incoming(st, obj)
    st.emit(obj, DomainEvent.RESUMED, Resumed.MIGRATED)
    return obj.ref(), Cookie(obj.name, obj.uuid, socket.gethostname(), host_identity(st.paths)).encode()


def _define(conn: QemuConnection, obj: DomainObj, inc: Incoming, flags: int) -> None:
    """PERSIST_DEST: the definition the first Finish could not make (it failed in post-copy) is made now."""
    if not flags & Flag.PERSIST_DEST:
        return
    st = conn.state
    persistent = inc.cookie.persistent or format_domain(obj.live, Xml.INACTIVE | Xml.SECURE)
    definition = apply_defaults(parse_domain(persistent), st.paths.cache)
    definition.name = obj.name
    with st.lock, obj.lock:
        was_persistent = obj.persistent
        obj.persistent = True
        obj.config = definition
        st.save_config(definition)
    st.emit(obj, DomainEvent.DEFINED, Defined.UPDATED if was_persistent else Defined.ADDED)
