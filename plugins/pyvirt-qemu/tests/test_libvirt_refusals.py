"""Definitions libvirt's QEMU driver refuses, refused here for libvirt's reason, with its code and words.

Each check is exercised where a user meets it: ``define`` (and the generic parser every driver shares) or
``start``. The cases come from libvirt 9.0's qemuxml2argv must-fail corpus, written small.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.domain_validation import check_cpu_model, check_start_validate
from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

import pyvirt
from pyvirt.conf.disk_names import disk_index, insertion_order
from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.uri import parse_uri


def _domain(devices: str = "", extra: str = "", arch: str = "x86_64", machine: str = "pc", vcpu: str = "1") -> str:
    return f"""<domain type='qemu'><name>refused</name><memory unit='MiB'>64</memory><vcpu>{vcpu}</vcpu>{extra}
<os><type arch='{arch}' machine='{machine}'>hvm</type></os><devices>{devices}<memballoon model='none'/></devices>
</domain>"""


def _refusal(fn: object, *args: object) -> Error:
    with pytest.raises(Error) as info:
        fn(*args)  # type: ignore[operator]
    return info.value


# --------------------------------------------------------------------------- the generic parser (every driver)


def test_a_serial_port_on_a_unix_socket_needs_a_path() -> None:
    """virDomainChrSourceDefValidate: only a virtio (or Xen) channel may leave its socket path to the driver."""
    err = _refusal(parse_domain, _domain("<serial type='unix'><target type='isa-serial'/></serial>"))
    assert err.code == ErrorCode.INTERNAL_ERROR
    assert str(err) == "internal error: Missing source path attribute for char device"
    channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    assert parse_domain(_domain(channel)).devices is not None  # generated at start


@pytest.mark.parametrize(
    ("cputune", "code", "message"),
    [
        ("<vcpusched vcpus='0-1' scheduler='fifo' priority='1'/><vcpusched vcpus='1-2' scheduler='fifo' priority='1'/>",
         ErrorCode.XML_DETAIL, "'vcpusched' attributes 'vcpus' must not overlap"),
        ("<iothreadsched iothreads='1' scheduler='batch'/><iothreadsched iothreads='2' scheduler='batch'/>",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Cannot find 'iothread' : 2"),
        ("<vcpusched vcpus='5' scheduler='batch'/>",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: vCPU '5' is not present in domain definition"),
    ],
)  # fmt: skip
def test_thread_schedulers_name_existing_threads_once(cputune: str, code: ErrorCode, message: str) -> None:
    """virDomainThreadSchedParseHelper: a vCPU or I/O thread gets one scheduler, and must exist."""
    err = _refusal(parse_domain, _domain(extra=f"<iothreads>1</iothreads><cputune>{cputune}</cputune>", vcpu="4"))
    assert (err.code, str(err)) == (code, message)


def test_iothread_ids_complete_the_count_before_cputune_names_them() -> None:
    """virDomainIOThreadIDDefArrayInit: with <iothreads>3</iothreads> and id 5 given, 1 and 2 exist too."""
    ids = "<iothreads>3</iothreads><iothreadids><iothread id='5'/></iothreadids>"
    parse_domain(_domain(extra=f"{ids}<cputune><iothreadsched iothreads='1-2,5' scheduler='batch'/></cputune>"))
    err = _refusal(parse_domain, _domain(extra=f"{ids}<cputune><iothreadsched iothreads='3' scheduler='batch'/>"
                                         "</cputune>"))  # fmt: skip
    assert str(err) == "unsupported configuration: Cannot find 'iothread' : 3"


def test_iothread_pins_are_read_once_per_thread_and_written_in_thread_order() -> None:
    """virDomainIOThreadPinDefParseXML and the formatter: <iothreadids> order, then the ids <iothreads> adds;
    CPU sets in their shortest form; one pin per thread."""
    ids = "<iothreads>3</iothreads><iothreadids><iothread id='5'/></iothreadids>"
    pins = "<iothreadpin iothread='1' cpuset='1,2,3'/><iothreadpin iothread='5' cpuset='0'/>"
    out = format_domain(parse_domain(_domain(extra=f"{ids}<cputune>{pins}</cputune>")))
    assert "<iothreadpin iothread='5' cpuset='0'/>\n    <iothreadpin iothread='1' cpuset='1-3'/>" in out
    err = _refusal(parse_domain, _domain(extra=f"{ids}<cputune>{pins}{pins}</cputune>"))
    assert (err.code, str(err)) == (ErrorCode.XML_ERROR, "XML error: Duplicate iothreadpin for same iothread '1'")


_CELLS = "<cpu><numa><cell id='0' cpus='0' memory='32' unit='MiB'/><cell id='1' cpus='1' memory='32' unit='MiB'/>" \
    "</numa></cpu>"  # fmt: skip


@pytest.mark.parametrize(
    ("numatune", "vcpu", "code", "message"),
    [
        ("<memory mode='restrictive' nodeset='0'/><memnode cellid='0' mode='strict' nodeset='0'/>", "static",
         ErrorCode.XML_ERROR, "XML error: 'restrictive' mode is required in memnode element when mode is "
         "'restrictive' in memory element"),
        ("<memory placement='auto'/><memnode cellid='0' mode='strict' nodeset='0'/>", "static",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Per-node binding is not compatible with "
         "automatic NUMA placement."),
        ("<memnode cellid='0' mode='strict' nodeset='0'/>", "auto",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Per-node binding is not compatible with "
         "automatic NUMA placement."),
        ("<memory mode='interleave' placement='static'/>", "auto",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: nodeset for NUMA memory tuning must be set if "
         "'placement' is 'static'"),
        ("<memory mode='strict'/>", "static",
         ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: nodeset for NUMA memory tuning must be set if "
         "'placement' is 'static'"),
    ],
)  # fmt: skip
def test_numatune_bindings_libvirt_cannot_apply(numatune: str, vcpu: str, code: ErrorCode, message: str) -> None:
    """virDomainNumatuneParseXML and virDomainNumatuneSet, with libvirt's words."""
    xml = _domain(extra=f"<numatune>{numatune}</numatune>{_CELLS}", vcpu="2").replace(
        "<vcpu>2</vcpu>", f"<vcpu placement='{vcpu}'>2</vcpu>"
    )
    err = _refusal(parse_domain, xml)
    assert (err.code, str(err)) == (code, message)


