"""Bindings on a real port: two network namespaces on a bridge the test made, traffic checked with ping.

Namespace ``a`` plays the guest: its veth's host end is the binding's port (a guest's tap on a bridge).
libvirt's own example filters (clean-traffic and what it references, from the 9.0 source package) are
defined with their real contents; what passes and what is dropped is checked with busybox's ping
between the two namespaces only, the rules with ``nft list``, and deleting the binding leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyvirt_nwfilter.nft import table_name

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing.sources import libvirt_source, require

SRC = libvirt_source()
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and nftables need root"),
    pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source package could not be fetched"),
]
A_IP, B_IP = "10.231.77.1", "10.231.77.2"


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


class Hosts:
    """Namespaces ``a`` and ``b`` on one bridge; ``port`` is a's host end (the "guest's tap")."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns = {"a": f"nwf{tag}a", "b": f"nwf{tag}b"}
        self.bridge = f"nwf{tag}br"
        self.port = f"nwf{tag}pa"
        self.busybox = str(require("guest-linux") / "busybox")
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "link", "set", self.bridge, "up")
        for side, addr in (("a", A_IP), ("b", B_IP)):
            ns, host_end = self.ns[side], f"nwf{tag}p{side}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _sh("ip", "link", "set", host_end, "master", self.bridge, "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{addr}/24", "dev", "eth0")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
        self.mac = _sh("ip", "netns", "exec", self.ns["a"], "cat", "/sys/class/net/eth0/address").stdout.strip()

    def ping(self) -> bool:
        """a pings b once, both ARP caches emptied first (so ARP filtering shows too).

        b's cache too: b's entry for a, learned from a's last request, goes stale and b probes a with a unicast
        ARP request about five seconds after the last ping; from that request a learns b's address without
        asking, and a filter that drops a's ARP would seem to let the ping through.
        """
        for side in ("b", "a"):
            _sh("ip", "netns", "exec", self.ns[side], "ip", "neigh", "flush", "all", check=False)
        done = _sh("ip", "netns", "exec", self.ns["a"], self.busybox, "ping", "-c", "1", "-W", "2", B_IP, check=False)
        return done.returncode == 0

    def run(self, side: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _sh("ip", "netns", "exec", self.ns[side], *argv, check=check)

    def readdress(self, old: str, new: str) -> None:
        """a's address changed (a guest that spoofs another source, or takes the one DHCP gave it)."""
        self.run("a", "ip", "addr", "del", f"{old}/24", "dev", "eth0")
        self.run("a", "ip", "addr", "add", f"{new}/24", "dev", "eth0")

    def close(self) -> None:
        for ns in self.ns.values():
            _sh("ip", "netns", "del", ns, check=False)
        _sh("ip", "link", "del", self.bridge, check=False)


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    h = Hosts()
    try:
        yield h
    finally:
        h.close()


def _binding(port: str, mac: str, filter_name: str, **params: str) -> str:
    lines = "".join(f"<parameter name='{k}' value='{v}'/>" for k, v in params.items())
    return (f"<filterbinding><owner><name>guest</name><uuid>d54df46f-1ab5-4a1b-8ab3-a6d2f5e8e2d5</uuid></owner>"
            f"<portdev name='{port}'/><mac address='{mac}'/><filterref filter='{filter_name}'>{lines}</filterref>"
            "</filterbinding>")  # fmt: skip


def _virsh(tool: list[str], line: str) -> tuple[str, str, int]:
    env = {k: v for k, v in os.environ.items() if k != "LIBVIRT_DEFAULT_URI"}
    done = subprocess.run([*tool, line], capture_output=True, text=True, env={**env, "LC_ALL": "C"}, timeout=60,
                          check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _table(port: str) -> str:
    done = _sh("nft", "list", "table", "bridge", table_name(port), check=False)
    return done.stdout if done.returncode == 0 else ""


def _define_examples(conn: pyvirt.Connection) -> None:
    assert SRC is not None
    for path in sorted((SRC / "src" / "nwfilter" / "xml").glob("*.xml")):
        conn.define_nwfilter(path.read_text())


def test_clean_traffic_lets_the_guest_use_its_own_address_only(hosts: Hosts, tmp_path: Path) -> None:
    assert hosts.ping(), "the namespaces do not reach each other before any filter"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        _define_examples(conn)
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic", IP=A_IP))
        try:
            assert [b.port_dev for b in conn.list_all_nwfilter_bindings()] == [hosts.port]
            rules = _table(hosts.port)
            assert f'iifname "{hosts.port}" jump I_root' in rules and f"ether saddr != {hosts.mac}" not in rules
            assert "arp saddr ip" in rules, rules
            assert hosts.ping(), "clean-traffic dropped the guest's own traffic"
            with pytest.raises(pyvirt.Error) as err:
                conn.lookup_nwfilter_by_name("no-ip-spoofing").undefine()
            assert err.value.code == ErrorCode.OPERATION_INVALID and "nwfilter is in use" in err.value.message
        finally:
            binding.delete()
        assert _table(hosts.port) == "" and conn.list_all_nwfilter_bindings() == []
        assert hosts.ping()
        spoofing = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic", IP="10.231.77.9"))
        try:
            assert not hosts.ping(), "clean-traffic let a spoofed source address through"
        finally:
            spoofing.delete()
        assert hosts.ping() and _table(hosts.port) == ""


def test_an_arp_drop_rule_stops_address_resolution(hosts: Hosts, tmp_path: Path) -> None:
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.define_nwfilter("<filter name='no-arp' chain='arp'><rule action='drop' direction='out'><arp/></rule>"
                             "</filter>")  # fmt: skip
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "no-arp"))
        try:
            assert not hosts.ping()
        finally:
            binding.delete()
        assert hosts.ping()


