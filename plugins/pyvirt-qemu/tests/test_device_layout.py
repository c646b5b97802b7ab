"""The hardware a real QEMU builds from the command line: PCI slots, SCSI and floppy disks, channels, fd-passed chardevs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pyvirt_qemu.hotplug import device_of_qdev

import pyvirt
from pyvirt import ErrorCode

GUEST = """<domain type='{virt}'><name>layout</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
<clock offset='utc'><timer name='hpet' present='no'/></clock><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{img}'/><target dev='sdb' bus='scsi'/>
  <address type='drive' controller='1' bus='0' target='0' unit='1'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='{qcow}'/>
  <target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{img2}'/><target dev='sda' bus='scsi'/></disk>
<disk type='file' device='floppy'><driver name='qemu' type='raw'/><source file='{floppy}'/><target dev='fda'/></disk>
<controller type='scsi' index='1' model='virtio-scsi'/>
<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>
<serial type='file'><source path='{log}'/></serial>
<serial type='pty'/>
<channel type='unix'><source mode='bind' path='{sock}'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<parallel type='pty'/>
<sound model='ac97'/>
<sound model='ich6'><codec type='micro'/></sound>
<video><model type='vga'/></video>
<graphics type='vnc' autoport='yes'/>
<panic model='isa'><address type='isa' iobase='0x505'/></panic>
</devices></domain>"""


def _qemu_pid(dom: pyvirt.Domain) -> int:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process.pid
    raise AssertionError(f"{dom.name} is not running")


def test_libvirt_layout_reaches_qemu(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    img, img2, floppy, qcow = (tmp_path / n for n in ("a.img", "b.img", "f.img", "c.qcow2"))
    for path, size in ((img, 1 << 20), (img2, 2 << 20), (floppy, 1474560)):
        path.write_bytes(b"\0" * size)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow), "4M"], check=True)
    log, sock = tmp_path / "serial.log", tmp_path / "agent.sock"
    dom = conn.define_domain(GUEST.format(virt=virt_type, img=img, img2=img2, floppy=floppy, qcow=qcow, log=log,
                                          sock=sock))  # fmt: skip
    defined = dom.xml_desc(2).replace('"', "'")
    # libvirt's layout, written into the definition: lsi for the implicit controller 0, PIIX3 USB at 1.2,
    # VGA at slot 2, then NIC, controllers, virtio disk, balloon in that order
    assert "<controller type='scsi' index='0' model='lsilogic'>" in defined
    assert "<address type='drive' controller='0' bus='0' target='0' unit='0'/>" in defined  # sda from its name
    assert "<audio id='1' type='none'/>" in defined
    dom.create()
    root = Path(conn.uri.split("root=")[1])
    assert len(list(root.rglob("master-key.aes"))) == 1
    mon = guest_monitor(dom)
    slots = {d["qdev_id"]: d["slot"] for bus in mon.execute("query-pci") for d in bus["devices"] if d.get("qdev_id")}
    assert slots["video0"] == 2 and slots["usb"] == 1
    assert slots["net0"] == 3 and slots["sound0"] == 4 and slots["sound1"] == 5
    # the parsed virtio-scsi controller 1 comes before the implicit lsi 0, which libvirt appends
    # (virDomainDefAddController), and qemuDomainAssignDevicePCISlots walks the controllers in that order
    assert slots["scsi1"] == 6 and slots["scsi0"] == 7 and slots["virtio-serial0"] == 8
    assert slots["virtio-disk0"] == 9 and slots["balloon0"] == 10
    blocks = {b["qdev"].rsplit("/", 2)[-2] if b["qdev"].endswith("virtio-backend") else b["qdev"].rsplit("/", 1)[-1]:
              b.get("inserted", {}) for b in mon.execute("query-block")}  # fmt: skip
    assert blocks["scsi0-0-0"]["file"] == str(img2)  # lsi: a narrow bus, no target in the id
    assert blocks["scsi1-0-0-1"]["file"] == str(img)
    assert blocks["fdc0-0-0"]["file"] == str(floppy)
    assert blocks["virtio-disk0"]["cache"]["direct"] is True
    # the file and the listening socket were opened by the driver and passed as fds
    assert log.exists() and sock.is_socket()
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(sock))  # QEMU accepts on the socket the driver created
    chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
    assert chardevs["charserial0"] == "file" and f"unix:{sock},server=on" in chardevs["charchannel0"]
    peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
    assert peripherals["channel0"] == "child<virtserialport>" and peripherals["parallel0"] == "child<isa-parallel>"
    anonymous = [p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral-anon"})]
    assert "child<pvpanic>" in anonymous
    assert peripherals["sound0"] == "child<AC97>" and peripherals["sound1"] == "child<intel-hda>"
    assert peripherals["sound1-codec0"] == "child<hda-micro>"
    assert mon.execute("qom-get", {"path": "/machine/peripheral/sound0", "property": "audiodev"}) == "audio1"
    assert mon.execute("qom-get", {"path": "/machine", "property": "hpet"}) is False
    live = dom.xml_desc().replace('"', "'")
    assert f"<source file='{floppy}' index='1'/>" in live  # node numbers counted from the last disk
    assert "<alias name='scsi1-0-0-1'/>" in live
    dom.destroy()
    root = Path(conn.uri.split("root=")[1])
    assert not list(root.rglob("master-key.aes")), "the master key goes with the guest"


def test_q35_endpoints_sit_on_their_own_root_ports(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    disk = tmp_path / "q.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "4M"], check=True)
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>q35</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda'/></disk>
<interface type='user'><mac address='52:54:00:aa:bb:02'/><model type='virtio'/></interface>
<sound model='ich9'/>
</devices></domain>""")
    defined = dom.xml_desc(2).replace('"', "'")
    # NIC, USB (qemu-xhci), disk, balloon: four ports, and a fifth left empty for hotplug
    assert defined.count("model='pcie-root-port'") == 5
    assert "<target chassis='1' port='0x8'/>" in defined
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0' multifunction='on'/>" in defined
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>" in defined  # ICH9 SATA
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x1b' function='0x0'/>" in defined  # ICH9 HDA
    dom.create()
    mon = guest_monitor(dom)
    buses = mon.execute("query-pci")
    ports = {d["qdev_id"]: d for bus in buses for d in bus["devices"] if d.get("qdev_id", "").startswith("pci.")}
    assert len(ports) == 5 and all(p["slot"] == 1 for p in ports.values())
    assert any(d.get("qdev_id") == "sound0" and d["slot"] == 0x1B for bus in buses for d in bus["devices"])
    # before the firmware numbers the buses query-pci cannot see behind the ports; QOM knows where each device sits
    behind = {dev: mon.execute("qom-get", {"path": f"/machine/peripheral/{dev}", "property": "parent_bus"})
              for dev in ("net0", "usb", "virtio-disk0", "balloon0")}  # fmt: skip
    assert behind == {
        "net0": "/machine/peripheral/pci.1/pci.1",
        "usb": "/machine/peripheral/pci.2/pci.2",
        "virtio-disk0": "/machine/peripheral/pci.3/pci.3",
        "balloon0": "/machine/peripheral/pci.4/pci.4",
    }
    dom.destroy()


