"""libvirt's QEMU corpora run as libvirt runs them, and the pieces that make that possible.

The capability sets come from libvirt's own cache format, the defaults and the
command line follow them (legacy ``-usb``, key=value ``-device``/``-object`` on
QEMUs without JSON there, no ``dies=`` before QEMU 4.1), and the scores of
``qemuxml2xmltest``/``qemuxml2argvtest`` may not drop below the recorded floor.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pyvirt_qemu.command_line import build_command_line, keyval_arg
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine, from_libvirt_cache, strip_machine_aliases

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode

sys.path.insert(0, str(Path(__file__).resolve().parent))

CAPS_XML = b"""<qemuCaps>
  <emulator>/usr/bin/qemu-system-x86_64</emulator>
  <version>7002050</version>
  <arch>x86_64</arch>
  <flag name='piix3-usb-uhci'/>
  <flag name='device.json+hotplug'/>
  <cpu type='kvm' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <cpu type='kvm' name='athlon' typename='athlon-x86_64-cpu' usable='no'/>
  <cpu type='tcg' name='max' typename='max-x86_64-cpu' usable='yes'/>
  <cpu type='tcg' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <machine type='kvm' name='pc-i440fx-8.0' alias='pc' maxCpus='255' default='yes'
           defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='kvm' name='pc-q35-8.0' alias='q35' maxCpus='288' defaultCPU='qemu64-x86_64-cpu'/>
  <machine type='tcg' name='isapc' maxCpus='1'/>
  <machine type='tcg' name='pc-i440fx-8.0' alias='pc' maxCpus='255' defaultCPU='qemu64-x86_64-cpu'/>
</qemuCaps>
"""

GUEST = """<domain type='qemu'>
  <name>g</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='block' device='disk'><source dev='/dev/vg/g'/><target dev='hda' bus='ide'/></disk>
    <serial type='pty'><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"""


def _fake(*flags: str) -> EmulatorCaps:
    """libvirt's fake test capabilities: named flags, machines pc and q35, no CPU or RAM backend defaults."""
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="x86_64",
                        machines=[Machine("pc", None, 255, True), Machine("q35", None, 288, False)],
                        flags=list(flags), probed=False)  # fmt: skip


def test_capabilities_from_libvirts_cache_format() -> None:
    caps = from_libvirt_cache(CAPS_XML)
    assert (caps.version, caps.version_text, caps.arch) == (7002050, "7.2.50", "x86_64")
    assert caps.has_flag("piix3-usb-uhci") and not caps.has_flag("qemu-xhci")
    assert [m.name for m in caps.machines] == ["pc-i440fx-8.0", "pc-q35-8.0"]  # the KVM half only
    default = caps.default_machine()
    assert default is not None and default.default_cpu == "qemu64" and default.default_ram_id == "pc.ram"
    assert caps.cpu_usable == ["qemu64"] and caps.cpu_models == ["athlon", "qemu64"]
    assert [m.name for m in from_libvirt_cache(CAPS_XML, kvm=False).machines] == ["isapc", "pc-i440fx-8.0"]
    # each machine also knows its TCG default CPU, which a type='qemu' guest gets
    assert [m.default_cpu_tcg for m in caps.machines] == ["qemu64", None]


def test_stripped_aliases_keep_the_alias_as_the_machine_name() -> None:
    caps = strip_machine_aliases(from_libvirt_cache(CAPS_XML))
    default = caps.default_machine()
    assert default is not None and default.name == "pc" and default.default_ram_id == "pc.ram"
    dom = apply_defaults(parse_domain(GUEST), caps=caps)
    assert dom.os is not None and dom.os.type is not None and dom.os.type.machine == "pc"
    # versioned caps turn the alias into the machine type it stands for, with its default CPU
    dom = apply_defaults(parse_domain(GUEST), caps=from_libvirt_cache(CAPS_XML))
    assert dom.os is not None and dom.os.type is not None and dom.os.type.machine == "pc-i440fx-8.0"
    assert dom.cpu is not None and dom.cpu.model is not None and dom.cpu.model.name == "qemu64"


def test_post_parse_defaults_follow_the_capabilities() -> None:
    with_uhci = format_domain(apply_defaults(parse_domain(GUEST), caps=_fake("piix3-usb-uhci")), 2)
    without = format_domain(apply_defaults(parse_domain(GUEST), caps=_fake()), 2)
    assert "<controller type='usb' index='0' model='piix3-uhci'>" in with_uhci
    assert "<controller type='usb' index='0'>" in without
    for xml in (with_uhci, without):
        assert "<driver name='qemu' type='raw'/>" in xml  # qemuDomainDeviceDiskDefPostParse
        assert "<target type='isa-serial' port='0'>" in xml and "<model name='isa-serial'/>" in xml


def _argv(caps: EmulatorCaps, xml: str = GUEST) -> list[str]:
    dom = apply_defaults(parse_domain(xml), caps=caps)
    return build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps, vnc_port=5900,
                              hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip


def test_command_line_of_an_old_qemu() -> None:
    argv = _argv(_fake())
    assert "-usb" in argv and "-sandbox" not in argv and "-cpu" not in argv
    assert "secret,id=masterKey0,format=raw,file=/tmp/lib/master-key.aes" in argv
    assert "ide-hd,bus=ide.0,unit=0,drive=libvirt-1-format,id=ide0-0-0,bootindex=1" in argv
    assert argv[argv.index("-m") + 1] == "214" and not any("memory-backend" in a for a in argv)
    topo = GUEST.replace("<vcpu placement='static'>1</vcpu>", "<vcpu placement='static'>2</vcpu><cpu><topology "
                         "sockets='1' dies='1' cores='2' threads='1'/></cpu>")  # fmt: skip
    assert _argv(_fake())[_argv(_fake()).index("-smp") + 1] == "1,sockets=1,cores=1,threads=1"
    assert "2,sockets=1,cores=2,threads=1" in _argv(_fake(), topo)
    assert "2,sockets=1,dies=1,cores=2,threads=1" in _argv(_fake("smp-dies"), topo)


