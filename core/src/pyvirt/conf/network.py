"""Virtual network XML (``<network>``).

Parsing applies libvirt's checks on the values that later reach dnsmasq's
configuration and the kernel (virNetworkDefParseXML and its helpers): addresses
must parse and are kept in their canonical form, MAC addresses and DHCP host
ids and names follow libvirt's rules, DNS host records need an address and a
name. libvirt 9.0 lets a newline through in ``<domain name>``, DNS host names,
DHCP host names, ``<tftp root>`` and ``<bootp file>`` and then writes it into
dnsmasq's configuration as a directive of its own; pyvirt refuses control
characters in those fields with the words of libvirt's own illegal-character
check (virXMLCheckIllegalChars).
"""

from __future__ import annotations

# The C module, not ``socket``: the wrapper turns every constant into an IntEnum at import, about 10 million
# instructions of each short pyvirsh run that reads a network; the numeric calls here need none of it.
import _socket

from lxml import etree

from pyvirt.conf.common import check_name, document_to_string, new_uuid, normalize_uuid, parse_document
from pyvirt.conf.coverage import ExpectedTree
from pyvirt.conf.xmlmodel import X, XmlModel, format_model
from pyvirt.conf.xmlparse import find_one
from pyvirt.conf.xmlwriter import to_string
from pyvirt.errors import Error, ErrorCode, InternalError, NotSupportedError, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated, Any, ClassVar

__all__ = ["Network", "check_network", "format_network", "ip_prefix", "parse_network"]


class DhcpRange(XmlModel):
    start: Annotated[str | None, X("@start")] = None
    end: Annotated[str | None, X("@end")] = None
    lease_expiry: Annotated[int | None, X("lease/@expiry")] = None
    lease_unit: Annotated[str | None, X("lease/@unit")] = None


class DhcpHost(XmlModel):
    mac: Annotated[str | None, X("@mac")] = None
    id: Annotated[str | None, X("@id")] = None
    name: Annotated[str | None, X("@name")] = None
    ip: Annotated[str | None, X("@ip")] = None
    lease_expiry: Annotated[int | None, X("lease/@expiry")] = None
    lease_unit: Annotated[str | None, X("lease/@unit")] = None


class Ip(XmlModel):
    family: Annotated[str | None, X("@family")] = None
    address: Annotated[str | None, X("@address")] = None
    netmask: Annotated[str | None, X("@netmask")] = None
    prefix: Annotated[int | None, X("@prefix")] = None
    localPtr: Annotated[bool | None, X("@localPtr")] = None  # noqa: N815
    tftp_root: Annotated[str | None, X("tftp/@root")] = None
    dhcp_ranges: Annotated[list[DhcpRange] | None, X("dhcp/range", model=DhcpRange, many=True)] = None
    dhcp_hosts: Annotated[list[DhcpHost] | None, X("dhcp/host", model=DhcpHost, many=True)] = None
    dhcp_bootp_file: Annotated[str | None, X("dhcp/bootp/@file")] = None
    dhcp_bootp_server: Annotated[str | None, X("dhcp/bootp/@server")] = None


class ForwardInterface(XmlModel):
    dev: Annotated[str | None, X("@dev")] = None


class Route(XmlModel):
    family: Annotated[str | None, X("@family")] = None
    address: Annotated[str | None, X("@address")] = None
    prefix: Annotated[int | None, X("@prefix")] = None
    gateway: Annotated[str | None, X("@gateway")] = None


class DnsHostname(XmlModel):
    name: Annotated[str | None, X(".")] = None


class DnsHost(XmlModel):
    ip: Annotated[str | None, X("@ip")] = None
    hostnames: Annotated[list[DnsHostname] | None, X("hostname", model=DnsHostname, many=True)] = None


class DnsForwarder(XmlModel):
    domain: Annotated[str | None, X("@domain")] = None
    addr: Annotated[str | None, X("@addr")] = None


