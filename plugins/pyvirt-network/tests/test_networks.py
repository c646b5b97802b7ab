"""Virtual networks with real bridges, dnsmasq and nftables: a DHCP client gets a lease, a QEMU NIC joins."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyroute2 import IPRoute

import pyvirt
from pyvirt import ErrorCode
from pyvirt.testing.sources import require

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="bridges, dnsmasq and nftables need root"),
    pytest.mark.skipif(
        not shutil.which("dnsmasq") or not shutil.which("nft"),
        reason="dnsmasq (dnsmasq-base) and nft (nftables) are needed",
    ),
]
# a guest on a network needs the QEMU driver, which ``tox -e network`` does not install beside this distribution
needs_qemu = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None, reason="a guest on the network needs pyvirt-qemu installed"
)

NAT = """<network><name>{name}</name><forward mode='nat'/><bridge name='{bridge}'/>
<ip address='192.168.251.1' netmask='255.255.255.0'><dhcp><range start='192.168.251.100' end='192.168.251.120'/>
<host mac='52:54:00:00:fb:01' ip='192.168.251.50'/></dhcp></ip></network>"""


def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def root() -> Iterator[Path]:
    """An embedded root dnsmasq's user (nobody) can reach, as it must to read the hosts files:
    pytest's own temporary directories are private to root."""
    top = Path(tempfile.mkdtemp(prefix="pyvirt-net-"))
    top.chmod(0o711)
    root = top / "embed"
    before = set(_tables().splitlines())
    yield root
    # nothing may outlive a test: this root's dnsmasq, its bridges, its rules
    subprocess.run(["pkill", "-f", str(root)], check=False)
    for bridge in ("pvnt0", "pvnt1"):
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
    for line in set(_tables().splitlines()) - before:
        subprocess.run(["nft", "delete", "table", *line.split()[1:]], capture_output=True, check=False)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def conn(root: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"network:///embed?root={root}") as c:
        yield c


def _link(name: str) -> dict[str, object] | None:
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return None
        link = ipr.get_links(found[0])[0]
        addrs = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=found[0], family=2)]
        return {
            "mac": link.get_attr("IFLA_ADDRESS"),
            "addrs": addrs,
            "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
        }


def _busybox() -> Path:
    return require("guest-linux") / "busybox"


