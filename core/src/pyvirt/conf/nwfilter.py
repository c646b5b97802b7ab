"""Network filter XML (``<filter>``); bindings are ``conf/nwfilter_binding.py``, values ``conf/nwfilter_values.py``.

libvirt parses a rule's protocol element with a table per protocol (the
attribute, the value types it may take, tried in bit order, special
validators), keeps which attributes were given and whether they were negated
(``match='no'``) or name a variable (``$IP``), and formats them back in table
order with values normalized (MAC addresses in two-digit hex, masks as prefix
lengths, numbers in the base they were given in). Its formatter also splits an
element in two where negated and plain attributes alternate. That layout is
not expressible as one field per attribute, so this module follows libvirt's
table (``conf/nwfilter_attrs.py``) instead of ``xmlmodel``; what it keeps is
exactly what libvirt keeps, and it refuses, with libvirt's message, every
value libvirt refuses (``virNWFilterDefParseXML`` and
``virNWFilterRuleDetailsParse`` in ``src/conf/nwfilter_conf.c``).
"""

from __future__ import annotations

import re
import socket
import uuid as _uuid

from pyvirt.conf.nwfilter_attrs import ATTRIBUTES, PROTOCOLS, Attr, DataType
from pyvirt.conf.nwfilter_values import (
    SPACE,
    VALID_VARNAME,
    contiguous,
    escape,
    format_mac,
    format_params,
    mask_bits,
    parse_ip,
    parse_mac,
    parse_params,
    parse_uuid,
    print_items,
    string_items,
    strtol,
    strtoul,
)
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import Error, ErrorCode, ErrorDomain

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "ACTIONS",
    "DIRECTIONS",
    "FilterRef",
    "Item",
    "NWFilter",
    "Rule",
    "VarAccess",
    "format_nwfilter",
    "parse_nwfilter",
]

ACTIONS = ("drop", "accept", "reject", "return", "continue")
DIRECTIONS = ("in", "out", "inout")
_CHAIN_SUFFIXES = ("root", "mac", "vlan", "stp", "arp", "rarp", "ipv4", "ipv6")
# default priority of a chain by its prefix (chain_priorities[]); stp has none there, it gets the middle (0)
_CHAIN_PRIORITIES = {"root": 0, "mac": -800, "vlan": -750, "ipv4": -700, "ipv6": -600, "arp": -500, "rarp": -400}
_MAX_RULE_PRIORITY = 1000
_MIN_FILTER_PRIORITY = -1000
_VALID_CHAINNAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")
_VALID_IPSETNAME = _VALID_CHAINNAME | frozenset("+ ")
_MAX_ITERID = 1000
_MAX_COMMENT = 256

_MAC_PROTOCOLS = {0x0806: "arp", 0x8035: "rarp", 0x0800: "ipv4", 0x86DD: "ipv6", 0x8100: "vlan"}
_ARP_OPCODES = {1: "Request", 2: "Reply", 3: "Request_Reverse", 4: "Reply_Reverse", 5: "DRARP_Request",
                6: "DRARP_Reply", 7: "DRARP_Error", 8: "InARP_Request", 9: "ARP_NAK"}  # fmt: skip
_IP_PROTOCOLS = {6: "tcp", 17: "udp", 136: "udplite", 50: "esp", 51: "ah", 1: "icmp", 2: "igmp", 132: "sctp",
                 58: "icmpv6"}  # fmt: skip
STATE_FLAGS = (("NEW", 1 << 1), ("ESTABLISHED", 1 << 2), ("RELATED", 1 << 3), ("INVALID", 1 << 4), ("NONE", 1 << 5))
"""The connection states a rule's ``state`` attribute names, with libvirt's flag bits (RULE_FLAG_STATE_*)."""
_STATE_NONE = 1 << 5
TCP_FLAGS = (("FIN", 0x1), ("SYN", 0x2), ("RST", 0x4), ("PSH", 0x8), ("ACK", 0x10), ("URG", 0x20), ("ALL", 0x3F),
             ("NONE", 0x0))  # fmt: skip
"""TCP flag names with their bits, in libvirt's order (tcpFlags[])."""

