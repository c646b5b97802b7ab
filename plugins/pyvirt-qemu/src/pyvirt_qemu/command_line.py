"""Domain XML -> QEMU command line, as libvirt 9.0 writes it for QEMU 7.x.

The options come in libvirt's order with libvirt's syntax (``-blockdev`` and
``-device`` as JSON, ``-machine`` with ``memory-backend``, ``-audiodev``,
``-sandbox``), and devices carry the PCI addresses and ids that
``pci_addresses`` and ``device_aliases`` gave them, so the guest sees the same
hardware libvirt would give it. libvirt's own qemuxml2argv test data is the
yardstick (``tests/conformance_argv.py``). Anything the domain asks for that
is not translated is refused with CONFIG_UNSUPPORTED naming it, never
silently left out of the guest.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Clock, Domain
from pyvirt.conf.domain_devices import ChardevSource, Disk, Interface
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt_qemu.accel_args import accel_arg, tseg_args
from pyvirt_qemu.block_nodes import assign_node_ids
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.command_line_devices import DeviceArgs
from pyvirt_qemu.cpu_affinity import check_cpu_tuning
from pyvirt_qemu.cpu_flags import cpu_argument
from pyvirt_qemu.device_aliases import assign_aliases
from pyvirt_qemu.domain_validation import (
    check_for_start,
    check_graphics_count,
    check_start_validate,
    check_tpm_versions,
    pseries_machine_options,
)
from pyvirt_qemu.emulator_caps import EmulatorCaps, emulator_path
from pyvirt_qemu.graphics import GraphicsConfig, graphics_args, sdl_environment
from pyvirt_qemu.host_devices import check_host_devices
from pyvirt_qemu.iothreads import iothread_args
from pyvirt_qemu.memory_backends import (
    HugetlbfsMount,
    aligned_memory_kib,
    hugetlbfs_mounts,
    initial_memory_kib,
    memory_layout,
    numa_cells,
)
from pyvirt_qemu.network_disks import NbdTls
from pyvirt_qemu.pci_addresses import is_i440fx, is_q35
from pyvirt_qemu.qemu_secrets import GuestSecrets
from pyvirt_qemu.shared_memory import check_shmems
from pyvirt_qemu.smartcards import ccid_controller_args, check_smartcards, smartcard_args
from pyvirt_qemu.sysinfo_args import genid_args, smbios_args, sysinfo_fwcfg_args
from pyvirt_qemu.usb_addresses import UsbHub
from pyvirt_qemu.vcpu_config import startup_smp_count
from pyvirt_qemu.virtio_transports import check_ccw_addresses, retarget_virtio_devices

__all__ = ["QemuCommand", "build_command_line", "emulator_for", "json_arg", "memory_mib"]

_UNTRANSLATED = ("shmems",)


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def emulator_for(dom: Domain) -> str:
    return emulator_path(dom)


def json_arg(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _keyval_items(key: str, value: Any, out: list[str], bitmap: bool, nested: bool = False) -> None:
    """libvirt's virQEMUBuildCommandLineJSONRecurse: one JSON member as ``key=value`` items."""
    if isinstance(value, bool):
        out.append(f"{key}={'on' if value else 'off'}")
    elif isinstance(value, int | float):
        out.append(f"{key}={value}")
    elif isinstance(value, str):
        out.append(f"{key}={_escape_commas(value)}")
    elif isinstance(value, dict):
        for sub, v in value.items():
            _keyval_items(f"{key}.{sub}", v, out, bitmap, nested)
    elif isinstance(value, list) and not nested:
        if bitmap and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            out += _bitmap_items(key, value)
        elif not bitmap and all(isinstance(v, dict) and list(v) == ["str"] for v in value):
            # virQEMUBuildCommandLineJSONArrayObjectsStr (-netdev): [{"str": A}, {"str": B}] -> key=A,key=B
            out += [f"{key}={_escape_commas(str(v['str']))}" for v in value]
        else:
            for v in value:
                _keyval_items(key, v, out, bitmap, True)
    else:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot express '{key}' as a command line option")


def _bitmap_items(key: str, values: list[int]) -> list[str]:
    """libvirt's virQEMUBuildCommandLineJSONArrayBitmap: set bits as ranges, ``host-nodes=0-3``."""
    bits = sorted(set(values))
    out: list[str] = []
    i = 0
    while i < len(bits):
        j = i
        while j + 1 < len(bits) and bits[j + 1] == bits[j] + 1:
            j += 1
        out.append(f"{key}={bits[i]}-{bits[j]}" if j > i else f"{key}={bits[i]}")
        i = j + 1
    return out


