"""Full-system external snapshots: the running guest's memory into a file, its disks onto new overlays.

libvirt's qemuSnapshotCreateActiveExternal, for ``<memory snapshot='external'
file='...'/>``: the guest is paused, QEMU's migration stream goes into the
memory file in libvirt's save-image format (the snapshot's async job, so
``domjobabort`` cancels it and job-completed reports operation "snapshot"),
each disk the snapshot names external gets a qcow2 overlay, and the guest
runs again (or stops, with HALT). A failure removes the memory file this
snapshot created and lets the guest run on as before.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import format_domain
from pyvirt.conf.snapshot_align import align_disks
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationInvalidError
from pyvirt.events import DomainEvent, Resumed, Suspended
from pyvirt.flags import DomainSnapshotCreateFlags
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.plugin.records import DomainRef, SnapshotRef
from pyvirt_qemu.file_job_recovery import end_file_job, record_file_job
from pyvirt_qemu.migration_jobs import file_job_completed
from pyvirt_qemu.save_image import ImageWriter

if TYPE_CHECKING:
    from pyvirt.conf.snapshot import Snapshot
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["check_disk_only", "create_with_memory"]


def check_disk_only(snap: Snapshot, active: bool) -> None:
    """qemuSnapshotPrepare's rules for a disk-only snapshot's aligned disks: no internal disk of a running guest,
    something to take, at least one external disk, no mix of internal and external."""
    internal = [d.name for d in snap.disks or [] if d.snapshot == "internal"]
    external = [d.name for d in snap.disks or [] if d.snapshot == "external"]
    if internal and active:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"active qemu domains require external disk snapshots; disk {internal[0]} requested "
                                "internal")  # fmt: skip
    if not internal and not external:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "nothing selected for snapshot")
    if not external:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "disk-only snapshots require at least one disk to be selected for snapshot")  # fmt: skip
    if internal:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "mixing internal and external targets for a snapshot is not yet supported")  # fmt: skip


def create_with_memory(conn: QemuConnection, dom: DomainRef, snap: Snapshot, flags: int) -> SnapshotRef:
    """Take ``snap`` (memory external, its file absolute: virDomainSnapshotDefParse checked that) of a running
    guest; see the module's docstring."""
    obj, store = conn._store(dom)
    assert snap.memory_file is not None and snap.name is not None
    with obj.job.holding_async(AsyncJob.SNAPSHOT):
        proc = obj.process
        if proc is None or not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")
        if store.exists(snap.name):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain snapshot '{snap.name}' already exists")
        align_disks(snap, obj.live, "external", True)  # qemuSnapshotCreateAlignDisks: external beside the memory
        if any(d.snapshot == "internal" for d in snap.disks or []):
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, "mixing internal and external targets for a snapshot is not yet supported"
            )
        state = "running" if obj.state == DomainState.RUNNING else "paused"
        was_running = state == "running"
        existed = os.path.exists(snap.memory_file)
        before = (obj.state, obj.reason)
        paused_here = False
        image = ImageWriter(snap.memory_file, format_domain(obj.live), was_running, False)
        try:
            if was_running:
                obj.expect("STOP")
                proc.monitor.execute("stop")
                paused_here = True
                with obj.lock:
                    obj.state, obj.reason = DomainState.PAUSED, PausedReason.SNAPSHOT
                conn.state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
            # the job and the pause into the status file: a daemon killed from here on is followed by one that
            # cancels QEMU's migration and resumes the guest (qemuProcessRecoverJob, VIR_ASYNC_JOB_SNAPSHOT)
            record_file_job(conn.state, obj, AsyncJob.SNAPSHOT)
            info = conn.migrate_to_file(obj, proc, image.fd)
            image.finish()
            file_job_completed(conn.state, obj, AsyncJob.SNAPSHOT, info)  # operation "snapshot"
            image.close()
            persistent = obj.persistent_def() if obj.persistent else obj.live.model_copy(deep=True)
            store.create_external(snap, persistent, obj.live, proc.monitor, state=state, inactive=obj.persistent)
            if obj.persistent:
                conn.state.save_config(persistent)
        except BaseException:
            image.close()
            if not existed:
                with contextlib.suppress(OSError):
                    os.unlink(snap.memory_file)
            _resume(conn, obj, proc, paused_here, before)
            end_file_job(conn.state, obj)
            raise
        if flags & DomainSnapshotCreateFlags.HALT:
            end_file_job(conn.state, obj)
            proc.stop_reason = "from_snapshot"
            proc.kill(grace=3.0)
            proc.cleaned.wait(30)
        else:
            _resume(conn, obj, proc, paused_here, before)
            end_file_job(conn.state, obj)
            conn.state.save_status(obj)
    return SnapshotRef(dom, snap.name)


def _resume(conn: QemuConnection, obj: Any, proc: Any, paused_here: bool, before: tuple[Any, Any]) -> None:
    """The guest runs again if this snapshot paused it (qemuProcessStartCPUs, reason unpaused)."""
    if not paused_here or not proc.alive():
        return
    obj.expect("RESUME")
    try:
        proc.monitor.execute("cont")
    except Error:
        with obj.lock:
            obj.state, obj.reason = before
        return
    with obj.lock:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
    conn.state.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)