class DnsTxt(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    value: Annotated[str | None, X("@value")] = None


class DnsSrv(XmlModel):
    service: Annotated[str | None, X("@service")] = None
    protocol: Annotated[str | None, X("@protocol")] = None
    domain: Annotated[str | None, X("@domain")] = None
    target: Annotated[str | None, X("@target")] = None
    # text until checked: libvirt has its own words for a number it cannot read here
    port: Annotated[str | None, X("@port")] = None
    priority: Annotated[str | None, X("@priority")] = None
    weight: Annotated[str | None, X("@weight")] = None


class Network(XmlModel):
    TAG = "network"
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset({"bandwidth", "vlan", "virtualport", "portgroup", "port"})

    connections: Annotated[int | None, X("@connections")] = None
    ipv6: Annotated[bool | None, X("@ipv6")] = None
    trustGuestRxFilters: Annotated[bool | None, X("@trustGuestRxFilters")] = None  # noqa: N815
    name: Annotated[str | None, X("name")] = None
    uuid: Annotated[str | None, X("uuid")] = None
    title: Annotated[str | None, X("title")] = None
    description: Annotated[str | None, X("description")] = None
    metadata: Annotated[str | None, X("metadata", raw=True)] = None
    forward: Annotated[bool | None, X("forward", flag=True)] = None
    forward_mode: Annotated[str | None, X("forward/@mode")] = None
    forward_dev: Annotated[str | None, X("forward/@dev")] = None
    forward_nat_port_start: Annotated[int | None, X("forward/nat/port/@start")] = None
    forward_nat_port_end: Annotated[int | None, X("forward/nat/port/@end")] = None
    forward_interfaces: Annotated[
        list[ForwardInterface] | None, X("forward/interface", model=ForwardInterface, many=True)
    ] = None
    bridge_name: Annotated[str | None, X("bridge/@name")] = None
    bridge_stp: Annotated[bool | None, X("bridge/@stp", words=("on", "off"))] = None
    bridge_delay: Annotated[int | None, X("bridge/@delay")] = None
    mtu: Annotated[int | None, X("mtu/@size")] = None
    mac: Annotated[str | None, X("mac/@address")] = None
    domain_name: Annotated[str | None, X("domain/@name")] = None
    domain_local_only: Annotated[bool | None, X("domain/@localOnly")] = None
    dns_enable: Annotated[bool | None, X("dns/@enable")] = None
    dns_forward_plain_names: Annotated[bool | None, X("dns/@forwardPlainNames")] = None
    dns_forwarders: Annotated[list[DnsForwarder] | None, X("dns/forwarder", model=DnsForwarder, many=True)] = None
    dns_txts: Annotated[list[DnsTxt] | None, X("dns/txt", model=DnsTxt, many=True)] = None
    dns_srvs: Annotated[list[DnsSrv] | None, X("dns/srv", model=DnsSrv, many=True)] = None
    dns_hosts: Annotated[list[DnsHost] | None, X("dns/host", model=DnsHost, many=True)] = None
    ips: Annotated[list[Ip] | None, X("ip", model=Ip, many=True)] = None
    routes: Annotated[list[Route] | None, X("route", model=Route, many=True)] = None
    # <dnsmasq:options>: lines the network driver appends to dnsmasq's configuration as they are
    dnsmasq_options: list[str] | None = None

    @classmethod
    def expected_tree(cls) -> ExpectedTree:
        tree = super().expected_tree()
        tree.children[f"{{{DNSMASQ_NS}}}options"] = None  # read by xml_parse_extra
        return tree

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        """networkDnsmasqDefNamespaceParse: every ``<dnsmasq:option value=.../>``, in order; no value is refused."""
        options = find_one(elem, f"{{{DNSMASQ_NS}}}options")
        if options is None:
            return
        found = []
        for option in options.iterchildren(f"{{{DNSMASQ_NS}}}option"):
            value = option.get("value")
            if not value:
                raise XMLError(ErrorCode.XML_ERROR, "No dnsmasq options value specified")
            _no_control(value, "dnsmasq option")  # a newline would be a second directive
            found.append(value)
        values["dnsmasq_options"] = found or None

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.dnsmasq_options:
            options = etree.SubElement(elem, f"{{{DNSMASQ_NS}}}options")
            for value in self.dnsmasq_options:
                etree.SubElement(options, f"{{{DNSMASQ_NS}}}option", value=value)


# libvirt's XML namespace for options passed to the network's dnsmasq untouched
DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"
_LEASE_UNITS = ("seconds", "minutes", "hours")


def parse_network(xml: str | bytes) -> Network:
    net = parse_document(Network, xml, "network_definition")
    net.name = check_name(net.name, "network name")
    check_network(net)
    net.uuid = normalize_uuid(net.uuid) if net.uuid else new_uuid()
    if net.forward and net.forward_mode is None:
        net.forward_mode = "nat"
    if net.forward_mode in (None, "nat", "route", "open") and (net.bridge_name or not net.forward_mode):
        if net.bridge_stp is None:
            net.bridge_stp = True
        if net.bridge_delay is None:
            net.bridge_delay = 0
    if net.forward_mode is not None:
        net.forward = None  # the mode attribute creates the element
    return net


def format_network(net: Network) -> str:
    if not net.dnsmasq_options:
        return document_to_string(net, keep_open=("ip",))
    # libvirt declares the namespace on the root element when the definition uses it
    root = etree.Element(Network.TAG, nsmap={"dnsmasq": DNSMASQ_NS})
    format_model(net, root)
    return to_string(root, keep_open=("ip",))


def ip_prefix(ip: Ip) -> int:
    """virNetworkIPDefPrefix: the prefix, else the netmask's, else the IPv4 address's class (A, B, C), 64 for IPv6."""
    if ip.prefix:
        return ip.prefix
    if ":" in (ip.address or ""):
        return 64
    if ip.netmask:
        bits = f"{int.from_bytes(_socket.inet_aton(ip.netmask), 'big'):032b}"
        if "01" in bits:  # defined as libvirt lets it be, unusable as libvirt finds at start
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"netmask '{ip.netmask}' of '{ip.address}' is not a prefix")
        return bits.count("1")
    first = int((ip.address or "0").split(".")[0])
    return 8 if first < 128 else 16 if first < 192 else 24 if first < 224 else 32


