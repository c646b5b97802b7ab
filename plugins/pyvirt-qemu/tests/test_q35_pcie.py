"""q35 guests' PCI Express layout beside libvirt 9.0: index-less root ports, and hot-plug onto them.

virt-install writes a q35 guest's ``pcie-root`` and its spare ``pcie-root-port``
controllers without an ``index``: libvirt numbers them in the order written
(pcie-root 0, the ports 1, 2, ...), and so must pyvirt, or QEMU is handed a
root port named ``pci.0`` plugged into itself ("Bus 'pci.0' not found"). An
index-less port written before the pcie-root (or without one) takes index 0,
which libvirt refuses as the wrong model for the machine's root.

A device hot-plugged without an address goes, as with libvirt
(qemuDomainEnsurePCIAddress), to the first empty hot-pluggable root port:
pcie-root cannot take hot-plug. When none is left, or the address given is
on pcie-root or taken, the attach is refused with libvirt's words.

The oracle is Debian's virt-install and virsh against a private libvirtd 9.0
(``shared_libvirtd``); the guests are firmware-only, so KVM runs them here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, embed_uri, pyvirsh, run_every_way, virsh


def virt_install_xml(uri: str, virt_type: str) -> str:
    """What virt-install writes for a new q35 guest with a virtio NIC: fourteen index-less root ports."""
    exe = shutil.which("virt-install")
    if exe is None:
        pytest.skip("virt-install (Debian's virtinst) is not installed")
    argv = [exe, "--connect", uri, "--print-xml", "--machine", "q35", "--name", "vq35", "--virt-type", virt_type,
            "--memory", "64", "--vcpus", "1", "--import", "--disk", "none", "--network", "user,model=virtio",
            "--graphics", "none", "--osinfo", "detect=on,require=off"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def _pci_tree(monitor: Any) -> dict[str, list[str]]:
    """query-pci as ``{qdev id of a bridge or port: ids of the devices behind it}`` (pcie-root as "pcie.0")."""
    tree: dict[str, list[str]] = {}

    def walk(devices: list[dict[str, Any]], parent: str) -> None:
        for dev in devices:
            tree.setdefault(parent, []).append(dev["qdev_id"])
            bridge = dev.get("pci_bridge")
            if bridge is not None:
                walk(bridge.get("devices", []), dev["qdev_id"])

    for bus in monitor.execute("query-pci"):
        walk(bus["devices"], "pcie.0")
    return tree


def _wait_for_bus_numbers(monitor: Any) -> None:
    """Until the firmware has numbered the root ports' buses: query-pci lists nothing behind a port before."""
    deadline = time.monotonic() + 30
    while True:
        ports = [d for d in monitor.execute("query-pci")[0]["devices"] if "pci_bridge" in d]
        if ports and all(d["pci_bridge"]["bus"]["secondary"] for d in ports):
            return
        assert time.monotonic() < deadline, "the firmware did not number the root ports' buses"
        time.sleep(0.05)


def test_virt_install_q35_guest_defines_as_with_libvirt_and_starts(
    conn: pyvirt.Connection, shared_libvirtd: str, tmp_path: Path, virt_type: str,
    guest_monitor: Callable[[pyvirt.Domain], Any],
) -> None:  # fmt: skip
    xml = tmp_path / "vq35.xml"
    xml.write_text(virt_install_xml(shared_libvirtd, virt_type))
    assert xml.read_text().count('<controller type="pci" model="pcie-root-port"/>') == 14
    theirs = virsh(shared_libvirtd, f"define {xml}; dumpxml vq35; undefine vq35")
    dom = conn.define_domain(xml.read_text())
    assert dom.xml_desc() + "\n" in theirs[0]  # byte for byte, as libvirtd's dumpxml prints it
    defined = dom.xml_desc()
    assert "<controller type='pci' index='0' model='pcie-root'/>" in defined
    assert "<controller type='pci' index='14' model='pcie-root-port'>" in defined
    dom.create()
    try:
        tree = _pci_tree(guest_monitor(dom))
        assert [d for d in tree["pcie.0"] if d.startswith("pci.")] == [f"pci.{i}" for i in range(1, 15)]
    finally:
        dom.destroy()
    dom.undefine()


