"""A virtio device on the bus its address names: PCI, the s390 channel subsystem (ccw) or virtio-mmio.

No s390 or ARM emulator runs on this x86 host, so these build the command line from capability sets shaped as
libvirt's test suite shapes them; ``conformance_argv.py`` holds them against libvirt's own expected argv.
"""

from __future__ import annotations

import json

import pytest
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode


def _caps(arch: str, machine: str, *flags: str) -> EmulatorCaps:
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine(machine, None, 255, True)], flags=list(flags), probed=False)  # fmt: skip


def _devices(argv: list[str]) -> dict[str, dict[str, object]]:
    return {p["id"]: p for p in (json.loads(a) for a in argv if a.startswith('{"driver"')) if "id" in p}


def _build(xml: str, caps: EmulatorCaps) -> tuple[str, list[str]]:
    dom = apply_defaults(parse_domain(xml), caps=caps)
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    return format_domain(dom), argv


S390 = """<domain type='qemu'><name>z</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
<os><type arch='s390x' machine='s390-ccw-virtio'>hvm</type></os><devices>
<emulator>/usr/bin/qemu-system-s390x</emulator>
<disk type='file' device='disk'><source file='/z.img'/><target dev='vda' bus='virtio'/>{address}</disk>
<memballoon model='virtio'/></devices></domain>"""


def test_s390_devices_are_ccw_devices_with_their_device_number() -> None:
    caps = _caps("s390x", "s390-ccw-virtio", "device.json+hotplug", "virtio-ccw", "virtio-blk-ccw")
    _, argv = _build(S390.format(address="<address type='ccw' cssid='0xfe' ssid='0' devno='0x0007'/>"), caps)
    devices = _devices(argv)
    assert devices["virtio-disk0"]["driver"] == "virtio-blk-ccw"
    assert devices["virtio-disk0"]["devno"] == "fe.0.0007"
    assert devices["balloon0"]["driver"] == "virtio-balloon-ccw"  # and the balloon got the next free number
    assert devices["balloon0"]["devno"] == "fe.0.0000"
    assert not any("-pci" in str(d["driver"]) for d in devices.values())


def test_transitional_models_exist_on_pci_only() -> None:
    caps = _caps("s390x", "s390-ccw-virtio", "device.json+hotplug", "virtio-ccw")
    xml = S390.format(address="")
    xml = xml.replace(
        "<disk type='file' device='disk'>", "<disk type='file' device='disk' model='virtio-transitional'>"
    )
    with pytest.raises(Error) as info:
        _build(xml, caps)
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert str(info.value).endswith("virtio transitional models are not supported for address type=ccw")


ARM = """<domain type='qemu'><name>a</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
<os><type arch='aarch64' machine='virt'>hvm</type><kernel>/vmlinuz</kernel></os><devices>
<emulator>/usr/bin/qemu-system-aarch64</emulator>
<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
<interface type='user'><mac address='52:54:00:09:a4:37'/><model type='virtio'/></interface>
</devices></domain>"""


def test_an_arm_board_without_pcie_puts_virtio_on_mmio() -> None:
    caps = _caps("aarch64", "virt", "virtio-mmio", "device.json+hotplug")
    xml, argv = _build(ARM, caps)
    devices = _devices(argv)
    assert devices["virtio-disk0"]["driver"] == "virtio-blk-device" and "bus" not in devices["virtio-disk0"]
    assert devices["net0"]["driver"] == "virtio-net-device"
    assert xml.count("<address type='virtio-mmio'/>") == 2


def test_without_virtio_mmio_the_devices_stay_pci() -> None:
    """A QEMU that lacks virtio-mmio (libvirt's QEMU_CAPS_DEVICE_VIRTIO_MMIO): libvirt leaves them alone."""
    caps = _caps("aarch64", "virt", "device.json+hotplug")
    xml, argv = _build(ARM, caps)
    assert "virtio-mmio" not in xml and _devices(argv)["virtio-disk0"]["driver"] == "virtio-blk-pci"