# ---------------------------------------------------------------- libvirt's value checks

_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _no_control(value: str | None, what: str) -> None:
    """Refuse control characters (newline, NUL, ...): each would end or cut a line of dnsmasq's configuration."""
    if value is not None:
        bad = next((c for c in value if c in _CONTROL), None)
        if bad is not None:
            raise XMLError(ErrorCode.XML_DETAIL, f"invalid char in {what}: {bad}")


def _parse_address(text: str) -> tuple[int, str] | None:
    """virSocketAddrParse: a numeric address of either family (inet_aton's short forms too); canonical text."""
    if "\0" in text or not text.isascii():
        return None  # no numeric address; as bytes, the host is not IDNA-encoded (a codec import) to learn that
    try:
        info = _socket.getaddrinfo(
            text.encode(), None, _socket.AF_UNSPEC, _socket.SOCK_STREAM, 0, _socket.AI_NUMERICHOST
        )
    except (_socket.gaierror, UnicodeError, ValueError):
        return None
    family, _type, _proto, _canon, sockaddr = info[0]
    return family, str(sockaddr[0])


def _socket_address(text: str) -> str:
    """Where libvirt reports virSocketAddrParse's own error (DHCP ranges, bootp server)."""
    parsed = _parse_address(text)
    if parsed is None:
        raise Error(ErrorCode.SYSTEM_ERROR, f"Cannot parse socket address '{text}': Name or service not known")
    return parsed[1]


