"""Disk and NIC hotplug (attach-device/detach-device) as libvirt's libxl driver does it, through xl.

A live disk attach hands ``xl block-attach`` the disk in xl.cfg's own
syntax (the same :func:`~pyvirt_xen.disks.format_xl_disk` the configuration
conversion writes), so libxl picks the backend and runs its hotplug script
as for a disk the guest was started with; a detach names the disk by its
virtual device (``xl block-detach DOMID xvdb``). A NIC goes to
``xl network-attach`` as the ``vif`` entry the conversion writes (one
``key=value`` argument each) and leaves by its MAC (``xl network-detach``).
The persistent half edits the saved definition. The checks and their
wording are libvirt's (libxlDomainAttachDeviceDiskLive,
libxlDomainAttachNetDevice, libxlDomainAttachDeviceConfig and their detach
twins).

A hotplugged disk's image is labelled through the security stack before xl
sees it and given back after it leaves (or when the attach fails), as the
QEMU driver does (:mod:`pyvirt_xen.labels`).

Not done: host devices, controllers and a CD-ROM's medium change, which
libvirt's driver also hotplugs; they are refused with NO_SUPPORT, naming the
device, rather than half applied.
"""

from __future__ import annotations

import re

from lxml import etree

from pyvirt.conf.domain import Domain, format_domain
from pyvirt.conf.domain_devices import Devices, Disk, Interface
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import (
    Error,
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
)
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.plugin.flags import check_flags
from pyvirt_xen.disks import format_xl_disk
from pyvirt_xen.lifecycle import refresh, write_status_file
from pyvirt_xen.state import XenState, audit_guest, parse_xen_domain
from pyvirt_xen.to_native import format_net
from pyvirt_xen.tuning import CONFIG, LIVE, impact
from pyvirt_xen.xl import run_xl

__all__ = ["attach_device", "detach_device"]

# devices libvirt's libxl driver hotplugs and this one does not yet
_NOT_YET = {"hostdev": "host device", "controller": "controller"}


def _root_tag(xml: str) -> str:
    m = re.search(r"<\s*([A-Za-z_][\w.-]*)", re.sub(r"<\?.*?\?>|<!--.*?-->", "", xml, flags=re.S))
    return m.group(1) if m else "disk"


def _parse_device(obj: DomainObj, xml: str) -> tuple[Disk | Interface, etree._Element]:
    """The device as the driver would have read it inside the domain: Xen's defaults applied (a disk's bus
    and driver, a NIC's MAC), with the element libvirt's converters read."""
    tag = _root_tag(xml)
    elem = parse_xml(xml, tag, "device")
    if tag not in ("disk", "interface"):
        if tag in _NOT_YET:
            raise NotSupportedError(
                ErrorCode.NO_SUPPORT,
                f"{_NOT_YET[tag]} hotplug",
            )
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"device type '{tag}' cannot be attached")
    root = etree.fromstring(format_domain(obj.persistent_def(), 2).encode())
    devices = root.find("devices")
    if devices is None:
        devices = etree.SubElement(root, "devices")
    for other in devices.findall(tag):
        devices.remove(other)
    devices.insert(0, elem)
    dom = parse_xen_domain(etree.tostring(root, encoding="unicode"))
    formatted = etree.fromstring(format_domain(dom, 2).encode()).find(f"devices/{tag}")
    assert dom.devices is not None and formatted is not None  # the one device put in
    return (dom.devices.disks[0] if tag == "disk" else dom.devices.interfaces[0]), formatted


def _index(disks: list[Disk], target: str | None) -> int:
    return next((i for i, d in enumerate(disks) if d.target_dev == target), -1)


def _disks(dom: Domain) -> list[Disk]:
    """The domain's disks as a list it owns (a model without any holds an empty tuple)."""
    if dom.devices is None:
        dom.devices = Devices()
    dom.devices.disks = list(dom.devices.disks)  # a fresh list the model keeps (its default is a shared tuple)
    return dom.devices.disks


def _nics(dom: Domain) -> list[Interface]:
    if dom.devices is None:
        dom.devices = Devices()
    dom.devices.interfaces = list(dom.devices.interfaces)
    return dom.devices.interfaces


def _nic_index(nics: list[Interface], nic: Interface, given_mac: bool) -> int:
    """virDomainNetFindIdx: the one NIC with the given MAC (any NIC when none was given), libvirt's errors."""
    mac = (nic.mac or "").lower() if given_mac else None
    found = [i for i, n in enumerate(nics) if mac is None or (n.mac or "").lower() == mac]
    if len(found) > 1:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED,
            f"multiple devices matching MAC address {mac} found" if mac else "multiple matching devices found",
        )
    if not found:
        raise NotFoundError(
            ErrorCode.DEVICE_MISSING,
            f"no device found at address '(<null>)' matching MAC address '{mac or '(<null>)'}' and alias '(<null>)'",
        )
    return found[0]


def _has_mac(nics: list[Interface], mac: str | None) -> bool:
    return any((n.mac or "").lower() == (mac or "").lower() for n in nics)