def keyval_arg(props: dict[str, Any], first: str, bitmap: bool) -> str:
    """The ``-device``/``-object`` argument of a QEMU that takes no JSON there (libvirt's
    qemuBuildDeviceCommandlineFromJSON and virQEMUBuildObjectCommandlineFromJSON): the driver or QOM type
    first, then each property as ``key=value`` in the same order; ``bitmap``: number lists as ranges."""
    out = [_escape_commas(str(props[first]))] if first in props else []
    for key, value in props.items():
        if key != first:
            _keyval_items(key, value, out, bitmap)
    return ",".join(out)


def _for_caps(argv: list[str], caps: EmulatorCaps) -> list[str]:
    """The argv as an older QEMU takes it: ``-device``/``-object`` as key=value without the JSON flags."""
    # option -> (the flag for JSON, the key written first, numbers lists as ranges)
    syntax = {"-device": ("device.json+hotplug", "driver", False), "-object": ("object.qapified", "qom-type", True),
              "-netdev": ("netdev.json", "type", False)}  # fmt: skip
    out: list[str] = []
    for i, word in enumerate(argv):
        how = syntax.get(argv[i - 1] if i else "")
        if how is not None and word.startswith("{") and not caps.has_flag(how[0]):
            out.append(keyval_arg(json.loads(word), how[1], how[2]))
        else:
            out.append(word)
    if not caps.has_flag("seccomp-sandbox") and "-sandbox" in out:
        at = out.index("-sandbox")
        del out[at : at + 2]
    return out


def _escape_commas(value: str) -> str:
    return value.replace(",", ",,")


def memory_mib(dom: Domain) -> int:
    """Guest RAM in MiB, rounded up as libvirt aligns it for QEMU (whole MiB; 256 MiB steps on pSeries)."""
    if numa_cells(dom):
        initial_memory_kib(dom)  # the cells' checks come first, as libvirt makes them
    assert dom.memory is not None
    return aligned_memory_kib(dom, dom.memory.kib, "initial memory size") // 1024


@dataclass
class QemuCommand:
    emulator: str
    args: list[str] = field(default_factory=list)
    hugepage_dirs: list[str] = field(default_factory=list)  # the guest's directories on hugetlbfs mounts
    env: dict[str, str] = field(default_factory=dict)  # QEMU's environment beyond the common one (SASL_CONF_PATH)
    mem_lock: bool = False  # QEMU locks the guest's RAM: it needs an unlimited RLIMIT_MEMLOCK

    @property
    def argv(self) -> list[str]:
        return [self.emulator, *self.args]


