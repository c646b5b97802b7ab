"""Network ports: one record per guest NIC plugged into a running network, as libvirt 9.0 keeps them.

libvirt's network driver allocates a port when a hypervisor driver plugs a NIC
(``networkPortCreateXML`` → ``networkAllocatePort``), fills in how the NIC is
plugged (``<plug type='network' bridge=...>``), counts it in the network's live
``connections``, and saves it under the network's state directory
(``virNetworkObjAddPort``: ``STATEDIR/NETWORK/ports/UUID.xml``), so a restarted
daemon still knows every port. Stopping the network forgets them all
(``virNetworkObjDeleteAllPorts``).

Here the ports are those files and nothing else: every process of the driver
(pyvirtd, an embedded connection) reads the same directory, under the store's
lock for changes, as the networks themselves are shared.
"""

from __future__ import annotations

import contextlib
import os

from pyvirt.conf.network import Network
from pyvirt.conf.networkport import NetworkPort, Plug, format_port, parse_port
from pyvirt.errors import (
    AlreadyExistsError,
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    NotSupportedError,
    make_error,
)
from pyvirt.local_driver.status_file import atomic_write

__all__ = ["PortDirectory", "allocate_port", "check_reclaim"]


class PortDirectory:
    """The ports of one network: ``RUN/NETWORK/ports/UUID.xml`` (virNetworkObjGetPortStatusDir)."""

    def __init__(self, run: str, network: str) -> None:
        self.dir = os.path.join(run, network, "ports")
        self.network = network

    def _path(self, uuid: str) -> str:
        return os.path.join(self.dir, f"{uuid}.xml")

    def all(self) -> list[NetworkPort]:
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".xml"))
        except FileNotFoundError:
            return []
        ports = []
        for name in names:
            # (one deleted by another process meanwhile is no longer a port)
            with contextlib.suppress(FileNotFoundError), open(os.path.join(self.dir, name), "rb") as f:
                ports.append(parse_port(f.read()))
        return ports

    def get(self, uuid: str) -> NetworkPort:
        """virNetworkObjLookupPort."""
        try:
            with open(self._path(uuid), "rb") as f:
                return parse_port(f.read())
        except FileNotFoundError:
            raise make_error(ErrorCode.NO_NETWORK_PORT, f"Network port with UUID {uuid} does not exist",
                             domain=ErrorDomain.NETWORK) from None  # fmt: skip

    def add(self, port: NetworkPort) -> None:
        """virNetworkObjAddPort: a UUID is one port's only."""
        uuid = port.uuid or ""
        if os.path.exists(self._path(uuid)):
            # libvirt's detail ("Network port with UUID %s already exists") goes into its code's template
            # ("network port %s exists already"), so libvirt's own message says it twice; kept word for word
            raise AlreadyExistsError(
                ErrorCode.NETWORK_PORT_EXIST,
                f"network port Network port with UUID {uuid} already exists exists already",
                domain=ErrorDomain.NETWORK,
                verbatim=True,
            )
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        atomic_write(self._path(uuid), format_port(port).encode(), 0o600)

    def delete(self, uuid: str) -> None:
        """virNetworkObjDeletePort."""
        self.get(uuid)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(uuid))

    def delete_all(self) -> None:
        """virNetworkObjDeleteAllPorts, when the network stops."""
        for port in self.all():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(port.uuid or ""))
        for path in (self.dir, os.path.dirname(self.dir)):
            with contextlib.suppress(OSError):
                os.rmdir(path)


def _vport_type(port: NetworkPort) -> str:
    return (port.virtualport.type if port.virtualport is not None else None) or "none"


def allocate_port(net: Network, port: NetworkPort) -> None:
    """networkAllocatePort for the forward modes this driver runs (none, nat, route, bridge).

    The network's own settings fill what the port leaves out (trustGuestRxFilters), then the
    plug follows the forward mode: a bridge the network made is ``network``, a host bridge
    ``bridge``; a port profile or a bandwidth floor the network cannot honour is refused
    with libvirt's words.
    """
    name = net.name or ""
    if port.trust_guest_rx_filters is None and net.trustGuestRxFilters:
        port.trust_guest_rx_filters = net.trustGuestRxFilters
    if net.forward_mode == "bridge":
        if port.virtualport is not None and port.virtualport.type != "openvswitch":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"<virtualport type='{_vport_type(port)}'> not "
                                    f"supported for network '{name}' which uses a bridge device")  # fmt: skip
        port.plug = Plug(type="bridge", bridge=net.bridge_name)
    else:
        if port.virtualport is not None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"<virtualport type='{_vport_type(port)}'> not "
                                    f"supported for network '{name}' which uses IP forwarding")  # fmt: skip
        port.plug = Plug(type="network", bridge=net.bridge_name)
    inbound = port.bandwidth.inbound if port.bandwidth is not None else None
    if inbound is not None and inbound.floor:
        # networkCheckBandwidth: this driver's networks carry no <bandwidth>, so no floor can be guaranteed
        if net.forward_mode == "bridge":
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"Invalid use of 'floor' on interface with MAC "
                                    f"address {port.mac} - 'floor' is only supported for interface type 'network' "
                                    "with forward type 'nat', 'route', 'open' or none")  # fmt: skip
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"Invalid use of 'floor' on interface with MAC "
                                f"address {port.mac} - network '{name}' has no inbound QoS set")  # fmt: skip


def check_reclaim(port: NetworkPort, flags_reclaim: bool) -> None:
    """networkPortCreateXML: a port arrives unplugged to be allocated, or plugged to be reclaimed, never crossed."""
    if port.plug_type == "none" and flags_reclaim:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Port reclaim requested but plug type is none")
    if port.plug_type != "none" and not flags_reclaim:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Port reclaim not requested but plug type is not none")