# virNWFilterRuleDefFixup: the attribute whose negation another one takes over, per protocol
_IP_NEG = (("srcipmask", "srcipaddr"), ("dstipmask", "dstipaddr"), ("srcipto", "srcipfrom"), ("dstipto", "dstipfrom"))
_PORT_NEG = (("srcportend", "srcportstart"), ("dstportstart", "srcportstart"), ("dstportend", "srcportstart"))
_MAC_NEG = (("srcmacmask", "srcmacaddr"), ("dstmacmask", "dstmacaddr"))
_FIXUPS: dict[str, tuple[tuple[tuple[str, str], ...], bool]] = {
    "mac": (_MAC_NEG, False),
    "vlan": (_MAC_NEG, False),
    "stp": (
        (
            ("srcmacmask", "srcmacaddr"),
            ("root-priority-hi", "root-priority"),
            ("root-address-mask", "root-address"),
            ("root-cost-hi", "root-cost"),
            ("sender-priority-hi", "sender-priority"),
            ("sender-address-mask", "sender-address"),
            ("port-hi", "port"),
            ("age-hi", "age"),
            ("max-age-hi", "max-age"),
            ("hello-time-hi", "hello-time"),
            ("forward-delay-hi", "forward-delay"),
        ),
        False,
    ),
    "ip": (_IP_NEG[:2], True),
    "ipv6": ((*_IP_NEG[:2], ("typeend", "type"), ("code", "type"), ("codeend", "type")), True),
    "tcp": (_IP_NEG + _PORT_NEG, True),
    "tcp-ipv6": (_IP_NEG + _PORT_NEG, True),
    "udp": (_IP_NEG + _PORT_NEG, True),
    "udp-ipv6": (_IP_NEG + _PORT_NEG, True),
    "sctp": (_IP_NEG + _PORT_NEG, True),
    "sctp-ipv6": (_IP_NEG + _PORT_NEG, True),
    "icmp": ((*_IP_NEG, ("code", "type")), True),
    "icmpv6": ((*_IP_NEG, ("code", "type")), True),
    "all": (_IP_NEG, False),
    "all-ipv6": (_IP_NEG, False),
    **{p: (_IP_NEG, True) for p in ("udplite", "udplite-ipv6", "esp", "esp-ipv6", "ah", "ah-ipv6", "igmp")},
}


def _error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.NWFILTER)


def tcp_flags_text(bits: int) -> str:
    return "NONE" if bits == 0 else "ALL" if bits == 0x3F else print_items(TCP_FLAGS, bits)


# ---------------------------------------------------------------- the model
class VarAccess:
    """A variable a rule attribute names: ``$IP`` (iterator 0), ``$IP[@2]`` (iterator 2), ``$IP[3]`` (element 3)."""

    __slots__ = ("index", "iterator", "name")

    def __init__(self, name: str, iterator: int | None, index: int | None) -> None:
        self.name = name
        self.iterator = iterator
        self.index = index

    @classmethod
    def parse(cls, text: str) -> VarAccess:
        """``virNWFilterVarAccessParse``."""
        idx = len(text) - len(text.lstrip("".join(sorted(VALID_VARNAME))))
        name, rest = text[:idx], text[idx:]
        if not rest:
            return cls(name, 0, None)
        if rest[0] != "[":
            raise _error(ErrorCode.INVALID_ARG, "Malformatted variable")
        body = rest[1:].lstrip(SPACE)
        element = not body.startswith("@")
        if not element:
            body = body[1:]
        m = re.match(r"[ \t\n\v\f\r]*[+-]?[0-9]+", body)
        value = strtoul(m.group(), 10) if m else None
        if m is None or value is None or body[m.end() :].lstrip(SPACE)[:1] != "]":
            raise _error(ErrorCode.INVALID_ARG, "Malformatted array index" if element else "Malformatted iterator id")
        if element:
            return cls(name, None, value)
        if value > _MAX_ITERID:
            raise _error(ErrorCode.INVALID_ARG, f"Iterator ID exceeds maximum ID of {_MAX_ITERID}")
        return cls(name, value, None)

    def __str__(self) -> str:
        if self.index is not None:
            return f"{self.name}[{self.index}]"
        return f"{self.name}[@{self.iterator}]" if self.iterator else self.name


class Item:
    """One attribute of a rule: its value as libvirt keeps it, the type it parsed as, negation, variable."""

    __slots__ = ("datatype", "neg", "value", "var")

    def __init__(self, value: object, datatype: int, neg: bool, var: VarAccess | None = None) -> None:
        self.value = value
        self.datatype = datatype
        self.neg = neg
        self.var = var


