"""What ``virsh dumpxml`` shows after ``define`` of a QEMU guest: libvirt's post-parse defaults and formatting.

Each test is one thing libvirt's qemuxml2xmltest showed pyvirt doing
differently; the whole corpus is scored by ``conformance_xml2xml.py`` (with
floors in ``test_libvirt_corpora.py``), these pin the individual rules so a
regression names the rule it broke.
"""

from __future__ import annotations

import pytest
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error

INACTIVE = 2


def _fake(*flags: str, arch: str = "x86_64") -> EmulatorCaps:
    """libvirt's fake test capabilities: named flags, machines pc and q35."""
    return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch=arch,
                        machines=[Machine("pc", None, 255, True), Machine("q35", None, 288, False)],
                        flags=list(flags), probed=False)  # fmt: skip


def guest(devices: str = "", *, os_extra: str = "", cpu: str = "", arch: str = "x86_64", machine: str = "pc") -> str:
    return f"""<domain type='qemu'><name>g</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
<memory unit='KiB'>219136</memory><vcpu>1</vcpu>
<os><type arch='{arch}' machine='{machine}'>hvm</type>{os_extra}</os>{cpu}
<devices><emulator>/usr/bin/qemu-system-{arch}</emulator>{devices}<memballoon model='none'/></devices></domain>"""


def defined(xml: str, caps: EmulatorCaps | None = None) -> str:
    return format_domain(apply_defaults(parse_domain(xml), caps=caps or _fake()), INACTIVE)


def test_a_virtio_console_reserves_its_port_without_writing_an_address() -> None:
    """libvirt assigns a virtio console's port into a scratch address (allowZero): the port is taken, the
    definition keeps no <address>; pyvirt wrote one, so dumpxml differed from virsh's."""
    xml = defined(guest("<console type='pty'><target type='virtio'/></console>"
                        "<channel type='pty'><target type='virtio' name='a'/></channel>"))  # fmt: skip
    console = xml[xml.index("<console") : xml.index("</console>")]
    assert "<address" not in console
    # port 0 stays the console's: the channel takes port 1
    assert "<address type='virtio-serial' controller='0' bus='0' port='1'/>" in xml


def test_a_smartcards_implicit_ccid_comes_after_the_machines_controllers() -> None:
    """libvirt's generic post-parse adds the ccid after the QEMU driver added USB and the PCI root."""
    xml = defined(guest("<smartcard mode='host'/>"))
    order = [xml.index(f"<controller type='{t}'") for t in ("usb", "pci", "ccid")]
    assert order == sorted(order)
    # one the XML names keeps its place
    xml = defined(guest("<controller type='ccid' index='0'/><smartcard mode='host'/>"))
    assert xml.index("<controller type='ccid'") < xml.index("<controller type='usb'")


def test_smartcard_certificates_are_kept() -> None:
    """Before: the three certificates collapsed into one empty <certificate/> (named in issue 13)."""
    card = ("<smartcard mode='host-certificates'><certificate>cert1</certificate><certificate>cert2</certificate>"
            "<certificate>cert3</certificate><database>/etc/pki/nssdb/</database></smartcard>")  # fmt: skip
    xml = defined(guest(card))
    assert ("<certificate>cert1</certificate>\n      <certificate>cert2</certificate>\n"
            "      <certificate>cert3</certificate>\n      <database>/etc/pki/nssdb/</database>") in xml  # fmt: skip


def test_a_guest_given_a_kernel_still_boots_from_disk_by_default() -> None:
    """virDomainDefBootOrderPostParse adds <boot dev='hd'/> to every HVM guest without boot devices."""
    xml = defined(guest(os_extra="<kernel>/vmlinuz</kernel>"))
    assert "<kernel>/vmlinuz</kernel>\n    <boot dev='hd'/>" in xml
    assert "<boot dev='hd'/>" not in defined(guest(os_extra="<boot dev='cdrom'/>"))


