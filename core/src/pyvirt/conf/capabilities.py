"""Capabilities XML (``<capabilities>``): host CPU, NUMA topology, security models, guests."""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.xmlmodel import X, XmlModel, format_model
from pyvirt.conf.xmlwriter import to_string

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated

__all__ = ["Capabilities", "format_capabilities"]


class Pages(XmlModel):
    unit: Annotated[str | None, X("@unit")] = "KiB"
    size: Annotated[int | None, X("@size")] = None
    count: Annotated[int | None, X(".")] = None


class FeatureFlag(XmlModel):
    """An empty element named after a feature (``<pae/>``, ``<acpi default='on' toggle='yes'/>``).

    ``default``/``toggle`` are what libvirt says of a guest feature: on unless
    the XML says otherwise, and whether the XML may turn it off; virt-install
    adds ``<acpi/>`` and ``<apic/>`` only when they are listed.
    """

    name: str = ""
    default: Annotated[str | None, X("@default")] = None
    toggle: Annotated[str | None, X("@toggle")] = None

    def xml_format_extra(self, elem: etree._Element) -> None:
        elem.tag = self.name


class HostCpuFeature(XmlModel):
    """``<feature name='...'/>`` of the host CPU: a CPUID/MSR feature the host has beyond its model's."""

    name: Annotated[str | None, X("@name")] = None


class HostCpu(XmlModel):
    """The host ``<cpu>``: libvirt's virCPUDefFormatBuf for a host CPU, then the page sizes."""

    arch: Annotated[str | None, X("arch")] = None
    model: Annotated[str | None, X("model")] = None
    vendor: Annotated[str | None, X("vendor")] = None
    features: Annotated[list[FeatureFlag] | None, X("features/flag", model=FeatureFlag, many=True)] = None
    microcode: Annotated[int | None, X("microcode/@version")] = None
    sig_family: Annotated[int | None, X("signature/@family")] = None
    sig_model: Annotated[int | None, X("signature/@model")] = None
    sig_stepping: Annotated[int | None, X("signature/@stepping")] = None
    counter_name: Annotated[str | None, X("counter/@name")] = None
    counter_frequency: Annotated[int | None, X("counter/@frequency")] = None
    counter_scaling: Annotated[str | None, X("counter/@scaling")] = None
    sockets: Annotated[int | None, X("topology/@sockets")] = None
    dies: Annotated[int | None, X("topology/@dies")] = None
    cores: Annotated[int | None, X("topology/@cores")] = None
    threads: Annotated[int | None, X("topology/@threads")] = None
    maxphysaddr_mode: Annotated[str | None, X("maxphysaddr/@mode")] = None
    maxphysaddr_bits: Annotated[int | None, X("maxphysaddr/@bits")] = None
    cpu_features: Annotated[list[HostCpuFeature] | None, X("feature", model=HostCpuFeature, many=True)] = None
    pages: Annotated[list[Pages] | None, X("pages", model=Pages, many=True)] = None


