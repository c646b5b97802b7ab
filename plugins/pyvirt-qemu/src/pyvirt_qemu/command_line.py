"""Domain XML -> QEMU command line, for the devices this driver supports so far.

Modern QEMU syntax, as libvirt generates it for QEMU 7.x: ``-blockdev`` and
``-device`` with JSON, ``-netdev``, ``-chardev``, ``-machine`` + ``-accel``.
Anything the domain asks for that is not translated yet is refused with
CONFIG_UNSUPPORTED naming it, never silently left out of the guest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Alias, Disk, Interface
from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["DISK_BUS_DEVICE", "NIC_MODELS", "VIDEO_MODELS", "QemuCommand", "build_command_line", "emulator_for"]

DISK_BUS_DEVICE = {"virtio": "virtio-blk-pci", "sata": "ide-hd", "ide": "ide-hd"}
NIC_MODELS = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139", None: "e1000"}
VIDEO_MODELS = {
    "vga": "VGA",
    "cirrus": "cirrus-vga",
    "virtio": "virtio-vga",
    "bochs": "bochs-display",
    "qxl": "qxl-vga",
}


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def emulator_for(dom: Domain) -> str:
    if dom.devices is not None and dom.devices.emulator:
        return dom.devices.emulator
    arch = dom.os.type.arch if dom.os and dom.os.type and dom.os.type.arch else "x86_64"
    name = {"i686": "qemu-system-i386"}.get(arch, f"qemu-system-{arch}")
    found = shutil.which(name) or f"/usr/bin/{name}"
    return found


def _j(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


@dataclass
class QemuCommand:
    emulator: str
    args: list[str] = field(default_factory=list)

    @property
    def argv(self) -> list[str]:
        return [self.emulator, *self.args]


def device_index(position: int, alias: Alias | None) -> int:
    """The number in a device's QEMU ids: from its live alias (virtio-disk3, net1), else its position."""
    if alias is not None and alias.name:
        digits = re.search(r"(\d+)$", alias.name)
        if digits:
            return int(digits.group(1))
    return position


def disk_device_id(index: int, disk: Disk) -> str:
    bus = disk.target_bus or ("virtio" if (disk.target_dev or "").startswith("vd") else "sata")
    return f"virtio-disk{index}" if bus == "virtio" else f"sata0-0-{index}"


def disk_blockdevs(index: int, disk: Disk) -> list[dict[str, Any]]:
    """The storage and format nodes of a disk (``libvirt-N-storage``/``-format``), as -blockdev or blockdev-add."""
    path = disk.source_file or disk.source_dev
    if not path:
        return []
    readonly = bool(disk.readonly or disk.device == "cdrom")
    proto = "host_device" if disk.type == "block" else "file"
    node = f"libvirt-{index}"
    return [{"driver": proto, "filename": path, "node-name": f"{node}-storage", "auto-read-only": True,
             "discard": "unmap"},
            {"node-name": f"{node}-format", "read-only": readonly, "driver": disk.driver_type or "raw",
             "file": f"{node}-storage"}]  # fmt: skip


def _disk_args(index: int, disk: Disk) -> list[str]:
    if disk.type not in (None, "file", "block"):
        raise _unsupported(f"disk type '{disk.type}'")
    if disk.device not in (None, "disk", "cdrom"):
        raise _unsupported(f"disk device '{disk.device}'")
    path = disk.source_file or disk.source_dev
    bus = disk.target_bus or ("virtio" if (disk.target_dev or "").startswith("vd") else "sata")
    if bus not in DISK_BUS_DEVICE:
        raise _unsupported(f"disk bus '{bus}'")
    node = f"libvirt-{index}"
    out: list[str] = []
    for blockdev in disk_blockdevs(index, disk):
        out += ["-blockdev", _j(blockdev)]
    device: dict[str, Any] = {"driver": DISK_BUS_DEVICE[bus] if disk.device != "cdrom" else "ide-cd"}
    if bus == "virtio" and disk.device == "cdrom":
        raise _unsupported("a virtio cdrom")
    if path:
        device["drive"] = f"{node}-format"
    if bus != "virtio":
        device["bus"] = f"ide.{index}"
    device["id"] = disk_device_id(index, disk)
    if disk.boot is not None and disk.boot.order is not None:
        device["bootindex"] = disk.boot.order
    if disk.serial:
        device["serial"] = disk.serial
    return [*out, "-device", _j(device)]


def _nic_args(index: int, nic: Interface, fds: dict[str, int], standalone: bool) -> list[str]:
    netdev: dict[str, Any]
    if nic.type == "user":
        netdev = {"type": "user", "id": f"hostnet{index}"}
    elif nic.type in ("bridge", "ethernet") and f"tap{index}" in fds:
        netdev = {"type": "tap", "fd": str(fds[f"tap{index}"]), "id": f"hostnet{index}"}
        if f"vhost{index}" in fds:
            netdev.update(vhost=True, vhostfd=str(fds[f"vhost{index}"]))
    elif nic.type in ("bridge", "ethernet") and standalone:
        # no driver to open the tap: QEMU creates it by name (plugging it into a bridge is then the user's job)
        netdev = {"type": "tap", "ifname": nic.target_dev or f"vnet{index}", "script": "no", "downscript": "no",
                  "id": f"hostnet{index}"}  # fmt: skip
    else:
        raise _unsupported(f"interface type '{nic.type}'")
    model = NIC_MODELS.get(nic.model_type)
    if model is None:
        raise _unsupported(f"NIC model '{nic.model_type}'")
    device = {"driver": model, "netdev": f"hostnet{index}", "id": f"net{index}", "mac": nic.mac}
    return ["-netdev", _j(netdev), "-device", _j(device)]


