"""Guest PCI addresses, assigned the way libvirt's QEMU driver assigns them.

The addresses are guest-visible ABI: a guest whose NIC moves from slot 3 to
slot 5 sees a new NIC (new name, lost configuration). So, like libvirt, the
driver assigns them once, when the domain is defined, writes them into the
definition, and only fills in devices that have none later. The order and the
fixed slots follow libvirt 9.0 so that a definition moved between libvirt and
pyvirt keeps its hardware layout: i440fx reserves 00:01.x for the PIIX3
(ISA bridge, IDE at .1, UHCI at .2, power management at .3) and slot 2 for the
primary video; every other PCI device then takes the first free slot of bus 0
in libvirt's device-kind order.

q35 guests get libvirt's PCI Express layout: each endpoint on a
pcie-root-port of its own, the ports added as needed and packed as functions
of pcie-root slots. Conventional PCI devices on q35 (which libvirt puts
behind a pcie-to-pci-bridge) must come with their addresses. On i440fx,
devices that bus 0 cannot hold, and buses an address names that the guest
lacks, get pci-bridges added, as libvirt adds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import (
    Address,
    Controller,
    Disk,
    Filesystem,
    Hostdev,
    Input,
    Interface,
    Iommu,
    Memballoon,
    Rng,
    Video,
    Vsock,
)
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError

__all__ = [
    "PciAddress",
    "Slots",
    "assign_pci_addresses",
    "insert_controller",
    "is_i440fx",
    "is_pcie_endpoint",
    "is_q35",
    "pci_address",
    "place_next",
    "slots_in_use",
    "wants_pci",
]

# (type, model) of controllers that are PCI devices themselves
_NOT_PCI_CONTROLLER_TYPES = frozenset({"fdc", "ccid", "xenbus", "isa"})
_VIRTIO = ("virtio", "virtio-non-transitional", "virtio-transitional")
_PCI_ROOTS = frozenset({"pci-root", "pcie-root"})
_USB2_COMPANIONS = {"ich9-ehci1": (7, None), "ich9-uhci1": (0, "on"), "ich9-uhci2": (1, None),
                    "ich9-uhci3": (2, None)}  # fmt: skip


def is_q35(dom: Domain) -> bool:
    machine = dom.os.type.machine if dom.os is not None and dom.os.type is not None else None
    return bool(machine) and ("q35" in str(machine))


def _is_pseries(dom: Domain) -> bool:
    """libvirt's qemuDomainIsPSeries."""
    t = dom.os.type if dom.os is not None else None
    return t is not None and (t.arch or "").startswith("ppc64") and (t.machine or "").startswith("pseries")


def _is_virt_board(dom: Domain) -> bool:
    """libvirt's qemuDomainIsARMVirt or qemuDomainIsRISCVVirt."""
    t = dom.os.type if dom.os is not None else None
    if t is None:
        return False
    virt = (t.machine or "") == "virt" or (t.machine or "").startswith("virt-")
    return virt and ((t.arch or "") in ("aarch64", "armv7l") or (t.arch or "").startswith("riscv"))


def is_i440fx(dom: Domain) -> bool:
    machine = str(dom.os.type.machine if dom.os is not None and dom.os.type is not None else "pc")
    return (
        machine == "pc" or machine.startswith("pc-i440fx") or machine.startswith("pc-0") or machine.startswith("pc-1")
    )


@dataclass(frozen=True, order=True)
class PciAddress:
    bus: int
    slot: int
    function: int = 0
    multifunction: str | None = field(default=None, compare=False)

    def to_address(self) -> Address:
        attrs = {"type": "pci", "domain": "0x0000", "bus": f"0x{self.bus:02x}", "slot": f"0x{self.slot:02x}",
                 "function": f"0x{self.function:x}"}  # fmt: skip
        if self.multifunction:
            attrs["multifunction"] = self.multifunction
        return Address(attrs=attrs)