def test_guest_cpu_formatted_with_the_parsers_defaults() -> None:
    """virCPUDefFormatBufFull: a named model states custom mode, exact match and fallback='allow'."""
    xml = defined(guest(cpu="<cpu match='exact'><model>core2duo</model><vendor>Intel</vendor></cpu>"))
    assert "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='allow'>core2duo</model>" in xml
    xml = defined(guest(cpu="<cpu mode='custom'><model vendor_id='GenuineIntel'>qemu64</model></cpu>"))
    assert "<model fallback='allow' vendor_id='GenuineIntel'>qemu64</model>" in xml
    # a custom CPU naming no model (topology only) shows no attributes; an empty one is not written
    xml = defined(guest(cpu="<cpu match='minimum'><topology sockets='1' dies='1' cores='1' threads='1'/></cpu>"))
    assert "<cpu>\n    <topology sockets='1' dies='1' cores='1' threads='1'/>\n  </cpu>" in xml
    assert "<cpu" not in defined(guest(cpu="<cpu/>"))
    # host-passthrough shows neither model nor match
    xml = defined(guest(cpu="<cpu mode='host-passthrough' match='exact'><model>x</model></cpu>"))
    assert "<cpu mode='host-passthrough' check='none'" in xml and "<model" not in xml


def test_smm_tseg_size_in_the_largest_unit_that_divides_it() -> None:
    """virFormatIntPretty: libvirt keeps bytes and states the unit; pyvirt wrote the bare number."""
    smm = "<features><smm state='on'><tseg unit='KiB'>{}</tseg></smm></features>"
    for given, shown in (("49152", "<tseg unit='MiB'>48</tseg>"), ("2097152", "<tseg unit='GiB'>2</tseg>")):
        xml = defined(guest(machine="q35").replace("<devices>", smm.format(given) + "<devices>"),
                      _fake("mch.extended-tseg-mbytes"))  # fmt: skip
        assert shown in xml


def test_an_empty_hyperv_element_is_written_open() -> None:
    xml = defined(guest().replace("<devices>", "<features><hyperv mode='passthrough'/></features><devices>"))
    assert "<hyperv mode='passthrough'>\n    </hyperv>" in xml


def test_a_lone_label_without_model_takes_the_hosts_none_model() -> None:
    """virSecurityLabelDefsParseXML: with security_driver 'none' a definition's dynamic label becomes 'none'."""
    dom = parse_domain(guest() .replace("</domain>", "<seclabel type='dynamic' relabel='yes'/></domain>"),
                       default_sec_model="none")  # fmt: skip
    assert dom.seclabels is not None
    assert (dom.seclabels[0].type, dom.seclabels[0].model, dom.seclabels[0].relabel) == ("none", "none", False)


def test_device_label_overrides_as_libvirt_writes_them() -> None:
    """relabel is always stated; labelskip is read from live XML only; offline output drops an override that
    names no label and relabels."""
    disk = ("<disk type='file' device='disk'><source file='/a.img'><seclabel model='dac' {}/></source>"
            "<target dev='hda' bus='ide'/></disk>")  # fmt: skip
    live = parse_domain(guest(disk.format("labelskip='yes'")), live=True)
    assert "<seclabel model='dac' labelskip='yes'/>" in format_domain(live)
    assert "<seclabel" not in format_domain(live, INACTIVE)
    assert "<seclabel" not in defined(guest(disk.format("labelskip='yes'")))
    assert "<seclabel model='dac' relabel='no'/>" in defined(guest(disk.format("relabel='no'")))


def test_network_disk_auth_is_kept_where_it_was_given() -> None:
    """Before: <auth> was refused by name. libvirt keeps the disk-level one before <source>."""
    auth = "<auth username='myname'><secret type='iscsi' usage='mycluster_myname'/></auth>"
    disk = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>{}<source protocol='iscsi' "
            "name='iqn.1992-01.com.example/1'><host name='example.org' port='3260'/>{}</source>"
            "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    xml = defined(guest(disk.format(auth, "")))
    assert "<driver name='qemu' type='raw'/>\n      <auth username='myname'>" in xml
    xml = defined(guest(disk.format("", auth)))
    assert "<host name='example.org' port='3260'/>\n        <auth username='myname'>" in xml
    with pytest.raises(Error, match="an <auth> definition already found for disk source"):
        parse_domain(guest(disk.format(auth, auth)))


def test_disk_type_and_device_are_always_written() -> None:
    xml = defined(guest("<disk><source file='/a.img'/><target dev='hda'/></disk>"))
    assert "<disk type='file' device='disk'>" in xml


