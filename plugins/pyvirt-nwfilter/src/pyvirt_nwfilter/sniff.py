"""What a frame on a guest's port tells about the guest's IPv4 address, and the rules that hold while it is learned.

libvirt reads frames with pcap (``nwfilter_learnipaddr.c``,
``nwfilter_dhcpsnoop.c``); pyvirt reads them from an ``AF_PACKET`` socket
bound to the port, which sees both what the guest sends and what the bridge
sends it. The decoding follows libvirt 9.0's ``learnIPAddressThread``:

- a frame from the guest's MAC that is IPv4 (possibly 802.1Q-tagged) gives
  its source address, unless that is 0.0.0.0 (a DHCP request), multicast or
  class E ("static" detection);
- a frame to the guest's MAC or to broadcast that is a DHCP reply (UDP 67 to
  68, BOOTREPLY, ``chaddr`` the guest's MAC) with message type OFFER or ACK
  gives ``yiaddr`` ("dhcp" detection).

libvirt's thread also has a branch for ARP, but its switch on the ether type
passes IPv4 and VLAN frames only, so ARP never teaches libvirt 9.0 anything;
pyvirt learns from the same frames (the guest's first IPv4 packet follows its
ARP exchange anyway).

The rules while learning are libvirt's ``applyBasicRules`` (the guest may send
only IPv4 and ARP, from its own MAC), ``applyDHCPOnlyRules`` (DHCP requests
out, replies from the ``DHCPSERVER`` addresses or any server in) and
``applyDropAllRules`` (learning failed: nothing passes).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from pyvirt.conf.nwfilter_values import format_mac
from pyvirt_nwfilter.nft import table_name

__all__ = [
    "DETECT_DHCP",
    "DETECT_STATIC",
    "DHCP_ACK",
    "DHCP_OFFER",
    "Seen",
    "basic_rules",
    "dhcp_only_rules",
    "drop_all_rules",
    "read_frame",
]

DETECT_STATIC = "static"
DETECT_DHCP = "dhcp"
_BROADCAST = b"\xff" * 6
_ETH_IP, _ETH_VLAN = 0x0800, 0x8100
DHCP_OFFER, DHCP_ACK = 2, 5
_DHCP_FIXED = 236 + 4  # BOOTP header up to the options, magic cookie included


@dataclass
class Seen:
    """An address a frame gave: how (``static``/``dhcp``), the DHCP message type, the lease (seconds) if any."""

    address: str
    how: str
    dhcp_type: int | None = None
    lease: int | None = None
    server: str | None = None


def _dhcp_reply(ip: bytes, mac: bytes) -> Seen | None:
    if len(ip) < 20 or ip[9] != socket.IPPROTO_UDP:
        return None
    ihl = (ip[0] & 0x0F) * 4
    udp = ip[ihl:]
    if len(udp) < 8 + _DHCP_FIXED:
        return None
    sport, dport = struct.unpack("!HH", udp[:4])
    dhcp = udp[8:]
    if (sport, dport) != (67, 68) or dhcp[0] != 2 or dhcp[28:34] != mac:  # BOOTREPLY for the guest's MAC
        return None
    kind: int | None = None
    lease: int | None = None
    options = dhcp[_DHCP_FIXED:]
    while len(options) >= 2:  # procDHCPOpts
        code, length = options[0], options[1]
        if code == 53 and length >= 1:
            kind = options[2]
        elif code == 51 and length >= 4:
            lease = struct.unpack("!I", options[2:6])[0]
        options = options[2 + length :]
    if kind not in (DHCP_OFFER, DHCP_ACK):
        return None
    return Seen(socket.inet_ntoa(dhcp[16:20]), DETECT_DHCP, kind, lease, socket.inet_ntoa(ip[12:16]))


def read_frame(frame: bytes, mac: bytes) -> Seen | None:
    """The address this frame shows the guest with MAC ``mac`` uses, if it shows one."""
    if len(frame) < 14:
        return None
    (ether_type,) = struct.unpack("!H", frame[12:14])
    offset = 14
    if ether_type == _ETH_VLAN and len(frame) >= 18:
        (ether_type,) = struct.unpack("!H", frame[16:18])
        offset = 18
    if ether_type != _ETH_IP:
        return None
    ip = frame[offset:]
    if len(ip) < 20:
        return None
    if frame[6:12] == mac:  # from the guest
        first = ip[12]
        if first & 0xE0 == 0xE0 or ip[12:16] == b"\0\0\0\0":
            return None
        return Seen(socket.inet_ntoa(ip[12:16]), DETECT_STATIC)
    if frame[0:6] in (mac, _BROADCAST):  # to the guest: a DHCP server's reply
        return _dhcp_reply(ip, mac)
    return None


def _table(portdev: str, inbound: list[str], outbound: list[str]) -> str:
    lines = [f"table bridge {table_name(portdev)} {{"]
    for name, body in (("I_learn", inbound), ("O_learn", outbound)):
        lines.append(f"  chain {name} {{")
        lines.extend(f"    {rule}" for rule in body)
        lines.append("  }")
    for direction, hook, dev, body in (("I", "prerouting", "iifname", inbound), ("O", "postrouting", "oifname",
                                                                                 outbound)):  # fmt: skip
        if body:
            lines.append(f"  chain {direction}_hook {{ type filter hook {hook} priority -200; policy accept;")
            lines.append(f'    {dev} "{portdev}" jump {direction}_learn')
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def basic_rules(portdev: str, mac: bytes) -> str:
    """ebtablesApplyBasicRules: from the guest, its own MAC only, IPv4 and ARP only; to it, everything."""
    own = format_mac(mac)
    return _table(portdev, [f"ether saddr != {own} drop", "ether type ip accept", "ether type arp accept", "drop"], [])


def dhcp_only_rules(portdev: str, mac: bytes, servers: list[str]) -> str:
    """ebtablesApplyDHCPOnlyRules: DHCP requests from the guest's MAC, replies to it (or broadcast) from the
    servers given (any server when none is), nothing else either way."""
    own = format_mac(mac)
    inbound = [f"ether saddr {own} ether type ip ip protocol udp udp sport 68 udp dport 67 accept", "drop"]
    outbound = []
    for source in [f"ip saddr {server} " for server in servers] or [""]:
        for dest in (own, "ff:ff:ff:ff:ff:ff"):
            outbound.append(
                f"ether daddr {dest} ether type ip ip protocol udp {source}udp sport 67 udp dport 68 accept"
            )
    outbound.append("drop")
    return _table(portdev, inbound, outbound)


def drop_all_rules(portdev: str) -> str:
    """ebtablesApplyDropAllRules: learning failed, the guest neither sends nor receives."""
    return _table(portdev, ["drop"], ["drop"])