def test_state_matching_is_refused_not_loosened(hosts: Hosts, tmp_path: Path) -> None:
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.define_nwfilter("<filter name='ssh'><rule action='accept' direction='in'><tcp dstportstart='22'/>"
                             "</rule></filter>")  # fmt: skip
        with pytest.raises(pyvirt.Error) as err:
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "ssh"))
        assert err.value.code == ErrorCode.NO_SUPPORT and "state matching" in err.value.message
        assert conn.list_all_nwfilter_bindings() == [] and _table(hosts.port) == ""
        with pytest.raises(pyvirt.Error) as err:
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "nosuch"))
        assert err.value.message == "internal error: referenced filter 'nosuch' is missing"
        conn.define_nwfilter(
            "<filter name='vars'><rule action='drop' direction='out'><ip srcipaddr='$IP'/></rule>"
            "<rule action='drop' direction='out'><ip dstipaddr='$FOO[1]'/></rule></filter>"
        )
        with pytest.raises(pyvirt.Error) as err:  # IP is learned only when nothing else is missing; libvirt omits it
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "vars"))
        assert err.value.message == (
            "internal error: Cannot instantiate filter due to unresolvable variables or "
            "unavailable list elements: FOO[1]"
        )
        with pytest.raises(pyvirt.Error) as err:
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "vars", IP=A_IP, FOO=B_IP))
        assert err.value.message == (
            "internal error: Cannot instantiate filter due to unresolvable variables or "
            "unavailable list elements: FOO[1]"
        )
        assert conn.list_all_nwfilter_bindings() == [] and _table(hosts.port) == ""