def _check_translatable(dom: Domain) -> None:
    devices = dom.devices
    assert devices is not None
    for kind in _UNTRANSLATED:
        if getattr(devices, kind):
            raise _unsupported(f"<{kind[:-1]}>")
    if devices.iommu is not None and devices.iommu.model not in ("intel", "virtio"):
        raise _unsupported(f"IOMMU model '{devices.iommu.model}'")
    if dom.type not in ("kvm", "qemu"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown virtualization type: {dom.type}")
    if dom.resource_partition not in (None, "/machine") or dom.resource_appid:
        raise _unsupported("<resource> other than the default partition (it needs cgroups)")
    if dom.bootloader:  # (an <idmap> is kept, as libvirt keeps it: it maps container users, not a VM's)
        raise _unsupported("<bootloader>")
    if dom.on_lockfailure is not None:
        raise _unsupported("<on_lockfailure> (there is no lock manager)")
    for tuning in ("memtune", "blkiotune"):  # in the model for LXC; this driver does not apply them
        if getattr(dom, tuning) is not None:
            raise _unsupported(f"<{tuning}>")
    for action, allowed in (("on_poweroff", ("destroy", "restart")), ("on_reboot", ("restart", "destroy")),
                            ("on_crash", ("destroy", "restart", "preserve"))):  # fmt: skip
        value = getattr(dom, action)
        if value is not None and value not in allowed:
            raise _unsupported(f"<{action}> action '{value}'")
    check_cpu_tuning(dom)
    if dom.launch_security is not None or dom.perf:
        raise _unsupported("<launchSecurity> or <perf>")
    if dom.features is not None:
        f = dom.features
        if f.hap or f.viridian or f.ioapic_driver not in (None, "qemu", "kvm") or f.capabilities is not None:
            raise _unsupported("one of the requested <features>")


def _loadparm(dom: Domain) -> str | None:
    """qemuAppendLoadparmMachineParm: the s390 IPL load parameter of the first boot device (a disk, else a NIC)."""
    devices = dom.devices
    assert devices is not None
    bootable: list[Disk | Interface] = [*devices.disks, *devices.interfaces]
    for dev in bootable:
        if dev.boot is not None and dev.boot.order == 1 and dev.boot.loadparm:
            return str(dev.boot.loadparm).upper()
    return None


def _key_wrap(dom: Domain, has_option: Callable[[str], bool]) -> list[str]:
    """``aes-key-wrap=``/``dea-key-wrap=`` of ``<keywrap>`` (s390 CPACF key wrapping), AES first as libvirt's
    qemuAppendKeyWrapMachineParms writes them; ``has_option``: the emulator's machine takes the property
    (QEMU_CAPS_AES_KEY_WRAP / QEMU_CAPS_DEA_KEY_WRAP)."""
    states: dict[str, str] = {}
    for cipher in dom.keywrap or []:
        name = cipher.name or ""
        if name not in ("aes", "dea"):
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'name' in element 'cipher': '{name}'.")
        if name in states:  # virDomainKeyWrapCipherDefParseXML
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                f"A domain definition can have no more than one cipher node with name {name}")  # fmt: skip
        if cipher.state not in ("on", "off"):
            raise XMLError(ErrorCode.XML_ERROR,
                           f"Invalid value for attribute 'state' in element 'cipher': '{cipher.state or ''}'.")  # fmt: skip
        states[name] = cipher.state
    parts = []
    for name in ("aes", "dea"):
        if name in states:
            if not has_option(f"{name}-key-wrap"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        f"{name}-key-wrap is not available with this QEMU binary")  # fmt: skip
            parts.append(f"{name}-key-wrap={states[name]}")
    return parts


def _vmcoreinfo(dom: Domain, available: bool) -> list[str]:
    """``<features><vmcoreinfo state='on'/>``: the device through which a crashed guest's kernel tells QEMU
    where its dump notes are (qemuBuildVMCoreInfoCommandLine; QEMU_CAPS_DEVICE_VMCOREINFO)."""
    if dom.features is None or dom.features.vmcoreinfo_state != "on":
        return []
    if not available:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "vmcoreinfo is not available with this QEMU binary")
    return ["-device", "vmcoreinfo"]


def _machine(dom: Domain, pflash_nodes: int, memory_backend: str | None, nvdimm: bool = False,
             hpet_option: bool = True, gic_option: bool = True, loadparm: str | None = None,
             key_wrap: list[str] | None = None, pseries: list[str] | None = None) -> str:  # fmt: skip
    """``-machine``; ``hpet_option``: the machine takes ``hpet=`` (libvirt's QEMU_CAPS_MACHINE_HPET, QEMU 5.2
    on; before, ``-no-hpet`` said the same); ``gic_option``: the ARM board takes ``gic-version=``
    (QEMU_CAPS_MACH_VIRT_GIC_VERSION): without it a GICv2, what such a QEMU always gave, needs no option and
    any other version cannot be had."""
    assert dom.os is not None and dom.os.type is not None
    parts = [_escape_commas(dom.os.type.machine or "pc"), "usb=off", *(key_wrap or [])]
    f = dom.features
    if f is not None and f.vmport_state:
        parts.append(f"vmport={f.vmport_state}")
    if f is not None and f.smm_state:
        parts.append(f"smm={f.smm_state}")
    if f is not None and f.gic_version and (gic_option or f.gic_version != "2"):
        if not gic_option:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "gic-version option is not available with this QEMU binary")  # fmt: skip
        parts.append(f"gic-version={f.gic_version}")
    if f is not None and f.ioapic_driver:
        parts.append(f"kernel_irqchip={'split' if f.ioapic_driver == 'qemu' else 'on'}")
    parts += pseries or []
    # <memory dumpCore>; libvirt's default is qemu.conf's dump_guest_core, off
    dump_core = dom.memory.dump_core if dom.memory is not None else None
    parts.append(f"dump-guest-core={dump_core or 'off'}")
    if memory_backend is not None:
        parts.append(f"memory-backend={memory_backend}")
    if nvdimm:
        parts.append("nvdimm=on")
    if loadparm:
        parts.append(f"loadparm={_escape_commas(loadparm)}")
    parts += [f"pflash{i}=libvirt-pflash{i}-format" for i in range(pflash_nodes)]
    if dom.os.bios_useserial:
        parts.append("graphics=off")
    for timer in (dom.clock.timers or []) if dom.clock is not None else []:
        if timer.name == "hpet" and timer.present is not None and hpet_option:
            parts.append(f"hpet={'on' if timer.present else 'off'}")
    return ",".join(parts)