def _pflash_args(dom: Domain) -> list[str]:
    """Flash firmware as blockdevs: the code (pflash0) and, when present, the per-domain varstore (pflash1)."""
    assert dom.os is not None
    loader = dom.os.loader
    if loader is None or loader.type != "pflash" or not loader.path:
        if dom.os.firmware == "efi":
            raise _unsupported("firmware='efi' without a resolved loader")
        return []
    images = [(loader.path, bool(loader.readonly))]
    if dom.os.nvram is not None and dom.os.nvram.path:
        images.append((dom.os.nvram.path, False))
    elif loader.readonly:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a read-only pflash loader needs an <nvram> store")
    out: list[str] = []
    for i, (path, readonly) in enumerate(images):
        node = f"libvirt-pflash{i}"
        out += ["-blockdev", _j({"driver": "file", "filename": path, "node-name": f"{node}-storage",
                                 "auto-read-only": True, "discard": "unmap"})]  # fmt: skip
        out += ["-blockdev", _j({"node-name": f"{node}-format", "read-only": readonly, "driver": "raw",
                                 "file": f"{node}-storage"})]  # fmt: skip
    return out


USB_CONTROLLERS = {"qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci", "piix3-uhci": "piix3-usb-uhci",
                   "ich9-ehci1": "ich9-usb-ehci1"}  # fmt: skip
