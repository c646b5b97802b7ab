"""The call table's rows for virtual networks.

Part of :data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import (
    _ALL,
    _OBJECT_FLAGS,
    RemoteCall,
    _first,
    _flags,
    _one,
    network_ref,
    uuid_bytes,
    uuid_text,
)

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import DhcpLease, NetworkPortRef, NetworkRef

__all__ = ["ROWS"]


def _wire_network(n: NetworkRef) -> tuple[str, bytes]:
    return (n.name, uuid_bytes(n.uuid))


def _wire_port(p: NetworkPortRef) -> tuple[tuple[str, bytes], bytes]:
    return (_wire_network(p.net), uuid_bytes(p.uuid))


def _port_ref(w: Any) -> NetworkPortRef:
    """remote_nonnull_network_port: the network and the port's UUID."""
    return _records.NetworkPortRef(network_ref(w[0]), uuid_text(w[1]))


def _leases(w: Any) -> list[DhcpLease]:
    return [
        _records.DhcpLease(
            iface, expiry, "ipv6" if t == 1 else "ipv4", mac or "", iaid or "", ipaddr, prefix, hostname or "",
            clientid or "",
        )
        for iface, expiry, t, mac, iaid, ipaddr, prefix, hostname, clientid in w[0]
    ]  # fmt: skip


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("network_list_all", "CONNECT_LIST_ALL_NETWORKS", lambda: (_ALL, 0),
         lambda w: sorted((network_ref(n) for n in w[0]), key=lambda r: r.name)),
    _one("network_lookup_by_name", "NETWORK_LOOKUP_BY_NAME", lambda name: (name,), lambda w: network_ref(w[0])),
    _one("network_lookup_by_uuid", "NETWORK_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: network_ref(w[0])),
    _one("network_define_xml", "NETWORK_DEFINE_XML_FLAGS", lambda xml, flags: (xml, flags),
         lambda w: network_ref(w[0]), ("NETWORK_DEFINE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("network_create_xml", "NETWORK_CREATE_XML_FLAGS", lambda xml, flags: (xml, flags),
         lambda w: network_ref(w[0]), ("NETWORK_CREATE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("network_undefine", "NETWORK_UNDEFINE", lambda net: (_wire_network(net),)),
    _one("network_create", "NETWORK_CREATE", lambda net: (_wire_network(net),)),
    _one("network_destroy", "NETWORK_DESTROY", lambda net: (_wire_network(net),)),
    _one("network_get_xml_desc", "NETWORK_GET_XML_DESC", lambda net, flags: (_wire_network(net), flags), _first),
    RemoteCall("network_get_flags", ("NETWORK_IS_ACTIVE", "NETWORK_IS_PERSISTENT", "NETWORK_GET_AUTOSTART"),
               lambda net: [(_wire_network(net),)] * 3, _flags(_OBJECT_FLAGS)),
    _one("network_get_bridge_name", "NETWORK_GET_BRIDGE_NAME", lambda net: (_wire_network(net),), _first),
    _one("network_get_dhcp_leases", "NETWORK_GET_DHCP_LEASES",
         lambda net, mac, flags: (_wire_network(net), mac, _ALL, flags), _leases),
    _one("network_update", "NETWORK_UPDATE",
         lambda net, command, section, parent_index, xml, flags:
         (_wire_network(net), command, section, parent_index, xml, flags)),
    _one("network_set_autostart", "NETWORK_SET_AUTOSTART",
         lambda net, autostart: (_wire_network(net), int(autostart))),
    _one("network_list_all_ports", "NETWORK_LIST_ALL_PORTS", lambda net, flags: (_wire_network(net), _ALL, flags),
         lambda w: [_port_ref(p) for p in w[0]]),
    _one("network_port_lookup_by_uuid", "NETWORK_PORT_LOOKUP_BY_UUID",
         lambda net, uuid: (_wire_network(net), uuid_bytes(uuid)), lambda w: _port_ref(w[0])),
    _one("network_port_create_xml", "NETWORK_PORT_CREATE_XML", lambda net, xml, flags: (_wire_network(net), xml, flags),
         lambda w: _port_ref(w[0])),
    _one("network_port_get_xml_desc", "NETWORK_PORT_GET_XML_DESC", lambda port, flags: (_wire_port(port), flags),
         _first),
    _one("network_port_delete", "NETWORK_PORT_DELETE", lambda port, flags: (_wire_port(port), flags)),
)
# fmt: on