def test_tpm_interface_and_version_per_board() -> None:
    """qemuDomainTPMDefPostParse: TIS (TPM 1.2 when emulated) on x86, the VIO one (2.0) on pSeries."""
    tpm = "<tpm><backend type='emulator'/></tpm>"
    assert "<tpm model='tpm-tis'>\n      <backend type='emulator' version='1.2'/>" in defined(guest(tpm))
    crb = "<tpm model='tpm-crb'><backend type='emulator'/></tpm>"
    assert "<backend type='emulator' version='2.0'/>" in defined(guest(crb))


def test_consoles_are_numbered_by_position() -> None:
    """virDomainDefParseXML sets a console's port to its position, whatever the XML says."""
    xml = defined(guest("<serial type='pty'/><console type='pty'/>"
                        "<console type='pty'><target type='virtio' port='0'/></console>"))  # fmt: skip
    assert "<target type='virtio' port='1'/>" in xml


def test_arm_virt_board_gets_a_pcie_root_and_no_balloon() -> None:
    """qemuDomainDefAddDefaultDevices: the 'virt' board's PCIe root (gpex) when QEMU has it, no default balloon;
    virtio devices then sit on root ports, one spare added, as on q35."""
    caps = _fake("gpex-pcihost", "pcie-root-port", "virtio-mmio", arch="aarch64")
    caps.machines = [Machine("virt", None, 512, True)]
    xml = defined(guest("<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/>"
                        "</disk>", arch="aarch64", machine="virt").replace("<memballoon model='none'/>", ""),
                  caps)  # fmt: skip
    assert "<controller type='pci' index='0' model='pcie-root'/>" in xml
    assert "<memballoon" not in xml
    assert "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>" in xml  # the disk
    assert xml.count("model='pcie-root-port'") == 2


def test_further_pseries_phbs_get_their_model_and_a_free_target_index() -> None:
    phbs = "<controller type='pci' index='1' model='pci-root'><target index='1'/></controller>" \
           "<controller type='pci' index='2' model='pci-root'/>"  # fmt: skip
    caps = _fake("spapr-pci-host-bridge", arch="ppc64")
    caps.machines = [Machine("pseries", None, 1024, True)]
    xml = defined(guest(phbs, arch="ppc64", machine="pseries"), caps)
    assert ("<controller type='pci' index='2' model='pci-root'>\n      <model name='spapr-pci-host-bridge'/>\n"
            "      <target index='2'/>") in xml  # fmt: skip


def test_nvram_with_a_source_is_kept_in_its_form() -> None:
    """libvirt 9.0's <nvram type='file'><source file=.../></nvram>: the store is the same path as the old form."""
    os_extra = ("<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"
                "<nvram type='file'><source file='/var/lib/libvirt/nvram/g_VARS.fd'/></nvram>")  # fmt: skip
    dom = parse_domain(guest(os_extra=os_extra))
    assert dom.os is not None and dom.os.nvram is not None and dom.os.nvram.path == "/var/lib/libvirt/nvram/g_VARS.fd"
    assert (
        "<nvram type='file'>\n      <source file='/var/lib/libvirt/nvram/g_VARS.fd'/>\n    </nvram>"
        in format_domain(dom)
    )
    assert "<nvram>/v.fd</nvram>" in format_domain(parse_domain(guest(os_extra="<nvram>/v.fd</nvram>")))


def test_mediated_and_scsi_host_devices_are_read_and_placed() -> None:
    """Before: <hostdev model=...> (mdev) and <source protocol=...> (iSCSI, vhost-scsi) were refused by name."""
    mdev = ("<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'><source>"
            "<address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/></source></hostdev>")  # fmt: skip
    xml = defined(guest(mdev))
    assert "<hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='on'>" in xml
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n    </hostdev>" in xml
    iscsi = ("<hostdev mode='subsystem' type='scsi'><source protocol='iscsi' name='iqn.1992-01.com.example'>"
             "<host name='example.org' port='3260'/></source></hostdev>")  # fmt: skip
    dom = parse_domain(guest(iscsi))
    assert dom.devices is not None and dom.devices.hostdevs[0].source is not None
    assert dom.devices.hostdevs[0].source.name == "iqn.1992-01.com.example/0"  # LUN 0 unless named


