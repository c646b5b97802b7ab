"""``domifaddr``: a running guest's NIC addresses from the three places libvirt asks.

Shared by the local hypervisor drivers (QEMU answers all three sources,
LXC, like libvirt's, the lease and ARP ones).

- ``lease`` (source 0): the DHCP leases the guest's virtual networks handed
  out, asked of the network driver through its URI, for NICs of
  ``type='network'`` only and only those with a lease (libvirt's
  virDomainNetDHCPInterfaces);
- ``agent`` (source 1): the guest agent's ``guest-network-get-interfaces``,
  every interface the guest has, loopback included;
- ``arp`` (source 2): the host's IPv4 neighbour table, one entry per
  neighbour whose link-layer address is a NIC's MAC, prefix 0 (libvirt's
  virDomainNetARPInterfaces).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError
from pyvirt.plugin.records import InterfaceAddresses

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.connection import Connection
    from pyvirt.uri import URI

__all__ = [
    "SOURCE_AGENT",
    "SOURCE_ARP",
    "SOURCE_LEASE",
    "agent_addresses",
    "arp_addresses",
    "interface_addresses",
    "lease_addresses",
]

SOURCE_LEASE, SOURCE_AGENT, SOURCE_ARP = 0, 1, 2
_ARP_COMPLETE = 0x2  # ATF_COM in /proc/net/arp's Flags column


def lease_addresses(dom: Domain, networks: Connection) -> list[InterfaceAddresses]:
    out = []
    for nic in dom.devices.interfaces if dom.devices is not None else []:
        if nic.type != "network" or not nic.mac:
            continue
        leases = networks.lookup_network_by_name(nic.source_network or "").dhcp_leases(nic.mac)
        if leases:
            addrs = tuple((lease.type, lease.ipaddr, lease.prefix) for lease in leases)
            out.append(InterfaceAddresses(nic.target_dev or "", nic.mac, addrs))
    return out


def _neighbours(path: str = "/proc/net/arp") -> list[tuple[str, str]]:
    """(IPv4 address, MAC) of every complete entry of the host's ARP table."""
    found = []
    with open(path, encoding="ascii") as f:
        next(f, None)  # the header line
        for line in f:
            fields = line.split()
            if len(fields) >= 4 and int(fields[2], 16) & _ARP_COMPLETE:
                found.append((fields[0], fields[3].lower()))
    return found


def arp_addresses(dom: Domain, table: str = "/proc/net/arp") -> list[InterfaceAddresses]:
    neighbours = _neighbours(table)
    out: list[InterfaceAddresses] = []
    for nic in dom.devices.interfaces if dom.devices is not None else []:
        mac = (nic.mac or "").lower()
        out.extend(InterfaceAddresses(nic.target_dev or "", mac, (("ipv4", ip, 0),))
                   for ip, hwaddr in neighbours if mac and hwaddr == mac)  # fmt: skip
    return out


def agent_addresses(reply: Any) -> list[InterfaceAddresses]:
    """``guest-network-get-interfaces``'s answer as records; malformed answers are the agent's error."""
    if not isinstance(reply, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't return an array of interfaces")
    out = []
    for iface in reply:
        if not isinstance(iface, dict) or not isinstance(iface.get("name"), str):
            raise InternalError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't provide 'name' field")
        addrs = []
        for ip in iface.get("ip-addresses") or []:
            kind = ip.get("ip-address-type")
            if kind not in ("ipv4", "ipv6"):
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"unknown ip address type '{kind}'")
            addrs.append((kind, str(ip.get("ip-address", "")), int(ip.get("prefix", 0))))
        out.append(InterfaceAddresses(iface["name"], str(iface.get("hardware-address", "")), tuple(addrs)))
    return out


def interface_addresses(dom: Domain, source: int, hypervisor: URI,
                        ask_agent: Callable[[], Any] | None = None) -> list[InterfaceAddresses]:  # fmt: skip
    """The running guest ``dom``'s addresses from ``source``.

    ``ask_agent`` runs ``guest-network-get-interfaces`` for drivers that have
    an agent; without it the agent source is refused as libvirt's LXC driver
    refuses it.
    """
    if source == SOURCE_LEASE:
        import pyvirt
        from pyvirt.local_driver.network_nics import network_uri

        with pyvirt.open(network_uri(hypervisor)) as networks:
            return lease_addresses(dom, networks)
    if source == SOURCE_ARP:
        return arp_addresses(dom)
    if source == SOURCE_AGENT and ask_agent is not None:
        return agent_addresses(ask_agent())
    raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, f"Unknown IP address data source {source}")
