"""What a start refuses before anything runs, and the sizes QEMU is told, as libvirt's QEMU driver has them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import pyvirt_qemu.domain_validation
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode


def _processes_named(word: bytes) -> set[int]:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if word in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(int(pid))
        except OSError:
            continue
    return found


def test_a_tpm_version_swtpm_cannot_emulate_is_refused_before_the_start(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An swtpm build without TPM 1.2 (as some distributions ship it): libvirt's refusal, no swtpm, no QEMU."""
    if not shutil.which("swtpm"):
        pytest.skip("swtpm (Debian's swtpm) is not installed")
    real = pyvirt_qemu.domain_validation.swtpm_versions()
    assert "2.0" in real  # what Debian's swtpm emulates, asked from the binary itself
    monkeypatch.setattr(pyvirt_qemu.domain_validation, "swtpm_versions", lambda: [v for v in real if v != "1.2"])
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>tpm12</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<tpm model='tpm-tis'><backend type='emulator' version='1.2'/></tpm></devices></domain>""")
    before = _processes_named(str(qemu_root).encode())
    with pytest.raises(pyvirt.Error) as info:
        dom.create()
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert str(info.value) == "unsupported configuration: TPM version '1.2' is not supported"
    assert not dom.is_active()
    assert _processes_named(str(qemu_root).encode()) <= before, "nothing was spawned for the guest"
    assert not (qemu_root / "lib" / "qemu" / "swtpm").exists()


def _ppc64_caps() -> EmulatorCaps:
    """A pSeries emulator as libvirt's fake test capabilities describe one (no RAM backend id)."""
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="ppc64",
                        machines=[Machine("pseries", None, 255, True)], flags=["spapr-pci-host-bridge"],
                        probed=False)  # fmt: skip


PPC64 = """<domain type='qemu'><name>p</name><memory unit='KiB'>219136</memory><vcpu>1</vcpu>
<os><type arch='ppc64' machine='pseries'>hvm</type></os>
<devices><emulator>/usr/bin/qemu-system-ppc64</emulator><memballoon model='none'/></devices></domain>"""


def test_pseries_ram_is_given_in_256_mib_steps() -> None:
    """qemuDomainGetMemorySizeAlignment: 214 MiB of RAM is 256 MiB for a pSeries guest."""
    caps = _ppc64_caps()
    dom = apply_defaults(parse_domain(PPC64), caps=caps)
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    assert argv[argv.index("-m") + 1] == "256"


X86 = """<domain type='qemu'><name>n</name><memory unit='KiB'>{mem}</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><cpu><numa>{cells}</numa></cpu>
<devices><memballoon model='none'/></devices></domain>"""


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ("<cell id='0' cpus='0-1' memory='9007199254740991' unit='KiB'/>",
         "memory size of NUMA node '0' overflowed after alignment"),
        ("<cell id='0' cpus='0' memory='9007199254739968' unit='KiB'/>"
         "<cell id='1' cpus='1' memory='1024' unit='KiB'/>",
         "initial memory size overflowed after alignment"),
    ],
)  # fmt: skip
def test_memory_that_overflows_once_aligned_is_refused(cells: str, message: str) -> None:
    """qemuDomainAlignMemorySizes: QEMU is never handed a size past 2^63 bytes."""
    dom = apply_defaults(parse_domain(X86.format(mem=9007199254740991, cells=cells)))
    with pytest.raises(Error) as info:
        build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", hugepage_mounts=[], host_nodes={0})
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(info.value).endswith(message)


LOADER = """<domain type='qemu'><name>fw</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os{firmware}><type arch='x86_64' machine='pc'>hvm</type>{loader}</os><features><acpi/></features>
<devices><memballoon model='none'/></devices></domain>"""


@pytest.mark.parametrize(
    ("firmware", "loader", "message"),
    [
        ("", "<loader readonly='yes' type='pflash' stateless='yes'>/c.fd</loader><nvram>/v.fd</nvram>",
         "NVRAM is not permitted when loader is stateless"),
        ("", "<loader readonly='yes' type='pflash' stateless='yes'>/c.fd</loader><nvram template='/t.fd'/>",
         "NVRAM template is not permitted when loader is stateless"),
        ("", "<loader type='rom' stateless='no'>/c.fd</loader>", "Only pflash loader type permits NVRAM"),
        (" firmware='bios'", "<loader stateless='no'/>", "Only EFI firmware permits NVRAM"),
        (" firmware='efi'", "<loader secure='no'/>",
         "loader attribute 'secure' cannot be specified when firmware autoselection is enabled"),
    ],
)  # fmt: skip
def test_loader_and_variable_store_rules(firmware: str, loader: str, message: str) -> None:
    """virDomainDefOSValidate's rules for stateless firmware and its variable store, in libvirt's words."""
    with pytest.raises(Error) as info:
        apply_defaults(parse_domain(LOADER.format(firmware=firmware, loader=loader)))
    assert info.value.code == ErrorCode.XML_DETAIL and str(info.value) == message


