"""Host side of guest NICs: tap devices on /dev/net/tun, plugged into bridges.

As libvirt does, the driver opens the tap itself and hands QEMU the file
descriptor, so QEMU needs no CAP_NET_ADMIN. The tap is not persistent: once
QEMU (the last holder of the fd) exits, the kernel deletes it, so a crash
leaves no device behind. The one ioctl that creates an fd-owned tap
(TUNSETIFF) has no pyroute2 equivalent (pyroute2 creates persistent taps
without an fd), so it is done here with ``fcntl``; everything after that
(MAC, MTU, bridge port, link up) goes through pyroute2's netlink.

vhost-net is used when ``/dev/vhost-net`` exists; otherwise QEMU's userspace
virtio-net backend carries the traffic and the reason is logged.

Once plugged, a tap gets libvirt's queueing (qemuBuildInterfaceConnect): the
lockless ``noqueue`` root qdisc, then the NIC's ``<bandwidth>`` shaped with
``tc`` (pyvirt.util.netdev_bandwidth), the guest's inbound on the tap's
transmit side. Both happen before QEMU has the fd, at start and at hot-plug,
so a failure closes the tap and the kernel removes it with its qdiscs.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
from dataclasses import dataclass, field

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pyvirt.conf.bandwidth_params import shares_host_view, supports_bandwidth
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import ErrorCode, ErrorDomain, OperationFailedError
from pyvirt.util.command import Command
from pyvirt.util.netdev_bandwidth import set_bandwidth, set_root_qdisc

__all__ = ["TapDevice", "close_taps", "host_mac", "open_taps", "set_default_qdisc"]

log = logging.getLogger(__name__)

TUN_PATH = "/dev/net/tun"
VHOST_PATH = "/dev/vhost-net"
_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
_IFF_VNET_HDR = 0x4000


@dataclass
class TapDevice:
    """One opened tap: its name, the fd QEMU gets, and a vhost fd when the host has vhost-net."""

    name: str
    fd: int
    mac: str
    vhost_fd: int | None = None
    extra_fds: list[int] = field(default_factory=list)


def host_mac(guest_mac: str) -> str:
    """libvirt gives the host end the guest's MAC with the first byte 0xFE, so the bridge never picks it."""
    return "fe:" + guest_mac.split(":", 1)[1]


def _free_name(template: str) -> str:
    existing = set(os.listdir("/sys/class/net"))
    n = 0
    while template.replace("%d", str(n)) in existing:
        n += 1
    return template.replace("%d", str(n))


def _create(name: str, vnet_hdr: bool) -> tuple[int, str]:
    fd = os.open(TUN_PATH, os.O_RDWR | os.O_CLOEXEC)
    flags = _IFF_TAP | _IFF_NO_PI | (_IFF_VNET_HDR if vnet_hdr else 0)
    try:
        ifr = fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
    except OSError:
        os.close(fd)
        raise
    return fd, ifr[:16].rstrip(b"\0").decode()


def _plug(ipr: IPRoute, name: str, nic: Interface) -> None:
    (index,) = ipr.link_lookup(ifname=name)
    ipr.link("set", index=index, address=host_mac(nic.mac or "52:54:00:00:00:00"))
    if nic.type in ("bridge", "network"):  # a network's NIC carries its bridge (resolved by the network driver)
        bridges = ipr.link_lookup(ifname=nic.source_bridge or "")
        if not bridges:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"bridge '{nic.source_bridge}' does not exist", domain=ErrorDomain.QEMU
            )
        bridge = ipr.get_links(bridges[0])[0]
        if nic.mtu is None:
            nic_mtu = bridge.get_attr("IFLA_MTU")
            ipr.link("set", index=index, mtu=nic_mtu)
        ipr.link("set", index=index, master=bridges[0])
    if nic.mtu is not None:
        ipr.link("set", index=index, mtu=nic.mtu)
    if nic.link_state != "down":
        ipr.link("set", index=index, state="up")


def set_default_qdisc(nic: Interface) -> None:
    """qemuDomainInterfaceSetDefaultQDisc: ``noqueue`` as the root qdisc of a NIC's host device. Only a
    privileged driver can, and a refusal is ignored, as libvirt does: it is a speed-up, not the NIC's config."""
    if os.geteuid() == 0 and nic.target_dev and nic.type in ("ethernet", "network", "bridge", "direct"):
        set_root_qdisc(nic.target_dev, "noqueue")


def _shape(nic: Interface) -> None:
    """qemuBuildInterfaceConnect's queueing: the default qdisc, then virNetDevBandwidthSet (swapped: a tap's
    transmit is the guest's receive); a bandwidth that cannot be set fails the start or the hot-plug."""
    set_default_qdisc(nic)
    set_bandwidth(nic.target_dev, nic.bandwidth, hierarchical_class=False, swapped=not shares_host_view(nic.type))


def open_taps(nics: list[Interface]) -> dict[int, TapDevice]:
    """Create and plug a tap for every bridge/ethernet NIC (keyed by NIC index); all or nothing."""
    taps: dict[int, TapDevice] = {}
    for nic in nics:
        if nic.bandwidth is not None and not supports_bandwidth(nic.type):  # libvirt warns and starts
            log.warning("setting bandwidth on interfaces of type '%s' is not implemented yet", nic.type)
    wanted = [(i, nic) for i, nic in enumerate(nics) if nic.type in ("bridge", "ethernet", "network")]
    if not wanted:
        return taps
    have_vhost = os.path.exists(VHOST_PATH)
    if not have_vhost:
        log.info("%s is missing on this host: guest NICs use QEMU's userspace virtio-net backend", VHOST_PATH)
    try:
        with IPRoute() as ipr:
            for i, nic in wanted:
                name = nic.target_dev if nic.target_dev and not nic.target_dev.startswith("vnet") else None
                virtio = nic.model_type == "virtio"
                try:
                    fd, real = _create(name or _free_name("vnet%d"), vnet_hdr=virtio)
                except OSError as exc:
                    raise OperationFailedError(
                        ErrorCode.OPERATION_FAILED, f"Unable to create tap device {name or 'vnet%d'}: {exc.strerror}",
                        domain=ErrorDomain.QEMU,
                    ) from exc  # fmt: skip
                tap = TapDevice(real, fd, nic.mac or "")
                taps[i] = tap
                nic.target_dev = real
                if virtio and have_vhost and nic.driver_name != "qemu":
                    tap.vhost_fd = os.open(VHOST_PATH, os.O_RDWR | os.O_CLOEXEC)
                try:
                    _plug(ipr, real, nic)
                except NetlinkError as exc:
                    raise OperationFailedError(
                        ErrorCode.OPERATION_FAILED, f"cannot set up tap device {real}: {exc}", domain=ErrorDomain.QEMU
                    ) from exc
                if nic.type == "ethernet" and nic.script_path:
                    # libvirt's ethernet script: run with the tap's name once it is up; failure stops the start
                    Command([nic.script_path, real]).pass_env_common().run(timeout=60)
                _shape(nic)
    except BaseException:
        close_taps(taps)
        raise
    return taps


def close_taps(taps: dict[int, TapDevice]) -> None:
    """Close our copies; the kernel removes each tap once QEMU's copy is gone too."""
    for tap in taps.values():
        for fd in (tap.fd, tap.vhost_fd, *tap.extra_fds):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
    taps.clear()  # closing twice could hit an unrelated fd that reused the number
