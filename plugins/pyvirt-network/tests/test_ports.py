"""Network ports: the NICs a running network serves, as libvirt 9.0's network driver keeps them.

The story: an operator lists the ports of a network with ``net-port-list``, looks at one with
``net-port-dumpxml``, creates and deletes them by hand; a guest's NIC on the network gets its port
when the guest starts or the NIC is plugged, and loses it when the guest stops; the ports outlive a
daemon restart and go with the network.

The reference is Debian's virsh against a private libvirtd 9.0 running only its network driver, on a
``<forward mode='bridge'/>`` network over a bridge the test makes: that is the kind of network libvirtd's
driver runs here (its NAT and isolated networks need iptables, which this host does not have). Debian's
virsh then runs the same commands against a private pyvirtd, and pyvirsh against pyvirtd: stdout,
stderr and exit status must be the same byte for byte. A QEMU guest's NICs cannot be compared with
libvirtd: the harness runs one libvirt driver per daemon, and libvirt's QEMU driver asks the network
driver of its own daemon for the port.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing.virsh import run_line

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="bridges need root"),
    pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the reference"),
]

BRIDGE = "pvnp1"
NET_UUID = "6a647d1a-1cd8-49af-9546-4cfb523dcd51"
NETWORK = f"<network><name>npt</name><uuid>{NET_UUID}</uuid><forward mode='bridge'/><bridge name='{BRIDGE}'/></network>"
OWNER = "<owner><name>memtest</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
U1, U2, U3 = (f"{d}d744f21-ba4a-4d6e-bdb2-30a35ff3207d" for d in "012")
PORTS = {
    # a floor the network cannot guarantee: refused with libvirt's words
    "floor": f"<networkport><uuid>{U1}</uuid>{OWNER}<mac address='52:54:00:7B:35:93'/>"
    "<bandwidth><inbound average='1000' floor='200'/></bandwidth></networkport>",
    "ovs": f"<networkport><uuid>{U2}</uuid>{OWNER}<mac address='52:54:00:7b:35:94'/>"
    "<virtualport type='openvswitch'/></networkport>",
    "rx": f"<networkport><uuid>{U3}</uuid>{OWNER}<mac address='52:54:00:7b:35:95'/>"
    "<rxfilters trustGuest='yes'/></networkport>",
    # an element the schema does not know: refused with --validate, ignored without (as libvirt's parser does)
    "extra": f"<networkport><uuid>3{U1[1:]}</uuid>{OWNER}<mac address='52:54:00:7b:35:96'/><foo/></networkport>",
}
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


def run(tool: str, uri: str, line: str, *options: str) -> tuple[str, str, int]:
    return run_line([tool, *options], uri, line)


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    try:
        yield BRIDGE
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("ports")
    (top / "net.xml").write_text(NETWORK)
    for name, xml in PORTS.items():
        (top / f"{name}.xml").write_text(xml)
    return top


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory, bridge: str) -> Iterator[str]:
    """Debian's libvirtd with only its network driver (bench/private_libvirtd.py): its URI."""
    harness_path = Path(__file__).parents[3] / "bench" / "private_libvirtd.py"
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness_path)
    assert spec is not None and spec.loader is not None
    harness: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    if not os.path.exists(harness.LIBVIRTD):
        pytest.skip("needs Debian's libvirtd (libvirt-daemon)")
    proc, uri = harness.start_libvirtd(tmp_path_factory.mktemp("libvirtd"), "network")
    try:
        yield uri
    finally:
        harness.stop_libvirtd(proc)


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory, bridge: str) -> Iterator[PrivateDaemon]:
    daemon = PrivateDaemon(tmp_path_factory.mktemp("pyvirtd") / "root").start()
    try:
        yield daemon
    finally:
        daemon.stop()
        assert daemon.tracebacks() == []


def _script(files: Path) -> str:
    return "; ".join([
        f"net-create {files}/net.xml",
        f"net-port-create npt {files}/floor.xml", f"net-port-create npt {files}/ovs.xml",
        f"net-port-create npt {files}/rx.xml", f"net-port-create npt {files}/rx.xml",  # the UUID is taken
        f"net-port-create npt {files}/extra.xml --validate", f"net-port-create npt {files}/extra.xml",
        "net-port-list npt", "net-port-list npt --uuid", "net-port-list npt --uuid --table",
        f"net-port-dumpxml npt {U3}", f"net-port-dumpxml npt {U2} --xpath //plug", "net-dumpxml npt",
        f"net-port-dumpxml npt {U1}", "net-port-dumpxml npt not-a-uuid", "net-port-dumpxml nosuch x",
        f"net-port-delete npt {U3}", f"net-port-delete npt {U3}", "net-port-list npt", "net-port-list nosuch",
    ])  # fmt: skip