def test_stateless_firmware_runs_without_a_variable_store(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path
) -> None:
    """A stateless UEFI build boots from its read-only flash alone: no pflash1, no varstore file."""
    code = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
    if not code.exists():
        pytest.skip("Debian's ovmf is not installed")
    xml = LOADER.format(firmware="", loader=f"<loader readonly='yes' type='pflash' stateless='yes'>{code}</loader>")
    dom = conn.create_domain(xml.replace("type='qemu'", f"type='{virt_type}'"))
    try:
        pid = next(p for p in _processes_named(str(qemu_root).encode()) if b"qemu-system" in _cmdline(p))
        argv = _cmdline(pid).split(b"\0")
        machine = argv[argv.index(b"-machine") + 1]
        assert b"pflash0=libvirt-pflash0-format" in machine and b"pflash1" not in machine
        assert "<nvram" not in dom.xml_desc()
    finally:
        dom.destroy()
    assert not list(qemu_root.rglob("*_VARS.fd"))


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _x86_caps(*flags: str) -> EmulatorCaps:
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="x86_64",
                        machines=[Machine("pc", None, 255, True), Machine("q35", None, 288, False)],
                        flags=list(flags), probed=False)  # fmt: skip


def test_reboot_and_suspend_switches_of_an_older_qemu() -> None:
    """Before QMP's set-action a guest that may not reboot gets -no-reboot; before ICH9's S3/S4 switches a q35
    guest's go to PIIX4_PM (libvirt's fallback, which QEMU accepts with a warning)."""
    xml = ("<domain type='qemu'><name>pm</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='q35'>hvm</type></os><on_poweroff>destroy</on_poweroff>"
           "<on_reboot>destroy</on_reboot><on_crash>destroy</on_crash><pm><suspend-to-mem enabled='no'/></pm>"
           "<devices><memballoon model='none'/></devices></domain>")  # fmt: skip

    def argv(caps: EmulatorCaps) -> list[str]:
        dom = apply_defaults(parse_domain(xml), caps=caps)
        return build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, hugepage_mounts=[],
                                  host_nodes={0}).argv  # fmt: skip

    old = argv(_x86_caps("disable-s3"))
    assert "-no-reboot" in old and "-no-shutdown" not in old and "PIIX4_PM.disable_s3=1" in old
    new = argv(_x86_caps("disable-s3", "set-action", "ich9-disable-s3"))
    assert "-no-shutdown" in new and "-no-reboot" not in new and "ICH9-LPC.disable_s3=1" in new


@pytest.mark.parametrize(
    ("shmem", "flags", "message"),
    [
        ("<shmem name='s'><msi/></shmem>", ("ivshmem",), "XML error: msi option is only supported with a server"),
        ("<shmem name='s'/>", (), "unsupported configuration: ivshmem device is not supported with this QEMU binary"),
        ("<shmem name='s'><model type='ivshmem-plain'/></shmem>", ("ivshmem",),
         "unsupported configuration: shmem model 'ivshmem-plain' is not supported by this QEMU binary"),
        ("<shmem name='s'><size unit='K'>12345</size></shmem>", ("ivshmem",),
         "XML error: shmem size must be a power of two"),
        ("<shmem name='s'><size unit='K'>16</size></shmem>", ("ivshmem",),
         "XML error: shmem size must be at least 1 MiB (1024 KiB)"),
        ("<shmem name='s'><address type='isa'/></shmem>", ("ivshmem",),
         "unsupported configuration: only 'pci' addresses are supported for the shared memory device"),
    ],
)  # fmt: skip
def test_shared_memory_definitions_libvirt_refuses(shmem: str, flags: tuple[str, ...], message: str) -> None:
    xml = X86.format(mem=65536, cells="<cell id='0' cpus='0-1' memory='65536' unit='KiB'/>").replace(
        "<memballoon", shmem + "<memballoon"
    )
    caps = _x86_caps(*flags)
    dom = apply_defaults(parse_domain(xml), caps=caps)
    with pytest.raises(Error) as info:
        build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, hugepage_mounts=[], host_nodes={0})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("features", "flags", "message"),
    [
        ("<features><acpi/></features>", ("virtio-iommu-pci",),
         "IOMMU device: 'virtio' is not supported with this QEMU binary"),
        ("", ("virtio-iommu-pci", "virtio-iommu.boot-bypass"), "IOMMU device: 'virtio' requires ACPI"),
    ],
)  # fmt: skip
def test_virtio_iommu_needs_its_device_and_acpi(features: str, flags: tuple[str, ...], message: str) -> None:
    xml = ("<domain type='qemu'><name>i</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           f"<os><type arch='x86_64' machine='q35'>hvm</type></os>{features}"
           "<devices><iommu model='virtio'/><memballoon model='none'/></devices></domain>")  # fmt: skip
    with pytest.raises(Error) as info:
        apply_defaults(parse_domain(xml), caps=_x86_caps(*flags))
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(info.value).endswith(message)