def pci_address(address: Address | None) -> PciAddress | None:
    """The PCI address a device's ``<address>`` names, or None when it has no PCI address."""
    if address is None or address.attrs.get("type") != "pci":
        return None
    a = address.attrs
    if "slot" not in a:
        return None
    return PciAddress(int(a.get("bus", "0"), 0), int(a["slot"], 0), int(a.get("function", "0"), 0),
                      a.get("multifunction"))  # fmt: skip


def wants_pci(address: Address | None) -> bool:
    """libvirt's 'address wanted': no address yet, or a PCI one without a slot."""
    return address is None or (address.attrs.get("type") == "pci" and "slot" not in address.attrs)


class Slots:
    """Used functions per (bus, slot) on the buses a guest has."""

    def __init__(self, buses: int) -> None:
        self.buses = buses
        self.used: dict[tuple[int, int], set[int]] = {}

    def reserve(self, addr: PciAddress) -> None:
        functions = self.used.setdefault((addr.bus, addr.slot), set())
        if addr.function in functions:
            raise XMLError(
                ErrorCode.XML_ERROR,
                f"Attempted double use of PCI Address 0000:{addr.bus:02x}:{addr.slot:02x}.{addr.function}",
            )
        functions.add(addr.function)

    def in_use(self, bus: int, slot: int) -> bool:
        return bool(self.used.get((bus, slot)))

    def next_free_on(self, bus: int) -> PciAddress:
        for slot in range(1, 32):
            if not self.in_use(bus, slot):
                return PciAddress(bus, slot)
        raise InternalError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")

    def next_free(self, function: int = 0) -> PciAddress:
        for bus in range(self.buses):
            for slot in range(1, 32):
                if not self.in_use(bus, slot):
                    return PciAddress(bus, slot, function)
        raise InternalError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")


def _bus_count(dom: Domain) -> int:
    assert dom.devices is not None
    indexes = [c.index or 0 for c in dom.devices.controllers if c.type == "pci"]
    return max(indexes, default=0) + 1


def _all_addressed(dom: Domain) -> Iterator[Any]:
    """Every device object that may carry a PCI address."""
    d = dom.devices
    assert d is not None
    yield from d.controllers
    yield from d.filesystems
    yield from d.interfaces
    yield from d.sounds
    yield from d.disks
    yield from d.hostdevs
    if d.memballoon is not None:
        yield d.memballoon
    yield from d.rngs
    yield from d.watchdogs
    yield from d.videos
    yield from d.inputs
    yield from d.serials
    yield from d.smartcards
    yield from d.redirdevs
    yield from d.tpms
    yield from d.memories
    if d.iommu is not None:
        yield d.iommu
    if d.vsock is not None:
        yield d.vsock


def slots_in_use(dom: Domain) -> Slots:
    slots = Slots(_bus_count(dom))
    for dev in _all_addressed(dom):
        addr = pci_address(getattr(dev, "address", None))
        if addr is not None:
            slots.reserve(addr)
    return slots


def place_next(slots: Slots, dev: Any, function: int = 0, multifunction: str | None = None) -> None:
    addr = slots.next_free(function)
    addr = PciAddress(addr.bus, addr.slot, addr.function, multifunction)
    slots.reserve(addr)
    dev.address = addr.to_address()


