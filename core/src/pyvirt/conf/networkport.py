"""Network port XML (``<networkport>``): one guest NIC's place on a virtual network.

libvirt's network driver keeps one port per guest interface plugged into a
network (``virNetworkPortCreateXML``); the hypervisor driver creates it when the
guest starts or the NIC is hot-plugged, and the network driver records how the
NIC is plugged (``<plug>``). Parse and format follow libvirt 9.0's
``virNetworkPortDefParseXML`` / ``virNetworkPortDefFormatBuf``
(src/conf/virnetworkportdef.c), so a port read back prints exactly as libvirt
prints it (tests/virnetworkportxml2xmldata).
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.common import document_to_string, normalize_uuid, parse_document
from pyvirt.conf.domain_devices import Bandwidth, VirtualPort, Vlan
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, InternalError, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated, Any

__all__ = ["NetworkPort", "format_port", "parse_port"]

# virNetworkPortPlugType, virNetworkBridgeMACTableManagerType (0 "default" is not accepted in a port),
# virNetDevMacVLanMode and virNetworkForwardDriverNameType (0 "default" is not accepted either)
PLUG_TYPES = ("none", "network", "bridge", "direct", "hostdev-pci")
_MAC_TABLE_MANAGERS = ("kernel", "libvirt")
_MACVLAN_MODES = ("vepa", "private", "bridge", "passthrough")
_DRIVER_NAMES = ("kvm", "vfio", "xen")


class PortBandwidth(Bandwidth):
    """A port's ``<bandwidth>``: a NIC's, plus the ``classID`` the network gave it for its floor."""

    class_id: Annotated[int | None, X("@classID")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        # virNetDevBandwidthParse with allowFloor: a port may carry a floor whatever its network
        super().xml_parse_extra(elem, values)


class PortVirtualPort(VirtualPort):
    """A port's ``<virtualport>``: parsed with flags 0 (virNetDevVPortProfileParse), so no ids are generated."""

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        given = {name for name in ("instanceid", "interfaceid") if values.get(name) is not None}
        super().xml_parse_extra(elem, values)
        for name in ("instanceid", "interfaceid"):
            if name not in given:
                values[name] = None


class PciAddress(XmlModel):
    """``<plug><address>``: virPCIDeviceAddressFormat without a type attribute."""

    domain: Annotated[int | None, X("@domain", hex=True, hex_width=4)] = None
    bus: Annotated[int | None, X("@bus", hex=True, hex_width=2)] = None
    slot: Annotated[int | None, X("@slot", hex=True, hex_width=2)] = None
    function: Annotated[int | None, X("@function", hex=True, hex_width=1)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        for key in ("domain", "bus", "slot", "function"):  # virPCIDeviceAddressParseXML: each defaults to 0
            if values.get(key) is None:
                values[key] = 0


class Plug(XmlModel):
    """``<plug>``: how the network driver connected the NIC (virNetworkPortDef's plug union)."""

    type: Annotated[str | None, X("@type")] = None
    bridge: Annotated[str | None, X("@bridge")] = None
    macTableManager: Annotated[str | None, X("@macTableManager")] = None  # noqa: N815
    dev: Annotated[str | None, X("@dev")] = None
    mode: Annotated[str | None, X("@mode")] = None
    managed: Annotated[bool | None, X("@managed")] = None
    driver: Annotated[str | None, X("driver/@name")] = None
    address: Annotated[PciAddress | None, X("address", model=PciAddress)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        kind = values.get("type") or "none"
        if kind not in PLUG_TYPES:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'plug': '{kind}'.")
        values["type"] = kind
        # what another plug type carries is not read (libvirt's union keeps one member)
        keep = {"network": ("bridge", "macTableManager"), "bridge": ("bridge", "macTableManager"),
                "direct": ("dev", "mode"), "hostdev-pci": ("managed", "driver", "address")}.get(kind, ())  # fmt: skip
        for name in ("bridge", "macTableManager", "dev", "mode", "managed", "driver", "address"):
            if name not in keep:
                values[name] = None
        if kind in ("network", "bridge"):
            if values.get("bridge") is None:
                raise XMLError(ErrorCode.XML_ERROR, "Missing network port bridge name")
            macmgr = values.get("macTableManager")
            if macmgr is not None and macmgr not in _MAC_TABLE_MANAGERS:
                raise XMLError(ErrorCode.XML_ERROR, f"Invalid macTableManager setting '{macmgr}' in network port")
        elif kind == "direct":
            if values.get("dev") is None:
                raise XMLError(ErrorCode.XML_ERROR, "Missing network port link device name")
            mode = values.get("mode")
            if mode is not None and mode not in _MACVLAN_MODES:
                raise XMLError(ErrorCode.XML_ERROR, f"Invalid mode setting '{mode}' in network port")
            values["mode"] = mode or _MACVLAN_MODES[0]  # formatted always, the enum's 0 when not given
        elif kind == "hostdev-pci":
            driver = values.get("driver")
            if driver is not None and driver not in _DRIVER_NAMES:
                raise XMLError(ErrorCode.XML_ERROR, "Missing network port driver name")
            if values.get("address") is None:
                raise XMLError(ErrorCode.XML_ERROR, "Missing network port PCI address")


class NetworkPort(XmlModel):
    """``<networkport>``, in virNetworkPortDefFormatBuf's element order."""

    TAG = "networkport"
    uuid: Annotated[str | None, X("uuid")] = None
    owner_name: Annotated[str | None, X("owner/name")] = None
    owner_uuid: Annotated[str | None, X("owner/uuid")] = None
    group: Annotated[str | None, X("group")] = None
    mac: Annotated[str | None, X("mac/@address")] = None
    virtualport: Annotated[PortVirtualPort | None, X("virtualport", model=PortVirtualPort)] = None
    bandwidth: Annotated[PortBandwidth | None, X("bandwidth", model=PortBandwidth)] = None
    vlan: Annotated[Vlan | None, X("vlan", model=Vlan)] = None
    isolated: Annotated[bool | None, X("port/@isolated")] = None
    trust_guest_rx_filters: Annotated[bool | None, X("rxfilters/@trustGuest")] = None
    plug: Annotated[Plug | None, X("plug", model=Plug)] = None

    @property
    def plug_type(self) -> str:
        return self.plug.type or "none" if self.plug is not None else "none"


def _uuid(text: str) -> str:
    try:
        return normalize_uuid(text)
    except XMLError:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Unable to parse UUID '{text}'") from None


def parse_port(xml: str | bytes) -> NetworkPort:
    """virNetworkPortDefParse: the checks and errors of virNetworkPortDefParseXML, in its order."""
    port = parse_document(NetworkPort, xml, "networkport_definition")
    if not port.uuid:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "network port has no uuid")
    port.uuid = _uuid(port.uuid)
    if not port.owner_name:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "network port has no owner name")
    if not port.owner_uuid:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "network port has no owner UUID")
    port.owner_uuid = _uuid(port.owner_uuid)
    if not port.mac:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "network port has no mac")
    port.mac = _mac(port.mac)
    if port.plug is not None and port.plug.type == "none":
        port.plug = None  # nothing of a "none" plug is written
    return port


def _mac(text: str) -> str:
    """virMacAddrParse, then virMacAddrFormat's lower-case two digits per byte."""
    parts = text.split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Unable to parse MAC '{text}'")
    return ":".join(f"{int(p, 16):02x}" for p in parts)


def format_port(port: NetworkPort) -> str:
    """virNetworkPortDefFormat."""
    return document_to_string(port)