def _parse_mac(text: str) -> str | None:
    """virMacAddrParse: six bytes of one or two hex digits split by ':'; after the last, it stops reading
    at a space, a control character or a non-ASCII byte. What follows is dropped here: it would reach dnsmasq."""
    pos = 0
    for i in range(6):
        end = pos
        while end < len(text) and text[end] in _HEX_DIGITS:
            end += 1
        if not 1 <= end - pos <= 2:
            return None
        following = text[end] if end < len(text) else ""
        if i == 5:
            return text[:end] if following <= " " or following >= "\x80" else None
        if following != ":":
            return None
        pos = end + 1
    return None


def _check_mac(text: str, what: str, net_name: str) -> str:
    mac = _parse_mac(text)
    if mac is None:
        raise XMLError(ErrorCode.XML_ERROR, f"{what} '{text}' in network '{net_name}'")
    return mac


def _is_multicast(mac: str) -> bool:
    return bool(int(mac.split(":", maxsplit=1)[0], 16) & 1)


def _check_ip(ip: Ip, name: str) -> None:
    """virNetworkIPDefParseXML, then its DHCP ranges, static hosts and boot server."""
    if ip.address is None:
        raise XMLError(ErrorCode.XML_ERROR, f"Missing required address attribute in network '{name}'")
    address = _parse_address(ip.address)
    if address is None:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid address '{ip.address}' in network '{name}'")
    netmask = None
    if ip.netmask is not None:
        netmask = _parse_address(ip.netmask)
        if netmask is None:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid netmask '{ip.netmask}' in network '{name}'")
    if ip.family not in (None, "ipv4", "ipv6"):
        raise XMLError(ErrorCode.XML_ERROR, f"Unrecognized family '{ip.family}' in network '{name}'")
    v4 = address[0] == _socket.AF_INET
    if ip.family == "ipv6" and v4:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: Family 'ipv6' specified "
                                f"for non-IPv6 address '{ip.address}' in network '{name}'", verbatim=True)  # fmt: skip
    if ip.family != "ipv6" and not v4:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: "
                                f"{ip.family or 'no'} family specified for non-IPv4 address '{ip.address}' "
                                f"in network '{name}'", verbatim=True)  # fmt: skip
    if v4 and netmask is not None:
        if netmask[0] != _socket.AF_INET:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: Invalid netmask "
                                    f"'{ip.netmask}' for address '{ip.address}' in network '{name}' (both must be "
                                    "IPv4)", verbatim=True)  # fmt: skip
        if ip.prefix:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: Network '{name}' IP "
                                    "address cannot have both a prefix and a netmask", verbatim=True)  # fmt: skip
    if v4 and ip.prefix is not None and not 0 <= ip.prefix <= 32:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: Invalid IPv4 prefix "
                                f"'{ip.prefix}' in network '{name}'", verbatim=True)  # fmt: skip
    ip.address = address[1]
    if netmask is not None:
        ip.netmask = netmask[1]
    for rng in ip.dhcp_ranges or []:
        if rng.start is None:
            raise XMLError(ErrorCode.XML_ERROR, f"Missing 'start' attribute in dhcp range for network '{name}'")
        rng.start = _socket_address(rng.start)
        if rng.end is None:
            raise XMLError(ErrorCode.XML_ERROR, f"Missing 'end' attribute in dhcp range for network '{name}'")
        rng.end = _socket_address(rng.end)
        if v4:
            _check_range(rng, ip)
        _check_lease(rng)
    for host in ip.dhcp_hosts or []:
        _check_dhcp_host(host, v4, name)
        _check_lease(host)
    ip.dhcp_ranges, ip.dhcp_hosts = ip.dhcp_ranges or None, ip.dhcp_hosts or None  # no empty <dhcp/> kept
    if ip.dhcp_bootp_file is None:
        ip.dhcp_bootp_server = None  # libvirt skips a <bootp> without a file, server and all
    else:
        _no_control(ip.dhcp_bootp_file, "bootp file")
        if ip.dhcp_bootp_server is not None:
            ip.dhcp_bootp_server = _socket_address(ip.dhcp_bootp_server)
    if ip.tftp_root is not None:
        if not v4:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Unsupported <tftp> "
                                    f"element in an IPv6 element in network '{name}'", verbatim=True)  # fmt: skip
        _no_control(ip.tftp_root, "tftp root")