def _place_piix3(dom: Domain, slots: Slots) -> None:
    """The PIIX3's functions on slot 1, and the primary video on slot 2 when it is free."""
    assert dom.devices is not None
    fixed = {("ide", 0): PciAddress(0, 1, 1), ("usb", 0): PciAddress(0, 1, 2)}
    for c in dom.devices.controllers:
        want = fixed.get((c.type or "", c.index or 0))
        if want is None or (c.type == "usb" and c.model not in (None, "piix3-uhci")):
            continue
        have = pci_address(c.address)
        if have is None:
            slots.reserve(want)
            c.address = want.to_address()
        elif (have.bus, have.slot, have.function) != (want.bus, want.slot, want.function):
            what = "Primary IDE controller" if c.type == "ide" else "PIIX3 USB controller at index 0"
            where = "0:0:1.1" if c.type == "ide" else "0:0:1.2"
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"{what} must have PCI address {where}")
    for function in (0, 3):  # ISA bridge and power management
        if function not in slots.used.get((0, 1), set()):
            slots.reserve(PciAddress(0, 1, function))
    videos = [v for v in dom.devices.videos if v.model_type not in ("none", "ramfb")]
    if videos and dom.devices.videos[0] is videos[0] and wants_pci(videos[0].address):
        if slots.in_use(0, 2):
            place_next(slots, videos[0])
        else:
            slots.reserve(PciAddress(0, 2))
            videos[0].address = PciAddress(0, 2).to_address()


def _controller_takes_slot(c: Controller) -> bool:
    if c.type == "pci" or c.type in _NOT_PCI_CONTROLLER_TYPES:
        return False
    if c.type == "usb" and c.model == "none":
        return False
    if c.type == "ide" and (c.index or 0) == 0:
        return False
    return not (c.type == "scsi" and c.model == "ncr53c90")


def _place_usb2_companion(dom: Domain, slots: Slots, c: Controller) -> None:
    """ICH9 EHCI and its UHCI companions share one slot, one function each (uhci1 is multifunction)."""
    assert dom.devices is not None
    function, multi = _USB2_COMPANIONS[c.model or ""]
    for other in dom.devices.controllers:
        if other is c or other.type != "usb" or other.model not in _USB2_COMPANIONS or other.index != c.index:
            continue
        found = pci_address(other.address)
        if found is not None:
            addr = PciAddress(found.bus, found.slot, function, multi)
            slots.reserve(addr)
            c.address = addr.to_address()
            return
    place_next(slots, c, function, multi)


def assign_pci_addresses(dom: Domain, root_port_model: str = "pcie-root-port", pcie_pci_bridge: bool = True) -> None:
    """Give every PCI device of an i440fx or q35 guest an address; keep the ones it has.

    ``root_port_model``: the device a PCIe root port without a ``<model name>`` is (libvirt's
    qemuDomainPCIControllerSetDefaultModelName: ``ioh3420`` when QEMU lacks the generic one).
    ``pcie_pci_bridge``: QEMU has pcie-to-pci-bridge (conventional PCI devices on q35 go behind one).

    Devices are visited in libvirt's order: PCI controllers, filesystems, NICs,
    sound cards, other controllers, virtio disks, host devices, the balloon,
    RNGs, the watchdog, videos, virtio inputs, PCI serial ports.
    """
    d = dom.devices
    if d is None:
        return
    q35, i440fx = is_q35(dom), is_i440fx(dom)
    # the ARM and RISC-V 'virt' boards' PCIe root (gpex) is laid out as q35's, without the ICH9's functions
    pcie = q35 or (_is_virt_board(dom) and any(c.type == "pci" and c.model == "pcie-root" for c in d.controllers))
    # a pSeries guest's PCI root (its PHB) hands out slots as i440fx's does, without the PIIX3's reservations
    if not (pcie or i440fx or _is_pseries(dom)):
        return
    slots = slots_in_use(dom)
    if i440fx:
        _place_piix3(dom, slots)
    wanted: list[Any] = []
    wanted += [c for c in d.controllers if c.type == "pci" and c.model not in _PCI_ROOTS and wants_pci(c.address)]
    wanted += [f for f in d.filesystems if wants_pci(f.address)]
    wanted += [n for n in d.interfaces if n.type != "hostdev" and wants_pci(n.address)]
    wanted += [s for s in d.sounds if s.model not in ("sb16", "pcspk", "usb") and wants_pci(s.address)]
    wanted += [c for c in d.controllers if _controller_takes_slot(c) and wants_pci(c.address)]
    wanted += [v for v in d.disks if (v.target_bus == "virtio") and wants_pci(v.address)]
    wanted += [h for h in d.hostdevs if h.mode in (None, "subsystem") and (h.type in ("pci", "scsi_host")
               or (h.type == "mdev" and h.model == "vfio-pci")) and wants_pci(h.address)]  # fmt: skip
    if d.memballoon is not None and d.memballoon.model in _VIRTIO and wants_pci(d.memballoon.address):
        wanted.append(d.memballoon)
    wanted += [r for r in d.rngs if wants_pci(r.address)]
    wanted += [w for w in d.watchdogs if w.model == "i6300esb" and wants_pci(w.address)]
    wanted += [v for v in d.videos if v.model_type not in ("none", "ramfb") and wants_pci(v.address)]
    wanted += [i for i in d.inputs if i.bus == "virtio" and wants_pci(i.address)]
    wanted += [s for s in d.serials if s.target_type == "pci-serial" and wants_pci(s.address)]
    if d.iommu is not None and d.iommu.model == "virtio" and wants_pci(d.iommu.address):
        wanted.append(d.iommu)
    if d.vsock is not None and wants_pci(d.vsock.address):
        wanted.append(d.vsock)
    wanted += [m for m in d.memories if m.model in ("virtio-mem", "virtio-pmem") and wants_pci(m.address)]
    if i440fx:
        added = _add_pci_bridges(dom, slots, wanted)
        first_other = next((i for i, w in enumerate(wanted) if not (isinstance(w, Controller) and w.type == "pci")),
                           len(wanted))  # fmt: skip
        wanted[first_other:first_other] = added  # placed right after the guest's own PCI controllers
    if pcie:
        _assign_q35(dom, slots, wanted, root_port_model, ich9=q35, pcie_pci_bridge=pcie_pci_bridge)
    else:
        for dev in wanted:
            if isinstance(dev, Controller) and dev.type == "usb" and dev.model in _USB2_COMPANIONS:
                _place_usb2_companion(dom, slots, dev)
            else:
                place_next(slots, dev)
    _set_all_multi(dom)


