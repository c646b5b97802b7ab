"""Checks libvirt's QEMU driver makes when a domain is defined, with its messages.

A definition that QEMU could not run, or would run differently from what it
says, is refused at define time rather than at the first start: a disk
address of the wrong kind for its bus, two disks on one drive address,
formats QEMU cannot open, settings a bus does not have.
"""

from __future__ import annotations

import os
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError
from pyvirt_qemu.disk_iotune import check_iotune
from pyvirt_qemu.firmware import requested_features
from pyvirt_qemu.pci_addresses import is_q35

__all__ = ["validate_domain"]

_DRIVE_BUSES = frozenset({"ide", "fdc", "scsi", "sata"})
_ARCH_EMULATORS = {"x86_64": ("qemu-system-x86_64",), "i686": ("qemu-system-i386", "qemu-system-x86_64")}


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def _check_disk(disk: Disk) -> None:
    dst = disk.target_dev or ""
    kind = disk.address.attrs.get("type") if disk.address is not None else None
    if disk.device == "lun" and disk.type not in ("block", "network", "volume"):
        raise _refuse("disk device='lun' is only valid for block type disk source")
    if disk.target_bus == "usb" and kind not in (None, "usb"):
        raise NotSupportedError(ErrorCode.INTERNAL_ERROR, "unexpected address type for usb disk")
    if dst[-1:].isdigit():
        raise _refuse(f"invalid disk target '{dst}', partitions can't appear in disk targets")
    if disk.target_bus in _DRIVE_BUSES and kind not in (None, "drive"):
        raise _refuse(f"Invalid address type '{kind}' for the disk '{dst}' with the bus type '{disk.target_bus}'")
    fmt = disk.driver_type
    if fmt == "cow":
        raise _refuse("'cow' storage format is not supported")
    if fmt == "dir":
        raise _refuse("'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead")
    if fmt == "iso":
        raise _refuse("storage format 'iso' is not directly supported by QEMU, use 'raw' instead")
    if (disk.vendor or disk.product) and disk.target_bus != "scsi":
        raise _refuse("Only scsi disk supports vendor and product")
    check_iotune(disk)
    if disk.shareable and not disk.readonly and fmt not in (None, "raw"):
        raise _refuse(f"shared access for disk '{dst}' requires use of supported storage format")


def validate_domain(dom: Domain) -> None:
    """Raise CONFIG_UNSUPPORTED with libvirt's words for a definition its QEMU driver refuses."""
    assert dom.os is not None and dom.os.type is not None
    if dom.os.bootmenu_timeout is not None and not 0 <= dom.os.bootmenu_timeout <= 65535:
        raise _refuse("invalid value for boot menu timeout, must be in range [0,65535]")
    arch = dom.os.type.arch or "x86_64"
    emulator = dom.devices.emulator if dom.devices is not None else None
    name = os.path.basename(emulator or "")
    if name.startswith("qemu-system-") and name not in _ARCH_EMULATORS.get(arch, ()):
        # the driver knows the machines of x86 emulators only
        raise _refuse(f"Emulator '{emulator}' does not support arch '{arch}'")
    features = requested_features(dom)
    if features and dom.os.firmware is None:
        raise XMLError(ErrorCode.XML_DETAIL,
                       "cannot use feature-based firmware autoselection when firmware autoselection is disabled")  # fmt: skip
    if features.get("enrolled-keys") and features.get("secure-boot") is False:
        raise XMLError(ErrorCode.XML_DETAIL, "firmware feature 'enrolled-keys' cannot be enabled when firmware "
                       "feature 'secure-boot' is disabled")  # fmt: skip
    if dom.os.nvram is not None and dom.os.firmware not in (None, "efi"):
        raise XMLError(ErrorCode.XML_DETAIL, f"firmware type '{dom.os.firmware}' does not support nvram")
    if dom.devices is None:
        return
    d = dom.devices
    bootable: list[Any] = [*d.disks, *d.interfaces, *d.hostdevs, *d.redirdevs]
    if dom.os.boots and any(x.boot is not None for x in bootable):
        raise _refuse("per-device boot elements cannot be used together with os/boot elements")
    if dom.features is not None and dom.features.smm_tseg is not None and not is_q35(dom):
        raise _refuse("SMM TSEG is only supported with q35 machine type")
    if d.iommu is not None and d.iommu.model == "intel" and not is_q35(dom):
        raise _refuse("IOMMU device: 'intel' is only supported with Q35 machines")
    if d.iommu is not None and d.iommu.model == "virtio" and not is_q35(dom):
        raise _refuse("IOMMU device: 'virtio' is only supported with Q35 and ARM Virt machines")
    for inp in d.inputs:
        if inp.model in ("virtio-transitional", "virtio-non-transitional") and inp.type != "passthrough":
            raise _refuse(f"virtio (non-)transitional models are not supported for input type={inp.type}")
    for nic in d.interfaces:
        if nic.script_path and nic.type != "ethernet":
            raise _refuse(f"scripts are not supported on interfaces of type {nic.type}")
    for video in d.videos:
        if video.model_type == "ramfb" and video.address is not None:
            raise _refuse("address not supported for video type ramfb")
    targets: dict[str, Disk] = {}
    for disk in d.disks:
        other = targets.setdefault(disk.target_dev or "", disk)
        if other is not disk:
            raise XMLError(ErrorCode.XML_ERROR, f"target '{disk.target_dev}' duplicated for disk sources "
                           f"'{other.source_path or ''}' and '{disk.source_path or ''}'")  # fmt: skip
    seen: dict[tuple[str, ...], str] = {}
    for disk in dom.devices.disks:
        _check_disk(disk)
        a = disk.address.attrs if disk.address is not None else {}
        if a.get("type") == "drive" and disk.target_bus in _DRIVE_BUSES:
            key = (
                disk.target_bus or "",
                *(str(int(a.get(k, "0"), 0)) for k in ("controller", "bus", "target", "unit")),
            )
            if key in seen:
                c, b, t, u = key[1:]
                raise _refuse(f"Found duplicate drive address for disk with target name '{seen[key]}' "
                              f"controller='{c}' bus='{b}' target='{t}' unit='{u}'")  # fmt: skip
            seen[key] = disk.target_dev or ""
