"""What a guest's security label applies to, found in its definition.

Every driver labels the same things (DAC chowns them, SELinux sets their
context, AppArmor lists them in the profile), so the walk is written once.
Only local storage is listed: network disks have no host path, and
``type='volume'`` disks are resolved by the hypervisor driver before labelling.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Chardev, DeviceSeclabel, Disk, Hostdev
from pyvirt.errors import ErrorCode, NotFoundError, NotSupportedError

__all__ = ["FileResource", "ImageLayer", "chardev_paths", "disk_layers", "domain_files", "hostdev_paths"]


@dataclass(frozen=True)
class ImageLayer:
    """One file of a disk's chain: the top is ``top`` unless read-only or shared."""

    path: str
    role: str  # "top", "readonly", "shared", "backing"
    seclabels: tuple[DeviceSeclabel, ...]

    @property
    def remember(self) -> bool:
        """libvirt remembers (and later restores) only a writable, unshared chain top."""
        return self.role == "top"


@dataclass(frozen=True)
class FileResource:
    kind: str  # "image", "kernel", "initrd", "dtb", "nvram", "chardev", "hostdev", "input"
    path: str
    remember: bool
    seclabels: tuple[DeviceSeclabel, ...] = ()
    role: str = ""  # images: "top", "readonly", "shared" or "backing"


def _local(disk: Disk) -> bool:
    return (disk.type in (None, "file", "block", "dir", "volume")) and bool(disk.source_path)


def disk_layers(disk: Disk) -> list[ImageLayer]:
    if not _local(disk):
        return []
    labels = tuple(disk.source_seclabels or ())
    top_role = "readonly" if disk.readonly else "shared" if disk.shareable else "top"
    assert disk.source_path is not None
    layers = [ImageLayer(disk.source_path, top_role, labels)]
    store: BackingStore | None = disk.backing
    while store is not None:
        path = store.source_file or store.source_dev
        if path and store.type in (None, "file", "block"):
            layers.append(ImageLayer(path, "backing", ()))
        store = store.backing
    return layers


def chardev_paths(dev: Chardev) -> list[str]:
    """Host files a character device uses, by libvirt's rules.

    file/dev paths; a pipe's ``.in``/``.out`` pair when both exist, else its
    path; a unix socket we connect to, or one we listen on that exists already.
    """
    out: list[str] = []
    for src in dev.sources or ():
        if not src.path:
            continue
        if dev.type in {"file", "dev"}:
            out.append(src.path)
        elif dev.type == "pipe":
            pair = [f"{src.path}.in", f"{src.path}.out"]
            out += pair if all(os.path.exists(p) for p in pair) else [src.path]
        elif dev.type == "unix" and (src.mode != "bind" or os.path.exists(src.path)):
            out.append(src.path)
    if dev.log_file:
        out.append(dev.log_file)
    return out


def _addr(hostdev: Hostdev) -> dict[str, str]:
    src = hostdev.source
    return dict(src.address.attrs) if src is not None and src.address is not None else {}


def hostdev_paths(hostdev: Hostdev, sysfs: str = "/sys") -> list[str]:
    """Device nodes a passed-through device is used by (what libvirt labels for it).

    PCI with VFIO: the IOMMU group's ``/dev/vfio/N``; USB: ``/dev/bus/usb/BBB/DDD``;
    SCSI: the ``/dev/sgN`` of the adapter's host:bus:target:unit; capabilities
    mode: the block or character device named in the XML.
    """
    src = hostdev.source
    if src is None:
        return []
    if hostdev.mode == "capabilities":
        node = src.block or src.char
        return [node] if node else []
    addr = _addr(hostdev)
    if hostdev.type == "pci":
        name = "{:04x}:{:02x}:{:02x}.{:x}".format(
            *(int(addr.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))
        )
        dev = os.path.join(sysfs, "bus/pci/devices", name)
        if not os.path.exists(dev):
            raise NotFoundError(ErrorCode.DEVICE_MISSING, f"PCI device {name} is not present on this host")
        group = os.path.join(dev, "iommu_group")
        if not os.path.exists(group):
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"PCI device {name} has no IOMMU group: VFIO passthrough needs the IOMMU enabled on the host",
            )
        return [f"/dev/vfio/{os.path.basename(os.readlink(group))}"]
    if hostdev.type == "usb":
        if "bus" not in addr or "device" not in addr:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "USB hostdev needs its bus and device address")
        node = f"/dev/bus/usb/{int(addr['bus']):03d}/{int(addr['device']):03d}"
        if not os.path.exists(node):
            raise NotFoundError(ErrorCode.DEVICE_MISSING, f"USB device {node} is not present on this host")
        return [node]
    if hostdev.type == "scsi" and src.adapter_name:
        host = src.adapter_name.removeprefix("scsi_host")
        hbtu = f"{host}:{addr.get('bus', '0')}:{addr.get('target', '0')}:{addr.get('unit', '0')}"
        sg_dir = os.path.join(sysfs, "bus/scsi/devices", hbtu, "scsi_generic")
        try:
            return [f"/dev/{name}" for name in sorted(os.listdir(sg_dir))]
        except OSError:
            raise NotFoundError(ErrorCode.DEVICE_MISSING, f"SCSI device {hbtu} is not present on this host") from None
    return []


def domain_files(dom: Domain) -> Iterator[FileResource]:
    """Everything a guest uses from the host's filesystem, in libvirt's labelling order."""
    devices = dom.devices
    if devices is not None:
        for disk in devices.disks:
            for layer in disk_layers(disk):
                yield FileResource("image", layer.path, layer.remember, layer.seclabels, layer.role)
        for group in (devices.serials, devices.parallels, devices.consoles, devices.channels):
            for dev in group:
                seclabels = tuple(s for src in dev.sources or () for s in src.seclabels or ())
                for path in chardev_paths(dev):
                    yield FileResource("chardev", path, True, seclabels)
        for hostdev in devices.hostdevs:
            for node in hostdev_paths(hostdev):
                yield FileResource("hostdev", node, True)
        for inp in devices.inputs:
            if inp.source_evdev:
                yield FileResource("input", inp.source_evdev, True)
    os_ = dom.os
    if os_ is not None:
        if os_.nvram is not None and os_.nvram.path:
            yield FileResource("nvram", os_.nvram.path, True)
        for kind in ("kernel", "initrd", "dtb"):
            path = getattr(os_, kind)
            if path:
                yield FileResource(kind, path, True)