def test_command_line_of_a_current_qemu() -> None:
    argv = _argv(strip_machine_aliases(from_libvirt_cache(CAPS_XML)))
    assert "-usb" not in argv and argv[argv.index("-cpu") + 1] == "qemu64"
    assert '{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}' in argv
    assert "memory-backend=pc.ram" in argv[argv.index("-machine") + 1]
    # object.qapified is absent from CAPS_XML: objects stay key=value while devices are JSON
    assert any(a.startswith("memory-backend-ram,id=pc.ram,size=") for a in argv)


def test_probed_and_libvirt_capability_sets_answer_flags_differently() -> None:
    probed = EmulatorCaps(path="/usr/bin/qemu-system-x86_64", identity="x", version=7002000, version_text="7.2.0",
                          kvm=True, arch="x86_64", devices=["piix3-usb-uhci"])  # fmt: skip
    assert probed.has_flag("piix3-usb-uhci") and probed.has_flag("device.json+hotplug")
    assert not probed.has_flag("qemu-xhci")  # a device type it lacks
    assert not _fake().has_flag("device.json+hotplug")  # libvirt's own sets say exactly what they have


def test_disk_driver_tuning_reaches_the_command_line() -> None:
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='raw' error_policy='stop' "
            "rerror_policy='ignore' ioeventfd='on' event_idx='off' discard='unmap' detect_zeroes='unmap' queues='4' "
            "queue_size='256'/><source file='/var/lib/x.img'/><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    xml = GUEST.replace("<serial type='pty'>", disk + "<serial type='pty'>")
    dom = apply_defaults(parse_domain(xml), caps=_fake())
    out = format_domain(dom, 2)
    assert ("<driver name='qemu' type='raw' error_policy='stop' rerror_policy='ignore' ioeventfd='on' "
            "event_idx='off' discard='unmap' detect_zeroes='unmap' queues='4' queue_size='256'/>") in out  # fmt: skip
    argv = _argv(_fake("device.json+hotplug"), xml)
    device = next(a for a in argv if a.startswith('{"driver":"virtio-blk-pci"'))
    assert '"ioeventfd":true,"event_idx":false,"num-queues":4,"queue-size":256' in device
    assert device.endswith('"werror":"stop","rerror":"ignore"}')
    assert any('"discard":"unmap","detect-zeroes":"unmap"' in a for a in argv)
    with pytest.raises(Error, match="copy_on_read"):
        _argv(_fake(), xml.replace("queues='4'", "copy_on_read='on' queues='4'"))


def test_nic_tuning_and_old_display_options() -> None:
    nic = ("<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/>"
           "<driver txmode='iothread' ioeventfd='on' event_idx='off' rx_queue_size='512'/></interface>")  # fmt: skip
    xml = GUEST.replace("<memballoon", nic + "<graphics type='vnc'/><video><model type='qxl'/></video><memballoon")
    xml = xml.replace("<os>", "<clock offset='utc'><timer name='hpet' "
                      "present='no'/></clock><os>")  # fmt: skip
    assert "<driver txmode='iothread' ioeventfd='on' event_idx='off' rx_queue_size='512'/>" in format_domain(
        apply_defaults(parse_domain(xml), caps=_fake()), 2
    )
    old = _argv(_fake("no-hpet"), xml)
    assert any(a.startswith("virtio-net-pci,tx=bh,ioeventfd=on,event_idx=off,rx_queue_size=512,netdev=") for a in old)
    assert "-no-hpet" in old and "hpet=off" not in old[old.index("-machine") + 1]
    assert not any("vgamem_mb" in a or "vram64_size_mb" in a for a in old)
    new = _argv(_fake("machine-hpet", "qxl.vgamem_mb"), xml)
    assert "-no-hpet" not in new and new[new.index("-machine") + 1].endswith("hpet=off")
    assert any(a.startswith("qxl-vga,") and "vgamem_mb=16" in a and "vram64" not in a for a in new)
    with pytest.raises(Error, match="rx_queue_size has to be a power of two"):
        apply_defaults(parse_domain(xml.replace("rx_queue_size='512'", "rx_queue_size='500'")), caps=_fake())


def test_assigned_pci_host_devices_get_guest_pci_addresses() -> None:
    hostdev = ("<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source>"
               "<address domain='0x0005' bus='0x90' slot='0x01' function='0x0'/></source></hostdev>")  # fmt: skip
    xml = GUEST.replace("<memballoon model='none'/>", hostdev + "<memballoon model='virtio'/>")
    out = format_domain(apply_defaults(parse_domain(xml), caps=_fake()), 2)
    # the host device before the balloon, in libvirt's order (qemuDomainAssignDevicePCISlots)
    assert out.index("slot='0x02'") < out.index("<memballoon") < out.index("slot='0x03'")