def _check_lease(owner: DhcpRange | DhcpHost) -> None:
    """virNetworkDHCPLeaseTimeDefParseXML: minutes by default, at least two minutes, 0 for an infinite lease
    (written without a unit)."""
    if owner.lease_expiry is None:
        owner.lease_unit = None  # no expiry: libvirt keeps no lease at all
        return
    if owner.lease_expiry < 0:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'expiry' in element 'lease': "
                       f"'{owner.lease_expiry}'. Expected non-negative integer value")  # fmt: skip
    unit = owner.lease_unit or "minutes"
    if unit not in _LEASE_UNITS:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'unit' in element 'lease': '{unit}'.")
    if owner.lease_expiry and ((unit == "seconds" and owner.lease_expiry < 120) or
                               (unit == "minutes" and owner.lease_expiry < 2)):  # fmt: skip
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "unsupported configuration: The minimum lease time should be greater than 2 minutes",
                                verbatim=True)  # fmt: skip
    owner.lease_unit = unit if owner.lease_expiry else None


def _check_range(rng: DhcpRange, ip: Ip) -> None:
    """virSocketAddrGetRange for an IPv4 network: inside the network, neither its network nor its
    broadcast address, at most 65536 addresses, not reversed (libvirt's internal errors, its words)."""
    start, end, where = rng.start or "", rng.end or "", f"{rng.start} - {rng.end}"
    if ":" in start or ":" in end:
        if ":" not in start or ":" not in end:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"mismatch of address family in range {where}")
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"mismatch of address family in range {where} for network "
                            f"{ip.address}")  # fmt: skip
    try:
        prefix = ip_prefix(ip)
    except InternalError:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"bad prefix -1 for network {ip.address} when  checking "
                            f"range {where}") from None  # fmt: skip
    # 32-bit arithmetic rather than the ipaddress module (its import alone outweighs the check); the texts
    # are canonical dotted quads already (_socket_address)
    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    network = int.from_bytes(_socket.inet_aton(ip.address or ""), "big") & mask
    broadcast = network | (~mask & 0xFFFFFFFF)
    first = int.from_bytes(_socket.inet_aton(start), "big")
    last = int.from_bytes(_socket.inet_aton(end), "big")
    if not network <= first <= broadcast or not network <= last <= broadcast:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"range {where} is not entirely within network "
                            f"{ip.address}/{prefix}")  # fmt: skip
    if first == network:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"start of range {where} in network {ip.address}/{prefix} "
                            "is the network address")  # fmt: skip
    if last == broadcast:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"end of range {where} in network {ip.address}/{prefix} "
                            "is the broadcast address")  # fmt: skip
    if first >> 16 != last >> 16:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"range {where} is too large (> 65535)")
    if last < first:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"range {where} is reversed ")


