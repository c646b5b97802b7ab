"""``Network``: a virtual network handle (virNetworkPtr)."""

from __future__ import annotations

from pyvirt.list_filters import ACTIVE_PERSISTENT_AUTOSTART, matches_flag_groups
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.records import DhcpLease, NetworkPortRef, NetworkRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection
    from pyvirt.flags import NetworkPortCreateFlags, NetworkUpdateFlags, NetworkXMLFlags

__all__ = ["Network", "NetworkPort", "network_matches"]


def network_matches(calls: DriverCalls, ref: NetworkRef, flags: int) -> bool:
    """virConnectListAllNetworks flags: INACTIVE 1, ACTIVE 2, PERSISTENT 4, TRANSIENT 8, AUTOSTART 16, NO_AUTOSTART 32."""
    if not flags:
        return True
    return matches_flag_groups(flags, calls.network_get_flags(net=ref), ACTIVE_PERSISTENT_AUTOSTART)


class Network:
    """One virtual network of a connection (libvirt's virNetworkPtr); get it from the connection."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: NetworkRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.Network {self._ref.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def _flags(self) -> dict[str, bool]:
        return self._conn.calls.network_get_flags(net=self._ref)

    def is_active(self) -> bool:
        return self._flags()["active"]

    def is_persistent(self) -> bool:
        return self._flags()["persistent"]

    @property
    def autostart(self) -> bool:
        return self._flags()["autostart"]

    @autostart.setter
    def autostart(self, value: bool) -> None:
        self._conn.calls.network_set_autostart(net=self._ref, autostart=value)

    def dhcp_leases(self, mac: str | None = None, flags: int = 0) -> list[DhcpLease]:
        """The leases the network's DHCP server handed out, only ``mac``'s when given; virNetworkGetDHCPLeases."""
        return self._conn.calls.network_get_dhcp_leases(net=self._ref, mac=mac, flags=flags)

    def update(
        self, command: int, section: int, xml: str, parent_index: int = -1, flags: NetworkUpdateFlags | int = 0
    ) -> None:
        """virNetworkUpdate: one entry of one section (numbers as in ``pyvirt.conf.network_update``).

        ``flags``: 1 the live network, 2 the persistent definition, 0 the live one when running.
        """
        self._conn.calls.network_update(net=self._ref, command=command, section=section,
                                        parent_index=parent_index, xml=xml, flags=flags)  # fmt: skip

    def bridge_name(self) -> str:
        return self._conn.calls.network_get_bridge_name(net=self._ref)

    def xml_desc(self, flags: NetworkXMLFlags | int = 0) -> str:
        return self._conn.calls.network_get_xml_desc(net=self._ref, flags=flags)

    def create(self) -> None:
        self._conn.calls.network_create(net=self._ref)

    def destroy(self) -> None:
        self._conn.calls.network_destroy(net=self._ref)

    def undefine(self) -> None:
        self._conn.calls.network_undefine(net=self._ref)

    def list_all_ports(self, flags: int = 0) -> list[NetworkPort]:
        """The ports of the running network, one per guest NIC plugged into it; virNetworkListAllPorts."""
        return [NetworkPort(self, ref) for ref in self._conn.calls.network_list_all_ports(net=self._ref, flags=flags)]

    def port_lookup_by_uuid(self, uuid: str) -> NetworkPort:
        """virNetworkPortLookupByUUID (libvirt-python's ``portLookupByUUIDString``)."""
        from pyvirt.conf.identity import normalize_uuid

        return NetworkPort(self, self._conn.calls.network_port_lookup_by_uuid(net=self._ref, uuid=normalize_uuid(uuid)))

    def port_create_xml(self, xml: str, flags: NetworkPortCreateFlags | int = 0) -> NetworkPort:
        """Plug a new port described by a ``<networkport>`` document into the running network; virNetworkPortCreateXML."""
        return NetworkPort(self, self._conn.calls.network_port_create_xml(net=self._ref, xml=xml, flags=flags))


class NetworkPort:
    """One port of a running network (libvirt's virNetworkPortPtr); get it from its :class:`Network`."""

    __slots__ = ("_network", "_ref")

    def __init__(self, network: Network, ref: NetworkPortRef) -> None:
        self._network = network
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.NetworkPort {self._ref.uuid} of {self._ref.net.name}>"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    @property
    def network(self) -> Network:
        return self._network

    def xml_desc(self, flags: int = 0) -> str:
        return self._network._conn.calls.network_port_get_xml_desc(port=self._ref, flags=flags)

    def delete(self, flags: int = 0) -> None:
        """Unplug the port from its network; virNetworkPortDelete."""
        self._network._conn.calls.network_port_delete(port=self._ref, flags=flags)
