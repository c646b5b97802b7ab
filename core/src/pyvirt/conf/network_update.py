"""``virNetworkUpdate``: one section of a network definition changed in place, as libvirt does it.

The commands and sections carry libvirt's numbers (VIR_NETWORK_UPDATE_COMMAND_*,
VIR_NETWORK_UPDATE_SECTION_*), and the checks and messages follow
virNetworkDefUpdateSection: duplicates are refused on add, a delete must
match an entry, and the sections libvirt never updates (bridge, domain, ip,
forward, forward-pf) are refused with its words. Drivers decide which
definitions (live, persistent) an update applies to and make it take effect.
"""

from lxml import etree

from pyvirt.conf.network import DhcpHost, DhcpRange, DnsHost, Ip, Network
from pyvirt.conf.xmlmodel import XmlModel, parse_model
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, NotSupportedError, OperationInvalidError, XMLError

__all__ = ["COMMANDS", "SECTIONS", "update_network"]

MODIFY, DELETE, ADD_LAST, ADD_FIRST = 1, 2, 3, 4
COMMANDS = {"modify": MODIFY, "delete": DELETE, "add": ADD_LAST, "add-last": ADD_LAST, "add-first": ADD_FIRST}
SECTIONS = {"bridge": 1, "domain": 2, "ip": 3, "ip-dhcp-host": 4, "ip-dhcp-range": 5, "forward": 6,
            "forward-interface": 7, "forward-pf": 8, "portgroup": 9, "dns-host": 10, "dns-txt": 11,
            "dns-srv": 12}  # fmt: skip
_NAMES = {number: name for name, number in SECTIONS.items()}
_NEVER = frozenset({"bridge", "domain", "ip", "forward", "forward-pf"})  # libvirt updates none of these


def _fragment(xml: str, tag: str, net: Network) -> etree._Element:
    try:
        return parse_xml(xml, tag, "network_update")
    except XMLError as exc:
        if "expecting root element" not in (exc.message or ""):
            raise
        found = etree.fromstring(xml.encode()).tag  # well-formed: parse_xml only disliked the root's name
        raise XMLError(ErrorCode.XML_ERROR, f"unexpected element <{found}>, expecting <{tag}>, "
                       f"while updating network '{net.name}'") from None  # fmt: skip


def _ip_for_dhcp(net: Network, parent_index: int) -> Ip:
    """The ``<ip>`` whose ``<dhcp>`` changes: ``parent_index``'s, or else the one with DHCP (virNetworkIPDefByIndex)."""
    ips = [ip for ip in net.ips or [] if ip.family in (None, "ipv4")]
    if parent_index >= 0:
        if parent_index >= len(net.ips or []):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"couldn't update dhcp host entry - no <ip> "
                                        f"element found at index {parent_index} in network '{net.name}'")  # fmt: skip
        return (net.ips or [])[parent_index]
    with_dhcp = [ip for ip in ips if ip.dhcp_ranges or ip.dhcp_hosts]
    if len(with_dhcp) > 1:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"dhcp is enabled on multiple IPv4 addresses of "
                                    f"network '{net.name}', must specify which one via parentIndex")  # fmt: skip
    if with_dhcp:
        return with_dhcp[0]
    if not ips:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "couldn't update dhcp host entry - no <ip "
                                    f"family='ipv4'> element found in network '{net.name}'")  # fmt: skip
    return ips[0]


def _insert(items: list[XmlModel], item: XmlModel, command: int) -> None:
    if command == ADD_FIRST:
        items.insert(0, item)
    else:
        items.append(item)