def test_emulated_tpm_runs_its_own_swtpm(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    if not shutil.which("swtpm"):
        pytest.skip("swtpm (Debian's swtpm) is not installed")
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>tpm</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features><devices>
<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm></devices></domain>""")
    dom.create()
    mon = guest_monitor(dom)
    peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
    assert peripherals["tpm0"] == "child<tpm-crb>"
    tpms = mon.execute("query-tpm")
    assert tpms[0]["model"] == "tpm-crb" and tpms[0]["options"]["type"] == "emulator"
    pid = int((qemu_root / "run" / "qemu" / "tpm-swtpm.pid").read_text())
    assert b"swtpm\0socket" in Path(f"/proc/{pid}/cmdline").read_bytes()
    state = qemu_root / "lib" / "qemu" / "swtpm" / dom.uuid / "tpm2"
    assert state.is_dir()
    dom.destroy()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # it leaves with QEMU (--terminate)
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or b"swtpm" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert state.is_dir(), "the TPM's state outlives the run"
    dom.undefine()
    assert not state.parent.exists(), "and goes with the definition"


def test_disk_throttling_and_usb_disks(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """<iotune> reaches QEMU over QMP before the guest runs; a USB disk sits on the root hub's first port."""
    first, second = tmp_path / "t.img", tmp_path / "u.img"
    for path in (first, second):
        path.write_bytes(b"\0" * 65536)
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>io</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{first}'/><target dev='vda'/>
  <iotune><read_bytes_sec>1048576</read_bytes_sec><write_iops_sec>200</write_iops_sec>
  <write_iops_sec_max>400</write_iops_sec_max><group_name>pool</group_name></iotune></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{second}'/><target dev='sda' bus='usb'/>
  </disk>
</devices></domain>""")
    mon = guest_monitor(dom)
    blocks = {device_of_qdev(b["qdev"]): b.get("inserted", {}) for b in mon.execute("query-block")}
    vda = blocks["virtio-disk0"]
    assert (vda["bps_rd"], vda["iops_wr"], vda["iops_wr_max"], vda["group"], vda["bps"]) == (
        1048576,
        200,
        400,
        "pool",
        0,
    )
    assert blocks["usb-disk0"]["file"] == str(second)
    peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
    assert peripherals["usb-disk0"] == "child<usb-storage>"
    assert mon.execute("qom-get", {"path": "/machine/peripheral/usb-disk0", "property": "port"}) == "1"
    dom.destroy()
    with pytest.raises(pyvirt.Error) as exc:
        conn.define_domain(f"""<domain type='{virt_type}'><name>io2</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='{first}'/><target dev='vda'/>
<iotune><total_bytes_sec>1</total_bytes_sec><read_bytes_sec>1</read_bytes_sec></iotune></disk></devices></domain>""")
    assert str(exc.value) == "unsupported configuration: total and read/write bytes_sec cannot be set at the same time"


def test_cpu_switches_reach_the_vcpu(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """PV EOI, Hyper-V enlightenments, hidden KVM and CPU feature policies end up as properties of the vCPU."""
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>cpuflags</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<features><acpi/><apic eoi='on'/><hyperv mode='custom'><relaxed state='on'/><spinlocks state='on' retries='8191'/>
<vendor_id state='on' value='pyvirt'/></hyperv><kvm><hidden state='on'/></kvm></features>
<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model><feature policy='disable' name='lahf_lm'/>
</cpu><devices/></domain>""")
    mon = guest_monitor(dom)
    vcpu = mon.execute("query-cpus-fast")[0]["qom-path"]

    def prop(name: str) -> Any:
        return mon.execute("qom-get", {"path": vcpu, "property": name})

    assert prop("hv-relaxed") is True and prop("hv-spinlocks") == 8191 and prop("hv-vendor-id") == "pyvirt"
    assert prop("lahf-lm") is False
    # PV EOI and hidden KVM only show on a KVM that offers them (this kvm-pvm host filters them): QEMU took them
    cmdline = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert b"qemu64,lahf-lm=off,kvm-pv-eoi=on,hv-relaxed=on,hv-spinlocks=0x1fff,hv-vendor-id=pyvirt,kvm=off" in cmdline
    dom.destroy()