def test_s390_sclp_console() -> None:
    """The s390 console on the SCLP (the line-mode one too), and refused where QEMU lacks it."""
    xml = S390.format(address="").replace(
        "<memballoon", "<console type='pty'><target type='sclp'/></console><memballoon"
    )
    _, argv = _build(xml, _caps("s390x", "s390-ccw-virtio", "device.json+hotplug", "s390-sclp"))
    assert _devices(argv)["console0"] == {"driver": "sclpconsole", "chardev": "charconsole0", "id": "console0"}
    with pytest.raises(Error) as info:
        _build(xml, _caps("s390x", "s390-ccw-virtio", "device.json+hotplug"))
    assert str(info.value) == "unsupported configuration: 'sclpconsole' is not supported in this QEMU binary"


def test_the_primary_virtio_card_is_vga_only_where_qemu_has_virtio_vga() -> None:
    """qemuDomainSupportsVideoVga: ARM QEMUs have no virtio-vga, so their primary card is virtio-gpu-pci."""
    xml = ("<domain type='qemu'><name>v</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><graphics type='vnc' port='5900'/>"
           "<video><model type='virtio'/></video><memballoon model='none'/></devices></domain>")  # fmt: skip
    _, argv = _build(xml, _caps("x86_64", "pc", "device.json+hotplug", "virtio-vga", "virtio-gpu"))
    assert _devices(argv)["video0"]["driver"] == "virtio-vga"
    _, argv = _build(xml, _caps("x86_64", "pc", "device.json+hotplug", "virtio-gpu"))
    assert _devices(argv)["video0"]["driver"] == "virtio-gpu-pci"


def test_s390_load_parameter_of_the_first_boot_device() -> None:
    """qemuAppendLoadparmMachineParm: the IPL load parameter of the boot order 1 device, on -machine."""
    xml = S390.format(address="").replace("bus='virtio'/>", "bus='virtio'/><boot order='1' loadparm='sys1'/>")
    _, argv = _build(xml, _caps("s390x", "s390-ccw-virtio", "device.json+hotplug", "loadparm"))
    assert argv[argv.index("-machine") + 1].endswith(",loadparm=SYS1")
    _, argv = _build(xml, _caps("s390x", "s390-ccw-virtio", "device.json+hotplug"))  # a QEMU without it
    assert "loadparm" not in argv[argv.index("-machine") + 1]


def test_virtio_blk_scsi_passthrough_off_on_qemu_that_still_has_it() -> None:
    """QEMU before 5.0 had SCSI passthrough on virtio-blk, on by default: libvirt turns it off (scsi=off)."""
    xml = (
        ARM.replace("aarch64", "x86_64")
        .replace("machine='virt'", "machine='pc'")
        .replace("<kernel>/vmlinuz</kernel>", "")
    )
    old = _caps("x86_64", "pc", "device.json+hotplug", "virtio-blk-pci.scsi")
    assert _devices(_build(xml, old)[1])["virtio-disk0"]["scsi"] is False
    disabled = _caps(
        "x86_64", "pc", "device.json+hotplug", "virtio-blk-pci.scsi", "virtio-blk-pci.scsi.default.disabled"
    )
    assert "scsi" not in _devices(_build(xml, disabled)[1])["virtio-disk0"]


def test_pseries_vio_scsi_controller_at_its_bus_address() -> None:
    """ibmvscsi is QEMU's spapr-vscsi, placed by its VIO address (``reg``) rather than a PCI slot."""
    xml = ("<domain type='qemu'><name>p</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
           "<os><type arch='ppc64' machine='pseries'>hvm</type></os><devices>"
           "<emulator>/usr/bin/qemu-system-ppc64</emulator>"
           "<controller type='scsi' index='0' model='ibmvscsi'><address type='spapr-vio' reg='0x2000'/></controller>"
           "<memballoon model='none'/></devices></domain>")  # fmt: skip
    caps = _caps("ppc64", "pseries", "device.json+hotplug", "spapr-pci-host-bridge", "spapr-vscsi")
    _, argv = _build(xml, caps)
    assert _devices(argv)["scsi0"] == {"driver": "spapr-vscsi", "id": "scsi0", "reg": 8192}


