"""start/create/restore --reset-nvram and destroy --remove-logs on real QEMU guests, as libvirt 9.0's QEMU driver.

VIR_DOMAIN_START_RESET_NVRAM (VIR_DOMAIN_SAVE_RESET_NVRAM for a restore)
writes the UEFI variable store again from its template before QEMU starts
(qemuPrepareNVRAM with reset_nvram), so a guest whose variables went bad
boots as on its first day. VIR_DOMAIN_DESTROY_REMOVE_LOGS removes the
guest's log and its rotated copies once it is stopped (qemuDomainRemoveLogs).
OVMF runs under TCG here (kvm-pvm has no VMX), as in test_uefi.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from pyvirt_qemu.firmware import firmware_builds, resolve_firmware

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode

EFI = """<domain type='qemu'><name>efi</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os firmware='efi'><type>hvm</type></os><features><acpi/></features><devices><serial type='pty'/></devices></domain>"""
RESET_NVRAM = 32  # VIR_DOMAIN_START_RESET_NVRAM
REMOVE_LOGS = 2  # VIR_DOMAIN_DESTROY_REMOVE_LOGS
MARK = b"\xaa" * 64


@pytest.fixture
def ovmf() -> str:
    builds = [b for b in firmware_builds() if b.serves("x86_64", "pc-i440fx-7.2") and "secure-boot" not in b.features]
    if not builds:
        pytest.skip("no UEFI firmware descriptor for x86_64 (Debian's ovmf package) is installed")
    return builds[0].executable


def _store(dom: pyvirt.Domain) -> tuple[Path, Path]:
    live = etree.fromstring(dom.xml_desc().encode())
    return Path(str(live.findtext("os/nvram"))), Path(str(live.xpath("string(os/nvram/@template)")))


def _spoil(nvram: Path) -> int:
    """What a guest that broke its variables leaves: the store's first bytes overwritten; returns its inode."""
    with nvram.open("r+b") as f:
        f.write(MARK)
    return nvram.stat().st_ino


def test_start_reset_nvram_writes_the_store_again_from_its_template(conn: pyvirt.Connection, ovmf: str) -> None:
    dom = conn.define_domain(EFI)
    dom.create()
    nvram, template = _store(dom)
    dom.destroy()
    inode = _spoil(nvram)
    dom.create()  # without the flag the store is the guest's own: left as it is
    assert nvram.read_bytes()[: len(MARK)] == MARK and nvram.stat().st_ino == inode
    dom.destroy()
    dom.create(RESET_NVRAM)
    assert nvram.read_bytes()[: len(MARK)] == template.read_bytes()[: len(MARK)]
    assert nvram.stat().st_ino != inode and (nvram.stat().st_mode & 0o777) == 0o600
    dom.destroy()
    dom.undefine(4)  # VIR_DOMAIN_UNDEFINE_NVRAM


def test_create_and_restore_reset_nvram(conn: pyvirt.Connection, ovmf: str, tmp_path: Path) -> None:
    """A transient guest finds the store a defined one of its name spoiled and kept; a restore takes the flag
    (VIR_DOMAIN_SAVE_RESET_NVRAM) and resets the store before QEMU loads the saved state."""
    dom = conn.define_domain(EFI)
    dom.create()
    nvram, template = _store(dom)
    dom.destroy()
    _spoil(nvram)
    dom.undefine(8)  # VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
    dom = conn.create_domain(EFI, RESET_NVRAM)
    assert nvram.read_bytes()[: len(MARK)] == template.read_bytes()[: len(MARK)]
    image = tmp_path / "efi.save"
    dom.save(str(image))
    _spoil(nvram)
    dom = conn.restore_domain(str(image), flags=8)  # VIR_DOMAIN_SAVE_RESET_NVRAM
    assert dom.is_active() and nvram.read_bytes()[: len(MARK)] == template.read_bytes()[: len(MARK)]
    dom.destroy()


@pytest.mark.parametrize("flags", [0, REMOVE_LOGS])
def test_destroy_remove_logs(conn: pyvirt.Connection, qemu_root: Path, virt_type: str, flags: int) -> None:
    xml = f"""<domain type='{virt_type}'><name>logs</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>"""
    dom = conn.create_domain(xml)
    logs = qemu_root / "log" / "qemu"
    log = logs / "logs.log"
    assert log.is_file() and b"starting up" in log.read_bytes()
    for other in ("logs.log.1", "logs.log.12", "logs-swtpm.log", "logsx.log", "logs.log.old"):
        (logs / other).write_text("kept?\n")
    dom.destroy(flags)
    left = sorted(p.name for p in logs.iterdir())
    if flags:
        assert left == ["logs-swtpm.log", "logs.log.old", "logsx.log"]
    else:
        assert left == ["logs-swtpm.log", "logs.log", "logs.log.1", "logs.log.12", "logs.log.old", "logsx.log"]


def test_destroy_remove_logs_of_a_guest_that_does_not_run(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>off</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os></domain>""")
    with pytest.raises(Error) as info:
        dom.destroy(REMOVE_LOGS)
    assert info.value.code == ErrorCode.OPERATION_INVALID


def test_network_store_cannot_be_reset() -> None:
    dom = parse_domain("""<domain type='qemu'><name>n</name><memory>65536</memory><os><type arch='x86_64'>hvm</type>
<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
<nvram type='network'><source protocol='iscsi' name='iqn.2013-07.com.example:iscsi-nopool/0'>
<host name='example.com' port='6000'/></source></nvram></os></domain>""")
    resolve_firmware(dom, "pc-i440fx-7.2", "/nonexistent")  # without the flag: nothing to find, nothing to do
    with pytest.raises(Error) as info:
        resolve_firmware(dom, "pc-i440fx-7.2", "/nonexistent", reset_nvram=True)
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED
    assert info.value.message.endswith("resetting of nvram is not supported with network backed nvram")
