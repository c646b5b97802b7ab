"""A binding's rules as one nftables table of the bridge family, on the binding's port.

libvirt 9.0 writes ebtables rules for the Ethernet-level protocols (mac,
vlan, stp, arp, rarp, ip, ipv6) and iptables rules, through the bridge's netfilter
hooks, for the others (tcp, udp, icmp, all, ...); pyvirt writes the same
matches with ``nft`` in one table per port (``pyvirt_nwf_<port in hex>``), so
removing a binding is deleting its table:

- ``I`` chains see what the guest sends (libvirt's ``libvirt-I-<port>`` and
  ``FI-<port>``: bridge prerouting, ``iifname``), ``O`` chains what it is sent
  (``libvirt-O-<port>``/``FO-<port>``: bridge postrouting, ``oifname``);
- Ethernet-level rules: direction ``out`` goes to I, ``in`` to O, ``inout`` to
  both with I's source and destination swapped (ebiptablesCreateRuleInstance);
  a filter whose chain is not ``root`` gets a chain of its own, entered from
  the root chain for its protocol (``arp``/``rarp``/``ipv4``/``ipv6``/``vlan``
  prefixes, frames to the bridge group address for ``stp``, every frame for
  ``mac``), the jump placed among the root rules by the
  chain's priority, as libvirt sorts them;
- the other protocols go to both directions' L3 chains, the attributes read
  from the initiating packet's side and swapped for the other direction
  (iptablesCreateRuleInstance), after the Ethernet-level chains;
- ``vlan`` is nft's ``vlan id``/``vlan type`` on 802.1Q frames (ebtables
  ``-p 0x8100 --vlan-id --vlan-encap``); ``stp`` is the bridge group address
  plus raw payload matches on the LLC header and the BPDU's fields at their
  IEEE 802.1D offsets, with ebtables' stp match's rule that the configuration
  fields count for configuration BPDUs only;
- verdicts: accept, drop (and reject, which ebtables cannot do), return,
  continue.

This host's kernel has no connection tracking for bridged frames (the bridge
family has no ``ct``), so what needs it is refused as unsupported, never
loosened: an ``accept`` rule of those protocols that matches state
(``statematch`` on, the default, outside ``inout``) and the ``state``
attribute. So are the attributes not translated (ipset: nft cannot use
iptables' ipsets; connlimit-above, TCP options, gratuitous ARP, srcmacaddr of
L3 rules).
"""

from __future__ import annotations

import socket

from pyvirt.conf.nwfilter import TCP_FLAGS, Item, Rule
from pyvirt.conf.nwfilter_values import format_mac, parse_mac, strtoul
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, NotSupportedError, OperationFailedError
from pyvirt.util.command import Command
from pyvirt_nwfilter.instantiate import Instance

__all__ = ["apply", "load", "remove", "script", "table_name"]

_STP_DADDR = "01:80:c2:00:00:00"  # libvirt's NWFILTER_MAC_BGA, the bridge group address
_L2 = ("mac", "vlan", "stp", "arp", "rarp", "ip", "ipv6")
_ETHER = {"arp": "arp", "rarp": "0x8035", "ip": "ip", "ipv6": "ip6"}
# a non-root chain's frames, by the chain name's prefix (libvirt's chain suffix protocols)
_CHAIN_ETHER = {"mac": None, "arp": "ether type arp", "rarp": "ether type 0x8035", "ipv4": "ether type ip",
                "ipv6": "ether type ip6", "vlan": "ether type vlan", "stp": f"ether daddr {_STP_DADDR}",
                "root": None}  # fmt: skip
_L3_IPV6 = ("tcp-ipv6", "udp-ipv6", "udplite-ipv6", "esp-ipv6", "ah-ipv6", "sctp-ipv6", "icmpv6", "all-ipv6")
_L3_PROTO = {"tcp": 6, "udp": 17, "udplite": 136, "esp": 50, "ah": 51, "sctp": 132, "icmp": 1, "igmp": 2,
             "icmpv6": 58}  # fmt: skip
_UNTRANSLATED = ("ipset", "ipsetflags", "connlimit-above", "option", "gratuitous", "comment")
_VERDICTS = {"accept": "accept", "drop": "drop", "reject": "drop", "return": "return", "continue": "continue"}


def _unsupported(what: str) -> Error:
    return NotSupportedError(ErrorCode.NO_SUPPORT, what, domain=ErrorDomain.NWFILTER)


def table_name(portdev: str) -> str:
    """The port's table: its name in hex, as nft identifiers cannot hold every interface name."""
    return "pyvirt_nwf_" + portdev.encode().hex()


