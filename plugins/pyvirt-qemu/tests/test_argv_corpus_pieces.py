"""Pieces of QEMU's command line libvirt's qemuxml2argv corpus exercises, each where libvirt writes it.

``<qemu:commandline>`` and ``<keywrap>`` were refused by name before (nine ``qemu-ns-*`` and eight
``machine-*keywrap*`` cases), as were the pSeries ``<features>``; ``-incoming``, ``vmcoreinfo``, a
board's own UART, optional and minimum CPU features measured against the host, the x86 features QEMU
never takes, ``<vsock>`` on the vhost fd the driver opens, ``variable``/``absolute`` guest clocks, virgl
video, a passthrough TPM and a NIC's option ROM.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import pyvirt_qemu.command_line
import pyvirt_qemu.domain_validation
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.cpu_flags import cpu_argument
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.driver_config import load_qemu_settings
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine
from pyvirt_qemu.host_cpu_model import HostCpuModel, update_guest_cpu
from pyvirt_qemu.tpm_passthrough import open_tpm_passthrough, tpm_cancel_fd_key, tpm_cancel_path, tpm_fd_key
from pyvirt_qemu.vsock import open_vhost_vsock

from pyvirt.conf.domain import Cpu, CpuFeature, CpuModel, format_domain, parse_domain
from pyvirt.conf.domain_devices import Vsock
from pyvirt.errors import Error, ErrorCode

S390 = """<domain type='qemu'>
  <name>g</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='s390x' machine='s390-ccw-virtio'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-s390x</emulator>
    <memballoon model='none'/>
  </devices>
  KEYWRAP
</domain>"""

X86 = """<domain type='qemu' xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>g</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>
  </devices>
  <q:commandline>
    <q:arg value='-unknown'/>
    <q:arg value='parameter'/>
    ENV
  </q:commandline>
</domain>"""


def _caps(arch: str, machine: str, *flags: str) -> EmulatorCaps:
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine(machine, None, 255, True)], flags=list(flags), probed=False)  # fmt: skip


def _build(xml: str, caps: EmulatorCaps) -> tuple[list[str], dict[str, str]]:
    dom = apply_defaults(parse_domain(xml), caps=caps)
    cmd = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                             hugepage_mounts=[], host_nodes={0})  # fmt: skip
    return cmd.argv, dict(cmd.env)


def _machine(keywrap: str, *flags: str) -> str:
    argv, _ = _build(S390.replace("KEYWRAP", keywrap), _caps("s390x", "s390-ccw-virtio", *flags))
    return argv[argv.index("-machine") + 1]


def test_keywrap_ciphers_are_machine_properties_aes_first() -> None:
    both = "<keywrap><cipher name='dea' state='off'/><cipher name='aes' state='on'/></keywrap>"
    assert _machine(both, "aes-key-wrap", "dea-key-wrap").startswith(
        "s390-ccw-virtio,usb=off,aes-key-wrap=on,dea-key-wrap=off,dump-guest-core=off"
    )
    assert "key-wrap" not in _machine("")
    # kept in the definition, as libvirt formats it
    dom = parse_domain(S390.replace("KEYWRAP", both))
    assert "<keywrap>\n    <cipher name='dea' state='off'/>\n    <cipher name='aes' state='on'/>\n  </keywrap>" in (
        format_domain(dom, 0)
    )


def test_keywrap_errors_are_libvirts() -> None:
    with pytest.raises(Error) as exc:
        _machine("<keywrap><cipher name='dea' state='on'/></keywrap>", "aes-key-wrap")
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert str(exc.value) == "unsupported configuration: dea-key-wrap is not available with this QEMU binary"
    with pytest.raises(Error) as exc:
        _machine("<keywrap><cipher name='aes' state='on'/><cipher name='aes' state='off'/></keywrap>", "aes-key-wrap")
    assert exc.value.code == ErrorCode.INTERNAL_ERROR
    assert "no more than one cipher node with name aes" in str(exc.value)


def test_qemu_commandline_arguments_before_sandbox_and_environment() -> None:
    env_xml = "<q:env name='NS' value='ns'/><q:env name='BAR'/>"
    argv, env = _build(X86.replace("ENV", env_xml), _caps("x86_64", "pc", "seccomp-sandbox"))
    at = argv.index("-unknown")
    assert argv[at : at + 3] == ["-unknown", "parameter", "-sandbox"]
    assert env["NS"] == "ns" and env["BAR"] == ""
    # the definition keeps them under libvirt's own prefix, whatever prefix the input used
    text = format_domain(parse_domain(X86.replace("ENV", env_xml)), 0)
    assert text.startswith("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
    assert (
        "  <qemu:commandline>\n    <qemu:arg value='-unknown'/>\n    <qemu:arg value='parameter'/>\n"
        "    <qemu:env name='NS' value='ns'/>\n    <qemu:env name='BAR'/>\n  </qemu:commandline>\n"
    ) in text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("<q:env value='x'/>", "No qemu environment name specified"),
        ("<q:env name='1A'/>", "Invalid environment name, it must begin with a letter or underscore"),
        ("<q:env name='A-B'/>", "Invalid environment name, it must contain only alphanumerics and underscore"),
        ("<q:arg/>", "No qemu command-line argument specified"),
    ],
)
def test_qemu_commandline_checks_are_libvirts(env: str, message: str) -> None:
    with pytest.raises(Error) as exc:
        parse_domain(X86.replace("ENV", env))
    assert exc.value.code == ErrorCode.INTERNAL_ERROR and str(exc.value) == f"internal error: {message}"


def test_rest_of_the_qemu_namespace_is_still_refused_by_name() -> None:
    with pytest.raises(Error) as exc:
        parse_domain(X86.replace("ENV", "").replace("</domain>", "<q:deprecation behavior='crash'/></domain>"))
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED and "deprecation" in str(exc.value)


def test_incoming_migration_comes_after_the_devices_before_the_balloon() -> None:
    xml = X86.replace("ENV", "").replace("<memballoon model='none'/>", "<memballoon model='virtio'/>")
    argv, _ = _build(xml, _caps("x86_64", "pc"))
    assert "-incoming" not in argv
    dom = apply_defaults(parse_domain(xml), caps=_caps("x86_64", "pc"))
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_caps("x86_64", "pc"),
                              hugepage_mounts=[], host_nodes={0}, incoming="fd:7").argv  # fmt: skip
    at = argv.index("-incoming")
    assert argv[at + 1] == "fd:7" and argv[at + 2] == "-device" and "virtio-balloon" in argv[at + 3]


def test_vmcoreinfo_feature_is_a_device_and_needs_the_capability() -> None:
    xml = X86.replace("ENV", "").replace("<devices>", "<features><vmcoreinfo state='on'/></features><devices>")
    argv, _ = _build(xml, _caps("x86_64", "pc", "vmcoreinfo"))
    assert argv[argv.index("vmcoreinfo") - 1] == "-device"
    with pytest.raises(Error) as exc:
        _build(xml, _caps("x86_64", "pc"))
    assert str(exc.value) == "unsupported configuration: vmcoreinfo is not available with this QEMU binary"


def test_a_serial_without_a_target_is_the_boards_own_uart() -> None:
    """A ppce500 board's serial port: no target type the post-parse could name, so ``-serial`` as libvirt."""
    xml = X86.replace("ENV", "").replace("<memballoon", "<serial type='pty'/><memballoon")
    dom = parse_domain(xml)
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_caps("x86_64", "pc"),
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    at = argv.index("-serial")
    assert argv[at - 2 : at + 2] == ["-chardev", "pty,id=charserial0", "-serial", "chardev:charserial0"]


def test_optional_and_minimum_cpus_are_measured_against_the_host() -> None:
    host = HostCpuModel("core2duo", "Intel", [("require", "vmx"), ("require", "tm")])
    have = frozenset({"sse2", "vmx", "tm"})
    cpu = Cpu(match="exact", model=CpuModel(name="Penryn"), features=[
        CpuFeature(policy="optional", name="tm"), CpuFeature(policy="optional", name="sse4a"),
        CpuFeature(policy="disable", name="nx")])  # fmt: skip
    live = update_guest_cpu(cpu, host, have)
    assert [(f.name, f.policy) for f in live.features or []] == [("tm", "require"), ("sse4a", "disable"),
                                                                  ("nx", "disable")]  # fmt: skip
    assert live.model is not None and live.model.name == "Penryn" and cpu.features[0].policy == "optional"
    # match='minimum': at least the host, the guest's own policies on top of the host's features
    cpu.match = "minimum"
    minimum = update_guest_cpu(cpu, host, have)
    assert minimum.match == "exact" and minimum.model is not None and minimum.model.name == "core2duo"
    assert [(f.name, f.policy) for f in minimum.features or []] == [
        ("vmx", "require"), ("tm", "require"), ("sse4a", "disable"), ("nx", "disable")]  # fmt: skip


def test_features_qemu_never_had_are_not_passed_on_x86() -> None:
    xml = X86.replace("ENV", "").replace("<devices>", "<cpu mode='custom' match='exact'><model>core2duo</model>"
                                         "<feature name='osxsave'/><feature name='cmt'/><feature name='vmx'/></cpu>"
                                         "<devices>")  # fmt: skip
    argv, _ = _build(xml, _caps("x86_64", "pc"))
    assert argv[argv.index("-cpu") + 1] == "core2duo,vmx=on"


PSERIES = """<domain type='qemu'>
  <name>g</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>524288</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='ARCH' machine='MACHINE'>hvm</type></os>
  <features>FEATURES</features>
  <devices><emulator>/usr/bin/qemu-system-ppc64</emulator><memballoon model='none'/></devices>
</domain>"""

