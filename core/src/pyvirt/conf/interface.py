"""Host network interface XML (``<interface>`` of the interface driver, not a guest NIC)."""

from __future__ import annotations

from pyvirt.conf.common import document_to_string, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated, ClassVar

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


class HostInterface(XmlModel):
    TAG = "interface"
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset({"bridge", "bond", "vlan"})
    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("@name")] = None
    start_mode: Annotated[str | None, X("start/@mode")] = None
    mtu: Annotated[int | None, X("mtu/@size")] = None
    protocols: Annotated[list[Protocol] | None, X("protocol", model=Protocol, many=True)] = None
    mac: Annotated[str | None, X("mac/@address")] = None
    link_speed: Annotated[int | None, X("link/@speed")] = None
    link_state: Annotated[str | None, X("link/@state")] = None


def parse_interface(xml: str | bytes) -> HostInterface:
    """virInterfaceDefParseXML's checks, in its order and words: the type (virXMLPropEnum, required), then the
    name (virInterfaceDefParseName: present, nothing more; libvirt takes an empty name or one with '/')."""
    iface = parse_document(HostInterface, xml, "interface_definition")
    if iface.type is None:
        raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'type' in element 'interface'")
    if iface.type not in ("ethernet", "bridge", "bond", "vlan"):
        raise XMLError(
            ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'interface': '{iface.type}'."
        )
    if iface.name is None:
        raise XMLError(ErrorCode.XML_ERROR, "interface has no name")
    return iface


def format_interface(iface: HostInterface) -> str:
    return document_to_string(iface)
