"""``<interface type='network'>``: a NIC on a virtual network, found through the network driver.

Shared by the local hypervisor drivers (QEMU, LXC). As libvirt's do, they ask the network driver of the same mode
(``network:///system`` for ``qemu:///system``, the same embedded root) over
pyvirt's public API: the network must be running, and its bridge is where
the NIC's tap (or veth) is plugged. The running guest's XML names the bridge next to
the network (``<source network='default' bridge='virbr0'/>``), as libvirt's
live XML does, so the status file keeps it for other processes.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pyvirt
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationInvalidError
from pyvirt.uri import URI

__all__ = ["network_uri", "resolve_network_nic", "resolve_network_nics"]


def network_uri(hypervisor: URI) -> str:
    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    return f"network://{hypervisor.path}{query}"


def resolve_network_nic(conn: pyvirt.Connection, nic: Interface) -> None:
    network = conn.lookup_network_by_name(nic.source_network or "")
    if not network.is_active():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"network '{network.name}' is not active")
    nic.source_bridge = network.bridge_name()


def resolve_network_nics(dom: Domain, hypervisor: URI) -> None:
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
        for nic in nics:
            resolve_network_nic(conn, nic)