def test_nic_offloads_and_rss_reach_the_command_line() -> None:
    from pyvirt_qemu.command_line_devices import nic_device_props

    nic = ("<interface type='user'><mac address='52:54:00:e5:48:58'/><model type='virtio'/>"
           "<driver rss='on' rss_hash_report='off'><host csum='off' gso='off'/><guest tso4='off'/></driver>"
           "</interface>")  # fmt: skip
    xml = defined(guest(nic))
    assert "<driver rss='on' rss_hash_report='off'>\n        <host csum='off' gso='off'/>\n" in xml
    dom = apply_defaults(parse_domain(guest(nic)), caps=_fake())
    assert dom.devices is not None
    props = nic_device_props(0, dom.devices.interfaces[0], None, {})
    keys = [k for k in props if k in ("csum", "gso", "guest_tso4", "rss", "hash")]
    assert keys == ["csum", "gso", "guest_tso4", "rss", "hash"] and props["rss"] is True and props["csum"] is False


def test_9p_file_modes_are_octal_and_reach_fsdev() -> None:
    from pyvirt_qemu.command_line import build_command_line

    fs = ("<filesystem type='mount' accessmode='mapped' fmode='644' dmode='0755'><source dir='/export'/>"
          "<target dir='tag'/></filesystem>")  # fmt: skip
    assert "<filesystem type='mount' accessmode='mapped' fmode='0644' dmode='0755'>" in defined(guest(fs))
    with pytest.raises(Error, match="invalid fmode: '01000'"):
        parse_domain(guest(fs.replace("fmode='644'", "fmode='1000'")))
    dom = apply_defaults(parse_domain(guest(fs)), caps=_fake())
    argv = build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_fake(),
                              vnc_port=5900, hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    fsdev = argv[argv.index("-fsdev") + 1]
    assert ",multidevs" not in fsdev and "security_model=mapped,fmode=0644,dmode=0755," in fsdev


def test_disk_source_settings_are_kept_and_refused_at_start() -> None:
    """NBD over TLS, slices, LUKS in the source: written back as given, and the command line refuses what this
    QEMU cannot apply (NBD over TLS without QEMU_CAPS_NBD_TLS, in libvirt's words) instead of starting the guest
    without it."""
    from pyvirt_qemu.command_line import build_command_line

    disk = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='bar' "
            "tls='yes'><host name='example.org' port='1234'/></source><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    assert "<source protocol='nbd' name='bar' tls='yes'>" in defined(guest(disk))
    dom = apply_defaults(parse_domain(guest(disk)), caps=_fake())
    with pytest.raises(Error, match=r"this qemu does not support TLS transport for NBD"):
        build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_fake(),
                           vnc_port=5900, hugepage_mounts=[], host_nodes={0})  # fmt: skip
    luks = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2'>"
            "<encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>"
            "</encryption></source><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    assert "<encryption format='luks' engine='qemu'>" in defined(guest(luks))  # qemuDomainDeviceDiskDefPostParse


def test_virtio_iommu_and_vsock_are_pci_devices() -> None:
    """Before: both were kept as opaque elements, so they got no PCI address and vsock no model."""
    q35 = guest("<iommu model='virtio'/><vsock><cid auto='yes'/></vsock>", machine="q35").replace(
        "<devices>", "<features><acpi/></features><devices>"
    )
    xml = defined(q35, _fake("pcie-root-port", "virtio-iommu-pci", "virtio-iommu.boot-bypass"))
    # virtio-iommu is an integrated endpoint on pcie-root; vhost-vsock a PCIe endpoint behind a root port
    assert "<iommu model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x00'" in xml
    assert (
        "<vsock model='virtio'>\n      <cid auto='yes'/>\n      <address type='pci' domain='0x0000' bus='0x01'" in xml
    )


def test_serial_console_compat_as_libvirt_adds_it() -> None:
    """virDomainDefAddConsoleCompat: the board's serial port becomes console 0 ahead of a virtio console; a
    PCI serial port does not become a console at all."""
    xml = defined(guest("<serial type='pty'/><console type='pty'><target type='virtio'/></console>"))
    assert xml.index("<target type='serial' port='0'/>") < xml.index("<target type='virtio' port='0'/>")
    xml = defined(guest("<serial type='pty'><target type='pci-serial'/></serial>"), _fake("pci-serial"))
    assert "<console" not in xml