def attach_device(state: XenState, obj: DomainObj, xml: str, flags: int) -> None:
    """libxlDomainAttachDeviceFlags: the definition first, then the running guest, then the file."""
    check_flags(flags, LIVE | CONFIG, "libxlDomainAttachDeviceFlags")
    refresh(state, [obj])
    with obj.lock:
        flags = impact(obj, flags)
        dev, elem = _parse_device(obj, xml)
        persistent = obj.persistent_def()
        if isinstance(dev, Interface):
            if flags & CONFIG and _has_mac(_nics(persistent), dev.mac):
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"network device with mac {dev.mac} already exists")
            if flags & LIVE:
                _attach_nic_live(state, obj, dev, elem)
            if flags & CONFIG:
                _nics(persistent).append(dev.model_copy(deep=True))
                state.save_config(persistent)
            return
        if flags & CONFIG and _index(_disks(persistent), dev.target_dev) >= 0:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"target {dev.target_dev} already exists.")
        if flags & LIVE:
            _attach_live(state, obj, dev, elem)
        if flags & CONFIG:
            _disks(persistent).append(dev.model_copy(deep=True))
            state.save_config(persistent)


def _attach_live(state: XenState, obj: DomainObj, disk: Disk, elem: etree._Element) -> None:
    if disk.device not in (None, "disk"):
        what = "a CD-ROM's medium change" if disk.device == "cdrom" else f"disk device type '{disk.device}'"
        if disk.device == "cdrom":
            raise NotSupportedError(ErrorCode.NO_SUPPORT, what)
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk device type '{disk.device}' cannot be hotplugged")
    if disk.target_bus != "xen":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk bus '{disk.target_bus}' cannot be hotplugged.")
    if _index(_disks(obj.live), disk.target_dev) >= 0:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"target {disk.target_dev} already exists")
    source = elem.find("source")
    if source is None or not (source.get("file") or source.get("dev") or source.get("protocol")):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "disk source path is missing")
    path = disk.source_path if disk.type in (None, "file", "block") else None
    if path:
        state.security.set_path_label(obj.live, path, remember=not (disk.readonly or disk.shareable))
    try:
        run_xl(
            "block-attach", str(obj.id), format_xl_disk(elem),
            failure=f"libxenlight failed to attach disk '{disk.target_dev}'",
        )  # fmt: skip
    except Error:
        state.auditor.disk(audit_guest(obj), None, disk.source_path, "attach", False)
        if path:
            state.security.restore_path_label(obj.live, path, recall=not (disk.readonly or disk.shareable))
        raise
    state.auditor.disk(audit_guest(obj), None, disk.source_path, "attach", True)
    _disks(obj.live).append(disk)
    write_status_file(state, obj)


def _attach_nic_live(state: XenState, obj: DomainObj, nic: Interface, elem: etree._Element) -> None:
    if _has_mac(_nics(obj.live), nic.mac):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"network device with mac {nic.mac} already exists")
    hvm = (obj.live.os.type if obj.live.os is not None else None) == "hvm"
    try:
        vif = format_net(elem, hvm, "vif")
        run_xl("network-attach", str(obj.id), *vif.split(","), failure="libxenlight failed to attach network device")
    except Error:
        state.auditor.net(audit_guest(obj), None, nic.mac, "attach", False)
        raise
    state.auditor.net(audit_guest(obj), None, nic.mac, "attach", True)
    _nics(obj.live).append(nic)
    write_status_file(state, obj)


def detach_device(state: XenState, obj: DomainObj, xml: str, flags: int) -> None:
    """libxlDomainDetachDeviceFlags: a disk found by its target, a NIC by its MAC."""
    check_flags(flags, LIVE | CONFIG, "libxlDomainDetachDeviceFlags")
    refresh(state, [obj])
    with obj.lock:
        flags = impact(obj, flags)
        dev, _elem = _parse_device(obj, xml)
        if isinstance(dev, Interface):
            _detach_nic(state, obj, dev, re.search(r"<\s*mac\b", xml) is not None, flags)
        else:
            _detach_disk(state, obj, dev, flags)


def _detach_nic(state: XenState, obj: DomainObj, nic: Interface, given_mac: bool, flags: int) -> None:
    persistent = obj.persistent_def()
    config_at = _nic_index(_nics(persistent), nic, given_mac) if flags & CONFIG else -1
    if flags & LIVE:
        at = _nic_index(_nics(obj.live), nic, given_mac)
        gone = _nics(obj.live)[at]
        try:
            run_xl("network-detach", str(obj.id), gone.mac or "", failure="libxenlight failed to detach network device")
        except Error:
            state.auditor.net(audit_guest(obj), gone.mac, None, "detach", False)
            raise
        state.auditor.net(audit_guest(obj), gone.mac, None, "detach", True)
        del _nics(obj.live)[at]
        write_status_file(state, obj)
    if flags & CONFIG:
        del _nics(persistent)[config_at]
        state.save_config(persistent)


def _detach_disk(state: XenState, obj: DomainObj, disk: Disk, flags: int) -> None:
    persistent = obj.persistent_def()
    config_at = _index(_disks(persistent), disk.target_dev)
    if flags & CONFIG and config_at < 0:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"no target device {disk.target_dev}")
    if flags & LIVE:
        at = _index(_disks(obj.live), disk.target_dev)
        if disk.device not in (None, "disk"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"device type '{disk.device}' cannot hot unplugged")
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
        if gone.source_path and gone.type in (None, "file", "block"):
            state.security.restore_path_label(obj.live, gone.source_path,
                                              recall=not (gone.readonly or gone.shareable))  # fmt: skip
    if flags & CONFIG:
        del _disks(persistent)[config_at]
        state.save_config(persistent)
