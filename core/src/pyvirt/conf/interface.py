"""Host network interface XML (``<interface>`` of the interface driver, not a guest NIC)."""

from __future__ import annotations

from pyvirt.conf.common import document_to_string, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated

__all__ = ["HostInterface", "format_interface", "parse_interface"]


class ProtoIp(XmlModel):
    address: Annotated[str | None, X("@address")] = None
    prefix: Annotated[int | None, X("@prefix")] = None


class Protocol(XmlModel):
    family: Annotated[str | None, X("@family")] = None
    autoconf: Annotated[bool | None, X("autoconf", flag=True)] = None
    dhcp: Annotated[bool | None, X("dhcp", flag=True)] = None
    dhcp_peerdns: Annotated[bool | None, X("dhcp/@peerdns")] = None
    ips: Annotated[list[ProtoIp] | None, X("ip", model=ProtoIp, many=True)] = None
    route_gateway: Annotated[str | None, X("route/@gateway")] = None


class BridgeDef(XmlModel):
    """``<bridge>``: libvirt keeps ``stp`` only as on/off (virInterfaceDefParseBridge) and ``delay`` as text."""

    stp: Annotated[str | None, X("@stp")] = None
    delay: Annotated[str | None, X("@delay")] = None
    interfaces: Annotated[list[HostInterface] | None, X("interface", model=HostInterface, many=True)] = None


class MiiMon(XmlModel):
    # read as text: virInterfaceDefParseBond checks each number itself, in its own words
    freq: Annotated[str | None, X("@freq")] = None
    downdelay: Annotated[str | None, X("@downdelay")] = None
    updelay: Annotated[str | None, X("@updelay")] = None
    carrier: Annotated[str | None, X("@carrier")] = None


class ArpMon(XmlModel):
    interval: Annotated[str | None, X("@interval")] = None
    target: Annotated[str | None, X("@target")] = None
    validate: Annotated[str | None, X("@validate")] = None


class BondDef(XmlModel):
    mode: Annotated[str | None, X("@mode")] = None
    miimon: Annotated[MiiMon | None, X("miimon", model=MiiMon)] = None
    arpmon: Annotated[ArpMon | None, X("arpmon", model=ArpMon)] = None
    interfaces: Annotated[list[HostInterface] | None, X("interface", model=HostInterface, many=True)] = None


class VlanDef(XmlModel):
    tag: Annotated[str | None, X("@tag")] = None
    dev_name: Annotated[str | None, X("interface/@name")] = None


class HostInterface(XmlModel):
    """One host interface; a bridge's or bond's members are interfaces too (virInterfaceDef nests itself).

    The fields are in virInterfaceDefDevFormat's order: start, mtu and protocols (top level only), link (not
    on a bridge), then the type's own part: an ethernet's MAC, or the bridge, bond or vlan element.
    """

    TAG = "interface"
    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("@name")] = None
    start_mode: Annotated[str | None, X("start/@mode")] = None
    mtu: Annotated[int | None, X("mtu/@size")] = None
    protocols: Annotated[list[Protocol] | None, X("protocol", model=Protocol, many=True)] = None
    link_speed: Annotated[int | None, X("link/@speed")] = None
    link_state: Annotated[str | None, X("link/@state")] = None
    mac: Annotated[str | None, X("mac/@address")] = None
    bridge: Annotated[BridgeDef | None, X("bridge", model=BridgeDef)] = None
    bond: Annotated[BondDef | None, X("bond", model=BondDef)] = None
    vlan: Annotated[VlanDef | None, X("vlan", model=VlanDef)] = None


_TYPES = ("ethernet", "bridge", "bond", "vlan")
# the member types virInterfaceDefParseXML takes under each parent type (none under ethernet or vlan)
_MEMBER_TYPES = {"bridge": ("ethernet", "bond", "vlan"), "bond": ("ethernet",)}
_BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
# libvirt writes an <interface>, <bridge>, <bond> or <protocol> with its open and close tags even when it
# holds nothing; the vlan's member (<interface name='eth0'/>) is an empty element
_KEEP_OPEN = ("/interface", "bridge/interface", "bond/interface", "bridge", "bond", "protocol")


def _xml_error(message: str) -> XMLError:
    return XMLError(ErrorCode.XML_ERROR, message)


