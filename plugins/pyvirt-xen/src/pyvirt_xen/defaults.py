"""The libxl driver's post-parse defaults, applied to a domain element tree.

What libvirt 9.0's Xen driver adds to every definition (libxlDomainDefPostParse,
libxlDomainDeviceDefPostParse, the generic implicit devices): the x86_64 arch
and the machine of the OS type, a ROM loader type, the xenbus controller, an
IDE controller and drive addresses for IDE disks, the PV console (or the
serial console of an HVM guest), the implicit mouse and keyboard (PS/2 for
HVM, Xen's for PV), a default video card where there is a display, and the
Xen balloon. Used by the converters and by define, so a definition and a
converted file look alike.
"""

from __future__ import annotations

import copy
import os

from lxml import etree

from pyvirt_xen.names import MACHINES

__all__ = ["XEN_MAC_PREFIX", "apply_xen_defaults", "generate_macs"]

# Xen's OUI (libvirt's libxl driver gives it as the xmlopt MAC prefix): the first half of a generated MAC
XEN_MAC_PREFIX = "00:16:3e"


def _insert_before_kinds(devices: etree._Element, elem: etree._Element, later: tuple[str, ...]) -> None:
    for child in devices:
        if child.tag in later:
            child.addprevious(elem)
            return
    devices.append(elem)


_AFTER_CONTROLLERS = ("filesystem", "interface", "smartcard", "serial", "parallel", "console", "channel", "input",
                      "tpm", "graphics", "sound", "audio", "video", "hostdev", "redirdev", "watchdog", "memballoon",
                      "rng", "panic", "shmem", "memory", "iommu", "vsock")  # fmt: skip


def _ide_address(dev: str) -> dict[str, str]:
    index = ord(dev[2]) - ord("a") if len(dev) > 2 and dev[2].isalpha() else 0
    return {"type": "drive", "controller": str(index // 4), "bus": str(index % 4 // 2), "target": "0",
            "unit": str(index % 2)}  # fmt: skip


def _disk_defaults(disk: etree._Element) -> None:
    """The bus a target name implies, and xl's default format (raw) for anything but a network disk."""
    target = disk.find("target")
    if target is not None and not target.get("bus"):
        dev = target.get("dev") or ""
        target.set("bus", "ide" if dev.startswith("hd") else "scsi" if dev.startswith("sd") else "xen")
    if disk.get("type") == "network":
        return
    driver = disk.find("driver")
    if driver is None:
        driver = etree.Element("driver")
        disk.insert(0, driver)
    if not driver.get("type"):
        driver.set("type", "raw")


def apply_xen_defaults(root: etree._Element) -> None:
    """Fill in what the libxl driver fills in; idempotent, keeps everything already given."""
    os_type_elem = root.find("os/type")
    os_type = (os_type_elem.text or "").strip() if os_type_elem is not None else ""
    hvm = os_type == "hvm"
    if os_type_elem is not None:
        if not os_type_elem.get("arch"):
            os_type_elem.set("arch", "x86_64")
        if not os_type_elem.get("machine") and os_type in MACHINES:
            os_type_elem.set("machine", MACHINES[os_type])
    loader = root.find("os/loader")
    if loader is not None and not loader.get("type") and hvm:
        loader.set("type", "rom")
    devices = root.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    controllers = devices.findall("controller")
    if not any(c.get("type") == "xenbus" for c in controllers):
        xenbus = etree.Element("controller", type="xenbus", index="0")
        if controllers:
            controllers[0].addprevious(xenbus)
        else:
            _insert_before_kinds(devices, xenbus, _AFTER_CONTROLLERS)
    for disk in devices.findall("disk"):
        _disk_defaults(disk)
    ide_disks = [d for d in devices.findall("disk") if d.find("target") is not None and
                 d.find("target").get("bus") == "ide"]  # type: ignore[union-attr]  # fmt: skip
    for disk in ide_disks:
        if disk.find("address") is None:
            etree.SubElement(disk, "address", _ide_address(disk.find("target").get("dev") or ""))  # type: ignore[union-attr]
    if ide_disks and not any(c.get("type") == "ide" for c in devices.findall("controller")):
        devices.findall("controller")[-1].addnext(etree.Element("controller", type="ide", index="0"))
    if devices.find("console") is None:
        serial = devices.find("serial")
        if not hvm and os_type:
            console = etree.Element("console", type="pty")
            etree.SubElement(console, "target", type="xen", port="0")
            _insert_before_kinds(devices, console, _AFTER_CONTROLLERS[6:])
        elif serial is not None:
            console = copy.deepcopy(serial)
            console.tag = "console"
            for child in console.findall("target"):
                console.remove(child)
            etree.SubElement(console, "target", type="serial", port="0")
            serial.addnext(console)
    elif hvm and devices.find("serial") is None:
        # virDomainDefAddConsoleCompat: an HVM guest's first console is its first serial port
        first = devices.find("console")
        assert first is not None
        target = first.find("target")
        if target is None or target.get("type") in (None, "serial"):
            serial = copy.deepcopy(first)
            serial.tag = "serial"
            for child in serial.findall("target"):
                serial.remove(child)
            etree.SubElement(serial, "target", port="0")
            first.addprevious(serial)
            if target is None:
                target = etree.SubElement(first, "target", port="0")
            target.set("type", "serial")
    bus = "ps2" if hvm else "xen"
    inputs = devices.findall("input")
    for kind in ("mouse", "keyboard"):
        if not any(i.get("type") == kind and i.get("bus") == bus for i in inputs):
            elem = etree.Element("input", type=kind, bus=bus)
            last = devices.findall("input")
            if last:
                last[-1].addnext(elem)
            else:
                _insert_before_kinds(devices, elem, _AFTER_CONTROLLERS[8:])
    if devices.find("graphics") is not None and devices.find("video") is None:
        video = etree.Element("video")
        model, vram = ("cirrus", "8192") if hvm else ("xen", "4096")
        etree.SubElement(video, "model", type=model, vram=vram, heads="1", primary="yes")
        _insert_before_kinds(devices, video, _AFTER_CONTROLLERS[13:])
    if devices.find("memballoon") is None:
        _insert_before_kinds(devices, etree.Element("memballoon", model="xen"), _AFTER_CONTROLLERS[17:])


def generate_macs(root: etree._Element) -> None:
    """A MAC for each NIC given without one, as libvirt's parser makes it (virDomainNetGenerateMAC, Xen's OUI).

    Done when a definition is read, not left to xl: libxl would pick a new
    random MAC at every start, and the guest's NIC would change address
    from boot to boot; a hot-unplug also names the NIC by this address.
    """
    for nic in root.iterfind("devices/interface"):
        if nic.find("mac") is None:
            mac = etree.Element("mac", address=XEN_MAC_PREFIX + "".join(f":{b:02x}" for b in os.urandom(3)))
            nic.insert(0, mac)