def test_pyvirtd_applies_recorded_bindings_again_when_it_starts(hosts: Hosts, tmp_path: Path) -> None:
    """A binding made through pyvirtd; its table lost while the daemon is down; the next start restores it,
    and so does a reload."""
    daemon = PrivateDaemon(tmp_path / "root").start()
    try:
        (tmp_path / "no-arp.xml").write_text("<filter name='no-arp' chain='arp'><rule action='drop' direction='out'>"
                                             "<arp/></rule></filter>")  # fmt: skip
        (tmp_path / "binding.xml").write_text(_binding(hosts.port, hosts.mac, "no-arp"))
        uri = daemon.uri("nwfilter:///system")
        out, err, rc = _virsh(["virsh", "-c", uri], f"nwfilter-define {tmp_path / 'no-arp.xml'}; "
                              f"nwfilter-binding-create {tmp_path / 'binding.xml'}")  # fmt: skip
        assert (err, rc) == ("", 0) and f"Network filter binding on {hosts.port} created from" in out
        # Debian's virsh and pyvirsh, both clients of pyvirtd, show the binding alike
        line = f"nwfilter-binding-list; nwfilter-binding-dumpxml {hosts.port}"
        shown = _virsh(["virsh", "-c", uri], line)
        assert shown == _virsh([sys.executable, "-m", "pyvirt.cli.main", "-c", uri], line)
        assert f" {hosts.port}   no-arp\n" in shown[0] and f"<mac address='{hosts.mac}'/>" in shown[0]
        daemon.stop()
        assert "jump I_" in _table(hosts.port)
        _sh("nft", "delete", "table", "bridge", table_name(hosts.port))
        assert hosts.ping()
        daemon.start()
        with pyvirt.open(daemon.uri("nwfilter:///system")) as conn:
            # answered once the drivers have started (the socket listens before that)
            assert [b.port_dev for b in conn.list_all_nwfilter_bindings()] == [hosts.port]
            assert "jump I_" in _table(hosts.port) and not hosts.ping()
            # SIGHUP (libvirt's stateReload) writes every binding's rules again
            _sh("nft", "delete", "table", "bridge", table_name(hosts.port))
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while "jump I_" not in _table(hosts.port):
                assert time.monotonic() < deadline, "SIGHUP did not apply the binding again"
                time.sleep(0.1)
            conn.lookup_nwfilter_binding_by_port_dev(hosts.port).delete()
        assert _table(hosts.port) == "" and hosts.ping()
        assert not daemon.tracebacks()
    finally:
        daemon.stop()
        _sh("nft", "delete", "table", "bridge", table_name(hosts.port), check=False)


def test_redefining_a_filter_in_use_applies_it_again_or_changes_nothing(tmp_path: Path) -> None:
    """libvirt's rebuild: the new rules replace the old on every port that uses the filter; a definition whose
    rules cannot be applied is refused and the old one, and its rules, stay."""
    port = f"nwf{secrets.token_hex(3)}q"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        first = conn.define_nwfilter("<filter name='f'><rule action='drop' direction='out'><arp/></rule></filter>")
        binding = conn.create_nwfilter_binding(_binding(port, "52:54:00:00:00:01", "f"))
        try:
            assert "ether type arp drop" in _table(port)
            with pytest.raises(pyvirt.Error) as err:
                conn.create_nwfilter_binding(_binding(port, "52:54:00:00:00:01", "f"))
            assert err.value.message == f"operation failed: binding '{port}' already exists"
            conn.define_nwfilter(f"<filter name='f'><uuid>{first.uuid}</uuid><rule action='drop' direction='out'>"
                                 "<mac protocolid='ipv6'/></rule></filter>")  # fmt: skip
            assert "ether type ip6 drop" in _table(port) and "arp" not in _table(port)
            applied = first.xml_desc()
            with pytest.raises(pyvirt.Error) as err:
                conn.define_nwfilter(f"<filter name='f'><uuid>{first.uuid}</uuid><rule action='accept' "
                                     "direction='in'><tcp dstportstart='22'/></rule></filter>")  # fmt: skip
            assert err.value.code == ErrorCode.NO_SUPPORT
            assert first.xml_desc() == applied and "ether type ip6 drop" in _table(port)
        finally:
            binding.delete()
        assert _table(port) == ""


