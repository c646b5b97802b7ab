"""Internal snapshots of qcow2 disks: QMP's snapshot jobs for running guests, qemu-img for stopped ones.

A running guest's snapshot holds its memory and device state (in the first
disk, QEMU's ``vmstate``) and every disk's contents; a stopped guest's only
the disks. Metadata lives beside libvirt's layout: one ``<domainsnapshot>``
document per snapshot under ``lib/snapshot/<domain>/``, the current one
marked ``<active>1</active>``, so any process sees the same tree.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import time
from typing import Any

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.conf.snapshot import Snapshot, SnapshotDisk, check_snapshot_name, format_snapshot, parse_snapshot
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.util.command import Command
from pyvirt_qemu.block_nodes import node_id
from pyvirt_qemu.device_aliases import disk_alias
from pyvirt_qemu.hotplug import top_nodes
from pyvirt_qemu.moment_domain import moment_domain
from pyvirt_qemu.monitor import Monitor

__all__ = ["SnapshotStore", "snapshot_disks"]


def snapshot_disks_any(dom: Domain) -> list[tuple[int, Disk]]:
    """(index, disk) of every writable disk with a file source, whatever its format (external snapshots)."""
    out = []
    for i, disk in enumerate(dom.devices.disks if dom.devices is not None else []):
        if disk.source_file and not disk.readonly and disk.device != "cdrom":
            out.append((node_id(i, disk), disk))
    return out


def _nodes(monitor: Monitor, disks: list[tuple[int, Disk]]) -> list[str]:
    """Each disk's current top node (an external snapshot puts an overlay node on top)."""
    tops = top_nodes(monitor)
    return [tops.get(d.alias.name if d.alias is not None and d.alias.name else disk_alias(d), f"libvirt-{i}-format")
            for i, d in disks]  # fmt: skip


def snapshot_disks(dom: Domain) -> list[tuple[int, Disk]]:
    """(index on the command line, disk) of every writable disk with a source: all must be qcow2."""
    out = []
    for i, disk in enumerate(dom.devices.disks if dom.devices is not None else []):
        path = disk.source_file or disk.source_dev
        if not path or disk.readonly or disk.device == "cdrom":
            continue
        if (disk.driver_type or "raw") != "qcow2":
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"internal snapshot for disk {disk.target_dev} unsupported for storage type {disk.driver_type or 'raw'}",
            )
        out.append((node_id(i, disk), disk))
    return out


def _qemu_img(*args: str) -> None:
    Command(["qemu-img", *args]).pass_env("PATH").run(timeout=120)


def run_job(monitor: Monitor, command: str, job_id: str, arguments: dict[str, Any], timeout: float = 600.0) -> None:
    """Start a QMP job and wait for it to conclude; its error becomes ours."""
    monitor.execute(command, {"job-id": job_id, **arguments})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = next((j for j in monitor.execute("query-jobs") if j.get("id") == job_id), None)
        if job is None or job.get("status") == "concluded":
            error = job.get("error") if job is not None else None
            if job is not None:
                monitor.execute("job-dismiss", {"id": job_id})
            if error:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"QEMU '{command}' failed: {error}",
                                           domain=ErrorDomain.QEMU)  # fmt: skip
            return
        time.sleep(0.01)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, f"QEMU '{command}' did not finish", domain=ErrorDomain.QEMU)