def test_default_video_follows_the_capabilities() -> None:
    xml = GUEST.replace("<memballoon", "<graphics type='vnc'/><memballoon")
    cirrus = format_domain(apply_defaults(parse_domain(xml), caps=_fake("cirrus-vga", "VGA")), 2)
    assert "<model type='cirrus' vram='16384' heads='1' primary='yes'/>" in cirrus
    vga = format_domain(apply_defaults(parse_domain(xml), caps=_fake("VGA")), 2)
    assert "<model type='vga' vram='16384' heads='1' primary='yes'/>" in vga
    with pytest.raises(Error, match="missing video model and cannot determine default"):
        apply_defaults(parse_domain(xml), caps=_fake())
    qxl = xml.replace("<memballoon", "<video><model type='qxl'/></video><memballoon")
    assert "<model type='qxl' ram='65536' vram='65536' vgamem='16384' heads='1' primary='yes'/>" in format_domain(
        apply_defaults(parse_domain(qxl), caps=_fake()), 2
    )


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (("<os>", "<os><loader readonly='yes' type='pflash'/>"), ErrorCode.XML_DETAIL,
         "no loader path specified and firmware auto selection disabled"),
        (("<os>", "<os><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"),
         ErrorCode.CONFIG_UNSUPPORTED, "UEFI requires ACPI on this architecture"),
        (("<serial type='pty'><target port='0'/></serial>",
          "<channel type='tcp'><source host='localhost' service='1234'><reconnect enabled='yes' timeout='0'/>"
          "</source><target type='virtio' name='x'/></channel>"),
         ErrorCode.INVALID_ARG, "chardev reconnect source timeout cannot be '0'"),
        (("<os>", "<memoryBacking><hugepages/><access mode='shared'/></memoryBacking><os>"),
         ErrorCode.CONFIG_UNSUPPORTED, "memory access mode 'shared' not supported without guest numa node"),
        (("<memballoon", "<controller type='usb' model='none'/><input type='tablet' bus='usb'/><memballoon"),
         ErrorCode.CONFIG_UNSUPPORTED, "Can't add USB input device. USB bus is disabled"),
        (("<os>", "<cpu><cache level='2' mode='emulate'/></cpu><os>"), ErrorCode.CONFIG_UNSUPPORTED,
         "CPU cache mode 'emulate' can only be used with level='3'"),
        (("<os>", "<cpu><maxphysaddr mode='emulate'/></cpu><os>"), ErrorCode.CONFIG_UNSUPPORTED,
         "if using CPU maximum physical address mode='emulate', bits= must be specified too"),
        (("machine='pc'>hvm</type></os>", "machine='q35'>hvm</type></os><features><smm state='on'><tseg "
          "unit='KiB'>12345</tseg></smm></features>"), ErrorCode.CONFIG_UNSUPPORTED,
         "Setting TSEG size is not supported with this QEMU binary"),
    ],
)  # fmt: skip
def test_refused_with_libvirts_words(change: tuple[str, str], code: ErrorCode, message: str) -> None:
    with pytest.raises(Error) as info:
        apply_defaults(parse_domain(GUEST.replace(*change)), caps=_fake("cirrus-vga"))
    assert info.value.code == code and str(info.value).endswith(message)


def test_root_ports_added_for_addresses_come_after_the_parsed_controllers() -> None:
    xml = (GUEST.replace("machine='pc'", "machine='q35'")
           .replace("<memballoon model='none'/>", "<controller type='pci' index='0' model='pcie-root'/>"
                    "<controller type='virtio-serial' index='0'/><memballoon model='virtio'/>"))  # fmt: skip
    out = format_domain(apply_defaults(parse_domain(xml), caps=_fake("qemu-xhci", "cirrus-vga")), 2)
    assert out.index("<controller type='virtio-serial'") < out.index("model='pcie-root-port'")


def test_host_passthrough_before_qemu_knew_migratable() -> None:
    xml = GUEST.replace("<os>", "<cpu mode='host-passthrough'/><os>")
    xml = xml.replace("domain type='qemu'", "domain type='kvm'")
    assert "<cpu mode='host-passthrough' check='none' migratable='off'/>" in format_domain(
        apply_defaults(parse_domain(xml), caps=_fake()), 2
    )
    old = _argv(_fake(), xml)
    assert old[old.index("-cpu") + 1] == "host"
    new = _argv(_fake("cpu.migratable"), xml)
    assert new[new.index("-cpu") + 1] == "host,migratable=on"


def test_console_and_debug_port_defaults() -> None:
    xml = GUEST.replace("<serial type='pty'><target port='0'/></serial>",
                        "<serial type='pty'><target type='isa-debug'/></serial><console type='pty'/>")  # fmt: skip
    out = format_domain(apply_defaults(parse_domain(xml), caps=_fake()), 2)
    assert "<target type='isa-debug' port='0'>\n        <model name='isa-debugcon'/>" in out
    assert "<console type='pty'>\n      <target type='serial' port='0'/>" in out


def test_default_nic_model_follows_the_capabilities() -> None:
    xml = GUEST.replace(
        "<memballoon", "<interface type='user'><mac address='52:54:00:00:00:02'/></interface><memballoon"
    )

    def model(*flags: str) -> str | None:
        dom = apply_defaults(parse_domain(xml), caps=_fake(*flags))
        assert dom.devices is not None
        return dom.devices.interfaces[0].model_type

    assert model("rtl8139", "e1000") == "rtl8139"
    assert model("e1000", "virtio-net") == "e1000"
    assert model("virtio-net") == "virtio"
    assert model() == "rtl8139"


def test_cpu_cache_and_physical_address_bits_reach_the_command_line() -> None:
    def cpu(xml_cpu: str, *flags: str) -> str:
        xml = GUEST.replace("domain type='qemu'", "domain type='kvm'").replace("<os>", xml_cpu + "<os>")
        argv = _argv(_fake(*flags), xml)
        return argv[argv.index("-cpu") + 1]

    passthrough = "<cpu mode='host-passthrough' migratable='off'><cache mode='emulate' level='3'/></cpu>"
    assert cpu(passthrough, "cpu-cache") == "host,l3-cache=on,host-cache-info=off"
    assert cpu(passthrough) == "host,l3-cache=on"
    assert cpu("<cpu><cache mode='disable'/><maxphysaddr mode='emulate' bits='42'/></cpu>", "cpu-cache") == (
        "qemu64,l3-cache=off,phys-bits=42"
    )