def test_a_root_port_written_before_the_root_is_refused_as_libvirt_refuses(
    qemu_root: Path, shared_libvirtd: str, tmp_path: Path
) -> None:
    """An index-less pcie-root-port before the pcie-root, or with none, takes index 0: not the machine's root."""
    before = tmp_path / "before.xml"
    before.write_text("""<domain type='qemu'><name>early</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-root'/></devices></domain>""")
    without = tmp_path / "without.xml"
    without.write_text("""<domain type='qemu'><name>rootless</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<controller type='pci' model='pcie-root-port'/><interface type='user'/></devices></domain>""")
    line = f"define {before}; define {without}; list --all --name"
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "undefine early")
    assert "must be model='pcie-root' for this machine type, but model='pcie-root-port'" in theirs[1]
    assert_prints_as(theirs, **ours)


LAYOUTS = {
    # pcie-root written after two index-less ports: they are 1 and 2 and stay before it
    "after": "<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-root-port'/>"
             "<controller type='pci' index='0' model='pcie-root'/>",
    # an index-less port after one with a higher index: the lowest free index, the parser's place
    "mixed": "<controller type='pci' model='pcie-root'/><controller type='pci' model='pcie-root-port'/>"
             "<controller type='pci' model='pcie-root-port'/><controller type='pci' index='1' model='pcie-root-port'/>",
    # index-less pcie-to-pci-bridges take the free root ports; the e1000 goes behind the first
    "bridges": "<controller type='pci' model='pcie-root'/><controller type='pci' model='pcie-to-pci-bridge'/>"
               "<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-root-port'/>"
               "<controller type='pci' model='pcie-to-pci-bridge'/>",
    # a pcie-to-pci-bridge without a free root port: libvirt adds ports for endpoints only
    "portless": "<controller type='pci' model='pcie-root'/><controller type='pci' model='pcie-to-pci-bridge'/>",
}  # fmt: skip
LAYOUT = """<domain type='qemu'><name>{name}</name><uuid>35353535-0000-4000-8000-00000000000{n}</uuid>
<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<interface type='user'><mac address='52:54:00:35:01:01'/><model type='e1000'/></interface>
<interface type='user'><mac address='52:54:00:35:01:02'/><model type='virtio'/></interface>
<disk type='file' device='disk'><source file='/dev/null'/><target dev='vda' bus='virtio'/></disk>
{controllers}</devices></domain>"""


def test_pci_layouts_define_as_with_libvirt(qemu_root: Path, shared_libvirtd: str, tmp_path: Path) -> None:
    lines = []
    for n, (name, controllers) in enumerate(LAYOUTS.items()):
        (tmp_path / f"{name}.xml").write_text(LAYOUT.format(name=name, n=n, controllers=controllers))
        lines += [f"define {tmp_path / name}.xml", f"dumpxml {name}", f"undefine {name}"]
    theirs = virsh(shared_libvirtd, "; ".join(lines))
    assert theirs[0].count("<model name='pcie-pci-bridge'/>") == 4  # (the e1000 of 'after' and 'mixed' gets one added)
    assert "Cannot automatically add a new PCI bus for a device with connect flags 2000" in theirs[1]
    assert_prints_as(theirs, pyvirsh=pyvirsh(embed_uri(qemu_root), "; ".join(lines)))


SPARE_PORTS = """<domain type='{virt}'><name>hotq35</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<controller type='usb' model='none'/><controller type='pci' model='pcie-root'/>
<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-root-port'/>
<memballoon model='none'/></devices></domain>"""


def _device_files(tmp_path: Path) -> dict[str, Path]:
    """The devices a user attaches: two virtio disks and a virtio NIC without addresses, a disk that asks for a
    slot of pcie-root, one that asks for the first port (taken by then), an e1000 NIC (conventional PCI)."""
    images = [tmp_path / "one.img", tmp_path / "two.img"]
    for image in images:
        image.write_bytes(b"\0" * 1048576)

    def disk(dev: str, image: Path, address: str = "") -> str:
        return (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>"
                f"<target dev='{dev}' bus='virtio'/>{address}</disk>")  # fmt: skip

    on_root = "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>"
    on_port = "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"
    texts = {"vdb": disk("vdb", images[0]), "vdc": disk("vdc", images[1]), "root": disk("vdd", images[1], on_root),
             "taken": disk("vde", images[1], on_port),
             "nic": "<interface type='user'><mac address='52:54:00:35:00:01'/><model type='virtio'/></interface>",
             "e1000": "<interface type='user'><mac address='52:54:00:35:00:02'/><model type='e1000'/></interface>"}  # fmt: skip
    files = {}
    for name, text in texts.items():
        files[name] = tmp_path / f"{name}.xml"
        files[name].write_text(text)
    return files