class _Values:
    """An instance's attribute values in nft syntax (a variable's text checked as libvirt's type)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.rule: Rule = inst.rule

    def has(self, name: str) -> bool:
        return name in self.rule.items

    def neg(self, name: str) -> bool:
        return self.rule.items[name].neg

    def _text(self, name: str) -> tuple[Item, str | None]:
        item = self.rule.items[name]
        return item, (self.inst.values[name] if item.var is not None else None)

    def mac(self, name: str) -> str:
        item, text = self._text(name)
        value = parse_mac(text) if text is not None else item.value
        if not isinstance(value, bytes):
            raise _bad(name, text)
        return format_mac(value)

    def ip(self, name: str, v6: bool) -> str:
        item, text = self._text(name)
        family = socket.AF_INET6 if v6 else socket.AF_INET
        if text is not None:
            try:
                return socket.inet_ntop(family, socket.inet_pton(family, text))
            except OSError:
                raise _bad(name, text) from None
        assert isinstance(item.value, bytes)
        return socket.inet_ntop(family, item.value)

    def number(self, name: str) -> int:
        item, text = self._text(name)
        if text is not None:
            value = strtoul(text, 10)
            if value is None:
                value = strtoul(text, 16)
            if value is None:
                raise _bad(name, text)
            return value
        assert isinstance(item.value, int)
        return item.value

    def prefix(self, name: str, default: int) -> int:
        return self.number(name) if self.has(name) else default


def _bad(name: str, text: str | None) -> Error:
    return InternalError(ErrorCode.INTERNAL_ERROR, f"{name} has illegal value {text}", domain=ErrorDomain.NWFILTER)


def _op(neg: bool) -> str:
    return "!= " if neg else ""


def _mac_matches(v: _Values, swap: bool) -> list[str]:
    out = []
    for side, other in (("src", "dst"), ("dst", "src")):
        if not v.has(f"{side}macaddr"):
            continue
        field = f"ether {'saddr' if (side == 'src') != swap else 'daddr'}"
        addr = v.mac(f"{side}macaddr")
        if v.has(f"{side}macmask"):
            mask = v.mac(f"{side}macmask")
            masked = ":".join(
                f"{int(a, 16) & int(m, 16):02x}" for a, m in zip(addr.split(":"), mask.split(":"), strict=True)
            )
            out.append(f"{field} & {mask} {'!=' if v.neg(f'{side}macaddr') else '=='} {masked}")
        else:
            out.append(f"{field} {_op(v.neg(f'{side}macaddr'))}{addr}")
        del other
    return out


def _ip_matches(v: _Values, swap: bool, v6: bool, fam: str) -> list[str]:
    out = []
    for side in ("src", "dst"):
        field = f"{fam} {'saddr' if (side == 'src') != swap else 'daddr'}"
        if v.has(f"{side}ipaddr"):
            length = v.prefix(f"{side}ipmask", 128 if v6 else 32)
            out.append(f"{field} {_op(v.neg(f'{side}ipaddr'))}{v.ip(f'{side}ipaddr', v6)}/{length}")
        if v.has(f"{side}ipfrom"):
            end = v.ip(f"{side}ipto", v6) if v.has(f"{side}ipto") else v.ip(f"{side}ipfrom", v6)
            out.append(f"{field} {_op(v.neg(f'{side}ipfrom'))}{v.ip(f'{side}ipfrom', v6)}-{end}")
    return out


def _port_matches(v: _Values, swap: bool) -> list[str]:
    out = []
    for side in ("src", "dst"):
        if not v.has(f"{side}portstart"):  # an end alone is ignored, as libvirt ignores it
            continue
        field = f"th {'sport' if (side == 'src') != swap else 'dport'}"
        start = v.number(f"{side}portstart")
        end = v.number(f"{side}portend") if v.has(f"{side}portend") else start
        out.append(f"{field} {_op(v.neg(f'{side}portstart'))}{start}" + (f"-{end}" if end != start else ""))
    return out


def _range(v: _Values, lo: str, hi: str) -> str:
    start = v.number(lo)
    end = v.number(hi) if v.has(hi) else start
    return f"{start}" + (f"-{end}" if end != start else "")


# ARP's header fields (RFC 826), the same in RARP's (RFC 903): nft names them for ARP only, so a RARP
# frame's are matched as raw network-header bits (offset, length)
_ARP_RAW = {"htype": (0, 16), "ptype": (16, 16), "operation": (48, 16), "saddr ether": (64, 48),
            "saddr ip": (112, 32), "daddr ether": (144, 48), "daddr ip": (192, 32)}  # fmt: skip


def _arp_field(field: str, rarp: bool) -> str:
    if not rarp:
        return f"arp {field}"
    offset, length = _ARP_RAW[field]
    return f"@nh,{offset},{length}"


def _raw_value(field: str, value: str) -> str:
    """A value as the raw bits' number: an address's bytes, big endian."""
    if "ether" in field:
        return "0x" + value.replace(":", "")
    if "ip" in field:
        return "0x" + socket.inet_aton(value).hex()
    return value


def _arp_matches(v: _Values, swap: bool, rarp: bool) -> list[str]:
    out = []

    def add(field: str, neg: bool, value: str, prefix: int | None = None) -> None:
        if rarp and prefix is not None and prefix != 32:
            raise _unsupported("a masked RARP address with nftables")
        if rarp:
            value = _raw_value(field, value)
        elif prefix is not None:
            value = f"{value}/{prefix}"
        out.append(f"{_arp_field(field, rarp)} {_op(neg)}{value}")

    for name, field in (("hwtype", "htype"), ("protocoltype", "ptype"), ("opcode", "operation")):
        if v.has(name):
            add(field, v.neg(name), str(v.number(name)))
    for side in ("src", "dst"):
        field = "saddr" if (side == "src") != swap else "daddr"
        if v.has(f"arp{side}macaddr"):
            add(f"{field} ether", v.neg(f"arp{side}macaddr"), v.mac(f"arp{side}macaddr"))
        if v.has(f"arp{side}ipaddr"):
            add(f"{field} ip", v.neg(f"arp{side}ipaddr"), v.ip(f"arp{side}ipaddr", False),
                v.prefix(f"arp{side}ipmask", 32))  # fmt: skip
    return out


# An STP BPDU behind its 802.2 LLC header (42 42 03) at byte 14 of the frame, protocol identifier 0 (IEEE
# 802.1D 9.3): attribute -> (bit offset in the frame, bit length, the attribute holding the range's end or the
# address's mask). The fields are where 802.1D puts them; the kernel's ebt_stp reads its "type" from the version
# byte and the configuration fields one byte early, so libvirt's ebtables rules only ever see type 0 there.
_STP_LLC = "@ll,112,40 0x4242030000"
_STP_TYPE = (160, 8)
_STP_CONFIG = {"flags": (168, 8, None), "root-priority": (176, 16, "root-priority-hi"),
               "root-address": (192, 48, "root-address-mask"), "root-cost": (240, 32, "root-cost-hi"),
               "sender-priority": (272, 16, "sender-priority-hi"), "sender-address": (288, 48, "sender-address-mask"),
               "port": (336, 16, "port-hi"), "age": (352, 16, "age-hi"), "max-age": (368, 16, "max-age-hi"),
               "hello-time": (384, 16, "hello-time-hi"), "forward-delay": (400, 16, "forward-delay-hi")}  # fmt: skip


def _stp_field(v: _Values, name: str, offset: int, length: int, second: str | None) -> str:
    field = f"@ll,{offset},{length}"
    op = "!= " if v.neg(name) else ""
    if length == 48:  # an address, with its mask (ebtables --stp-root-addr ADDR/MASK)
        value = "0x" + v.mac(name).replace(":", "")
        if second is not None and v.has(second):
            mask = int(v.mac(second).replace(":", ""), 16)
            return f"{field} & 0x{mask:012x} {op or '== '}0x{int(value, 16) & mask:012x}"
        return f"{field} {op}{value}"
    start = v.number(name)
    if second is not None and v.has(second):  # a range (ebtables LOW:HIGH)
        return f"{field} {op}{start}-{v.number(second)}"
    return f"{field} {op}{start}"


def stp_matches(v: _Values) -> list[list[str]]:
    """libvirt's STP attributes as raw payload matches (ebtables' stp match): the BPDU type, then the
    configuration BPDU's fields, which ebt_stp checks only when the BPDU is a configuration BPDU (type 0): a rule
    with such fields becomes one rule for the other types and one for configuration BPDUs with the fields."""
    common = [_STP_LLC]
    if v.has("type"):
        common.append(_stp_field(v, "type", *_STP_TYPE, None))
    config = [_stp_field(v, n, *spec) for n, spec in _STP_CONFIG.items() if v.has(n)]
    if not config:
        return [common]
    type_field = f"@ll,{_STP_TYPE[0]},{_STP_TYPE[1]}"
    rules = []
    exact = None if not v.has("type") or v.neg("type") else v.number("type")
    if exact != 0:
        rules.append([*common, f"{type_field} != 0"])
    if exact in (None, 0):
        rules.append([*common, f"{type_field} 0", *config])
    return rules


def _l2_rules(v: _Values, swap: bool) -> list[list[str]]:
    """The matches of an Ethernet-level rule: one list per nft rule (STP's may need two)."""
    proto = v.rule.protocol or ""
    if proto == "stp":
        if swap and v.has("srcmacaddr"):  # ebtablesCreateRuleInstance's refusal
            raise InternalError(ErrorCode.INTERNAL_ERROR, "STP filtering in inout direction with source MAC "
                                "address set is not supported", domain=ErrorDomain.NWFILTER)  # fmt: skip
        return [[*_mac_matches(v, swap), f"ether daddr {_STP_DADDR}", *m] for m in stp_matches(v)]
    return [_l2_matches(v, swap)]


def _l2_matches(v: _Values, swap: bool) -> list[str]:
    proto = v.rule.protocol or ""
    out = _mac_matches(v, swap)
    if proto in ("mac", ""):
        if v.has("protocolid"):
            out.append(f"ether type {_op(v.neg('protocolid'))}0x{v.number('protocolid'):04x}")
        return out
    if proto == "vlan":  # ebtables -p 0x8100 --vlan-id --vlan-encap
        out.append("ether type vlan")
        if v.has("vlanid"):
            out.append(f"vlan id {_op(v.neg('vlanid'))}{v.number('vlanid')}")
        if v.has("encap-protocol"):
            out.append(f"vlan type {_op(v.neg('encap-protocol'))}0x{v.number('encap-protocol'):04x}")
        return out
    out.append(f"ether type {_ETHER[proto]}")
    if proto in ("arp", "rarp"):
        out += _arp_matches(v, swap, proto == "rarp")
        return out
    v6 = proto == "ipv6"
    fam = "ip6" if v6 else "ip"
    out += _ip_matches(v, swap, v6, fam)
    if v.has("protocol"):
        out.append(f"{'ip6 nexthdr' if v6 else 'ip protocol'} {_op(v.neg('protocol'))}{v.number('protocol')}")
    out += _port_matches(v, swap)
    if v.has("dscp"):
        out.append(f"ip dscp {_op(v.neg('dscp'))}{v.number('dscp')}")
    if v6 and v.has("type"):
        out.append(f"icmpv6 type {_op(v.neg('type'))}{_range(v, 'type', 'typeend')}")
    if v6 and v.has("code"):
        out.append(f"icmpv6 code {_op(v.neg('code'))}{_range(v, 'code', 'codeend')}")
    return out


def _l3_matches(v: _Values, swap: bool) -> list[str]:
    proto = v.rule.protocol or ""
    v6 = proto in _L3_IPV6
    base = proto.removesuffix("-ipv6")
    fam = "ip6" if v6 else "ip"
    out = [f"ether type {fam}"]
    if base != "all":
        out.append(f"{'ip6 nexthdr' if v6 else 'ip protocol'} {_L3_PROTO[base]}")
    out += _ip_matches(v, swap, v6, fam)
    out += _port_matches(v, swap)
    if v.has("dscp"):
        out.append(f"{fam} dscp {_op(v.neg('dscp'))}{v.number('dscp')}")
    if v.has("flags"):
        pair = v.rule.items["flags"].value
        assert isinstance(pair, tuple)
        mask, wanted = pair
        names = [n for n, b in TCP_FLAGS if b and b != 0x3F]

        def bits(x: int) -> str:
            return "|".join(n.lower() for n in names if x & dict(TCP_FLAGS)[n]) or "0x0"

        out.append(f"tcp flags & ({bits(mask)}) {'!=' if v.neg('flags') else '=='} {bits(wanted)}")
    if base in ("icmp", "icmpv6"):
        kind = "icmp" if base == "icmp" else "icmpv6"
        if v.has("type"):
            out.append(f"{kind} type {_op(v.neg('type'))}{v.number('type')}")
        if v.has("code"):
            out.append(f"{kind} code {_op(v.neg('code'))}{v.number('code')}")
    return out


def _check(inst: Instance) -> None:
    rule = inst.rule
    proto = rule.protocol
    for name in rule.items:
        if name in _UNTRANSLATED and name != "comment":
            raise _unsupported(f"the '{name}' attribute of nwfilter rules with nftables")
    if proto is not None and proto not in _L2:
        if "state" in rule.items:
            raise _unsupported("the 'state' attribute: this host's kernel has no connection tracking of "
                               "bridged traffic")  # fmt: skip
        if rule.action == "accept" and rule.statematch and rule.direction != "inout":
            raise _unsupported(f"state matching of '{proto}' accept rules: this host's kernel has no connection "
                               "tracking of bridged traffic (use statematch='false')")  # fmt: skip
        if "srcmacaddr" in rule.items:
            raise _unsupported(f"the 'srcmacaddr' attribute of '{proto}' rules with nftables")


def _chain_id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name) + "_" + name.encode().hex()[:8]