def _learners(port: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"ip-learn {port}"]


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_clean_traffic_without_ip_learns_the_guests_address(hosts: Hosts, tmp_path: Path) -> None:
    """libvirt's common case: clean-traffic with no IP parameter. Until the guest shows its address only ARP and
    IPv4 from its own MAC pass; its first IPv4 packet teaches the address, then the filter holds, with it."""
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        _define_examples(conn)
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic"))
        try:
            rules = _table(hosts.port)
            assert f"ether saddr != {hosts.mac} drop" in rules and "ether type arp accept" in rules, rules
            assert len(_learners(hosts.port)) == 1
            assert hosts.ping(), "the learning rules dropped the guest's ARP or its first packet"
            _wait_for(lambda: A_IP in _table(hosts.port), "the address was not learned")
            _wait_for(lambda: not _learners(hosts.port), "the learning thread outlived its result", 5)
            assert "jump I_root" in _table(hosts.port) and "I_learn" not in _table(hosts.port)
            # libvirt keeps the address beside the binding (virNWFilterIPAddrMap), not in it
            assert "IP" not in binding.xml_desc() and f"<mac address='{hosts.mac}'/>" in binding.xml_desc()
            assert hosts.ping()
            hosts.readdress(A_IP, "10.231.77.9")
            try:
                assert not hosts.ping(), "clean-traffic let a source other than the learned one through"
            finally:
                hosts.readdress("10.231.77.9", A_IP)
            assert hosts.ping()
        finally:
            binding.delete()
        assert _table(hosts.port) == "" and hosts.ping()


def test_learning_ends_with_the_binding_or_the_port(hosts: Hosts, tmp_path: Path) -> None:
    """A port that never shows an address: its thread ends when the binding is deleted, or when the port goes
    (then, as libvirt, nothing passes until the binding is deleted); CTRL_IP_LEARNING none/invalid refused."""
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        _define_examples(conn)
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic"))
        assert len(_learners(hosts.port)) == 1
        binding.delete()
        assert not _learners(hosts.port) and _table(hosts.port) == ""
        port = f"nwf{secrets.token_hex(3)}v"
        _sh("ip", "link", "add", port, "type", "veth", "peer", "name", f"{port}p")
        try:
            binding = conn.create_nwfilter_binding(_binding(port, "52:54:00:00:00:02", "clean-traffic"))
            assert len(_learners(port)) == 1
            _sh("ip", "link", "del", port)
            _wait_for(lambda: not _learners(port), "the learning thread did not notice its port was gone")
            rules = _table(port)
            assert "I_learn {\n\t\tdrop\n\t}" in rules and "O_learn {\n\t\tdrop\n\t}" in rules, rules
            binding.delete()
            assert _table(port) == ""
        finally:
            _sh("ip", "link", "del", port, check=False)
        for value, code, message in (
            ("none", ErrorCode.INTERNAL_ERROR, "internal error: Cannot instantiate filter due to unresolvable "
                                               "variables or unavailable list elements: IP"),
            ("bogus", ErrorCode.PARSE_FAILED, "failed to parse configuration file filter 'clean-traffic' learning "
                                              "value 'bogus' invalid."),
        ):  # fmt: skip
            with pytest.raises(pyvirt.Error) as err:
                conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic", CTRL_IP_LEARNING=value))
            assert (err.value.code, err.value.message) == (code, message)
            assert conn.list_all_nwfilter_bindings() == [] and _table(hosts.port) == ""
    # a binding left learning when its embedded driver closes: the close ends the thread
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic"))
        assert len(_learners(hosts.port)) == 1
    assert not _learners(hosts.port)
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.lookup_nwfilter_binding_by_port_dev(hosts.port).delete()
    assert _table(hosts.port) == "" and not _learners(hosts.port)