def test_a_restrictive_binding_with_restrictive_nodes_and_an_automatic_one_without_nodes_are_fine() -> None:
    ok = "<memory mode='restrictive' nodeset='0'/><memnode cellid='0' mode='restrictive' nodeset='0'/>"
    parse_domain(_domain(extra=f"<numatune>{ok}</numatune>{_CELLS}", vcpu="2"))
    parse_domain(_domain(extra="<numatune><memory mode='strict' placement='auto'/></numatune>"))


def test_zpci_ids_are_read_and_written_as_libvirt_writes_them() -> None:
    """virZPCIDeviceAddressParseXML (C's number prefixes) and the formatter (both ids, fixed widths)."""
    hostdev = """<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='0' function='0'/>
</source><address type='pci' domain='0' bus='0' slot='8' function='0'><zpci uid='0x19'/></address></hostdev>"""
    out = format_domain(parse_domain(_domain(hostdev)))
    assert "<zpci uid='0x0019' fid='0x00000000'/>" in out
    err = _refusal(parse_domain, _domain(hostdev.replace("uid='0x19'", "uid='-1'")))
    assert str(err) == "XML error: Invalid value for attribute 'uid' in element 'zpci': '-1'. Expected " \
        "non-negative integer value"  # fmt: skip


def test_disk_names_index_as_libvirt_reads_them() -> None:
    """virDiskNameToIndex, shared by the parser, the test driver and the QEMU plugin."""
    # (a partition number is not part of the index: sda12 is sda's)
    assert [disk_index(n) for n in ("vda", "hdc", "vdz", "sdaa", "xvdb", "ubdc", "fda", "sda12")] == \
        [0, 2, 25, 26, 1, 2, 0, 0]  # fmt: skip
    # (only ASCII digits may follow the letters)
    assert [disk_index(n) for n in ("sd", "sdA", "sda1x", "nvme0n1", "vda\u0661")] == [-1] * 5
    disks = [("virtio", "vdb"), ("ide", "hda"), ("virtio", "vda"), ("virtio", "vdaa"), ("sata", "sdb")]
    assert insertion_order(disks, lambda d: d) == [("virtio", "vda"), ("virtio", "vdb"), ("virtio", "vdaa"),
                                                     ("ide", "hda"), ("sata", "sdb")]  # fmt: skip