_PSERIES_CAPS = ("machine.pseries.cap-hpt-max-page-size", "machine.pseries.cap-htm", "machine.pseries.cap-cfpc")


def _pseries(features: str, *flags: str, arch: str = "ppc64", machine: str = "pseries") -> str:
    xml = PSERIES.replace("FEATURES", features).replace("ARCH", arch).replace("MACHINE", machine)
    argv = build_command_line(parse_domain(xml), "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib",
                              caps=_caps(arch, machine, *flags), hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    return argv[argv.index("-machine") + 1]


def test_pseries_features_are_machine_capabilities_in_libvirts_order() -> None:
    features = ("<cfpc value='fixed'/><htm state='on'/>"
                "<hpt resizing='required'><maxpagesize unit='GiB'>1</maxpagesize></hpt>")  # fmt: skip
    assert _pseries(features, *_PSERIES_CAPS).startswith(
        "pseries,usb=off,resize-hpt=required,cap-hpt-max-page-size=1048576k,cap-htm=on,cap-cfpc=fixed,"
    )
    # the page size is kept in KiB, as libvirt formats it
    text = format_domain(parse_domain(PSERIES.replace("FEATURES", features).replace("ARCH", "ppc64")
                                      .replace("MACHINE", "pseries")), 0)  # fmt: skip
    assert "<hpt resizing='required'>\n      <maxpagesize unit='KiB'>1048576</maxpagesize>\n    </hpt>" in text


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ("<htm state='on'/>", "HTM configuration is not supported by this QEMU binary"),
        ("<hpt><maxpagesize unit='KiB'>64</maxpagesize></hpt>",
         "Configuring the page size for HPT guests is not supported by this QEMU binary"),
        ("<ibs value='fixed-ccd'/>", "ibs configuration is not supported by this QEMU binary"),
    ],
)  # fmt: skip
def test_pseries_features_the_emulator_lacks_are_refused(features: str, message: str) -> None:
    with pytest.raises(Error) as exc:
        _pseries(features)
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(exc.value) == f"unsupported configuration: {message}"


def test_pseries_features_on_another_machine_are_refused() -> None:
    with pytest.raises(Error) as exc:
        _pseries("<hpt resizing='enabled'/>", arch="x86_64", machine="pc")
    assert str(exc.value) == ("unsupported configuration: The 'hpt' feature is not supported for architecture "
                              "'x86_64' or machine type 'pc'")  # fmt: skip


def test_vsock_is_a_vhost_device_on_the_fd_the_driver_opened() -> None:
    xml = X86.replace("ENV", "").replace("<memballoon", "<vsock model='virtio'><cid auto='no' address='4'/>"
                                         "<address type='pci' domain='0x0000' bus='0x00' slot='0x07' "
                                         "function='0x0'/></vsock><memballoon")  # fmt: skip
    caps = _caps("x86_64", "pc", "device.json+hotplug")
    dom = apply_defaults(parse_domain(xml), caps=caps)
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3, "vsock": 6789}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    assert ('{"driver":"vhost-vsock-pci","id":"vsock0","guest-cid":4,"vhostfd":"6789","bus":"pci.0","addr":"0x7"}'
            in argv)  # fmt: skip
    with pytest.raises(Error) as exc:  # a start that did not open the device has nothing to give QEMU
        build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                           hugepage_mounts=[], host_nodes={0})  # fmt: skip
    assert exc.value.code == ErrorCode.INTERNAL_ERROR


def test_opening_vhost_vsock_reports_libvirts_errors(tmp_path: Path) -> None:
    with pytest.raises(Error) as exc:
        open_vhost_vsock(Vsock(cid_address=4), str(tmp_path / "missing"))
    assert exc.value.code == ErrorCode.SYSTEM_ERROR
    assert str(exc.value) == "unable to open vhost-vsock device: No such file or directory"
    not_vhost = tmp_path / "file"
    not_vhost.write_bytes(b"")
    with pytest.raises(Error) as exc:  # the ioctl fails on anything but the vhost device
        open_vhost_vsock(Vsock(cid_address=4), str(not_vhost))
    assert str(exc.value).startswith("failed to set guest cid: ")
    auto = Vsock(cid_auto=True)
    with pytest.raises(Error) as exc:
        open_vhost_vsock(auto, str(not_vhost))
    assert str(exc.value).startswith("failed to acquire guest cid: ") and auto.cid_address is None


@pytest.mark.parametrize(
    ("clock", "base"),
    [
        ("<clock offset='variable' adjustment='123456' basis='utc'/>", "2009-02-15T09:49:06"),
        # half an hour west of UTC: an hour ahead of local time is half an hour ahead of UTC
        ("<clock offset='variable' adjustment='3600' basis='localtime'/>", "2009-02-14T00:01:30"),
        ("<clock offset='absolute' start='253402300799'/>", "9999-12-31T23:59:59"),
    ],
)
def test_variable_and_absolute_clocks_are_an_rtc_base(monkeypatch: pytest.MonkeyPatch, clock: str, base: str) -> None:
    monkeypatch.setattr(pyvirt_qemu.command_line, "wall_clock", lambda: 1234567890.0)
    monkeypatch.setenv("TZ", "VIR00:30")
    time.tzset()
    try:
        dom = parse_domain(X86.replace("ENV", "").replace("<devices>", clock + "<devices>"))
        argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib",
                                  caps=_caps("x86_64", "pc"), hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    finally:
        monkeypatch.undo()
        time.tzset()
    assert argv[argv.index("-rtc") + 1] == f"base={base}"
    if "localtime" in clock:  # the live definition keeps the adjustment from UTC, as libvirt's does
        assert dom.clock is not None and (dom.clock.basis, dom.clock.adjustment) == ("utc", "1800")


def _video_argv(video: str, *flags: str) -> list[str]:
    xml = X86.replace("ENV", "").replace("<memballoon", video + "<memballoon")
    caps = _caps("x86_64", "pc", "device.json+hotplug", *flags)
    dom = apply_defaults(parse_domain(xml), caps=caps)
    return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip


def test_virgl_is_the_gl_device_or_the_virgl_property() -> None:
    video = "<video><model type='virtio' heads='1'><acceleration accel3d='yes'/></model></video>"
    new = _video_argv(video, "virtio-vga", "virtio-vga-gl", "virtio-gpu-gl-pci")
    assert any(a.startswith('{"driver":"virtio-vga-gl","id":"video0","max_outputs":1,') for a in new)
    old = _video_argv(video, "virtio-gpu.virgl")
    assert any(a.startswith('{"driver":"virtio-gpu-pci","id":"video0","virgl":true,"max_outputs":1,') for a in old)
    with pytest.raises(Error) as exc:
        _video_argv(video)
    assert str(exc.value) == "unsupported configuration: 3d acceleration is not supported by this QEMU binary"
    with pytest.raises(Error) as exc:
        _video_argv("<video><model type='vga'><acceleration accel3d='yes'/></model></video>", "virtio-gpu.virgl")
    assert "3d acceleration is supported only with 'virtio' video device" in str(exc.value)


def _tpm_domain(path: str) -> str:
    return X86.replace("ENV", "").replace("<memballoon", "<tpm model='tpm-crb'><backend type='passthrough'>"
                                          f"<device path='{path}'/></backend></tpm><memballoon")  # fmt: skip


def test_passthrough_tpm_is_two_fd_sets() -> None:
    caps = _caps("x86_64", "pc", "device.json+hotplug")
    dom = apply_defaults(parse_domain(_tpm_domain("/dev/tpm0")), caps=caps)
    fds = {"monitor": 3, tpm_fd_key(0): 1730, tpm_cancel_fd_key(0): 1731}
    argv = build_command_line(dom, "/tmp/m.sock", fds=fds, lib_dir="/tmp/lib", caps=caps, hugepage_mounts=[],
                              host_nodes={0}).argv  # fmt: skip
    at = argv.index("-tpmdev")
    assert argv[at - 4 : at + 4] == [
        "-add-fd", "set=0,fd=1730,opaque=tpm0-tpm", "-add-fd", "set=1,fd=1731,opaque=tpm0-cancel",
        "-tpmdev", "passthrough,id=tpm-tpm0,path=/dev/fdset/0,cancel-path=/dev/fdset/1",
        "-device", '{"driver":"tpm-crb","tpmdev":"tpm-tpm0","id":"tpm0"}']  # fmt: skip


def test_opening_a_passthrough_tpm(tmp_path: Path) -> None:
    # a device without a sysfs cancel file gets /dev/null, as virTPMCreateCancelPath gives
    assert tpm_cancel_path(str(tmp_path / "tpm-none")) == "/dev/null"
    fake = tmp_path / "tpm9"
    fake.write_bytes(b"")
    fds = open_tpm_passthrough(parse_domain(_tpm_domain(str(fake))))
    try:
        assert set(fds) == {tpm_fd_key(0), tpm_cancel_fd_key(0)}
        assert os.readlink(f"/proc/self/fd/{fds[tpm_cancel_fd_key(0)]}") == "/dev/null"
    finally:
        for fd in fds.values():
            os.close(fd)
    with pytest.raises(Error) as exc:
        open_tpm_passthrough(parse_domain(_tpm_domain(str(tmp_path / "missing"))))
    assert exc.value.code == ErrorCode.SYSTEM_ERROR
    assert str(exc.value) == f"Could not open TPM device {tmp_path / 'missing'}: No such file or directory"