def _add_pci_bridges(dom: Domain, slots: Slots, wanted: list[Any]) -> list[Controller]:
    """qemuDomainAssignPCIAddresses' dry run on i440fx: a pci-bridge for every bus an address names that the
    guest lacks, and for the devices the buses it has cannot hold, appended to the controllers as libvirt adds
    them; returns the bridges added (they still need their own slots)."""
    d = dom.devices
    assert d is not None
    dry = Slots(max([slots.buses, *(bus + 1 for bus, _slot in slots.used)]))
    dry.used = {key: set(functions) for key, functions in slots.used.items()}

    def reserve_next() -> None:
        try:
            dry.reserve(dry.next_free())
        except InternalError:  # every bus full: the dry run grows one more bridge's bus
            dry.buses += 1
            dry.reserve(dry.next_free())

    if any(not all(dry.in_use(bus, slot) for slot in range(1, 32)) for bus in range(dry.buses)):
        reserve_next()  # room kept for a bridge, as libvirt keeps it while buses are not fully reserved
    companions: set[int] = set()
    for dev in wanted:
        if isinstance(dev, Controller) and dev.type == "usb" and dev.model in _USB2_COMPANIONS:
            if (dev.index or 0) in companions:
                continue  # (the companions of one USB2 set share a slot)
            companions.add(dev.index or 0)
        reserve_next()
    present = {c.index or 0 for c in d.controllers if c.type == "pci"}
    added: list[Controller] = []
    index = 1
    while index < dry.buses:  # (reserving a new bridge's slot may grow one more bus)
        if index not in present:
            added.append(Controller(type="pci", index=index, model="pci-bridge"))
            reserve_next()
        index += 1
    d.controllers = [*d.controllers, *added]
    slots.buses = max(slots.buses, dry.buses)
    return added


