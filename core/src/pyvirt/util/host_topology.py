"""The real host as libvirt describes it: NUMA cells, CPUs, page sizes, node info.

Every hypervisor driver answers ``nodeinfo`` and ``capabilities`` about the
same machine, so the reading of sysfs and procfs lives here once. Values come
from ``/sys/devices/system/{node,cpu}``, ``/sys/kernel/mm/hugepages`` and
``/proc/cpuinfo``; a host without NUMA sysfs is one cell holding every CPU.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re

from pyvirt.conf.capabilities import Cell, CellCpu, Host, HostCpu, HostCpuFeature, Pages, SecModel
from pyvirt.plugin.records import NodeInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.util.cpu_x86 import CPUDef

__all__ = ["host_cpu_element", "host_description", "host_uuid", "node_info"]

_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon"}


def _read(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return default


def _parse_list(text: str) -> list[int]:
    """Kernel cpu/node lists such as ``0-3,8``."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields (vendor, flags, MHz)."""
    fields: dict[str, str] = {}
    for line in _read("/proc/cpuinfo").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _cpu_topology(cpu: int) -> tuple[int, int, int, str]:
    base = f"/sys/devices/system/cpu/cpu{cpu}/topology"
    return (int(_read(f"{base}/physical_package_id", "0") or 0), int(_read(f"{base}/die_id", "0") or 0),
            int(_read(f"{base}/core_id", "0") or 0), _read(f"{base}/thread_siblings_list", str(cpu)))  # fmt: skip


def _online_cpus() -> list[int]:
    return _parse_list(_read("/sys/devices/system/cpu/online")) or list(range(os.cpu_count() or 1))


def _cells() -> list[tuple[int, list[int], int]]:
    """(node id, cpus, memory KiB) per NUMA node."""
    nodes = _parse_list(_read("/sys/devices/system/node/online"))
    out = []
    for node in nodes:
        cpus = _parse_list(_read(f"/sys/devices/system/node/node{node}/cpulist"))
        m = re.search(r"MemTotal:\s+(\d+)", _read(f"/sys/devices/system/node/node{node}/meminfo"))
        out.append((node, cpus, int(m.group(1)) if m else 0))
    if not out:
        out.append((0, _online_cpus(), _mem_total_kib()))
    return out


def _mem_total_kib() -> int:
    m = re.search(r"MemTotal:\s+(\d+)", _read("/proc/meminfo"))
    return int(m.group(1)) if m else 0


def _huge_page_sizes() -> list[int]:
    sizes = []
    for d in glob.glob("/sys/kernel/mm/hugepages/hugepages-*kB"):
        with contextlib.suppress(ValueError):
            sizes.append(int(d.rsplit("-", 1)[1].removesuffix("kB")))
    return sorted(sizes)


def _small_page_kib() -> int:
    return os.sysconf("SC_PAGE_SIZE") // 1024


