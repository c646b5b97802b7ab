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
from pyvirt.conf.domain_devices import BackingStore, Chardev, DeviceSeclabel, Disk

__all__ = ["FileResource", "ImageLayer", "chardev_paths", "disk_layers", "domain_files"]


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
    return (disk.type in (None, "file", "block", "dir")) and bool(disk.source_path)


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
            if hostdev.mode == "capabilities" and hostdev.source is not None:
                node = hostdev.source.block or hostdev.source.char
                if node:
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
