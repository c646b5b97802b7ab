"""``<interface type='network'>``: a NIC on a virtual network, found through the network driver.

Shared by the local hypervisor drivers (QEMU, LXC). As libvirt's do, they ask the network driver of the same mode
(``network:///system`` for ``qemu:///system``, the same embedded root) over
pyvirt's public API: the network must be running, and its bridge is where
the NIC's tap (or veth) is plugged. The running guest's XML names the bridge next to
the network (``<source network='default' bridge='virbr0'/>``), as libvirt's
live XML does, so the status file keeps it for other processes.

A driver that asks for it (QEMU) also plugs each such NIC into a port of the
network (virDomainNetAllocateActualDevice → virNetworkPortCreateXML): the
port's UUID goes into the live XML (``portid``), and the port is deleted when
the guest stops or the NIC is unplugged (virDomainNetReleaseActualDevice), so
``net-port-list`` shows the NICs a network serves, as libvirt's does.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

import pyvirt
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationInvalidError
from pyvirt.uri import URI

__all__ = ["network_uri", "release_network_ports", "resolve_network_nic", "resolve_network_nics"]


def network_uri(hypervisor: URI) -> str:
    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    return f"network://{hypervisor.path}{query}"


def resolve_network_nic(conn: pyvirt.Connection, nic: Interface, owner: Domain | None = None) -> None:
    """The NIC's bridge, and with ``owner`` (the guest it belongs to) a port of the network for it."""
    network = conn.lookup_network_by_name(nic.source_network or "")
    if not network.is_active():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{network.name}' is not active")
    nic.source_bridge = network.bridge_name()
    if owner is not None:
        nic.source_portid = network.port_create_xml(_port_xml(owner, nic)).uuid


def _port_xml(owner: Domain, nic: Interface) -> str:
    """virDomainNetDefToNetworkPort: who owns the port, the NIC's MAC and what it asks of the network."""
    from pyvirt.conf.common import new_uuid
    from pyvirt.conf.networkport import NetworkPort, PortBandwidth, format_port

    bandwidth = None
    if nic.bandwidth is not None:
        bandwidth = PortBandwidth(inbound=nic.bandwidth.inbound, outbound=nic.bandwidth.outbound)
    port = NetworkPort(uuid=new_uuid(), owner_name=owner.name, owner_uuid=owner.uuid, group=nic.source_portgroup,
                       mac=nic.mac, bandwidth=bandwidth, vlan=nic.vlan, isolated=nic.port_isolated,
                       trust_guest_rx_filters=nic.trustGuestRxFilters)  # fmt: skip
    return format_port(port)


def release_network_ports(dom: Domain, network_uri_text: str, nics: list[Interface] | None = None) -> None:
    """Delete the network ports of ``nics`` (all of the guest's when None) and forget their ``portid``.

    As libvirt's qemuProcessStop, a port that cannot be deleted (its network stopped meanwhile, which
    deleted it) does not stop the rest: the guest is gone either way.
    """
    if nics is None:
        nics = dom.devices.interfaces if dom.devices is not None else []
    plugged = [n for n in nics if n.type == "network" and n.source_portid]
    if not plugged:
        return
    try:
        conn = pyvirt.open(network_uri_text)
    except Error:
        return
    with conn:
        for nic in plugged:
            # virDomainNetReleaseActualDevice's failure is ignored by its callers on stop and unplug
            with contextlib.suppress(Error):
                network = conn.lookup_network_by_name(nic.source_network or "")
                network.port_lookup_by_uuid(nic.source_portid or "").delete()
            nic.source_portid = None


def resolve_network_nics(dom: Domain, hypervisor: URI, ports: bool = False) -> None:
    """Every ``type='network'`` NIC of ``dom``; with ``ports``, each plugged into a new port of its network.

    When one NIC fails, the ports made for the NICs before it are deleted again.
    """
    nics = [n for n in (dom.devices.interfaces if dom.devices is not None else []) if n.type == "network"]
    if not nics:
        return
    try:
        conn = pyvirt.open(network_uri(hypervisor))
    except Error as exc:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"NICs of type 'network' need the network driver (pyvirt-network): {exc.message}") \
            from exc  # fmt: skip
    with conn:
        try:
            for nic in nics:
                resolve_network_nic(conn, nic, dom if ports else None)
        except BaseException:
            if ports:
                release_network_ports(dom, network_uri(hypervisor), nics)
            raise