@contextlib.contextmanager
def _dhcp_server(hosts: Hosts, directory: Path, address: str, lease: int) -> Iterator[None]:
    """busybox udhcpd in b, offering ``address`` alone for ``lease`` seconds."""
    directory.mkdir()
    conf = directory / "udhcpd.conf"
    conf.write_text(f"start {address}\nend {address}\ninterface eth0\nlease_file {directory}/leases\n"
                    f"pidfile {directory}/udhcpd.pid\noption subnet 255.255.255.0\nmin_lease 1\n"
                    f"option lease {lease}\n")  # fmt: skip
    (directory / "leases").touch()
    server = subprocess.Popen(["ip", "netns", "exec", hosts.ns["b"], hosts.busybox, "udhcpd", "-f", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def _lease(hosts: Hosts) -> bool:
    """a asks for a lease (udhcpc, three tries a second apart; the address is not configured)."""
    done = hosts.run("a", hosts.busybox, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "3", "-T", "1",
                     "-s", "/bin/true", check=False)  # fmt: skip
    return done.returncode == 0


def test_dhcp_learning_takes_the_address_a_dhcp_server_acknowledges(hosts: Hosts, tmp_path: Path) -> None:
    """CTRL_IP_LEARNING=dhcp: only DHCP passes until a server's ACK gives the guest an address (busybox udhcpd
    in b, udhcpc in a); a DHCPSERVER that is not b's address keeps b's offers out; a lease that runs out
    unrenewed puts the DHCP-only rules back."""
    leased = "10.231.77.50"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path / 'nwf'}") as conn:
        _define_examples(conn)
        with _dhcp_server(hosts, tmp_path / "long", leased, 600):
            other = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic",
                                                          CTRL_IP_LEARNING="dhcp", DHCPSERVER="10.231.77.3"))  # fmt: skip
            try:
                assert "ip saddr 10.231.77.3 udp sport 67" in _table(hosts.port)
                assert not hosts.ping(), "the DHCP-only rules let a ping through"
                assert not _lease(hosts), "an offer from a server not in DHCPSERVER reached the guest"
            finally:
                other.delete()
            binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic",
                                                            CTRL_IP_LEARNING="dhcp"))  # fmt: skip
            try:
                assert _lease(hosts), "udhcpc got no lease through the DHCP-only rules"
                _wait_for(lambda: leased in _table(hosts.port), "the acknowledged address was not learned")
                assert len(_learners(hosts.port)) == 1, "DHCP snooping stopped once a lease was seen"
                assert not hosts.ping(), "the guest's old address passed the filter after DHCP gave it another"
                hosts.readdress(A_IP, leased)
                try:
                    assert hosts.ping(), "the leased address does not pass"
                finally:
                    hosts.readdress(leased, A_IP)
            finally:
                binding.delete()
            assert not _learners(hosts.port) and _table(hosts.port) == ""
        with _dhcp_server(hosts, tmp_path / "short", leased, 2):
            binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic",
                                                            CTRL_IP_LEARNING="dhcp"))  # fmt: skip
            try:
                assert _lease(hosts)
                _wait_for(lambda: leased in _table(hosts.port), "the acknowledged address was not learned")
                _wait_for(lambda: "I_learn" in _table(hosts.port), "the expired lease's address stayed")
                assert leased not in _table(hosts.port) and len(_learners(hosts.port)) == 1
            finally:
                binding.delete()
            assert not _learners(hosts.port) and _table(hosts.port) == ""


_RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
s.settimeout(1)
print("ready", flush=True)
want = bytes.fromhex(sys.argv[1])
try:
    while True:
        if want in s.recv(2048):
            print("received")
            break
except TimeoutError:
    pass
"""
_SENDER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(bytes.fromhex(sys.argv[1]))
"""


