"""Virtual network XML (``<network>``)."""

from typing import Annotated, ClassVar

from pyvirt.conf.common import check_name, document_to_string, new_uuid, normalize_uuid, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel

__all__ = ["Network", "format_network", "parse_network"]


class DhcpRange(XmlModel):
    start: Annotated[str | None, X("@start")] = None
    end: Annotated[str | None, X("@end")] = None


class DhcpHost(XmlModel):
    mac: Annotated[str | None, X("@mac")] = None
    id: Annotated[str | None, X("@id")] = None
    name: Annotated[str | None, X("@name")] = None
    ip: Annotated[str | None, X("@ip")] = None


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
    dns_hosts: Annotated[list[DnsHost] | None, X("dns/host", model=DnsHost, many=True)] = None
    ips: Annotated[list[Ip] | None, X("ip", model=Ip, many=True)] = None
    routes: Annotated[list[Route] | None, X("route", model=Route, many=True)] = None


def parse_network(xml: str | bytes) -> Network:
    net = parse_document(Network, xml, "network_definition")
    net.name = check_name(net.name, "network name")
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
    return document_to_string(net, keep_open=("ip",))