def insert_controller(controllers: list[Controller], new: Controller) -> list[Controller]:
    """libvirt keeps controllers of one type together and in index order; a new type goes last."""
    out = list(controllers)
    same = [i for i, c in enumerate(out) if c.type == new.type]
    after = [i for i in same if (out[i].index or 0) <= (new.index or 0)]
    if after:
        out.insert(after[-1] + 1, new)
    elif same:
        out.insert(same[0], new)
    else:
        out.append(new)
    return out


def is_pcie_endpoint(dev: Any) -> bool:
    """Devices QEMU builds as PCI Express endpoints on q35: each wants a pcie-root-port of its own."""
    if (
        getattr(dev, "model", None) == "virtio-transitional"
        or getattr(dev, "model_type", None) == "virtio-transitional"
    ):
        return False  # a transitional device is conventional PCI, for old guests
    if isinstance(dev, Disk):
        return dev.target_bus == "virtio"
    if isinstance(dev, Interface):
        return dev.model_type in ("virtio", "virtio-non-transitional", "e1000e")
    if isinstance(dev, Controller):
        return (dev.type, dev.model) in {("usb", "qemu-xhci"), ("usb", "nec-xhci"), ("scsi", "virtio-scsi"),
                                         ("scsi", "virtio-non-transitional"), ("virtio-serial", None),
                                         ("virtio-serial", "virtio"), ("virtio-serial", "virtio-non-transitional"),
                                         ("sata", None), ("sata", "ahci")}  # fmt: skip
    if isinstance(dev, (Memballoon, Rng)):
        return dev.model in _VIRTIO
    if isinstance(dev, Input):
        return dev.bus == "virtio"
    if isinstance(dev, Video):
        return dev.model_type == "virtio"
    if isinstance(dev, Vsock):
        return True  # vhost-vsock-pci follows virtio
    if isinstance(dev, Hostdev):
        # qemuDomainDeviceCalculatePCIConnectFlags: mediated devices are PCIe, vhost-scsi follows virtio, and an
        # assigned host device is taken to be PCIe (as libvirt does when it cannot read its config space)
        return dev.type in ("mdev", "scsi_host", "pci")
    return isinstance(dev, Filesystem)  # virtio-9p-pci


def _fixed_q35(dom: Domain, slots: Slots) -> None:
    """The ICH9's own functions (LPC 1f.0, SATA 1f.2, SMBus 1f.3), then the primary video on slot 1."""
    d = dom.devices
    assert d is not None
    for c in d.controllers:
        if c.type == "sata" and (c.index or 0) == 0:
            have = pci_address(c.address)
            if have is None:
                slots.reserve(PciAddress(0, 0x1F, 2))
                c.address = PciAddress(0, 0x1F, 2).to_address()
            elif (have.bus, have.slot, have.function) != (0, 0x1F, 2):
                raise InternalError(ErrorCode.INTERNAL_ERROR, "Primary SATA controller must have PCI address 0:0:1f.2")
    for function in (0, 3):
        if function not in slots.used.get((0, 0x1F), set()):
            slots.reserve(PciAddress(0, 0x1F, function))
    # the ICH9's own USB2 functions (00:1d.x, then 00:1a.x) for the first EHCI sets, and the DMI-to-PCI
    # bridge's own slot (00:1e.0), when still free (libvirt's qemuDomainValidateDevicePCISlotsQ35)
    for first in [c for c in d.controllers if c.type == "usb" and c.model == "ich9-uhci1" and wants_pci(c.address)]:
        usb2 = [c for c in d.controllers if c.type == "usb" and c.index == first.index and c.model in _USB2_COMPANIONS]
        slot = next((s for s in (0x1D, 0x1A) if not slots.in_use(0, s)), None)
        if slot is None or not all(wants_pci(c.address) for c in usb2):
            continue
        for c in usb2:
            function, multi = _USB2_COMPANIONS[c.model or ""]
            addr = PciAddress(0, slot, function, multi)
            slots.reserve(addr)
            c.address = addr.to_address()
    dmi = next((c for c in d.controllers if c.type == "pci" and c.model == "dmi-to-pci-bridge"
                and c.address is None), None)  # fmt: skip
    if dmi is not None and not slots.in_use(0, 0x1E):
        slots.reserve(PciAddress(0, 0x1E))
        dmi.address = PciAddress(0, 0x1E).to_address()
    hda = next((s for s in d.sounds if s.model == "ich9" and wants_pci(s.address)), None)
    videos = [v for v in d.videos if v.model_type not in ("none", "ramfb")]
    if videos and d.videos[0] is videos[0] and wants_pci(videos[0].address):
        addr = PciAddress(0, 1) if not slots.in_use(0, 1) else slots.next_free_on(0)
        slots.reserve(addr)
        videos[0].address = addr.to_address()
    if hda is not None and not slots.in_use(0, 0x1B):  # the ICH9's own HD audio function
        slots.reserve(PciAddress(0, 0x1B))
        hda.address = PciAddress(0, 0x1B).to_address()