def test_parse_rules_libvirt_applies_to_every_guest() -> None:
    """loadparm in capitals, a channel's state in live XML only, the remaining iothread ids filled in, node
    sets in their shortest form, the default port of a network disk's host, the primary video first."""
    disk = ("<disk type='network' device='disk'><source protocol='gluster' name='Volume/Image'>"
            "<host name='example.org'/></source><target dev='vda' bus='virtio'/><boot order='1' loadparm='sys1'/>"
            "</disk>")  # fmt: skip
    chan = "<channel type='pty'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>"
    videos = "<video><model type='vga'/></video><video><model type='qxl' primary='yes'/></video>"
    doc = guest(disk + chan + videos).replace(
        "<vcpu>1</vcpu>",
        "<vcpu>1</vcpu><iothreads>3</iothreads><iothreadids><iothread id='2'/></iothreadids>"
        "<numatune><memnode cellid='0' mode='strict' nodeset='1-2,5-7,^6'/></numatune>"
        "<cpu><numa><cell id='0' cpus='0' memory='219136' unit='KiB'/></numa></cpu>",
    )
    xml = defined(doc)
    assert "loadparm='SYS1'" in xml and "state=" not in xml
    assert "<iothread id='2'/>\n    <iothread id='1'/>\n    <iothread id='3'/>" in xml
    assert "nodeset='1-2,5,7'" in xml
    assert "<host name='example.org' port='24007'/>" in xml
    assert xml.index("<model type='qxl'") < xml.index("<model type='vga'")
    assert "state='connected'" in format_domain(parse_domain(doc, live=True))


def test_numad_placement_follows_between_vcpus_and_memory() -> None:
    xml = defined(guest().replace("<vcpu>1</vcpu>", "<vcpu placement='auto'>1</vcpu>"))
    assert "<numatune>\n    <memory mode='strict' placement='auto'/>\n  </numatune>" in xml
    memory_auto = "<vcpu>1</vcpu><numatune><memory mode='preferred' placement='auto'/></numatune>"
    xml = defined(guest().replace("<vcpu>1</vcpu>", memory_auto))
    assert "<vcpu placement='auto'>1</vcpu>" in xml


def test_hotplugged_dimms_get_slots_and_guests_their_emulator() -> None:
    mem = ("<memory model='dimm'><target><size unit='KiB'>65536</size><node>0</node></target></memory>"
           "<memory model='dimm'><target><size unit='KiB'>65536</size><node>0</node></target>"
           "<address type='dimm' slot='0'/></memory>")  # fmt: skip
    doc = (
        guest(mem)
        .replace(
            "<memory unit='KiB'>219136</memory>",
            "<maxMemory slots='16' unit='KiB'>1099511627</maxMemory><memory unit='KiB'>219136</memory>",
        )
        .replace(
            "<vcpu>1</vcpu>", "<vcpu>1</vcpu><cpu><numa><cell id='0' cpus='0' memory='219136' unit='KiB'/></numa></cpu>"
        )
    )
    xml = defined(doc.replace("<emulator>/usr/bin/qemu-system-x86_64</emulator>", ""))
    assert "<address type='dimm' slot='1'/>" in xml  # the lowest slot the other does not hold
    assert "<emulator>" in xml and "qemu-system-x86_64</emulator>" in xml  # qemuDomainDefPostParseBasic