def script(portdev: str, instances: list[Instance]) -> str:
    """The nft script that creates the port's table (the table deleted first when it exists)."""
    if any(c in '"\\' or ord(c) < 0x20 or c == "\x7f" for c in portdev):
        raise _unsupported(f"port device name {portdev!r} in nftables rules")
    for inst in instances:
        _check(inst)
    # (priority, order, text) per chain; root chains also hold the jumps to the others
    chains: dict[str, list[tuple[int, int, str]]] = {"I_root": [], "O_root": [], "I_l3": [], "O_l3": []}
    jumps: dict[str, tuple[int, str | None]] = {}
    for order, inst in enumerate(instances):
        rule = inst.rule
        v = _Values(inst)
        verdict = _VERDICTS[rule.action]
        if rule.protocol is None or rule.protocol in _L2:  # a rule without a protocol matches every frame
            prefix = next((p for p in _CHAIN_ETHER if inst.chain.startswith(p)), "root")
            for direction, wanted, swap in (
                ("I", ("out", "inout"), rule.direction == "inout"),
                ("O", ("in", "inout"), False),
            ):
                if rule.direction not in wanted:
                    continue
                chain = f"{direction}_root" if inst.chain == "root" else f"{direction}_{_chain_id(inst.chain)}"
                if chain not in chains:
                    chains[chain] = []
                    jumps[chain] = (inst.chain_priority, _CHAIN_ETHER[prefix])
                for matches in _l2_rules(v, swap):
                    chains[chain].append((rule.priority, order, " ".join([*matches, verdict])))
        else:
            swap_in = rule.direction in ("in", "inout")  # libvirt's directionIn for the guest's side (FI)
            icmp_type = rule.protocol in ("icmp", "icmpv6") and "type" in rule.items
            for direction, swap in (("I", swap_in), ("O", not swap_in)):
                if icmp_type and (swap or rule.direction == "inout"):  # libvirt's maySkipICMP
                    continue
                chains[f"{direction}_l3"].append((rule.priority, order, " ".join([*_l3_matches(v, swap), verdict])))
    for chain, (priority, ether) in jumps.items():
        root = f"{chain[0]}_root"
        match = f"{ether} " if ether else ""
        chains[root].append((priority, -1, f"{match}jump {chain}"))
    table = table_name(portdev)
    lines = [f"table bridge {table} {{"]
    for name, body in chains.items():
        lines.append(f"  chain {name} {{")
        lines.extend(f"    {text}" for _p, _o, text in sorted(body, key=lambda t: (t[0], t[1])))
        lines.append("  }")
    for direction, hook, prio, dev in (("I", "prerouting", -200, "iifname"), ("O", "postrouting", 100, "oifname")):
        lines.append(f"  chain {direction}_hook {{ type filter hook {hook} priority {prio}; policy accept;")
        lines.append(f'    {dev} "{portdev}" jump {direction}_root')
        lines.append("  }")
        lines.append(f"  chain {direction}_l3hook {{ type filter hook {hook} priority {prio + 50}; policy accept;")
        lines.append(f'    {dev} "{portdev}" jump {direction}_l3')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nft(text: str) -> None:
    done = Command(["nft", "-f", "-"]).pass_env_common().set_stdin(text.encode()).capture_stderr().run(check=False)
    if done.exit_status != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"nft failed: {err}")


def apply(portdev: str, instances: list[Instance]) -> None:
    """Replace the port's table with the binding's rules, in one nft transaction."""
    load(portdev, script(portdev, instances))


def load(portdev: str, text: str) -> None:
    """Replace the port's table with ``text`` (a script that creates it), in one nft transaction."""
    table = table_name(portdev)
    # "add" then "delete" makes the delete succeed whether or not the table existed, all in one transaction
    _nft(f"add table bridge {table}\ndelete table bridge {table}\n{text}")


def remove(portdev: str) -> None:
    """Delete the port's table, if it is there."""
    table = table_name(portdev)
    _nft(f"add table bridge {table}\ndelete table bridge {table}\n")