def test_hotplug_takes_the_free_root_ports_then_is_refused_as_with_libvirt(
    qemu_root: Path, shared_libvirtd: str, tmp_path: Path, virt_type: str
) -> None:
    xml = tmp_path / "hotq35.xml"
    xml.write_text(SPARE_PORTS.format(virt=virt_type))
    f = _device_files(tmp_path)
    addresses = "--xpath '//devices/disk/address|//devices/interface/address'"
    line = "; ".join([
        f"define {xml}", "start hotq35", f"attach-device hotq35 {f['root']}", f"attach-device hotq35 {f['vdb']}",
        f"attach-device hotq35 {f['taken']}", f"attach-device hotq35 {f['e1000']}", f"attach-device hotq35 {f['nic']}",
        f"attach-device hotq35 {f['vdc']}", f"dumpxml hotq35 {addresses}", "domblklist hotq35",
        "destroy hotq35", "undefine hotq35",
    ])  # fmt: skip
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy hotq35; "
                                 "undefine hotq35")  # fmt: skip
    assert 'bus="0x01"' in theirs[0] and 'bus="0x02"' in theirs[0]
    assert theirs[1].count("No more available PCI slots") == 2  # the e1000 (no bridge) and the third disk
    assert "requires hotplug capability, but the PCI controller with index='0' doesn't support hotplug" in theirs[1]
    assert "Attempted double use of PCI Address 0000:01:00.0" in theirs[1]
    assert_prints_as(theirs, **ours)


def test_devices_added_to_the_definition_get_root_ports_as_with_libvirt(
    qemu_root: Path, shared_libvirtd: str, tmp_path: Path, virt_type: str
) -> None:
    """attach-device --config: the definition's free root ports first, then a new port appended for the third
    device (libvirt's address assignment of the persistent definition); the guest then starts with them."""
    xml = tmp_path / "hotq35.xml"
    xml.write_text(SPARE_PORTS.format(virt=virt_type))
    f = _device_files(tmp_path)
    pci = "--xpath '//devices/disk/address|//devices/interface/address|//devices/controller[@type=\"pci\"]'"
    line = "; ".join([
        f"define {xml}", f"attach-device hotq35 {f['vdb']} --config", f"attach-device hotq35 {f['nic']} --config",
        f"attach-device hotq35 {f['vdc']} --config", f"dumpxml hotq35 --inactive {pci}", "start hotq35",
        f"dumpxml hotq35 {pci}", "destroy hotq35", "undefine hotq35",
    ])  # fmt: skip
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy hotq35; "
                                 "undefine hotq35")  # fmt: skip
    assert '<controller type="pci" index="3" model="pcie-root-port">' in theirs[0] and not theirs[1]
    assert_prints_as(theirs, **ours)


def test_hotplugged_devices_sit_behind_the_root_ports_in_qemu(
    conn: pyvirt.Connection, tmp_path: Path, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    f = _device_files(tmp_path)
    dom = conn.define_domain(SPARE_PORTS.format(virt=virt_type))
    dom.create()
    try:
        monitor = guest_monitor(dom)
        _wait_for_bus_numbers(monitor)
        dom.attach_device(f["vdb"].read_text())
        dom.attach_device(f["nic"].read_text())
        tree = _pci_tree(monitor)
        assert tree["pci.1"] == ["virtio-disk1"] and tree["pci.2"] == ["net0"]
        assert not {"virtio-disk1", "net0"} & set(tree["pcie.0"])
        with pytest.raises(pyvirt.Error, match="No more available PCI slots"):
            dom.attach_device(f["vdc"].read_text())
        assert _pci_tree(monitor) == tree  # the refused disk left nothing in QEMU
        assert [b.get("qdev") for b in monitor.execute("query-block")] == [
            "/machine/peripheral/virtio-disk1/virtio-backend"
        ]
    finally:
        dom.destroy()
    dom.undefine()