def test_a_nics_option_rom_settings_reach_qemu() -> None:
    """``<rom>`` of an interface was parsed and then dropped: QEMU now gets ``rombar``/``romfile``."""
    nic = ("<interface type='user'><mac address='52:54:00:24:a5:9f'/><model type='virtio'/>ROM"
           "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></interface>")  # fmt: skip

    def device(rom: str) -> str:
        argv = _video_argv(nic.replace("ROM", rom))
        return next(a for a in argv if a.startswith('{"driver":"virtio-net-pci"'))

    assert device("<rom bar='on'/>").endswith('"bus":"pci.0","addr":"0x2","rombar":1}')
    assert device("<rom bar='off' file='/etc/rom.bin'/>").endswith('"addr":"0x2","rombar":0,"romfile":"/etc/rom.bin"}')
    assert device("<rom file=''/>").endswith('"addr":"0x2","romfile":""}')
    assert "rom" not in device("")


def test_a_32_bit_arm_guest_on_a_64_bit_host_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = """<domain type='kvm'><name>g</name><memory>131072</memory><vcpu>1</vcpu>
      <os><type arch='armv7l' machine='virt'>hvm</type></os><cpu mode='host-passthrough'/>
      <devices><emulator>/usr/bin/qemu-system-aarch64</emulator></devices></domain>"""
    monkeypatch.setattr(pyvirt_qemu.domain_validation, "host_arch", lambda: "aarch64")
    assert cpu_argument(parse_domain(xml)) == "host,aarch64=off"
    monkeypatch.setattr(pyvirt_qemu.domain_validation, "host_arch", lambda: "armv7l")
    assert cpu_argument(parse_domain(xml)) == "host"


def test_qemu_conf_chardev_tls_reaches_the_command_line(tmp_path: Path) -> None:
    """qemu.conf's chardev_tls keys were accepted and ignored; now a start gets them (process.start_process)."""
    conf = tmp_path / "qemu.conf"
    conf.write_text('chardev_tls = 1\nchardev_tls_x509_cert_dir = "/etc/pki/x"\ndefault_tls_x509_verify = 0\n')
    tls = load_qemu_settings(str(conf)).chardev_tls_config()
    assert (tls.enabled, tls.cert_dir, tls.verify, tls.secret_uuid) == (True, "/etc/pki/x", False, None)
    conf.write_text("")
    default = load_qemu_settings(str(conf)).chardev_tls_config()
    assert not default.enabled and default.verify  # verification on unless a key says otherwise
    xml = X86.replace("ENV", "").replace("<memballoon", "<serial type='tcp'><source mode='connect' host='127.0.0.1' "
                                         "service='5555'/><protocol type='raw'/><target port='0'/></serial><memballoon")  # fmt: skip
    caps = _caps("x86_64", "pc")
    argv = build_command_line(apply_defaults(parse_domain(xml), caps=caps), "/tmp/m.sock", fds={"monitor": 3},
                              lib_dir="/tmp/lib", caps=caps, hugepage_mounts=[], host_nodes={0},
                              chardev_tls=tls).argv  # fmt: skip
    assert "tls-creds-x509,id=objcharserial0_tls0,dir=/etc/pki/x,endpoint=client,verify-peer=off" in argv


# ---------------------------------------------------------------- SCSI and vhost-scsi host devices (issue 13)
_SCSI_HOSTDEVS = """<domain type='qemu'><name>g</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory><vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><source file='/tmp/d.img'/><target dev='hda' bus='ide'/></disk>
    <controller type='scsi' index='0' model='MODEL'/>
    <hostdev mode='subsystem' type='scsi'>
      <source><adapter name='scsi_host2'/><address bus='0' target='0' unit='1'/></source>
      <readonly/><address type='drive' controller='0' bus='0' target='0' unit='6'/></hostdev>
    <hostdev mode='subsystem' type='scsi'>
      <source><adapter name='scsi_host2'/><address bus='0' target='0' unit='2'/></source>
      <alias name='ua-mine'/><address type='drive' controller='0' bus='0' target='1' unit='2'/></hostdev>
    <hostdev mode='subsystem' type='scsi'>
      <source protocol='iscsi' name='iqn.1992-01.com.example:storage/2'><host name='example.org' port='3260'/>
        <auth username='myname'><secret type='iscsi' usage='mycluster_myname'/></auth></source>
      <address type='drive' controller='0' bus='0' target='0' unit='3'/></hostdev>
    <hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>
    <memballoon model='none'/>
  </devices></domain>"""


def _scsi_argv(model: str, fds: dict[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    import pyvirt_qemu.host_devices as host_devices
    from pyvirt_qemu.qemu_secrets import GuestSecrets

    for unit, sg in ((1, "sg7"), (2, "sg8")):
        (tmp_path / "scsi" / f"2:0:0:{unit}" / "scsi_generic" / sg).mkdir(parents=True)
    monkeypatch.setattr(host_devices, "_SYSFS_SCSI", str(tmp_path / "scsi"))
    monkeypatch.setattr(host_devices, "vhost_scsi_available", lambda: True)
    caps = _caps("x86_64", "pc", "device.json+hotplug", "object.qapified")  # (JSON -device and -object)
    dom = apply_defaults(parse_domain(_SCSI_HOSTDEVS.replace("MODEL", model)), caps=caps)
    secrets = GuestSecrets(master_key=bytes(32), lookup=lambda usage, uuid, name: ("iscsi", b"pw"))
    return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3, **fds}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}, secrets=secrets).argv  # fmt: skip


def test_scsi_host_devices_get_backends_after_the_disks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``<hostdev type='scsi'>`` was refused: now a scsi-generic device over a backend node of its own, the
    host's /dev/sgN found in sysfs or an iSCSI LUN with its CHAP secret, numbered after the disk's nodes."""
    from pyvirt_qemu.host_devices import vhost_scsi_fd_key

    argv = _scsi_argv("lsilogic", {vhost_scsi_fd_key(3): 9}, monkeypatch, tmp_path)
    text = "\n".join(argv)
    assert '{"driver":"host_device","filename":"/dev/sg7","node-name":"libvirt-2-backend","read-only":true}' in argv
    assert '{"driver":"scsi-generic","drive":"libvirt-2-backend","id":"hostdev0","bus":"scsi0.0","scsi-id":6}' in argv
    # a user's alias takes no hostdevN number (qemuAssignDeviceHostdevAlias counts from the highest)
    assert '{"driver":"scsi-generic","drive":"libvirt-3-backend","id":"ua-mine","bus":"scsi0.0","scsi-id":2}' in argv
    secret = argv.index("-object", argv.index("-object") + 1)  # after the master key
    assert '"id":"libvirt-4-backend-secret0"' in argv[secret + 1]
    assert argv[secret + 2 : secret + 4] == ["-blockdev", '{"driver":"iscsi","portal":"example.org:3260","target":'
        '"iqn.1992-01.com.example:storage","lun":2,"transport":"tcp","user":"myname","password-secret":'
        '"libvirt-4-backend-secret0","node-name":"libvirt-4-backend","read-only":false}']  # fmt: skip
    assert '"id":"hostdev1","bus":"scsi0.0","scsi-id":3}' in text
    assert '{"driver":"vhost-scsi-pci","wwpn":"naa.5123456789abcde0","vhostfd":"9","id":"hostdev2",' in text


def test_virtio_transitional_scsi_controllers_and_vhost_scsi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The transitional virtio models name the SCSI controller's and the vhost-scsi device's drivers."""
    from pyvirt_qemu.host_devices import vhost_scsi_fd_key

    xml_model = "virtio-transitional"
    argv = _scsi_argv(xml_model, {vhost_scsi_fd_key(3): 9}, monkeypatch, tmp_path)
    text = "\n".join(argv)
    assert '{"driver":"virtio-scsi-pci-transitional","id":"scsi0"' in text
    assert '"drive":"libvirt-2-backend","id":"hostdev0","bus":"scsi0.0","channel":0,"scsi-id":0,"lun":6}' in text