def test_disk_rules_of_libvirts_parser() -> None:
    """A disk without <source> is an empty file disk; vhost-user disks are never snapshotted; image indexes
    are read from live XML only; the qcow2 metadata cache size is kept in bytes."""
    cdrom = "<disk type='network' device='cdrom'><target dev='hdd' bus='ide'/></disk>"
    assert "<disk type='file' device='cdrom'>" in defined(guest(cdrom))
    vhost = ("<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' "
             "path='/tmp/vhost-blk.sock'/><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    assert "<disk type='vhostuser' device='disk' snapshot='no'>" in defined(guest(vhost))
    chain = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'><metadata_cache><max_size "
             "unit='KiB'>12</max_size></metadata_cache></driver><source file='/a.qcow2' index='2'/>"
             "<backingStore type='file' index='1'><format type='raw'/><source file='/b.raw'/></backingStore>"
             "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    xml = defined(guest(chain))
    assert "<source file='/a.qcow2'/>" in xml and "<backingStore type='file'>" in xml
    assert "<max_size unit='bytes'>12288</max_size>" in xml
    assert "<backingStore type='file' index='1'>" in format_domain(parse_domain(guest(chain), live=True))


def test_more_of_libvirts_formatting() -> None:
    """A video's virtio options come before its driver name; a vDPA NIC is virtio; an SDL audio backend names
    SDL_AUDIODRIVER's driver (libvirt's compat for QEMU_AUDIO_DRV)."""
    video = "<video><driver name='vhostuser' iommu='on'/><model type='virtio'/></video>"
    assert "<driver iommu='on' name='vhostuser'/>" in defined(guest(video))
    vdpa = "<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>"
    assert "<model type='virtio'/>" in defined(guest(vdpa))


def test_sdl_audio_driver_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QEMU_AUDIO_DRV", "sdl")
    monkeypatch.setenv("SDL_AUDIODRIVER", "esd")
    assert "<audio id='1' type='sdl' driver='esd'/>" in defined(guest("<graphics type='sdl'/>"), _fake("VGA"))
    monkeypatch.setenv("SDL_AUDIODRIVER", "bogus")
    with pytest.raises(Error, match="unknown SDL_AUDIODRIVER setting bogus"):
        defined(guest("<graphics type='sdl'/>"), _fake("VGA"))


def test_interface_and_channel_settings_kept_and_refused_at_start() -> None:
    from pyvirt_qemu.command_line import build_command_line

    nic = ("<interface type='user'><mac address='52:54:00:e5:48:58'/><port isolated='yes'/><model type='virtio'/>"
           "</interface>")  # fmt: skip
    assert "<port isolated='yes'/>" in defined(guest(nic))
    dom = apply_defaults(parse_domain(guest(nic)), caps=_fake())
    with pytest.raises(Error, match="an isolated port or a downscript"):
        build_command_line(dom, "/tmp/mon.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=_fake(),
                           vnc_port=5900, hugepage_mounts=[], host_nodes={0})  # fmt: skip
    agent = ("<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/><mouse mode='client'/></source>"
             "<target type='virtio' name='com.redhat.spice.0'/></channel>")  # fmt: skip
    assert "<source>\n        <clipboard copypaste='yes'/>\n        <mouse mode='client'/>\n      </source>" in defined(
        guest(agent)
    )


def test_a_placed_pci_address_is_written_in_full() -> None:
    """virPCIDeviceAddressParseXML: domain, bus and function default to 0 and are always written."""
    nic = ("<interface type='user'><mac address='52:54:00:e5:48:58'/><model type='virtio'/>"
           "<address type='pci' slot='0x05' multifunction='on'/></interface>")  # fmt: skip
    xml = defined(guest(nic))
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0' multifunction='on'/>" in xml


def test_audio_for_a_guest_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """qemu.conf's nographics_allow_host_audio lets a headless guest use QEMU_AUDIO_DRV's backend."""
    monkeypatch.setenv("QEMU_AUDIO_DRV", "alsa")
    dom = apply_defaults(parse_domain(guest()), caps=_fake(), nographics_host_audio=True)
    assert "<audio id='1' type='alsa'/>" in format_domain(dom, INACTIVE)
    assert "<audio id='1' type='none'/>" in defined(guest())


def test_backing_image_metadata_cache_kept_and_given_to_qemu() -> None:
    from pyvirt_qemu.block_nodes import disk_blockdevs

    chain = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2'/>"
             "<backingStore type='file'><format type='qcow2'><metadata_cache><max_size unit='KiB'>1"
             "</max_size></metadata_cache></format><source file='/b.qcow2'/></backingStore>"
             "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    assert "<max_size unit='bytes'>1024</max_size>" in defined(guest(chain))
    dom = parse_domain(guest(chain), live=True)
    assert dom.devices is not None and dom.devices.disks[0].backing is not None
    dom.devices.disks[0].source_index, dom.devices.disks[0].backing.index = 2, 1
    backing_format = disk_blockdevs(dom.devices.disks[0])[1]
    assert backing_format["node-name"] == "libvirt-1-format" and backing_format["cache-size"] == 1024