def test_the_four_commands_through_pyvirtd_answer_as_libvirtd(
    libvirtd: str, pyvirtd: PrivateDaemon, files: Path
) -> None:
    """Create, list, dump and delete ports, the refusals included: virsh sees no difference between daemons,
    and pyvirsh prints what virsh prints; a read-only client may list and look, not create or delete."""
    ours = pyvirtd.uri("network:///system")
    expected = run("virsh", libvirtd, _script(files))
    assert f"Network port {U3} deleted" in expected[0]  # the story ran
    assert run("virsh", ours, _script(files)) == expected
    read_only = f"net-port-list npt; net-port-create npt {files}/rx.xml; net-port-delete npt {U2}"
    expected_ro = run("virsh", libvirtd, read_only, "-r")
    assert "read only access prevents virNetworkPortCreateXML" in expected_ro[1]
    assert run("virsh", ours, read_only, "-r") == expected_ro
    assert run(PYVIRSH, ours, read_only, "-r") == expected_ro
    # pyvirsh, on the same story from the start (the ports it finds are those virsh left: the same on both)
    again = f"net-destroy npt; {_script(files)}"
    expected = run("virsh", libvirtd, again)
    assert run(PYVIRSH, ours, again) == expected
    assert run("virsh", ours, "net-destroy npt") == run("virsh", libvirtd, "net-destroy npt")


def test_ports_outlive_a_daemon_restart_and_go_with_the_network(pyvirtd: PrivateDaemon, files: Path) -> None:
    uri = pyvirtd.uri("network:///system")
    assert run("virsh", uri, f"net-create {files}/net.xml; net-port-create npt {files}/ovs.xml")[2] == 0
    pyvirtd.stop()
    pyvirtd.start()
    out, err, rc = run("virsh", uri, "net-port-list npt --uuid; net-dumpxml npt")
    assert (out.split("\n")[0], err, rc) == (U2, "", 0)
    assert "<network connections='1'>" in out
    assert run("virsh", uri, f"net-destroy npt; net-create {files}/net.xml")[2] == 0
    assert run("virsh", uri, "net-port-list npt --uuid") == ("\n", "", 0)  # the new network starts without ports
    assert run("virsh", uri, "net-destroy npt")[2] == 0


def test_ports_of_an_isolated_network_and_what_is_refused(tmp_path: Path) -> None:
    """Through the library: a network with a bridge of its own plugs ports as type 'network'."""
    top = tmp_path / "embed"
    with pyvirt.open(f"network:///embed?root={top}") as conn:
        net = conn.define_network("<network><name>iso</name><bridge name='pvnp2'/></network>")
        with pytest.raises(pyvirt.Error) as err:
            net.port_create_xml(PORTS["rx"])
        assert (err.value.code, err.value.message) == (ErrorCode.OPERATION_INVALID,
                                                       "Requested operation is not valid: network 'iso' is not active")  # fmt: skip
        with pytest.raises(pyvirt.Error) as err:
            net.list_all_ports()
        assert err.value.code == ErrorCode.OPERATION_INVALID
        net.create()
        try:
            port = net.port_create_xml(PORTS["rx"])
            assert "<plug type='network' bridge='pvnp2'/>" in port.xml_desc()
            assert "connections='1'" in net.xml_desc() and "connections" not in net.xml_desc(1)
            for xml, code, words in (
                (PORTS["ovs"], ErrorCode.CONFIG_UNSUPPORTED,
                 "<virtualport type='openvswitch'> not supported for network 'iso' which uses IP forwarding"),
                (PORTS["floor"], ErrorCode.OPERATION_UNSUPPORTED, "network 'iso' has no inbound QoS set"),
                (port.xml_desc(), ErrorCode.INVALID_ARG, "Port reclaim not requested but plug type is not none"),
            ):  # fmt: skip
                with pytest.raises(pyvirt.Error) as err:
                    net.port_create_xml(xml)
                assert err.value.code == code and words in err.value.message, err.value.message
            with pytest.raises(pyvirt.Error) as err:
                net.port_create_xml(PORTS["rx"], 4)
            assert err.value.code == ErrorCode.INVALID_ARG and "unsupported flags (0x4)" in err.value.message
            # RECLAIM: a port whose plug is known already (a hypervisor driver after a restart) is taken as it is
            port.delete()
            plugged = PORTS["rx"].replace("</networkport>", "<plug type='network' bridge='pvnp2'/></networkport>")
            reclaimed = net.port_create_xml(plugged, 1)
            assert [p.uuid for p in net.list_all_ports()] == [reclaimed.uuid] == [U3]
            with pytest.raises(pyvirt.Error) as err:
                net.port_lookup_by_uuid(U1)
            assert err.value.code == ErrorCode.NO_NETWORK_PORT
            assert err.value.message == f"network port not found: Network port with UUID {U1} does not exist"
            assert (top / "network" / "run" / "iso" / "ports" / f"{U3}.xml").exists()
        finally:
            net.destroy()
        assert not (top / "network" / "run" / "iso" / "ports").exists()