def test_kvmclock_timer_is_a_cpu_property() -> None:
    xml = GUEST.replace("<os>", "<clock offset='utc'><timer name='kvmclock' present='no'/></clock><os>")
    argv = _argv(_fake(), xml)
    assert argv[argv.index("-cpu") + 1] == "qemu64,kvmclock=off" and argv[argv.index("-rtc") + 1] == "base=utc"


def test_an_sdl_display_on_the_command_line_and_in_the_environment() -> None:
    xml = GUEST.replace("<memballoon", "<graphics type='sdl' display=':0.1' xauth='/root/.Xauthority' "
                        "fullscreen='yes'/><memballoon")  # fmt: skip
    dom = apply_defaults(parse_domain(xml), caps=_fake("VGA"))
    cmd = build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_fake("VGA"),
                             hugepage_mounts=[], host_nodes={0})  # fmt: skip
    at = cmd.argv.index("-full-screen")
    assert cmd.argv[at : at + 3] == ["-full-screen", "-display", "sdl"] and "none" not in cmd.argv
    assert cmd.env["DISPLAY"] == ":0.1" and cmd.env["XAUTHORITY"] == "/root/.Xauthority"


def test_user_networking_gets_the_guest_addresses() -> None:
    nic = ("<interface type='user'><mac address='52:54:00:00:00:03'/><ip address='172.17.2.0' family='ipv4' "
           "prefix='24'/><ip address='2001:db8:ac10:fd01::' family='ipv6' prefix='64'/><model type='virtio'/>"
           "</interface>")  # fmt: skip
    argv = _argv(_fake(), GUEST.replace("<memballoon", nic + "<memballoon"))
    assert argv[argv.index("-netdev") + 1] == (
        "user,net=172.17.2.0/24,ipv6-prefix=2001:db8:ac10:fd01::,ipv6-prefixlen=64,id=hostnet0"
    )


def test_virtio_serial_ports_fill_each_controller_in_turn() -> None:
    def channel(name: str, address: str = "") -> str:
        return f"<channel type='pty'><target type='virtio' name='{name}'/>{address}</channel>"

    chans = (channel("a") + channel("b", "<address type='virtio-serial' controller='0' bus='2'/>")
             + channel("c", "<address type='virtio-serial' controller='0' port='1'/>") + channel("d"))  # fmt: skip
    xml = GUEST.replace("<memballoon", "<controller type='virtio-serial' index='0' ports='4'/>"
                        "<controller type='virtio-serial' index='1'/>" + chans + "<memballoon")  # fmt: skip
    dom = apply_defaults(parse_domain(xml), caps=_fake())
    assert dom.devices is not None
    got = [(c.address.attrs["controller"], c.address.attrs["port"]) for c in dom.devices.channels if c.address]
    assert got == [("0", "2"), ("0", "3"), ("0", "1"), ("1", "1")]


def test_default_audio_follows_the_displays() -> None:
    def audio(graphics: str) -> str:
        xml = GUEST.replace("<memballoon", graphics + "<memballoon")
        return format_domain(apply_defaults(parse_domain(xml), caps=_fake("cirrus-vga")), 2)

    assert "<audio id='1' type='none'/>" in audio("")
    assert "<audio id='1' type='none'/>" in audio("<graphics type='vnc'/>")
    assert "<audio id='1' type='spice'/>" in audio("<graphics type='vnc'/><graphics type='spice'/>")
    assert "<audio" not in audio("<graphics type='sdl'/>")  # host audio only through QEMU_AUDIO_DRV


ARM_GUEST = """<domain type='{virt}'>
  <name>arm</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='aarch64' machine='{machine}'>hvm</type></os>{features}
  <devices><emulator>/usr/bin/qemu-system-aarch64</emulator>{devices}<memballoon model='none'/></devices>
</domain>"""


def _arm(gic: list[str], *flags: str) -> EmulatorCaps:
    """libvirt's fake capabilities for qemu-system-aarch64 (its 'virt' boards), offering these GIC versions."""
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="aarch64",
                        machines=[Machine("virt", None, 255, True), Machine("versatilepb", None, 1, False)],
                        flags=list(flags), probed=False, gic_kvm=gic, gic_tcg=gic)  # fmt: skip


def _arm_guest(virt: str = "kvm", machine: str = "virt", features: str = "", devices: str = "") -> str:
    return ARM_GUEST.format(virt=virt, machine=machine, features=features, devices=devices)


def test_an_emulator_is_judged_by_its_capabilities_architecture() -> None:
    # virQEMUCapsIsArchSupported: an aarch64 emulator runs an aarch64 guest when its capabilities say aarch64
    apply_defaults(parse_domain(_arm_guest()), caps=_arm([]))
    with pytest.raises(Error) as exc:  # x86 capabilities (or none) do not make qemu-system-aarch64 an x86 emulator
        apply_defaults(parse_domain(_arm_guest()), caps=_fake())
    assert str(exc.value).endswith("Emulator '/usr/bin/qemu-system-aarch64' does not support arch 'aarch64'")