def _assign_q35(dom: Domain, slots: Slots, wanted: list[Any], root_port_model: str = "pcie-root-port",
                ich9: bool = True, pcie_pci_bridge: bool = True) -> None:  # fmt: skip
    """libvirt's q35 layout: every PCIe endpoint on its own pcie-root-port, the ports packed eight to a slot.

    Ports are added as needed, plus one spare for hotplug when the guest
    has no PCI controllers of its own, as libvirt does for new guests.
    ``ich9``: the chipset's own functions come first (q35; not the ARM and RISC-V 'virt' boards).
    ``pcie_pci_bridge``: QEMU has the pcie-to-pci-bridge that conventional PCI devices are put behind.
    """
    d = dom.devices
    assert d is not None
    if ich9:
        _fixed_q35(dom, slots)
    ports = [c for c in d.controllers if c.type == "pci" and c.model == "pcie-root-port"]
    wanted = [w for w in wanted if wants_pci(w.address)]  # the chipset's own devices have theirs now
    # virtio-iommu is an integrated endpoint: on pcie-root itself, after the root ports have their slots
    integrated = [w for w in wanted if isinstance(w, Iommu)]
    wanted = [w for w in wanted if not isinstance(w, Iommu)]
    # a pcie-to-pci-bridge of the XML takes a root port as an endpoint does, before the endpoints
    on_ports = [w for w in wanted if isinstance(w, Controller) and w.type == "pci" and w.model == "pcie-to-pci-bridge"]
    endpoints = on_ports + [w for w in wanted if not (isinstance(w, Controller) and w.type == "pci")]
    _place_pci_bridges(dom, slots, [w for w in wanted if isinstance(w, Controller) and w.type == "pci"
                                    and w.model not in ("pcie-root-port", "pcie-to-pci-bridge")])  # fmt: skip
    # (taken by bus number, as libvirt searches its buses, whatever order the XML lists the ports in)
    free_ports = sorted(p.index or 0 for p in ports if not slots.in_use(p.index or 0, 0))
    max_idx = max((c.index or 0 for c in d.controllers if c.type == "pci"), default=0)
    # libvirt's dry run, in device order: a PCIe endpoint takes a free root port or a new one; a conventional
    # PCI device a free slot of a PCI bus (a pci-bridge's or pcie-to-pci-bridge's), else a new
    # pcie-to-pci-bridge behind a root port of its own
    pci_buses = [c.index or 0 for c in d.controllers if c.type == "pci"
                 and c.model in ("pci-bridge", "pcie-to-pci-bridge")]  # fmt: skip
    added: list[Controller] = []
    place: dict[int, PciAddress] = {}
    for dev in endpoints:
        if any(dev is b for b in on_ports) and not free_ports:  # (libvirt grows buses for endpoints only)
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                "Cannot automatically add a new PCI bus for a device with connect flags 2000")  # fmt: skip
        if is_pcie_endpoint(dev) or any(dev is b for b in on_ports):
            bus = free_ports.pop(0) if free_ports else max_idx + 1 + len(added)
            if bus > max_idx:
                added.append(Controller(type="pci", index=bus, model="pcie-root-port"))
            place[id(dev)] = PciAddress(bus, 0)
            continue
        addr = next((PciAddress(b, slot) for b in pci_buses for slot in range(1, 32)
                     if not slots.in_use(b, slot) and all(a != PciAddress(b, slot) for a in place.values())), None)  # fmt: skip
        if addr is None:
            if not pcie_pci_bridge:
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    f"automatic placement of conventional PCI devices on q35 ({type(dev).__name__.lower()}) "
                    "without a pcie-to-pci-bridge is not supported by the QEMU driver yet; give it an <address>",
                )
            port_index = max_idx + 1 + len(added)
            added += [Controller(type="pci", index=port_index, model="pcie-root-port"),
                      Controller(type="pci", index=port_index + 1, model="pcie-to-pci-bridge")]  # fmt: skip
            pci_buses.append(port_index + 1)
            addr = PciAddress(port_index + 1, 1)
        place[id(dev)] = addr
    if added and max_idx <= 0 and not free_ports:  # one empty port left for hotplug
        added.append(Controller(type="pci", index=max_idx + 1 + len(added), model="pcie-root-port"))
    # appended, as libvirt's address assignment adds them (virDomainDefAddController), after every controller
    # the parser and the post-parse put in place
    d.controllers = [*d.controllers, *added]
    slots.buses = max(slots.buses, max_idx + 1 + len(added))
    # slots already holding only root ports take more of them, one per function
    aggregate = {slot for slot in range(1, 32) if slots.used.get((0, slot)) and all(
        (a := pci_address(c.address)) is None or (a.bus, a.slot) != (0, slot) or c.model == "pcie-root-port"
        for c in d.controllers) and not _other_device_on(dom, slot)}  # fmt: skip
    for port in [c for c in d.controllers if c.type == "pci" and c.model == "pcie-root-port"]:
        if wants_pci(port.address):
            addr = _aggregate_slot(slots, aggregate)
            slots.reserve(addr)
            port.address = addr.to_address()
        addr_now = pci_address(port.address)
        assert addr_now is not None
        port.model_name = port.model_name or root_port_model
        port.target_chassis = port.target_chassis if port.target_chassis is not None else port.index
        if port.target_port is None:
            port.target_port = f"0x{(addr_now.slot << 3) + addr_now.function:x}"
    _final_pass(dom, slots, [e for e in endpoints if not any(e is b for b in on_ports)])
    for dev in integrated:
        addr = slots.next_free_on(0)
        slots.reserve(addr)
        dev.address = addr.to_address()