def _check_dhcp_host(host: DhcpHost, v4: bool, name: str) -> None:
    """virNetworkDHCPHostDefParseXML (for a full definition, not an update's partial match)."""
    if host.mac is not None:
        if not v4:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid to specify MAC address '{host.mac}' in network '{name}' "
                           "IPv6 static host definition")  # fmt: skip
        host.mac = _check_mac(host.mac, "Cannot parse MAC address", name)
        if _is_multicast(host.mac):
            raise XMLError(ErrorCode.XML_ERROR, f"expected unicast mac address, found multicast '{host.mac}' "
                           f"in network '{name}'")  # fmt: skip
    if host.id is not None:
        bad = next((c for c in host.id if c not in "0123456789abcdefABCDEF:"), None)
        if bad is not None:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid character '{bad}' in id '{host.id}' of network '{name}'")
    if host.name is not None:
        if not host.name or not (host.name[0].isascii() and host.name[0].isalnum()):
            raise XMLError(ErrorCode.XML_ERROR, f"Cannot use host name '{host.name}' in network '{name}'")
        _no_control(host.name, "host name")
    if host.ip is not None:
        parsed = _parse_address(host.ip)
        if parsed is None:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid IP address in static host definition for network '{name}'")
        host.ip = parsed[1]
    if not v4 and not (host.id or host.name):
        raise XMLError(ErrorCode.XML_ERROR, f"Static host definition in IPv6 network '{name}' must have id or "
                       "name attribute")  # fmt: skip
    if v4 and not (host.mac or host.name):
        raise XMLError(ErrorCode.XML_ERROR, f"Static host definition in IPv4 network '{name}' must have mac or "
                       "name attribute")  # fmt: skip
    if host.ip is None:
        raise XMLError(ErrorCode.XML_ERROR, f"Missing IP address in static host definition for network '{name}'")


def _check_dns_host(host: DnsHost, name: str) -> None:
    """virNetworkDNSHostDefParseXML: an address, and at least one non-empty host name."""
    if host.ip is None:
        raise XMLError(ErrorCode.XML_DETAIL, f"Missing IP address in network '{name}' DNS HOST record")
    parsed = _parse_address(host.ip)
    if parsed is None:
        raise XMLError(ErrorCode.XML_DETAIL, f"Invalid IP address in network '{name}' DNS HOST record")
    host.ip = parsed[1]
    if not host.hostnames:
        raise XMLError(ErrorCode.XML_DETAIL, f"Missing hostname in network '{name}' DNS HOST record")
    for hostname in host.hostnames:
        if not hostname.name:
            raise XMLError(ErrorCode.XML_DETAIL, f"Missing hostname in network '{name}' DNS HOST record")
        _no_control(hostname.name, "hostname")


