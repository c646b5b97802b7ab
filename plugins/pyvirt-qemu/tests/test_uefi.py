"""UEFI guests: firmware='efi' resolved from QEMU's firmware descriptors, per-domain NVRAM on pflash.

OVMF stops with a KVM internal error on this host's kvm-pvm (no VMX), so
the UEFI guest runs under TCG (type='qemu'); the driver and command line are
the same for KVM.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from lxml import etree
from pyvirt_qemu.firmware import firmware_builds

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.conf.schema import validate

EFI = """<domain type='qemu'><name>efi</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os firmware='efi'><type>hvm</type></os><features><acpi/></features><devices><serial type='pty'/></devices></domain>"""


@pytest.fixture
def ovmf() -> str:
    builds = [b for b in firmware_builds() if b.serves("x86_64", "pc-i440fx-7.2") and "secure-boot" not in b.features]
    if not builds:
        pytest.skip("no UEFI firmware descriptor for x86_64 (Debian's ovmf package) is installed")
    return builds[0].executable


def test_efi_guest_boots_on_pflash_with_its_own_varstore(conn: pyvirt.Connection, qemu_root: Path, ovmf: str) -> None:
    dom = conn.define_domain(EFI)
    dom.create()
    live_xml = dom.xml_desc()
    validate(live_xml, "domain")
    live = etree.fromstring(live_xml.encode())
    assert live.findtext("os/loader") == ovmf and live.xpath("string(os/loader/@type)") == "pflash"
    nvram = Path(str(live.findtext("os/nvram")))
    template = Path(str(live.xpath("string(os/nvram/@template)")))
    assert nvram.parent == qemu_root / "lib" / "qemu" / "nvram" and nvram.stat().st_size == template.stat().st_size
    assert (nvram.stat().st_mode & 0o777) == 0o600
    pid = int((qemu_root / "run" / "qemu" / "efi.pid").read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    machine = argv[argv.index(b"-machine") + 1]
    assert b"pflash0=libvirt-pflash0-format" in machine and b"pflash1=libvirt-pflash1-format" in machine
    blockdevs = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == b"-blockdev"]
    assert {"node-name": "libvirt-pflash0-format", "read-only": True, "driver": "raw",
            "file": "libvirt-pflash0-storage"} in blockdevs  # fmt: skip
    time.sleep(1)
    assert dom.state()[0] == DomainState.RUNNING  # OVMF is executing (a firmware fault would pause it)
    dom.destroy()
    # the varstore belongs to the domain: undefine refuses to drop it silently
    with pytest.raises(pyvirt.Error) as err:
        dom.undefine()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "nvram" in err.value.message
    dom.undefine(4)  # VIR_DOMAIN_UNDEFINE_NVRAM
    assert not nvram.exists()


def test_failed_first_start_leaves_no_varstore(conn: pyvirt.Connection, qemu_root: Path, ovmf: str) -> None:
    bad = EFI.replace(
        "<serial type='pty'/>",
        "<serial type='pty'/><smartcard mode='host'/>",
    )
    dom = conn.define_domain(bad)
    with pytest.raises(pyvirt.Error):
        dom.create()
    assert not os.path.exists(qemu_root / "lib" / "qemu" / "nvram" / "efi_VARS.fd")
    dom.undefine()


def test_domcapabilities_offer_the_firmware(conn: pyvirt.Connection, ovmf: str) -> None:
    doc = etree.fromstring(conn.get_domain_capabilities(virttype="qemu").encode())
    assert doc.xpath("os/enum[@name='firmware']/value/text()") == ["efi"]
    assert ovmf in list(doc.xpath("os/loader/value/text()"))  # type: ignore[arg-type]
    assert doc.xpath("os/loader/enum[@name='type']/value/text()") == ["rom", "pflash"]


def test_a_pause_nobody_asked_for_is_reported_unknown(
    conn: pyvirt.Connection, qemu_root: Path, ovmf: str, virt_type: str
) -> None:
    """On this kvm-pvm host OVMF stops with a KVM internal error: QEMU pauses the guest on its own.

    libvirt reports such a pause as "paused (unknown)" with a SUSPENDED/PAUSED event; hosts where
    OVMF runs fine under KVM never reach that state, and the test says so.
    """
    if virt_type != "kvm":
        pytest.skip("needs /dev/kvm: the internal error only happens under KVM")
    events: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.event, ev.detail)))
    dom = conn.define_domain(EFI.replace("type='qemu'", "type='kvm'"))
    dom.create()
    deadline = time.monotonic() + 10
    while dom.state()[0] == DomainState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    state = dom.state()
    dom.destroy()
    dom.undefine(4)
    if state[0] == DomainState.RUNNING:
        pytest.skip("OVMF runs under this host's KVM, so no unrequested pause happens here")
    assert state == (DomainState.PAUSED, 0)  # paused (unknown)
    assert (pyvirt.DomainEvent.SUSPENDED, 0) in events


def test_secure_boot_picks_the_enrolled_build_and_turns_on_smm(conn: pyvirt.Connection, qemu_root: Path) -> None:
    builds = [b for b in firmware_builds() if {"secure-boot", "enrolled-keys"} <= b.features and b.nvram_template]
    if not builds:
        pytest.skip("no Secure Boot UEFI descriptor with enrolled keys (Debian's ovmf) is installed")
    features = ("<firmware><feature enabled='yes' name='secure-boot'/><feature enabled='yes' name='enrolled-keys'/>"
                "</firmware>")  # fmt: skip
    dom = conn.define_domain(EFI.replace("<name>efi</name>", "<name>sb</name>")
                             .replace("<type>hvm</type>", f"<type machine='q35'>hvm</type>{features}"))  # fmt: skip
    dom.create()
    live = etree.fromstring(dom.xml_desc().encode())
    assert live.xpath("string(os/loader/@secure)") == "yes"
    assert live.xpath("string(os/loader)") == next(b.executable for b in builds if b.serves("x86_64", "pc-q35-7.2"))
    assert live.xpath("string(features/smm/@state)") == "on"
    nvram = Path(str(live.xpath("string(os/nvram)")))
    template = Path(str(live.xpath("string(os/nvram/@template)")))
    assert nvram.read_bytes() == template.read_bytes()  # the enrolled Microsoft keys, copied for this guest
    pid = int((qemu_root / "run" / "qemu" / "sb.pid").read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"driver=cfi.pflash01,property=secure,value=on" in argv
    # the machine alias is stored as the emulator's canonical type, as libvirt stores it (pc-q35-7.2 here)
    assert any(arg.startswith(b"pc-q35-") and b",usb=off,smm=on," in arg for arg in argv)
    dom.destroy()
    dom.undefine(4)
    # Secure Boot builds serve q35 only
    dom = conn.define_domain(EFI.replace("<name>efi</name>", "<name>sbpc</name>")
                             .replace("<type>hvm</type>", f"<type machine='pc'>hvm</type>{features}"))  # fmt: skip
    with pytest.raises(pyvirt.Error) as exc:
        dom.create()
    assert "Unable to find any firmware to satisfy 'efi'" in str(exc.value)
    dom.undefine()


def test_a_variable_store_on_an_nbd_server(conn: pyvirt.Connection, qemu_root: Path, ovmf: str, tmp_path: Path) -> None:
    """<nvram type='network'>: QEMU opens the variable store on the server itself; nothing is created locally."""
    import subprocess

    template = next(b.nvram_template for b in firmware_builds() if b.executable == ovmf)
    assert template is not None
    store, sock = tmp_path / "vars.fd", tmp_path / "nbd.sock"
    store.write_bytes(Path(template).read_bytes())
    server = subprocess.Popen(["qemu-nbd", "-k", str(sock), "-x", "vars", "-f", "raw", "-t", str(store)])
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
        assert sock.exists(), "qemu-nbd did not listen"
        nvram = (f"<loader readonly='yes' type='pflash'>{ovmf}</loader><nvram type='network'><source protocol='nbd' "
                 f"name='vars'><host transport='unix' socket='{sock}'/></source></nvram>")  # fmt: skip
        xml = EFI.replace("<name>efi</name>", "<name>netvars</name>").replace(" firmware='efi'", "")
        dom = conn.define_domain(xml.replace("<type>hvm</type>", f"<type>hvm</type>{nvram}"))
        dom.create()
        try:
            pid = int((qemu_root / "run" / "qemu" / "netvars.pid").read_text())
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            blockdevs = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == b"-blockdev"]
            assert {"driver": "nbd", "server": {"type": "unix", "path": str(sock)}, "export": "vars",
                    "node-name": "libvirt-pflash1-storage", "auto-read-only": True, "discard": "unmap"} in blockdevs  # fmt: skip
            time.sleep(1)
            assert dom.state()[0] == DomainState.RUNNING  # OVMF runs on the served variables
        finally:
            dom.destroy()
        assert not (qemu_root / "lib" / "qemu" / "nvram" / "netvars_VARS.fd").exists()
        dom.undefine()
    finally:
        server.terminate()
        server.wait(10)