def _smp(dom: Domain, dies_option: bool = True) -> str:
    """``-smp``; ``dies_option``: QEMU takes ``dies=`` (4.1 on; libvirt's QEMU_CAPS_SMP_DIES)."""
    assert dom.vcpu is not None
    maxcpus = dom.vcpu.count or 1
    current = startup_smp_count(dom)  # the hotpluggable online vCPUs are plugged once QEMU runs
    text = f"{current}" + (f",maxcpus={maxcpus}" if current != maxcpus else "")
    cpu = dom.cpu
    if cpu is not None and cpu.topology_sockets:
        dies = f"dies={cpu.topology_dies or 1}," if dies_option else ""
        return text + f",sockets={cpu.topology_sockets},{dies}cores={cpu.topology_cores or 1}," \
            f"threads={cpu.topology_threads or 1}"  # fmt: skip
    return text + f",sockets={maxcpus},cores=1,threads=1"


def wall_clock() -> float:
    """Now, in seconds since the epoch: what a ``variable`` guest clock is offset from (a test may pretend)."""
    return time.time()


def _rtc_base(clock: Clock) -> str:
    """``-rtc base=`` of a ``variable`` or ``absolute`` clock (qemuBuildClockArgStr): the guest's date as UTC.
    A ``localtime`` basis becomes the same adjustment from UTC, fixed now, as libvirt rewrites the live
    definition (so a later change of the host's zone or DST does not move the guest's clock)."""
    if clock.offset == "absolute":
        then = datetime.datetime.fromtimestamp(clock.start or 0, datetime.UTC)
    else:
        now = wall_clock()
        try:
            adjustment = int(clock.adjustment or 0)
        except ValueError:
            raise XMLError(ErrorCode.XML_ERROR, f"invalid clock adjustment '{clock.adjustment}'") from None
        if clock.basis == "localtime":
            adjustment += time.localtime(now).tm_gmtoff  # virTimeLocalOffsetFromUTC
            clock.adjustment, clock.basis = str(adjustment), "utc"
        then = datetime.datetime.fromtimestamp(int(now) + adjustment, datetime.UTC)
    return f"base={then.strftime('%Y-%m-%dT%H:%M:%S')}"