class SnapshotStore:
    """One domain's snapshot documents on disk."""

    def __init__(self, paths: DriverPaths, name: str) -> None:
        self.paths = paths
        self.dir = os.path.join(paths.lib, "snapshot", name)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.xml")

    def names(self) -> list[str]:
        """In creation order (creation time, then name)."""
        snaps = [self.load(os.path.basename(p)[:-4]) for p in glob.glob(os.path.join(self.dir, "*.xml"))]
        return [s.name or "" for s in sorted(snaps, key=lambda s: (s.creation_time or 0, s.name or ""))]

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def load(self, name: str) -> Snapshot:
        try:
            check_snapshot_name(name)  # no such snapshot can exist, and the name must not walk out of self.dir
            with open(self._path(name), "rb") as f:
                raw = f.read()
        except (XMLError, FileNotFoundError):
            raise NotFoundError(
                ErrorCode.NO_DOMAIN_SNAPSHOT, f"no domain snapshot with matching name '{name}'",
                domain=ErrorDomain.DOMAIN_SNAPSHOT,
            ) from None  # fmt: skip
        snap = parse_snapshot(raw)
        match = re.search(rb"<domain[\s>]", raw)  # not <domainsnapshot>
        dom_start, dom_end = (match.start() if match else -1), raw.rfind(b"</domain>")
        snap.domain_xml = raw[dom_start : dom_end + len(b"</domain>")].decode() if dom_start >= 0 else None
        start, end = raw.find(b"<inactiveDomain"), raw.rfind(b"</inactiveDomain>")
        if start >= 0 and end > start:  # kept as the <domain> document it was made from
            snap.inactive_domain_xml = "<domain" + raw[start + len(b"<inactiveDomain") : end].decode() + "</domain>"
        return snap

    def domain_of(self, snap: Snapshot) -> Domain:
        assert snap.domain_xml is not None
        return parse_domain(snap.domain_xml)

    def save(self, snap: Snapshot) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        atomic_write(self._path(snap.name or ""), format_snapshot(snap).encode())

    def current(self) -> str | None:
        for name in self.names():
            if self.load(name).active == 1:
                return name
        return None

    def set_current(self, name: str | None) -> None:
        for other in self.names():
            snap = self.load(other)
            want = 1 if other == name else 0
            if snap.active != want:
                snap.active = want
                self.save(snap)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))

    def remove_all(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ operations
    def create(self, snap: Snapshot, live: Domain, state: str, monitor: Monitor | None,
               inactive: Domain | None = None) -> None:  # fmt: skip
        """Take the snapshot (running: through QMP, memory included; stopped: disks with qemu-img) and record it.
        ``inactive``: a running persistent guest's definition for its next boot (the document's
        ``<inactiveDomain>``)."""
        name = snap.name or ""
        disks = snapshot_disks(live)
        if not disks:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "the domain has no disk to snapshot")
        if self.exists(name):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain snapshot '{name}' already exists")
        if monitor is not None:
            nodes = [f"libvirt-{i}-format" for i, _ in disks]
            run_job(
                monitor, "snapshot-save", f"snapshot-save-{name}", {"tag": name, "vmstate": nodes[0], "devices": nodes}
            )
            snap.memory_snapshot = "internal"
        else:
            for _, disk in disks:
                _qemu_img("snapshot", "-c", name, disk.source_file or disk.source_dev or "")
            snap.memory_snapshot = "no"
        snap.state = state
        snap.parent = self.current()
        snap.creation_time = int(time.time())
        snap.disks = [SnapshotDisk(name=d.target_dev, snapshot="internal") for _, d in disks]
        snap.domain_xml = format_domain(moment_domain(live, self.paths, monitor is not None), 2)
        snap.inactive_domain_xml = _inactive_copy(inactive) if monitor is not None else None
        snap.active = 1
        self.save(snap)
        self.set_current(name)

    def create_external(self, snap: Snapshot, persistent: Domain, live: Domain | None = None,
                        monitor: Monitor | None = None, state: str | None = None,
                        inactive: bool = False) -> None:  # fmt: skip
        """External: a new qcow2 overlay on each disk's current image, which the definition now uses.

        ``state``: the guest's state when its memory went to the snapshot's
        memory file (a full-system external snapshot); without it the snapshot
        is disk-only ("disk-snapshot", no memory; "shutoff" for a stopped guest). ``inactive``: ``persistent`` is a
        running persistent guest's definition for its next boot, which the document
        also keeps (``<inactiveDomain>``).

        A stopped guest's overlays are made with qemu-img; a running guest's by
        QEMU itself (blockdev-snapshot-sync on each disk's current top node), and
        its live definition switches too. Overlays that exist already are
        refused, and on a failure the files made so far are removed.
        """
        name = snap.name or ""
        if self.exists(name):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain snapshot '{name}' already exists")
        asked = {d.name: d for d in snap.disks or []}
        plan: list[tuple[Disk, str]] = []
        for disk in persistent.devices.disks if persistent.devices is not None else []:
            path = disk.source_file
            if not path or disk.readonly or disk.device == "cdrom":
                continue
            want = asked.get(disk.target_dev)
            if want is not None and want.snapshot == "no":
                continue
            overlay = (want.source_file if want is not None else None) or f"{os.path.splitext(path)[0]}.{name}"
            if os.path.exists(overlay):
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"external snapshot file for disk {disk.target_dev} already exists "
                    f"and is not a block device: {overlay}", verbatim=False,
                )  # fmt: skip
            plan.append((disk, overlay))
        if not plan and state is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "the domain has no disk to snapshot")
        before = moment_domain(live or persistent, self.paths, live is not None)  # qemuSnapshotPrepare's copies
        inactive_before = _inactive_copy(persistent) if inactive and live is not None else None
        made: list[str] = []
        try:
            if monitor is not None and live is not None:
                running = {d.target_dev: (i, d) for i, d in snapshot_disks_any(live)}
                tops = top_nodes(monitor)
                for disk, overlay in plan:
                    index, live_disk = running[disk.target_dev]
                    device = live_disk.alias.name if live_disk.alias is not None and live_disk.alias.name else \
                        disk_alias(live_disk)  # fmt: skip
                    monitor.execute("blockdev-snapshot-sync", {
                        "node-name": tops.get(device, f"libvirt-{index}-format"), "snapshot-file": overlay,
                        "snapshot-node-name": f"libvirt-{index}-{name}", "format": "qcow2"})  # fmt: skip
                    made.append(overlay)
                    live_disk.source_file, live_disk.driver_type = overlay, "qcow2"
            else:
                for disk, overlay in plan:
                    _qemu_img("create", "-q", "-f", "qcow2", "-b", disk.source_file or "", "-F",
                              disk.driver_type or "raw", overlay)  # fmt: skip
                    made.append(overlay)
        except BaseException:
            for path in made:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            raise
        snap.domain_xml, snap.inactive_domain_xml = format_domain(before, 2), inactive_before
        for disk, overlay in plan:
            disk.source_file, disk.driver_type = overlay, "qcow2"
        if state is None:  # qemuSnapshotCreateXML: a stopped guest's disk-only snapshot says so ("shutoff")
            snap.state, snap.memory_snapshot = "disk-snapshot" if live is not None else "shutoff", "no"
        else:  # the memory file holds the rest
            snap.state = state
        snap.parent = self.current()
        snap.creation_time = int(time.time())
        overlays = {d.target_dev: o for d, o in plan}
        if not snap.disks:
            snap.disks = [SnapshotDisk(name=d.target_dev, snapshot="external", type="file", driver_type="qcow2",
                                       source_file=o) for d, o in plan]  # fmt: skip
        else:  # every disk of the guest, as libvirt's alignment listed it: the ones left out say "no"
            snap.disks = [SnapshotDisk(name=d.name, snapshot="external", type="file", driver_type="qcow2",
                                       source_file=overlays[d.name]) if d.name in overlays else
                          SnapshotDisk(name=d.name, snapshot="no") for d in snap.disks or []]  # fmt: skip
        snap.active = 1
        self.save(snap)
        self.set_current(name)

    def load_into(self, name: str, live: Domain, monitor: Monitor | None) -> None:
        """Make the disks (and, with a monitor, the running guest) what the snapshot holds."""
        disks = snapshot_disks(live)
        if monitor is not None:
            nodes = [f"libvirt-{i}-format" for i, _ in disks]
            run_job(
                monitor, "snapshot-load", f"snapshot-load-{name}", {"tag": name, "vmstate": nodes[0], "devices": nodes}
            )
        else:
            for _, disk in disks:
                _qemu_img("snapshot", "-a", name, disk.source_file or disk.source_dev or "")

    def delete(self, name: str, live: Domain, monitor: Monitor | None, metadata_only: bool = False) -> None:
        """Drop the snapshot from the images and the tree; its children move up to its parent."""
        snap = self.load(name)
        external = any(d.snapshot == "external" for d in snap.disks or [])
        if external and not metadata_only:
            raise NotSupportedError(
                ErrorCode.OPERATION_UNSUPPORTED, "deletion of external disk snapshots is not supported yet"
            )
        if not metadata_only:  # the images forget it too
            disks = snapshot_disks(live)
            if monitor is not None:
                nodes = _nodes(monitor, disks)
                run_job(monitor, "snapshot-delete", f"snapshot-delete-{name}", {"tag": name, "devices": nodes})
            else:
                for _, disk in disks:
                    _qemu_img("snapshot", "-d", name, disk.source_file or disk.source_dev or "")
        for other in self.names():
            child = self.load(other)
            if child.parent == name:
                child.parent = snap.parent
                self.save(child)
        was_current = snap.active == 1
        self.remove(name)
        if was_current:
            self.set_current(snap.parent)


def _inactive_copy(persistent: Domain | None) -> str | None:
    """qemuSnapshotPrepare's ``inactiveDom``: the next boot's definition copied through its XML (virDomainDefCopy,
    migratable: only the PS/2 keyboard goes, and its parse puts it back where it was)."""
    return format_domain(persistent, 2) if persistent is not None else None