def _same_mac(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def _dhcp_host(net: Network, command: int, parent_index: int, xml: str) -> None:
    ip = _ip_for_dhcp(net, parent_index)
    host = parse_model(DhcpHost, _fragment(xml, "host", net), "host")
    hosts: list[DhcpHost] = ip.dhcp_hosts if ip.dhcp_hosts is not None else []
    if command == DELETE:
        for i, old in enumerate(hosts):
            if ((host.mac is None or _same_mac(host.mac, old.mac)) and (host.name is None or host.name == old.name)
                    and (host.ip is None or host.ip == old.ip)):  # fmt: skip
                del hosts[i]
                ip.dhcp_hosts = hosts or None
                return
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    f"couldn't locate a matching dhcp host entry in network '{net.name}'")  # fmt: skip
    if host.mac is None and host.name is None:
        raise XMLError(
            ErrorCode.XML_ERROR, f"Static host definition in IPv4 network '{net.name}' must have mac or name attribute"
        )
    if host.ip is None:
        raise XMLError(ErrorCode.XML_ERROR, f"Missing IP address in static host definition for network '{net.name}'")
    if command == MODIFY:
        for i, old in enumerate(hosts):
            if _same_mac(host.mac, old.mac) or (host.mac is None and host.name == old.name):
                hosts[i] = host
                return
        key = f"mac='{host.mac}'" if host.mac else f"name='{host.name}'"
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"couldn't locate an existing dhcp host entry with "
                                    f'"{key}" in network \'{net.name}\'')  # fmt: skip
    for old in hosts:
        if _same_mac(host.mac, old.mac) or (host.name and host.name == old.name) or host.ip == old.ip:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"there is an existing dhcp host entry in "
                                        f"network '{net.name}' that matches \"<host mac='{host.mac or '(null)'}' "
                                        f"name='{host.name or '(null)'}' ip='{host.ip}'/>\"")  # fmt: skip
    _insert(hosts, host, command)  # type: ignore[arg-type]
    ip.dhcp_hosts = hosts


def _dhcp_range(net: Network, command: int, parent_index: int, xml: str) -> None:
    ip = _ip_for_dhcp(net, parent_index)
    rng = parse_model(DhcpRange, _fragment(xml, "range", net), "range")
    ranges: list[DhcpRange] = ip.dhcp_ranges if ip.dhcp_ranges is not None else []
    if command == MODIFY:
        raise NotSupportedError(
            ErrorCode.OPERATION_UNSUPPORTED, "dhcp ranges cannot be modified, only added or deleted"
        )
    same = [i for i, old in enumerate(ranges) if (old.start, old.end) == (rng.start, rng.end)]
    if command == DELETE:
        if not same:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        f"couldn't locate a matching dhcp range entry in network '{net.name}'")  # fmt: skip
        del ranges[same[0]]
        ip.dhcp_ranges = ranges or None
        return
    if same:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"there is an existing dhcp range entry in network "
                                    f"'{net.name}' that matches \"<range start='{rng.start}' end='{rng.end}'/>\"")  # fmt: skip
    _insert(ranges, rng, command)  # type: ignore[arg-type]
    ip.dhcp_ranges = ranges


def _dns_host(net: Network, command: int, xml: str) -> None:
    host = parse_model(DnsHost, _fragment(xml, "host", net), "host")
    hosts: list[DnsHost] = net.dns_hosts if net.dns_hosts is not None else []
    if command == MODIFY:
        raise NotSupportedError(
            ErrorCode.OPERATION_UNSUPPORTED, "DNS HOST records cannot be modified, only added or deleted"
        )
    same = [i for i, old in enumerate(hosts) if old.ip == host.ip]
    if command == DELETE:
        if not same:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        f"couldn't locate a matching DNS HOST record in network {net.name}")  # fmt: skip
        del hosts[same[0]]
        net.dns_hosts = hosts or None
        return
    if same:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "there is already at least one DNS HOST record with "
                                    f"a matching field in network {net.name}")  # fmt: skip
    _insert(hosts, host, command)  # type: ignore[arg-type]
    net.dns_hosts = hosts


def update_network(net: Network, command: int, section: int, parent_index: int, xml: str) -> None:
    """Apply one update to ``net`` in place; on error ``net`` may be half-changed, so callers update a copy."""
    if command not in (MODIFY, DELETE, ADD_LAST, ADD_FIRST):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"can't update network with unknown command {command}")
    name = _NAMES.get(section)
    if name is None:
        raise NotSupportedError(
            ErrorCode.OPERATION_UNSUPPORTED, f"can't update unrecognized section of network {net.name}"
        )
    if name in _NEVER:
        raise NotSupportedError(
            ErrorCode.OPERATION_UNSUPPORTED, f"can't update '{name}' section of network '{net.name}'"
        )
    if name == "ip-dhcp-host":
        _dhcp_host(net, command, parent_index, xml)
    elif name == "ip-dhcp-range":
        _dhcp_range(net, command, parent_index, xml)
    elif name == "dns-host":
        _dns_host(net, command, xml)
    else:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"updating the '{name}' section of a network is not "
                                "supported by pyvirt yet")  # fmt: skip