def _final_pass(dom: Domain, slots: Slots, endpoints: list[Any]) -> None:
    """libvirt's second pass on q35 (the dry run only decided which controllers to add): the pcie-to-pci-bridges
    without an address first, in controller order, then the devices in their order, each on the first free bus
    by number that takes it (a root port's only slot, or a PCI bridge's slots 1-31)."""
    d = dom.devices
    assert d is not None
    pci = [c for c in d.controllers if c.type == "pci"]
    port_buses = sorted(c.index or 0 for c in pci if c.model == "pcie-root-port")
    pci_buses = sorted(c.index or 0 for c in pci if c.model in ("pci-bridge", "pcie-to-pci-bridge"))
    bridges = [c for c in pci if c.model == "pcie-to-pci-bridge" and wants_pci(c.address)]
    for dev in [*bridges, *endpoints]:
        if (isinstance(dev, Controller) and dev.model == "pcie-to-pci-bridge") or is_pcie_endpoint(dev):
            addr = next((PciAddress(b, 0) for b in port_buses if not slots.in_use(b, 0)), None)
        else:
            addr = next((PciAddress(b, slot) for b in pci_buses for slot in range(1, 32)
                         if not slots.in_use(b, slot)), None)  # fmt: skip
        if addr is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")
        slots.reserve(addr)
        dev.address = addr.to_address()
    for bridge in bridges:
        bridge.model_name = bridge.model_name or "pcie-pci-bridge"


