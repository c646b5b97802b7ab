"""The domain XML document: parse, validate libvirt's rules, fill defaults, format.

``parse_domain`` applies the checks libvirt's parser applies (name, UUID,
memory units, seclabel rules) and the defaults its formatter shows
(``currentMemory``, ``vcpu placement``, ``on_*`` actions, ``clock``);
driver-specific defaults (arch, machine, boot device) are the driver's
post-parse step.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.bitmap import format_bitmap, parse_bitmap
from pyvirt.conf.common import check_name, new_uuid, normalize_uuid
from pyvirt.conf.coverage import ExpectedTree
from pyvirt.conf.cputune_rules import apply_cputune_rules
from pyvirt.conf.domain_devices import Devices, DeviceSeclabel, DiskHost, Memory, StorageAuth
from pyvirt.conf.domain_rules import apply_device_rules
from pyvirt.conf.domain_values import check_domain_values
from pyvirt.conf.units import INT_MAX, INT_MIN, UINT_MAX, parse_memory_kib, parse_scaled
from pyvirt.conf.vcpu_states import check_vcpu_states
from pyvirt.conf.xmlmodel import X, XmlModel, field, format_model, parse_model
from pyvirt.conf.xmlparse import find_all, find_one, parse_xml
from pyvirt.conf.xmlwriter import to_string
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Annotated, Any, ClassVar

__all__ = ["Domain", "format_domain", "parse_domain"]

VIR_DOMAIN_XML_SECURE = 1
VIR_DOMAIN_XML_INACTIVE = 2


class Vcpu(XmlModel):
    placement: Annotated[str | None, X("@placement")] = None
    cpuset: Annotated[str | None, X("@cpuset")] = None
    current: Annotated[int | None, X("@current")] = None
    count: Annotated[int | None, X(".")] = None


class VcpuEntry(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    enabled: Annotated[bool | None, X("@enabled")] = None
    hotpluggable: Annotated[bool | None, X("@hotpluggable")] = None
    order: Annotated[int | None, X("@order")] = None


class VcpuPin(XmlModel):
    vcpu: Annotated[int | None, X("@vcpu")] = None
    cpuset: Annotated[str | None, X("@cpuset")] = None


class IothreadPin(XmlModel):
    """``<iothreadpin>``: the host CPUs an I/O thread runs on (libvirt keeps it on the thread's id)."""

    iothread: Annotated[int | None, X("@iothread")] = None
    cpuset: Annotated[str | None, X("@cpuset")] = None


class Sched(XmlModel):
    """vcpusched / iothreadsched / emulatorsched: libvirt writes one element per vCPU or thread."""

    vcpus: Annotated[str | None, X("@vcpus")] = None
    iothreads: Annotated[str | None, X("@iothreads")] = None
    scheduler: Annotated[str | None, X("@scheduler")] = None
    priority: Annotated[int | None, X("@priority")] = None


class CacheAlloc(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    level: Annotated[int | None, X("@level")] = None
    type: Annotated[str | None, X("@type")] = None
    size: Annotated[int | None, X("@size")] = None
    unit: Annotated[str | None, X("@unit")] = None


class Monitor(XmlModel):
    level: Annotated[int | None, X("@level")] = None
    vcpus: Annotated[str | None, X("@vcpus")] = None


class MemNode(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    bandwidth: Annotated[int | None, X("@bandwidth")] = None


class CacheTune(XmlModel):
    vcpus: Annotated[str | None, X("@vcpus")] = None
    id: Annotated[str | None, X("@id")] = None
    caches: Annotated[list[CacheAlloc] | None, X("cache", model=CacheAlloc, many=True)] = None
    monitors: Annotated[list[Monitor] | None, X("monitor", model=Monitor, many=True)] = None


class MemoryTune(XmlModel):
    vcpus: Annotated[str | None, X("@vcpus")] = None
    id: Annotated[str | None, X("@id")] = None
    nodes: Annotated[list[MemNode] | None, X("node", model=MemNode, many=True)] = None
    monitors: Annotated[list[Monitor] | None, X("monitor", model=Monitor, many=True)] = None


class CpuTune(XmlModel):
    shares: Annotated[int | None, X("shares")] = None
    period: Annotated[int | None, X("period")] = None
    quota: Annotated[int | None, X("quota")] = None
    global_period: Annotated[int | None, X("global_period")] = None
    global_quota: Annotated[int | None, X("global_quota")] = None
    emulator_period: Annotated[int | None, X("emulator_period")] = None
    emulator_quota: Annotated[int | None, X("emulator_quota")] = None
    iothread_period: Annotated[int | None, X("iothread_period")] = None
    iothread_quota: Annotated[int | None, X("iothread_quota")] = None
    vcpupins: Annotated[list[VcpuPin] | None, X("vcpupin", model=VcpuPin, many=True)] = None
    emulatorpin: Annotated[str | None, X("emulatorpin/@cpuset")] = None
    iothreadpins: Annotated[list[IothreadPin] | None, X("iothreadpin", model=IothreadPin, many=True)] = None
    emulatorsched: Annotated[Sched | None, X("emulatorsched", model=Sched)] = None
    vcpuscheds: Annotated[list[Sched] | None, X("vcpusched", model=Sched, many=True)] = None
    iothreadscheds: Annotated[list[Sched] | None, X("iothreadsched", model=Sched, many=True)] = None
    cachetunes: Annotated[list[CacheTune] | None, X("cachetune", model=CacheTune, many=True)] = None
    memorytunes: Annotated[list[MemoryTune] | None, X("memorytune", model=MemoryTune, many=True)] = None


class OsType(XmlModel):
    arch: Annotated[str | None, X("@arch")] = None
    machine: Annotated[str | None, X("@machine")] = None
    name: Annotated[str | None, X(".")] = None


class Loader(XmlModel):
    readonly: Annotated[bool | None, X("@readonly")] = None
    secure: Annotated[bool | None, X("@secure")] = None
    type: Annotated[str | None, X("@type")] = None
    stateless: Annotated[bool | None, X("@stateless")] = None  # firmware without a variable store
    path: Annotated[str | None, X(".")] = None


class Nvram(XmlModel):
    """The firmware's variable store: a path as text (the old form), or ``type`` with a ``<source>`` (a file, or
    a network disk), which libvirt writes back in the form it was given (newStyleNVRAM)."""

    template: Annotated[str | None, X("@template")] = None
    type: Annotated[str | None, X("@type")] = None
    path: Annotated[str | None, X(".")] = None
    source_file: Annotated[str | None, X("source/@file")] = None  # read into ``path``
    source_protocol: Annotated[str | None, X("source/@protocol")] = None
    source_name: Annotated[str | None, X("source/@name")] = None
    source_hosts: Annotated[list[DiskHost] | None, X("source/host", model=DiskHost, many=True)] = None
    source_auth: Annotated[StorageAuth | None, X("source/auth", model=StorageAuth)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        source = find_one(elem, "source")
        kind = values.get("type")
        if kind is None:
            if source is not None:
                raise XMLError(ErrorCode.XML_ERROR, "missing 'type' attribute for <nvram>")  # no text and a source
            return
        if kind not in ("file", "network"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported nvram disk type '{kind}'")
        if source is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing source element for nvram")
        if kind == "file":
            values["path"] = values.pop("source_file", None)  # the same store as the old form's text

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.type is None:
            return
        elem.text = None
        source = find_one(elem, "source")
        if source is None:
            source = etree.SubElement(elem, "source")
        if self.type == "file" and self.path:
            source.set("file", self.path)


class BootDev(XmlModel):
    dev: Annotated[str | None, X("@dev")] = None


class InitEnv(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    value: Annotated[str | None, X(".")] = None


class InitArg(XmlModel):
    value: Annotated[str | None, X(".")] = None


class Os(XmlModel):
    firmware: Annotated[str | None, X("@firmware")] = None
    type: Annotated[OsType | None, X("type", model=OsType)] = None
    firmware_features: Annotated[str | None, X("firmware", raw=True)] = None
    init: Annotated[str | None, X("init")] = None
    initargs: Annotated[list[InitArg] | None, X("initarg", model=InitArg, many=True)] = None
    initenvs: Annotated[list[InitEnv] | None, X("initenv", model=InitEnv, many=True)] = None
    initdir: Annotated[str | None, X("initdir")] = None
    inituser: Annotated[str | None, X("inituser")] = None
    initgroup: Annotated[str | None, X("initgroup")] = None
    loader: Annotated[Loader | None, X("loader", model=Loader)] = None
    nvram: Annotated[Nvram | None, X("nvram", model=Nvram)] = None
    kernel: Annotated[str | None, X("kernel")] = None
    initrd: Annotated[str | None, X("initrd")] = None
    cmdline: Annotated[str | None, X("cmdline")] = None
    dtb: Annotated[str | None, X("dtb")] = None
    # <acpi><table type='slic'>: libvirt knows one table, of one type (virDomainDefParseBootAcpiOptions)
    acpi_table_type: Annotated[str | None, X("acpi/table/@type")] = None
    acpi_table: Annotated[str | None, X("acpi/table")] = None
    boots: Annotated[list[BootDev] | None, X("boot", model=BootDev, many=True)] = None
    bootmenu_enable: Annotated[bool | None, X("bootmenu/@enable")] = None
    bootmenu_timeout: Annotated[int | None, X("bootmenu/@timeout")] = None
    smbios_mode: Annotated[str | None, X("smbios/@mode")] = None
    bios_useserial: Annotated[bool | None, X("bios/@useserial")] = None
    bios_reboot_timeout: Annotated[int | None, X("bios/@rebootTimeout")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        tables = find_all(elem, "acpi/table")
        if len(tables) > 1:
            raise XMLError(ErrorCode.XML_ERROR, "Only one acpi table is supported")
        if tables and tables[0].get("type") is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing acpi table type")
        if tables and tables[0].get("type") != "slic":
            raise XMLError(ErrorCode.XML_ERROR, f"Unknown acpi table type: {tables[0].get('type')}")


class IdMapEntry(XmlModel):
    start: Annotated[int | None, X("@start")] = None
    target: Annotated[int | None, X("@target")] = None
    count: Annotated[int | None, X("@count")] = None


class IdMap(XmlModel):
    uids: Annotated[list[IdMapEntry] | None, X("uid", model=IdMapEntry, many=True)] = None
    gids: Annotated[list[IdMapEntry] | None, X("gid", model=IdMapEntry, many=True)] = None


# libvirt's virDomainProcessCapsFeature names, the only ones <capabilities> accepts
PROCESS_CAPABILITY_NAMES = frozenset(
    [
        "audit_control",
        "audit_write",
        "block_suspend",
        "chown",
        "dac_override",
        "dac_read_search",
        "fowner",
        "fsetid",
        "ipc_lock",
        "ipc_owner",
        "kill",
        "lease",
        "linux_immutable",
        "mac_admin",
        "mac_override",
        "mknod",
        "net_admin",
        "net_bind_service",
        "net_broadcast",
        "net_raw",
        "setgid",
        "setfcap",
        "setpcap",
        "setuid",
        "sys_admin",
        "sys_boot",
        "sys_chroot",
        "sys_module",
        "sys_nice",
        "sys_pacct",
        "sys_ptrace",
        "sys_rawio",
        "sys_resource",
        "sys_time",
        "sys_tty_config",
        "syslog",
        "wake_alarm",
    ]
)


class CapabilitiesFeature(XmlModel):
    """``<capabilities policy='default|allow|deny'>`` with ``<NAME state='on|off'/>`` children (LXC)."""

    XML_OPEN = True

    policy: Annotated[str | None, X("@policy")] = None
    states: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        states: dict[str, bool] = {}
        for child in elem.iterchildren("*"):
            if child.tag not in PROCESS_CAPABILITY_NAMES:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unexpected capability feature '{child.tag}'")
            state = child.get("state")
            if state not in ("on", "off"):
                raise XMLError(ErrorCode.XML_ERROR, f"invalid value of state argument for capability '{child.tag}'")
            states[child.tag] = state == "on"
        values["states"] = states

    def xml_format_extra(self, elem: etree._Element) -> None:
        for name, on in self.states.items():
            etree.SubElement(elem, name, state="on" if on else "off")


class HypervFeatures(XmlModel):
    """``<hyperv>`` enlightenments for Windows guests, in libvirt's order; each has a state on/off."""

    mode: Annotated[str | None, X("@mode")] = None
    relaxed: Annotated[str | None, X("relaxed/@state")] = None
    vapic: Annotated[str | None, X("vapic/@state")] = None
    spinlocks: Annotated[str | None, X("spinlocks/@state")] = None
    spinlocks_retries: Annotated[int | None, X("spinlocks/@retries")] = None
    vpindex: Annotated[str | None, X("vpindex/@state")] = None
    runtime: Annotated[str | None, X("runtime/@state")] = None
    synic: Annotated[str | None, X("synic/@state")] = None
    stimer: Annotated[str | None, X("stimer/@state")] = None
    stimer_direct: Annotated[str | None, X("stimer/direct/@state")] = None
    reset: Annotated[str | None, X("reset/@state")] = None
    vendor_id: Annotated[str | None, X("vendor_id/@state")] = None
    vendor_id_value: Annotated[str | None, X("vendor_id/@value")] = None
    frequencies: Annotated[str | None, X("frequencies/@state")] = None
    reenlightenment: Annotated[str | None, X("reenlightenment/@state")] = None
    tlbflush: Annotated[str | None, X("tlbflush/@state")] = None
    ipi: Annotated[str | None, X("ipi/@state")] = None
    evmcs: Annotated[str | None, X("evmcs/@state")] = None
    avic: Annotated[str | None, X("avic/@state")] = None


class KvmFeatures(XmlModel):
    hidden: Annotated[str | None, X("hidden/@state")] = None
    hint_dedicated: Annotated[str | None, X("hint-dedicated/@state")] = None
    poll_control: Annotated[str | None, X("poll-control/@state")] = None
    pv_ipi: Annotated[str | None, X("pv-ipi/@state")] = None
    dirty_ring: Annotated[str | None, X("dirty-ring/@state")] = None
    dirty_ring_size: Annotated[int | None, X("dirty-ring/@size")] = None


class XenFeatures(XmlModel):
    """``<features><xen>`` (libxl only; libvirt's QEMU driver accepts and ignores it, as pyvirt's does)."""

    e820_host_state: Annotated[str | None, X("e820_host/@state")] = None
    passthrough_state: Annotated[str | None, X("passthrough/@state")] = None
    passthrough_mode: Annotated[str | None, X("passthrough/@mode")] = None


class Features(XmlModel):
    UNSUPPORTED = frozenset({"msrs", "sev", "async-teardown"})
    acpi: Annotated[bool | None, X("acpi", flag=True)] = None
    apic: Annotated[bool | None, X("apic", flag=True)] = None
    apic_eoi: Annotated[str | None, X("apic/@eoi")] = None
    pae: Annotated[bool | None, X("pae", flag=True)] = None
    hap: Annotated[bool | None, X("hap", flag=True)] = None
    hap_state: Annotated[str | None, X("hap/@state")] = None  # Xen: <hap state='off'/> turns HAP off
    viridian: Annotated[bool | None, X("viridian", flag=True)] = None
    privnet: Annotated[bool | None, X("privnet", flag=True)] = None
    hyperv: Annotated[HypervFeatures | None, X("hyperv", model=HypervFeatures)] = None
    kvm: Annotated[KvmFeatures | None, X("kvm", model=KvmFeatures)] = None
    xen: Annotated[XenFeatures | None, X("xen", model=XenFeatures)] = None
    pvspinlock_state: Annotated[str | None, X("pvspinlock/@state")] = None
    capabilities: Annotated[CapabilitiesFeature | None, X("capabilities", model=CapabilitiesFeature)] = None
    pmu_state: Annotated[str | None, X("pmu/@state")] = None
    vmport_state: Annotated[str | None, X("vmport/@state")] = None
    gic: Annotated[bool | None, X("gic", flag=True)] = None  # <gic/> alone: on, the driver picks the version
    gic_version: Annotated[str | None, X("gic/@version")] = None
    smm_state: Annotated[str | None, X("smm/@state")] = None
    smm_tseg_unit: Annotated[str | None, X("smm/tseg/@unit")] = None
    smm_tseg: Annotated[int | None, X("smm/tseg")] = None
    ioapic_driver: Annotated[str | None, X("ioapic/@driver")] = None
    # pSeries (ppc64) guests: the hashed page table's resizing and largest page, and the machine's spapr caps
    hpt: Annotated[bool | None, X("hpt", flag=True)] = None
    hpt_resizing: Annotated[str | None, X("hpt/@resizing")] = None
    hpt_maxpagesize_unit: Annotated[str | None, X("hpt/maxpagesize/@unit")] = None
    hpt_maxpagesize: Annotated[int | None, X("hpt/maxpagesize")] = None
    vmcoreinfo_state: Annotated[str | None, X("vmcoreinfo/@state")] = None
    htm_state: Annotated[str | None, X("htm/@state")] = None
    nested_hv_state: Annotated[str | None, X("nested-hv/@state")] = None
    ccf_assist_state: Annotated[str | None, X("ccf-assist/@state")] = None
    cfpc_value: Annotated[str | None, X("cfpc/@value")] = None
    sbbc_value: Annotated[str | None, X("sbbc/@value")] = None
    ibs_value: Annotated[str | None, X("ibs/@value")] = None
    tcg: Annotated[str | None, X("tcg", raw=True)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        # virDomainFeaturesDefParse: these switches are on when written without a state (<pmu/>)
        for tag in ("pmu", "pvspinlock", "vmport", "vmcoreinfo"):
            if find_one(elem, tag) is not None and values.get(f"{tag}_state") is None:
                values[f"{tag}_state"] = "on"
        if values.get("hpt_maxpagesize") is not None:  # kept in KiB, as virDomainFeaturesHPTDefParse scales it
            kib = parse_memory_kib(str(values["hpt_maxpagesize"]), values.get("hpt_maxpagesize_unit"), "maxpagesize")
            values["hpt_maxpagesize"], values["hpt_maxpagesize_unit"] = kib, "KiB"


class CpuFeature(XmlModel):
    policy: Annotated[str | None, X("@policy")] = None
    name: Annotated[str | None, X("@name")] = None


class CpuModel(XmlModel):
    fallback: Annotated[str | None, X("@fallback")] = None
    vendor_id: Annotated[str | None, X("@vendor_id")] = None
    name: Annotated[str | None, X(".")] = None


class Cpu(XmlModel):
    mode: Annotated[str | None, X("@mode")] = None
    match: Annotated[str | None, X("@match")] = None
    check: Annotated[str | None, X("@check")] = None
    migratable: Annotated[bool | None, X("@migratable", words=("on", "off"))] = None
    model: Annotated[CpuModel | None, X("model", model=CpuModel)] = None
    vendor: Annotated[str | None, X("vendor")] = None
    topology_sockets: Annotated[int | None, X("topology/@sockets")] = None
    topology_dies: Annotated[int | None, X("topology/@dies")] = None
    topology_cores: Annotated[int | None, X("topology/@cores")] = None
    topology_threads: Annotated[int | None, X("topology/@threads")] = None
    cache_level: Annotated[int | None, X("cache/@level")] = None
    cache_mode: Annotated[str | None, X("cache/@mode")] = None
    maxphysaddr_mode: Annotated[str | None, X("maxphysaddr/@mode")] = None
    maxphysaddr_bits: Annotated[int | None, X("maxphysaddr/@bits")] = None
    features: Annotated[list[CpuFeature] | None, X("feature", model=CpuFeature, many=True)] = None
    numa: Annotated[str | None, X("numa", raw=True)] = None  # NUMA cells kept verbatim

    def xml_format_extra(self, elem: etree._Element) -> None:
        """virCPUDefFormatBufFull for a guest CPU: the parser's defaults (custom mode, exact match, fallback
        allowed) are stated whenever a model is; a custom CPU without one (only topology, say) shows no
        attributes at all, a host-passthrough CPU no model, and a CPU left empty is not written."""
        mode = self.mode or "custom"
        named = self.model is not None and bool(self.model.name)
        attrs: dict[str, str] = {}
        if mode != "custom" or named:
            attrs["mode"] = mode
            if mode == "custom":
                attrs["match"] = self.match or "exact"
            if self.check:
                attrs["check"] = self.check
            if mode in ("host-passthrough", "maximum") and self.migratable is not None:
                attrs["migratable"] = "on" if self.migratable else "off"
        elem.attrib.clear()
        for key, value in attrs.items():
            elem.set(key, value)
        model = find_one(elem, "model")
        if model is not None:
            if mode not in ("custom", "host-model"):
                elem.remove(model)
            elif named:
                rest = [(str(k), str(v)) for k, v in model.attrib.items() if k != "fallback"]
                model.attrib.clear()
                model.set("fallback", (self.model.fallback if self.model else None) or "allow")
                for key, value in rest:
                    model.set(key, value)
        vendor = find_one(elem, "vendor")
        if vendor is not None and mode not in ("custom", "host-model"):
            elem.remove(vendor)
        parent = elem.getparent()
        if not elem.attrib and len(elem) == 0 and parent is not None:
            parent.remove(elem)


class Timer(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    track: Annotated[str | None, X("@track")] = None
    tickpolicy: Annotated[str | None, X("@tickpolicy")] = None
    present: Annotated[bool | None, X("@present")] = None
    # tsc only: libxl's tsc_mode; libvirt's QEMU driver accepts and ignores it, as pyvirt's does
    mode: Annotated[str | None, X("@mode")] = None


class Clock(XmlModel):
    offset: Annotated[str | None, X("@offset")] = None
    adjustment: Annotated[str | None, X("@adjustment")] = None
    basis: Annotated[str | None, X("@basis")] = None
    timezone: Annotated[str | None, X("@timezone")] = None
    start: Annotated[int | None, X("@start")] = None  # offset='absolute': seconds since the epoch
    timers: Annotated[list[Timer] | None, X("timer", model=Timer, many=True)] = None


class PerfEvent(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    enabled: Annotated[bool | None, X("@enabled")] = None


class KeyWrapCipher(XmlModel):
    """``<keywrap><cipher name='aes|dea' state='on|off'/>``: s390 crypto key wrapping, one cipher per name."""

    name: Annotated[str | None, X("@name")] = None
    state: Annotated[str | None, X("@state")] = None


class Seclabel(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    model: Annotated[str | None, X("@model")] = None
    relabel: Annotated[bool | None, X("@relabel")] = None
    label: Annotated[str | None, X("label")] = None
    imagelabel: Annotated[str | None, X("imagelabel")] = None
    baselabel: Annotated[str | None, X("baselabel")] = None
    # Not XML: the security manager added it at start (libvirt's ``implicit``); a migratable copy leaves it out
    implicit: bool = False

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.type == "none" and "relabel" in elem.attrib:  # libvirt ends a type='none' label after its model
            del elem.attrib["relabel"]


class LaunchSecurity(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    cbitpos: Annotated[int | None, X("cbitpos")] = None
    reduced_phys_bits: Annotated[int | None, X("reducedPhysBits")] = None
    policy: Annotated[int | None, X("policy", hex=True, hex_width=4)] = None
    dh_cert: Annotated[str | None, X("dhCert")] = None
    session: Annotated[str | None, X("session")] = None


class MemTuneLimits(XmlModel):
    """``<memtune>``: cgroup memory limits (LXC applies them; each a size in KiB)."""

    hard_limit: Annotated[Memory | None, X("hard_limit", model=Memory)] = None
    soft_limit: Annotated[Memory | None, X("soft_limit", model=Memory)] = None
    swap_hard_limit: Annotated[Memory | None, X("swap_hard_limit", model=Memory)] = None
    min_guarantee: Annotated[Memory | None, X("min_guarantee", model=Memory)] = None


class BlkioDevice(XmlModel):
    path: Annotated[str | None, X("path")] = None
    weight: Annotated[int | None, X("weight")] = None
    read_iops_sec: Annotated[int | None, X("read_iops_sec")] = None
    write_iops_sec: Annotated[int | None, X("write_iops_sec")] = None
    read_bytes_sec: Annotated[int | None, X("read_bytes_sec")] = None
    write_bytes_sec: Annotated[int | None, X("write_bytes_sec")] = None


class BlkioTune(XmlModel):
    weight: Annotated[int | None, X("weight")] = None
    devices: Annotated[list[BlkioDevice] | None, X("device", model=BlkioDevice, many=True)] = None


class NumaMemNode(XmlModel):
    cellid: Annotated[int | None, X("@cellid")] = None
    mode: Annotated[str | None, X("@mode")] = None
    nodeset: Annotated[str | None, X("@nodeset")] = None


class NumaTune(XmlModel):
    memory_mode: Annotated[str | None, X("memory/@mode")] = None
    memory_nodeset: Annotated[str | None, X("memory/@nodeset")] = None
    memory_placement: Annotated[str | None, X("memory/@placement")] = None
    memnodes: Annotated[list[NumaMemNode] | None, X("memnode", model=NumaMemNode, many=True)] = None


class IothreadId(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    thread_pool_min: Annotated[int | None, X("@thread_pool_min")] = None
    thread_pool_max: Annotated[int | None, X("@thread_pool_max")] = None


class SysinfoEntry(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    file: Annotated[str | None, X("@file")] = None
    value: Annotated[str | None, X(".")] = None


class SysinfoBoard(XmlModel):
    entries: Annotated[list[SysinfoEntry] | None, X("entry", model=SysinfoEntry, many=True)] = None


class Sysinfo(XmlModel):
    """``<sysinfo type='smbios'>`` (the tables a guest reads from its firmware) or ``type='fwcfg'``."""

    type: Annotated[str | None, X("@type")] = None
    bios: Annotated[list[SysinfoEntry] | None, X("bios/entry", model=SysinfoEntry, many=True)] = None
    system: Annotated[list[SysinfoEntry] | None, X("system/entry", model=SysinfoEntry, many=True)] = None
    base_boards: Annotated[list[SysinfoBoard] | None, X("baseBoard", model=SysinfoBoard, many=True)] = None
    chassis: Annotated[list[SysinfoEntry] | None, X("chassis/entry", model=SysinfoEntry, many=True)] = None
    oem_strings: Annotated[list[SysinfoEntry] | None, X("oemStrings/entry", model=SysinfoEntry, many=True)] = None
    entries: Annotated[list[SysinfoEntry] | None, X("entry", model=SysinfoEntry, many=True)] = None  # fwcfg


class HugePage(XmlModel):
    size: Annotated[int | None, X("@size")] = None
    unit: Annotated[str | None, X("@unit")] = None
    nodeset: Annotated[str | None, X("@nodeset")] = None


class MemoryBacking(XmlModel):
    """How guest RAM is backed: huge pages (per guest NUMA node), locking, sharing, source and allocation."""

    hugepages: Annotated[bool | None, X("hugepages", flag=True)] = None
    pages: Annotated[list[HugePage] | None, X("hugepages/page", model=HugePage, many=True)] = None
    nosharepages: Annotated[bool | None, X("nosharepages", flag=True)] = None
    locked: Annotated[bool | None, X("locked", flag=True)] = None
    source_type: Annotated[str | None, X("source/@type")] = None
    access_mode: Annotated[str | None, X("access/@mode")] = None
    allocation_mode: Annotated[str | None, X("allocation/@mode")] = None
    allocation_threads: Annotated[int | None, X("allocation/@threads")] = None
    discard: Annotated[bool | None, X("discard", flag=True)] = None


class Domain(XmlModel):
    TAG = "domain"
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset(
        {"throttlegroups"}
    )  # fmt: skip

    type: Annotated[str | None, X("@type")] = None
    id: Annotated[int | None, X("@id")] = None
    name: Annotated[str | None, X("name")] = None
    uuid: Annotated[str | None, X("uuid")] = None
    genid: Annotated[str | None, X("genid")] = None
    title: Annotated[str | None, X("title")] = None
    description: Annotated[str | None, X("description", verbatim=True)] = None
    metadata: Annotated[str | None, X("metadata", raw=True)] = None
    max_memory: Annotated[Memory | None, X("maxMemory", model=Memory)] = None
    memory: Annotated[Memory | None, X("memory", model=Memory)] = None
    current_memory: Annotated[Memory | None, X("currentMemory", model=Memory)] = None
    blkiotune: Annotated[BlkioTune | None, X("blkiotune", model=BlkioTune)] = None
    memtune: Annotated[MemTuneLimits | None, X("memtune", model=MemTuneLimits)] = None
    memory_backing: Annotated[MemoryBacking | None, X("memoryBacking", model=MemoryBacking)] = None
    vcpu: Annotated[Vcpu | None, X("vcpu", model=Vcpu)] = None
    vcpus: Annotated[list[VcpuEntry] | None, X("vcpus/vcpu", model=VcpuEntry, many=True)] = None
    iothreads: Annotated[int | None, X("iothreads")] = None
    iothreadids: Annotated[list[IothreadId] | None, X("iothreadids/iothread", model=IothreadId, many=True)] = None
    default_pool_min: Annotated[int | None, X("defaultiothread/@thread_pool_min")] = None
    default_pool_max: Annotated[int | None, X("defaultiothread/@thread_pool_max")] = None
    cputune: Annotated[CpuTune | None, X("cputune", model=CpuTune)] = None
    numatune: Annotated[NumaTune | None, X("numatune", model=NumaTune)] = None
    resource_partition: Annotated[str | None, X("resource/partition")] = None
    resource_appid: Annotated[str | None, X("resource/fibrechannel/@appid")] = None
    sysinfos: Annotated[list[Sysinfo] | None, X("sysinfo", model=Sysinfo, many=True)] = None
    bootloader: Annotated[str | None, X("bootloader")] = None
    bootloader_args: Annotated[str | None, X("bootloader_args")] = None
    os: Annotated[Os | None, X("os", model=Os)] = None
    idmap: Annotated[IdMap | None, X("idmap", model=IdMap)] = None
    features: Annotated[Features | None, X("features", model=Features)] = None
    cpu: Annotated[Cpu | None, X("cpu", model=Cpu)] = None
    clock: Annotated[Clock | None, X("clock", model=Clock)] = None
    on_poweroff: Annotated[str | None, X("on_poweroff")] = None
    on_reboot: Annotated[str | None, X("on_reboot")] = None
    on_crash: Annotated[str | None, X("on_crash")] = None
    on_lockfailure: Annotated[str | None, X("on_lockfailure")] = None
    pm_suspend_to_mem: Annotated[bool | None, X("pm/suspend-to-mem/@enabled")] = None
    pm_suspend_to_disk: Annotated[bool | None, X("pm/suspend-to-disk/@enabled")] = None
    perf: Annotated[list[PerfEvent] | None, X("perf/event", model=PerfEvent, many=True)] = None
    devices: Annotated[Devices | None, X("devices", model=Devices)] = None
    seclabels: Annotated[list[Seclabel] | None, X("seclabel", model=Seclabel, many=True)] = None
    keywrap: Annotated[list[KeyWrapCipher] | None, X("keywrap/cipher", model=KeyWrapCipher, many=True)] = None
    launch_security: Annotated[LaunchSecurity | None, X("launchSecurity", model=LaunchSecurity)] = None
    # <lxc:namespace>: namespaces an LXC container shares, "sharenet"/"shareipc"/"shareuts" -> (type, value)
    lxc_share: dict[str, tuple[str, str]] = field(default_factory=dict)
    # <xen:commandline><xen:arg value=.../>: extra device-model arguments (libxl's namespace, xl's device_model_args)
    xen_commandline: list[str] = field(default_factory=list)
    # <qemu:commandline>: extra QEMU arguments and environment (name, value or None), qemuDomainDefNamespaceParse;
    # the namespace's other elements (capabilities, override, deprecation) stay refused by name
    qemu_args: list[str] = field(default_factory=list)
    qemu_env: list[tuple[str, str | None]] = field(default_factory=list)

    @classmethod
    def expected_tree(cls) -> ExpectedTree:
        tree = super().expected_tree()
        tree.children[f"{{{LXC_NS}}}namespace"] = None  # read by xml_parse_extra
        tree.children[f"{{{XEN_NS}}}commandline"] = None  # read by xml_parse_extra
        tree.children[f"{{{QEMU_NS}}}commandline"] = None  # read by xml_parse_extra
        return tree

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        xen_args = find_all(elem, f"{{{XEN_NS}}}commandline/{{{XEN_NS}}}arg")
        for arg in xen_args:  # libxlDomainDefNamespaceParse
            if arg.get("value") is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "No device model command-line argument specified")
        if xen_args:
            values["xen_commandline"] = [str(arg.get("value")) for arg in xen_args]
        _parse_qemu_commandline(elem, values)
        ns = find_one(elem, f"{{{LXC_NS}}}namespace")
        if ns is None:
            return
        share: dict[str, tuple[str, str]] = {}
        for child in ns.iterchildren("*"):
            name = etree.QName(child).localname
            kind, value = child.get("type"), child.get("value")
            allowed = ("netns", "name", "pid") if name == "sharenet" else ("name", "pid")
            if name not in ("sharenet", "shareipc", "shareuts") or kind not in allowed or not value:
                raise XMLError(ErrorCode.XML_ERROR, f"invalid LXC namespace element <lxc:{name}> (type '{kind}')")
            share[name] = (str(kind), value)
        values["lxc_share"] = share

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.lxc_share:
            ns = etree.SubElement(elem, f"{{{LXC_NS}}}namespace", nsmap={"lxc": LXC_NS})
            for name in ("sharenet", "shareipc", "shareuts"):
                if name in self.lxc_share:
                    kind, value = self.lxc_share[name]
                    etree.SubElement(ns, f"{{{LXC_NS}}}{name}", type=kind, value=value)
        if self.xen_commandline:
            cmd = etree.SubElement(elem, f"{{{XEN_NS}}}commandline", nsmap={"xen": XEN_NS})
            for value in self.xen_commandline:
                etree.SubElement(cmd, f"{{{XEN_NS}}}arg", value=value)
        if self.qemu_args or self.qemu_env:
            cmd = etree.SubElement(elem, f"{{{QEMU_NS}}}commandline", nsmap={"qemu": QEMU_NS})
            for value in self.qemu_args:
                etree.SubElement(cmd, f"{{{QEMU_NS}}}arg", value=value)
            for name, env_value in self.qemu_env:
                env = etree.SubElement(cmd, f"{{{QEMU_NS}}}env", name=name)
                if env_value is not None:
                    env.set("value", env_value)


LXC_NS = "http://libvirt.org/schemas/domain/lxc/1.0"
XEN_NS = "http://libvirt.org/schemas/domain/xen/1.0"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
_ENV_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _parse_qemu_commandline(elem: etree._Element, values: dict[str, Any]) -> None:
    """``<qemu:commandline>``'s ``<qemu:arg value>`` and ``<qemu:env name value>``, whatever prefix the namespace
    has, with libvirt's checks (qemuDomainDefNamespaceParseCommandlineArgs/-Env): QEMU gets them verbatim."""
    args = find_all(elem, f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg")
    for arg in args:
        if arg.get("value") is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "No qemu command-line argument specified")
    env: list[tuple[str, str | None]] = []
    for node in find_all(elem, f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}env"):
        name = node.get("name")
        if not name:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "No qemu environment name specified")
        if not (name[0].isascii() and name[0].isalpha()) and name[0] != "_":
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                "Invalid environment name, it must begin with a letter or underscore")  # fmt: skip
        if not set(name) <= _ENV_NAME_CHARS:
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                "Invalid environment name, it must contain only alphanumerics and underscore")  # fmt: skip
        env.append((name, node.get("value")))
    if args:
        values["qemu_args"] = [str(arg.get("value")) for arg in args]
    if env:
        values["qemu_env"] = env


_ACTIONS = {
    "on_poweroff": ("destroy", "restart", "preserve", "rename-restart"),
    "on_reboot": ("destroy", "restart", "preserve", "rename-restart"),
    "on_crash": ("destroy", "restart", "preserve", "rename-restart", "coredump-destroy", "coredump-restart"),
    "on_lockfailure": ("poweroff", "restart", "pause", "ignore"),
}


def parse_domain(
    xml: str | bytes, *, url: str = "domain_definition", live: bool = False, default_sec_model: str | None = None
) -> Domain:
    """Parse and check a domain document; generic defaults filled in.

    ``live`` reads it as live XML (status files, snapshots): generated security
    labels are kept, as libvirt's parser keeps them only then.
    """
    root = parse_xml(xml, "domain", url)
    _merge_devices(root)
    _merge_hugepages(root)
    check_domain_values(root)
    dom = parse_model(Domain, root)
    if not dom.type:
        raise XMLError(ErrorCode.XML_ERROR, "missing domain type attribute")
    if dom.id is not None and not INT_MIN <= dom.id <= INT_MAX:
        # a C int in libvirt; only live XML reads it, a definition's id is ignored
        if live:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'id' in element 'domain': "
                           f"'{root.get('id')}'. Expected integer value")  # fmt: skip
        dom.id = None
    dom.name = check_name(dom.name)
    dom.uuid = normalize_uuid(dom.uuid) if dom.uuid else new_uuid()
    if dom.genid is not None:  # an empty <genid/> asks for a generated one, kept from then on
        dom.genid = normalize_uuid(dom.genid) if dom.genid else new_uuid()
    if dom.os is None or dom.os.type is None or not dom.os.type.name:
        raise XMLError(ErrorCode.XML_ERROR, "an os <type> must be specified")
    if dom.os.bootmenu_enable is not True:
        dom.os.bootmenu_timeout = None  # virDomainDefParseBootOptions reads the timeout of an enabled menu only
    _check_memory(dom)
    if dom.vcpu is None:
        dom.vcpu = Vcpu(count=1)
    if dom.vcpu.count is None or dom.vcpu.count < 1:
        raise XMLError(ErrorCode.XML_ERROR, "Invalid number of vCPUs")
    if dom.vcpu.placement is None:
        dom.vcpu.placement = "static"
    check_vcpu_states(dom)  # <vcpus> over current (virDomainVcpuParse)
    if dom.clock is None:
        dom.clock = Clock(offset="utc")
    for action, allowed in _ACTIONS.items():
        value = getattr(dom, action) or None  # an empty element is read as none given, as libvirt reads it
        setattr(dom, action, value)
        if value is not None and value not in allowed:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for element <{action}>: '{value}'")
    if dom.features is not None and dom.features.smm_tseg is not None:
        _tseg(dom.features)
    if dom.features is not None and dom.features.hyperv is not None and dom.features.hyperv.mode is None:
        dom.features.hyperv.mode = "custom"  # virDomainFeaturesHyperVDefParse's default, always written
    dom.on_poweroff = dom.on_poweroff or "destroy"
    dom.on_reboot = dom.on_reboot or "restart"
    dom.on_crash = dom.on_crash or "destroy"
    if dom.devices is None:
        dom.devices = Devices()
    apply_device_rules(dom.devices, live=live)
    if dom.memory_backing is not None:
        _check_hugepages(dom)
    if dom.cputune is not None:
        apply_cputune_rules(dom.cputune, dom.vcpu.count, [t.id for t in dom.iothreadids or [] if t.id is not None])
    nodeset = dom.numatune.memory_nodeset if dom.numatune is not None else None
    if nodeset and not parse_bitmap(nodeset, "nodeset"):
        # virDomainNumatuneParseXML: a set that names no node ('0,^0') is no binding at all
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Invalid value of 'nodeset': {nodeset}")
    _numa_placement(dom)
    _fill_iothread_ids(dom)
    if dom.numatune is not None:  # virBitmapFormat: node sets written back in their shortest form
        nt = dom.numatune
        nt.memory_nodeset = format_bitmap(parse_bitmap(nt.memory_nodeset)) if nt.memory_nodeset else nt.memory_nodeset
        for node in nt.memnodes or []:
            node.nodeset = format_bitmap(parse_bitmap(node.nodeset, "nodeset")) if node.nodeset else node.nodeset
    if dom.numatune is not None and (dom.numatune.memory_nodeset or dom.numatune.memory_placement):
        # virDomainNumatuneFormatXML: the mode is always shown, a static placement is implied by the nodeset
        nt = dom.numatune
        nt.memory_mode = nt.memory_mode or "strict"
        if nt.memory_placement == "static" and nt.memory_nodeset:
            nt.memory_placement = None
    devs = dom.devices
    per_device_boot = (
        any(d.boot for d in devs.disks) or any(i.boot for i in devs.interfaces) or any(h.boot for h in devs.hostdevs)
    )
    if dom.os.type.name == "hvm" and not (dom.os.boots or per_device_boot):
        # virDomainDefBootOrderPostParse: a guest that names no boot device boots from disk, even one that
        # is given a kernel (the firmware falls back to it)
        dom.os.boots = [BootDev(dev="hd")]
    _check_seclabels(dom, live, default_sec_model)
    if not live:
        for _model, _name, labels in _device_label_lists(dom):
            for sl in labels:
                sl.labelskip = None  # virSecurityDeviceLabelDefParseXML reads labelskip from live XML only
    _check_generic(dom)
    return dom


def _fill_iothread_ids(dom: Domain) -> None:
    """virDomainIOThreadIDDefArrayInit: with some <iothread> ids given, the rest of <iothreads> take the lowest
    free ids (written out, as the given ones are)."""
    given = dom.iothreadids or []
    if not given or dom.iothreads is None or len(given) >= dom.iothreads:
        return
    taken = {t.id for t in given}
    free = (i for i in range(1, dom.iothreads + 1) if i not in taken)
    dom.iothreadids = [*given, *(IothreadId(id=next(free)) for _ in range(dom.iothreads - len(given)))]


def _numa_placement(dom: Domain) -> None:
    """virDomainNumatuneParseXML and what follows it: automatic vCPU placement (numad) places memory
    automatically too unless a nodeset or placement is given, and automatic memory placement makes the vCPUs'
    automatic unless something pins them."""
    assert dom.vcpu is not None
    nt = dom.numatune
    if dom.vcpu.placement == "auto" and (nt is None or (nt.memory_nodeset is None and nt.memory_placement is None)):
        nt = dom.numatune = nt or NumaTune()
        nt.memory_placement = "auto"
    if nt is None or nt.memory_placement != "auto":
        return
    nt.memory_nodeset = None  # a nodeset means nothing with automatic placement
    tune = dom.cputune
    pinned = tune is not None and bool(tune.vcpupins or tune.emulatorpin or tune.iothreadpins)
    if dom.vcpu.cpuset is None and not pinned:
        dom.vcpu.placement = "auto"


def _tseg(features: Features) -> None:
    """virParseScaledValue (MiB unless a unit is given) and virFormatIntPretty: the SMM TSEG size is kept in
    bytes and written in the largest unit that divides it."""
    size = parse_scaled(str(features.smm_tseg), features.smm_tseg_unit, "features/smm/tseg", default_unit="MiB",
                        xpath="string(./features/smm/tseg)")  # fmt: skip
    unit = "B"
    for name in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if size == 0 or size % 1024:
            break
        size, unit = size // 1024, name
    features.smm_tseg, features.smm_tseg_unit = size, unit


def _check_generic(dom: Domain) -> None:
    """Checks of libvirt's generic parser and validator (the same for every driver), with its messages."""
    ids = [t.id for t in dom.iothreadids or [] if t.id is not None]
    dup = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if dup is not None:
        raise XMLError(ErrorCode.XML_ERROR, f"duplicate iothread id '{dup}' found")
    cpu = dom.cpu
    if cpu is not None and cpu.topology_sockets:
        total = cpu.topology_sockets * (cpu.topology_dies or 1) * (cpu.topology_cores or 1)
        if total > UINT_MAX or total * (cpu.topology_threads or 1) > UINT_MAX:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"cpu topology results in more than {UINT_MAX} cpus")
    for low, high in [(t.thread_pool_min, t.thread_pool_max) for t in dom.iothreadids or []] + [
        (dom.default_pool_min, dom.default_pool_max)
    ]:
        # virDomainDefValidateIOThreadsThreadPool
        if high == 0:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "thread_pool_max must be a positive integer")
        if low is not None and high is not None and low > high:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, "thread_pool_min must be smaller or equal to thread_pool_max"
            )
    assert dom.devices is not None
    iommu = dom.devices.iommu
    if iommu is not None and iommu.driver_intremap == "on":
        split = dom.features is not None and dom.features.ioapic_driver == "qemu"
        if not split:  # virDomainDefIOMMUValidate
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "IOMMU interrupt remapping requires split I/O APIC (ioapic driver='qemu')")  # fmt: skip
    if any(c.target_type == "serial" for c in dom.devices.consoles[1:]):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Only the first console can be a serial port")
    for mem in dom.devices.memories:
        block, requested = mem.target_block, mem.target_requested
        if mem.model == "virtio-mem" and block and requested and block.kib and requested.kib % block.kib:
            raise XMLError(ErrorCode.XML_DETAIL, "requested size must be an integer multiple of block size")


def _merge_hugepages(root: etree._Element) -> None:
    """libvirt reads ``./memoryBacking/hugepages/page`` with XPath: pages of a repeated ``<hugepages>`` count
    too (and then meet its nodeset checks)."""
    for backing in find_all(root, "memoryBacking"):
        lists = find_all(backing, "hugepages")
        for extra in lists[1:]:
            lists[0].extend(list(extra))
            backing.remove(extra)


def _merge_devices(root: etree._Element) -> None:
    """Several ``<devices>`` elements are one device list to libvirt (its XPath ``./devices/disk`` reads them all)."""
    lists = find_all(root, "devices")
    for extra in lists[1:]:
        lists[0].extend(list(extra))
        root.remove(extra)


def _check_memory(dom: Domain) -> None:
    """libvirt's virDomainDefPostParseMemory: sizes from NUMA cells, hotplugged modules, balloon and maximum."""
    total = dom.memory.kib if dom.memory is not None else 0
    devices = dom.devices.memories if dom.devices is not None else ()
    hotplug = sum(m.target_size.kib for m in devices if m.target_size is not None)
    numa = _numa_memory_kib(dom) if total == 0 else 0
    if numa:
        total = numa + hotplug
        dom.memory = Memory(kib=total, slots=dom.memory.slots if dom.memory is not None else None)
    elif hotplug > total:
        raise XMLError(ErrorCode.XML_ERROR, "Total size of memory devices exceeds the total memory size")
    if (numa or total - hotplug) == 0 or dom.memory is None:
        raise XMLError(ErrorCode.XML_ERROR, "Memory size must be specified via <memory> or in the <numa> configuration")
    if dom.current_memory is None or dom.current_memory.kib == 0 or dom.current_memory.kib > total:
        dom.current_memory = Memory(kib=total)
    max_kib = dom.max_memory.kib if dom.max_memory is not None else 0
    slots = (dom.max_memory.slots if dom.max_memory is not None else None) or 0
    if (max_kib or slots) and not (max_kib and slots):
        raise XMLError(ErrorCode.XML_ERROR, "both maximum memory size and memory slot count must be specified")
    if max_kib and max_kib < total:
        raise XMLError(ErrorCode.XML_ERROR, "maximum memory size must be equal or greater than the actual memory size")


def _numa_memory_kib(dom: Domain) -> int:
    """The guest NUMA cells' memory added up (libvirt's virDomainNumaGetMemorySize)."""
    if dom.cpu is None or not dom.cpu.numa:
        return 0
    cells = find_all(etree.fromstring(f"<numa>{dom.cpu.numa}</numa>".encode()), "cell")
    return sum(parse_memory_kib(c.get("memory") or "", c.get("unit"), "memory") for c in cells if c.get("memory"))


def _check_hugepages(dom: Domain) -> None:
    """libvirt's rules for ``<hugepages><page nodeset>``: one page size per guest node, nodes that exist."""
    pages = (dom.memory_backing.pages if dom.memory_backing is not None else None) or []
    cells = (
        len(find_all(etree.fromstring(f"<n>{dom.cpu.numa}</n>".encode()), "cell")) if dom.cpu and dom.cpu.numa else 0
    )
    masks = [parse_bitmap(p.nodeset, "hugepages nodeset") if p.nodeset is not None else None for p in pages]
    if cells == 0:
        # virDomainDefPostParseMemtune: without guest NUMA, a page size for node 0 alone is the default one
        for page, mask in zip(pages, masks, strict=True):
            if mask is not None and set(mask) <= {0}:
                page.nodeset = None
        masks = [None if m is not None and set(m) <= {0} else m for m in masks]
    for i, mask in enumerate(masks):
        for j in range(i):
            other = masks[j]
            if mask is not None and other is not None and mask & other:
                raise XMLError(ErrorCode.XML_DETAIL, f"nodeset attribute of hugepages of sizes {pages[i].size} and "
                               f"{pages[j].size} intersect")  # fmt: skip
            if mask is None and other is None:
                raise XMLError(ErrorCode.XML_DETAIL,
                               f"two master hugepages detected: {pages[i].size} and {pages[j].size}")  # fmt: skip
        beyond = sorted(n for n in mask or () if n >= cells)
        if beyond:
            raise XMLError(ErrorCode.XML_DETAIL, f"hugepages: node {beyond[0]} not found")


def _check_seclabels(dom: Domain, live: bool, default_model: str | None) -> None:
    """libvirt's ``<seclabel>`` rules (virSecurityLabelDefsParseXML / virSecurityLabelDefParseXML).

    Defaults: dynamic, relabelling for dynamic, not for static or none. A dynamic
    label must relabel, a ``none`` one must not. The label is read for static
    labels (and live XML), the image label only from live XML with relabelling,
    the base label only for dynamic labels. Models must be unique and given
    whenever there is more than one label; a lone label without a model takes
    the host's first model (``default_model``) when that is unambiguous.
    """
    labels = dom.seclabels or []
    seen: list[str | None] = []
    for sl in labels:
        kind = sl.type or "dynamic"
        if kind not in ("dynamic", "static", "none"):
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'seclabel': '{kind}'.")
        sl.type = kind
        if sl.relabel is None:
            sl.relabel = kind == "dynamic"
        if kind == "dynamic" and not sl.relabel:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "dynamic label type must use resource relabeling")
        if kind == "none" and sl.relabel:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, "resource relabeling is not compatible with 'none' label type"
            )
        if sl.model == "none":
            if not live:
                sl.type, sl.relabel = "none", False
            elif kind != "none":
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported type='{kind}' to model 'none'")
            sl.label = sl.imagelabel = sl.baselabel = None
        else:
            if kind == "static" or (live and kind != "none"):
                if not sl.label:
                    raise XMLError(ErrorCode.XML_ERROR, "security label is missing")
            else:
                sl.label = None
            if sl.relabel and live and kind != "none":
                if not sl.imagelabel:
                    raise XMLError(ErrorCode.XML_ERROR, "security imagelabel is missing")
            else:
                sl.imagelabel = None
            if kind != "dynamic":
                sl.baselabel = None
        if sl.model in seen:
            raise XMLError(ErrorCode.XML_DETAIL, f"seclabel for model {sl.model} is already provided")
        seen.append(sl.model)
    if len(labels) == 1 and labels[0].model is None and default_model is not None:
        only = labels[0]
        if only.type == "none" or (only.type == "dynamic" and not only.baselabel and not live):
            only.model = default_model
            if default_model == "none" and not live:  # "Fix older configurations"
                only.type, only.relabel = "none", False
        else:
            raise XMLError(ErrorCode.XML_ERROR, "missing security model in domain seclabel")
    if len(labels) > 1 and any(sl.model is None for sl in labels):
        raise XMLError(ErrorCode.XML_ERROR, "missing security model when using multiple labels")


def _device_label_lists(dom: Domain) -> Iterator[tuple[XmlModel, str, list[DeviceSeclabel]]]:
    """Every list of device label overrides in the definition (an image's or a character device source's),
    with the model and field holding it; walked directly, since every parse pays for it."""
    d = dom.devices
    if d is None:
        return
    for disk in d.disks:
        layer: Any = disk
        while layer is not None:
            if layer.source_seclabels:
                yield layer, "source_seclabels", layer.source_seclabels
            layer = layer.backing
    chardevs: list[Any] = [*d.serials, *d.parallels, *d.consoles, *d.channels, *d.smartcards, *d.redirdevs]
    for dev in chardevs:
        for src in dev.sources or []:
            if src.seclabels:
                yield src, "seclabels", src.seclabels
    for rng in d.rngs:
        for src in (rng.backend.sources or []) if rng.backend is not None else []:
            if src.seclabels:
                yield src, "seclabels", src.seclabels


def _drop_default_device_labels(dom: Domain) -> None:
    """virSecurityDeviceLabelDefFormat: offline output skips a label override that names no label and
    relabels (one whose labelskip the live XML had)."""
    for model, name, labels in list(_device_label_lists(dom)):
        setattr(model, name, [sl for sl in labels if sl.label or sl.relabel is False] or None)


def format_domain(dom: Domain, flags: int = 0, *, domain_id: int = -1) -> str:
    """libvirt's output: ``id`` only while running and not INACTIVE; passwords only with SECURE."""
    copy = dom.model_copy(deep=True)
    copy.id = domain_id if domain_id != -1 and not flags & VIR_DOMAIN_XML_INACTIVE else None
    if not flags & VIR_DOMAIN_XML_SECURE and copy.devices:
        for g in copy.devices.graphics:
            g.passwd = None
    if copy.id is None and copy.devices:
        # libvirt formats a domain without an id as inactive (virDomainDefFormatInternal): a VNC port the
        # autoport chose is not configuration, it is written '-1' even for a definition parsed live
        for g in copy.devices.graphics:
            if g.type == "vnc" and g.autoport and g.port:
                g.port = -1
    if flags & VIR_DOMAIN_XML_INACTIVE:
        _drop_default_device_labels(copy)
        for disk in copy.devices.disks if copy.devices else []:
            disk.mirror = None  # a block copy is not configuration (virDomainDiskDefFormatMirror)
        for nic in copy.devices.interfaces if copy.devices else []:
            if nic.type == "network":
                nic.source_portid = None  # nor is the network port a running NIC holds (virDomainNetDefFormat)
        d = copy.devices
        for chr_dev in [*d.serials, *d.parallels, *d.consoles, *d.channels] if d else []:
            if chr_dev.type == "pty":  # nor the pty QEMU allocated (virDomainChrSourceDefFormat, the console's tty)
                chr_dev.tty = None
                for src in chr_dev.sources or []:
                    src.path = None
                chr_dev.sources = [
                    s for s in chr_dev.sources or [] if any(v not in (None, []) for v in vars(s).values())
                ] or None
    prefix, uri = ("xen", XEN_NS) if copy.xen_commandline else ("qemu", QEMU_NS)
    declared = bool(copy.xen_commandline or copy.qemu_args or copy.qemu_env)
    root = etree.Element("domain", nsmap={prefix: uri} if declared else None)
    format_model(copy, root)
    # libvirt opens <hyperv> even with no feature, and a NIC's <bandwidth> with neither direction left (what
    # domiftune --inbound 0 leaves): virNetDevBandwidthFormat writes its open and close tags whatever it holds
    # (only a NIC's: the NUMA HMAT <interconnects><bandwidth .../> is an empty element, virDomainNumaDefFormatXML)
    text = to_string(root, keep_open=("devices", "hyperv", "interface/bandwidth"))
    if declared:  # declared on <domain> after its attributes, as virXMLNamespaceFormatNS writes it
        first, rest = text.split("\n", 1)
        decl = f" xmlns:{prefix}='{uri}'"
        text = first.replace(decl, "", 1)[:-1] + decl + ">\n" + rest
    return text


def require_supported(dom: Domain, what: str, supported: bool) -> None:
    """Refuse a configuration a driver cannot run (CONFIG_UNSUPPORTED)."""
    if not supported:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, what)


def required_capabilities(dom: Domain) -> frozenset[str]:
    """Capabilities the guest's emulator process must keep (libvirt's rawio rule).

    ``<disk device='lun' rawio='yes'>`` and a SCSI ``<hostdev rawio='yes'>``
    need CAP_SYS_RAWIO; drivers pass the result to ``Command.set_capabilities``
    and to ``pyvirt.util.filecaps.require_capabilities_after_exec``.
    """
    if dom.devices is None:
        return frozenset()
    rawio = any(d.device == "lun" and d.rawio for d in dom.devices.disks) or any(
        h.type == "scsi" and h.rawio for h in dom.devices.hostdevs
    )
    return frozenset({"sys_rawio"}) if rawio else frozenset()