def _bpdu(mac: str, kind: int, root_priority: int) -> bytes:
    """An 802.1D BPDU from ``mac``: a configuration BPDU (kind 0) with that root priority, or a TCN (0x80)."""
    body = bytes([0, 0, 0, kind])
    if kind == 0:
        root = root_priority.to_bytes(2, "big") + bytes.fromhex(mac.replace(":", ""))
        body += bytes([0]) + root + bytes(4) + root + bytes([0x80, 1]) + bytes([0, 0, 20, 0, 2, 0, 15, 0])
    else:
        body += b"tcn" + secrets.token_bytes(24)  # padding a receiver can recognise
    llc = bytes([0x42, 0x42, 0x03]) + body
    return bytes.fromhex("0180c2000000" + mac.replace(":", "")) + len(llc).to_bytes(2, "big") + llc


def _reaches_b(hosts: Hosts, frame: bytes) -> bool:
    """a sends ``frame`` from a raw socket; does b's eth0 receive it (its payload: a VLAN tag may arrive apart)?

    Raw frames, not VLAN interfaces: this kernel has no 8021q module."""
    receiver = subprocess.Popen(["ip", "netns", "exec", hosts.ns["b"], sys.executable, "-c", _RECEIVER,
                                 frame[-24:].hex()], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert receiver.stdout is not None and receiver.stdout.readline() == "ready\n"
        hosts.run("a", sys.executable, "-c", _SENDER, frame.hex())
        out, _ = receiver.communicate(timeout=10)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    return out == "received\n"


def test_an_stp_rule_matches_bpdus_as_ebtables_stp_match_does(hosts: Hosts, tmp_path: Path) -> None:
    """libvirt's <stp> (ebtables' stp match): frames to the bridge group address with an STP LLC header; the
    configuration fields (here the root priority range) are checked for configuration BPDUs only, so a TCN BPDU
    matches the rule whatever they say. The test's bridge runs no STP, so it forwards BPDUs between a and b."""
    low, high, tcn = _bpdu(hosts.mac, 0, 50), _bpdu(hosts.mac, 0, 200), _bpdu(hosts.mac, 0x80, 0)
    assert _reaches_b(hosts, low) and _reaches_b(hosts, tcn), "the bridge does not forward BPDUs"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.define_nwfilter("<filter name='no-low-root' chain='stp'><rule action='drop' direction='out'>"
                             "<stp root-priority='0' root-priority-hi='100'/></rule></filter>")  # fmt: skip
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "no-low-root"))
        try:
            assert "ether daddr 01:80:c2:00:00:00 jump I_stp" in _table(hosts.port)
            assert not _reaches_b(hosts, low), "a BPDU in the root priority range passed"
            assert _reaches_b(hosts, high), "a BPDU outside the root priority range was dropped"
            assert not _reaches_b(hosts, tcn), "a TCN BPDU passed a rule without a type"
            assert hosts.ping()
        finally:
            binding.delete()
        conn.define_nwfilter("<filter name='stp-inout'><rule action='drop' direction='inout'>"
                             f"<stp srcmacaddr='{hosts.mac}'/></rule></filter>")  # fmt: skip
        with pytest.raises(pyvirt.Error) as err:
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "stp-inout"))
        assert err.value.message == (
            "internal error: STP filtering in inout direction with source MAC address set is not supported"
        )
        assert conn.list_all_nwfilter_bindings() == [] and _table(hosts.port) == ""


def _tagged(mac: str, vlan: int | None, ether_type: int) -> bytes:
    """A frame from ``mac`` to broadcast, with an 802.1Q tag of ``vlan`` unless None, and a random payload."""
    head = bytes.fromhex("ffffffffffff" + mac.replace(":", ""))
    if vlan is not None:
        head += (0x8100).to_bytes(2, "big") + vlan.to_bytes(2, "big")
    return head + ether_type.to_bytes(2, "big") + secrets.token_bytes(46)


