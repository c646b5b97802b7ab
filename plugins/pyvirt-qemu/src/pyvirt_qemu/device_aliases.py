"""QEMU ids for a guest's devices, named as libvirt names them.

The ids reach QEMU as ``-device id=...`` and come back in QMP events
(DEVICE_DELETED, BLOCK_IO_ERROR, query-block). Using libvirt's names keeps
``<alias>`` in the live XML the same as libvirt shows and lets a guest started
by libvirt be understood by the same rules. A user alias (``ua-...``) is kept.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.disk_names import disk_index
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Alias, Controller, Disk

__all__ = ["NARROW_SCSI", "assign_aliases", "controller_alias", "disk_alias"]

NARROW_SCSI = frozenset({"lsilogic", "ncr53c90", "dc390", "am53c974"})


def _drive(disk: Disk) -> tuple[int, int, int, int]:
    a = disk.address.attrs if disk.address is not None else {}
    return (int(a.get("controller", "0"), 0), int(a.get("bus", "0"), 0), int(a.get("target", "0"), 0),
            int(a.get("unit", "0"), 0))  # fmt: skip


def disk_alias(disk: Disk, scsi_model: str | None = None) -> str:
    """``scsi_model`` is the model of the disk's SCSI controller: narrow buses have no target in the name."""
    controller, bus, target, unit = _drive(disk)
    match disk.target_bus:
        case "ide" | "sata" | "fdc":
            return f"{disk.target_bus}{controller}-{bus}-{unit}"
        case "scsi" if scsi_model in NARROW_SCSI:
            return f"scsi{controller}-{bus}-{unit}"
        case "scsi":
            return f"scsi{controller}-{bus}-{target}-{unit}"
        case "usb":
            return f"usb-disk{disk_index(disk.target_dev or '')}"
    return f"virtio-disk{disk_index(disk.target_dev or '')}"


def controller_alias(c: Controller, q35: bool) -> str:
    index = c.index or 0
    match c.type:
        case "pci":
            return "pcie.0" if c.model == "pcie-root" else f"pci.{index}"
        case "ide" if index == 0:
            return "ide"
        case "sata" if index == 0 and q35:
            return "ide"
        case "usb" if index == 0:
            return "usb"
    return f"{c.type}{index}"


def _name(dev: Any, name: str) -> None:
    if dev.alias is None or not dev.alias.name or not dev.alias.name.startswith("ua-"):
        dev.alias = Alias(name=name)


def assign_aliases(dom: Domain, q35: bool) -> None:
    """Set ``<alias>`` on every device the command line names."""
    d = dom.devices
    if d is None:
        return
    scsi = {c.index or 0: c.model for c in d.controllers if c.type == "scsi"}
    for disk in d.disks:
        _name(disk, disk_alias(disk, scsi.get(_drive(disk)[0]) if disk.target_bus == "scsi" else None))
    for c in d.controllers:
        _name(c, controller_alias(c, q35))
    for i, nic in enumerate(d.interfaces):
        _name(nic, f"net{i}")
    for kind, prefix in (("serials", "serial"), ("parallels", "parallel"), ("channels", "channel"),
                         ("inputs", "input"), ("videos", "video"), ("sounds", "sound"),
                         ("rngs", "rng"), ("tpms", "tpm"), ("smartcards", "smartcard"), ("redirdevs", "redir"),
                         ("filesystems", "fs"), ("watchdogs", "watchdog")):  # fmt: skip
        for i, dev in enumerate(getattr(d, kind)):
            _name(dev, f"{prefix}{i}")
    # qemuAssignDeviceHostdevAlias: one above the highest hostdevN so far, so a user's alias takes no number
    numbered = 0
    for hostdev in d.hostdevs:
        if hostdev.alias is None or not (hostdev.alias.name or "").startswith("ua-"):
            _name(hostdev, f"hostdev{numbered}")
            numbered += 1
    for i, console in enumerate(d.consoles):
        if i == 0 and console.target_type in (None, "serial") and d.serials:
            first = d.serials[0].alias
            _name(console, first.name if first is not None and first.name else "serial0")
        else:
            _name(console, f"console{i}")
    if d.memballoon is not None and d.memballoon.model not in (None, "none"):
        _name(d.memballoon, "balloon0")
    if d.vsock is not None:  # qemuAssignDeviceVsockAlias: there is only one
        _name(d.vsock, "vsock0")