@pytest.mark.parametrize(
    ("virt", "offered", "want"),
    [("kvm", ["3", "2"], "3"), ("qemu", ["3", "2"], "2"), ("kvm", ["2"], "2"), ("kvm", [], "2")],
)
def test_the_arm_virt_board_gets_a_gic(virt: str, offered: list[str], want: str) -> None:
    """qemuDomainDefEnableDefaultFeatures: the highest GIC the accelerator offers, never the emulated v3 under TCG."""
    dom = apply_defaults(parse_domain(_arm_guest(virt)), caps=_arm(offered, "gic-version"))
    assert f"<features>\n    <gic version='{want}'/>\n  </features>" in format_domain(dom, 2)
    assert f"virt,usb=off,gic-version={want},dump-guest-core=off" in _argv(_arm(offered, "gic-version"),
                                                                           _arm_guest(virt))  # fmt: skip
    # <gic/> without a version is given one the same way; an old QEMU without gic-version= gets GICv2 silently
    dom = apply_defaults(parse_domain(_arm_guest(virt, features="<features><gic/></features>")), caps=_arm(offered))
    assert dom.features is not None and dom.features.gic_version == want
    assert "virt,usb=off,dump-guest-core=off" in _argv(_arm(["2"]), _arm_guest(virt))
    with pytest.raises(Error, match=r"^unsupported configuration: gic-version option is not available"):
        _argv(_arm(["3"]), _arm_guest())


@pytest.mark.parametrize(
    ("guest", "message"),
    [
        (_arm_guest(machine="versatilepb", features="<features><gic version='2'/></features>"),
         "unsupported configuration: The 'gic' feature is not supported for architecture 'aarch64' or machine "
         "type 'versatilepb'"),
        (_arm_guest(features="<features><gic version='none'/></features>"),
         "XML error: Invalid value for attribute 'version' in element 'gic': 'none'."),
        (_arm_guest(features="<features><acpi/></features>"),
         "unsupported configuration: ACPI requires UEFI on this architecture"),
        (_arm_guest(devices="<tpm model='tpm-tis'><backend type='emulator' version='1.2'/></tpm>"),
         "unsupported configuration: TPM 1.2 is not supported on ARM"),
        (_arm_guest().replace("</os>", "</os><cpu mode='host-passthrough'><feature policy='disable' name='sve'/>"
                                       "<feature policy='require' name='sve128'/></cpu>"),
         "unsupported configuration: SVE disabled, but SVE vector lengths provided"),
    ],
)  # fmt: skip
def test_arm_refusals_with_libvirts_words(guest: str, message: str) -> None:
    with pytest.raises(Error) as exc:
        apply_defaults(parse_domain(guest), caps=_arm(["2"]))
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("arch", "machine", "devices", "flags", "message"),
    [
        ("s390x", "s390-ccw-virtio", "<parallel type='pty'/>", (), "parallel ports are not supported"),
        ("ppc64", "pseries", "", (), "The 'spapr-pci-host-bridge' device is not supported by this QEMU binary"),
        ("ppc64", "pseries", "<panic><address type='isa' iobase='0x505'/></panic>", ("spapr-pci-host-bridge",),
         "setting the panic device address is not supported for model 'pseries'"),
        ("ppc64", "pseries", "<controller type='pci' index='0' model='pci-root'><target index='1'/></controller>",
         ("spapr-pci-host-bridge",),
         "Only the PCI controller with index 0 can have target index 0, and vice versa"),
    ],
)  # fmt: skip
def test_s390_and_pseries_refusals(arch: str, machine: str, devices: str, flags: tuple[str, ...], message: str) -> None:
    caps = EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine(machine, None, 255, True)], flags=list(flags), probed=False)  # fmt: skip
    xml = _arm_guest(devices=devices).replace("aarch64", arch).replace("'virt'", f"'{machine}'")
    with pytest.raises(Error) as exc:
        apply_defaults(parse_domain(xml), caps=caps)
    assert str(exc.value) == "unsupported configuration: " + message


@pytest.mark.parametrize(
    ("arch", "machine", "devices", "message"),
    [
        ("ppc64", "pseries", "<disk type='file' device='floppy'><source file='/f'/><target dev='fda' bus='fdc'/>"
         "</disk>", "unsupported configuration: PowerPC pseries machines do not support floppy device"),
        ("s390x", "s390-ccw-virtio", "<disk type='file' device='disk'><source file='/d'/><target dev='vda' "
         "bus='virtio'/><boot order='1' loadparm='sys1?'/></disk>", "internal error: invalid loadparm value "
         "'SYS1?', expecting chars in set of [a-zA-Z0-9.] and blank spaces"),
        ("s390x", "s390-ccw-virtio", "<disk type='file' device='disk'><source file='/d'/><target dev='vda' "
         "bus='virtio'/><boot order='1' loadparm='loadparm1'/></disk>", "internal error: loadparm value "
         "'LOADPARM1' must be between 1 and 8 characters"),
    ],
)  # fmt: skip
def test_refused_only_when_started(arch: str, machine: str, devices: str, message: str) -> None:
    """qemuProcessPrepare and the command line refuse these; a definition stays valid for another QEMU or host."""
    caps = EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine(machine, None, 255, True)], flags=["spapr-pci-host-bridge"],
                        probed=False)  # fmt: skip
    xml = _arm_guest(devices=devices).replace("aarch64", arch).replace("'virt'", f"'{machine}'")
    apply_defaults(parse_domain(xml), caps=caps)
    with pytest.raises(Error) as exc:
        _argv(caps, xml)
    assert str(exc.value) == message


PSERIES = """<domain type='kvm'>
  <name>p</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='ppc64' machine='pseries'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-ppc64</emulator>
    <controller type='scsi' index='0'/>
    <controller type='scsi' index='1'><address type='spapr-vio' reg='2000'/></controller>
    <serial type='pty'/>
    <graphics type='vnc'/>
    <memballoon model='none'/>
  </devices>
</domain>"""