PPC_TPM = ("<domain type='qemu'><name>p</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
           "<os><type arch='ppc64' machine='pseries'>hvm</type></os><devices>"
           "<emulator>/usr/bin/qemu-system-ppc64</emulator>{tpms}<memballoon model='none'/></devices></domain>")  # fmt: skip
PROXY = "<tpm model='spapr-tpm-proxy'><backend type='passthrough'><device path='/dev/tpmrm0'/></backend></tpm>"


def test_pseries_tpm_proxy_beside_an_emulated_vio_tpm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy hands the host's TPM through; the emulated one is a VIO device at its reg."""
    import pyvirt_qemu.domain_validation

    monkeypatch.setattr(pyvirt_qemu.domain_validation, "swtpm_versions", lambda: ["2.0"])
    caps = _caps("ppc64", "pseries", "device.json+hotplug", "spapr-pci-host-bridge", "tpm-spapr", "spapr-tpm-proxy")
    xml = PPC_TPM.format(tpms=PROXY + "<tpm model='tpm-spapr'><backend type='emulator' version='2.0'/></tpm>")
    _, argv = _build(xml, caps)
    devices = _devices(argv)
    assert devices["tpm0"] == {"driver": "spapr-tpm-proxy", "id": "tpm0", "host-path": "/dev/tpmrm0"}
    assert devices["tpm1"]["driver"] == "tpm-spapr" and devices["tpm1"]["tpmdev"] == "tpm-tpm1"
    assert devices["tpm1"]["reg"] == 0x4000
    with pytest.raises(Error) as info:
        _build(PPC_TPM.format(tpms=PROXY * 2), caps)
    assert str(info.value) == "unsupported configuration: only a single TPM Proxy device is supported"


def test_further_pseries_phbs_are_devices() -> None:
    """A pSeries guest's second PHB is a spapr-pci-host-bridge of its own, named by its target index."""
    xml = PPC_TPM.format(tpms="<controller type='pci' index='1' model='pci-root'><target index='1'/></controller>")
    _, argv = _build(xml, _caps("ppc64", "pseries", "device.json+hotplug", "spapr-pci-host-bridge"))
    assert _devices(argv)["pci.1"] == {"driver": "spapr-pci-host-bridge", "index": 1, "id": "pci.1"}


def test_video_resolution_and_the_vhost_user_backend() -> None:
    """<resolution> is the card's initial mode (xres/yres); a vhost-user GPU needs QEMU's device and the helper's
    socket (refused rather than replaced without them)."""
    xml = ("<domain type='qemu'><name>v</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><graphics type='vnc' port='5900'/>"
           "<video>{driver}<model type='virtio'>{res}</model></video><memballoon model='none'/></devices></domain>")  # fmt: skip
    caps = _caps("x86_64", "pc", "device.json+hotplug", "virtio-vga", "virtio-gpu")
    _, argv = _build(xml.format(driver="", res="<resolution x='1280' y='720'/>"), caps)
    assert (_devices(argv)["video0"]["xres"], _devices(argv)["video0"]["yres"]) == (1280, 720)
    with pytest.raises(Error) as info:
        _build(xml.format(driver="<driver name='vhostuser'/>", res=""), caps)
    assert str(info.value) == "unsupported configuration: this QEMU does not support 'vhost-user' video device"
    with pytest.raises(Error) as info:
        _build(xml.format(driver="<driver name='vhostuser'/>", res=""), _caps("x86_64", "pc", "vhost-user-gpu"))
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and "vhost-user-gpu helper" in str(info.value)


def test_two_devices_on_one_channel_subsystem_number_are_refused() -> None:
    xml = S390.format(address="<address type='ccw' cssid='0xfe' ssid='0' devno='1'/>").replace(
        "<memballoon model='virtio'/>", "<memballoon model='virtio'><address type='ccw' cssid='0xfe' ssid='0' "
        "devno='0x0001'/></memballoon>")  # fmt: skip
    with pytest.raises(Error) as info:
        _build(xml, _caps("s390x", "s390-ccw-virtio", "device.json+hotplug"))
    assert str(info.value) == "XML error: The CCW devno 'fe.0.0001' is in use already"
