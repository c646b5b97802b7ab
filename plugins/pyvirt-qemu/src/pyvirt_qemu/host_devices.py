"""Host devices given to the guest (``<hostdev mode='subsystem'>``): PCI functions through VFIO, USB devices.

A PCI function reaches the guest as ``vfio-pci`` on the guest PCI address ``pci_addresses`` gave it; a USB
device as ``usb-host`` opening ``/dev/bus/usb/BUS/DEV`` on the port ``usb_addresses`` gave it. libvirt's
``managed='yes'`` also unbinds a PCI function from its host driver and binds it to vfio-pci before the start;
this driver does not rebind host devices, so such a function must already be on vfio-pci (then libvirt's
detach has nothing to do either), and one still bound to its host driver is refused before anything starts
instead of QEMU failing on it half-way. USB devices named by vendor and product, SCSI, mediated and
vhost-scsi host devices are refused by name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, Hostdev
from pyvirt.conf.units import strtoul
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, OperationFailedError, XMLError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["check_host_devices", "host_pci_driver", "hostdev_args", "pci_host_address"]

_SYSFS_PCI = "/sys/bus/pci/devices"
_SYSFS_MDEV = "/sys/bus/mdev/devices"


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def _number(text: str | None, base: int = 0) -> int:
    parsed = strtoul(text or "0", base)
    if parsed is None or parsed[0] == "-":
        raise XMLError(ErrorCode.XML_ERROR, f"Cannot parse <address> number '{text}'")
    return parsed[1]


def pci_host_address(address: Address) -> str:
    """``DDDD:BB:SS.F``, as sysfs and QEMU's ``host=`` name a PCI function (virPCIDeviceAddressAsString)."""
    a = address.attrs
    return (f"{_number(a.get('domain')):04x}:{_number(a.get('bus')):02x}:{_number(a.get('slot')):02x}."
            f"{_number(a.get('function')):x}")  # fmt: skip


def host_pci_driver(address: str) -> str | None:
    """The host driver a PCI function is bound to (None: none); OperationFailed when the host has no such one."""
    path = os.path.join(_SYSFS_PCI, address)
    if not os.path.exists(os.path.join(path, "config")):
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"Device {address} not found: could not access "
                                   f"{path}/config: No such file or directory")  # fmt: skip
    driver = os.path.join(path, "driver")
    return os.path.basename(os.readlink(driver)) if os.path.islink(driver) else None


def _subsystem(dom: Domain) -> list[Hostdev]:
    hostdevs = dom.devices.hostdevs if dom.devices is not None else []
    for h in hostdevs:
        if h.mode not in (None, "subsystem"):
            raise _unsupported(f"<hostdev mode='{h.mode}'>")
        if h.type not in ("pci", "usb", "mdev"):
            raise _unsupported(f"<hostdev type='{h.type}'>")
        if h.source is None or (h.type == "pci" and h.source.address is None):
            raise XMLError(ErrorCode.XML_ERROR, "Missing <source> in hostdev device")
        if h.type == "mdev" and (h.source.address is None or not h.source.address.attrs.get("uuid")):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Missing 'uuid' attribute for element <address>")
    return list(hostdevs)


def mdev_path(h: Hostdev) -> str:
    """The sysfs node QEMU opens for a mediated device."""
    assert h.source is not None and h.source.address is not None
    return f"{_SYSFS_MDEV}/{h.source.address.attrs['uuid']}"


def mdev_exists(path: str) -> bool:
    """The mediated device was created on this host (libvirt creates none itself for a running guest either)."""
    return os.path.exists(path)


# the QEMU device of each mediated device model, and libvirt's words when this QEMU lacks it
_MDEV_DEVICES = {"vfio-pci": ("vfio-pci", None),
                 "vfio-ccw": ("vfio-ccw", "VFIO CCW device assignment is not supported by this version of QEMU"),
                 "vfio-ap": ("vfio-ap", "VFIO AP device assignment is not supported by this version of QEMU")}  # fmt: skip