class Rule:
    """A ``<rule>``: action, direction, priority, state matching and one protocol's attributes."""

    def __init__(self, action: str, direction: str, priority: int, statematch: bool) -> None:
        self.action = action
        self.direction = direction
        self.priority = priority
        self.statematch = statematch
        self.protocol: str | None = None
        self.items: dict[str, Item] = {}

    def value(self, name: str) -> object:
        """The attribute's parsed value (None when absent or a variable)."""
        item = self.items.get(name)
        return None if item is None or item.var is not None else item.value


class FilterRef:
    """A ``<filterref>``: another filter, with parameters (a name may carry several values: a list)."""

    def __init__(self, filter: str, params: dict[str, list[str]]) -> None:
        self.filter = filter
        self.params = params


class NWFilter:
    """A ``<filter>``: name, uuid, chain and its priority, and its rules and filter references in order."""

    def __init__(self, name: str, uuid: str, chain: str, priority: int) -> None:
        self.name = name
        self.uuid = uuid
        self.chain = chain
        self.priority = priority
        self.entries: list[Rule | FilterRef] = []

    def refs(self) -> list[str]:
        return [e.filter for e in self.entries if isinstance(e, FilterRef)]


# ---------------------------------------------------------------- parsing
def _typed_value(attr: Attr, datatype: int, prop: str) -> tuple[bool, bool, object]:
    """Try ``prop`` as one type: (found, ok, value), libvirt's ``found``/``rc`` of that attempt."""
    d = DataType
    if datatype in (d.UINT8, d.UINT8_HEX, d.UINT16, d.UINT16_HEX, d.UINT32, d.UINT32_HEX):
        base = 16 if datatype in (d.UINT8_HEX, d.UINT16_HEX, d.UINT32_HEX) else 10
        v = strtoul(prop, base)
        limit = 0xFF if datatype in (d.UINT8, d.UINT8_HEX) else 0xFFFF if datatype in (d.UINT16, d.UINT16_HEX) else None
        if v is None or (limit is not None and v > limit):
            return False, False, None
        return True, True, v
    if datatype in (d.IPADDR, d.IPV6ADDR):
        addr = parse_ip(prop, socket.AF_INET if datatype == d.IPADDR else socket.AF_INET6)
        return True, addr is not None, addr
    if datatype in (d.IPMASK, d.IPV6MASK):
        top = 32 if datatype == d.IPMASK else 128
        v = strtoul(prop, 10)
        if v is not None:
            return (True, True, v) if v <= top else (False, False, None)
        addr = parse_ip(prop, socket.AF_INET if datatype == d.IPMASK else socket.AF_INET6)
        if addr is None:
            return False, False, None
        bits = mask_bits(addr)
        return True, bits is not None, bits
    if datatype in (d.MACADDR, d.MACMASK):
        mac = parse_mac(prop)
        return True, mac is not None, mac
    if datatype in (d.STRING, d.IPSETFLAGS, d.IPSETNAME):
        return (True, True, prop) if attr.special else (False, False, None)
    if datatype == d.STRINGCOPY:
        return True, True, prop.encode()[:_MAX_COMMENT].decode(errors="ignore")
    if datatype == d.BOOLEAN:
        return True, True, prop in ("true", "1", "yes")
    return False, False, None