def _host_model(conn: pyvirt.Connection, virt: str) -> tuple[str, dict[str, str]]:
    caps = etree.fromstring(conn.get_domain_capabilities(virttype=virt).encode())
    mode = caps.find("cpu/mode[@name='host-model']")
    assert mode is not None and mode.get("supported") == "yes"
    model = str(mode.findtext("model"))
    assert model in [m.text for m in caps.findall("cpu/mode[@name='custom']/model")]
    wanted = {str(f.get("name")): str(f.get("policy")) for f in mode.findall("feature")}
    assert set(wanted.values()) <= {"require", "disable"}
    # domcapabilities shows libvirt's REPORTED host CPU; a guest starts from the MIGRATABLE one, without what
    # the CPU map says cannot migrate (invtsc), as libvirt's qemuProcessUpdateGuestCPU does
    from pyvirt.util import cpu_x86

    fixed = {f.name for f in cpu_x86.load_map().features if not f.migratable}
    return model, {name: policy for name, policy in wanted.items() if name not in fixed}


def _qemu_feature(name: str) -> str:
    return {"lahf_lm": "lahf-lm", "cmp_legacy": "cmp-legacy", "fxsr_opt": "fxsr-opt", "tsc_adjust": "tsc-adjust",
            "pclmuldq": "pclmulqdq", "perfctr_core": "perfctr-core"}.get(name, name)  # fmt: skip