# --------------------------------------------------------------------------- the QEMU driver's validation


def _x86_caps(**changes: object) -> EmulatorCaps:
    """An x86 emulator as libvirt's test data describes one (its flags are the truth)."""
    fields: dict[str, object] = {
        "path": "", "identity": "fake", "version": 0, "version_text": "0", "kvm": True, "arch": "x86_64",
        "machines": [Machine("pc", None, 255, True)], "flags": ["query-hotpluggable-cpus"], "probed": False,
    }  # fmt: skip
    fields.update(changes)
    return EmulatorCaps(**fields)  # type: ignore[arg-type]


def test_a_pseries_guest_starts_whole_cores() -> None:
    """qemuValidateDomainVCpuTopology: vCPUs come in units of a pSeries core's threads, checked before the
    devices (the PCI host bridge this fake emulator lacks)."""
    caps = _x86_caps(arch="ppc64", machines=[Machine("pseries", None, 255, True)])
    xml = _domain(arch="ppc64", machine="pseries", vcpu="8").replace(
        "<vcpu>8</vcpu>", "<vcpu current='2'>8</vcpu><cpu><topology sockets='1' dies='1' cores='2' threads='4'/></cpu>"
    )
    err = _refusal(apply_defaults, parse_domain(xml), None, caps)
    assert str(err) == "unsupported configuration: vCPUs count must be a multiple of the vCPU hotplug granularity (4)"
    err = _refusal(apply_defaults, parse_domain(xml.replace("cores='2'", "cores='1'")), None, caps)
    assert str(err) == "unsupported configuration: CPU topology doesn't match maximum vcpu count"