def _check_mdevs(dom: Domain, mdevs: list[Hostdev], caps: EmulatorCaps | None) -> None:
    """qemuValidateDomainMdevDef and virDomainDefHostdevValidate's rules for mediated devices."""
    for h in mdevs:  # virDomainHostdevDefPostParse: the bus a model sits on
        kind = h.address.attrs.get("type") if h.address is not None else None
        wanted = {"vfio-pci": "pci", "vfio-ccw": "ccw"}.get(h.model or "")
        if kind is not None and wanted is not None and kind != wanted:
            raise XMLError(ErrorCode.XML_ERROR, f"Unsupported address type '{kind}' with mediated device model "
                           f"'{h.model}'")  # fmt: skip
    if sum(1 for h in mdevs if h.ramfb) > 1:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Only one vgpu device can have 'ramfb' enabled")
    for h in mdevs:
        model = h.model or ""
        if model not in _MDEV_DEVICES:
            raise _unsupported(f"mediated device model '{model}'")
        device, missing = _MDEV_DEVICES[model]
        if missing and caps is not None and not caps.has_flag(device):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, missing)
        if model in ("vfio-pci", "vfio-ap") and h.boot is not None and h.boot.order:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "booting from assigned devices is not supported by "
                                    f"mediated devices of model {model}")  # fmt: skip
        if model == "vfio-ap" and sum(1 for x in mdevs if x.model == "vfio-ap") > 1:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Only one hostdev of model vfio-ap is supported")
        if h.display is not None:
            if caps is not None and not caps.probed and not caps.has_flag("vfio-pci.display"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "display property of device vfio-pci is not "
                                        "supported by this version of QEMU")  # fmt: skip
            if model != "vfio-pci":
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        "<hostdev> attribute 'display' is only supported with model='vfio-pci'")  # fmt: skip
            if h.display and not (dom.devices is not None and dom.devices.graphics):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        "graphics device is needed for attribute value 'display=on' in <hostdev>")  # fmt: skip


def check_host_devices(dom: Domain, caps: EmulatorCaps | None = None, on_host: bool = True) -> None:
    """Refuse, before any side effect, a host device this driver cannot hand over as libvirt would;
    ``on_host``: also check that the host has the devices (not for a command line only to read)."""
    s390 = dom.os is not None and dom.os.type is not None and (dom.os.type.arch or "").startswith("s390")
    hostdevs = _subsystem(dom)
    _check_mdevs(dom, [h for h in hostdevs if h.type == "mdev"], caps)
    for h in hostdevs:
        assert h.source is not None
        if h.type == "mdev":
            if on_host and not mdev_exists(mdev_path(h)):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"mediated device '{mdev_path(h)}' not found")
            continue
        if h.type == "pci" and s390:
            # an s390 guest sees PCI functions through zPCI: a 'zpci' device (uid, fid) in front of each
            if caps is not None and not caps.has_flag("zpci"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "This QEMU binary doesn't support zPCI")
            raise _unsupported("a PCI host device of an s390 guest (zPCI)")
        if h.type == "pci":
            if h.driver_name not in (None, "vfio"):
                raise _unsupported(f"PCI host device assignment with driver '{h.driver_name}'")
            if h.managed and on_host:
                assert h.source.address is not None
                address = pci_host_address(h.source.address)
                bound = host_pci_driver(address)
                if bound != "vfio-pci":
                    raise _unsupported(f"managed='yes' for PCI host device {address}, bound to "
                                       f"'{bound or 'no driver'}' (rebinding it to vfio-pci)")  # fmt: skip
        elif h.source.address is None:
            raise _unsupported("a USB host device named by vendor and product")


def hostdev_args(dom: Domain, address_props: Callable[[Address | None], dict[str, Any]],
                 boot_index: dict[int, int], hostdevice_option: bool = True) -> list[str]:  # fmt: skip
    """``vfio-pci`` and ``usb-host`` devices (qemuBuildHostdevCommandLine), in the definition's order;
    ``hostdevice_option``: usb-host takes the device node's path (else its bus and address numbers)."""
    out: list[str] = []
    for h in _subsystem(dom):
        assert h.source is not None and h.alias is not None and h.alias.name
        if h.address is not None and h.address.attrs.get("type") == "unassigned":
            continue  # prepared for the guest (detached from its host driver) but not given to it
        props: dict[str, Any]
        if h.type == "mdev":  # qemuBuildHostdevMediatedDevProps
            driver = "vfio-pci-nohotplug" if h.model == "vfio-pci" and h.ramfb else str(h.model)
            props = {"driver": driver, "id": h.alias.name, "sysfsdev": mdev_path(h)}
            if h.display is not None:
                props["display"] = "on" if h.display else "off"
            if h.ramfb:
                props["ramfb"] = True
        elif h.type == "pci":
            assert h.source.address is not None
            props = {"driver": "vfio-pci", "host": pci_host_address(h.source.address), "id": h.alias.name}
        else:
            assert h.source.address is not None
            bus, device = _number(h.source.address.attrs.get("bus")), _number(h.source.address.attrs.get("device"))
            if bus == 0 and device == 0:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "USB host device is missing bus/device information")
            props = {"driver": "usb-host"}
            if hostdevice_option:
                props["hostdevice"] = f"/dev/bus/usb/{bus:03d}/{device:03d}"
            else:  # before QEMU 6.x's hostdevice= (libvirt's QEMU_CAPS_USB_HOST_HOSTDEVICE)
                props |= {"hostbus": bus, "hostaddr": device}
            props["id"] = h.alias.name
        if id(h) in boot_index:
            props["bootindex"] = boot_index[id(h)]
        out += ["-device", json.dumps(props | address_props(h.address), separators=(",", ":"))]
    return out