def node_info() -> NodeInfo:
    """virNodeGetInfo: model is the architecture, nodes * sockets * cores * threads = CPUs."""
    cpus = _online_cpus()
    topo = {c: _cpu_topology(c) for c in cpus}
    sockets = len({t[0] for t in topo.values()}) or 1
    cores = len({(t[0], t[2]) for t in topo.values()}) // sockets or 1
    threads = max(len(_parse_list(t[3])) for t in topo.values()) if topo else 1
    nodes = len(_cells())
    mhz = int(float(_cpuinfo().get("cpu MHz", "0") or 0))
    if nodes * sockets * cores * threads != len(cpus):
        nodes, sockets, cores, threads = 1, 1, len(cpus), 1  # libvirt's fallback for odd topologies
    return NodeInfo(os.uname().machine, _mem_total_kib(), len(cpus), mhz, nodes, max(sockets // nodes, 1), cores,
                    threads)  # fmt: skip


def host_uuid() -> str:
    """SMBIOS system UUID when readable (root), else one derived from /etc/machine-id."""
    smbios = _read("/sys/class/dmi/id/product_uuid").lower()
    if re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", smbios) and len(set(smbios) - {"-"}) > 1:
        return smbios
    mid = _read("/etc/machine-id")
    if re.fullmatch(r"[0-9a-f]{32}", mid):
        return f"{mid[:8]}-{mid[8:12]}-{mid[12:16]}-{mid[16:20]}-{mid[20:]}"
    return "00000000-0000-0000-0000-000000000000"


_host_cpu_cache: list[CPUDef | None] = []


def _probed_host_cpu() -> CPUDef | None:
    """virQEMUDriverGetHostCPU: probed once per process, as libvirt keeps driver->hostcpu (a KVM VM is made for
    the TSC frequency, which is not worth repeating per ``capabilities`` call)."""
    if not _host_cpu_cache:
        from pyvirt.util import cpu_x86  # only capabilities need it: nodeinfo does not pay for the CPU map code

        _host_cpu_cache.append(cpu_x86.host_cpu())
    return _host_cpu_cache[0]


def host_cpu_element(info: dict[str, str] | None = None) -> HostCpu:
    """The host ``<cpu>`` as virCPUProbeHost fills it: topology from the node info, then on x86 the model,
    vendor, microcode, signature, invariant TSC, address size and extra features decoded from CPUID.

    Without the kernel's cpuid driver libvirt's x86 probe fails and the CPU keeps only arch and topology;
    the vendor then comes from /proc/cpuinfo so that callers still see whose CPU it is.
    """
    ni = node_info()
    cpu = HostCpu(arch=os.uname().machine, sockets=ni.sockets, dies=1, cores=ni.cores, threads=ni.threads)
    probed = _probed_host_cpu()
    if probed is None:
        cpu.vendor = _VENDORS.get((info if info is not None else _cpuinfo()).get("vendor_id", ""))
        return cpu
    cpu.model, cpu.vendor = probed.model, probed.vendor
    cpu.microcode = probed.microcode or None
    if probed.sig[0]:
        cpu.sig_family, cpu.sig_model, cpu.sig_stepping = probed.sig
    if probed.tsc is not None:
        cpu.counter_name, cpu.counter_frequency, cpu.counter_scaling = "tsc", probed.tsc[0], probed.tsc[1]
    if probed.phys_addr_bits is not None:
        cpu.maxphysaddr_mode, cpu.maxphysaddr_bits = "emulate", probed.phys_addr_bits
    cpu.cpu_features = [HostCpuFeature(name=name) for name, _policy in probed.features] or None
    return cpu


def host_description(secmodels: list[tuple[str, str]]) -> Host:
    """The ``<host>`` section of capabilities XML for this machine."""
    info = _cpuinfo()
    small, huge = _small_page_kib(), _huge_page_sizes()
    cells = []
    for node, cpus, mem in _cells():
        free_huge = [
            int(_read(f"/sys/devices/system/node/node{node}/hugepages/hugepages-{size}kB/nr_hugepages", "0") or 0)
            for size in huge
        ]
        cells.append(
            Cell(
                id=node, memory_unit="KiB", memory_kib=mem,
                pages=[Pages(size=small, count=mem // small)]
                + [Pages(size=s, count=n) for s, n in zip(huge, free_huge, strict=True)],
                cpus_num=len(cpus),
                cpus=[CellCpu(id=c, socket_id=t[0], die_id=t[1], core_id=t[2], siblings=t[3])
                      for c in cpus for t in [_cpu_topology(c)]],
            )
        )  # fmt: skip
    cpu = host_cpu_element(info)
    cpu.pages = [Pages(size=small)] + [Pages(size=s) for s in huge]
    return Host(uuid=host_uuid(), cpu=cpu, iommu_support=bool(glob.glob("/sys/kernel/iommu_groups/*")),
                cells_num=len(cells), cells=cells,
                secmodels=[SecModel(model=m, doi=d) for m, d in secmodels])  # fmt: skip