def _special(attr: Attr, datatype: int, item: Item, rule: Rule) -> bool:
    """The validators of libvirt's table (checkMacProtocolID, stateValidator, ...): may rewrite the item."""
    kind, value = attr.special, item.value
    if datatype == DataType.MACMASK:
        return isinstance(value, bytes) and contiguous(value)
    if kind in ("macprotocol", "vlanprotocol"):
        if datatype == DataType.STRING:
            names = {v: k for k, v in _MAC_PROTOCOLS.items()}
            found = next((n for k, n in names.items() if k.lower() == str(value).lower()), None)
            if found is None:
                return False
            item.value, item.datatype = found, DataType.UINT16
            return True
        return isinstance(value, int) and value >= (0x600 if kind == "macprotocol" else 0x3C)
    if kind == "vlanid":
        return isinstance(value, int) and value <= 4095
    if kind == "opcode":
        if datatype == DataType.STRING:
            found = next((k for k, n in _ARP_OPCODES.items() if n.lower() == str(value).lower()), None)
            if found is None:
                return False
            item.value, item.datatype = found, DataType.UINT16
        return True
    if kind == "ipprotocol":
        if datatype == DataType.STRING:
            found = next((k for k, n in _IP_PROTOCOLS.items() if n.lower() == str(value).lower()), None)
            if found is None:
                return False
            item.value, item.datatype = found, DataType.UINT8_HEX
        return True
    if kind == "dscp":
        return isinstance(value, int) and value <= 63
    if kind == "state":
        states = string_items(STATE_FLAGS, str(value))
        if states is None:
            return False
        item.value, item.datatype = (_STATE_NONE if states & _STATE_NONE else states), DataType.UINT16
        return True
    if kind == "tcpflags":
        mask_s, sep, wanted_s = str(value).partition("/")
        mask, wanted = string_items(TCP_FLAGS, mask_s), string_items(TCP_FLAGS, wanted_s)
        if not sep or mask is None or wanted is None:
            return False
        item.value = (mask & 0x3F, wanted & 0x3F)
        return True
    if kind == "ipset":
        return len(str(value).encode()) < 32 and all(c in _VALID_IPSETNAME for c in str(value))
    if kind == "ipsetflags":
        m = re.fullmatch(r"(?i)(src|dst)(,(src|dst)){0,5}", str(value))
        if m is None:
            return False
        item.value = tuple(part.lower() == "src" for part in str(value).split(","))
        return True
    return True


def _parse_details(node: etree._Element, rule: Rule, attrs: tuple[Attr, ...]) -> None:
    """``virNWFilterRuleDetailsParse``: every attribute of the table, each tried as its types in bit order."""
    neg = node.get("match") == "no"
    failure: Error | None = None
    for attr in attrs:
        prop = node.get(attr.name)
        if prop is None:
            continue
        if prop.startswith("$"):
            try:
                var = VarAccess.parse(prop[1:])
            except Error:  # libvirt's last word is the attribute's, as for any other bad value
                failure = _error(ErrorCode.INTERNAL_ERROR, f"{attr.name} has illegal value {prop}")
                continue
            rule.items[attr.name] = Item(None, 0, neg, var)
            continue
        found, ok = False, True
        item: Item | None = None
        remaining = attr.types
        datatype = 1
        matched = 0
        while datatype <= DataType.LAST and not found and ok:
            if remaining & datatype:
                remaining ^= datatype
                found, ok, value = _typed_value(attr, datatype, prop)
                if found and ok:
                    item, matched = Item(value, datatype, neg), datatype
            if not ok and remaining:
                ok, found = True, False
            datatype <<= 1
        if found and ok and item is not None:
            validated = (bool(attr.special) or matched == DataType.MACMASK) and not _special(attr, matched, item, rule)
            if validated:
                ok = False
                rule.items.pop(attr.name, None)
            else:
                rule.items[attr.name] = item
        if not found or not ok:
            failure = _error(ErrorCode.INTERNAL_ERROR, f"{attr.name} has illegal value {prop}")
    if failure is not None:
        raise failure


def _validate_rule(rule: Rule) -> None:
    """``virNWFilterRuleValidate``: ports in an ip/ipv6 rule need a protocol that has ports."""
    if rule.protocol not in ("ip", "ipv6"):
        return
    if not any(n in rule.items for n in ("srcportstart", "dstportstart", "srcportend", "dstportend")):
        return
    proto = rule.items.get("protocol")
    if proto is None or proto.value not in (6, 17, 33, 132):
        raise _error(ErrorCode.INTERNAL_ERROR,
                     f"{'IP' if rule.protocol == 'ip' else 'IPv6'} rule with port specification requires protocol "
                     "specification with protocol to be either one of tcp(6), udp(17), dccp(33), or sctp(132)")  # fmt: skip


def _fixup(rule: Rule) -> None:
    """``virNWFilterRuleDefFixup``: masks take their address's negation; ipset gets its default flags."""
    if rule.protocol is None or rule.protocol not in _FIXUPS:
        return
    pairs, ipset = _FIXUPS[rule.protocol]
    for target, source in pairs:
        if target in rule.items:
            src = rule.items.get(source)
            rule.items[target].neg = src.neg if src is not None else False
    if ipset:
        if "ipset" in rule.items and "ipsetflags" not in rule.items:
            rule.items["ipsetflags"] = Item((True,), DataType.IPSETFLAGS, False)
        else:  # libvirt drops both when both are given (its fixup's else branch)
            rule.items.pop("ipset", None)
            rule.items.pop("ipsetflags", None)


