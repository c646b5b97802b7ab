"""Host devices given to the guest (``<hostdev mode='subsystem'>``): PCI functions through VFIO, USB devices.

A PCI function reaches the guest as ``vfio-pci`` on the guest PCI address ``pci_addresses`` gave it; a USB
device as ``usb-host`` opening ``/dev/bus/usb/BUS/DEV`` on the port ``usb_addresses`` gave it. libvirt's
``managed='yes'`` also unbinds a PCI function from its host driver and binds it to vfio-pci before the start;
this driver does not rebind host devices, so such a function must already be on vfio-pci (then libvirt's
detach has nothing to do either), and one still bound to its host driver is refused before anything starts
instead of QEMU failing on it half-way. USB devices named by vendor and product are refused by name.

A SCSI device (``type='scsi'``) reaches the guest as ``scsi-generic`` on a SCSI controller's drive address,
over a ``-blockdev`` backend of its own (``libvirt-N-backend``, numbered after every disk's images as
libvirt numbers them): the host's SCSI generic node (``/dev/sgN`` of adapter ``scsi_hostH`` and the source's
bus:target:unit, found in sysfs), or an iSCSI LUN QEMU logs into itself (its CHAP password a ``secret``
object encrypted with the master key). A vhost-scsi target (``type='scsi_host'`` with ``protocol='vhost'``)
is a ``vhost-scsi-pci`` device on an fd of ``/dev/vhost-scsi`` the driver opens (``open_vhost_scsi``).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, Hostdev
from pyvirt.conf.units import strtoul
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InternalError,
    NotSupportedError,
    OperationFailedError,
    SystemCallError,
    XMLError,
)
from pyvirt_qemu.emulator_caps import EmulatorCaps
from pyvirt_qemu.network_disks import iscsi_props
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = ["VHOST_SCSI_DEVICE", "check_host_devices", "host_pci_driver", "hostdev_args", "open_vhost_scsi",
           "pci_host_address", "scsi_generic_path", "vhost_scsi_available", "vhost_scsi_fd_key", "vhost_scsi_fds"]  # fmt: skip

_SYSFS_PCI = "/sys/bus/pci/devices"
_SYSFS_MDEV = "/sys/bus/mdev/devices"
_SYSFS_SCSI = "/sys/bus/scsi/devices"
VHOST_SCSI_DEVICE = "/dev/vhost-scsi"


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
        if h.type not in ("pci", "usb", "mdev", "scsi", "scsi_host"):
            raise _unsupported(f"<hostdev type='{h.type}'>")
        if h.source is None or (h.type == "pci" and h.source.address is None):
            raise XMLError(ErrorCode.XML_ERROR, "Missing <source> in hostdev device")
        if h.type == "scsi_host" and h.source.protocol != "vhost":
            raise _unsupported(f"<hostdev type='scsi_host'> of protocol '{h.source.protocol}'")
        if h.type == "scsi" and h.source.protocol not in (None, "adapter", "iscsi"):
            raise _unsupported(f"SCSI host device protocol '{h.source.protocol}'")
        if h.type == "mdev" and (h.source.address is None or not h.source.address.attrs.get("uuid")):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Missing 'uuid' attribute for element <address>")
    return list(hostdevs)


def _scsi_source(h: Hostdev) -> tuple[str, int, int, int]:
    """(adapter, bus, target, unit) of a host SCSI device's ``<source>``."""
    assert h.source is not None
    a = h.source.address.attrs if h.source.address is not None else {}
    return h.source.adapter_name or "", _number(a.get("bus")), _number(a.get("target")), _number(a.get("unit"))


