"""Debian's virt-install against pyvirtd: it builds the guest libvirt would get, and the guest runs.

virt-install (virtinst 4.1) reads ``capabilities`` and ``domcapabilities``
over libvirt's RPC protocol and fills in its defaults from them: the first
machine type listed, ``<acpi/>``/``<apic/>`` from the guest features, a
host-passthrough CPU when passthrough is migratable, ICH9 EHCI with three
UHCI companions (no index, no address) on an i440fx guest. The same call
against a private libvirtd 9.0 is the oracle for its ``--print-xml``, and
libvirt's QEMU command line for the same guest is the oracle for the devices
pyvirt-qemu gives QEMU.

On this host (kvm-pvm) QEMU aborts with "failed to set MSR 0x10a" when a
passed-through CPU carries IA32_ARCH_CAPABILITIES; libvirt 9.0 fails the same
way, so under KVM the real installs keep virt-install's host-passthrough CPU
and disable that one feature (``--cpu host-passthrough,disable=arch-capabilities``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

from pyvirt.conf.xml_compare import canonical
from pyvirt.daemon.instance import PrivateDaemon

VIRT_INSTALL = shutil.which("virt-install")
pytestmark = pytest.mark.skipif(VIRT_INSTALL is None, reason="virt-install (Debian's virtinst) is not installed")

NAME = "vinstall"
REPO = Path(__file__).resolve().parents[3]
# what a user types for a small existing image, with virt-install's defaults for everything else
OPTIONS = ["--memory", "64", "--vcpus", "1", "--import", "--osinfo", "detect=on,require=off",
           "--network", "none", "--graphics", "none", "--noautoconsole"]  # fmt: skip
KVM_PVM_CPU = ["--cpu", "host-passthrough,disable=arch-capabilities"]


def run(argv: list[str], timeout: float = 180) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


# a modern guest: q35, virtio disk and video, qemu-xhci with a tablet, the agent's channel, an RNG, VNC
DEBIAN = ["--memory", "256", "--vcpus", "2", "--import", "--osinfo", "debian11", "--network", "none",
          "--graphics", "vnc", "--noautoconsole"]  # fmt: skip


def virt_install(uri: str, disk: Path, *extra: str, options: list[str] = OPTIONS) -> str:
    assert VIRT_INSTALL is not None
    return run([VIRT_INSTALL, "--connect", uri, "--name", NAME, "--disk", str(disk), *options, *extra])


def virsh(uri: str, *args: str) -> str:
    return run(["virsh", "-q", "-c", uri, *args]).strip()


def new_image(path: Path) -> Path:
    run(["qemu-img", "create", "-f", "qcow2", str(path), "16M"])
    return path


def without_uuid(xml: str) -> str:
    root = etree.fromstring(xml.encode())
    for uuid in root.findall("uuid"):
        root.remove(uuid)
    return canonical(etree.tostring(root))


def qemu_pids(root: Path) -> list[int]:
    """The QEMU processes whose command line names ``root`` (the guest's files live under it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and b"qemu-system" in cmdline and str(root).encode() in cmdline:
                pids.append(int(entry))
    return pids


def logged_argv(log: Path) -> list[str]:
    """The last command line libvirt (or pyvirt) wrote into a guest's QEMU log, environment dropped."""
    text = log.read_text(errors="replace")
    start = text.rindex("\n/usr/bin/qemu-system-")
    words = shlex.split(text[start:].split(" \\\n-msg timestamp=on", 1)[0].replace("\\\n", " "))
    return [*words, "-msg", "timestamp=on"]


def values_of(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == name]


@pytest.fixture
def daemon(qemu_root: Path) -> Iterator[PrivateDaemon]:
    """A private pyvirtd whose root is the qemu_root fixture's directory: its guests' QEMUs name it."""
    with PrivateDaemon(qemu_root) as d:
        yield d
        for cleanup in (["destroy", NAME], ["undefine", NAME]):
            subprocess.run(
                ["virsh", "-q", "-c", d.uri("qemu:///system"), *cleanup], capture_output=True, timeout=60, check=False
            )


def _private_libvirtd() -> ModuleType:
    harness = REPO / "bench" / "private_libvirtd.py"
    if not harness.exists():  # an unpacked sdist of pyvirt-qemu has no bench/ beside it
        pytest.skip("needs the repository's bench/private_libvirtd.py (a private libvirtd 9.0 to compare with)")
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, ModuleType]]:
    """Debian's libvirtd 9.0 with its QEMU and storage drivers (virt-install looks disks up as volumes)."""
    plv = _private_libvirtd()
    if os.geteuid() != 0:
        pytest.skip("needs root to run a private libvirtd")
    storage = next((Path(d) / "libvirt_driver_storage.so" for d in plv.DRIVER_DIRS
                    if (Path(d) / "libvirt_driver_storage.so").exists()), None)  # fmt: skip
    if not os.path.exists(plv.LIBVIRTD) or storage is None:
        pytest.skip("needs Debian's libvirt-daemon-driver-qemu and libvirt-daemon-driver-storage-* as the oracle")
    work = tmp_path_factory.mktemp("libvirtd")
    (work / "drivers").mkdir()
    (work / "drivers" / storage.name).symlink_to(storage)
    proc, uri = plv.start_libvirtd(work, "qemu")
    uri = uri.replace("qemu://", "qemu+unix://", 1)
    try:
        yield uri, work, plv
    finally:
        for cleanup in (["destroy", NAME], ["undefine", NAME]):
            subprocess.run(["virsh", "-q", "-c", uri, *cleanup], capture_output=True, timeout=60, check=False)
        plv.stop_libvirtd(proc)