def test_pseries_defaults_and_vio_addresses() -> None:
    """qemuDomainDefAddDefaultDevices and qemuDomainAssignSpaprVIOAddresses for a pSeries guest."""
    caps = EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="ppc64",
                        machines=[Machine("pseries", None, 255, True)], flags=["spapr-pci-host-bridge", "pci-ohci"],
                        probed=False)  # fmt: skip
    xml = format_domain(apply_defaults(parse_domain(PSERIES), caps=caps), 2)
    devices = xml[xml.index("<devices>") :]
    expected = [
        "<controller type='usb' index='0' model='pci-ohci'>\n"
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>",
        # the first free VIO reg of the kind, 0x1000 on from one written in the XML (read in hex, as libvirt)
        "<controller type='scsi' index='0' model='ibmvscsi'>\n      <address type='spapr-vio' reg='0x00003000'/>",
        "<controller type='scsi' index='1' model='ibmvscsi'>\n      <address type='spapr-vio' reg='0x00002000'/>",
        "<controller type='pci' index='0' model='pci-root'>\n      <model name='spapr-pci-host-bridge'/>\n"
        "      <target index='0'/>",
        "<target type='spapr-vio-serial' port='0'>\n        <model name='spapr-vty'/>\n      </target>\n"
        "      <address type='spapr-vio' reg='0x30000000'/>",
        "<target type='serial' port='0'/>\n      <address type='spapr-vio' reg='0x30000000'/>\n    </console>",
        "<input type='keyboard' bus='usb'>\n      <address type='usb' bus='0' port='1'/>",
        "<input type='mouse' bus='usb'>\n      <address type='usb' bus='0' port='2'/>",
        "<model type='vga' vram='16384' heads='1' primary='yes'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>",
        "<panic model='pseries'/>",
    ]
    for text in expected:
        assert text in devices, text
    assert "ps2" not in devices and "<address type='spapr-vio' reg='0x00002000'/>" in devices


def _board(arch: str, machine: str, *flags: str) -> EmulatorCaps:
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine(machine, None, 255, True)], flags=list(flags), probed=False)  # fmt: skip


def _board_guest(arch: str, machine: str, devices: str) -> str:
    return _arm_guest(devices=devices).replace("aarch64", arch).replace("'virt'", f"'{machine}'")


def test_board_serial_ports_and_panic_notifiers_on_the_command_line() -> None:
    """qemuBuildSerialCommandLine: a board's own UART is ``-serial chardev:``, the pSeries VIO TTY and s390's
    SCLP console are devices; the pSeries and s390 panic notifiers are built in (no device, listed anyway)."""
    arm = _board("aarch64", "virt", "pl011", "gic-version")
    argv = " ".join(_argv(arm, _board_guest("aarch64", "virt", "<serial type='pty'/>")))
    assert "-chardev pty,id=charserial0 -serial chardev:charserial0" in argv
    assert "-no-acpi" not in " ".join(_argv(_board("s390x", "s390-ccw-virtio"), _board_guest("s390x",
                                                                                            "s390-ccw-virtio", "")))  # fmt: skip
    with pytest.raises(Error, match=r"^unsupported configuration: 'pl011' is not supported in this QEMU binary$"):
        _argv(_board("aarch64", "virt", "gic-version"), _board_guest("aarch64", "virt", "<serial type='pty'/>"))
    ppc = _board("ppc64", "pseries", "spapr-pci-host-bridge", "spapr-vty", "pci-ohci")
    xml = _board_guest("ppc64", "pseries", "<controller type='usb' index='0'/><serial type='pty'/>")
    argv = " ".join(_argv(ppc, xml))
    assert "-device spapr-vty,chardev=charserial0,id=serial0,reg=805306368" in argv  # reg 0x30000000
    assert "-device pci-ohci,id=usb,bus=pci.0,addr=0x1" in argv
    s390 = _board("s390x", "s390-ccw-virtio", "s390-sclp")  # QEMU_CAPS_DEVICE_SCLPCONSOLE as the cache spells it
    dom = apply_defaults(parse_domain(_board_guest("s390x", "s390-ccw-virtio", "<serial type='pty'/>")), caps=s390)
    assert "<panic model='s390'/>" in format_domain(dom, 2)
    argv = " ".join(_argv(s390, _board_guest("s390x", "s390-ccw-virtio", "<serial type='pty'/>")))
    assert "sclpconsole" in argv and "pvpanic" not in argv


@pytest.mark.parametrize(
    ("arch", "machine", "panic", "message"),
    [
        ("s390x", "s390-ccw-virtio", "<panic model='s390'><address type='isa' iobase='0x505'/></panic>",
         "setting the panic device address is not supported for model 's390'"),
        ("x86_64", "pc", "<panic model='s390'/>", "only S390 guests support panic device of model 's390'"),
        ("aarch64", "virt", "<panic model='hyperv'/>",
         "only i686 and x86_64 guests support panic device of model 'hyperv'"),
    ],
)  # fmt: skip
def test_panic_models_belong_to_their_boards(arch: str, machine: str, panic: str, message: str) -> None:
    caps = _board(arch, machine, "gic-version")
    xml = _board_guest(arch, machine, panic)
    with pytest.raises(Error) as exc:
        apply_defaults(parse_domain(xml), caps=caps)
    assert str(exc.value) == "unsupported configuration: " + message


def test_isa_panic_and_subsystem_hostdev_defaults() -> None:
    """An x86 panic device without a model is the ISA pvpanic; a subsystem hostdev always states ``managed``."""
    xml = GUEST.replace("<memballoon", "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' "
                        "bus='0x06' slot='0x12' function='0x5'/></source></hostdev><panic/><memballoon")  # fmt: skip
    out = format_domain(apply_defaults(parse_domain(xml), caps=_fake()), 2)
    assert "<panic model='isa'/>" in out and "<hostdev mode='subsystem' type='pci' managed='no'>" in out