def test_host_model_cpu_is_the_closest_named_model(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """domcapabilities names the host-model; a guest gets that model with the host's differences, as QEMU sees.

    The guest runs under TCG (``max``'s host-model): on this kvm-pvm host even ``-cpu host`` aborts in QEMU
    (KVM refuses the ARCH_CAPABILITIES MSR it advertises), so under KVM only the command line is checked.
    """
    if virt_type == "kvm":
        model, wanted = _host_model(conn, "kvm")
        argv = conn.domain_xml_to_native(
            "qemu-argv",
            """<domain type='kvm'><name>hm</name><memory>65536</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><cpu mode='host-model'/><devices/></domain>""",
        )
        switches = argv.split(" -cpu ", 1)[1].split(" ", 1)[0].split(",")
        assert switches[0] == model
        assert switches[1:] == [f"{_qemu_feature(n)}={'on' if p == 'require' else 'off'}" for n, p in wanted.items()]
    model, wanted = _host_model(conn, "qemu")
    # a feature of the guest's own overrides the host-model's policy for it
    overridden = next((n for n, p in wanted.items() if p == "require"), None)
    extra = f"<feature policy='disable' name='{overridden}'/>" if overridden else ""
    dom = conn.define_domain(f"""<domain type='qemu'><name>hostmodel</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu mode='host-model'>{extra}</cpu><devices/></domain>""")
    dom.create()
    live = etree.fromstring(dom.xml_desc().encode())
    cpu = live.find("cpu")
    assert cpu is not None and (cpu.get("mode"), cpu.get("match")) == ("custom", "exact")
    assert cpu.findtext("model") == model and cpu.find("model").get("fallback") == "forbid"  # type: ignore[union-attr]
    if overridden:
        wanted[overridden] = "disable"
    assert {f.get("name"): f.get("policy") for f in cpu.findall("feature")} == wanted
    mon = guest_monitor(dom)
    vcpu = mon.execute("query-cpus-fast")[0]["qom-path"]
    for name, policy in wanted.items():
        assert mon.execute("qom-get", {"path": vcpu, "property": _qemu_feature(name)}) is (policy == "require"), name
    cmdline = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"-cpu") + 1].split(b",")[0] == model.encode()
    dom.destroy()
    # the definition keeps asking for host-model; only the running guest had it resolved
    assert "mode='host-model'" in dom.xml_desc().replace('"', "'")
    dom.undefine()


def test_host_directory_shared_over_9p(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>ninep</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<filesystem type='mount' accessmode='mapped'><source dir='{export}'/><target dir='hostshare'/><readonly/></filesystem>
</devices></domain>""")
    mon = guest_monitor(dom)
    peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
    assert peripherals["fs0"] == "child<virtio-9p-pci>"
    argv = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert f"local,security_model=mapped,id=fsdev-fs0,path={export},readonly".encode() in argv
    slots = {d["qdev_id"]: d["slot"] for bus in mon.execute("query-pci") for d in bus["devices"] if d.get("qdev_id")}
    assert slots["fs0"] == 2  # filesystems come right after PCI controllers in libvirt's order
    dom.destroy()


def test_virtio_options_reach_the_devices(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """``<driver packed ats page_per_vq>`` end up as the virtio devices' properties."""
    img = tmp_path / "d.img"
    img.write_bytes(b"\0" * (1 << 20))
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>vopts</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw' packed='on' ats='on'/><source file='{img}'/>
  <target dev='vda' bus='virtio'/></disk>
<interface type='user'><model type='virtio'/><driver packed='on' page_per_vq='on'/></interface>
<memballoon model='virtio'><driver packed='off'/></memballoon>
</devices></domain>""")
    mon = guest_monitor(dom)

    def prop(dev: str, name: str) -> Any:
        return mon.execute("qom-get", {"path": f"/machine/peripheral/{dev}", "property": name})

    assert prop("virtio-disk0", "packed") is True and prop("virtio-disk0", "ats") is True
    assert prop("net0", "packed") is True and prop("net0", "page-per-vq") is True
    assert prop("balloon0", "packed") is False
    dom.destroy()


def test_intel_iommu_with_interrupt_remapping(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>vtd</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/><ioapic driver='qemu'/></features><devices>
<iommu model='intel'><driver intremap='on' caching_mode='on' aw_bits='48'/></iommu></devices></domain>""")
    mon = guest_monitor(dom)

    def prop(path: str, name: str) -> Any:
        return mon.execute("qom-get", {"path": path, "property": name})

    assert prop("/machine/peripheral/iommu0", "intremap") == "on"
    assert prop("/machine/peripheral/iommu0", "caching-mode") is True
    assert prop("/machine/peripheral/iommu0", "aw-bits") == 48
    # kernel_irqchip belongs to the KVM accelerator, not a machine property QOM shows: QEMU's argv says it
    argv = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert b"kernel_irqchip=split" in argv[argv.index(b"-machine") + 1].split(b",")
    dom.destroy()
    with pytest.raises(pyvirt.Error) as err:  # remapping interrupts needs QEMU's I/O APIC
        conn.create_domain(f"""<domain type='{virt_type}'><name>vtd2</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><iommu model='intel'><driver intremap='on'/></iommu>
</devices></domain>""")
    assert "requires split I/O APIC" in err.value.message


