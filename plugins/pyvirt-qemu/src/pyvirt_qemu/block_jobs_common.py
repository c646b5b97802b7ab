"""What every block job does alike, copy (:mod:`pyvirt_qemu.block_jobs`) or pull and commit
(:mod:`pyvirt_qemu.block_chain`): its start, its ready phase, and what it gives back at its end.

- A job is recorded on the guest before QEMU is asked to start it, because
  QEMU's first event may reach the event thread before the command's reply
  reaches us; if QEMU refuses, the record goes again.
- A job that reaches READY (a copy, an active commit) shows ``ready='yes'`` on
  the disk's ``<mirror>``.
- At its end, the block nodes of the images that left the disk are deleted
  (users before what they use) and the images this guest no longer uses get
  their remembered labels back. Neither fails the job: libvirt only warns when
  a node cannot be detached or a label restored.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

from pyvirt.errors import Error

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pyvirt.conf.domain_devices import Disk, DiskMirror
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["Job", "delete_nodes", "give_back_labels", "live_disk", "mark_ready", "start_job"]


class Job(Protocol):
    """The fields CopyJob and ChainJob share, which abort, speed and the event thread rely on."""

    name: str
    target: str
    state: str  # running, ready, aborting, pivoting


def live_disk(obj: DomainObj, target: str) -> Disk | None:
    """The running guest's disk with this target, as the job's events find it again (it may have been
    unplugged meanwhile)."""
    return next((d for d in (obj.live.devices.disks if obj.live.devices else []) if d.target_dev == target), None)


def start_job(obj: DomainObj, monitor: Monitor, job: Job, disk: Disk, mirror: DiskMirror | None, command: str,
              args: dict[str, Any]) -> None:  # fmt: skip
    """Record the job (and the disk's ``<mirror>``) before QEMU starts it; forget both if QEMU refuses."""
    with obj.lock:
        obj.block_jobs[job.target] = job
        disk.mirror = mirror
    try:
        monitor.execute(command, args)
    except Error:
        with obj.lock:
            obj.block_jobs.pop(job.target, None)
            disk.mirror = None
        raise


def mark_ready(obj: DomainObj, job: Job) -> bool:
    """BLOCK_JOB_READY: a running job becomes ready (True); a job already being ended stays as it is (False)."""
    if job.state != "running":
        return False
    job.state = "ready"
    with obj.lock:
        disk = live_disk(obj, job.target)
        if disk is not None and disk.mirror is not None:
            disk.mirror.ready = "yes"
    return True


def delete_nodes(obj: DomainObj, names: list[str]) -> None:
    """blockdev-del of nodes a job let go, in the order given (users first); nothing once QEMU is gone."""
    proc = obj.process
    if proc is None:
        return
    for name in names:
        with contextlib.suppress(Error):
            proc.monitor.execute("blockdev-del", {"node-name": name})


def give_back_labels(state: QemuState, obj: DomainObj, paths: Iterable[str | None]) -> None:
    """The images the guest stopped using get their remembered labels back (a missing path: nothing to do)."""
    for path in paths:
        if path:
            with contextlib.suppress(Error):
                state.security.restore_path_label(obj.live, path)