def test_dump_core_and_switches_written_without_a_state() -> None:
    """``<memory dumpCore>`` is kept and reaches ``-machine``; ``<pmu/>`` and its kin mean on (libvirt's parser)."""
    xml = GUEST.replace("<memory unit='KiB'>", "<memory dumpCore='on' unit='KiB'>").replace(
        "</os>", "</os><features><pmu/><vmport/></features>"
    )
    dom = apply_defaults(parse_domain(xml), caps=_fake())
    out = format_domain(dom, 2)
    assert "<memory dumpCore='on' unit='KiB'>219136</memory>" in out
    assert "<pmu state='on'/>" in out and "<vmport state='on'/>" in out
    assert "pc,usb=off,vmport=on,dump-guest-core=on" in _argv(_fake(), xml)
    with pytest.raises(Error, match="Invalid value for attribute 'dumpCore' in element 'memory': 'yes'"):
        parse_domain(GUEST.replace("<memory unit='KiB'>", "<memory dumpCore='yes' unit='KiB'>"))


def test_egl_headless_display(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``-display egl-headless`` renders on the XML's node, else the host's first DRM render node."""
    import pyvirt_qemu.graphics
    from pyvirt_qemu.graphics import GraphicsConfig, prepare_graphics

    def display(xml: str) -> list[str]:
        caps = _fake("cirrus-vga", "egl-headless.rendernode")  # a QEMU that takes rendernode= (3.1 on)
        dom = apply_defaults(parse_domain(xml), caps=caps)
        prepare_graphics(dom, GraphicsConfig(), "/tmp/lib", allocate=False)
        argv = build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                                  vnc_port=5900, hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
        return argv[argv.index("-display") : argv.index("-display") + 2]

    named = GUEST.replace("<memballoon", "<graphics type='egl-headless'><gl rendernode='/dev/dri/a,b'/></graphics>"
                          "<memballoon")  # fmt: skip
    assert display(named) == ["-display", "egl-headless,rendernode=/dev/dri/a,,b"]
    unnamed = GUEST.replace("<memballoon", "<graphics type='egl-headless'/><memballoon")
    monkeypatch.setattr(pyvirt_qemu.graphics.os, "listdir", lambda path: ["card0", "renderD129"])
    assert display(unnamed) == ["-display", "egl-headless,rendernode=/dev/dri/renderD129"]
    monkeypatch.setattr(pyvirt_qemu.graphics.os, "listdir", lambda path: ["card0"])
    with pytest.raises(Error, match=r"^internal error: No DRM render nodes available$"):
        display(unnamed)
    with pytest.raises(Error) as exc:
        apply_defaults(parse_domain(unnamed.replace("<memballoon", "<graphics type='sdl'/><memballoon")),
                       caps=_fake("cirrus-vga"))  # fmt: skip
    assert str(exc.value) == ("unsupported configuration: graphics type 'egl-headless' is only supported with one "
                              "of: 'vnc', 'spice' graphics types")  # fmt: skip


def test_default_cpu_and_usb_per_architecture() -> None:
    """qemuDomainDefSetDefaultCPU: s390's KVM default 'host' is host-model (the TCG half has its own model); no
    default for ARM under KVM. qemuDomainControllerDefPostParse: no USB on s390 unless placed, an XHCI on
    aarch64, on ppc64 only for a new definition; no legacy ``-usb`` on s390 or the 'virt' boards."""
    s390 = replace(_board("s390x", "s390-ccw-virtio"), host_cpu_described=True)
    s390.machines = [replace(s390.machines[0], default_cpu="host", default_cpu_tcg="qemu")]
    usb = "<controller type='usb' index='0'/>"
    dom = apply_defaults(parse_domain(_board_guest("s390x", "s390-ccw-virtio", usb)), caps=s390)
    out = format_domain(dom, 2)
    assert (
        "<cpu mode='host-model' check='partial'/>" in out and "<controller type='usb' index='0' model='none'/>" in out
    )
    tcg = _board_guest("s390x", "s390-ccw-virtio", "").replace("type='kvm'", "type='qemu'")
    assert "<model fallback='forbid'>qemu</model>" in format_domain(apply_defaults(parse_domain(tcg), caps=s390), 2)
    assert "-usb" not in _argv(s390, tcg)
    arm = _board("aarch64", "virt", "gic-version", "qemu-xhci")
    arm.machines = [replace(arm.machines[0], default_cpu="cortex-a15")]
    dom = apply_defaults(parse_domain(_board_guest("aarch64", "virt", usb)), caps=arm)
    assert dom.cpu is None and "<controller type='usb' index='0' model='qemu-xhci'" in format_domain(dom, 2)
    assert "-usb" not in _argv(arm, _board_guest("aarch64", "virt", ""))
    ppc = _board("ppc64", "pseries", "spapr-pci-host-bridge", "qemu-xhci", "pci-ohci")
    xml = _board_guest("ppc64", "pseries", usb)
    assert apply_defaults(parse_domain(xml), caps=ppc).devices.controllers[0].model == "qemu-xhci"  # type: ignore[union-attr]
    old = apply_defaults(parse_domain(xml), caps=ppc, new_domain=False)
    assert old.devices is not None and old.devices.controllers[0].model == "pci-ohci"


def test_s390_ccw_addresses() -> None:
    """qemuDomainAssignS390Addresses: virtio devices of an s390-ccw guest get channel addresses, the next free
    devno in libvirt's device order after those the XML places (read as C numbers, written 0x%04x)."""
    devices = ("<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>"
               "<disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/>"
               "<address type='ccw' cssid='254' ssid='0' devno='0'/></disk>"
               "<interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>")  # fmt: skip
    caps = _board("s390x", "s390-ccw-virtio")
    xml = _board_guest("s390x", "s390-ccw-virtio", devices).replace("<memballoon model='none'/>", "")
    out = format_domain(apply_defaults(parse_domain(xml), caps=caps), 2)
    addresses = [line.strip() for line in out.splitlines() if "type='ccw'" in line]
    assert addresses == [
        "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>",  # vda: 0 is vdb's
        "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0000'/>",
        "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0002'/>",  # the NIC
        "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0003'/>",  # the implicit balloon
    ]
    argv = " ".join(_argv(caps, xml))  # channel-subsystem devices, never PCI ones in their place
    assert "virtio-blk-ccw,devno=fe.0.0001,drive=libvirt-2-format,id=virtio-disk0" in argv
    assert "virtio-net-ccw" in argv and "-pci" not in argv


def test_root_ports_are_ioh3420_without_the_generic_device() -> None:
    """qemuDomainPCIControllerSetDefaultModelName: a QEMU without pcie-root-port gets Intel's ioh3420."""
    q35 = GUEST.replace("machine='pc'", "machine='q35'").replace(
        "<memballoon model='none'/>",
        "<controller type='pci' index='1' model='pcie-root-port'/><memballoon model='none'/>",
    )
    old = format_domain(apply_defaults(parse_domain(q35), caps=_fake()), 2)
    new = format_domain(apply_defaults(parse_domain(q35), caps=_fake("pcie-root-port")), 2)
    assert "<model name='ioh3420'/>" in old and "<model name='pcie-root-port'/>" in new


def test_vnc_host_audio_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """qemu.conf's vnc_allow_host_audio: a VNC guest plays on the host through QEMU_AUDIO_DRV (else 'none')."""
    vnc = GUEST.replace("<memballoon", "<graphics type='vnc'/><memballoon")
    monkeypatch.setenv("QEMU_AUDIO_DRV", "alsa")
    allowed = format_domain(apply_defaults(parse_domain(vnc), caps=_fake("cirrus-vga"), vnc_host_audio=True), 2)
    assert "<audio id='1' type='alsa'/>" in allowed
    assert "<audio id='1' type='none'/>" in format_domain(
        apply_defaults(parse_domain(vnc), caps=_fake("cirrus-vga")), 2
    )
    monkeypatch.delenv("QEMU_AUDIO_DRV")
    unset = format_domain(apply_defaults(parse_domain(vnc), caps=_fake("cirrus-vga"), vnc_host_audio=True), 2)
    assert "<audio" not in unset


def test_keyval_arguments_as_libvirt_writes_them() -> None:
    props = {"driver": "virtio-blk-pci", "id": "a,b", "x": True, "y": False, "n": 3, "o": {"k": "v"}}
    assert keyval_arg(props, "driver", False) == "virtio-blk-pci,id=a,,b,x=on,y=off,n=3,o.k=v"
    obj = {"qom-type": "memory-backend-ram", "id": "m", "host-nodes": [0, 1, 2, 5], "policy": "bind"}
    assert keyval_arg(obj, "qom-type", True) == "memory-backend-ram,id=m,host-nodes=0-2,host-nodes=5,policy=bind"


# --------------------------------------------------------------------------- the corpora themselves

# The scores recorded when these runs were written (issue 13); a change may raise them, never lower them.
FLOOR = {
    "qemuxml2xml x86_64-latest": 266,
    "qemuxml2xml every caps": 1045,
    "qemuxml2argv x86_64-latest": 346,
    "qemuxml2argv other caps": 416,
    "qemuxml2argv must-fail refused": 201,
    "qemuxml2argv must-fail first line": 187,
}


@pytest.fixture(scope="module")
def libvirt_src() -> Path:
    from conformance_argv import source_tree

    src = source_tree()
    if src is None:
        pytest.skip("libvirt 9.0.0 source unavailable (pyvirt.testing.sources cannot fetch it here)")
    return src


def test_cases_are_read_from_libvirts_test_programs(libvirt_src: Path) -> None:
    from libvirt_qemu_cases import argv_cases, xml2xml_cases

    xml2xml = xml2xml_cases(libvirt_src)
    argv = argv_cases(libvirt_src)
    assert len(xml2xml) == 1231
    assert len(argv) == 1107
    assert sum(c.expect_failure or c.expect_parse_error for c in argv) == 201
    valid_latest = [
        c for c in argv if c.caps_label == "x86_64-latest" and not (c.expect_failure or c.expect_parse_error)
    ]
    assert len(valid_latest) == 369


def test_scores_do_not_drop(libvirt_src: Path) -> None:
    import conformance_argv
    import conformance_xml2xml
    from libvirt_qemu_cases import xml2xml_cases

    results = [conformance_xml2xml.run(libvirt_src, c) for c in xml2xml_cases(libvirt_src)]
    rows = conformance_xml2xml.rows(results)
    assert rows["qemuxml2xml x86_64-latest"][0] >= FLOOR["qemuxml2xml x86_64-latest"]
    assert rows["qemuxml2xml, every caps version and arch"][0] >= FLOOR["qemuxml2xml every caps"]
    with conformance_argv.libvirt_test_host():  # the same runs as the report, with libvirt's mocked host
        argv = conformance_argv.scores(libvirt_src)
    assert argv.rows["latest"][0] >= FLOOR["qemuxml2argv x86_64-latest"]
    assert argv.rows["other"][0] >= FLOOR["qemuxml2argv other caps"]
    assert argv.err_ok >= FLOOR["qemuxml2argv must-fail refused"]
    assert argv.err_same >= FLOOR["qemuxml2argv must-fail first line"]