def test_network_disks_over_nbd(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """A qemu-nbd export on a UNIX socket and on TCP: QEMU connects to both and negotiates the export."""
    if not shutil.which("qemu-nbd"):
        pytest.skip("qemu-nbd (Debian's qemu-utils) is not installed")
    image = tmp_path / "exported.raw"
    image.write_bytes(b"\x5a" * (1 << 20))
    sock = tmp_path / "nbd.sock"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unix = ["qemu-nbd", "-t", "-f", "raw", "-x", "disk", "-k", str(sock), str(image)]
    tcp = ["qemu-nbd", "-t", "-f", "raw", "-x", "disk", "-b", "127.0.0.1", "-p", str(port), "-r", str(image)]
    servers = [subprocess.Popen(unix), subprocess.Popen(tcp)]
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        dom = conn.create_domain(f"""<domain type='{virt_type}'><name>nbd</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='network' device='disk'><driver name='qemu' type='raw'/>
  <source protocol='nbd' name='disk'><host transport='unix' socket='{sock}'/></source><target dev='vda' bus='virtio'/></disk>
<disk type='network' device='disk'><driver name='qemu' type='raw'/><readonly/>
  <source protocol='nbd' name='disk'><host name='127.0.0.1' port='{port}'/></source><target dev='vdb' bus='virtio'/></disk>
</devices></domain>""")
        mon = guest_monitor(dom)
        files = {b["qdev"]: b["inserted"]["image"]["filename"] for b in mon.execute("query-block") if b.get("inserted")}
        assert files["/machine/peripheral/virtio-disk0/virtio-backend"] == f"nbd+unix:///disk?socket={sock}"
        assert files["/machine/peripheral/virtio-disk1/virtio-backend"] == f"nbd://127.0.0.1:{port}/disk"
        sizes = {n["node-name"]: n["image"]["virtual-size"] for n in mon.execute("query-named-block-nodes")}
        assert sizes["libvirt-2-storage"] == sizes["libvirt-1-storage"] == 1 << 20  # sized by the NBD servers
        assert "<source protocol='nbd' name='disk' index='2'>" in dom.xml_desc().replace('"', "'")
        dom.destroy()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def _allowed_cpus(pid: int, tid: int | None = None) -> str:
    status = Path(f"/proc/{pid}/task/{tid or pid}/status").read_text()
    return status.split("Cpus_allowed_list:")[1].split()[0]


def test_cpu_pinning_as_thread_affinity(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """emulatorpin is where QEMU starts; each vcpupin moves its vCPU thread; cgroup-only tunables are refused."""
    last = max(os.sched_getaffinity(0))
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>pinned</name><memory unit='MiB'>64</memory>
<vcpu placement='static'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='{last}'/><vcpupin vcpu='1' cpuset='0'/>
<emulatorpin cpuset='0'/></cputune><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>""")
    pid = _qemu_pid(dom)
    assert _allowed_cpus(pid) == "0"
    threads = {c["cpu-index"]: c["thread-id"] for c in guest_monitor(dom).execute("query-cpus-fast")}
    assert _allowed_cpus(pid, threads[0]) == str(last) and _allowed_cpus(pid, threads[1]) == "0"
    dom.destroy()
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(f"""<domain type='{virt_type}'><name>shares</name><memory unit='MiB'>64</memory>
<cputune><shares>2048</shares></cputune><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>""")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "shares (it needs cgroups)" in err.value.message


def test_smbios_fw_cfg_and_generation_id(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """<sysinfo> tables and fw_cfg entries QEMU accepts at start, and the vmgenid device with the domain's GUID."""
    ignition = tmp_path / "config.ign"
    ignition.write_text('{"ignition": {"version": "3.0.0"}}')
    uuid = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
    xml = f"""<domain type='{virt_type}'><name>smbios</name><uuid>{uuid}</uuid><genid/>
<memory unit='MiB'>64</memory><sysinfo type='smbios'><bios><entry name='vendor'>pyvirt, the test</entry></bios>
<system><entry name='manufacturer'>pyvirt</entry><entry name='uuid'>{uuid}</entry></system>
<oemStrings><entry>hello</entry></oemStrings></sysinfo>
<sysinfo type='fwcfg'><entry name='opt/org.pyvirt/greeting'>hi</entry>
<entry name='opt/com.coreos/config' file='{ignition}'/></sysinfo>
<os><type arch='x86_64' machine='pc'>hvm</type><smbios mode='sysinfo'/></os><devices/></domain>"""
    dom = conn.define_domain(xml)
    genid = etree.fromstring(dom.xml_desc().encode()).findtext("genid")
    assert genid and len(genid) == 36  # generated at define, kept from then on
    dom.create()
    mon = guest_monitor(dom)
    assert mon.execute("qom-get", {"path": "/machine/peripheral/vmgenid0", "property": "guid"}) == genid
    argv = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert b"type=0,vendor=pyvirt,, the test" in argv and b"type=11,value=hello" in argv
    dom.destroy()
    dom.undefine()
    with pytest.raises(pyvirt.Error) as err:  # libvirt's check: the SMBIOS system UUID is the domain's
        conn.create_domain(xml.replace(f"<entry name='uuid'>{uuid}</entry>",
                                       "<entry name='uuid'>00000000-0000-0000-0000-000000000001</entry>"))  # fmt: skip
    assert "UUID mismatch between <uuid> and <sysinfo>" in err.value.message
    ignition.unlink()  # QEMU reads fw_cfg files at start: a missing one is QEMU's own error, and nothing stays
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(xml)
    assert "config.ign" in err.value.message
    assert not any(d.name == "smbios" for d in conn.list_all_domains())


def test_iothreads_serve_virtio_disks_and_scsi(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    img = tmp_path / "io.img"
    img.write_bytes(b"\0" * (1 << 20))
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>iothreads</name><memory unit='MiB'>64</memory>
<iothreads>2</iothreads><iothreadids><iothread id='7' thread_pool_max='4'/></iothreadids>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw' iothread='7'/><source file='{img}'/>
  <target dev='vda' bus='virtio'/></disk>
<controller type='scsi' index='0' model='virtio-scsi'><driver iothread='1'/></controller></devices></domain>""")
    mon = guest_monitor(dom)
    assert sorted(t["id"] for t in mon.execute("query-iothreads")) == ["iothread1", "iothread7"]  # 7, then 1 filled in
    assert mon.execute("qom-get", {"path": "/machine/peripheral/virtio-disk0", "property": "iothread"}).endswith(
        "iothread7"
    )
    assert mon.execute("qom-get", {"path": "/objects/iothread7", "property": "thread-pool-max"}) == 4
    dom.destroy()
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(f"""<domain type='{virt_type}'><name>noio</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='raw' iothread='3'/><source file='{img}'/><target dev='vda' bus='virtio'/></disk></devices>
</domain>""")
    assert "iothread '3' not defined in iothreadid" in err.value.message
