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
