"""``<disk><transient/>``: a disk whose guest writes are thrown away when the guest stops.

As libvirt 9.0 does it (qemuProcessSetupDisksTransientSnapshot), the guest's image goes on QEMU's command line
as it is, and once QEMU runs (paused, before the guest's first instruction) the driver has QEMU put a qcow2
overlay over it, ``IMAGE.TRANSIENT-GUESTNAME`` next to the image: the guest writes there, the live definition
shows the overlay with the image as its backing store, and the overlay file is deleted when the guest stops.
An overlay file that is already there is refused: another guest may still be writing to it.

``shareBacking='yes'`` (several guests sharing one image) keeps the disk off the command line: once QEMU runs, the
driver adds the image's nodes read-only, the overlay over them, and then the disk device, and resets the paused
machine so its firmware sees the new bootable disk (qemuProcessSetupDisksTransientHotplug).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.block_nodes import disk_blockdevs, next_node_id
from pyvirt_qemu.monitor import Monitor

__all__ = ["check_transient_disk", "check_transient_start", "create_transient_overlays", "overlay_path",
           "remove_transient_overlays"]  # fmt: skip

_SHARE_BUSES = ("usb", "virtio", "scsi")  # buses a disk can be hot-plugged on


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def overlay_path(disk: Disk, name: str) -> str:
    """qemuSnapshotGetTransientDiskDef's overlay: next to the image, named after the guest."""
    return f"{disk.source_file}.TRANSIENT-{name}"


def check_transient_disk(disk: Disk) -> None:
    """qemuValidateDomainDeviceDefDiskTransient: a writable local file of a 'disk' device."""
    if not disk.transient:
        return
    dst = disk.target_dev or ""
    if not (disk.source_file or disk.source_dev or disk.source_dir or disk.source_protocol):
        raise _refuse(f"transient disk '{dst}' must not be empty")
    if disk.readonly:
        raise _refuse(f"transient disk '{dst}' must not be read-only")
    if disk.type not in (None, "file"):
        raise _refuse(f"transient disk supported only with 'file' type ({dst})")
    if disk.device not in (None, "disk"):
        raise _refuse(f"transient disk supported only with 'disk' device ({dst})")
    if disk.transient_share_backing and disk.target_bus not in _SHARE_BUSES:
        raise _refuse(f"disk bus '{disk.target_bus}' doesn't support transiend disk backing image sharing")


def _transient(dom: Domain) -> list[Disk]:
    return [d for d in (dom.devices.disks if dom.devices is not None else []) if d.transient]


def check_transient_start(dom: Domain) -> None:
    """Before anything of a start is done: the disks follow libvirt's rules and their overlays do not exist yet."""
    name = dom.name or ""
    for disk in _transient(dom):
        check_transient_disk(disk)
        overlay = overlay_path(disk, name)
        if os.path.exists(overlay):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"Overlay file '{overlay}' for transient disk "
                                    f"'{disk.target_dev}' already exists")  # fmt: skip


def _overlay(dom: Domain, disk: Disk, monitor: Monitor, attached: bool = True) -> None:
    """QEMU's qcow2 overlay over the disk's top node; the live ``disk`` then shows it over the image.

    ``attached``: the node is a device's (QEMU's blockdev-snapshot-sync then moves the device onto the overlay),
    else it is a node of its own (a shared image before its device exists): the overlay is made and added as
    libvirt's qemuSnapshotDiskCreate makes it (blockdev-create of the file and of the qcow2 image, blockdev-add,
    blockdev-snapshot), so that it stays for the device to use.
    """
    from pyvirt_qemu.snapshots import run_job  # (snapshots imports hotplug, which imports this module's users)

    assert disk.source_index is not None
    overlay, below = overlay_path(disk, dom.name or ""), disk.source_index
    new = next_node_id(dom)
    if attached:
        monitor.execute("blockdev-snapshot-sync", {
            "node-name": f"libvirt-{below}-format", "snapshot-file": overlay,
            "snapshot-node-name": f"libvirt-{new}-format", "format": "qcow2"})  # fmt: skip
    else:
        nodes = monitor.execute("query-named-block-nodes", {"flat": True})
        size = next(n["image"]["virtual-size"] for n in nodes if n["node-name"] == f"libvirt-{below}-format")
        storage, fmt = f"libvirt-{new}-storage", f"libvirt-{new}-format"
        run_job(monitor, "blockdev-create", f"create-{storage}",
                {"options": {"driver": "file", "filename": overlay, "size": 0}})  # fmt: skip
        monitor.execute("blockdev-add", {"driver": "file", "filename": overlay, "node-name": storage,
                                         "auto-read-only": True, "discard": "unmap"})  # fmt: skip
        run_job(monitor, "blockdev-create", f"create-{fmt}", {"options": {
            "driver": "qcow2", "file": storage, "size": size, "backing-file": disk.source_file or "",
            "backing-fmt": disk.driver_type or "raw"}})  # fmt: skip
        monitor.execute("blockdev-add", {"node-name": fmt, "read-only": False, "driver": "qcow2", "file": storage,
                                         "backing": None})  # fmt: skip
        monitor.execute("blockdev-snapshot", {"node": f"libvirt-{below}-format", "overlay": fmt})
    disk.backing = BackingStore(type="file", index=below, format=disk.driver_type or "raw",
                                source_file=disk.source_file, backing=disk.backing)  # fmt: skip
    disk.source_file, disk.driver_type, disk.source_index = overlay, "qcow2", new


def create_transient_overlays(dom: Domain, monitor: Monitor, device_props: Callable[[Disk], dict[str, Any]],
                              ) -> None:  # fmt: skip
    """The overlays of every transient disk of ``dom`` (live), QEMU paused before the guest's first instruction:
    over the image on the command line, or over a shared image added read-only and then plugged in as the device
    ``device_props`` describes (a reset follows, as libvirt's does, so the firmware sees the disk)."""
    plugged = False
    for disk in _transient(dom):
        if disk.source_index is None:
            continue
        if not disk.transient_share_backing:
            _overlay(dom, disk, monitor)
            continue
        writable = disk.readonly
        disk.readonly = True  # every guest sharing the image opens it read-only
        try:
            nodes = disk_blockdevs(disk)
        finally:
            disk.readonly = writable
        for node in nodes:
            monitor.execute("blockdev-add", node)
        _overlay(dom, disk, monitor, attached=False)
        monitor.execute("device_add", device_props(disk))
        plugged = True
    if plugged:
        monitor.execute("system_reset")


def remove_transient_overlays(live: Domain) -> None:
    """Delete the overlays of a guest that stopped (only files named as this driver names them)."""
    name = live.name or ""
    for disk in _transient(live):
        path = disk.source_file or ""
        if path.endswith(f".TRANSIENT-{name}"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