_SERVICE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/*")
_PROTOCOL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+/")
_DNS_RECORD_LENGTH_SRV = 512 - 30


def _srv_number(text: str | None) -> int | None:
    """virXPathUInt (virStrToLong_uip): an unsigned int read from the whole text, no sign of minus;
    None when absent, -1 when unreadable."""
    if not text:
        return None  # an empty attribute reads as none at all
    body = text.lstrip(" \t\n\v\f\r")
    digits = body[1:] if body[:1] in "+-" else body
    if not digits.isascii() or not digits.isdigit():
        return -1
    value = int(digits)
    return -1 if value > 0xFFFFFFFF or body.startswith("-") else value


def _check_dns(net: Network, name: str) -> None:
    """virNetworkDNSDefParseXML: forwarders, hosts, SRV and TXT records, in libvirt's order."""
    for fwd in net.dns_forwarders or []:
        if fwd.addr is not None:
            parsed = _parse_address(fwd.addr)
            if parsed is None:
                raise XMLError(ErrorCode.XML_ERROR, f"Invalid forwarder IP address '{fwd.addr}' in network '{name}'")
            fwd.addr = parsed[1]
        if fwd.addr is None and fwd.domain is None:
            raise XMLError(
                ErrorCode.XML_ERROR, "Invalid forwarder element, must contain at least one of addr or domain"
            )
        _no_control(fwd.domain, "forwarder domain")
    for dns_host in net.dns_hosts or []:
        _check_dns_host(dns_host, name)
    for srv in net.dns_srvs or []:
        _check_srv(srv, name)
    for txt in net.dns_txts or []:
        if txt.name is None:
            raise XMLError(ErrorCode.XML_DETAIL, f"missing required name attribute in DNS TXT record of network {name}")
        if " " in txt.name or "," in txt.name:
            raise XMLError(ErrorCode.XML_DETAIL, f"prohibited character in DNS TXT record name '{txt.name}' "
                           f"of network {name}")  # fmt: skip
        if txt.value is None:
            raise XMLError(ErrorCode.XML_DETAIL, f"missing required value attribute in DNS TXT record named "
                           f"'{txt.name}' of network {name}")  # fmt: skip
        _no_control(txt.name, "TXT record name")
        _no_control(txt.value, "TXT record value")
    if net.dns_enable is False and (net.dns_forwarders or net.dns_hosts or net.dns_srvs or net.dns_txts):
        raise XMLError(ErrorCode.XML_ERROR, f"Extra data in disabled network '{name}'")


def _check_srv(srv: DnsSrv, name: str) -> None:
    """virNetworkDNSSrvDefParseXML: service and protocol from fixed character sets, numbers in range."""
    if srv.service is None:
        raise XMLError(
            ErrorCode.XML_DETAIL, f"missing required service attribute in DNS SRV record of network '{name}'"
        )
    if len(srv.service.encode()) > _DNS_RECORD_LENGTH_SRV:
        raise XMLError(ErrorCode.XML_DETAIL, f"service attribute '{srv.service}' in network '{name}' is too long, "
                       f"limit is {_DNS_RECORD_LENGTH_SRV} bytes")  # fmt: skip
    if not set(srv.service) <= _SERVICE_CHARS:
        raise XMLError(ErrorCode.XML_DETAIL, f"invalid character in service attribute '{srv.service}' in DNS SRV "
                       f"record of network '{name}'")  # fmt: skip
    if srv.protocol is None:
        raise XMLError(ErrorCode.XML_DETAIL, f"missing required protocol attribute in DNS SRV record "
                       f"'{srv.service}' of network '{name}'")  # fmt: skip
    if not set(srv.protocol) <= _PROTOCOL_CHARS:
        raise XMLError(ErrorCode.XML_DETAIL, f"invalid character in protocol attribute '{srv.protocol}' in DNS SRV "
                       f"record of network '{name}'")  # fmt: skip
    _no_control(srv.domain, "SRV record domain")
    _no_control(srv.target, "SRV record target")
    for attr, word in (("port", "invalid"), ("priority", "Invalid"), ("weight", "invalid")):
        value = _srv_number(getattr(srv, attr))
        if value is None:
            setattr(srv, attr, None)
            continue
        if srv.target is None and value != -1:
            raise XMLError(ErrorCode.XML_DETAIL, f"DNS SRV {attr} attribute not permitted without target for "
                           f"service '{srv.service}' in network '{name}'")  # fmt: skip
        if value == -1 or value > 65535 or (attr == "port" and value < 1):
            raise XMLError(ErrorCode.XML_DETAIL, f"{word} DNS SRV {attr} attribute for service '{srv.service}' "
                           f"in network '{name}'")  # fmt: skip
        setattr(srv, attr, str(value) if value else None)  # libvirt writes none of them when 0


def check_network(net: Network) -> None:
    """libvirt's parse-time checks on the values dnsmasq, nftables and the kernel receive; addresses canonical.

    Run on every parsed definition and again on a definition that ``net-update`` changed, so that
    nothing reaches a configuration file that a fresh ``net-define`` would refuse.
    """
    name = net.name or ""
    _no_control(net.domain_name, "domain name")
    _no_control(net.bridge_name, "bridge name")
    if net.mac is not None:
        net.mac = _check_mac(net.mac, "Invalid bridge mac address", name)
        if _is_multicast(net.mac):
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid multicast bridge mac address '{net.mac}' in network '{name}'")
        net.mac = ":".join(f"{int(part, 16):02x}" for part in net.mac.split(":"))  # virMacAddrFormat
    _check_dns(net, name)
    for ip in net.ips or []:
        _check_ip(ip, name)