def _parse_rule(node: etree._Element) -> Rule:
    """``virNWFilterRuleParse``."""
    action, direction = node.get("action"), node.get("direction")
    if action is None:
        raise _error(ErrorCode.INTERNAL_ERROR, "rule node requires action attribute")
    if action not in ACTIONS:
        raise _error(ErrorCode.CONFIG_UNSUPPORTED, "unknown rule action attribute value")
    if direction is None:
        raise _error(ErrorCode.INTERNAL_ERROR, "rule node requires direction attribute")
    if direction not in DIRECTIONS:
        raise _error(ErrorCode.CONFIG_UNSUPPORTED, "unknown rule direction attribute value")
    priority = _MAX_RULE_PRIORITY // 2
    prio = node.get("priority")
    if prio is not None:
        p = strtol(prio)
        if p is not None and -_MAX_RULE_PRIORITY <= p <= _MAX_RULE_PRIORITY:
            priority = p
    statematch = node.get("statematch")
    rule = Rule(
        action,
        direction,
        priority,
        not (statematch is not None and (statematch == "0" or statematch.lower() == "false")),
    )
    for child in node:  # (the parser drops comments and processing instructions)
        if rule.protocol is None and child.tag in ATTRIBUTES:
            rule.protocol = child.tag
        if child.tag == rule.protocol:  # after the first protocol element only that protocol's are read
            _parse_details(child, rule, ATTRIBUTES[child.tag])
            _validate_rule(rule)
    _fixup(rule)
    return rule


def _allowed_chain(chain: str) -> str:
    """``virNWFilterIsAllowedChain``: the chain's prefix (root only as the whole name)."""
    if len(chain) > 12:
        raise _error(ErrorCode.INVALID_ARG, "Name of chain is longer than 12 characters")
    if any(c not in _VALID_CHAINNAME for c in chain):
        raise _error(ErrorCode.INVALID_ARG, "Chain name contains invalid characters")
    if chain == "root":
        return "root"
    if not chain.startswith("root"):
        for suffix in _CHAIN_SUFFIXES[1:]:
            if chain.startswith(suffix):
                return suffix
    raise _error(ErrorCode.INVALID_ARG,
                 f"Invalid chain name '{chain}'. Please use a chain name called 'root' or any of the following "
                 f"prefixes: {', '.join(_CHAIN_SUFFIXES[1:])}")  # fmt: skip


def parse_nwfilter(xml: str | bytes) -> NWFilter:
    """``virNWFilterDefParse``: a filter as libvirt reads it (a missing uuid is generated)."""
    root = parse_xml(xml, "filter", "(nwfilter_definition)")
    name = root.get("name")
    if name is None:
        raise _error(ErrorCode.INTERNAL_ERROR, "filter has no name")
    pri_s = root.get("priority")
    priority: int | None = None
    if pri_s is not None:
        priority = strtol(pri_s)
        if priority is None:
            raise _error(ErrorCode.INVALID_ARG, f"Could not parse chain priority '{pri_s}'")
        if not _MIN_FILTER_PRIORITY <= priority <= _MAX_RULE_PRIORITY:
            raise _error(ErrorCode.INVALID_ARG, f"Priority '{priority}' is outside valid range of "
                                                f"[{_MIN_FILTER_PRIORITY},{_MAX_RULE_PRIORITY}]")  # fmt: skip
    chain = root.get("chain")
    chain_priority = 0
    if chain is not None:
        prefix = _allowed_chain(chain)
        chain_priority = priority if priority is not None else _CHAIN_PRIORITIES.get(prefix, 0)
    uuid_el = root.find("uuid")
    uuid_text = (uuid_el.text or "") if uuid_el is not None else None
    if uuid_text is None:
        uuid = str(_uuid.uuid4())
    else:
        parsed = parse_uuid(uuid_text)
        if parsed is None:
            raise _error(ErrorCode.XML_ERROR, "malformed uuid element")
        uuid = parsed
    nwfilter = NWFilter(name, uuid, chain if chain is not None else "root", chain_priority)
    for child in root:
        if child.tag == "rule":
            nwfilter.entries.append(_parse_rule(child))
        elif child.tag == "filterref":
            ref = child.get("filter")
            if ref is None:  # (libvirt's wording for a filterref without filter, copied from the rule check)
                raise _error(ErrorCode.INTERNAL_ERROR, "rule node requires action attribute")
            nwfilter.entries.append(FilterRef(ref, parse_params(child)))
    return nwfilter


