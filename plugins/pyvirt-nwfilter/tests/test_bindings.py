"""Bindings on a real port: two network namespaces on a bridge the test made, traffic checked with ping.

Namespace ``a`` plays the guest: its veth's host end is the binding's port (a guest's tap on a bridge).
libvirt's own example filters (clean-traffic and what it references, from the 9.0 source package) are
defined with their real contents; what passes and what is dropped is checked with busybox's ping
between the two namespaces only, the rules with ``nft list``, and deleting the binding leaves nothing.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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
        with pytest.raises(pyvirt.Error) as err:  # libvirt would learn IP from the guest's traffic
            conn.create_nwfilter_binding(_binding(hosts.port, hosts.mac, "vars"))
        assert err.value.code == ErrorCode.NO_SUPPORT and "learning the IP address" in err.value.message
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