def _place_pci_bridges(dom: Domain, slots: Slots, controllers: list[Controller]) -> None:
    """PCI controllers other than root ports that came without an address: a dmi-to-pci-bridge (when 00:1e was
    taken) on the next free slot of pcie-root, a pci-bridge on the first free slot of a bus that takes one (a
    dmi-to-pci-bridge's from slot 0, a pci-bridge's or pcie-to-pci-bridge's from slot 1)."""
    d = dom.devices
    assert d is not None
    for c in controllers:
        bus_asked = int(c.address.attrs.get("bus", "0"), 0) if c.address is not None else 0
        if c.model == "dmi-to-pci-bridge" and bus_asked:  # it plugs into pcie-root only
            raise XMLError(ErrorCode.XML_ERROR, f"The device at PCI address 0000:{bus_asked:02x}:00.0 cannot be "
                           f"plugged into the PCI controller with index='{bus_asked}'. It requires a controller "
                           "that accepts a dmi-to-pci-bridge.")  # fmt: skip
        if c.model == "dmi-to-pci-bridge":
            addr = slots.next_free_on(0)
        elif c.model == "pci-bridge":
            buses = sorted((b.index or 0, b.model) for b in d.controllers if b.type == "pci" and b is not c
                           and b.model in ("dmi-to-pci-bridge", "pci-bridge", "pcie-to-pci-bridge"))  # fmt: skip
            found = next((PciAddress(bus, slot) for bus, model in buses
                          for slot in range(0 if model == "dmi-to-pci-bridge" else 1, 32)
                          if not slots.in_use(bus, slot)), None)  # fmt: skip
            if found is None:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "automatic placement of a 'pci-bridge' "
                                        "controller on q35 without a bus to plug it into is not supported by the "
                                        "QEMU driver yet; give it an <address>")  # fmt: skip
            addr = found
        else:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    f"automatic placement of a '{c.model}' controller on q35 is not supported "
                                    "by the QEMU driver yet; give it an <address>")  # fmt: skip
        slots.reserve(addr)
        c.address = addr.to_address()


def _other_device_on(dom: Domain, slot: int) -> bool:
    """Whether a device other than a controller sits in a slot of pcie-root."""
    for dev in _all_addressed(dom):
        if isinstance(dev, Controller):
            continue
        a = pci_address(getattr(dev, "address", None))
        if a is not None and (a.bus, a.slot) == (0, slot):
            return True
    return False


def _set_all_multi(dom: Domain) -> None:
    """Function 0 of a slot with more functions in use is marked multifunction, unless the XML says otherwise."""
    by_slot: dict[tuple[int, int], list[Any]] = {}
    for dev in _all_addressed(dom):
        a = pci_address(getattr(dev, "address", None))
        if a is not None:
            by_slot.setdefault((a.bus, a.slot), []).append(dev)
    for devs in by_slot.values():
        if len(devs) < 2:
            continue
        for dev in devs:
            a = pci_address(dev.address)
            if a is not None and a.function == 0 and "multifunction" not in dev.address.attrs:
                dev.address = Address(attrs={**dev.address.attrs, "multifunction": "on"})


def _aggregate_slot(slots: Slots, aggregate: set[int]) -> PciAddress:
    """The first pcie-root slot that is empty or already holds only root ports with a function to spare."""
    for slot in range(1, 32):
        used = slots.used.get((0, slot), set())
        if not used:
            aggregate.add(slot)
            return PciAddress(0, slot, 0)
        if slot in aggregate and len(used) < 8:
            return PciAddress(0, slot, min(set(range(8)) - used))
    raise InternalError(ErrorCode.INTERNAL_ERROR, "No more available PCI slots")
