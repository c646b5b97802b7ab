"""The attribute tables of nwfilter rules: which attributes each protocol element has, of which types.

libvirt describes a rule's protocol element by a table per protocol
(``virXMLAttr2Struct`` arrays in ``src/conf/nwfilter_conf.c``: the attribute,
the value types it may take, tried in bit order, and a validator/formatter for
the special ones). The order of each table is the order libvirt writes the
attributes back, so it is kept here exactly, as data; ``conf/nwfilter.py``
parses and formats with it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["ATTRIBUTES", "PROTOCOLS", "Attr", "DataType"]


class DataType:
    """libvirt's ``enum attrDatatype`` bits: a value is tried as each type of its attribute, lowest bit first."""

    UINT16 = 1 << 0
    UINT8 = 1 << 1
    UINT16_HEX = 1 << 2
    UINT8_HEX = 1 << 3
    MACADDR = 1 << 4
    MACMASK = 1 << 5
    IPADDR = 1 << 6
    IPMASK = 1 << 7
    STRING = 1 << 8
    IPV6ADDR = 1 << 9
    IPV6MASK = 1 << 10
    STRINGCOPY = 1 << 11
    BOOLEAN = 1 << 12
    UINT32 = 1 << 13
    UINT32_HEX = 1 << 14
    IPSETNAME = 1 << 15
    IPSETFLAGS = 1 << 16
    LAST = 1 << 17


class Attr(NamedTuple):
    """One attribute of a protocol element; ``special`` names its validator/formatter pair, if any."""

    name: str
    types: int
    special: str = ""


_D = DataType
_U8 = _D.UINT8 | _D.UINT8_HEX
_U16 = _D.UINT16 | _D.UINT16_HEX
_U32 = _D.UINT32 | _D.UINT32_HEX


def _mac_common() -> tuple[Attr, ...]:
    return (Attr("srcmacaddr", _D.MACADDR), Attr("srcmacmask", _D.MACMASK),
            Attr("dstmacaddr", _D.MACADDR), Attr("dstmacmask", _D.MACMASK))  # fmt: skip


_COMMENT = Attr("comment", _D.STRINGCOPY)


def _ip_common(addr: int, mask: int) -> tuple[Attr, ...]:
    # COMMON_IP_PROPS: libvirt types dstipto as an IPv4 address even in the -ipv6 elements; kept as it is
    return (
        Attr("srcmacaddr", _D.MACADDR),
        Attr("srcipaddr", addr), Attr("srcipmask", mask), Attr("dstipaddr", addr), Attr("dstipmask", mask),
        Attr("srcipfrom", addr), Attr("srcipto", addr), Attr("dstipfrom", addr), Attr("dstipto", _D.IPADDR),
        Attr("dscp", _U8, "dscp"),
        Attr("connlimit-above", _D.UINT16),
        Attr("state", _D.STRING, "state"),
        Attr("ipset", _D.IPSETNAME, "ipset"),
        Attr("ipsetflags", _D.IPSETFLAGS, "ipsetflags"),
    )  # fmt: skip


_PORTS = (Attr("srcportstart", _U16), Attr("srcportend", _U16), Attr("dstportstart", _U16),
          Attr("dstportend", _U16))  # fmt: skip
_V4 = _ip_common(_D.IPADDR, _D.IPMASK)
_V6 = _ip_common(_D.IPV6ADDR, _D.IPV6MASK)
_ICMP = (Attr("type", _U8), Attr("code", _U8))

