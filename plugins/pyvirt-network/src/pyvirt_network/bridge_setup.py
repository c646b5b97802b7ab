"""The network's bridge: created, addressed and brought up with pyroute2; removed at destroy.

As libvirt does for NAT, routed and isolated networks: a Linux bridge named
by the definition (``virbrN`` assigned at define otherwise) with the
definition's MAC so the host end keeps a stable address, STP and forward
delay from ``<bridge>``, the MTU from ``<mtu>``, and every IPv4 address of
``<ip>``. ``forward mode='bridge'`` networks use a host bridge that already
exists and create nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pyvirt.conf.network import Network, ip_prefix
from pyvirt.errors import ErrorCode, InternalError, OperationFailedError

__all__ = ["bridge_exists", "create_bridge", "free_bridge_name", "remove_bridge", "subnets"]


def subnets(net: Network) -> list[ipaddress.IPv4Interface]:
    out = []
    for ip in net.ips or []:
        if ip.family in (None, "ipv4") and ip.address:
            out.append(ipaddress.IPv4Interface(f"{ip.address}/{ip_prefix(ip)}"))  # classful without either
    return out


def bridge_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def free_bridge_name(taken: set[str]) -> str:
    with IPRoute() as ipr:
        for n in range(256):
            name = f"virbr{n}"
            if name not in taken and not ipr.link_lookup(ifname=name):
                return name
    raise InternalError(ErrorCode.INTERNAL_ERROR, "Bridge generation exceeded max id 256")


def create_bridge(net: Network) -> None:
    name = net.bridge_name or ""
    with IPRoute() as ipr:
        if ipr.link_lookup(ifname=name):
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"Network device {name} is already in use")
        try:
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=1 if net.bridge_stp is not False else 0,
                     br_forward_delay=(net.bridge_delay or 0) * 100)  # fmt: skip
            (index,) = ipr.link_lookup(ifname=name)
            if net.mac:
                ipr.link("set", index=index, address=net.mac)
            if net.mtu:
                ipr.link("set", index=index, mtu=net.mtu)
            for iface in subnets(net):
                ipr.addr("add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen,
                         broadcast=str(iface.network.broadcast_address))  # fmt: skip
            ipr.link("set", index=index, state="up")
        except NetlinkError as exc:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=name)
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"cannot create bridge {name}: {exc}") from exc


def remove_bridge(name: str) -> None:
    with IPRoute() as ipr, contextlib.suppress(NetlinkError):
        ipr.link("del", ifname=name)