def test_print_xml_takes_libvirts_defaults_from_pyvirtd(daemon: PrivateDaemon, tmp_path: Path, virt_type: str) -> None:
    """Before: machine='isapc' (the first machine listed), no <features>, a host-model CPU; QEMU then
    refused the ICH9 controllers with "No 'PCI' bus found for device 'ich9-usb-ehci1'"."""
    uri = daemon.uri("qemu:///system")
    xml = etree.fromstring(virt_install(uri, new_image(tmp_path / "disk.qcow2"), "--print-xml").encode())
    caps = etree.fromstring(virsh(uri, "capabilities").encode())
    guest = next(g for g in caps.findall("guest") if g.findtext("arch/emulator") == "/usr/bin/qemu-system-x86_64")
    machine = xml.find("os/type")
    assert machine is not None and machine.get("machine") == guest.findtext("arch/machine")
    assert machine.get("machine", "").startswith("pc-i440fx-")  # QEMU's default machine, listed first
    assert [f.tag for f in xml.findall("features/*")] == ["acpi", "apic"]
    cpu = xml.find("cpu")
    if virt_type == "kvm":  # migratable host-passthrough is virt-install's first choice, as against libvirt
        assert cpu is not None and cpu.get("mode") == "host-passthrough"
    assert [(c.get("model"), c.get("index")) for c in xml.findall("devices/controller[@type='usb']")] == [
        ("ich9-ehci1", None), ("ich9-uhci1", None), ("ich9-uhci2", None), ("ich9-uhci3", None)]  # fmt: skip
    # nothing was defined
    assert virsh(uri, "list", "--all", "--name") == ""


@pytest.mark.parametrize("options", [OPTIONS, DEBIAN], ids=["i440fx-generic", "q35-debian11"])
def test_print_xml_is_what_libvirtd_prints(
    daemon: PrivateDaemon, libvirtd: tuple[str, Path, ModuleType], tmp_path: Path, options: list[str]
) -> None:
    disk = new_image(tmp_path / "disk.qcow2")
    ours = virt_install(daemon.uri("qemu:///system"), disk, "--print-xml", options=options)
    theirs = virt_install(libvirtd[0], disk, "--print-xml", options=options)
    assert without_uuid(ours) == without_uuid(theirs)