def _clock(dom: Domain, caps: EmulatorCaps | None = None) -> list[str]:
    clock = dom.clock
    offset = clock.offset if clock is not None and clock.offset else "utc"
    if offset not in ("utc", "localtime", "variable", "absolute", "timezone"):
        raise _unsupported(f"clock offset '{offset}'")
    # (a named timezone is the guest's local time: QEMU runs with TZ set to it, see build_command_line)
    base = "localtime" if offset == "timezone" else offset
    rtc = _rtc_base(clock) if clock is not None and offset in ("variable", "absolute") else f"base={base}"
    out: list[str] = []
    for timer in (clock.timers or []) if clock is not None else []:
        if timer.name == "rtc":
            # which clock the guest's RTC follows, and catching up on lost ticks (qemuBuildClockArgStr)
            if timer.track not in (None, "guest", "wall", "realtime"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported rtc timer track '{timer.track}'")
            if timer.tickpolicy not in (None, "delay", "catchup"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        f"unsupported rtc timer tickpolicy '{timer.tickpolicy}'")  # fmt: skip
            rtc += {"guest": ",clock=vm", "wall": ",clock=host", "realtime": ",clock=rt"}.get(timer.track or "", "")
            rtc += ",driftfix=slew" if timer.tickpolicy == "catchup" else ""
        elif timer.name == "pit" and timer.tickpolicy in (None, "delay", "discard", "catchup") and timer.track is None:
            # the in-kernel PIT's policy for lost ticks (catchup needs nothing); a QEMU without the property
            # (libvirt's QEMU_CAPS_KVM_PIT_TICK_POLICY) has the default, delay, and no way to ask for another
            if timer.tickpolicy != "catchup" and (
                caps is None or caps.probed or caps.has_flag("kvm-pit-lost-tick-policy")
            ):
                out += ["-global", f"kvm-pit.lost_tick_policy={timer.tickpolicy or 'delay'}"]
        elif timer.name == "hpet" and timer.track is None and timer.tickpolicy is None:
            # a -machine property; a QEMU before that took -no-hpet (qemuBuildClockCommandLine)
            if caps is not None and not caps.has_flag("machine-hpet") and caps.has_flag("no-hpet"):
                out += ["-no-hpet"] if timer.present is False else []
        elif timer.name in ("kvmclock", "hypervclock") and timer.track is None and timer.tickpolicy is None:
            continue  # CPU properties (kvmclock=, hv-time=), see cpu_flags.cpu_argument
        else:
            raise _unsupported(f"timer '{timer.name}'")
    return ["-rtc", rtc, *out]


def _reboot_allowed(dom: Domain) -> bool:
    """qemuProcessRebootAllowed: unless every lifecycle action destroys the guest, a reboot is a reboot."""
    return (dom.on_reboot or "restart") != "destroy" or (dom.on_poweroff or "destroy") != "destroy" or \
        (dom.on_crash or "destroy") not in ("destroy", "coredump-destroy")  # fmt: skip


def _pm(dom: Domain, q35: bool, acpi_option: bool = True, caps: EmulatorCaps | None = None) -> list[str]:
    """``-no-shutdown``, ``-no-acpi`` and the S3/S4 switches; ``acpi_option``: QEMU has ``-no-acpi``
    (QEMU_CAPS_NO_ACPI: x86 and aarch64 only, the boards of other architectures have no ACPI to turn off).
    ``caps``: a QEMU without the ``set-action`` command (before 6.0) is told ``-no-reboot`` instead when the
    guest may not reboot, and an old q35 without ICH9's S3/S4 switches takes PIIX4's, as libvirt falls back."""
    known = caps is None or caps.probed
    set_action = known or caps is None or caps.has_flag("set-action")
    out = ["-no-shutdown" if set_action or _reboot_allowed(dom) else "-no-reboot"]
    if acpi_option and (dom.features is None or not dom.features.acpi):
        out.append("-no-acpi")
    for state, name in ((dom.pm_suspend_to_mem, "s3"), (dom.pm_suspend_to_disk, "s4")):
        if state is None:
            continue
        ich9 = q35 and (known or caps is None or caps.has_flag(f"ich9-disable-{name}"))
        out += ["-global", f"{'ICH9-LPC' if ich9 else 'PIIX4_PM'}.disable_{name}={0 if state else 1}"]
    return out


def _root_hotplug(dom: Domain, q35: bool) -> list[str]:
    """ACPI hotplug on the i440fx root bus (``<controller model='pci-root'><target hotplug>``)."""
    root = next((c for c in dom.devices.controllers if c.type == "pci" and c.model == "pci-root"), None) \
        if dom.devices is not None else None  # fmt: skip
    if root is None or root.target_hotplug is None:
        return []
    if q35:
        raise _unsupported("hotplug settings of the q35 root bus")
    return ["-global", f"PIIX4_PM.acpi-root-pci-hotplug={'on' if root.target_hotplug else 'off'}"]


def _iommu(dom: Domain, address_props: Callable[[Any], dict[str, Any]]) -> list[str]:
    """An emulated Intel IOMMU (VT-d) with libvirt's driver options (interrupt remapping needs the split I/O
    APIC), or a paravirtual virtio-iommu, a PCI device on the root bus."""
    iommu = dom.devices.iommu if dom.devices is not None else None
    if iommu is None:
        return []
    driver = etree.fromstring(f"<iommu>{iommu.content or ''}</iommu>").find("driver")
    opts: dict[str, str] = {str(k): str(v) for k, v in driver.attrib.items()} if driver is not None else {}
    if iommu.model == "virtio":
        if opts:
            raise _unsupported(f"IOMMU driver option '{sorted(opts)[0]}' on a virtio IOMMU")
        return ["-device", json_arg({"driver": "virtio-iommu", "id": "iommu0", **address_props(iommu.address)})]
    props: dict[str, Any] = {"driver": "intel-iommu", "id": "iommu0"}
    if "intremap" in opts:
        ioapic = dom.features.ioapic_driver if dom.features is not None else None
        if opts["intremap"] == "on" and ioapic != "qemu":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')")  # fmt: skip
        props["intremap"] = opts["intremap"]
    if "caching_mode" in opts:
        props["caching-mode"] = opts["caching_mode"] == "on"
    if "eim" in opts:
        props["eim"] = opts["eim"]
    if "iotlb" in opts:
        props["device-iotlb"] = opts["iotlb"] == "on"
    if "aw_bits" in opts:
        props["aw-bits"] = int(opts["aw_bits"])
    unknown = set(opts) - {"intremap", "caching_mode", "eim", "iotlb", "aw_bits"}
    if unknown:
        raise _unsupported(f"IOMMU driver option '{sorted(unknown)[0]}'")
    return ["-device", json_arg(props)]


def _boot(dom: Domain) -> list[str]:
    assert dom.os is not None
    opts = []
    if dom.os.bootmenu_enable is not None:
        opts.append(f"menu={'on' if dom.os.bootmenu_enable else 'off'}")
    if dom.os.bios_reboot_timeout is not None:
        opts.append(f"reboot-timeout={dom.os.bios_reboot_timeout}")
    if dom.os.bootmenu_timeout is not None:
        opts.append(f"splash-time={dom.os.bootmenu_timeout}")
    opts.append("strict=on")
    out = ["-boot", ",".join(opts)]
    for opt, value in (("-kernel", dom.os.kernel), ("-initrd", dom.os.initrd), ("-append", dom.os.cmdline),
                       ("-dtb", dom.os.dtb)):  # fmt: skip
        if value:
            out += [opt, value]
    return out


def _hubs(dom: Domain, devices: DeviceArgs, caps: EmulatorCaps | None) -> list[str]:
    """``usb-hub`` devices (qemuBuildHubCommandLine), each on the port ``usb_addresses`` gave it."""
    out: list[str] = []
    for i, hub in enumerate(dom.devices.hubs if dom.devices is not None else []):
        if hub.type != "usb":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"hub type {hub.type} not supported")
        if caps is not None and not caps.has_flag("usb-hub"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "usb-hub not supported by QEMU binary")
        info = UsbHub(hub)
        props = {"driver": "usb-hub", "id": info.user_alias or f"hub{i}"}
        out += ["-device", json_arg(props | devices.address_props(info.address))]
    return out