def scsi_generic_path(adapter: str, bus: int, target: int, unit: int) -> str:
    """The ``/dev/sgN`` node of a host SCSI device (virSCSIDeviceGetSgName): adapter ``scsi_hostH`` is SCSI host
    H, and sysfs lists the device's generic node under ``H:bus:target:unit``."""
    if not adapter.startswith("scsi_host") or not adapter[9:].isdigit():
        raise XMLError(ErrorCode.XML_ERROR, f"Cannot parse adapter '{adapter}'")
    where = os.path.join(_SYSFS_SCSI, f"{int(adapter[9:])}:{bus}:{target}:{unit}", "scsi_generic")
    try:
        names = sorted(os.listdir(where))
    except OSError as exc:
        raise SystemCallError(exc.errno or errno.ENOENT, f"Failed to open {where}") from exc
    if not names:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"no SCSI generic device under {where}")
    return f"/dev/{names[0]}"


def vhost_scsi_fd_key(index: int) -> str:
    """The ``fds`` key of the ``/dev/vhost-scsi`` fd for the ``index``-th host device."""
    return f"vhostscsi{index}"


def vhost_scsi_available() -> bool:
    """The host kernel offers vhost-scsi (its ``vhost_scsi`` module loaded)."""
    return os.path.exists(VHOST_SCSI_DEVICE)


def open_vhost_scsi(device: str = VHOST_SCSI_DEVICE) -> int:
    """An fd of the vhost-scsi device for QEMU (virSCSIVHostOpenVhostSCSI); the caller closes it after the spawn."""
    if not os.path.exists(device):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "vhost-scsi is not supported")
    try:
        return os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemCallError(exc.errno or errno.EIO, f"Failed to open {device}", domain=ErrorDomain.QEMU) from exc


def vhost_scsi_fds(dom: Domain) -> dict[str, int]:
    """One open ``/dev/vhost-scsi`` fd per vhost-scsi host device, keyed for ``hostdev_args``; all or none."""
    out: dict[str, int] = {}
    try:
        for i, h in enumerate(dom.devices.hostdevs if dom.devices is not None else []):
            if h.mode in (None, "subsystem") and h.type == "scsi_host":
                out[vhost_scsi_fd_key(i)] = open_vhost_scsi()
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out


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
            if h.address is None or "slot" not in h.address.attrs:  # (pci_addresses places none on s390 yet)
                raise _unsupported("automatic PCI address placement for a host device of an s390 guest")
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
        elif h.type == "scsi":
            if h.source.protocol == "iscsi":
                hosts = h.source.hosts or []
                if len(hosts) != 1:
                    raise XMLError(ErrorCode.XML_ERROR, "iSCSI hostdev source must have exactly one host")
                continue
            if not h.source.adapter_name:
                raise XMLError(ErrorCode.XML_ERROR, "missing 'name' attribute of <adapter> in SCSI hostdev source")
            if on_host:
                scsi_generic_path(*_scsi_source(h))
        elif h.type == "scsi_host":
            if on_host and not vhost_scsi_available():
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "vhost-scsi is not supported")
        elif h.source.address is None:
            raise _unsupported("a USB host device named by vendor and product")


def _scsi_backend(h: Hostdev, node: str, secrets: GuestSecrets | None, sg_path: Callable[..., str],
                  ) -> list[str]:  # fmt: skip
    """The ``-object secret`` (iSCSI CHAP) and ``-blockdev`` of a SCSI host device's backend node ``node``
    (qemuBuildHostdevSCSIAttachPrepare: no discard, no auto-read-only, read-only as ``<readonly/>`` says)."""
    assert h.source is not None
    out: list[str] = []
    props: dict[str, Any]
    if h.source.protocol == "iscsi":
        auth = h.source.auth
        if auth is not None:
            if secrets is None:
                raise _unsupported("an iSCSI host device's <auth> without the guest's master key")
            value = secrets.value("iscsi", auth.secret_uuid, auth.secret_usage, "iSCSI host device <auth>")
            out += ["-object", json.dumps(secrets.secret_object(f"{node}-secret0", value), separators=(",", ":"))]
        props = iscsi_props((h.source.hosts or [])[0], h.source.name or "", auth, f"{node}-secret0",
                            h.source.initiator_iqn)  # fmt: skip
    else:
        props = {"driver": "host_device", "filename": sg_path(*_scsi_source(h))}
    props |= {"node-name": node, "read-only": bool(h.readonly)}
    return [*out, "-blockdev", json.dumps(props, separators=(",", ":"))]