@pytest.mark.skipif(importlib.util.find_spec("pyvirt_qemu") is None, reason="a guest needs pyvirt-qemu")
@pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="qemu-system-x86_64 is not installed")
def test_a_guest_nic_gets_a_port_on_start_and_plug_and_loses_it_on_stop(
    pyvirtd: PrivateDaemon, files: Path, tmp_path: Path
) -> None:
    """Debian's virsh against pyvirtd: the guest's live XML names its port, the port names the guest, a
    hot-plugged NIC gets one too, a daemon restart keeps them, and the stopped guest leaves none behind."""
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    guest = tmp_path / "guest.xml"
    guest.write_text(f"""<domain type='{virt}'><name>portguest</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<interface type='network'><mac address='52:54:00:00:fc:01'/><source network='npt'/><model type='virtio'/></interface>
</devices></domain>""")
    net_uri, qemu_uri = pyvirtd.uri("network:///system"), pyvirtd.uri("qemu:///system")
    assert run("virsh", net_uri, f"net-create {files}/net.xml")[2] == 0
    try:
        out, err, rc = run("virsh", qemu_uri, f"create {guest}; dumpxml portguest")
        assert rc == 0, err
        portid = out.split("portid='")[1].split("'")[0]
        assert f"<source network='npt' portid='{portid}' bridge='{BRIDGE}'/>" in out
        out, err, rc = run("virsh", net_uri, f"net-port-list npt --uuid; net-port-dumpxml npt {portid}")
        assert rc == 0, err
        assert out.startswith(f"{portid}\n\n")
        assert "<name>portguest</name>" in out and "<mac address='52:54:00:00:fc:01'/>" in out
        assert f"<plug type='bridge' bridge='{BRIDGE}'/>" in out
        # a plug QEMU refuses (no ACPI: the bus takes no hot-plugged device) leaves no port behind
        bare = tmp_path / "bare.xml"
        bare.write_text(f"<domain type='{virt}'><name>bareguest</name><memory unit='MiB'>64</memory>"
                        "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>")  # fmt: skip
        line = f"create {bare}; attach-interface bareguest network npt --mac 52:54:00:00:fc:03 --live"
        assert "Bus 'pci.0' does not support hotplugging" in run("virsh", qemu_uri, line)[1]
        assert run("virsh", qemu_uri, "destroy bareguest")[2] == 0
        assert run("virsh", net_uri, "net-port-list npt --uuid")[0] == f"{portid}\n\n"
        out, err, rc = run("virsh", qemu_uri, "attach-interface portguest network npt --mac 52:54:00:00:fc:02 --live")
        assert rc == 0, err
        pyvirtd.stop()
        pyvirtd.start()
        out, err, rc = run("virsh", net_uri, "net-port-list npt --uuid")
        assert len(out.split()) == 2, (out, err)
        assert run("virsh", qemu_uri, "net-port-list npt --uuid") == (out, err, rc)  # qemu:/// asks the same driver
        assert run("virsh", qemu_uri, "destroy portguest")[2] == 0
        deadline = time.monotonic() + 10
        while (out := run("virsh", net_uri, "net-port-list npt --uuid")[0]).strip():
            assert time.monotonic() < deadline, f"ports left after the guest stopped: {out}"
            time.sleep(0.1)
    finally:
        run("virsh", qemu_uri, "destroy portguest; destroy bareguest")
        run("virsh", net_uri, "net-destroy npt")
