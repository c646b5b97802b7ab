"""The network driver: ``network:///system`` and ``network:///embed?root=DIR``.

libvirt's virtual networks, as its ``virtnetworkd`` serves them:

- ``forward mode='nat'`` (the default for ``<forward/>``), ``'route'`` and no
  ``<forward>`` (isolated): a bridge of its own (``bridge_setup``), the
  ``<ip>`` addresses on it, dnsmasq for DHCP and DNS (``dnsmasq``), and for
  NAT and routed networks the forwarding rules (``firewall``, nftables) with
  IPv4 forwarding switched on;
- ``forward mode='bridge'``: guests join a host bridge that already exists.

Definitions and running state are files (``pyvirt.local_driver.object_store``)
shared by every process; a network keeps running after the process that
started it exits, and the first open after a host boot starts autostart
networks. A start that fails undoes what it did (bridge, dnsmasq, rules).
Hypervisor drivers find a network's bridge through this driver's URI, and
``qemu:///`` connections answer ``net-*`` calls through it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from typing import Any

from pyvirt.conf.network import Network, check_network, format_network, parse_network
from pyvirt.conf.network_update import update_network
from pyvirt.conf.networkport import format_port, parse_port
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import EventSink, NetworkEvent
from pyvirt.flags import (
    NetworkCreateFlags,
    NetworkDefineFlags,
    NetworkPortCreateFlags,
    NetworkUpdateFlags,
    NetworkXMLFlags,
)
from pyvirt.local_driver.object_store import ObjectEntry, ObjectStore
from pyvirt.local_driver.paths import DriverPaths, embed_paths, paths_for_uri
from pyvirt.local_driver.state_driver import HeldState, should_autostart, wait_unlocked
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DhcpLease, NetworkPortRef, NetworkRef
from pyvirt.uri import URI
from pyvirt_network.bridge_setup import bridge_exists, create_bridge, free_bridge_name, remove_bridge, subnets
from pyvirt_network.dnsmasq import needs_dnsmasq, read_leases, start_dnsmasq, stop_dnsmasq
from pyvirt_network.firewall import add_rules, remove_rules, table_name
from pyvirt_network.ports import PortDirectory, allocate_port, check_reclaim

__all__ = ["NetworkConnection", "NetworkDriver"]

_MODES = (None, "nat", "route", "bridge")

log = logging.getLogger("pyvirt.network")
_held = HeldState("network")  # pyvirtd's connection, from state_initialize to state_cleanup


def _no_network(name: str) -> NotFoundError:
    return NotFoundError(ErrorCode.NO_NETWORK, f"no network with matching name '{name}'", domain=ErrorDomain.NETWORK)


def _paths(uri: URI) -> DriverPaths:
    if uri.path == "/embed":
        return embed_paths(os.path.join(uri.embed_root(), "network"))
    return paths_for_uri(uri, "network", session=False)


class NetworkDriver(HypervisorDriver):
    """Entry point ``network`` of ``pyvirt.hypervisor``.

    Its state hooks (pyvirtd): the networks are files shared by every
    process, so the state held is one connection of the driver's own;
    initializing it is the first open after a host boot (autostart), and a
    reload starts the autostart networks that are not running, as libvirt's
    ``networkStateReload`` does.
    """

    pyvirt_contract = "1.16"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "network" or uri.server:
            return None
        return NetworkConnection(_paths(uri), events)

    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        if not privileged and root is None:
            log.info("network driver: no session mode, disabled")  # network:///session is not served
            return False
        _held.open(self, privileged, root)
        return True

    @hookimpl
    def state_reload(self) -> None:
        if _held.conn is not None:
            _held.conn.autostart()

    @hookimpl
    def state_shutdown_prepare(self) -> None:
        _held.prepare()

    @hookimpl
    def state_shutdown_wait(self, timeout: float) -> bool:
        return True if _held.conn is None else wait_unlocked(os.path.join(_held.conn.paths.run, "driver.lock"), timeout)

    @hookimpl
    def state_cleanup(self) -> None:
        _held.close()


def _random_mac() -> str:
    return "52:54:00:{:02x}:{:02x}:{:02x}".format(*os.urandom(3))


class NetworkConnection:
    def __init__(self, paths: DriverPaths, events: EventSink | None = None) -> None:
        self.paths = paths
        # lifecycle events of this connection's own calls (another process's changes are not seen)
        self.events = events if events is not None else EventSink()
        self.store: ObjectStore[Network] = ObjectStore(paths, parse_network, format_network, _no_network)
        if should_autostart(paths.run):  # pyvirtd's state_initialize, or the first open after a host boot
            self.autostart()

    def autostart(self) -> list[str]:
        """Start the networks marked autostart that are not running (libvirt's ``networkAutostartConfig``).

        Each under the store's lock, checked again there (another process
        may have started it meanwhile); one that fails is logged and the
        others still start. Returns the names started.
        """
        started: list[str] = []
        for entry in self.store.all():
            if not entry.autostart or entry.active:
                continue
            name = entry.defn.name or ""
            try:
                with self.store.locked():
                    again = self.store.get(name)
                    if not again.autostart or again.active:
                        continue
                    self._start(again.defn)
            except Error as e:
                log.error("Failed to autostart network '%s': %s", name, e.message)
                continue
            started.append(name)
            self.events.network_lifecycle(self._ref(again.defn), NetworkEvent.STARTED)
        return started

    @staticmethod
    def _ref(net: Network) -> NetworkRef:
        return NetworkRef(net.name or "", net.uuid or "")

    # ---------------------------------------------------------------- connection
    @hookimpl
    def connect_close(self) -> None:
        return None

    @hookimpl
    def connect_get_type(self) -> str:
        return "network"

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    # ---------------------------------------------------------------- definitions
    @hookimpl
    def network_list_all(self) -> list[NetworkRef]:
        return [self._ref(e.defn) for e in self.store.all()]

    @hookimpl
    def network_lookup_by_name(self, name: str) -> NetworkRef:
        return self._ref(self.store.get(name).defn)

    @hookimpl
    def network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        for entry in self.store.all():
            if entry.defn.uuid == uuid:
                return self._ref(entry.defn)
        raise NotFoundError(ErrorCode.NO_NETWORK, f"no network with matching uuid '{uuid}'",
                            domain=ErrorDomain.NETWORK)  # fmt: skip

    def _prepare(self, net: Network, xml: str) -> Network:
        """libvirt's define-time checks and the bridge name and MAC it assigns."""
        if net.forward_mode not in _MODES:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                       f"unsupported configuration: forward mode '{net.forward_mode}' is not supported "
                                       "by the network driver yet", verbatim=True)  # fmt: skip
        if any(ip.family == "ipv6" for ip in net.ips or []) or net.routes:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: IPv6 addresses and "
                                       "static routes are not supported by the network driver yet", verbatim=True)  # fmt: skip
        existing = self.store.find(net.name or "")
        if existing is not None and "<uuid" not in xml:
            net.uuid = existing.defn.uuid
        for other in self.store.all():
            if other.defn.name != net.name and other.defn.uuid == net.uuid:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                           f"network '{other.defn.name}' is already defined with uuid {net.uuid}")  # fmt: skip
            if other.defn.name == net.name and other.defn.uuid != net.uuid:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                           f"network '{net.name}' is already defined with uuid {other.defn.uuid}")  # fmt: skip
        if net.forward_mode == "bridge":
            if not net.bridge_name:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: forward mode "
                                           "'bridge' needs <bridge name>", verbatim=True)  # fmt: skip
            return net
        if not net.bridge_name:
            taken = {e.defn.bridge_name for e in self.store.all() if e.defn.bridge_name}
            net.bridge_name = existing.defn.bridge_name if existing and existing.defn.bridge_name else \
                free_bridge_name(taken)  # fmt: skip
        net.mac = net.mac or (existing.defn.mac if existing else None) or _random_mac()
        for other in self.store.all():
            if other.defn.name != net.name and other.defn.bridge_name == net.bridge_name:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                           f"bridge name '{net.bridge_name}' already in use.")  # fmt: skip
        return net

    @hookimpl
    def network_define_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, NetworkDefineFlags.VALIDATE, "networkDefineXML")
        with self.store.locked():
            net = self._prepare(parse_network(xml), xml)
            self.store.save_config(net)
        self.events.network_lifecycle(self._ref(net), NetworkEvent.DEFINED)
        return self._ref(net)

    @hookimpl
    def network_create_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, NetworkCreateFlags.VALIDATE, "networkCreateXML")
        with self.store.locked():
            net = self._prepare(parse_network(xml), xml)
            entry = self.store.find(net.name or "")
            if entry is not None and entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is already active")
            self._start(net)
        self.events.network_lifecycle(self._ref(net), NetworkEvent.STARTED)
        return self._ref(net)

    @hookimpl
    def network_undefine(self, net: NetworkRef) -> None:
        with self.store.locked():
            entry = self.store.get(net.name)
            if not entry.persistent:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is not persistent")
            self.store.remove_config(net.name)  # an active network becomes transient, as libvirt lets it
        self.events.network_lifecycle(net, NetworkEvent.UNDEFINED)

    # ---------------------------------------------------------------- start / stop
    def _start(self, net: Network) -> None:
        """Bridge, addresses, rules, dnsmasq, in that order; anything that fails undoes the rest."""
        if net.forward_mode == "bridge":
            if not bridge_exists(net.bridge_name or ""):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                           f"bridge '{net.bridge_name}' does not exist")  # fmt: skip
            self.store.mark_running(net)
            return
        bridge = net.bridge_name or ""
        create_bridge(net)
        table = table_name(net.uuid or "")
        try:
            if net.forward_mode in ("nat", "route"):
                for iface in subnets(net):
                    add_rules(table, bridge, iface.network, nat=net.forward_mode == "nat")
                with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as f:
                    f.write("1\n")
            if needs_dnsmasq(net):
                start_dnsmasq(net, bridge, self.paths)
            self.store.mark_running(net)
        except BaseException:
            stop_dnsmasq(net, self.paths)
            remove_rules(table)
            remove_bridge(bridge)
            raise

    def _stop(self, net: Network) -> None:
        self.store.mark_stopped(net.name or "")
        PortDirectory(self.paths.run, net.name or "").delete_all()  # networkShutdownNetwork forgets every port
        if net.forward_mode == "bridge":
            return
        stop_dnsmasq(net, self.paths)
        remove_rules(table_name(net.uuid or ""))
        remove_bridge(net.bridge_name or "")

    @hookimpl
    def network_create(self, net: NetworkRef) -> None:
        with self.store.locked():
            entry = self.store.get(net.name)
            if entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is already active")
            self._start(entry.defn)
        self.events.network_lifecycle(net, NetworkEvent.STARTED)

    @hookimpl
    def network_destroy(self, net: NetworkRef) -> None:
        with self.store.locked():
            entry = self.store.get(net.name)
            if not entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is not active")
            self._stop(entry.defn)
        self.events.network_lifecycle(net, NetworkEvent.STOPPED)

    @hookimpl
    def network_update(self, net: NetworkRef, command: int, section: int, parent_index: int, xml: str,
                       flags: int) -> None:  # fmt: skip
        """The live network, its persistent definition, or both, each changed on a copy first.

        A live change restarts the network's dnsmasq with the new configuration (libvirt sends
        SIGHUP for host changes and restarts for the rest); leases survive in the lease file.
        If the new dnsmasq does not start, the old one is started again and nothing is saved.
        """
        check_flags(flags, NetworkUpdateFlags.LIVE | NetworkUpdateFlags.CONFIG, "networkUpdate")
        with self.store.locked():
            entry = self.store.get(net.name)
            live, config = bool(flags & NetworkUpdateFlags.LIVE), bool(flags & NetworkUpdateFlags.CONFIG)
            if not live and not config:
                live, config = entry.active, not entry.active
            if live and not entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "network is not running")
            if config and not entry.persistent:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                            "cannot change persistent config of a transient network")  # fmt: skip
            persistent = self.store.persistent_definition(net.name) if config else None
            new_config = persistent.model_copy(deep=True) if persistent is not None else None
            new_live = entry.defn.model_copy(deep=True) if live else None
            for target in (new_live, new_config):
                if target is not None:
                    update_network(target, command, section, parent_index, xml)
                    check_network(target)  # what net-define would refuse never reaches dnsmasq through an update
            if new_live is not None and entry.defn.forward_mode != "bridge":
                self._restart_dnsmasq(entry.defn, new_live)
            if new_live is not None:
                self.store.mark_running(new_live)
            if new_config is not None:
                self.store.save_config(new_config)

    def _restart_dnsmasq(self, old: Network, new: Network) -> None:
        stop_dnsmasq(old, self.paths)
        try:
            if needs_dnsmasq(new):
                start_dnsmasq(new, new.bridge_name or "", self.paths)
        except BaseException:
            if needs_dnsmasq(old):
                with contextlib.suppress(Error):
                    start_dnsmasq(old, old.bridge_name or "", self.paths)
            raise

    # ---------------------------------------------------------------- queries
    @hookimpl
    def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        check_flags(flags, NetworkXMLFlags.INACTIVE, "networkGetXMLDesc")  # VIR_NETWORK_XML_INACTIVE
        entry: ObjectEntry[Network] = self.store.get(net.name)
        if flags & NetworkXMLFlags.INACTIVE and entry.persistent:
            inactive = self.store.persistent_definition(net.name)
            if inactive is not None:
                return format_network(inactive)
        return format_network(entry.defn)

    @hookimpl
    def network_get_flags(self, net: NetworkRef) -> dict[str, bool]:
        entry = self.store.get(net.name)
        return {"active": entry.active, "persistent": entry.persistent, "autostart": entry.autostart}

    @hookimpl
    def network_get_bridge_name(self, net: NetworkRef) -> str:
        entry = self.store.get(net.name)
        if not entry.defn.bridge_name:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"network '{net.name}' does not have a bridge name.")
        return entry.defn.bridge_name

    @hookimpl
    def network_get_dhcp_leases(self, net: NetworkRef, mac: str | None, flags: int) -> list[DhcpLease]:
        check_flags(flags, 0, "networkGetDHCPLeases")
        entry = self.store.get(net.name)
        if not entry.active:
            return []
        prefixes = subnets(entry.defn)
        out = []
        for expiry, lease_mac, address, hostname, clientid in read_leases(self.paths, net.name):
            if mac is not None and lease_mac.lower() != mac.lower():
                continue
            prefix = next((i.network.prefixlen for i in prefixes if ipaddress.IPv4Address(address) in i.network), 24)
            out.append(DhcpLease(entry.defn.bridge_name or "", expiry, "ipv4", lease_mac, "", address, prefix,
                                 hostname, clientid))  # fmt: skip
        return out

    @hookimpl
    def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        with self.store.locked():
            entry = self.store.get(net.name)
            if not entry.persistent:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot set autostart for transient network")
            self.store.set_autostart(net.name, autostart)

    # ---------------------------------------------------------------- ports
    def _active_entry(self, net: NetworkRef) -> ObjectEntry[Network]:
        entry = self.store.get(net.name)
        if not entry.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is not active")
        return entry

    def _count_connections(self, entry: ObjectEntry[Network], ports: PortDirectory) -> None:
        """The live definition's ``connections``: libvirt counts each allocated port (netdef->connections)."""
        entry.defn.connections = len(ports.all()) or None
        self.store.mark_running(entry.defn)

    @hookimpl
    def network_list_all_ports(self, net: NetworkRef, flags: int) -> list[NetworkPortRef]:
        """networkListAllPorts."""
        check_flags(flags, 0, "networkListAllPorts")
        self._active_entry(net)
        return [NetworkPortRef(net, p.uuid or "") for p in PortDirectory(self.paths.run, net.name).all()]

    @hookimpl
    def network_port_lookup_by_uuid(self, net: NetworkRef, uuid: str) -> NetworkPortRef:
        """networkPortLookupByUUID: the port first (NO_NETWORK_PORT), then the network's state."""
        entry = self.store.get(net.name)
        PortDirectory(self.paths.run, net.name).get(uuid)
        if not entry.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is not active")
        return NetworkPortRef(net, uuid)

    @hookimpl
    def network_port_create_xml(self, net: NetworkRef, xml: str, flags: int) -> NetworkPortRef:
        """networkPortCreateXML: parse, check the network runs, allocate (or reclaim) the plug, save.

        RECLAIM is how a hypervisor driver hands back a port it knew before a restart: the plug
        it recorded is kept (networkNotifyPort), only counted again.
        """
        check_flags(flags, NetworkPortCreateFlags.RECLAIM | NetworkPortCreateFlags.VALIDATE, "networkPortCreateXML")
        entry = self.store.get(net.name)
        if flags & NetworkPortCreateFlags.VALIDATE:
            from pyvirt.conf.schema import validate

            validate(xml, "networkport")
        port = parse_port(xml)
        with self.store.locked():
            entry = self.store.get(net.name)
            if not entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{net.name}' is not active")
            check_reclaim(port, bool(flags & NetworkPortCreateFlags.RECLAIM))
            if not flags & NetworkPortCreateFlags.RECLAIM:
                allocate_port(entry.defn, port)
            ports = PortDirectory(self.paths.run, net.name)
            ports.add(port)
            self._count_connections(entry, ports)
        return NetworkPortRef(net, port.uuid or "")

    @hookimpl
    def network_port_get_xml_desc(self, port: NetworkPortRef, flags: int) -> str:
        """networkPortGetXMLDesc."""
        check_flags(flags, 0, "networkPortGetXMLDesc")
        entry = self.store.get(port.net.name)
        found = PortDirectory(self.paths.run, port.net.name).get(port.uuid)
        if not entry.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{port.net.name}' is not active")
        return format_port(found)

    @hookimpl
    def network_port_delete(self, port: NetworkPortRef, flags: int) -> None:
        """networkPortDelete: unplugging a bridge port releases nothing this driver holds, so it is forgotten."""
        check_flags(flags, 0, "networkPortDelete")
        with self.store.locked():
            entry = self.store.get(port.net.name)
            ports = PortDirectory(self.paths.run, port.net.name)
            ports.get(port.uuid)
            if not entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{port.net.name}' is not active")
            ports.delete(port.uuid)
            self._count_connections(entry, ports)