NET_DISK = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
            "<source protocol='{protocol}' name='{name}'{tls}><host name='example.org'/>{inner}</source>"
            "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip


@pytest.mark.parametrize(
    ("disk", "flags", "message"),
    [
        (NET_DISK.format(protocol="iscsi", name="iqn.1992-01.com.example/1", tls="",
                         inner="<auth username='u'><secret type='ceph' usage='x'/></auth>"), (),
         "invalid secret type 'ceph'"),
        (NET_DISK.format(protocol="rbd", name="pool/image", tls="",
                         inner="<auth username='u'><secret usage='x'/></auth>"), (), "unknown secret type '<null>'"),
        ("<disk type='file' device='disk'><driver name='qemu' type='vmdk'/><source file='/d.vmdk'>"
         "<encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"
         "</encryption></source><target dev='vda' bus='virtio'/></disk>", (),
         "encryption is supported only with 'raw' and 'qcow2' image format"),
        (NET_DISK.format(protocol="nbd", name="e", tls=" tls='yes' tlsHostname='h.example.org'", inner=""), (),
         "'tlsHostname' field is not supported by this QEMU"),
        ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/d.qcow2'/>"
         "<encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"
         "<cipher name='aes' size='256' mode='xts' hash='sha256'/></encryption>"
         "<target dev='vda' bus='virtio'/></disk>", (),
         "supplying <cipher> for domain disk definition is unnecessary"),
    ],
)  # fmt: skip
def test_disk_sources_libvirt_refuses(disk: str, flags: tuple[str, ...], message: str) -> None:
    xml = X86.format(mem=65536, cells="<cell id='0' cpus='0-1' memory='65536' unit='KiB'/>").replace(
        "<memballoon", disk + "<memballoon"
    )
    caps = _x86_caps(*flags)
    dom = apply_defaults(parse_domain(xml), caps=caps)
    with pytest.raises(Error) as info:
        build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, hugepage_mounts=[], host_nodes={0})
    assert (
        info.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(info.value) == f"unsupported configuration: {message}"
    )


def test_pit_lost_tick_policy_needs_the_kvm_pit_property() -> None:
    """qemuBuildClockCommandLine: the in-kernel PIT's policy is set only where QEMU has the property."""
    xml = ("<domain type='qemu'><name>c</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><clock offset='utc'>"
           "<timer name='pit' tickpolicy='discard'/></clock><devices><memballoon model='none'/></devices></domain>")  # fmt: skip

    def argv(caps: EmulatorCaps) -> list[str]:
        dom = apply_defaults(parse_domain(xml), caps=caps)
        return build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, hugepage_mounts=[],
                                  host_nodes={0}).argv  # fmt: skip

    assert "kvm-pit.lost_tick_policy=discard" in argv(_x86_caps("kvm-pit-lost-tick-policy"))
    assert not any("kvm-pit" in a for a in argv(_x86_caps()))


def test_egl_headless_render_node_only_where_qemu_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyvirt_qemu.graphics
    from pyvirt_qemu.graphics import GraphicsConfig, prepare_graphics

    monkeypatch.setattr(pyvirt_qemu.graphics, "drm_render_node", lambda: "/dev/dri/renderD128")
    xml = ("<domain type='qemu'><name>g</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><graphics type='egl-headless'/>"
           "<graphics type='vnc' port='5900'/><video><model type='vga'/></video><memballoon model='none'/></devices></domain>")  # fmt: skip

    def argv(caps: EmulatorCaps) -> list[str]:
        dom = apply_defaults(parse_domain(xml), caps=caps)
        prepare_graphics(dom, GraphicsConfig(), "/tmp/l", allocate=False)
        return build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, vnc_port=5900,
                                  hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip

    assert "egl-headless,rendernode=/dev/dri/renderD128" in argv(
        _x86_caps("egl-headless", "egl-headless.rendernode", "VGA")
    )
    assert "egl-headless" in argv(_x86_caps("egl-headless", "VGA"))


def test_the_uuid_comes_before_the_smbios_tables() -> None:
    xml = ("<domain type='qemu'><name>s</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"
           "<memory unit='MiB'>64</memory><vcpu>1</vcpu><sysinfo type='smbios'><bios><entry name='vendor'>V</entry>"
           "</bios></sysinfo><os><type arch='x86_64' machine='pc'>hvm</type><smbios mode='sysinfo'/></os>"
           "<devices><memballoon model='none'/></devices></domain>")  # fmt: skip
    argv = build_command_line(apply_defaults(parse_domain(xml)), "/tmp/m.sock", lib_dir="/tmp/l", hugepage_mounts=[],
                              host_nodes={0}).argv  # fmt: skip
    assert argv.index("-uuid") < argv.index("-smbios") and argv[argv.index("-smbios") + 1] == "type=0,vendor=V"