_STP = (
    Attr("srcmacaddr", _D.MACADDR), Attr("srcmacmask", _D.MACMASK),
    Attr("type", _U8), Attr("flags", _U8),
    Attr("root-priority", _U16), Attr("root-priority-hi", _U16),
    Attr("root-address", _D.MACADDR), Attr("root-address-mask", _D.MACMASK),
    Attr("root-cost", _U32), Attr("root-cost-hi", _U32),
    Attr("sender-priority", _U16), Attr("sender-priority-hi", _U16),
    Attr("sender-address", _D.MACADDR), Attr("sender-address-mask", _D.MACMASK),
    Attr("port", _U16), Attr("port-hi", _U16), Attr("age", _U16), Attr("age-hi", _U16),
    Attr("max-age", _U16), Attr("max-age-hi", _U16), Attr("hello-time", _U16), Attr("hello-time-hi", _U16),
    Attr("forward-delay", _U16), Attr("forward-delay-hi", _U16),
    _COMMENT,
)  # fmt: skip

_ARP = (
    *_mac_common(),
    Attr("hwtype", _U16), Attr("protocoltype", _U16), Attr("opcode", _U16 | _D.STRING, "opcode"),
    Attr("arpsrcmacaddr", _D.MACADDR), Attr("arpdstmacaddr", _D.MACADDR),
    Attr("arpsrcipaddr", _D.IPADDR), Attr("arpsrcipmask", _D.IPMASK),
    Attr("arpdstipaddr", _D.IPADDR), Attr("arpdstipmask", _D.IPMASK),
    Attr("gratuitous", _D.BOOLEAN),
    _COMMENT,
)  # fmt: skip


def _ip_element(addr: int, mask: int) -> tuple[Attr, ...]:
    return (*_mac_common(), Attr("srcipaddr", addr), Attr("srcipmask", mask), Attr("dstipaddr", addr),
            Attr("dstipmask", mask), Attr("protocol", _D.STRING | _U8, "ipprotocol"), *_PORTS)  # fmt: skip


ATTRIBUTES: dict[str, tuple[Attr, ...]] = {
    "arp": _ARP,
    "rarp": _ARP,
    "mac": (*_mac_common(), Attr("protocolid", _U16 | _D.STRING, "macprotocol"), _COMMENT),
    "vlan": (
        *_mac_common(),
        Attr("vlanid", _U16, "vlanid"),
        Attr("encap-protocol", _U16 | _D.STRING, "vlanprotocol"),
        _COMMENT,
    ),
    "stp": _STP,
    "ip": (*_ip_element(_D.IPADDR, _D.IPMASK), Attr("dscp", _U8, "dscp"), _COMMENT),
    "ipv6": (
        *_ip_element(_D.IPV6ADDR, _D.IPV6MASK),
        Attr("type", _U8),
        Attr("typeend", _U8),
        Attr("code", _U8),
        Attr("codeend", _U8),
        _COMMENT,
    ),
    "tcp": (*_V4, *_PORTS, Attr("option", _U8), Attr("flags", _D.STRING, "tcpflags"), _COMMENT),
    "udp": (*_V4, *_PORTS, _COMMENT),
    "udplite": (*_V4, _COMMENT),
    "esp": (*_V4, _COMMENT),
    "ah": (*_V4, _COMMENT),
    "sctp": (*_V4, *_PORTS, _COMMENT),
    "icmp": (*_V4, *_ICMP, _COMMENT),
    "all": (*_V4, _COMMENT),
    "igmp": (*_V4, _COMMENT),
    "tcp-ipv6": (*_V6, *_PORTS, Attr("option", _U8), _COMMENT),
    "udp-ipv6": (*_V6, *_PORTS, _COMMENT),
    "udplite-ipv6": (*_V6, _COMMENT),
    "esp-ipv6": (*_V6, _COMMENT),
    "ah-ipv6": (*_V6, _COMMENT),
    "sctp-ipv6": (*_V6, *_PORTS, _COMMENT),
    "icmpv6": (*_V6, *_ICMP, _COMMENT),
    "all-ipv6": (*_V6, _COMMENT),
}
"""Protocol element -> its attributes, in libvirt's table order (virAttr[] in nwfilter_conf.c)."""

PROTOCOLS = tuple(ATTRIBUTES)
"""The protocol elements in libvirt's lookup order (virAttr[])."""