def test_a_missing_host_scsi_device_or_vhost_scsi_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before anything starts: the sysfs node of the adapter's device, and /dev/vhost-scsi (libvirt's words)."""
    import pyvirt_qemu.host_devices as host_devices

    monkeypatch.setattr(host_devices, "_SYSFS_SCSI", str(tmp_path))
    with pytest.raises(Error) as exc:
        host_devices.scsi_generic_path("scsi_host2", 0, 0, 1)
    assert exc.value.code == ErrorCode.SYSTEM_ERROR
    assert str(exc.value).startswith(f"Failed to open {tmp_path}/2:0:0:1/scsi_generic")
    with pytest.raises(Error) as exc:
        host_devices.open_vhost_scsi(str(tmp_path / "vhost-scsi"))
    assert (exc.value.code, str(exc.value)) == (ErrorCode.CONFIG_UNSUPPORTED,
                                                "unsupported configuration: vhost-scsi is not supported")  # fmt: skip
    node = tmp_path / "vhost-scsi"
    node.write_bytes(b"")
    fd = host_devices.open_vhost_scsi(str(node))
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == str(node)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- firmware autoselection and vhost-user (issue 13)
def _descriptor(name: str, interface: str, mapping: dict[str, object], machines: list[str], *features: str) -> str:
    import json

    return json.dumps({"description": name, "interface-types": [interface], "mapping": mapping,
                       "targets": [{"architecture": "x86_64", "machines": machines}], "features": list(features)})  # fmt: skip


def _flash(code: str, template: str | None = None, mode: str | None = None) -> dict[str, object]:
    mapping: dict[str, object] = {"device": "flash", "executable": {"filename": code, "format": "raw"}}
    if mode is not None:
        mapping["mode"] = mode
    if template is not None:
        mapping["nvram-template"] = {"filename": template, "format": "raw"}
    return mapping


@pytest.fixture
def firmware_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """QEMU's two descriptor directories, as a firmware package and an admin fill them: a Secure Boot build
    sorted first (q35 only), a plain one, a stateless SEV one and SeaBIOS; /etc masks nothing yet."""
    import pyvirt_qemu.firmware as firmware

    usr, etc = tmp_path / "usr", tmp_path / "etc"
    usr.mkdir()
    etc.mkdir()
    (usr / "40-sb.json").write_text(_descriptor("sb", "uefi", _flash("/fw/SB_CODE.fd", "/fw/SB_VARS.fd"),
                                                ["pc-q35-*"], "acpi-s3", "requires-smm", "secure-boot"))  # fmt: skip
    (usr / "45-sev.json").write_text(_descriptor("sev", "uefi", _flash("/fw/SEV.fd", mode="stateless"),
                                                 ["pc-q35-*"], "amd-sev", "amd-sev-es"))  # fmt: skip
    (usr / "50-plain.json").write_text(_descriptor("plain", "uefi", _flash("/fw/CODE.fd", "/fw/VARS.fd"),
                                                   ["pc-i440fx-*", "pc-q35-*"]))  # fmt: skip
    (usr / "60-bios.json").write_text(_descriptor("bios", "bios", {"device": "memory", "filename": "/fw/bios.bin"},
                                                  ["pc-i440fx-*", "pc-q35-*"], "acpi-s3", "acpi-s4"))  # fmt: skip
    monkeypatch.setattr(firmware, "SEARCH_DIRS", (str(usr), str(etc)))
    monkeypatch.setattr(firmware, "installed", lambda path: True)
    return usr, etc


_FW_GUEST = """<domain type='qemu'><name>fw</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory><vcpu placement='static'>1</vcpu>
  <os FIRMWARE><type arch='x86_64' machine='MACHINE'>hvm</type>OS</os><features><acpi/>FEATURES</features>PM
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>"""


def _fw_argv(firmware: str, machine: str = "pc-q35-4.0", os_: str = "", features: str = "", pm: str = "") -> list[str]:
    from pyvirt_qemu.firmware import resolve_firmware

    xml = _FW_GUEST.replace("FIRMWARE", firmware).replace("MACHINE", machine).replace("OS", os_)
    caps = _caps("x86_64", machine, "disable-s3", "disable-s4")
    dom = apply_defaults(parse_domain(xml.replace("FEATURES", features).replace("PM", pm)), caps=caps)
    resolve_firmware(dom, machine, "/nvram")
    return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip


def _pflash_files(argv: list[str]) -> list[str]:
    import json

    return [json.loads(argv[i + 1]).get("filename") for i, a in enumerate(argv[:-1])
            if a == "-blockdev" and '"driver":"file"' in argv[i + 1]]  # fmt: skip


def test_firmware_autoselection_takes_the_first_fit_secure_boot_included(firmware_dirs: tuple[Path, Path]) -> None:
    """libvirt takes the first descriptor that fits: on q35 that is the Secure Boot build, which brings SMM and
    a secure flash (pyvirt used to pass over such builds unless asked for them)."""
    argv = _fw_argv(" firmware='efi'")
    assert _pflash_files(argv) == ["/fw/SB_CODE.fd", "/nvram/fw_VARS.fd"]
    assert ",smm=on," in argv[argv.index("-machine") + 1]
    assert argv[argv.index("-global") + 1] == "driver=cfi.pflash01,property=secure,value=on"
    # the plain build where the Secure Boot one does not serve the machine, or the guest refuses Secure Boot
    assert _pflash_files(_fw_argv(" firmware='efi'", machine="pc-i440fx-4.0")) == ["/fw/CODE.fd", "/nvram/fw_VARS.fd"]
    refuse = "<firmware><feature enabled='no' name='secure-boot'/></firmware>"
    assert _pflash_files(_fw_argv(" firmware='efi'", os_=refuse)) == ["/fw/CODE.fd", "/nvram/fw_VARS.fd"]
    # a stateless loader takes the stateless build: code only, no variable store
    assert _pflash_files(_fw_argv(" firmware='efi'", os_="<loader stateless='yes'/>")) == ["/fw/SEV.fd"]


def test_firmware_autoselection_of_bios_and_its_refusals(firmware_dirs: tuple[Path, Path]) -> None:
    """firmware='bios' is a descriptor's ROM (-bios); masking in /etc, <pm> and <smm state='off'> are libvirt's
    rules and words."""
    usr, etc = firmware_dirs
    argv = _fw_argv(" firmware='bios'", pm="<pm><suspend-to-disk enabled='yes'/></pm>")
    assert argv[argv.index("-bios") + 1] == "/fw/bios.bin"
    # suspend-to-disk needs ACPI S4, which no UEFI build here offers
    with pytest.raises(Error) as exc:
        _fw_argv(" firmware='efi'", pm="<pm><suspend-to-disk enabled='yes'/></pm>")
    assert str(exc.value) == "operation failed: Unable to find any firmware to satisfy 'efi'"
    with pytest.raises(Error) as exc:
        _fw_argv(" firmware='efi'", features="<smm state='off'/>")
    assert exc.value.code == ErrorCode.OPERATION_INVALID
    assert (
        str(exc.value) == "Requested operation is not valid: domain has SMM turned off but chosen firmware requires it"
    )
    (etc / "40-sb.json").write_text("")  # an empty file of the same name masks the package's descriptor
    assert _pflash_files(_fw_argv(" firmware='efi'")) == ["/fw/CODE.fd", "/nvram/fw_VARS.fd"]
    (usr / "60-bios.json").unlink()
    with pytest.raises(Error) as exc:
        _fw_argv(" firmware='bios'")
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "satisfy 'bios'" in str(exc.value)


def test_a_loader_given_by_path_gets_its_own_descriptors_template(firmware_dirs: tuple[Path, Path]) -> None:
    """The old style (<loader type='pflash'> by path, no template) asks the descriptors for that very file."""
    from pyvirt_qemu.firmware import resolve_firmware

    xml = _FW_GUEST.replace("FIRMWARE", "").replace("MACHINE", "pc-i440fx-4.0").replace("FEATURES", "")
    xml = xml.replace("PM", "").replace("OS", "<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>")
    dom = parse_domain(xml)
    resolve_firmware(dom, "pc-i440fx-4.0", "/nvram")
    assert dom.os is not None and dom.os.nvram is not None
    assert (dom.os.nvram.path, dom.os.nvram.template) == ("/nvram/fw_VARS.fd", "/fw/VARS.fd")


_VHOST_GUEST = """<domain type='qemu'><name>vu</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>BACKING<vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>DEVICES<memballoon model='none'/></devices></domain>"""
_SHARED = "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
_VHOST_FLAGS = ("device.json+hotplug", "vhost-user-blk", "vhost-user-gpu", "vhost-user-vga", "vhost-user-fs",
                "vhost-user-fs.bootindex")  # fmt: skip


def _vhost_argv(devices: str, backing: str = _SHARED, fds: dict[str, int] | None = None, **kw: bool) -> list[str]:
    caps = EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="x86_64",
                        machines=[Machine("pc", None, 255, True, default_ram_id="pc.ram")], flags=list(_VHOST_FLAGS),
                        probed=False)  # fmt: skip
    dom = apply_defaults(parse_domain(_VHOST_GUEST.replace("DEVICES", devices).replace("BACKING", backing)), caps=caps)
    return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3, **(fds or {})}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}, **kw).argv  # fmt: skip


def test_vhost_user_blk_disks_connect_to_their_socket() -> None:
    disk = ("<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' DRIVER/>"
            "<source type='unix' path='/run/vu.sock'>RECONNECT</source><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    argv = _vhost_argv(disk.replace("DRIVER", "packed='on'").replace("RECONNECT", "<reconnect enabled='yes' "
                                                                     "timeout='10'/>"))  # fmt: skip
    i = argv.index("socket,id=chr-vu-virtio-disk0,path=/run/vu.sock,reconnect=10")
    assert argv[i + 1 : i + 3] == ["-device", '{"driver":"vhost-user-blk-pci","packed":true,"bus":"pci.0",'
                                   '"addr":"0x2","chardev":"chr-vu-virtio-disk0","id":"virtio-disk0","bootindex":1}']  # fmt: skip
    assert not any(a.startswith('{"driver":"file"') for a in argv)  # no block nodes: the backend has the image
    plain = disk.replace("DRIVER", "").replace("RECONNECT", "")
    for devices, backing, message in (
        (plain, "", "'vhostuser' requires shared memory"),
        (plain.replace("bus='virtio'", "bus='sata'").replace("vda", "sda"), _SHARED,
         "vhostuser disk supports only virtio bus"),
        (plain.replace("type='raw'", "type='raw' cache='none'"), _SHARED, "cache is not supported with vhostuser disk"),
    ):  # fmt: skip
        with pytest.raises(Error) as exc:
            _vhost_argv(devices, backing)
        assert str(exc.value) == f"unsupported configuration: {message}"


def test_vhost_user_video_talks_to_its_helper_over_the_fd_given() -> None:
    video = "<video><driver name='vhostuser' ats='on'/><model type='virtio' heads='1'/></video>"
    argv = _vhost_argv(video * 2, fds={"video0-vhost-user": 41, "video1-vhost-user": 42})
    assert "socket,id=chr-vu-video0,fd=41" in argv and "socket,id=chr-vu-video1,fd=42" in argv
    devices = [a for a in argv if a.startswith('{"driver":"vhost-user-')]
    # the primary card is the VGA-compatible model, no virtio device to libvirt, so without the virtio options
    assert devices[0].startswith('{"driver":"vhost-user-vga","id":"video0","max_outputs":1,"chardev":"chr-vu-video0"')
    assert devices[1].startswith('{"driver":"vhost-user-gpu-pci","ats":true,"id":"video1","max_outputs":1,')
    with pytest.raises(Error) as exc:  # without the helper there is nothing to talk to
        _vhost_argv(video)
    assert "vhost-user-gpu helper" in str(exc.value)
    with pytest.raises(Error) as exc:
        _vhost_argv(video.replace("virtio", "vga"), fds={"video0-vhost-user": 41})
    assert str(exc.value) == "unsupported configuration: 'vhostuser' driver is only supported with 'virtio' device"


def test_virtiofs_uses_the_daemons_socket() -> None:
    fs = ("<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs' queue='1024'/>SOURCE"
          "<target dir='tag'/><boot order='2'/></filesystem>")  # fmt: skip
    external = _vhost_argv(fs.replace("SOURCE", "<source socket='/run/fs.sock'/>"))
    i = external.index("socket,id=chr-vu-fs0,path=/run/fs.sock")
    assert external[i + 2] == ('{"driver":"vhost-user-fs-pci","id":"fs0","chardev":"chr-vu-fs0","queue-size":1024,'
                               '"tag":"tag","bootindex":2,"bus":"pci.0","addr":"0x2"}')  # fmt: skip
    managed = fs.replace("SOURCE", "<source dir='/srv'/>")
    # a daemon the driver starts listens in the guest's private directory
    assert "socket,id=chr-vu-fs0,path=/tmp/lib/fs0-fs.sock" in _vhost_argv(managed, virtiofsd_started=True)
    with pytest.raises(Error) as exc:
        _vhost_argv(managed)
    assert "it needs virtiofsd started by the driver" in str(exc.value)
    with pytest.raises(Error) as exc:
        _vhost_argv(managed, backing="", virtiofsd_started=True)
    assert str(exc.value) == "unsupported configuration: 'virtiofs' requires shared memory"


# ---------------------------------------------------------------- NBD over TLS (issue 13)
_NBD_DISK = """<domain type='qemu'><name>g</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory><vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='network' device='disk'><driver name='qemu' type='raw'/>
      <source protocol='nbd'TLS><host name='HOST' port='PORT'/></source><target dev='vda' bus='virtio'/></disk>
    <memballoon model='none'/>
  </devices></domain>"""


def _nbd_argv(tls: str, cfg: object, *flags: str, host: str = "example.com", port: int = 1234) -> list[str]:
    from pyvirt_qemu.network_disks import NbdTls
    from pyvirt_qemu.qemu_secrets import GuestSecrets

    assert cfg is None or isinstance(cfg, NbdTls)
    caps = _caps("x86_64", "pc", "device.json+hotplug", "object.qapified", "blockdev.nbd.tls-hostname", *flags)
    xml = _NBD_DISK.replace("TLS", tls).replace("HOST", host).replace("PORT", str(port))
    dom = apply_defaults(parse_domain(xml), caps=caps)
    secrets = GuestSecrets(master_key=bytes(32), lookup=lambda usage, uuid, name: ("tls", b"key passphrase"))
    return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}, secrets=secrets, nbd_tls=cfg).argv  # fmt: skip


def test_an_nbd_disk_over_tls_gets_client_credentials() -> None:
    """``<source protocol='nbd' tls='yes'>`` was refused: now a tls-creds-x509 object of nbd_tls_x509_cert_dir
    (its key's secret first when qemu.conf names one) and the storage node's tls-creds / tls-hostname."""
    from pyvirt_qemu.network_disks import NbdTls

    cfg = NbdTls(cert_dir="/etc/pki/nbd", secret_uuid="6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea")
    argv = _nbd_argv(" tls='yes' tlsHostname='nbd.example'", cfg, "nbd-tls")
    objects = [argv[i + 1] for i, a in enumerate(argv) if a == "-object"]
    assert '"id":"objlibvirt-1-storage_tls0-secret0"' in objects[-2]
    assert objects[-1] == ('{"qom-type":"tls-creds-x509","id":"objlibvirt-1-storage_tls0","dir":"/etc/pki/nbd",'
                           '"endpoint":"client","verify-peer":true,"passwordid":"objlibvirt-1-storage_tls0-secret0"}')  # fmt: skip
    storage = argv[argv.index("-blockdev") + 1]
    assert storage.startswith('{"driver":"nbd","server":{"type":"inet","host":"example.com","port":"1234"},'
                              '"tls-creds":"objlibvirt-1-storage_tls0","tls-hostname":"nbd.example",'
                              '"node-name":"libvirt-1-storage"')  # fmt: skip
    # qemu.conf's nbd_tls applies to a source that does not say; tls='no' opts out
    assert "tls-creds" in " ".join(_nbd_argv("", NbdTls(enabled=True), "nbd-tls"))
    assert "tls-creds" not in " ".join(_nbd_argv(" tls='no'", NbdTls(enabled=True), "nbd-tls"))
    assert "tls-creds" not in " ".join(_nbd_argv("", None, "nbd-tls"))
    with pytest.raises(Error) as exc:  # a QEMU without QEMU_CAPS_NBD_TLS
        _nbd_argv(" tls='yes'", None)
    assert str(exc.value) == "unsupported configuration: this qemu does not support TLS transport for NBD"


def test_qemu_conf_nbd_tls_settings(tmp_path: Path) -> None:
    """qemu.conf's nbd_tls keys were accepted and ignored; the driver now hands them to every start."""
    conf = tmp_path / "qemu.conf"
    conf.write_text('nbd_tls = 1\nnbd_tls_x509_cert_dir = "/etc/pki/n"\nnbd_tls_x509_secret_uuid = "u-1"\n')
    cfg = load_qemu_settings(str(conf)).nbd_tls_config()
    assert (cfg.enabled, cfg.cert_dir, cfg.secret_uuid) == (True, "/etc/pki/n", "u-1")
    conf.write_text('default_tls_x509_cert_dir = "/etc/pki/d"\ndefault_tls_x509_secret_uuid = "u-2"\n')
    cfg = load_qemu_settings(str(conf)).nbd_tls_config()
    wanted_dir = "/etc/pki/libvirt-nbd" if os.path.exists("/etc/pki/libvirt-nbd") else "/etc/pki/d"
    assert (cfg.enabled, cfg.cert_dir, cfg.secret_uuid) == (False, wanted_dir, "u-2")


def test_qemu_reads_an_nbd_export_over_tls(tmp_path: Path) -> None:
    """The real thing: qemu-nbd serves an image over TLS only; QEMU opens it with the objects and nodes this
    driver writes (and the certificate's name checked through tlsHostname), and cannot without TLS."""
    import json
    import shutil
    import socket
    import subprocess

    from pyvirt_qemu.network_disks import NbdTls

    if not all(shutil.which(p) for p in ("qemu-system-x86_64", "qemu-nbd", "qemu-img", "openssl")):
        pytest.skip("needs Debian's qemu-system-x86, qemu-utils and openssl")

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
        "-subj", "/CN=pyvirt test CA", "-days", "1")  # fmt: skip
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
        "-subj", "/CN=nbd.pyvirt.test")  # fmt: skip
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "server-cert.pem", "-days", "1")  # fmt: skip
    image = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "create", "-f", "raw", str(image), "1M"], check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["qemu-nbd", "--object", f"tls-creds-x509,id=tls0,endpoint=server,dir={tmp_path},"
                               "verify-peer=off", "--tls-creds", "tls0", "-f", "raw", "-b", "127.0.0.1", "-p",
                               str(port), "-t", str(image)], stderr=subprocess.PIPE)  # fmt: skip

    def open_with(tls: str) -> str:
        argv = _nbd_argv(tls, NbdTls(cert_dir=str(tmp_path)), "nbd-tls", host="127.0.0.1", port=port)
        wanted = [argv[i + j] for i, a in enumerate(argv) if a in ("-object", "-blockdev")
                  and ("storage" in argv[i + 1] or "libvirt-1" in argv[i + 1]) for j in (0, 1)]  # fmt: skip
        qmp = "\n".join(json.dumps(c) for c in ({"execute": "qmp_capabilities"},
                                                {"execute": "query-named-block-nodes"}, {"execute": "quit"}))  # fmt: skip
        done = subprocess.run(["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none", "-S",
                               "-qmp", "stdio", *wanted], input=qmp + "\n", capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        return done.stdout + done.stderr

    try:
        deadline = time.monotonic() + 20
        while True:  # qemu-nbd listening
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except ConnectionRefusedError:
                assert server.poll() is None and time.monotonic() < deadline, "qemu-nbd never listened"
                time.sleep(0.1)
        assert '"node-name": "libvirt-1-format"' in open_with(" tls='yes' tlsHostname='nbd.pyvirt.test'")
        refused = open_with("")  # in clear: the server wants TLS first
        assert "libvirt-1-format" not in refused and "TLS" in refused
        wrong = open_with(" tls='yes' tlsHostname='other.pyvirt.test'")  # the certificate names another host
        assert '"node-name": "libvirt-1-format"' not in wrong
    finally:
        server.kill()
        server.wait()
        if server.stderr:
            server.stderr.close()


# ---------------------------------------------------------------- volume disks translated (issue 13)
class _Storage:
    """A storage driver stand-in: pools by XML, volumes by (type number, path); what resolve_volume_disk asks."""

    class _Vol:
        def __init__(self, kind: int, path: str) -> None:
            self.kind, self._path = kind, path

        def info(self) -> object:
            from pyvirt.plugin.records import VolumeInfo

            return VolumeInfo(self.kind, 0, 0)

        def path(self) -> str:
            return self._path

    class _Pool:
        def __init__(self, xml: str, volumes: dict[str, tuple[int, str]], active: bool = True) -> None:
            self.xml, self.volumes, self.active = xml, volumes, active

        def is_active(self) -> bool:
            return self.active

        def xml_desc(self) -> str:
            return self.xml

        def lookup_volume_by_name(self, name: str) -> object:
            return _Storage._Vol(*self.volumes[name])

    def __init__(self, **pools: _Storage._Pool) -> None:
        self.pools = pools

    def lookup_storage_pool_by_name(self, name: str) -> object:
        return self.pools[name]


_ISCSI_POOL = """<pool type='{kind}'><name>p</name><source><host name='iscsi.example' port='3261'/>
  <device path='iqn.2013-06.com.example:t'/>{auth}<initiator><iqn name='iqn.2013-06.com.example:me'/></initiator>
  </source><target><path>/dev/disk/by-path</path></target></pool>"""


def _volume_disk(attrs: str) -> str:
    return f"<disk type='volume' device='disk'><source pool='p' volume='unit:0:0:3'{attrs}/><target dev='vda'/></disk>"


def _volume_guest(attrs: str) -> Any:
    """A guest whose one disk is a volume of pool 'p'."""
    return parse_domain(f"<domain type='qemu'><name>v</name><memory>65536</memory><os><type>hvm</type></os>"
                        f"<devices>{_volume_disk(attrs)}</devices></domain>")  # fmt: skip


def test_volume_disks_are_translated_as_libvirt_translates_them() -> None:
    """A volume was only ever a file or block path: now iSCSI LUNs by host device or QEMU's own initiator, with
    the pool's host, target, CHAP user and initiator, and a directory as a FAT drive (libvirt's translation)."""
    from pyvirt_qemu.volume_disks import apply_volume_paths, resolve_volume_disk, volume_paths

    auth = "<auth type='chap' username='admin'><secret usage='libvirtiscsi'/></auth>"
    storage = _Storage(p=_Storage._Pool(_ISCSI_POOL.format(kind="iscsi", auth=auth),
                                        {"unit:0:0:3": (1, "/dev/disk/by-path/ip-lun-3")}))  # fmt: skip
    host = _volume_guest("").devices.disks[0]
    resolve_volume_disk(storage, host)
    assert (host.source_mode, host.source_dev, host.driver_type) == ("host", "/dev/disk/by-path/ip-lun-3", "raw")
    dom = _volume_guest(" mode='direct'")
    direct = dom.devices.disks[0]
    resolve_volume_disk(storage, direct)
    assert (direct.source_protocol, direct.source_name) == ("iscsi", "iqn.2013-06.com.example:t/3")
    assert direct.source_hosts is not None and (direct.source_hosts[0].name, direct.source_hosts[0].port) == (
        "iscsi.example", "3261")  # fmt: skip
    assert direct.source_auth is not None and (direct.source_auth.username, direct.source_auth.secret_type,
                                               direct.source_auth.secret_usage) == ("admin", "iscsi", "libvirtiscsi")  # fmt: skip
    assert direct.source_initiator_iqn == "iqn.2013-06.com.example:me"
    # the live XML names the volume only; the status file keeps the translation for a later process
    xml = format_domain(dom).replace('"', "'")
    assert "<source pool='p' volume='unit:0:0:3' mode='direct'>" in xml and "<host" not in xml and "iqn.2013" not in xml
    recorded = volume_paths(dom)
    again = parse_domain(format_domain(dom))
    apply_volume_paths(again, recorded)
    assert again.devices is not None and again.devices.disks[0].source_name == "iqn.2013-06.com.example:t/3"
    assert again.devices.disks[0].source_auth is not None and again.devices.disks[0].source_auth.username == "admin"
    # an iscsi-direct pool is always QEMU's initiator; a dir pool's directory is a FAT drive
    storage.pools["p"] = _Storage._Pool(_ISCSI_POOL.format(kind="iscsi-direct", auth=""), {"unit:0:0:3": (3, "")})
    plain = _volume_guest("").devices.disks[0]
    resolve_volume_disk(storage, plain)
    assert plain.source_protocol == "iscsi" and plain.source_auth is None
    storage.pools["p"] = _Storage._Pool("<pool type='dir'><name>p</name><target><path>/v</path></target></pool>",
                                        {"unit:0:0:3": (2, "/v/share")})  # fmt: skip
    fat = _volume_guest("").devices.disks[0]
    resolve_volume_disk(storage, fat)
    assert (fat.source_dir, fat.driver_type) == ("/v/share", "fat")


def test_volume_disks_refused_as_libvirt_refuses_them() -> None:
    from pyvirt_qemu.volume_disks import resolve_volume_disk

    def refusal(pool: _Storage._Pool, attrs: str = "") -> tuple[ErrorCode, str]:
        with pytest.raises(Error) as exc:
            resolve_volume_disk(_Storage(p=pool), _volume_guest(attrs).devices.disks[0])
        return exc.value.code, str(exc.value)

    dir_pool = "<pool type='dir'><name>p</name><target><path>/v</path></target></pool>"
    assert refusal(_Storage._Pool(dir_pool, {"unit:0:0:3": (0, "/v/f")}, active=False)) == (
        ErrorCode.CONFIG_UNSUPPORTED,
        "unsupported configuration: storage pool 'p' containing volume 'unit:0:0:3' is not active")  # fmt: skip
    assert refusal(_Storage._Pool(dir_pool, {"unit:0:0:3": (0, "/v/f")}), " mode='direct'") == (
        ErrorCode.XML_ERROR, "XML error: disk source mode is only valid when storage pool is of iscsi type")  # fmt: skip
    assert refusal(_Storage._Pool(dir_pool, {"unit:0:0:3": (4, "/v/f")})) == (
        ErrorCode.INTERNAL_ERROR, "internal error: unexpected storage volume type 'netdir' for storage pool type 'dir'")  # fmt: skip
    rbd = "<pool type='rbd'><name>p</name><source><name>r</name><host name='mon'/></source></pool>"
    assert refusal(_Storage._Pool(rbd, {"unit:0:0:3": (3, "r/x")})) == (
        ErrorCode.CONFIG_UNSUPPORTED,
        "unsupported configuration: using 'rbd' pools for backing 'volume' disks isn't yet supported")  # fmt: skip
    two_hosts = _ISCSI_POOL.format(kind="iscsi-direct", auth="").replace("<host", "<host name='b'/><host", 1)
    assert refusal(_Storage._Pool(two_hosts, {"unit:0:0:3": (3, "")})) == (
        ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Expected exactly 1 host for the storage pool")  # fmt: skip


def test_a_network_variable_store_is_a_network_pflash1() -> None:
    """<nvram type='network'> was refused: it is pflash1 on the server's block driver, its secret first."""
    from pyvirt_qemu.qemu_secrets import GuestSecrets

    source = ("<nvram type='network'><source protocol='iscsi' name='iqn.2013-07.com.example:vars'>"
              "<host name='example.com' port='6000'/><auth username='me'><secret type='iscsi' usage='u'/></auth>"
              "</source></nvram>")  # fmt: skip
    xml = _FW_GUEST.replace("FIRMWARE", "").replace("MACHINE", "pc").replace("FEATURES", "").replace("PM", "")
    xml = xml.replace("OS", f"<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>{source}")
    caps = _caps("x86_64", "pc")
    secrets = GuestSecrets(lookup=lambda usage, uuid, name: ("iscsi", b"password"))
    argv = build_command_line(apply_defaults(parse_domain(xml), caps=caps), "/tmp/m.sock", fds={"monitor": 3},
                              lib_dir="/tmp/lib", caps=caps, hugepage_mounts=[], host_nodes={0},
                              secrets=secrets).argv  # fmt: skip
    i = argv.index(
        '{"node-name":"libvirt-pflash0-format","read-only":true,"driver":"raw","file":"libvirt-pflash0-storage"}'
    )
    assert argv[i + 1] == "-object" and "id=libvirt-pflash1-storage-auth-secret0," in argv[i + 2]  # (keyval here)
    assert argv[i + 4] == ('{"driver":"iscsi","portal":"example.com:6000","target":"iqn.2013-07.com.example:vars",'
                           '"lun":0,"transport":"tcp","user":"me","password-secret":"libvirt-pflash1-storage-auth-secret0",'
                           '"node-name":"libvirt-pflash1-storage","auto-read-only":true,"discard":"unmap"}')  # fmt: skip
    assert argv[argv.index("-machine") + 1].endswith(",pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format")


def test_firmware_features_without_autoselection_are_ignored_when_read_back() -> None:
    """libvirt 8.6-9.1 wrote <firmware> features without firmware='...' into migratable XML: read back they
    are ignored (the loader given by path runs); in a new definition they are still refused."""
    from pyvirt_qemu.firmware import resolve_firmware

    features = "<loader readonly='yes' type='pflash'>/fw/CODE.fd</loader><firmware><feature enabled='no' " \
        "name='enrolled-keys'/></firmware>"  # fmt: skip
    xml = _FW_GUEST.replace("FIRMWARE", "").replace("MACHINE", "pc").replace("FEATURES", "").replace("PM", "")
    xml = xml.replace("OS", features)
    caps = _caps("x86_64", "pc")
    dom = apply_defaults(parse_domain(xml), caps=caps, new_domain=False)
    assert dom.os is not None and dom.os.firmware_features is None
    resolve_firmware(dom, "pc", "/nvram")  # (no descriptor here names the loader: the old style's own store)
    argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    assert '{"driver":"file","filename":"/fw/CODE.fd","node-name":"libvirt-pflash0-storage",' in "".join(argv)
    with pytest.raises(Error) as exc:
        apply_defaults(parse_domain(xml), caps=caps)
    assert exc.value.code == ErrorCode.XML_DETAIL
    assert str(exc.value) == "cannot use feature-based firmware autoselection when firmware autoselection is disabled"


# ---------------------------------------------------------------- vDPA NICs (issue 13)
def test_a_vdpa_nic_is_an_fd_set_and_a_vhost_vdpa_netdev() -> None:
    """``<interface type='vdpa'>`` was refused: the driver's fd of the device reaches QEMU through -add-fd, the
    netdev names the set, and ``<driver queues>`` makes it multiqueue (libvirt's mq and vectors=2N+2)."""
    from pyvirt_qemu.vdpa import vdpa_fd_key

    nic = ("<interface type='vdpa'><mac address='52:54:00:95:db:c0'/><source dev='/dev/vhost-vdpa-0'/>"
           "<model type='virtio'/>QUEUES</interface>")  # fmt: skip
    caps = _caps("x86_64", "pc", "device.json+hotplug", "netdev.json")

    def argv(queues: str) -> list[str]:
        xml = X86.replace("ENV", "").replace("<memballoon", nic.replace("QUEUES", queues) + "<memballoon")
        dom = apply_defaults(parse_domain(xml), caps=caps)
        return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3, vdpa_fd_key(0): 17}, lib_dir="/tmp/lib",
                                  caps=caps, hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip

    one = argv("")
    at = one.index("-add-fd")
    assert one[at : at + 4] == ["-add-fd", "set=0,fd=17,opaque=net0-vdpa", "-netdev",
                                '{"type":"vhost-vdpa","vhostdev":"/dev/fdset/0","id":"hostnet0"}']  # fmt: skip
    assert one[at + 5].startswith('{"driver":"virtio-net-pci","netdev":"hostnet0","id":"net0"')
    two = argv("<driver queues='2'/>")
    at = two.index("-netdev")
    assert two[at + 1] == '{"type":"vhost-vdpa","vhostdev":"/dev/fdset/0","queues":2,"id":"hostnet0"}'
    assert two[at + 3].startswith('{"driver":"virtio-net-pci","mq":true,"vectors":6,"netdev":"hostnet0"')


def test_opening_vdpa_devices(tmp_path: Path) -> None:
    from pyvirt_qemu.vdpa import open_vdpa_fds, vdpa_fd_key

    def guest(path: str) -> Any:
        return parse_domain(f"<domain type='qemu'><name>v</name><memory>65536</memory><os><type>hvm</type></os>"
                            f"<devices><interface type='user'/><interface type='vdpa'><source dev='{path}'/>"
                            f"</interface></devices></domain>")  # fmt: skip

    node = tmp_path / "vhost-vdpa-0"
    node.write_bytes(b"")
    fds = open_vdpa_fds(guest(str(node)))
    try:
        assert list(fds) == [vdpa_fd_key(1)] and os.readlink(f"/proc/self/fd/{fds[vdpa_fd_key(1)]}") == str(node)
    finally:
        for fd in fds.values():
            os.close(fd)
    with pytest.raises(Error) as exc:
        open_vdpa_fds(guest(str(tmp_path / "missing")))
    assert (exc.value.code, str(exc.value)) == (
        ErrorCode.SYSTEM_ERROR, f"Unable to open '{tmp_path}/missing' for vdpa device: No such file or directory")  # fmt: skip


def test_starts_refuse_missing_vdpa_and_scsi_host_devices(conn: Any, virt_type: str, qemu_root: Path,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """A real start of a guest whose vDPA device, host SCSI device or vhost-scsi module this host lacks fails with
    libvirt's words and leaves nothing behind (no process, no status, no sockets)."""
    guest = ("<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>"
             "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{dev}</devices></domain>")  # fmt: skip
    cases = {
        "vdpa": (f"<interface type='vdpa'><source dev='{tmp_path}/vhost-vdpa-9'/></interface>",
                 f"Unable to open '{tmp_path}/vhost-vdpa-9' for vdpa device: No such file or directory"),
        "sg": ("<controller type='scsi' model='virtio-scsi'/><hostdev mode='subsystem' type='scsi'><source>"
               "<adapter name='scsi_host97'/><address bus='0' target='0' unit='3'/></source></hostdev>",
               "Failed to open /sys/bus/scsi/devices/97:0:0:3/scsi_generic"),
    }  # fmt: skip
    if not os.path.exists("/dev/vhost-scsi"):
        cases["vhostscsi"] = ("<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' "
                              "wwpn='naa.5123456789abcde0'/></hostdev>", "vhost-scsi is not supported")  # fmt: skip
    for name, (dev, words) in cases.items():
        dom = conn.define_domain(guest.format(virt=virt_type, name=name, dev=dev))
        with pytest.raises(Error) as exc:
            dom.create()
        assert words in str(exc.value), str(exc.value)
        assert not dom.is_active()
        assert not list((qemu_root / "run" / "qemu").glob(f"{name}.*"))
        dom.undefine()


# ---------------------------------------------------------------- startupPolicy (issue 13)
def test_startup_policies_let_missing_images_go_as_libvirt_does(tmp_path: Path) -> None:
    """A ``startupPolicy`` was refused outright: now the command line takes the disk, and a start lets a missing
    image go as qemuDomainCheckDiskStartupPolicy does (a disk removed, a CD-ROM emptied, 'requisite' only when
    not cold-booting), else fails on the missing file."""
    from pyvirt_qemu.startup_policy import check_startup_policies, drop_missing_disks

    present = tmp_path / "present.img"
    present.write_bytes(b"")

    def guest(*disks: tuple[str, str, str, str]) -> Any:
        xml = ""
        for dev, path, policy, target in disks:  # (device, image, startupPolicy or '', target)
            attr = f" startupPolicy='{policy}'" if policy else ""
            xml += f"<disk type='file' device='{dev}'><source file='{path}'{attr}/><target dev='{target}'/></disk>"
        return parse_domain(f"<domain type='qemu'><name>v</name><memory>65536</memory><os><type>hvm</type></os>"
                            f"<devices>{xml}</devices></domain>")  # fmt: skip

    missing = str(tmp_path / "missing.img")
    dom = guest(("disk", missing, "optional", "vda"), ("disk", str(present), "optional", "vdb"),
                ("cdrom", missing, "optional", "hdc"))  # fmt: skip
    assert drop_missing_disks(dom, cold_boot=True) == ["hdc", "vda"]  # (last disk first, as libvirt looks)
    assert [d.target_dev for d in dom.devices.disks] == ["vdb", "hdc"]
    cdrom = dom.devices.disks[1]
    assert cdrom.source_file is None and cdrom.source_startup_policy is None
    for disks, cold, words in (
        ([("disk", missing, "", "vda")], True, f"Cannot access storage file '{missing}': No such file or directory"),
        ([("disk", missing, "mandatory", "vda")], True, "Cannot access storage file"),
        ([("cdrom", missing, "requisite", "hdc")], True, "Cannot access storage file"),
        ([("disk", missing, "optional", "vda")], False, "Cannot access storage file"),  # a restore keeps disks
    ):  # fmt: skip
        with pytest.raises(Error) as exc:
            drop_missing_disks(guest(*disks), cold_boot=cold)
        assert exc.value.code == ErrorCode.SYSTEM_ERROR and words in str(exc.value)
    restored = guest(("cdrom", missing, "requisite", "hdc"))
    assert drop_missing_disks(restored, cold_boot=False) == ["hdc"]
    with pytest.raises(Error) as exc:
        check_startup_policies(guest(("disk", str(present), "requisite", "vda")))
    assert str(exc.value) == "XML error: disk startupPolicy 'requisite' is allowed only for cdrom or floppy"


def test_a_kvm_without_smm_passes_over_the_builds_that_need_it(
    firmware_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """QEMU cannot turn SMM on under a KVM without it (kvm-pvm here): the Secure Boot build would not start."""
    import pyvirt_qemu.firmware as firmware
    from pyvirt_qemu.firmware import resolve_firmware

    def loader_of(virt: str) -> str | None:
        xml = _FW_GUEST.replace("type='qemu'", f"type='{virt}'").replace("FIRMWARE", " firmware='efi'")
        dom = parse_domain(
            xml.replace("MACHINE", "pc-q35-4.0").replace("OS", "").replace("FEATURES", "").replace("PM", "")
        )
        resolve_firmware(dom, "pc-q35-4.0", "/nvram")
        return dom.os.loader.path if dom.os is not None and dom.os.loader is not None else None

    monkeypatch.setattr(firmware, "kvm_smm", lambda: False)
    assert loader_of("kvm") == "/fw/CODE.fd"
    assert loader_of("qemu") == "/fw/SB_CODE.fd"  # TCG has SMM
    monkeypatch.setattr(firmware, "kvm_smm", lambda: True)
    assert loader_of("kvm") == "/fw/SB_CODE.fd"


# ---------------------------------------------------------------- transient disks (issue 13)
def test_transient_disks_on_the_command_line() -> None:
    """A ``<transient/>`` disk was refused: its image goes on the command line as it is (the overlay comes over
    QMP once QEMU runs), one sharing its image is left to the hot-plug after the start, and libvirt's rules hold."""
    caps = _caps("x86_64", "pc", "device.json+hotplug")

    def argv(disks: str) -> list[str]:
        xml = X86.replace("ENV", "").replace("<memballoon", disks + "<memballoon")
        dom = apply_defaults(parse_domain(xml), caps=caps)
        return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                                  hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip

    disk = "<disk type='file' device='disk'><source file='/i/{0}.img'/><target dev='{0}' bus='virtio'/>{1}</disk>"
    text = " ".join(argv(disk.format("vda", "<transient shareBacking='yes'/>") + disk.format("vdb", "<transient/>")))
    assert "/i/vda.img" not in text and "virtio-disk0" not in text
    assert '{"driver":"file","filename":"/i/vdb.img","node-name":"libvirt-1-storage"' in text
    for extra, words in (
        ("<transient/><readonly/>", "transient disk 'vda' must not be read-only"),
        ("<transient shareBacking='yes'/>", "disk bus 'sata' doesn't support transiend disk backing image sharing"),
    ):  # fmt: skip
        xml = disk.format("vda", extra)
        if "shareBacking" in extra:
            xml = xml.replace("dev='vda' bus='virtio'", "dev='sda' bus='sata'")
        with pytest.raises(Error) as exc:
            argv(xml)
        assert str(exc.value) == f"unsupported configuration: {words}"


# ---------------------------------------------------------------- NFS disks (issue 13)
def test_nfs_disks_and_backing_images() -> None:
    """``protocol='nfs'`` was refused: QEMU's nfs driver with the server, the export path and the identity
    (``+N`` a number, else a name of the host's databases), also as a backing image of another disk."""
    from pyvirt_qemu.network_disks import network_storage_props

    from pyvirt.conf.domain_devices import BackingStore

    xml = ("<domain type='qemu'><name>n</name><memory>65536</memory><os><type>hvm</type></os><devices>"
           "<disk type='network' device='disk'><driver name='qemu' type='qcow2'/>"
           "<source protocol='nfs' name='/export/top.qcow2'><host name='nfs.example'/>"
           "<identity user='root' group='+5678'/></source>"
           "<backingStore type='network'><format type='raw'/><source protocol='nfs' name='/export/base.raw'>"
           "<host name='nfs.example'/></source><backingStore/></backingStore>"
           "<target dev='vda' bus='virtio'/></disk></devices></domain>")  # fmt: skip
    disk = parse_domain(xml).devices.disks[0]
    assert network_storage_props(disk) == {"driver": "nfs", "server": {"host": "nfs.example", "type": "inet"},
                                           "path": "/export/top.qcow2", "user": 0, "group": 5678}  # fmt: skip
    assert isinstance(disk.backing, BackingStore)
    assert network_storage_props(disk.backing) == {"driver": "nfs", "server": {"host": "nfs.example", "type": "inet"},
                                                   "path": "/export/base.raw"}  # fmt: skip
    disk.source_identity_user = "no-such-user-here"
    with pytest.raises(Error) as exc:
        network_storage_props(disk)
    assert (exc.value.code, str(exc.value)) == (ErrorCode.INVALID_ARG,
                                                "invalid argument: Failed to parse user 'no-such-user-here'")  # fmt: skip


def test_a_usb_host_devices_guest_reset() -> None:
    """``<source guestReset>`` was refused by name: QEMU's usb-host guest-reset / guest-resets-all."""
    caps = _caps("x86_64", "pc", "device.json+hotplug", "usb-host.hostdevice")

    def device(reset: str) -> str:
        dev = (f"<hostdev mode='subsystem' type='usb'><source{reset}><address bus='14' device='6'/></source>"
               "</hostdev><memballoon")  # fmt: skip
        dom = apply_defaults(parse_domain(X86.replace("ENV", "").replace("<memballoon", dev)), caps=caps)
        argv = build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                                  hugepage_mounts=[], host_nodes={0}, standalone=True).argv  # fmt: skip
        return next(a for a in argv if a.startswith('{"driver":"usb-host"'))

    assert '"id":"hostdev0","guest-reset":true,"guest-resets-all":false,' in device(" guestReset='uninitialized'")
    assert '"id":"hostdev0","guest-reset":true,"guest-resets-all":true,' in device(" guestReset='on'")
    assert '"id":"hostdev0","guest-reset":false,"bus"' in device(" guestReset='off'")
    assert "guest-reset" not in device("")
    with pytest.raises(Error) as exc:
        device(" guestReset='sometimes'")
    assert str(exc.value).endswith("Invalid value for attribute 'guestReset' in element 'source': 'sometimes'.")


def test_a_hostdev_managed_word_libvirt_cannot_read_is_ignored() -> None:
    """virDomainHostdevDefParseXMLSubsys ignores a ``managed`` it cannot read (the device is then unmanaged);
    pyvirt refused the whole definition (found by the mutated corpus once USB host devices with guestReset parsed)."""
    xml = ("<domain type='qemu'><name>m</name><memory>65536</memory><os><type>hvm</type></os><devices>"
           "<hostdev mode='subsystem' type='usb' managed='on '><source><address bus='1' device='2'/></source>"
           "</hostdev></devices></domain>")  # fmt: skip
    dom = apply_defaults(parse_domain(xml), caps=_caps("x86_64", "pc"))
    assert dom.devices is not None and dom.devices.hostdevs[0].managed is False
    assert "managed='no'" in format_domain(dom).replace('"', "'")


def test_virtio_scsi_controller_tuning_reaches_qemu(conn: Any, virt_type: str, guest_monitor: Any) -> None:
    """``<controller type='scsi' model='virtio-scsi'><driver cmd_per_lun max_sectors ioeventfd>`` was refused by
    name: a real QEMU now runs with them (read back over QMP)."""
    xml = (f"<domain type='{virt_type}'><name>vscsi</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
           "<controller type='scsi' index='0' model='virtio-scsi'>"
           "<driver queues='2' cmd_per_lun='50' max_sectors='512' ioeventfd='off'/></controller>"
           "<memballoon model='none'/></devices></domain>")  # fmt: skip
    dom = conn.define_domain(xml)
    assert "<driver queues='2' cmd_per_lun='50' max_sectors='512' ioeventfd='off'/>" in dom.xml_desc().replace(
        '"', "'")  # fmt: skip
    dom.create()
    try:
        monitor = guest_monitor(dom)

        def prop(path: str, name: str) -> Any:
            return monitor.execute("qom-get", {"path": path, "property": name})

        backend = "/machine/peripheral/scsi0/virtio-backend"
        assert (prop(backend, "cmd_per_lun"), prop(backend, "max_sectors"), prop(backend, "num_queues")) == (50, 512, 2)
        assert prop("/machine/peripheral/scsi0", "ioeventfd") is False
    finally:
        dom.destroy()
        dom.undefine()


def test_a_guest_with_a_transient_disk_does_not_migrate(tmp_path: Path) -> None:
    """qemuMigrationSrcIsAllowed: the overlay is this host's, deleted when the guest stops here."""
    from pyvirt_qemu.migration_checks import check_allowed
    from pyvirt_qemu.state import DomainObj

    from pyvirt.local_driver.paths import embed_paths

    xml = ("<domain type='kvm'><name>g</name><memory unit='MiB'>64</memory><os><type>hvm</type></os><devices>"
           "<disk type='file' device='disk'><source file='/i/a.img'/><target dev='vda'/><transient/></disk>"
           "</devices></domain>")  # fmt: skip
    with pytest.raises(Error) as exc:
        check_allowed(embed_paths(str(tmp_path), "qemu"), DomainObj(live=parse_domain(xml), persistent=False))
    assert (exc.value.code, str(exc.value)) == (ErrorCode.OPERATION_INVALID,
                                                "Requested operation is not valid: migration with transient disk is "
                                                "not supported")  # fmt: skip


def test_an_s390_guests_pci_functions_get_their_zpci_device() -> None:
    """PCI host devices of s390 guests were refused: each PCI function now has its ``zpci`` device (uid, fid,
    target) in front of it, as qemuCommandAddExtDevice writes it (a virtio disk's too: the corpus's
    disk-virtio-s390-zpci)."""
    caps = _caps("s390x", "s390-ccw-virtio", "zpci")
    hostdev = ("<hostdev mode='subsystem' type='pci' managed='no'><driver name='vfio'/><source>"
               "<address domain='0x0000' bus='0x00' slot='0x00' function='0x0'/></source>"
               "<address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'>"
               "<zpci uid='0x0019' fid='0x0000001f'/></address></hostdev>")  # fmt: skip

    def argv(devices: str) -> list[str]:
        dom = apply_defaults(parse_domain(S390.replace("KEYWRAP", "").replace("<memballoon", devices + "<memballoon")),
                             caps=caps)  # fmt: skip
        return build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                                  hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip

    out = argv(hostdev)
    at = out.index("zpci,uid=25,fid=31,target=hostdev0,id=zpci25")
    assert out[at + 1 : at + 3] == ["-device", "vfio-pci,host=0000:00:00.0,id=hostdev0,bus=pci.0,addr=0x8"]
    with pytest.raises(Error) as exc:  # (no PCI slot is placed on s390 yet)
        argv(hostdev.replace(" domain='0x0000' bus='0x00' slot='0x08' function='0x0'", ""))
    assert "automatic PCI address placement for a host device of an s390 guest" in str(exc.value)
