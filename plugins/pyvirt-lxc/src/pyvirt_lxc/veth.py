"""veth pairs for container NICs, through pyroute2 (netlink).

The host end (``<target dev>``, or ``vethN``) joins the ``<source bridge>``;
the other end moves into the container's network namespace, where it is
renamed to ``<guest dev>`` (``eth0``, ``eth1``, ... by default), gets the
``<mac>``, the ``<ip>`` addresses and ``<route>``s, and comes up. The
namespace is entered by this thread only (setns on a network namespace is
per thread), so the rest of the driver process never notices.

A NIC's ``<bandwidth>`` is shaped with ``tc`` on the host end as soon as it
is plugged and up (virLXCProcessSetupInterfaces: each veth, then its
bandwidth), swapped as for a tap: what the host end transmits is what the
container receives. libvirt's LXC driver sets no default (``noqueue``) root
qdisc, unlike its QEMU driver, so neither does this.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pyvirt.conf.bandwidth_params import shares_host_view
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import ErrorCode, OperationFailedError, SystemCallError
from pyvirt.util.netdev_bandwidth import set_bandwidth
from pyvirt_lxc import syscalls as sc
from pyvirt_lxc.spec import NicSpec

__all__ = ["create_pairs", "delete_host_ends", "free_veth_name", "move_and_configure"]

_lock = threading.Lock()


def free_veth_name(taken: set[str]) -> str:
    """The first ``vethN`` that neither the host nor this batch uses (libvirt's naming)."""
    existing = set(os.listdir("/sys/class/net")) | taken
    n = 0
    while f"veth{n}" in existing:
        n += 1
    return f"veth{n}"


def _peer_name(host_dev: str) -> str:
    return f"{host_dev[:11]}-p"


def create_pairs(nics: list[NicSpec], interfaces: Sequence[Interface]) -> None:
    """Create every pair, plug the host ends into their bridges and shape them; on failure none is left.

    ``interfaces``: the domain's NICs, one per ``nics`` entry in the same order, for their ``<bandwidth>``.
    A ``tc`` that fails stops the start with libvirt's INTERNAL_ERROR; deleting the veths takes their
    qdiscs along, so the rollback needs nothing more.
    """
    if not nics:
        return
    done: list[str] = []
    with _lock, IPRoute() as ip:
        try:
            for nic, iface in zip(nics, interfaces, strict=True):
                ip.link("add", ifname=nic.host_dev, kind="veth", peer=_peer_name(nic.host_dev))
                done.append(nic.host_dev)
                (host,) = ip.link_lookup(ifname=nic.host_dev)
                if nic.bridge:
                    found = ip.link_lookup(ifname=nic.bridge)
                    if not found:
                        raise OperationFailedError(
                            ErrorCode.OPERATION_FAILED, f"Cannot get interface MTU on '{nic.bridge}': No such device",
                            verbatim=False,
                        )  # fmt: skip
                    ip.link("set", index=host, master=found[0])
                ip.link("set", index=host, state="up")
                _configure(ip, host, nic.host_addresses, nic.host_routes)
                # virNetDevBandwidthSet(net->ifname, bw, false, !virDomainNetTypeSharesHostView(net)): the
                # driver's NIC types (bridge, network, ethernet) are all ones tc can shape, so libvirt's
                # "not implemented yet" warning for the others cannot arise here
                set_bandwidth(nic.host_dev, iface.bandwidth, hierarchical_class=False,
                              swapped=not shares_host_view(iface.type))  # fmt: skip
        except NetlinkError as exc:
            _delete(ip, done)
            raise SystemCallError(
                exc.code, f"Failed to create veth device pair for {nics[len(done)].host_dev}"
            ) from exc
        except BaseException:
            _delete(ip, done)
            raise


def _configure(ip: IPRoute, index: int, addresses: list[tuple[str, int, str]],
               routes: list[tuple[str, int, str]]) -> None:  # fmt: skip
    """Addresses (with an optional point-to-point peer) and routes on one interface, which is up."""
    for address, prefix, peer in addresses:
        if peer:
            ip.addr("add", index=index, local=address, address=peer, prefixlen=prefix)
        else:
            ip.addr("add", index=index, address=address, prefixlen=prefix)
    for address, prefix, gateway in routes:
        ip.route("add", dst=f"{address}/{prefix}", gateway=gateway, oif=index)


def _delete(ip: IPRoute, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(NetlinkError, ValueError):
            ip.link("del", ifname=name)


def delete_host_ends(nics: list[NicSpec]) -> None:
    """Remove what is left on the host (a pair whose peer never reached a namespace)."""
    if not nics:
        return
    with _lock, IPRoute() as ip:
        _delete(ip, [n.host_dev for n in nics])


@contextlib.contextmanager
def _in_netns(pid: int) -> Iterator[None]:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(target, sc.CLONE_NEWNET)
        try:
            yield
        finally:
            sc.setns(own, sc.CLONE_NEWNET)
    finally:
        os.close(own)
        os.close(target)


def move_and_configure(nics: list[NicSpec], pid: int) -> None:
    """Move each peer into the namespace of ``pid`` and configure it there."""
    if not nics:
        return
    with _lock:
        try:
            with IPRoute() as ip:
                for nic in nics:
                    (peer,) = ip.link_lookup(ifname=_peer_name(nic.host_dev))
                    ip.link("set", index=peer, net_ns_pid=pid)
            with _in_netns(pid), IPRoute() as ip:
                for nic in nics:
                    (idx,) = ip.link_lookup(ifname=_peer_name(nic.host_dev))
                    ip.link("set", index=idx, ifname=nic.guest_dev, address=nic.mac)
                    ip.link("set", index=idx, state="up")
                    _configure(ip, idx, nic.addresses, nic.routes)
        except NetlinkError as exc:
            raise SystemCallError(exc.code, f"Failed to configure the container's network: {exc}") from exc