USB_INPUTS = {"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}
WATCHDOG_MODELS = {"i6300esb": "i6300esb", "ib700": "ib700"}
WATCHDOG_ACTIONS = {"reset": "reset", "shutdown": "shutdown", "poweroff": "poweroff", "pause": "pause",
                    "none": "none", "inject-nmi": "inject-nmi"}  # fmt: skip


def _usb_args(devices: Any) -> list[str]:
    """USB controllers (libvirt's ``usb`` id for index 0) and USB input devices; PS/2 input is the machine's own."""
    out: list[str] = []
    usb = [c for c in devices.controllers if c.type == "usb" and c.model != "none"]
    for c in usb:
        driver = USB_CONTROLLERS.get(c.model or "piix3-uhci")
        if driver is None:
            raise _unsupported(f"USB controller model '{c.model}'")
        out += ["-device", _j({"driver": driver, "id": "usb" if not c.index else f"usb{c.index}"})]
    for i, inp in enumerate(devices.inputs):
        if inp.bus in ("ps2", None) and inp.type in ("mouse", "keyboard"):
            continue
        if inp.bus != "usb" or inp.type not in USB_INPUTS:
            raise _unsupported(f"input '{inp.type}' on bus '{inp.bus}'")
        if not usb:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a USB input device needs a USB controller")
        out += ["-device", _j({"driver": USB_INPUTS[inp.type], "id": f"input{i}", "bus": "usb.0"})]
    return out


def _rng_args(devices: Any) -> list[str]:
    out: list[str] = []
    for i, rng in enumerate(devices.rngs):
        backend = rng.backend
        if rng.model != "virtio" or backend is None or backend.model not in ("random", None):
            raise _unsupported("an RNG other than virtio with a random backend")
        source = backend.path or "/dev/urandom"
        out += ["-object", _j({"qom-type": "rng-random", "id": f"objrng{i}", "filename": source})]
        device: dict[str, Any] = {"driver": "virtio-rng-pci", "rng": f"objrng{i}", "id": f"rng{i}"}
        if rng.rate_bytes:
            device["max-bytes"] = rng.rate_bytes
            device["period"] = rng.rate_period or 1000
        out += ["-device", _j(device)]
    return out


def _watchdog_args(devices: Any) -> list[str]:
    if not devices.watchdogs:
        return []
    if len(devices.watchdogs) > 1:
        raise _unsupported("more than one watchdog")
    wd = devices.watchdogs[0]
    driver = WATCHDOG_MODELS.get(wd.model or "")
    action = WATCHDOG_ACTIONS.get(wd.action or "reset")
    if driver is None or action is None:
        raise _unsupported(f"watchdog model '{wd.model}' with action '{wd.action}'")
    return ["-device", _j({"driver": driver, "id": "watchdog0"}), "-action", f"watchdog={action}"]


def build_command_line(dom: Domain, monitor_path: str, fds: dict[str, int] | None = None,
                       vnc_port: int | None = None, standalone: bool = False) -> QemuCommand:  # fmt: skip
    """The full argv; ``fds`` are pre-opened tap and vhost-net fds (``tapN``, ``vhostN``) handed to QEMU.

    ``standalone`` is for domxml-to-native: a command line a user can run without the driver,
    so taps are named for QEMU to create instead of passed as fds.
    """
    fds = fds or {}
    assert dom.os is not None and dom.os.type is not None and dom.memory is not None and dom.vcpu is not None
    devices = dom.devices
    assert devices is not None
    for kind in ("filesystems", "hostdevs", "smartcards", "redirdevs", "tpms", "sounds",
                 "shmems", "memories", "channels", "parallels", "hubs", "panics"):  # fmt: skip
        if getattr(devices, kind):
            raise _unsupported(f"<{kind[:-1]}>")
    if dom.type not in ("kvm", "qemu"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown virtualization type: {dom.type}")
    for tuning in ("memtune", "blkiotune", "numatune"):  # in the model for LXC; this driver does not apply them
        if getattr(dom, tuning) is not None:
            raise _unsupported(f"<{tuning}>")
    cmd = QemuCommand(emulator_for(dom))
    a = cmd.args
    a += ["-name", f"guest={dom.name},debug-threads=on", "-S"]
    machine = dom.os.type.machine or "pc"
    pflash = _pflash_args(dom)
    a += pflash
    flash_nodes = "".join(f",pflash{i}=libvirt-pflash{i}-format" for i in range(len(pflash) // 4))
    a += ["-machine", f"{machine},usb=off,dump-guest-core=off{flash_nodes}"]
    a += ["-accel", "kvm" if dom.type == "kvm" else "tcg"]
    if dom.cpu is not None and dom.cpu.mode == "host-passthrough":
        if dom.type != "kvm":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "host-passthrough CPU needs <domain type='kvm'>")
        a += ["-cpu", "host"]
    elif dom.cpu is not None and dom.cpu.model is not None and dom.cpu.model.name:
        a += ["-cpu", dom.cpu.model.name]
    elif dom.type == "qemu":
        a += ["-cpu", "qemu64"]
    if dom.os.loader is not None and dom.os.loader.path and dom.os.loader.type != "pflash":
        a += ["-bios", dom.os.loader.path]
    for opt, value in (("-kernel", dom.os.kernel), ("-initrd", dom.os.initrd), ("-append", dom.os.cmdline),
                       ("-dtb", dom.os.dtb)):  # fmt: skip
        if value:
            a += [opt, value]
    a += ["-m", f"size={dom.memory.kib}k"]
    a += ["-overcommit", "mem-lock=off"]
    vcpus = dom.vcpu.count or 1
    a += ["-smp", f"{vcpus},sockets={vcpus},cores=1,threads=1"]
    a += ["-uuid", dom.uuid or ""]
    a += ["-no-user-config", "-nodefaults"]
    a += ["-chardev", f"socket,id=charmonitor,path={monitor_path},server=on,wait=off"]
    a += ["-mon", "chardev=charmonitor,id=monitor,mode=control"]
    offset = dom.clock.offset if dom.clock is not None else "utc"
    a += ["-rtc", f"base={'localtime' if offset == 'localtime' else 'utc'}"]
    a += ["-no-shutdown", "-boot", "strict=on"]
    for i, disk in enumerate(devices.disks):
        a += _disk_args(i, disk)
    for i, nic in enumerate(devices.interfaces):
        a += _nic_args(i, nic, fds, standalone)
    for i, serial in enumerate([*devices.serials, *devices.consoles[len(devices.serials) :]]):
        if serial.type not in (None, "pty"):
            raise _unsupported(f"serial type '{serial.type}'")
        a += ["-chardev", f"pty,id=charserial{i}"]
        a += ["-device", _j({"driver": "isa-serial", "chardev": f"charserial{i}", "id": f"serial{i}", "index": i})]
    for g in devices.graphics:
        if g.type != "vnc":
            raise _unsupported(f"graphics type '{g.type}'")
        listen = (g.listens[0].address if g.listens and g.listens[0].address else g.listen) or "127.0.0.1"
        port = vnc_port if g.autoport or g.port in (None, -1) else g.port
        if port is None:
            raise _unsupported("VNC without a port")
        a += ["-vnc", f"{listen}:{port - 5900}"]
    if not devices.graphics:
        a += ["-display", "none"]
    for i, video in enumerate(devices.videos):
        model = VIDEO_MODELS.get(video.model_type or "vga")
        if model is None:
            raise _unsupported(f"video model '{video.model_type}'")
        a += ["-device", _j({"driver": model, "id": f"video{i}"})]
    a += _usb_args(devices)
    a += _rng_args(devices)
    a += _watchdog_args(devices)
    if devices.memballoon is not None and devices.memballoon.model not in (None, "none"):
        if devices.memballoon.model != "virtio":
            raise _unsupported(f"memballoon model '{devices.memballoon.model}'")
        a += ["-device", _j({"driver": "virtio-balloon-pci", "id": "balloon0"})]
    a += ["-msg", "timestamp=on"]
    if not os.path.isabs(cmd.emulator):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"emulator '{cmd.emulator}' is not an absolute path")
    return cmd