@contextlib.contextmanager
def _dhcp_client(bridge: str, busybox: Path) -> Iterator[Callable[[str], str]]:
    """A DHCP client in a network namespace, on a veth pair plugged into the bridge: ``lease(mac)`` is the lease
    the client gets with that MAC.

    One port for all of a test's clients, its MAC changed between them: each new port of a bridge with STP
    on spends twice the forward delay (2 s at least) learning before it forwards a frame, a wait that
    proves nothing about dnsmasq.
    """
    ns, host_end, ns_end = "pvnt-dhcp", "pvnt-veth0", "pvnt-veth1"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "master", bridge, "up"], check=True)
        subprocess.run(["ip", "link", "set", ns_end, "netns", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", ns_end, "up"], check=True)

        def lease(mac: str) -> str:
            subprocess.run(["ip", "-n", ns, "link", "set", ns_end, "address", mac], check=True)
            out = subprocess.run(["ip", "netns", "exec", ns, str(busybox), "udhcpc", "-i", ns_end, "-n", "-q", "-t",
                                  "10", "-T", "1", "-s", "/bin/true"], capture_output=True, text=True, timeout=60,
                                 check=False)  # fmt: skip
            return out.stdout + out.stderr

        yield lease
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_nat_network_serves_dhcp_and_goes_away_cleanly(conn: pyvirt.Connection, root: Path) -> None:
    net = conn.define_network(NAT.format(name="natnet", bridge="pvnt0"))
    mac = conn.lookup_network_by_name("natnet").xml_desc().split("<mac address='")[1][:17]
    assert mac.startswith("52:54:00:")  # assigned at define, kept
    net.create()
    link = _link("pvnt0")
    assert link is not None and link["kind"] == "bridge" and link["addrs"] == ["192.168.251.1"] and link["mac"] == mac
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    table = "pyvirt_net_" + net.uuid.replace("-", "")[:12]  # this network's own table
    assert table in _tables()
    rules = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True, check=True).stdout
    assert "ip saddr 192.168.251.0/24 ip daddr != 192.168.251.0/24 masquerade" in rules
    # dnsmasq hands out the static host's address, then one from the range to anyone else
    busybox = _busybox()
    with _dhcp_client("pvnt0", busybox) as dhcp:
        assert "192.168.251.50" in dhcp("52:54:00:00:fb:01")
        lease = dhcp("52:54:00:00:fb:02")
    assert "192.168.251.1" in lease and any(f"192.168.251.{n}" in lease for n in range(100, 121)), lease
    leases = (root / "network" / "lib" / "dnsmasq" / "natnet.leases").read_text()
    assert "52:54:00:00:fb:02" in leases
    # the lease list (virNetworkGetDHCPLeases) reads the same file: both clients, the static one at .50
    listed = {lease.mac: lease for lease in net.dhcp_leases()}
    assert listed["52:54:00:00:fb:01"].ipaddr == "192.168.251.50"
    ranged = listed["52:54:00:00:fb:02"]
    assert ranged.iface == "pvnt0" and ranged.type == "ipv4" and ranged.prefix == 24 and ranged.expiry > time.time()
    assert 100 <= int(ranged.ipaddr.rsplit(".", 1)[1]) <= 120
    assert [lease.ipaddr for lease in net.dhcp_leases("52:54:00:00:FB:02")] == [ranged.ipaddr]
    shown = subprocess.run([PYVIRSH, "-c", f"network:///embed?root={root}", "net-dhcp-leases", "natnet"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert f"52:54:00:00:fb:02   ipv4       {ranged.ipaddr}/24" in shown, shown
    # another process sees it running; the qemu:/// connection of the same root answers net-* calls
    # (when pyvirt-qemu is installed beside this distribution: ``tox -e network`` installs only this one)
    if importlib.util.find_spec("pyvirt_qemu") is not None:
        with pyvirt.open(f"qemu:///embed?root={root}") as qemu:
            assert [(n.name, n.is_active()) for n in qemu.list_all_networks()] == [("natnet", True)]
    net.destroy()
    assert _link("pvnt0") is None and table not in _tables()
    assert not list((root / "network" / "run").glob("natnet*"))
    net.undefine()


def test_network_refusals_and_autostart(conn: pyvirt.Connection, root: Path) -> None:
    conn.define_network(NAT.format(name="first", bridge="pvnt0"))
    with pytest.raises(pyvirt.Error) as err:
        conn.define_network(NAT.format(name="second", bridge="pvnt0"))
    assert "bridge name 'pvnt0' already in use" in err.value.message
    with pytest.raises(pyvirt.Error) as err:
        conn.create_network(
            "<network><name>hostbr</name><forward mode='bridge'/><bridge name='pvnt-nosuch'/></network>"
        )
    assert "does not exist" in err.value.message and "hostbr" not in [n.name for n in conn.list_all_networks()]
    net = conn.lookup_network_by_name("first")
    net.autostart = True
    shutil.rmtree(root / "network" / "run")  # what a reboot does to the run directory
    with pyvirt.open(f"network:///embed?root={root}") as again:
        assert again.lookup_network_by_name("first").is_active() and _link("pvnt0") is not None
    net.destroy()
    assert _link("pvnt0") is None


@needs_qemu
def test_qemu_nic_joins_the_network_bridge(conn: pyvirt.Connection, root: Path) -> None:
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    net = conn.define_network("<network><name>isolated</name><bridge name='pvnt1'/>"
                              "<ip address='192.168.252.1' prefix='24'/></network>")  # fmt: skip
    guest = f"""<domain type='{virt}'><name>netguest</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<interface type='network'><source network='isolated'/><model type='virtio'/></interface></devices></domain>"""
    with pyvirt.open(f"qemu:///embed?root={root}") as qemu:
        with pytest.raises(pyvirt.Error) as err:
            qemu.create_domain(guest)
        assert err.value.code == ErrorCode.OPERATION_INVALID and "network 'isolated' is not active" in err.value.message
        net.create()
        dom = qemu.create_domain(guest)
        tap = dom.xml_desc().split("<target dev='")[1].split("'")[0]
        assert os.path.realpath(f"/sys/class/net/{tap}/master").endswith("/pvnt1")
        # the NIC's port of the network is named in the live XML, between the network and the bridge (as libvirt)
        (port,) = net.list_all_ports()
        assert f"<source network='isolated' portid='{port.uuid}' bridge='pvnt1'/>" in dom.xml_desc().replace('"', "'")
        assert f"<name>netguest</name>\n    <uuid>{dom.uuid}</uuid>" in port.xml_desc()  # the port's owner
        dom.destroy()
        assert net.list_all_ports() == []  # the stopped guest's NIC left its port
    net.destroy()


@needs_qemu
def test_domifaddr_from_leases_and_arp(conn: pyvirt.Connection, root: Path) -> None:
    """A QEMU guest's iPXE asks the network's dnsmasq for an address; domifaddr finds it both ways."""
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    # TCG: the guest is iPXE, which hangs at "starting execution" under this host's kvm-pvm (KVM without VMX)
    virt = "qemu"
    net = conn.define_network(NAT.format(name="leasenet", bridge="pvnt0"))
    net.create()
    guest = f"""<domain type='{virt}'><name>pxeguest</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os><devices>
<interface type='network'><mac address='52:54:00:00:fb:07'/><source network='leasenet'/><model type='virtio'/></interface>
</devices></domain>"""
    with pyvirt.open(f"qemu:///embed?root={root}") as qemu:
        dom = qemu.create_domain(guest)
        try:
            deadline = time.monotonic() + 90  # SeaBIOS, then iPXE's DHCP: about 10 s under TCG here
            while not net.dhcp_leases("52:54:00:00:fb:07") and time.monotonic() < deadline:
                time.sleep(0.5)
            leases = net.dhcp_leases("52:54:00:00:fb:07")
            assert leases, "iPXE got no lease from the network's dnsmasq"
            tap = dom.xml_desc().split("<target dev='")[1].split("'")[0]
            by_lease = dom.interface_addresses(0)
            assert by_lease == [(tap, "52:54:00:00:fb:07", (("ipv4", leases[0].ipaddr, 24),))]
            # the host learnt the guest's MAC while serving it (dnsmasq's checks, the DHCP exchange):
            # domifaddr --source arp reads the host's neighbour table, prefix 0 as libvirt reports it
            arp = [(tap, "52:54:00:00:fb:07", (("ipv4", leases[0].ipaddr, 0),))]
            assert dom.interface_addresses(2) == arp, Path("/proc/net/arp").read_text()
            shown = subprocess.run([PYVIRSH, "-c", f"qemu:///embed?root={root}", "domifaddr", "pxeguest"],
                                   capture_output=True, text=True, check=True).stdout  # fmt: skip
            assert f"52:54:00:00:fb:07    ipv4         {leases[0].ipaddr}/24" in shown, shown
            with pytest.raises(pyvirt.Error) as err:
                dom.interface_addresses(1)  # no agent channel configured
            assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
        finally:
            dom.destroy()
        with pytest.raises(pyvirt.Error) as err:
            qemu.define_domain(guest).interface_addresses(0)
        assert err.value.code == ErrorCode.OPERATION_INVALID
    net.destroy()


def test_net_update_reaches_the_running_dnsmasq(conn: pyvirt.Connection, root: Path) -> None:
    """A static host added live is what the next DHCP client with that MAC gets; config-only waits."""
    net = conn.define_network(NAT.format(name="updnet", bridge="pvnt0"))
    net.create()
    busybox = _busybox()
    add, delete, dhcp_host = 3, 2, 4  # VIR_NETWORK_UPDATE_COMMAND_ADD_LAST / _DELETE, SECTION_IP_DHCP_HOST
    net.update(add, dhcp_host, "<host mac='52:54:00:00:fb:0a' ip='192.168.251.60'/>", flags=3)  # live + config
    with _dhcp_client("pvnt0", busybox) as dhcp:
        assert "192.168.251.60" in dhcp("52:54:00:00:fb:0a")
        assert "ip='192.168.251.60'" in net.xml_desc(1)  # the persistent definition has it too
        net.update(add, dhcp_host, "<host mac='52:54:00:00:fb:0b' ip='192.168.251.61'/>", flags=2)  # config only
        assert "192.168.251.61" not in net.xml_desc() and "192.168.251.61" in net.xml_desc(1)
        assert "192.168.251.61" not in dhcp("52:54:00:00:fb:0b")
    # refused updates change nothing: same dnsmasq, same definitions
    pidfile = root / "network" / "run" / "updnet.pid"
    pid, live_xml = pidfile.read_text(), net.xml_desc()
    with pytest.raises(pyvirt.Error) as err:
        net.update(add, dhcp_host, "<host mac='52:54:00:00:fb:0a' ip='192.168.251.62'/>", flags=1)
    assert err.value.code == ErrorCode.OPERATION_INVALID and "existing dhcp host entry" in err.value.message
    assert (pidfile.read_text(), net.xml_desc()) == (pid, live_xml)
    net.update(delete, dhcp_host, "<host mac='52:54:00:00:fb:0a'/>", flags=1)
    assert "192.168.251.60" not in net.xml_desc() and "192.168.251.60" in net.xml_desc(1)
    shown = subprocess.run([PYVIRSH, "-c", f"network:///embed?root={root}", "net-update", "updnet", "add",
                            "ip-dhcp-range", "<range start='192.168.251.130' end='192.168.251.140'/>"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert shown == "Updated network updnet live state\n"
    conf = (root / "network" / "lib" / "dnsmasq" / "updnet.conf").read_text()
    assert "dhcp-range=192.168.251.130,192.168.251.140,255.255.255.0" in conf
    hosts = (root / "network" / "lib" / "dnsmasq" / "updnet.hostsfile").read_text()
    assert hosts == "52:54:00:00:fb:01,192.168.251.50\n"  # the deleted host is gone from dnsmasq's hosts file
    # a host name that would add a directive: refused as net-define refuses it, dnsmasq untouched
    pid = pidfile.read_text()
    with pytest.raises(pyvirt.Error) as err:
        net.update(add, dhcp_host, "<host mac='52:54:00:00:fb:0c' name='h&#10;dhcp-script=/tmp/x' "
                   "ip='192.168.251.63'/>", flags=3)  # fmt: skip
    assert (err.value.code, err.value.message) == (ErrorCode.XML_DETAIL, "invalid char in host name: \n")
    assert pidfile.read_text() == pid and "fb:0c" not in net.xml_desc() + net.xml_desc(1)
    assert "dhcp-script" not in (root / "network" / "lib" / "dnsmasq" / "updnet.hostsfile").read_text()
    net.destroy()
    net.undefine()


def test_lifecycle_events_of_this_connection(conn: pyvirt.Connection, root: Path) -> None:
    from pyvirt.events import NetworkEvent, NetworkLifecycleEvent

    seen: list[tuple[str, int]] = []

    def on_event(ev: NetworkLifecycleEvent) -> None:
        seen.append((ev.network.name, ev.event))

    cid = conn.register_network_event(on_event)
    net = conn.define_network("<network><name>evnet</name><bridge name='pvnt1'/>"
                              "<ip address='192.168.253.1' prefix='24'/></network>")  # fmt: skip
    net.create()
    net.destroy()
    net.undefine()
    conn.deregister_network_event(cid)
    d, u, s, t = NetworkEvent.DEFINED, NetworkEvent.UNDEFINED, NetworkEvent.STARTED, NetworkEvent.STOPPED
    assert seen == [("evnet", d), ("evnet", s), ("evnet", t), ("evnet", u)]


def test_each_network_has_its_own_dnsmasq_pid_file(conn: pyvirt.Connection, root: Path) -> None:
    """The host's /run/dnsmasq.pid belongs to the host's dnsmasq: a network start never touches it."""
    host_pidfile = Path("/run/dnsmasq.pid")
    saved = host_pidfile.read_bytes() if host_pidfile.exists() else None
    sentinel = b"pyvirt sentinel: not a network's dnsmasq\n"
    if saved is not None:
        host_pidfile.write_bytes(sentinel)
    try:
        before = host_pidfile.stat().st_ino if saved is not None else None
        net = conn.define_network(NAT.format(name="pidnet", bridge="pvnt0"))
        net.create()
        if saved is None:
            assert not host_pidfile.exists()
        else:
            assert host_pidfile.read_bytes() == sentinel and host_pidfile.stat().st_ino == before
        pidfile = root / "network" / "run" / "pidnet.pid"
        pid = int(pidfile.read_text())
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "dnsmasq"
        conf = root / "network" / "lib" / "dnsmasq" / "pidnet.conf"
        assert f"--conf-file={conf}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert f"pid-file={pidfile}\n" in conf.read_text()
        net.destroy()
        assert not pidfile.exists()
        # dnsmasq is gone: no process, or a zombie until PID 1 reaps it (late on this host)
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    finally:
        if saved is not None:
            host_pidfile.write_bytes(saved)


_DNS_QUERY = """
import socket, struct, sys
question = b"".join(bytes([len(p)]) + p.encode() for p in sys.argv[1].split(".")) + b"\\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for attempt in range(5):  # the new bridge port may still drop the first packets (STP)
    s.sendto(struct.pack(">6H", 0x5056, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1), (sys.argv[2], 53))
    try:
        reply = s.recv(512)
        break
    except TimeoutError:
        if attempt == 4:
            raise
print(".".join(map(str, reply[-4:])) if struct.unpack(">H", reply[6:8])[0] else "no answer")
"""


def _dns_a(bridge: str, names: list[str], server: str) -> list[str]:
    """A records asked from a namespace on the bridge, with a fixed address in the network."""
    ns, host_end, ns_end = "pvnt-dns", "pvnt-veth2", "pvnt-veth3"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end], check=True)
        subprocess.run(["ip", "link", "set", host_end, "master", bridge, "up"], check=True)
        subprocess.run(["ip", "link", "set", ns_end, "netns", ns], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", "192.168.251.230/24", "dev", ns_end], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", ns_end, "up"], check=True)
        answers = []
        for name in names:
            out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", _DNS_QUERY, name, server],
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
            answers.append(out.stdout.strip() or out.stderr.strip().splitlines()[-1])
        return answers
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_dns_hosts_are_served_from_the_addnhosts_file(conn: pyvirt.Connection, root: Path) -> None:
    """<dns><host> records reach dnsmasq through its extra hosts file, read as its unprivileged user."""
    xml = NAT.format(name="dnsnet", bridge="pvnt0").replace(
        "<ip ", "<domain name='pvtest.example'/><dns><host ip='192.168.251.77'><hostname>files</hostname>"
        "<hostname>backup</hostname></host></dns><ip ")  # fmt: skip
    net = conn.define_network(xml)
    net.create()
    addn = root / "network" / "lib" / "dnsmasq" / "dnsnet.addnhosts"
    assert addn.read_text() == "192.168.251.77\tfiles\tbackup\t\n"
    names = ["backup", "files.pvtest.example", "nosuch.pvtest.example"]
    assert _dns_a("pvnt0", names, "192.168.251.1") == ["192.168.251.77", "192.168.251.77", "no answer"]
    net.destroy()
    assert not addn.exists()


def test_hostile_values_through_a_real_start(conn: pyvirt.Connection, root: Path) -> None:
    """A domain long enough that dnsmasq would read its tail as a directive: defined (libvirt accepts it),
    refused at start with nothing left behind; control characters refused at define."""
    tail = "dhcp-script=/tmp/pyvirt-injected"
    long_domain = "d" * (1024 - len("domain=")) + tail
    net = conn.define_network(NAT.format(name="longnet", bridge="pvnt0").replace(
        "<ip ", f"<domain name='{long_domain}'/><ip "))  # fmt: skip
    with pytest.raises(pyvirt.Error) as err:
        net.create()
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "cannot write 'domain'" in err.value.message and "dnsmasq reads at most 1023" in err.value.message
    assert not net.is_active() and _link("pvnt0") is None
    assert not list((root / "network" / "run").glob("longnet*"))
    assert not (root / "network" / "lib" / "dnsmasq" / "longnet.conf").exists()
    net.undefine()
    with pytest.raises(pyvirt.Error) as err:
        conn.define_network(NAT.format(name="nlnet", bridge="pvnt0").replace(
            "<ip ", f"<domain name='example.com&#10;{tail}'/><ip "))  # fmt: skip
    assert (err.value.code, err.value.message) == (ErrorCode.XML_DETAIL, "invalid char in domain name: \n")
    assert [n.name for n in conn.list_all_networks()] == []


def test_hosts_dnsmasq_could_not_read_refuse_the_start(tmp_path: Path) -> None:
    """dnsmasq reads its hosts files as nobody: in a root nobody cannot search, a network with hosts is
    refused at start with the reason, instead of a dnsmasq that silently serves none of them."""
    private = tmp_path / "embed"  # pytest's directories are root's alone
    try:
        with pyvirt.open(f"network:///embed?root={private}") as conn:
            net = conn.define_network(NAT.format(name="privnet", bridge="pvnt1").replace("251", "249"))
            with pytest.raises(pyvirt.Error) as err:
                net.create()
            assert err.value.code == ErrorCode.OPERATION_FAILED
            assert "dnsmasq reads the DHCP hosts of network 'privnet' as user 'nobody', who cannot read" in \
                err.value.message  # fmt: skip
            assert not net.is_active() and _link("pvnt1") is None
            assert not list((private / "network" / "run").glob("privnet*"))
    finally:
        subprocess.run(["pkill", "-f", str(private)], check=False)
        subprocess.run(["ip", "link", "del", "pvnt1"], capture_output=True, check=False)
