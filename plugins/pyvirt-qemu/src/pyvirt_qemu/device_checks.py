"""Per-device checks of libvirt's QEMU driver and generic validator that need no emulator capabilities.

Kept apart from ``domain_validation`` (which orders them among the domain-wide checks, as libvirt's
virDomainDefValidate does): a SCSI host device's drive address is its own, a vhost SCSI device cannot boot,
virtiofs has its restrictions, and a PCI controller's NUMA node is checked before this driver refuses it.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.units import strtoul
from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = [
    "check_hostdevs",
    "check_pci_controller_nodes",
    "check_scsi_hostdev_drives",
    "check_virtiofs",
    "drive_key",
    "scsi_hostdev_drives",
]


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def drive_key(address: Any) -> tuple[int, int, int, int] | None:
    """(controller, bus, target, unit) of a drive address, None for another kind."""
    if address is None or address.attrs.get("type") != "drive":
        return None
    numbers = [strtoul(address.attrs.get(k, "0"), 10) for k in ("controller", "bus", "target", "unit")]
    c, b, t, u = (n[1] if n is not None else 0 for n in numbers)  # (virXMLPropUInt, base 10; bad ones refused earlier)
    return c, b, t, u


def scsi_hostdev_drives(dom: Domain) -> list[tuple[int, int, int, int]]:
    """The drive addresses SCSI host devices take (virDomainDriveAddressIsUsedByHostdev), in definition order."""
    hostdevs = dom.devices.hostdevs if dom.devices is not None else []
    keys = [drive_key(h.address) for h in hostdevs if h.mode in (None, "subsystem") and h.type == "scsi"]
    return [k for k in keys if k is not None]


def check_scsi_hostdev_drives(dom: Domain) -> None:
    """virDomainDefCheckDuplicateDriveAddresses' second half: a SCSI host device's drive address is its own.
    (libvirt's messages print the bus as the controller and the controller as the bus.)"""
    assert dom.devices is not None
    taken = scsi_hostdev_drives(dom)
    disks = {drive_key(d.address) for d in dom.devices.disks if d.target_bus == "scsi"}
    for i, (c, b, t, u) in enumerate(taken):
        where = f"SCSI host address controller='{b}' bus='{c}' target='{t}' unit='{u}' in use by another"
        if (c, b, t, u) in taken[i + 1 :]:
            raise _refuse(f"{where} SCSI host device")
        if (c, b, t, u) in disks:
            raise _refuse(f"{where} SCSI disk")


def check_hostdevs(dom: Domain) -> None:
    """qemuValidateDomainDeviceDefHostdev's checks that need no capabilities."""
    for h in dom.devices.hostdevs if dom.devices is not None else []:
        if h.mode == "capabilities":
            raise _refuse(f"hostdev mode 'capabilities' is not supported in {dom.type}")
        if h.type == "scsi_host" and h.boot is not None:
            raise _refuse("booting from assigned devices is not supported by vhost SCSI devices")


def check_pci_controller_nodes(dom: Domain) -> None:
    """virDomainControllerDefValidate: the first PCI root has no NUMA node; then this driver's own refusal of
    the others (QEMU's numa_node= of a pSeries PHB or an expander bus is not on its command line yet)."""
    for c in dom.devices.controllers if dom.devices is not None else []:
        if c.type == "pci" and c.target_node is not None:
            if c.index == 0:
                raise _refuse("The PCI controller with index=0 can't be associated with a NUMA node")
            raise _refuse("a PCI controller's NUMA <node> is not supported by the QEMU driver yet")


def check_virtiofs(fs: Any) -> None:
    """qemuValidateDomainDeviceDefFS for virtiofs: virtiofsd (started by the driver, not an external socket)
    exports read-write, passes ownership through, and has no cache policy, device model or image format."""
    if fs.driver_type != "virtiofs":
        return
    if not fs.source_socket:
        if fs.readonly:
            raise _refuse("virtiofs does not yet support read-only mode")
        if fs.accessmode not in (None, "passthrough"):
            raise _refuse("virtiofs only supports passthrough accessmode")
        if fs.driver_wrpolicy is not None:
            raise _refuse("virtiofs does not support wrpolicy")
    if fs.model is not None:
        raise _refuse("virtiofs does not support model")
    if fs.driver_format is not None:
        raise _refuse("virtiofs does not support format")
    if fs.multidevs is not None:
        raise _refuse("virtiofs does not support multidevs")
    if fs.fmode is not None or fs.dmode is not None:
        raise _refuse("virtiofs does not support fmode and dmode")