# ---------------------------------------------------------------- formatting
def _format_value(attr: Attr, item: Item) -> str:
    if item.var is not None:
        return "$" + str(item.var)
    d, kind, value = DataType, attr.special, item.value
    if kind in ("macprotocol", "vlanprotocol", "ipprotocol"):
        table = _IP_PROTOCOLS if kind == "ipprotocol" else _MAC_PROTOCOLS
        assert isinstance(value, int)
        if value in table:
            return table[value]
        plain = d.UINT8 if kind == "ipprotocol" else d.UINT16
        return f"{value}" if item.datatype == plain else f"0x{value:x}"
    if kind == "opcode":
        assert isinstance(value, int)
        return _ARP_OPCODES.get(value, str(value))
    if kind == "state":
        assert isinstance(value, int)
        return print_items(STATE_FLAGS, value)
    if kind == "tcpflags":
        assert isinstance(value, tuple)
        mask, wanted = value
        return f"{tcp_flags_text(mask)}/{tcp_flags_text(wanted)}"
    if kind == "ipset":
        return str(value)
    if kind == "ipsetflags":
        assert isinstance(value, tuple)
        return ",".join("src" if f else "dst" for f in value)
    if item.datatype in (d.UINT8_HEX, d.UINT16_HEX, d.UINT32_HEX):
        return f"0x{value:x}"
    if item.datatype in (d.UINT8, d.UINT16, d.UINT32, d.IPMASK, d.IPV6MASK):
        return str(value)
    if item.datatype in (d.IPADDR, d.IPV6ADDR, d.MACADDR, d.MACMASK):
        assert isinstance(value, bytes)
        if item.datatype == d.IPADDR:
            return socket.inet_ntop(socket.AF_INET, value)
        return socket.inet_ntop(socket.AF_INET6, value) if item.datatype == d.IPV6ADDR else format_mac(value)
    if item.datatype == d.STRINGCOPY:
        return escape(str(value))
    if item.datatype == d.BOOLEAN:
        return "true" if value else "false"
    return f"UNSUPPORTED DATATYPE 0x{attr.types:02x}\n"


def _format_details(rule: Rule, indent: str) -> list[str]:
    """``virNWFilterRuleDefDetailsFormat``: a new element starts where negated and plain attributes alternate."""
    assert rule.protocol is not None
    attrs = ATTRIBUTES[rule.protocol]
    lines: list[str] = []
    current = ""
    match = 0  # 0 none, 1 yes, 2 no
    shown = False
    i = 0
    while i < len(attrs):
        attr = attrs[i]
        item = rule.items.get(attr.name)
        if item is None:
            i += 1
            continue
        if not current:
            current = f"{indent}<{rule.protocol}"
            shown = True
        if item.neg:
            if match == 0:
                current += " match='no'"
                match = 2
            elif match == 1:
                lines.append(current + "/>")
                current, match = "", 0
                continue
        else:
            if match == 2:
                lines.append(current + "/>")
                current, match = "", 0
                continue
            match = 1
        current += f" {attr.name}='{_format_value(attr, item)}'"
        i += 1
    if current:
        lines.append(current + "/>")
    if not shown:
        lines.append(f"{indent}<{rule.protocol}/>")
    return lines


def format_nwfilter(nwfilter: NWFilter) -> str:
    """``virNWFilterDefFormat``."""
    head = f"<filter name='{nwfilter.name}' chain='{nwfilter.chain}'"
    if nwfilter.priority:
        head += f" priority='{nwfilter.priority}'"
    lines = [head + ">", f"  <uuid>{nwfilter.uuid}</uuid>"]
    for entry in nwfilter.entries:
        if isinstance(entry, FilterRef):
            lines.extend(format_params(entry.filter, entry.params, "  "))
            continue
        start = f"  <rule action='{entry.action}' direction='{entry.direction}' priority='{entry.priority}'"
        if not entry.statematch:
            start += " statematch='false'"
        if entry.protocol is None:
            lines.append(start + "/>")
            continue
        lines.append(start + ">")
        lines.extend(_format_details(entry, "    "))
        lines.append("  </rule>")
    lines.append("</filter>")
    return "\n".join(lines) + "\n"


PROTOCOL_ELEMENTS = PROTOCOLS
