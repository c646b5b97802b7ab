"""USB ports for a guest's USB devices, as libvirt's QEMU driver hands them out (qemuDomainAssignUSBAddresses).

Each USB controller is a bus with a model-given number of ports; a ``<hub type='usb'>`` on a port adds eight
more below it. Ports the XML names are reserved first, which is where a definition naming a port that does
not exist, or one already taken, is refused with libvirt's words. Hubs without a port get one next, then
every other device takes the first free port, depth first through the hubs, in libvirt's device order. When
the guest has more USB devices than ports, hubs are added first, exactly as many as libvirt adds, so the
guest gets the same USB topology (and QEMU the same ``bus=usb.0,port=1.2``) as under libvirt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, GenericDevice
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError

__all__ = ["HUB_PORTS", "UsbHub", "assign_usb_addresses", "controller_ports", "usb_devices"]

HUB_PORTS = 8  # VIR_DOMAIN_USB_HUB_PORTS
_MAX_DEPTH = 4  # VIR_DOMAIN_DEVICE_USB_MAX_PORT_DEPTH
# virDomainUSBAddressControllerModelToPorts; the ICH9 UHCI companions add none (their EHCI1 master has them)
_MODEL_PORTS = {None: 2, "piix3-uhci": 2, "piix4-uhci": 2, "vt82c686b-uhci": 2, "ehci": 6, "ich9-ehci1": 6,
                "ich9-uhci1": 0, "ich9-uhci2": 0, "ich9-uhci3": 0, "pci-ohci": 3, "nec-xhci": 4, "qemu-xhci": 4,
                "qusb1": 8, "qusb2": 8, "none": 0}  # fmt: skip
_PORTS_ATTRIBUTE = ("nec-xhci", "qemu-xhci", "qusb1", "qusb2")  # models whose ``ports`` attribute counts


class UsbHub:
    """A ``<hub type='usb'>`` seen as a device with an address (the model keeps the hub's children verbatim)."""

    def __init__(self, hub: GenericDevice) -> None:
        self.hub = hub

    def _children(self) -> list[etree._Element]:
        return list(etree.fromstring(f"<hub>{self.hub.content or ''}</hub>"))

    @property
    def address(self) -> Address | None:
        found = next((el for el in self._children() if el.tag == "address"), None)
        return None if found is None else Address(attrs={str(k): str(v) for k, v in found.attrib.items()})

    @address.setter
    def address(self, value: Address | None) -> None:
        kept = [etree.tostring(el, encoding="unicode").strip() for el in self._children() if el.tag != "address"]
        if value is not None:
            el = etree.Element("address", {k: v for k, v in value.attrs.items()})
            kept.append(etree.tostring(el, encoding="unicode"))
        self.hub.content = "".join(kept) or None

    @property
    def user_alias(self) -> str | None:
        """A ``<alias name='ua-...'/>`` the user gave the hub (libvirt keeps only those)."""
        found = next((el for el in self._children() if el.tag == "alias"), None)
        name = found.get("name") if found is not None else None
        return str(name) if name is not None and str(name).startswith("ua-") else None


def usb_devices(dom: Domain, hubs: bool = True) -> list[Any]:
    """The devices that take a USB port, in libvirt's order (virDomainUSBDeviceDefForeach)."""
    d = dom.devices
    if d is None:
        return []
    out: list[Any] = [UsbHub(h) for h in d.hubs if h.type == "usb"] if hubs else []
    out += [h for h in d.hostdevs if h.type == "usb" and (h.mode or "subsystem") == "subsystem"]
    out += [x for x in d.disks if x.target_bus == "usb"]
    out += [c for c in d.controllers if c.type == "ccid"]
    out += [i for i in d.inputs if i.bus == "usb"]
    out += [s for s in d.serials if s.target_type == "usb-serial"]
    out += [s for s in d.sounds if s.model == "usb"]
    out += [r for r in d.redirdevs if r.bus in (None, "usb")]
    return out


def controller_ports(model: str | None, ports: int | None) -> int:
    """How many ports a USB controller of ``model`` gives its bus."""
    if model in _PORTS_ATTRIBUTE and ports is not None:
        return ports
    return _MODEL_PORTS.get(model, 0)


@dataclass
class _Hub:
    nports: int
    taken: set[int] = field(default_factory=set)  # 0-based
    hubs: dict[int, _Hub] = field(default_factory=dict)  # 0-based port -> hub plugged there


def _port_path(address: Address | None) -> list[int] | None:
    """The port path of a USB address (``1.2.3`` -> [1, 2, 3]); None when it names no port yet."""
    if address is None or address.attrs.get("type") != "usb":
        return None
    text = address.attrs.get("port")
    if not text:
        return None
    path = [int(p) for p in text.split(".")]
    return path if path and path[0] != 0 else None


def _bus(address: Address) -> int:
    return int(address.attrs.get("bus", "0"), 0)


class _AddressSet:
    """libvirt's virDomainUSBAddressSet: one tree of hubs per USB bus."""

    def __init__(self) -> None:
        self.buses: dict[int, _Hub] = {}

    def add_controller(self, index: int, nports: int) -> None:
        if nports == 0:
            return
        if index in self.buses:
            raise XMLError(ErrorCode.XML_ERROR, f"Duplicate USB controllers with index {index}")
        self.buses[index] = _Hub(nports)

    def find_port(self, bus: int, path: list[int]) -> tuple[_Hub, int]:
        """virDomainUSBAddressFindPort: the hub the last port of ``path`` is on, and that port (0-based)."""
        text = ".".join(map(str, path))
        hub = self.buses.get(bus)
        if hub is None:
            raise XMLError(ErrorCode.XML_ERROR, f"Missing USB bus {bus}")
        for port in path[:-1]:
            if hub.nports <= port - 1:
                raise XMLError(ErrorCode.XML_ERROR, f"port {port} out of range in USB address bus: {bus} port: {text}")
            below = hub.hubs.get(port - 1)
            if below is None:
                raise XMLError(ErrorCode.XML_ERROR,
                               f"there is no hub at port {port} in USB address bus: {bus} port: {text}")  # fmt: skip
            hub = below
        target = path[-1] - 1
        if target >= hub.nports:
            raise XMLError(ErrorCode.XML_ERROR, f"requested USB port {text} not present on USB bus {bus}")
        return hub, target

    def add_hub(self, address: Address) -> None:
        path = _port_path(address)
        assert path is not None
        hub, port = self.find_port(_bus(address), path)
        if port in hub.hubs:
            raise XMLError(
                ErrorCode.XML_ERROR, f"Duplicate USB hub on bus {_bus(address)} port {'.'.join(map(str, path))}"
            )
        hub.taken.add(port)
        hub.hubs[port] = _Hub(HUB_PORTS)

    def reserve(self, address: Address) -> None:
        path = _port_path(address)
        if path is None:
            return
        hub, port = self.find_port(_bus(address), path)
        if port in hub.taken:
            raise XMLError(
                ErrorCode.XML_ERROR, f"Duplicate USB address bus {_bus(address)} port {'.'.join(map(str, path))}"
            )
        hub.taken.add(port)

    def _free_port(self, hub: _Hub, level: int) -> list[int] | None:
        """virDomainUSBAddressFindFreePort: the hub's first free port, else the first free one below it."""
        free = next((p for p in range(hub.nports) if p not in hub.taken), None)
        if free is not None:
            return [free + 1]
        if level >= _MAX_DEPTH - 1:
            return None
        for port in sorted(hub.hubs):
            below = self._free_port(hub.hubs[port], level + 1)
            if below is not None:
                return [port + 1, *below]
        return None

    def assign(self, dev: Any) -> None:
        """virDomainUSBAddressAssign: the first free port of the bus the address names, else of any bus."""
        address = dev.address
        if address is not None and address.attrs.get("type") == "usb":
            bus = _bus(address)
            if bus not in self.buses:
                raise XMLError(ErrorCode.XML_ERROR,
                               f"USB bus {bus} requested but no controller with that index is present")  # fmt: skip
            candidates = [bus]
        else:
            candidates = sorted(self.buses)
        for bus in candidates:
            path = self._free_port(self.buses[bus], 0)
            if path is not None:
                dev.address = Address(attrs={"type": "usb", "bus": str(bus), "port": ".".join(map(str, path))})
                self.reserve(dev.address)
                return
        raise InternalError(ErrorCode.INTERNAL_ERROR, "No free USB ports")


def _wants_port(dev: Any) -> bool:
    address = dev.address
    kind = address.attrs.get("type") if address is not None else None
    return kind is None or (kind == "usb" and _port_path(address) is None)


def assign_usb_addresses(dom: Domain) -> None:
    """Give every USB device a port, adding hubs where the controllers' ports do not suffice."""
    d = dom.devices
    if d is None:
        return
    usb_controllers = [c for c in d.controllers if c.type == "usb"]
    count = len(usb_devices(dom))
    if count and not any(c.model != "none" for c in usb_controllers):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "USB is disabled for this domain, but USB devices are present in the domain XML")  # fmt: skip
    available = sum(controller_ports(c.model, c.ports) for c in usb_controllers)
    available += HUB_PORTS * sum(1 for h in d.hubs if h.type == "usb")
    if count > available:  # qemuDomainUSBAddressAddHubs: each added hub takes one port and gives eight
        needed = -(-(count - available + 1) // (HUB_PORTS - 1))
        d.hubs = [*d.hubs, *(GenericDevice(type="usb") for _ in range(needed))]
    addrs = _AddressSet()
    for c in usb_controllers:
        addrs.add_controller(c.index or 0, controller_ports(c.model, c.ports))
    hubs = [UsbHub(h) for h in d.hubs if h.type == "usb"]
    for hub in hubs:
        if _port_path(hub.address) is not None:
            assert hub.address is not None
            addrs.add_hub(hub.address)
    devices = usb_devices(dom, hubs=False)
    for dev in devices:
        if dev.address is not None:
            addrs.reserve(dev.address)
    for hub in hubs:
        if _port_path(hub.address) is None:
            addrs.assign(hub)
            assert hub.address is not None
            addrs.add_hub(hub.address)
    for dev in devices:
        if _wants_port(dev):
            addrs.assign(dev)
