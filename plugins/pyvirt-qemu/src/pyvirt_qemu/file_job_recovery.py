"""A save or dump that the daemon's death interrupted: libvirt 9.0's qemuProcessRecoverJob for those async jobs.

While a save (or managedsave), a dump or an external snapshot's memory
(:mod:`pyvirt_qemu.snapshot_memory`, once it records its job) runs, the guest's status file
names the async job, with libvirt's names (``<job type='none'
async='save'/>``, ``async='dump'``), beside the state the job gave the guest
("paused (saving)", "paused (dumping)"). A daemon killed meanwhile leaves
QEMU writing into the file, or blocked on it, and the guest paused with
nobody to resume it. The next daemon, once it has reconnected to the
guests, finds the job in the status file and does what libvirt does:

- cancels QEMU's migration into the file (``migrate_cancel``; nothing
  happens when it has ended already, or when a memory-only dump runs, which
  QEMU cannot cancel), and has QEMU close the file's descriptor if the
  daemon died after handing it over (``getfd``) but before QEMU took it:
  QEMU would otherwise hold the file open for its whole life;
- resumes the guest when it is still paused for that job (or for an
  unknown reason), "running (save canceled)", as libvirt's
  qemuProcessStartCPUs with VIR_DOMAIN_RUNNING_SAVE_CANCELED; a guest the
  user had paused before stays paused;
- and forgets the job: no job shows in ``domjobinfo`` and a new save may run.

The file is left as it is, as libvirt leaves it: a save image still has
the partial magic (``LibvirtQemudPart``), which ``restore`` refuses, and a
start from a managed save that is incomplete removes it and boots afresh
(libvirt's qemuSaveImageOpen with ``unlink_corrupt``, see
:func:`pyvirt_qemu.save_image.drop_if_partial`); it is never taken for a
finished save.

The job is recorded in the field an outgoing migration records its phase in
(:attr:`DomainObj.migration_job`): a migration into a file is a migration to
QEMU, and a domain has one async job at a time.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import Error
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.local_driver.status_file import read_status

if TYPE_CHECKING:
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["end_file_job", "record_file_job", "recover"]

log = logging.getLogger("pyvirt.qemu.state")

# libvirt's virDomainAsyncJob names in the status file, and the pause reasons after which each job's recovery
# resumes the guest (qemuProcessRecoverJob; an external snapshot's memory goes the same way as a save)
_NAMES = {AsyncJob.SAVE: "save", AsyncJob.DUMP: "dump", AsyncJob.SNAPSHOT: "snapshot"}
_PAUSED_FOR = {
    "save": (PausedReason.SAVE,),
    "dump": (PausedReason.DUMP,),
    "snapshot": (PausedReason.SNAPSHOT, PausedReason.MIGRATION),
}
# the names the descriptor of the file goes to QEMU under: the migration's (driver.migrate_to_file), the
# memory-only dump's (dump._FD_NAME)
_FD_NAMES = ("pyvirt-save", "dump")


def record_file_job(st: QemuState, obj: DomainObj, job: AsyncJob) -> None:
    """The job, and the state it has given the guest, into the status file (libvirt saves the status when an
    async job begins and when it pauses the guest)."""
    obj.migration_job = {"type": "none", "async": _NAMES[job]}
    st.save_status(obj)


def end_file_job(st: QemuState, obj: DomainObj) -> None:
    """The job ended here: out of the status file (with the state it left), nothing for a later daemon."""
    if obj.migration_job is not None and obj.migration_job.get("async") in _PAUSED_FOR:
        obj.migration_job = None
        st.save_status(obj)


def recover(st: QemuState) -> None:
    """Run by the daemon's state initialization once the guests are reconnected: each guest whose status file
    names a save or dump gets its migration cancelled, is resumed if that job paused it, and loses the job."""
    for obj in list(st.domains.values()):
        proc = obj.process
        if proc is None or not proc.alive() or proc.monitor.held_elsewhere:
            continue  # (a monitor another process holds: that process owns the guest's jobs)
        try:
            job = read_status(st.paths.status_xml(obj.name)).runtime.get("job", {})
        except (Error, OSError, ValueError):
            continue
        name = job.get("async")
        if name not in _PAUSED_FOR:
            continue
        log.warning("domain %s: its %s job was interrupted by the daemon's end; cancelling it", obj.name, name)
        try:
            _recover(st, obj, name)
        except Error:  # one guest's trouble must not keep the daemon from serving the others
            log.exception("domain %s: recovering its interrupted %s job failed", obj.name, name)


def _recover(st: QemuState, obj: DomainObj, name: str) -> None:
    proc = obj.process
    assert proc is not None
    with contextlib.suppress(Error):  # (no migration any more: it ended, or QEMU refuses; libvirt ignores it)
        proc.monitor.execute("migrate_cancel")
    for fdname in _FD_NAMES:
        with contextlib.suppress(Error):  # (QEMU answers "File descriptor named ... not found": it took it)
            proc.monitor.execute("closefd", {"fdname": fdname})
    if obj.state == DomainState.PAUSED and obj.reason in (*_PAUSED_FOR[name], PausedReason.UNKNOWN):
        obj.expect("RESUME")
        try:
            proc.monitor.execute("cont")
        except Error:
            with obj.lock:
                obj.expected["RESUME"] = max(0, obj.expected.get("RESUME", 0) - 1)
            log.warning("domain %s: could not resume it after the interrupted %s", obj.name, name)
        else:
            with obj.lock:
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.SAVE_CANCELED
    obj.migration_job = None
    st.save_status(obj)