def test_a_vlan_rule_drops_tagged_frames_of_its_vlan_only(hosts: Hosts, tmp_path: Path) -> None:
    """libvirt's <vlan>: frames a sends tagged with VLAN 10 are dropped by a rule for VLAN 10 (and encapsulated
    type IPv4), not those of VLAN 11, nor another encapsulated type, nor untagged ones, nor anything by a rule for
    VLAN 11."""
    v10, v11 = _tagged(hosts.mac, 10, 0x0800), _tagged(hosts.mac, 11, 0x0800)
    # untagged: a local experimental type (br_netfilter would drop a random IPv4 payload before the filter)
    v10_arp, plain = _tagged(hosts.mac, 10, 0x0806), _tagged(hosts.mac, None, 0x88B5)
    assert all(_reaches_b(hosts, f) for f in (v10, v11, plain)), "the bridge does not forward the frames"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        for name, vlan in (("no-vlan-10", "vlanid='10' encap-protocol='ipv4'"), ("no-vlan-11", "vlanid='11'")):
            conn.define_nwfilter(f"<filter name='{name}' chain='vlan'><rule action='drop' direction='out'>"
                                 f"<vlan {vlan}/></rule></filter>")  # fmt: skip
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "no-vlan-10"))
        try:
            rules = _table(hosts.port)
            assert "ether type 8021q jump" in rules and "vlan id 10 vlan type ip drop" in rules, rules
            assert not _reaches_b(hosts, v10), "a frame of VLAN 10 passed the drop rule for VLAN 10"
            assert _reaches_b(hosts, v11) and _reaches_b(hosts, v10_arp) and _reaches_b(hosts, plain)
            assert hosts.ping(), "the vlan rule dropped untagged traffic"
        finally:
            binding.delete()
        binding = conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "no-vlan-11"))
        try:
            assert _reaches_b(hosts, v10) and not _reaches_b(hosts, v11)
        finally:
            binding.delete()
    assert _reaches_b(hosts, v11)


def test_the_parameters_passed_down_win_over_a_filterrefs_own(tmp_path: Path) -> None:
    """libvirt's virNWFilterCreateVarsFrom(filterref's parameters, parent's): a value the binding gives replaces
    the one a filterref inside the tree sets; the filterref's fills in what the binding does not give."""
    port = f"nwf{secrets.token_hex(3)}r"
    with pyvirt.open(f"nwfilter:///embed?root={tmp_path}") as conn:
        conn.define_nwfilter("<filter name='inner'><rule action='drop' direction='out'><ip srcipaddr='$X'/></rule>"
                             "</filter>")  # fmt: skip
        conn.define_nwfilter("<filter name='outer'><filterref filter='inner'><parameter name='X' value='10.1.1.1'/>"
                             "</filterref></filter>")  # fmt: skip
        for params, shown in (({}, "10.1.1.1"), ({"X": "10.2.2.2"}, "10.2.2.2")):
            binding = conn.create_nwfilter_binding(_binding(port, "52:54:00:00:00:01", "outer", **params))
            try:
                assert f"ip saddr {shown} drop" in _table(port), _table(port)
            finally:
                binding.delete()


def test_pyvirtd_learns_for_a_binding_its_client_has_left(hosts: Hosts, tmp_path: Path) -> None:
    """Learning lives in pyvirtd, not in the client's connection: a binding made by one client learns the
    guest's address after that client is gone, and a later client finds the learned filter."""
    daemon = PrivateDaemon(tmp_path / "root").start()
    try:
        uri = daemon.uri("nwfilter:///system")
        with pyvirt.open(uri) as conn:
            _define_examples(conn)
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "clean-traffic"))
        assert "I_learn" in _table(hosts.port)
        assert hosts.ping()
        _wait_for(lambda: A_IP in _table(hosts.port), "pyvirtd did not learn the address once its client left")
        with pyvirt.open(uri) as conn:
            binding = conn.lookup_nwfilter_binding_by_port_dev(hosts.port)
            assert "IP" not in binding.xml_desc() and hosts.ping()
            binding.delete()
        assert _table(hosts.port) == "" and not daemon.tracebacks()
    finally:
        daemon.stop()
        _sh("nft", "delete", "table", "bridge", table_name(hosts.port), check=False)