def _number(value: str | None, required: bool, message: str) -> str | None:
    """virXPathInt's reading: missing is -1 (an error only when ``required``), not a number -2 (always one)."""
    if value is None:
        if required:
            raise _xml_error(message)
        return None
    try:
        return str(int(value.strip()))
    except ValueError:
        raise _xml_error(message) from None


def _check_bond(bond: BondDef) -> None:
    """virInterfaceDefParseBond's checks and what it keeps (mode, then members, then one monitor)."""
    if bond.mode is not None and bond.mode not in _BOND_MODES:
        raise _xml_error(f"unknown bonding mode {bond.mode}")
    for member in bond.interfaces or []:
        _check(member, "bond")
    if bond.miimon is not None:
        mii, bond.arpmon = bond.miimon, None
        mii.freq = _number(mii.freq, True, "bond interface miimon freq missing or invalid")
        mii.downdelay = _number(mii.downdelay, False, "bond interface miimon downdelay invalid")
        mii.updelay = _number(mii.updelay, False, "bond interface miimon updelay invalid")
        # only positive delays are written back (virInterfaceBondDefFormat)
        mii.downdelay = mii.downdelay if mii.downdelay and int(mii.downdelay) > 0 else None
        mii.updelay = mii.updelay if mii.updelay and int(mii.updelay) > 0 else None
        if mii.carrier is not None and mii.carrier not in ("ioctl", "netif"):
            raise _xml_error(f"unknown mii bonding carrier {mii.carrier}")
    elif bond.arpmon is not None:
        arp = bond.arpmon
        arp.interval = _number(arp.interval, True, "bond interface arpmon interval missing or invalid")
        if arp.target is None:
            raise _xml_error("bond interface arpmon target missing")
        if arp.validate is not None and arp.validate not in ("active", "backup", "all"):
            raise _xml_error(f"unknown arp bonding validate {arp.validate}")


def _check(iface: HostInterface, parent: str | None) -> None:
    """virInterfaceDefParseXML for one interface under ``parent`` (None: the document's), keeping only what
    libvirt keeps: start mode, MTU and addressing on the top level, a link except on a bridge, a MAC on an
    ethernet, and the one element of the interface's own type."""
    if iface.type is None:
        raise _xml_error("Missing required attribute 'type' in element 'interface'")
    if iface.type not in _TYPES:
        raise _xml_error(f"Invalid value for attribute 'type' in element 'interface': '{iface.type}'.")
    if parent is not None and iface.type not in _MEMBER_TYPES.get(parent, ()):
        raise _xml_error(f"interface has unsupported type '{iface.type}'")
    if iface.name is None:
        raise _xml_error("interface has no name")
    if parent is not None:
        iface.start_mode, iface.mtu, iface.protocols = None, None, None
    if iface.type == "bridge":
        iface.link_speed = iface.link_state = None
    if iface.type != "ethernet":
        iface.mac = None
    iface.bridge = iface.bridge if iface.type == "bridge" else None
    iface.bond = iface.bond if iface.type == "bond" else None
    iface.vlan = iface.vlan if iface.type == "vlan" else None
    if iface.type != "ethernet" and (iface.bridge or iface.bond or iface.vlan) is None:
        raise _xml_error(f"{iface.type} interface misses the {iface.type} element")
    if iface.bridge is not None:
        if iface.bridge.stp not in (None, "on", "off"):
            # virInterfaceDefParseBridge reports "bridge interface stp should be on or off" and returns 0 before
            # it reads the delay and the members: the definition succeeds with an empty bridge, as here
            iface.bridge = BridgeDef()
        for member in iface.bridge.interfaces or []:
            _check(member, "bridge")
    if iface.bond is not None:
        _check_bond(iface.bond)
    if iface.vlan is not None:
        if iface.vlan.tag is None:
            raise _xml_error("vlan interface misses the tag attribute")
        if iface.vlan.dev_name is None:
            raise _xml_error("vlan interface misses name attribute")


def parse_interface(xml: str | bytes) -> HostInterface:
    """virInterfaceDefParseString: the document, then virInterfaceDefParseXML's checks in its order and words
    (the type, required; the name, present and nothing more: libvirt takes an empty name or one with '/')."""
    iface = parse_document(HostInterface, xml, "interface_definition")
    _check(iface, None)
    return iface


def format_interface(iface: HostInterface) -> str:
    return document_to_string(iface, keep_open=_KEEP_OPEN)