class CellCpu(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    socket_id: Annotated[int | None, X("@socket_id")] = None
    die_id: Annotated[int | None, X("@die_id")] = None
    core_id: Annotated[int | None, X("@core_id")] = None
    siblings: Annotated[str | None, X("@siblings")] = None


class Sibling(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    value: Annotated[int | None, X("@value")] = None


class CellCache(XmlModel):
    """A memory-side cache of a NUMA cell (HMAT): size in KiB, line in bytes."""

    level: Annotated[int | None, X("@level")] = None
    associativity: Annotated[str | None, X("@associativity")] = None
    policy: Annotated[str | None, X("@policy")] = None
    size_kib: Annotated[int | None, X("size/@value")] = None
    size_unit: Annotated[str | None, X("size/@unit")] = None
    line: Annotated[int | None, X("line/@value")] = None
    line_unit: Annotated[str | None, X("line/@unit")] = None


class Interconnect(XmlModel):
    """One HMAT latency (ns) or bandwidth (KiB/s) between an initiator and a target node."""

    initiator: Annotated[int | None, X("@initiator")] = None
    target: Annotated[int | None, X("@target")] = None
    cache: Annotated[int | None, X("@cache")] = None
    type: Annotated[str | None, X("@type")] = None
    value: Annotated[int | None, X("@value")] = None
    unit: Annotated[str | None, X("@unit")] = None


class CacheControl(XmlModel):
    """What resctrl can allocate of a cache bank (granularity and minimum in ``unit``)."""

    granularity: Annotated[int | None, X("@granularity")] = None
    min: Annotated[int | None, X("@min")] = None
    unit: Annotated[str | None, X("@unit")] = None
    type: Annotated[str | None, X("@type")] = None
    max_allocs: Annotated[int | None, X("@maxAllocs")] = None


class CacheBank(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    level: Annotated[int | None, X("@level")] = None
    type: Annotated[str | None, X("@type")] = None
    size: Annotated[int | None, X("@size")] = None
    unit: Annotated[str | None, X("@unit")] = None
    cpus: Annotated[str | None, X("@cpus")] = None
    controls: Annotated[list[CacheControl] | None, X("control", model=CacheControl, many=True)] = None


class MonitorFeature(XmlModel):
    name: Annotated[str | None, X("@name")] = None


class ResctrlMonitor(XmlModel):
    level: Annotated[int | None, X("@level")] = None
    reuse_threshold: Annotated[int | None, X("@reuseThreshold")] = None
    max_monitors: Annotated[int | None, X("@maxMonitors")] = None
    features: Annotated[list[MonitorFeature] | None, X("feature", model=MonitorFeature, many=True)] = None


class HostCache(XmlModel):
    banks: Annotated[list[CacheBank] | None, X("bank", model=CacheBank, many=True)] = None
    monitor: Annotated[ResctrlMonitor | None, X("monitor", model=ResctrlMonitor)] = None


class MemBWControl(XmlModel):
    granularity: Annotated[int | None, X("@granularity")] = None
    min: Annotated[int | None, X("@min")] = None
    max_allocs: Annotated[int | None, X("@maxAllocs")] = None


class MemBWNode(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    cpus: Annotated[str | None, X("@cpus")] = None
    control: Annotated[MemBWControl | None, X("control", model=MemBWControl)] = None


class MemoryBandwidth(XmlModel):
    nodes: Annotated[list[MemBWNode] | None, X("node", model=MemBWNode, many=True)] = None
    monitor: Annotated[ResctrlMonitor | None, X("monitor", model=ResctrlMonitor)] = None


class Cell(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    memory_unit: Annotated[str | None, X("memory/@unit")] = None
    memory_kib: Annotated[int | None, X("memory")] = None
    pages: Annotated[list[Pages] | None, X("pages", model=Pages, many=True)] = None
    distances: Annotated[list[Sibling] | None, X("distances/sibling", model=Sibling, many=True)] = None
    caches: Annotated[list[CellCache] | None, X("cache", model=CellCache, many=True)] = None
    cpus_num: Annotated[int | None, X("cpus/@num")] = None
    cpus: Annotated[list[CellCpu] | None, X("cpus/cpu", model=CellCpu, many=True)] = None


class SecModel(XmlModel):
    model: Annotated[str | None, X("model")] = None
    doi: Annotated[str | None, X("doi")] = None


class Host(XmlModel):
    uuid: Annotated[str | None, X("uuid")] = None
    cpu: Annotated[HostCpu | None, X("cpu", model=HostCpu)] = None
    power_management: Annotated[bool | None, X("power_management", flag=True)] = None
    iommu_support: Annotated[bool | None, X("iommu/@support")] = None
    # <migration_features> when the driver migrates offline, <live/> in it when also live
    migration_features: Annotated[bool | None, X("migration_features", flag=True)] = None
    migration_live: Annotated[bool | None, X("migration_features/live", flag=True)] = None
    cells_num: Annotated[int | None, X("topology/cells/@num")] = None
    cells: Annotated[list[Cell] | None, X("topology/cells/cell", model=Cell, many=True)] = None
    latencies: Annotated[
        list[Interconnect] | None, X("topology/interconnects/latency", model=Interconnect, many=True)
    ] = None
    bandwidths: Annotated[
        list[Interconnect] | None, X("topology/interconnects/bandwidth", model=Interconnect, many=True)
    ] = None
    cache: Annotated[HostCache | None, X("cache", model=HostCache)] = None
    memory_bandwidth: Annotated[MemoryBandwidth | None, X("memory_bandwidth", model=MemoryBandwidth)] = None
    secmodels: Annotated[list[SecModel] | None, X("secmodel", model=SecModel, many=True)] = None


class GuestDomain(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    emulator: Annotated[str | None, X("emulator")] = None


class GuestMachine(XmlModel):
    maxCpus: Annotated[int | None, X("@maxCpus")] = None  # noqa: N815 - libvirt's name
    canonical: Annotated[str | None, X("@canonical")] = None
    name: Annotated[str | None, X(".")] = None


class Guest(XmlModel):
    os_type: Annotated[str | None, X("os_type")] = None
    arch_name: Annotated[str | None, X("arch/@name")] = None
    wordsize: Annotated[int | None, X("arch/wordsize")] = None
    emulator: Annotated[str | None, X("arch/emulator")] = None
    machines: Annotated[list[GuestMachine] | None, X("arch/machine", model=GuestMachine, many=True)] = None
    domains: Annotated[list[GuestDomain] | None, X("arch/domain", model=GuestDomain, many=True)] = None
    features: Annotated[list[FeatureFlag] | None, X("features/flag", model=FeatureFlag, many=True)] = None


class Capabilities(XmlModel):
    TAG = "capabilities"
    host: Annotated[Host | None, X("host", model=Host)] = None
    guests: Annotated[list[Guest] | None, X("guest", model=Guest, many=True)] = None


def format_capabilities(caps: Capabilities) -> str:
    """libvirt leaves a blank line after ``<capabilities>`` and after each top-level section."""
    root = etree.Element("capabilities")
    format_model(caps, root)
    lines = to_string(root, keep_open=("migration_features",), empty_pair=("doi",)).split("\n")
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line in ("<capabilities>", "  </host>", "  </guest>"):
            out.append("")
    return "\n".join(out)
