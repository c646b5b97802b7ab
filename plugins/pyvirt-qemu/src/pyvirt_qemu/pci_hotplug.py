"""PCI addresses for devices plugged into a running guest, chosen as libvirt's qemuDomainEnsurePCIAddress
chooses them.

A running guest's buses are fixed: nothing is added (libvirt's address set
is no dry run then), so a device goes to a free slot of a bus that takes it
and takes hot-plug, or the attach is refused before QEMU sees anything. On
q35 that means an empty pcie-root-port for a PCI Express device: pcie-root
itself cannot take hot-plug. The define-time layout is ``pci_addresses``'.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Controller
from pyvirt.errors import ErrorCode, InternalError, XMLError
from pyvirt_qemu.pci_addresses import (
    PciAddress,
    Slots,
    is_i440fx,
    is_pcie_endpoint,
    is_q35,
    pci_address,
    place_next,
    slots_in_use,
    wants_pci,
)

__all__ = ["reserve_next_pci_address"]

# buses whose slots take a hot-plugged device with libvirt's auto-assignment (virDomainPCIAddressBusSetModel):
# a PCI Express endpoint goes to a port's only slot, a conventional PCI device to a bridge's slots 1-31
_HOTPLUG_PCIE_BUSES = ("pcie-root-port", "pcie-switch-downstream-port")
_HOTPLUG_PCI_BUSES = ("pci-bridge", "pcie-to-pci-bridge")


def reserve_next_pci_address(dom: Domain, dev: Any) -> None:
    """An address for a device hot-plugged into a running guest (libvirt's qemuDomainEnsurePCIAddress).

    An address the device brings is checked against the ones in use. On q35
    the slot must also take hot-plug: pcie-root cannot, so a device without
    an address goes to the first free hot-pluggable bus that accepts its kind,
    a PCI Express endpoint to an empty pcie-root-port, a conventional PCI device
    to a bridge's free slot; with none free the attach is refused with
    libvirt's words. On i440fx it takes the first free slot.
    """
    if not (is_i440fx(dom) or is_q35(dom)):
        return
    slots = slots_in_use(dom)
    if is_i440fx(dom):
        for function in (0, 1, 2, 3):
            if function not in slots.used.get((0, 1), set()):
                slots.reserve(PciAddress(0, 1, function))
    given = pci_address(getattr(dev, "address", None))
    if given is not None:
        if given.function != 0:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Only PCI device addresses with function=0 are supported")
        if is_q35(dom):
            _check_hotplug_bus(dom, given)
        slots.reserve(given)
    elif not wants_pci(getattr(dev, "address", None)):
        return
    elif is_q35(dom):
        dev.address = _next_hotplug_slot(dom, slots, is_pcie_endpoint(dev)).to_address()
    else:
        place_next(slots, dev)


def _next_hotplug_slot(dom: Domain, slots: Slots, pcie: bool) -> PciAddress:
    """virDomainPCIAddressGetNextAddr on the live guest (no dry run: no controller is added)."""
    assert dom.devices is not None
    buses = {c.index or 0: c for c in dom.devices.controllers if c.type == "pci" and c.target_hotplug is not False}
    for index, c in sorted(buses.items()):  # (a port with <target hotplug='off'/> takes none)
        if pcie and c.model in _HOTPLUG_PCIE_BUSES and not slots.in_use(index, 0):
            return PciAddress(index, 0)
        if not pcie and c.model in _HOTPLUG_PCI_BUSES:
            free = next((slot for slot in range(1, 32) if not slots.in_use(index, slot)), None)
            if free is not None:
                return PciAddress(index, free)
    raise InternalError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")


def _check_hotplug_bus(dom: Domain, addr: PciAddress) -> None:
    """virDomainPCIAddressValidate for an address a hot-plugged device brings on q35 (errors as from config)."""
    assert dom.devices is not None
    text = f"0000:{addr.bus:02x}:{addr.slot:02x}.{addr.function}"
    buses = {c.index or 0: c for c in dom.devices.controllers if c.type == "pci"}
    if addr.bus > max(buses, default=0):
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid PCI address {text}. Only PCI buses up to "
                       f"{max(buses, default=0)} are available")  # fmt: skip
    bus = buses.get(addr.bus, Controller(type="pci"))
    if bus.model not in (*_HOTPLUG_PCIE_BUSES, *_HOTPLUG_PCI_BUSES) or bus.target_hotplug is False:
        raise XMLError(ErrorCode.XML_ERROR, f"The device at PCI address {text} requires hotplug capability, but "
                       f"the PCI controller with index='{addr.bus}' doesn't support hotplug")  # fmt: skip
    if bus.model in _HOTPLUG_PCIE_BUSES and addr.slot > 0:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid PCI address {text}. slot must be <= 0")
    if bus.model in _HOTPLUG_PCI_BUSES and addr.slot < 1:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid PCI address {text}. slot must be >= 1")