def _channel_paths(dom: Domain, lib_dir: str) -> None:
    """A listening channel without a path (the guest agent's, typically) gets one in the guest's private dir."""
    for ch in dom.devices.channels if dom.devices is not None else []:
        if ch.type == "unix" and ch.target_type == "virtio" and ch.target_name:
            src = ch.sources[0] if ch.sources else None
            if src is None:
                ch.sources = [ChardevSource(mode="bind", path=f"{lib_dir}/{ch.target_name}")]
            elif src.mode == "bind" and not src.path:
                src.path = f"{lib_dir}/{ch.target_name}"


def build_command_line(dom: Domain, monitor_path: str, fds: dict[str, int] | None = None,
                       vnc_port: int | None = None, standalone: bool = False,
                       lib_dir: str = "/var/lib/libvirt/qemu",
                       graphics_cfg: GraphicsConfig | None = None, domain_id: int = -1,
                       hugepage_mounts: list[HugetlbfsMount] | None = None,
                       host_nodes: set[int] | None = None,
                       memory_backing_dir: str = "/var/lib/libvirt/qemu/ram",
                       caps: EmulatorCaps | None = None, tpm_socket: str | None = None,
                       chardev_tls: ChardevTls | None = None, incoming: str | None = None,
                       secrets: GuestSecrets | None = None, virtiofsd_started: bool = False,
                       nbd_tls: NbdTls | None = None) -> QemuCommand:  # fmt: skip
    """The full argv for a defined domain (see ``domain_defaults``); sets aliases and node numbers on ``dom``.

    ``fds`` are pre-opened tap and vhost-net fds (``tapN``, ``vhostN``) handed
    to QEMU. ``standalone`` is for domxml-to-native: a command line a user can
    run without the driver, so taps are named for QEMU to create instead of
    passed as fds. ``lib_dir`` is the guest's private directory (master key).
    ``graphics_cfg``: the display settings of ``qemu.conf``. ``domain_id`` names
    the guest's huge page directories; ``hugepage_mounts`` and ``host_nodes``
    default to what this host has; shared RAM without huge pages is a file under
    ``memory_backing_dir``. ``caps``: the emulator's capabilities (e.g. from libvirt's test data): the
    syntax and options follow them; without them a current QEMU is assumed. ``tpm_socket``: where swtpm
    listens, when the caller started it elsewhere than the guest's private directory. ``chardev_tls``:
    qemu.conf's TLS settings for TCP character devices (off without them). ``incoming``: the migration
    source QEMU waits for (``defer``, ``fd:N``, ``tcp:HOST:PORT``, ``exec:CMD``), placed where libvirt puts it.
    ``secrets``: the master key written to ``lib_dir`` for this start and the secret driver's values; devices
    that need a secret are refused without it. ``nbd_tls``: qemu.conf's TLS settings for NBD disks. ``virtiofsd_started``: the caller started virtiofsd for every
    virtiofs filesystem that names no socket of its own, listening where ``vhost_user.vhost_user_fs_socket``
    says; without it such a filesystem is refused.
    """
    assert dom.os is not None and dom.os.type is not None and dom.memory is not None and dom.vcpu is not None
    assert dom.devices is not None
    if caps is not None:
        check_start_validate(dom, caps)  # libvirt's first checks of a start
    check_shmems(dom, caps)  # libvirt's own words about a <shmem> before the refusal of the device itself
    _check_translatable(dom)
    check_tpm_versions(dom)
    check_smartcards(dom, caps)
    check_ccw_addresses(dom)
    check_host_devices(dom, caps, on_host=not standalone)  # (a command line to read needs no host device ready)
    if caps is not None:
        check_for_start(dom, caps)
    check_graphics_count(dom)  # qemuBuildCommandLineValidate
    q35 = is_q35(dom)
    assign_aliases(dom, q35)
    assign_node_ids(dom)
    _channel_paths(dom, lib_dir)
    devices = DeviceArgs(dom, fds or {}, vnc_port, standalone, q35, lib_dir, caps)
    devices.tpm_socket = tpm_socket
    devices.chardev_tls = chardev_tls
    devices.secrets = secrets
    devices.nbd_tls = nbd_tls  # qemu.conf's TLS for NBD disks
    devices.virtiofsd_started = virtiofsd_started
    cmd = QemuCommand(emulator_for(dom))
    a = cmd.args
    a += ["-name", f"guest={_escape_commas(dom.name or '')},debug-threads=on", "-S"]
    a += ["-object", json_arg({"qom-type": "secret", "id": "masterKey0", "format": "raw",
                               "file": f"{lib_dir}/master-key.aes"})]  # fmt: skip
    pflash = devices.pflash()
    a += pflash
    ram_id: str | None = "pc.ram" if q35 or is_i440fx(dom) else "ram"
    machine = None
    if caps is not None:
        # the machine's own RAM backend id (QEMU >= 5.0 reports it); without one, memory is plain -m
        machine = next((m for m in caps.machines if m.name == dom.os.type.machine), None)
        ram_id = machine.default_ram_id if machine is not None else None
    numa_mem = caps is not None and machine is not None and machine.numa_mem_supported
    memory = memory_layout(dom, memory_mib(dom) * 1024, ram_id,
                           hugepage_mounts if hugepage_mounts is not None else hugetlbfs_mounts(), domain_id,
                           host_nodes, memory_backing_dir, numa_mem)  # fmt: skip
    a += ["-machine", _machine(dom, pflash.count("-blockdev") // 2, memory.machine_backend, memory.nvdimm,
                               caps is None or caps.has_flag("machine-hpet"),
                               caps is None or caps.probed or caps.has_flag("gic-version"),
                               _loadparm(dom) if caps is not None and caps.has_flag("loadparm") else None,
                               _key_wrap(dom, lambda flag: caps is None or caps.probed or caps.has_flag(flag)),
                               pseries_machine_options(dom, lambda cap: caps is None or caps.probed
                                                       or caps.has_flag(f"machine.pseries.{cap}")))]  # fmt: skip
    a += ["-accel", accel_arg(dom)]
    a += tseg_args(dom, q35, caps)
    cpu_arg = cpu_argument(
        dom, caps is None or caps.has_flag("cpu.migratable"), caps is None or caps.has_flag("cpu-cache")
    )
    named = dom.cpu is not None and (dom.cpu.mode not in (None, "custom") or bool(dom.cpu.model and dom.cpu.model.name))
    if caps is None or named or "," in cpu_arg:
        # libvirt's qemuBuildCpuCommandLine: no -cpu when the definition names no model and sets no CPU feature
        # (the machine's default CPU applies); features alone go on the architecture's default model
        a += ["-cpu", cpu_arg]
    if dom.os.loader is not None and dom.os.loader.path and dom.os.loader.type != "pflash":
        a += ["-bios", dom.os.loader.path]
    if dom.os.loader is not None and dom.os.loader.type == "pflash" and dom.os.loader.secure:
        a += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    cmd.hugepage_dirs, cmd.mem_lock = memory.hugepage_dirs, memory.mem_lock
    a += ["-m", memory.size_arg]
    a += memory.system_objects
    a += ["-overcommit", f"mem-lock={'on' if memory.mem_lock else 'off'}"]
    a += ["-smp", _smp(dom, caps is None or caps.has_flag("smp-dies"))]
    a += iothread_args(dom)
    a += memory.numa_args
    a += ["-uuid", dom.uuid or ""]  # before the SMBIOS tables, as libvirt writes them
    a += smbios_args(dom)
    a += sysinfo_fwcfg_args(dom)
    a += genid_args(dom)
    if not dom.devices.graphics:
        a += ["-display", "none"]
    a += ["-no-user-config", "-nodefaults"]
    monitor_fd = (fds or {}).get("monitor")
    monitor = f"fd={monitor_fd}" if monitor_fd is not None else f"path={monitor_path}"
    a += ["-chardev", f"socket,id=charmonitor,{monitor},server=on,wait=off"]
    a += ["-mon", "chardev=charmonitor,id=monitor,mode=control"]
    a += _clock(dom, caps)
    acpi_arch = dom.os.type.arch in ("x86_64", "i686", "aarch64")
    a += _pm(dom, q35, caps is None or (caps.probed and acpi_arch) or caps.has_flag("no-acpi"), caps)
    a += _boot(dom)
    a += _iommu(dom, devices.address_props)
    a += _root_hotplug(dom, q35)
    a += devices.controllers()
    for mem in memory.devices:
        a += mem.objects
        a += ["-device", json_arg(mem.props | devices.address_props(mem.device.address))]
    a += _hubs(dom, devices, caps)
    a += ccid_controller_args(dom, devices.address_props)
    a += devices.disks()
    a += devices.filesystems()
    a += devices.nets()
    a += smartcard_args(dom, devices.chardev)
    a += devices.serials()
    a += devices.parallels()
    a += devices.channels_and_consoles()
    a += devices.tpms()
    a += devices.inputs()
    a += devices.audio()
    gcfg = graphics_cfg or GraphicsConfig()
    a += graphics_args(dom, gcfg, lib_dir, vnc_port,
                       caps is None or caps.probed or caps.has_flag("egl-headless.rendernode"), secrets)  # fmt: skip
    sasl_dir = gcfg.vnc_sasl_dir if gcfg.vnc_sasl and any(g.type == "vnc" for g in dom.devices.graphics) else None
    if sasl_dir:
        cmd.env["SASL_CONF_PATH"] = sasl_dir
    cmd.env.update(sdl_environment(dom))
    if dom.clock is not None and dom.clock.offset == "timezone" and dom.clock.timezone:
        cmd.env["TZ"] = dom.clock.timezone  # QEMU's localtime is the guest's timezone
    a += devices.videos()
    a += devices.sounds()
    a += devices.watchdog()
    a += devices.redirdevs()
    a += devices.hostdevs()
    if incoming is not None:
        a += ["-incoming", incoming]
    a += devices.memballoon()
    a += devices.rngs()
    a += _vmcoreinfo(dom, caps is None or caps.has_flag("vmcoreinfo"))
    # <qemu:commandline>: the user's own arguments, verbatim, where libvirt adds them (before -sandbox), and
    # their environment (a variable without a value is set empty, as virCommandAddEnvPair does)
    a += dom.qemu_args
    cmd.env.update({name: value or "" for name, value in dom.qemu_env})
    a += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    a += devices.panics()
    a += devices.vsock()
    a += ["-msg", "timestamp=on"]
    if not os.path.isabs(cmd.emulator):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"emulator '{cmd.emulator}' is not an absolute path")
    retarget_virtio_devices(dom, cmd.args)
    if caps is not None:
        cmd.args[:] = _for_caps(cmd.args, caps)
    return cmd
