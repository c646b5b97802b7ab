"""zPCI identifiers of an s390 guest's PCI devices, as libvirt's address code hands them out and checks them.

On s390 a PCI function reaches the guest through a ``zpci`` device named by a
user-visible ``uid`` (1 to 0xffff) and a function id ``fid`` (any 32-bit
number); ``<address type='pci'><zpci uid fid/></address>`` sets them. libvirt
reserves the identifiers a definition gives while it places PCI addresses (a
duplicate is refused there, before any validation: virDomainZPCIAddressReserveId)
and gives the others the lowest free ones once every device has its PCI slot.
Only an emulator with the ``zpci`` device gets them (qemuDomainDeviceSupportZPCI
leaves character devices out); without it a definition that names one is
refused (qemuValidateDomainDeviceDefZPCIAddress).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["assign_zpci_ids", "check_zpci_addresses", "reserve_zpci_ids"]

MAX_UID = 0xFFFF  # VIR_DOMAIN_DEVICE_ZPCI_MAX_UID
MAX_FID = 0xFFFFFFFF  # VIR_DOMAIN_DEVICE_ZPCI_MAX_FID


def _pci_addresses(dom: Domain) -> Iterator[Address]:
    """The PCI addresses of the devices that may carry zPCI ids, in virDomainDeviceInfoIterate's order."""
    d = dom.devices
    if d is None:
        return
    single: list[Any] = [*d.watchdogs, *([d.memballoon] if d.memballoon is not None else []), *d.rngs]
    groups: list[Any] = [*d.disks, *d.interfaces, *d.sounds, *d.hostdevs, *d.videos, *d.controllers, *d.smartcards,
                         *d.inputs, *d.filesystems, *single, *d.hubs, *d.shmems, *d.tpms, *d.panics, *d.memories,
                         *d.redirdevs, *([d.iommu] if d.iommu is not None else []),
                         *([d.vsock] if d.vsock is not None else []), *d.graphics, *d.audios]  # fmt: skip
    for dev in groups:
        address = getattr(dev, "address", None)
        if isinstance(address, Address) and address.attrs.get("type") == "pci":
            yield address


class _Ids:
    """The uids and fids taken so far (libvirt's virDomainZPCIAddressIds)."""

    def __init__(self) -> None:
        self.taken: dict[str, set[int]] = {"uid": set(), "fid": set()}

    def ensure(self, address: Address) -> None:
        """virDomainZPCIAddressEnsureAddr: the missing id is the lowest free one, then both are reserved."""
        for name, low, high in (("uid", 1, MAX_UID), ("fid", 0, MAX_FID)):
            if getattr(address, f"zpci_{name}") is None:
                value = low
                while value in self.taken[name]:
                    if value == high:
                        raise InternalError(ErrorCode.INTERNAL_ERROR, f"There is no more free {name}.")
                    value += 1
                setattr(address, f"zpci_{name}", value)
        for name in ("uid", "fid"):
            value = getattr(address, f"zpci_{name}")
            if value in self.taken[name]:
                # (libvirt prints the number in octal)
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"zPCI {name} {value:o} is already reserved")
            self.taken[name].add(value)


def reserve_zpci_ids(dom: Domain, caps: EmulatorCaps | None) -> _Ids | None:
    """qemuDomainCollectPCIAddressExtension: the ids the definition gives, completed and reserved in device
    order; None (nothing to do) when the emulator has no zPCI."""
    if caps is None or not caps.has_flag("zpci"):
        return None
    ids = _Ids()
    for address in _pci_addresses(dom):
        if address.zpci_uid is not None or address.zpci_fid is not None:
            ids.ensure(address)
    return ids


def assign_zpci_ids(dom: Domain, ids: _Ids | None) -> None:
    """qemuDomainAssignPCIAddressExtension: once the PCI slots are placed, every PCI device without zPCI ids
    gets the lowest free ones."""
    if ids is None:
        return
    for address in _pci_addresses(dom):
        if address.zpci_uid is None or address.zpci_fid is None:
            ids.ensure(address)


def check_zpci_addresses(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuValidateDomainDeviceDefZPCIAddress: zPCI ids need an emulator with the zpci device, and a uid is
    1 to 0xffff (a fid may be any 32-bit number)."""
    for address in _pci_addresses(dom):
        if address.zpci_uid is None and address.zpci_fid is None:
            continue
        if not caps.has_flag("zpci"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "This QEMU binary doesn't support zPCI")
        uid = address.zpci_uid
        if uid is not None and not 0 < uid <= MAX_UID:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid PCI address uid='0x{uid:04x}', must be > 0x0000 and "
                           f"<= 0x{MAX_UID:04x}")  # fmt: skip
