"""Disk copy for ``migrate --copy-storage-all`` (VIR_MIGRATE_NON_SHARED_DISK), libvirt's NBD way.

Destination (Prepare): its QEMU, started with the same disks (images the
user created there beforehand, as libvirt needs for plain files), serves
them writable over NBD: ``nbd-server-start`` on a port of the migration
range, then one ``block-export-add`` per disk.

Source (Perform, before the memory): per disk, an NBD client node to that
export (``blockdev-add``) and ``blockdev-mirror`` from the disk's format
node onto it, ``sync: full``; the memory migration starts once every mirror
is *ready* (caught up, then mirroring each new write). When the memory has
gone and the guest is paused, each job is cancelled after ready, which in
QEMU means "complete with the target in sync"; the client nodes go. A
failure cancels the jobs (``force``) and removes the nodes: the source's
disks were never touched.

Destination (Finish): ``nbd-server-stop`` before the guest runs there.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import Error, ErrorCode, ErrorDomain, OperationFailedError
from pyvirt_qemu.block_nodes import format_node
from pyvirt_qemu.monitor import Monitor

__all__ = ["Mirrors", "copied_disks", "export_name", "start_nbd_server", "stop_nbd_server"]

_READY_WAIT = 3600.0  # a bound on the mirrors' first full copy, as on every loop here


def copied_disks(dom: Domain) -> list[Disk]:
    """The disks copy-storage-all copies: writable images with a source (libvirt's qemuMigrationAnyCopyDisk
    without ``migrate_disks``: every disk but read-only, shareable and empty ones)."""
    out = []
    for disk in dom.devices.disks if dom.devices is not None else []:
        if disk.readonly or disk.shareable or disk.device in ("cdrom", "floppy") or not disk.source_path:
            continue
        if format_node(disk) is None or not disk.target_dev:
            continue
        out.append(disk)
    return out


def export_name(disk: Disk) -> str:
    """The NBD export of a disk: libvirt's ``drive-`` name of its alias."""
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else disk.target_dev or ""
    return f"drive-{alias}"


def start_nbd_server(monitor: Monitor, dom: Domain, address: str, port: int) -> list[str]:
    """Serve the disks to copy; returns their targets (``vda``...), which the cookie names."""
    monitor.execute("nbd-server-start", {"addr": {"type": "inet", "data": {"host": address, "port": str(port)}}})
    targets = []
    for disk in copied_disks(dom):
        node = format_node(disk)
        monitor.execute("block-export-add", {"type": "nbd", "id": export_name(disk), "node-name": node,
                                             "name": export_name(disk), "writable": True})  # fmt: skip
        targets.append(disk.target_dev or "")
    return targets


def stop_nbd_server(monitor: Monitor) -> None:
    monitor.execute("nbd-server-stop")


class Mirrors:
    """The source's mirror jobs, one per copied disk, onto the destination's NBD exports."""

    def __init__(self, monitor: Monitor, dom: Domain, host: str, port: int, targets: list[str]) -> None:
        self.monitor = monitor
        by_target = {d.target_dev: d for d in copied_disks(dom)}
        missing = [t for t in targets if t not in by_target]
        if missing:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                       f"migration of disk {missing[0]} failed: no such disk here",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        self.disks = [by_target[t] for t in targets]
        self.host, self.port = host, port
        self.jobs: list[str] = []
        self.nodes: list[str] = []

    def start(self) -> None:
        for disk in self.disks:
            node = f"migration-{disk.target_dev}-storage"
            self.monitor.execute("blockdev-add", {
                "driver": "nbd", "node-name": node, "export": export_name(disk),
                "server": {"type": "inet", "host": self.host, "port": str(self.port)},
            })  # fmt: skip
            self.nodes.append(node)
            job = export_name(disk)
            self.monitor.execute("blockdev-mirror", {"job-id": job, "device": format_node(disk), "target": node,
                                                     "sync": "full", "auto-dismiss": False})  # fmt: skip
            self.jobs.append(job)

    def _jobs(self) -> dict[str, dict[str, Any]]:
        return {j["device"]: j for j in self.monitor.execute("query-block-jobs") if j.get("device") in self.jobs}

    def progress(self) -> tuple[int, int]:
        """(total, copied) bytes over every mirror: what ``domjobinfo`` shows as the disks' figures."""
        jobs = self._jobs().values()
        return sum(int(j.get("len", 0)) for j in jobs), sum(int(j.get("offset", 0)) for j in jobs)

    def wait_ready(self, aborted: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _READY_WAIT
        while time.monotonic() < deadline:
            if aborted():
                raise OperationFailedError(ErrorCode.OPERATION_ABORTED, "migration out job: canceled by client",
                                           domain=ErrorDomain.QEMU)  # fmt: skip
            jobs = self._jobs()
            for job in self.jobs:
                info = jobs.get(job)
                if info is None or info.get("status") in ("concluded", "aborting", "null"):
                    error = info.get("error") if info else None
                    raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                               f"migration of disk {job} failed: {error or 'the mirror ended'}",
                                               domain=ErrorDomain.QEMU)  # fmt: skip
            if all(jobs[j].get("ready") for j in self.jobs):
                return
            time.sleep(0.05)
        raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "migration of disks did not converge",
                                   domain=ErrorDomain.QEMU)  # fmt: skip

    def complete(self) -> None:
        """With the guest paused: each mirror ends in sync (a cancel after ready), then the nodes go."""
        for job in self.jobs:
            self.monitor.execute("block-job-cancel", {"device": job})
        self._wait_concluded()
        self._dismiss()

    def cancel(self) -> None:
        """A failed migration: stop copying at once, leave the source's disks as they are."""
        for job in self.jobs:
            with contextlib.suppress(Error):
                self.monitor.execute("block-job-cancel", {"device": job, "force": True})
        with contextlib.suppress(Error):
            self._wait_concluded()
        with contextlib.suppress(Error):
            self._dismiss()

    def _wait_concluded(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(j.get("status") in ("concluded", "null") for j in self._jobs().values()):
                return
            time.sleep(0.02)
        raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "the disk mirrors did not end",
                                   domain=ErrorDomain.QEMU)  # fmt: skip

    def _dismiss(self) -> None:
        for job in self.jobs:
            with contextlib.suppress(Error):
                self.monitor.execute("job-dismiss", {"id": job})
        for node in self.nodes:
            with contextlib.suppress(Error):
                self.monitor.execute("blockdev-del", {"node-name": node})
        self.jobs, self.nodes = [], []