def test_import_creates_and_starts_the_guest(
    daemon: PrivateDaemon, qemu_root: Path, tmp_path: Path, virt_type: str
) -> None:
    uri = daemon.uri("qemu:///system")
    out = virt_install(uri, new_image(tmp_path / "disk.qcow2"), *(KVM_PVM_CPU if virt_type == "kvm" else []))
    assert "Domain creation completed." in out
    assert virsh(uri, "domstate", NAME) == "running"
    (pid,) = qemu_pids(qemu_root)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    # the EHCI and its companions on one multifunction slot, each UHCI on the EHCI's bus
    devices = [json.loads(d) for d in values_of(argv, "-device") if d.startswith("{")]
    usb = [d for d in devices if d["driver"].startswith("ich9-usb-")]
    assert usb == [
        {"driver": "ich9-usb-ehci1", "id": "usb", "bus": "pci.0", "addr": "0x2.0x7"},
        {"driver": "ich9-usb-uhci1", "masterbus": "usb.0", "firstport": 0, "bus": "pci.0", "multifunction": True,
         "addr": "0x2"},
        {"driver": "ich9-usb-uhci2", "masterbus": "usb.0", "firstport": 2, "bus": "pci.0", "addr": "0x2.0x1"},
        {"driver": "ich9-usb-uhci3", "masterbus": "usb.0", "firstport": 4, "bus": "pci.0", "addr": "0x2.0x2"},
    ]  # fmt: skip
    if virt_type == "kvm":
        assert values_of(argv, "-cpu") == ["host,migratable=on,arch-capabilities=off"]
    live = etree.fromstring(virsh(uri, "dumpxml", NAME).encode())
    cpu = live.find("cpu")
    if virt_type == "kvm":
        assert cpu is not None and (cpu.get("check"), cpu.get("migratable")) == ("none", "on")
    assert [(c.get("model"), c.get("index"), c.find("alias").get("name"), c.find("address").get("function"))  # type: ignore[union-attr]
            for c in live.findall("devices/controller[@type='usb']")] == [
        ("ich9-ehci1", "0", "usb", "0x7"), ("ich9-uhci1", "0", "usb", "0x0"),
        ("ich9-uhci2", "0", "usb", "0x1"), ("ich9-uhci3", "0", "usb", "0x2")]  # fmt: skip
    virsh(uri, "destroy", NAME)
    virsh(uri, "undefine", NAME)
    deadline = time.monotonic() + 10
    while qemu_pids(qemu_root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert qemu_pids(qemu_root) == []
    assert virsh(uri, "list", "--all", "--name") == ""


@pytest.mark.parametrize("options", [OPTIONS, DEBIAN], ids=["i440fx-generic", "q35-debian11"])
def test_import_gives_qemu_the_devices_libvirt_gives_it(
    daemon: PrivateDaemon,
    libvirtd: tuple[str, Path, ModuleType],
    qemu_root: Path,
    tmp_path: Path,
    virt_type: str,
    options: list[str],
) -> None:
    """The same virt-install call through both daemons: QEMU gets the same devices, CPU, clock and PM switches.

    (Not compared: paths and fds, which differ by construction; libvirt 9.0 writes ``-no-hpet`` for QEMU 7.2
    where pyvirt writes libvirt's newer ``-machine ...,hpet=off``, which QEMU 7.2 takes too.)
    """
    lv_uri, work, plv = libvirtd
    cpu = KVM_PVM_CPU if virt_type == "kvm" else []
    virt_install(daemon.uri("qemu:///system"), new_image(tmp_path / "ours.qcow2"), *cpu, options=options)
    virt_install(lv_uri, new_image(tmp_path / "theirs.qcow2"), *cpu, options=options)
    try:
        ours = logged_argv(qemu_root / "log" / "qemu" / f"{NAME}.log")
        theirs = logged_argv(plv.libvirt_state(work, f"/var/log/libvirt/qemu/{NAME}.log"))
    finally:
        virsh(lv_uri, "destroy", NAME)
        virsh(lv_uri, "undefine", NAME)
    for option in ("-device", "-cpu", "-smp", "-m", "-rtc", "-global", "-accel", "-boot", "-audiodev", "-sandbox"):
        assert values_of(ours, option) == values_of(theirs, option), option
    # the canonical machine type (virt-install asks for 'q35' on the second)
    assert values_of(ours, "-machine")[0].split(",")[0] == values_of(theirs, "-machine")[0].split(",")[0]