def hostdev_args(dom: Domain, address_props: Callable[[Address | None], dict[str, Any]],
                 boot_index: dict[int, int], hostdevice_option: bool = True, first_node: int = 1,
                 drive_props: Callable[[Address | None], dict[str, Any]] | None = None,
                 secrets: GuestSecrets | None = None, fds: dict[str, int] | None = None,
                 virtio_driver: Callable[[str, Hostdev], dict[str, Any]] | None = None,
                 sg_path: Callable[..., str] | None = None,
                 ext_device: Callable[[Hostdev], list[str]] | None = None) -> list[str]:  # fmt: skip
    """``vfio-pci``, ``usb-host``, ``scsi-generic`` and ``vhost-scsi-pci`` devices (qemuBuildHostdevCommandLine),
    in the definition's order; ``hostdevice_option``: usb-host takes the device node's path (else its bus and
    address numbers). ``first_node``: the backend number of the first SCSI device (one above the disks'),
    ``drive_props``: a drive address as a SCSI controller's bus properties, ``secrets``: the master key and the
    secret driver, ``fds``: the open ``/dev/vhost-scsi`` fds (``vhost_scsi_fd_key``), ``virtio_driver``: the
    leading virtio properties of a device (its model's driver name and virtio options), ``sg_path``: where the
    host's SCSI generic node is found (``scsi_generic_path``), ``ext_device``: the arguments of the device an s390
    guest needs in front of a PCI function (its ``zpci``)."""
    out: list[str] = []
    node = first_node
    for index, h in enumerate(_subsystem(dom)):
        assert h.source is not None and h.alias is not None and h.alias.name
        if h.address is not None and h.address.attrs.get("type") == "unassigned":
            continue  # prepared for the guest (detached from its host driver) but not given to it
        props: dict[str, Any]
        if h.type == "scsi":  # qemuBuildHostdevSCSICommandLine
            backend = f"libvirt-{node}-backend"
            node += 1
            out += _scsi_backend(h, backend, secrets, sg_path or scsi_generic_path)
            props = {"driver": "scsi-generic", "drive": backend, "id": h.alias.name}
            if id(h) in boot_index:
                props["bootindex"] = boot_index[id(h)]
            out += ["-device", json.dumps(props | (drive_props or address_props)(h.address), separators=(",", ":"))]
            continue
        if h.type == "scsi_host":  # qemuBuildSCSIVHostHostdevDevProps
            fd = (fds or {}).get(vhost_scsi_fd_key(index))
            if fd is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "vhost-scsi host device has no fd at start")
            lead = virtio_driver("vhost-scsi-pci", h) if virtio_driver is not None else {"driver": "vhost-scsi-pci"}
            props = {**lead, "wwpn": h.source.wwpn or "", "vhostfd": str(fd), "id": h.alias.name}
            out += ["-device", json.dumps(props | address_props(h.address), separators=(",", ":"))]
            continue
        if h.type == "mdev":  # qemuBuildHostdevMediatedDevProps
            driver = "vfio-pci-nohotplug" if h.model == "vfio-pci" and h.ramfb else str(h.model)
            props = {"driver": driver, "id": h.alias.name, "sysfsdev": mdev_path(h)}
            if h.display is not None:
                props["display"] = "on" if h.display else "off"
            if h.ramfb:
                props["ramfb"] = True
        elif h.type == "pci":
            assert h.source.address is not None
            out += ext_device(h) if ext_device is not None else []
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
        if h.type == "usb" and h.source.guestReset is not None:  # qemuBuildUSBHostdevDevProps
            props["guest-reset"] = h.source.guestReset != "off"
            if h.source.guestReset != "off":
                props["guest-resets-all"] = h.source.guestReset == "on"
        out += ["-device", json.dumps(props | address_props(h.address), separators=(",", ":"))]
    return out