@pytest.mark.parametrize(
    ("timer", "message"),
    [
        ("<timer name='tsc' present='yes'/>", "Configuring the 'tsc' timer is not supported for virtType=qemu "
         "arch=s390x machine=s390-ccw-virtio guests"),
        ("<timer name='platform'/>", "unsupported timer type (name) 'platform'"),
        ("<timer name='rtc' track='boot'/>", "unsupported rtc timer track 'boot'"),
    ],
)  # fmt: skip
def test_timers_qemu_cannot_configure(timer: str, message: str) -> None:
    """qemuValidateDomainDefClockTimers, ahead of the devices."""
    caps = _x86_caps(arch="s390x", machines=[Machine("s390-ccw-virtio", None, 255, True)])
    xml = _domain(arch="s390x", machine="s390-ccw-virtio", extra=f"<clock offset='utc'>{timer}</clock>")
    err = _refusal(apply_defaults, parse_domain(xml), None, caps)
    assert (err.code, str(err)) == (ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {message}")


def test_zpci_ids_need_the_zpci_device_and_a_uid_in_range() -> None:
    """qemuValidateDomainDeviceDefZPCIAddress, and the reservation of the given ids (virDomainZPCIAddressReserveId,
    which prints the number in octal)."""
    hostdev = """<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='{s}' function='0'/>
</source><address type='pci' domain='0' bus='0' slot='{s}' function='0'><zpci uid='{uid}'/></address></hostdev>"""
    one = hostdev.format(s=8, uid="0x1234")
    err = _refusal(apply_defaults, parse_domain(_domain(one, arch="i686")), None, _x86_caps(arch="i686"))
    assert str(err) == "unsupported configuration: This QEMU binary doesn't support zPCI"
    s390 = _x86_caps(arch="s390x", machines=[Machine("s390-ccw-virtio", None, 255, True)], flags=["zpci"])
    zero = _domain(hostdev.format(s=8, uid="0"), arch="s390x", machine="s390-ccw-virtio")
    err = _refusal(apply_defaults, parse_domain(zero), None, s390)
    assert (err.code, str(err)) == (ErrorCode.XML_ERROR, "XML error: Invalid PCI address uid='0x0000', must be > "
                                    "0x0000 and <= 0xffff")  # fmt: skip
    twice = _domain(one + hostdev.format(s=9, uid="0x1234"), arch="s390x", machine="s390-ccw-virtio")
    err = _refusal(apply_defaults, parse_domain(twice), None, s390)
    assert (err.code, str(err)) == (ErrorCode.INTERNAL_ERROR, "internal error: zPCI uid 11064 is already reserved")
    dom = apply_defaults(parse_domain(_domain(one, arch="s390x", machine="s390-ccw-virtio")), caps=s390)
    assert dom.devices is not None and dom.devices.hostdevs[0].address is not None
    assert (dom.devices.hostdevs[0].address.zpci_uid, dom.devices.hostdevs[0].address.zpci_fid) == (0x1234, 0)


def test_pci_controller_numa_nodes() -> None:
    """qemuDomainControllerDefPostParse and virDomainControllerDefValidate on a PCI controller's <node>."""
    caps = _x86_caps(machines=[Machine("pc", None, 255, True)])
    pxb = "<controller type='pci' index='1' model='pci-expander-bus'><target busNr='254'><node>{n}</node></target>" \
        "</controller>"  # fmt: skip
    err = _refusal(apply_defaults, parse_domain(_domain(pxb.format(n=1), extra=_CELLS.replace(
        "<cell id='1' cpus='1' memory='32' unit='MiB'/>", ""))), None, caps)  # fmt: skip
    assert str(err) == "XML error: pci-expander-bus with index 1 is configured for a NUMA node (1) not present in " \
        "the domain's <cpu><numa> array (1)"  # fmt: skip
    q35 = _x86_caps(machines=[Machine("q35", None, 255, True)])
    err = _refusal(apply_defaults, parse_domain(_domain(pxb.format(n=0), machine="q35")), None, q35)
    assert str(err) == "unsupported configuration: pci-expander-bus controllers are only supported on 440fx-based " \
        "machinetypes"  # fmt: skip
    root = "<controller type='pci' index='0' model='pci-root'><target><node>0</node></target></controller>"
    err = _refusal(apply_defaults, parse_domain(_domain(root, extra=_CELLS, vcpu="2")), None, caps)
    assert str(err) == "unsupported configuration: The PCI controller with index=0 can't be associated with a NUMA node"
    err = _refusal(parse_domain, _domain(root.replace(">0</node>", ">-1</node>")))
    assert str(err) == "XML error: invalid NUMA node in target"


def test_iothreads_need_the_emulators_iothread_object_first_thing_at_start() -> None:
    """qemuProcessStartValidateIOThreads: before any other check of the start (here, before the refusal of the
    pin itself); a probed QEMU always has the object."""
    xml = _domain(extra="<iothreads>1</iothreads><cputune><iothreadpin iothread='1' cpuset='0'/></cputune>")
    caps = _x86_caps()
    dom = apply_defaults(parse_domain(xml), caps=caps)
    with pytest.raises(Error) as info:
        build_command_line(dom, "/tmp/m.sock", fds={"monitor": 3}, lib_dir="/tmp/lib", caps=caps,
                           hugepage_mounts=[], host_nodes={0})  # fmt: skip
    err = info.value
    assert str(err) == "unsupported configuration: IOThreads not supported for this QEMU"
    check_start_validate(dom, _x86_caps(flags=["iothread"]))
    check_start_validate(dom, _x86_caps(probed=True))


def test_virtiofs_exports_read_write() -> None:
    """qemuValidateDomainDeviceDefFS: virtiofsd started by the driver cannot export read-only (libvirt 9.0)."""
    fs = "<filesystem type='mount'><driver type='virtiofs'/><source dir='/srv'/><target dir='t'/><readonly/>" \
        "</filesystem>"  # fmt: skip
    err = _refusal(apply_defaults, parse_domain(_domain(fs)), None, _x86_caps())
    assert str(err) == "unsupported configuration: virtiofs does not yet support read-only mode"


def test_a_cpu_model_the_emulator_lacks_is_refused_when_no_fallback_is_allowed() -> None:
    """qemuProcessUpdateGuestCPU's virCPUTranslate, against the emulator's model list."""
    caps = _x86_caps(cpu_models=["Nehalem", "qemu64"])
    xml = _domain(extra="<cpu match='exact'><model fallback='{f}'>Westmere</model></cpu>")
    err = _refusal(check_cpu_model, parse_domain(xml.format(f="forbid")), caps)
    assert str(err) == "unsupported configuration: CPU model Westmere is not supported by hypervisor"
    check_cpu_model(parse_domain(xml.format(f="allow")), caps)  # QEMU's fallback
    check_cpu_model(parse_domain(xml.format(f="forbid").replace("Westmere", "Nehalem")), caps)
    check_cpu_model(parse_domain(xml.format(f="forbid")), _x86_caps())  # a list not known: not second-guessed


# --------------------------------------------------------------------------- define and start on this host


def test_define_forgets_a_channel_socket_the_driver_generated(conn: pyvirt.Connection, qemu_root: Path) -> None:
    """qemuDomainChrDefDropDefaultPath: a definition taken from a running guest's XML names the socket the driver
    made in the guest's directory; it is dropped, so the next start makes one for the guest's current name. A
    reconnecting client cannot stay on it (the driver listens there)."""
    lib = paths_for_uri(parse_uri(f"qemu:///embed?root={qemu_root}"), "qemu").lib
    path = f"{lib}/domain-oldname/org.qemu.guest_agent.0"
    channel = f"<channel type='unix'><source mode='bind' path='{path}'/>" \
        "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"  # fmt: skip
    dom = conn.define_domain(_domain(channel))
    assert path not in dom.xml_desc() and "org.qemu.guest_agent.0" in dom.xml_desc()
    kept = channel.replace(str(lib), "/srv/sockets")
    kept_dom = conn.define_domain(_domain(kept).replace("<name>refused</name>", "<name>kept</name>"))
    assert "/srv/sockets/domain-oldname/org.qemu.guest_agent.0" in kept_dom.xml_desc()
    reconnect = channel.replace("mode='bind'", "mode='connect'").replace("/>", "><reconnect enabled='yes' "
                                                                        "timeout='10'/></source>", 1)  # fmt: skip
    with pytest.raises(pyvirt.Error) as info:
        conn.define_domain(_domain(reconnect))
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert str(info.value) == "internal error: chardev reconnect is possible only for connect mode"


def test_a_cpu_model_this_qemu_lacks_is_refused_at_start(conn: pyvirt.Connection, virt_type: str) -> None:
    """The probed QEMU's own model list: a RHEL-only model with fallback='forbid' is refused before QEMU runs,
    with libvirt's words (Debian's QEMU has no cpu64-rhel6)."""
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    xml = _domain(extra="<cpu match='exact'><model fallback='forbid'>cpu64-rhel6</model></cpu>")
    dom = conn.define_domain(xml.replace("type='qemu'", f"type='{virt_type}'"))
    with pytest.raises(pyvirt.Error) as info:
        dom.create()
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert str(info.value) == "unsupported configuration: CPU model cpu64-rhel6 is not supported by hypervisor"
    assert not dom.is_active()


def test_a_zpci_address_is_refused_at_define_on_x86(conn: pyvirt.Connection) -> None:
    """The probed x86 QEMU has no zpci device: libvirt's refusal at define, not a failed start."""
    hostdev = """<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='0' function='0'/>
</source><address type='pci' domain='0' bus='0' slot='8' function='0'><zpci uid='0x19' fid='0x1f'/></address>
</hostdev>"""
    with pytest.raises(pyvirt.Error) as info:
        conn.define_domain(_domain(hostdev))
    assert (info.value.code, str(info.value)) == (ErrorCode.CONFIG_UNSUPPORTED,
                                                  "unsupported configuration: This QEMU binary doesn't support zPCI")  # fmt: skip
