"""Disk hotplug (attach-device/detach-device) as libvirt's libxl driver does it, through ``xl block-attach``.

A live attach hands xl the disk in xl.cfg's own syntax (the same
:func:`~pyvirt_xen.disks.format_xl_disk` the configuration conversion
writes), so libxl picks the backend and runs its hotplug script as for a
disk the guest was started with; a detach names the disk by its virtual
device (``xl block-detach DOMID xvdb``). The persistent half edits the
saved definition. The checks and their wording are libvirt's
(libxlDomainAttachDeviceDiskLive, libxlDomainAttachDeviceConfig and their
detach twins).

The live half is tested only up to xl: in the nested dom0 of the tests,
libxl's ``block`` hotplug script (a shell script running dozens of
xenstore clients) does not finish within libxl's 40 s under TCG, so
``xl block-attach`` fails there with "libxl_device_disk_add failed".

Not done: NICs (``xl network-attach``), host devices, controllers and a
CD-ROM's medium change, which libvirt's driver also hotplugs; they are
refused with NO_SUPPORT, naming the device, rather than half applied.
"""

from __future__ import annotations

import re

from lxml import etree

from pyvirt.conf.domain import Domain, format_domain
from pyvirt.conf.domain_devices import Devices, Disk
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import (
    Error,
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
)
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.plugin.flags import check_flags
from pyvirt_xen.disks import format_xl_disk
from pyvirt_xen.lifecycle import refresh, write_status_file
from pyvirt_xen.state import XenState, audit_guest, parse_xen_domain
from pyvirt_xen.tuning import CONFIG, LIVE, impact
from pyvirt_xen.xl import run_xl

__all__ = ["attach_device", "detach_device"]

# devices libvirt's libxl driver hotplugs and this one does not yet
_NOT_YET = {"interface": "network interface", "hostdev": "host device", "controller": "controller"}


def _root_tag(xml: str) -> str:
    m = re.search(r"<\s*([A-Za-z_][\w.-]*)", re.sub(r"<\?.*?\?>|<!--.*?-->", "", xml, flags=re.S))
    return m.group(1) if m else "disk"


def _parse_disk(obj: DomainObj, xml: str) -> tuple[Disk, etree._Element]:
    """The device as the driver would have read it inside the domain: Xen's defaults applied (bus, driver)."""
    tag = _root_tag(xml)
    elem = parse_xml(xml, tag, "device")
    if tag != "disk":
        if tag in _NOT_YET:
            raise NotSupportedError(
                ErrorCode.NO_SUPPORT,
                f"this function is not supported by the connection driver: {_NOT_YET[tag]} hotplug",
            )
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"device type '{tag}' cannot be attached")
    root = etree.fromstring(format_domain(obj.persistent_def(), 2).encode())
    devices = root.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    for other in devices.findall("disk"):
        devices.remove(other)
    devices.insert(0, elem)
    dom = parse_xen_domain(etree.tostring(root, encoding="unicode"))
    formatted = etree.fromstring(format_domain(dom, 2).encode()).find("devices/disk")
    assert dom.devices is not None and formatted is not None  # the one disk put in
    return dom.devices.disks[0], formatted


def _index(disks: list[Disk], target: str | None) -> int:
    return next((i for i, d in enumerate(disks) if d.target_dev == target), -1)


def _disks(dom: Domain) -> list[Disk]:
    """The domain's disks as a list it owns (a model without any holds an empty tuple)."""
    if dom.devices is None:
        dom.devices = Devices()
    dom.devices.disks = list(dom.devices.disks)  # a fresh list the model keeps (its default is a shared tuple)
    return dom.devices.disks


def attach_device(state: XenState, obj: DomainObj, xml: str, flags: int) -> None:
    """libxlDomainAttachDeviceFlags for a disk: the definition first, then the running guest, then the file."""
    check_flags(flags, LIVE | CONFIG, "libxlDomainAttachDeviceFlags")
    refresh(state, [obj])
    with obj.lock:
        flags = impact(obj, flags)
        disk, elem = _parse_disk(obj, xml)
        persistent = obj.persistent_def()
        if flags & CONFIG and _index(_disks(persistent), disk.target_dev) >= 0:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"target {disk.target_dev} already exists.")
        if flags & LIVE:
            _attach_live(state, obj, disk, elem)
        if flags & CONFIG:
            _disks(persistent).append(disk.model_copy(deep=True))
            state.save_config(persistent)


def _attach_live(state: XenState, obj: DomainObj, disk: Disk, elem: etree._Element) -> None:
    if disk.device not in (None, "disk"):
        what = "a CD-ROM's medium change" if disk.device == "cdrom" else f"disk device type '{disk.device}'"
        if disk.device == "cdrom":
            raise NotSupportedError(
                ErrorCode.NO_SUPPORT, f"this function is not supported by the connection driver: {what}"
            )
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk device type '{disk.device}' cannot be hotplugged")
    if disk.target_bus != "xen":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk bus '{disk.target_bus}' cannot be hotplugged.")
    if _index(_disks(obj.live), disk.target_dev) >= 0:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"target {disk.target_dev} already exists")
    source = elem.find("source")
    if source is None or not (source.get("file") or source.get("dev") or source.get("protocol")):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "disk source path is missing")
    try:
        run_xl(
            "block-attach", str(obj.id), format_xl_disk(elem),
            failure=f"libxenlight failed to attach disk '{disk.target_dev}'",
        )  # fmt: skip
    except Error:
        state.auditor.disk(audit_guest(obj), None, disk.source_path, "attach", False)
        raise
    state.auditor.disk(audit_guest(obj), None, disk.source_path, "attach", True)
    _disks(obj.live).append(disk)
    write_status_file(state, obj)


def detach_device(state: XenState, obj: DomainObj, xml: str, flags: int) -> None:
    """libxlDomainDetachDeviceFlags for a disk, found by its target."""
    check_flags(flags, LIVE | CONFIG, "libxlDomainDetachDeviceFlags")
    refresh(state, [obj])
    with obj.lock:
        flags = impact(obj, flags)
        disk, _elem = _parse_disk(obj, xml)
        persistent = obj.persistent_def()
        config_at = _index(_disks(persistent), disk.target_dev)
        if flags & CONFIG and config_at < 0:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"no target device {disk.target_dev}")
        if flags & LIVE:
            at = _index(_disks(obj.live), disk.target_dev)
            if disk.device not in (None, "disk"):
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, f"device type '{disk.device}' cannot hot unplugged"
                )
            if disk.target_bus != "xen":
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, f"disk bus '{disk.target_bus}' cannot be hot unplugged."
                )
            if at < 0:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"disk {disk.target_dev} not found")
            gone = _disks(obj.live)[at]
            try:
                run_xl(
                    "block-detach", str(obj.id), disk.target_dev or "",
                    failure=f"libxenlight failed to detach disk '{disk.target_dev}'",
                )  # fmt: skip
            except Error:
                state.auditor.disk(audit_guest(obj), gone.source_path, None, "detach", False)
                raise
            state.auditor.disk(audit_guest(obj), gone.source_path, None, "detach", True)
            del _disks(obj.live)[at]
            write_status_file(state, obj)
        if flags & CONFIG:
            del _disks(persistent)[config_at]
            state.save_config(persistent)
