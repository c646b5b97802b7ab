"""The ``<host>`` NUMA topology, caches and memory bandwidth, read from a sysfs tree as libvirt reads it.

libvirt's virCapabilitiesHostNUMANewHost and virCapabilitiesInitCaches, over
``SYSTEM`` (``/sys/devices/system``) and ``RESCTRL`` (``/sys/fs/resctrl``)
given as directories, so that libvirt's own fake sysfs trees
(tests/vircaps2xmldata) give libvirt's XML:

- cells from ``node/online``, each with its CPUs (``node/nodeN/cpulist``) and
  their socket, die, core and thread siblings (``cpu/cpuN/topology``), the
  memory-side caches (``memory_side_cache/indexL``) and, for the whole
  topology, the HMAT interconnects of ``nodeN/access1``;
- the level 3 (and above) cache banks of the online CPUs
  (``cpu/cpuN/cache/indexI``), each with what resctrl can allocate in it
  (``info/L3``, ``L3CODE``, ``L3DATA``), resctrl's monitors (``info/L3_MON``)
  and the memory bandwidth allocation per last-level cache (``info/MB``).

The per-cell memory, pages and distances come from a :class:`NumaSource`, as
libvirt takes them from libnuma (its tests swap in a mock, as the corpus
runner here does).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Protocol

from pyvirt.conf.bitmap import format_bitmap
from pyvirt.conf.capabilities import (
    CacheBank,
    CacheControl,
    Cell,
    CellCache,
    CellCpu,
    Host,
    HostCache,
    HostCpu,
    Interconnect,
    MemBWControl,
    MemBWNode,
    MemoryBandwidth,
    MonitorFeature,
    Pages,
    ResctrlMonitor,
    Sibling,
)
from pyvirt.errors import ErrorCode, InternalError

__all__ = ["NumaSource", "host_from_sysfs"]

_KERNEL_CACHE_TYPES = {"Unified": "both", "Instruction": "code", "Data": "data"}
_RESCTRL_TYPES = {"": "both", "CODE": "code", "DATA": "data"}
_TYPE_ORDER = ("both", "code", "data")  # virCacheType
_ASSOCIATIVITY = {0: "direct", 1: "full", 2: None}  # kernel's cache_indexing; "none" is not written
_WRITE_POLICY = {0: "writeback", 1: "writethrough", 2: None}
_SCALE = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class NumaSource(Protocol):
    """What libvirt asks libnuma about a node."""

    def memory_kib(self, node: int) -> int:
        """The node's memory (KiB)."""
        ...

    def pages(self, node: int) -> list[tuple[int, int]]:
        """(page size KiB, pages available) per page size."""
        ...

    def distances(self, node: int) -> list[tuple[int, int]]:
        """(node, distance) for every other node at a known, non-zero distance."""
        ...


def _read(path: str) -> str | None:
    """virFileReadValueString: the file's text without its final newline; None when there is no file."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().removesuffix("\n")
    except FileNotFoundError:
        return None


def _read_int(path: str) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Invalid integer value '{text}' in file '{path}'") from None


def _read_scaled(path: str) -> int | None:
    """virFileReadValueScaledInt: ``15360K`` is 15 MiB."""
    text = _read(path)
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text)
    if m is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Invalid unsigned scaled integer value '{text}' in file "
                            f"'{path}'")  # fmt: skip
    return int(m.group(1)) * _SCALE[m.group(2)]


def _read_bitmap(path: str) -> set[int] | None:
    text = _read(path)
    if text is None:
        return None
    out: set[int] = set()
    for part in filter(None, text.strip().split(",")):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _pretty(value: int) -> tuple[int, str]:
    """virFormatIntPretty: the largest unit that divides the value exactly."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    if value == 0 or value % 1024:
        return value, "B"
    for power, unit in enumerate(units[1:], start=1):
        if value % (1024 ** (power + 1)) or unit == "PiB":
            return value // 1024**power, unit
    return value, "B"  # not reached


def _cpu(system: str, cpu: int) -> CellCpu:
    """virCapabilitiesFillCPUInfo: a missing or negative socket or die is 0; no sibling list: itself."""
    base = f"{system}/cpu/cpu{cpu}/topology"
    socket, die, core = (_read_int(f"{base}/{name}") for name in ("physical_package_id", "die_id", "core_id"))
    siblings = _read_bitmap(f"{base}/thread_siblings_list")
    return CellCpu(id=cpu, socket_id=max(socket or 0, 0), die_id=max(die or 0, 0), core_id=core or 0,
                   siblings=format_bitmap(siblings if siblings is not None else {cpu}))  # fmt: skip


def _node_caches(system: str, node: int) -> list[CellCache] | None:
    """virCapabilitiesGetNodeCache: the node's memory-side caches, by level."""
    path = f"{system}/node/node{node}/memory_side_cache"
    if not os.path.isdir(path):
        return None
    caches = []
    for entry in os.listdir(path):
        if not entry.startswith("index"):
            continue
        level = int(entry.removeprefix("index"))
        values = {}
        for name in ("size", "line_size", "indexing", "write_policy"):
            value = _read_int(f"{path}/{entry}/{name}")
            if value is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"File '{path}/{entry}/{name}' does not exist")
            values[name] = value
        if values["indexing"] not in _ASSOCIATIVITY:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unknown indexing value '{values['indexing']}'")
        if values["write_policy"] not in _WRITE_POLICY:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unknown write_policy value '{values['write_policy']}'")
        caches.append(CellCache(level=level, associativity=_ASSOCIATIVITY[values["indexing"]],
                                policy=_WRITE_POLICY[values["write_policy"]], size_kib=values["size"] >> 10,
                                size_unit="KiB", line=values["line_size"] or None,
                                line_unit="B" if values["line_size"] else None))  # fmt: skip
    caches.sort(key=lambda c: c.level or 0)
    return caches or None


def _interconnects(system: str) -> list[tuple[int, int, int, int, int]]:
    """virCapabilitiesHostNUMAInitInterconnects: (kind, initiator, target, access, value), kind 0 latency and
    1 bandwidth, access 1 read and 2 write, sorted as libvirt sorts them."""
    found: list[tuple[int, int, int, int, int]] = []
    nodes = f"{system}/node"
    if not os.path.isdir(nodes):
        return found
    for entry in os.listdir(nodes):
        if not entry.startswith("node"):
            continue
        target = int(entry.removeprefix("node"))
        path = f"{nodes}/{entry}/access1"
        if not os.path.exists(path):
            continue
        values = {}
        for name in ("read_bandwidth", "write_bandwidth", "read_latency", "write_latency"):
            value = _read_int(f"{path}/initiators/{name}")
            if value is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"File '{path}/initiators/{name}' does not exist")
            values[name] = value
        for init in os.listdir(f"{path}/initiators"):
            if not init.startswith("node"):
                continue
            initiator = int(init.removeprefix("node"))
            found += [(1, initiator, target, 1, values["read_bandwidth"] << 10),  # MiB/s read, KiB/s kept
                      (1, initiator, target, 2, values["write_bandwidth"] << 10),
                      (0, initiator, target, 1, values["read_latency"]),
                      (0, initiator, target, 2, values["write_latency"])]  # fmt: skip
    return sorted(found)


@dataclass
class _ResctrlType:
    max_allocation: int
    bits: int
    min_cbm_bits: int
    size: int = 0
    granularity: int = 0
    min: int = 0


@dataclass
class _Resctrl:
    """virResctrlInfo: what /sys/fs/resctrl/info says can be allocated and monitored."""

    levels: dict[int, dict[str, _ResctrlType]] = field(default_factory=dict)
    membw: tuple[int, int, int] | None = None  # granularity, min, max allocations
    membw_level: int = 0
    monitor: tuple[int, int | None, list[str]] | None = None  # max monitors, reuse threshold, features

    def empty(self) -> bool:
        return self.membw is None and self.monitor is None and not any(self.levels.values())


def _resctrl(root: str) -> _Resctrl:
    """virResctrlGetInfo: memory bandwidth, per-level cache allocation, monitoring."""
    info = _Resctrl()
    base = f"{root}/info"
    if not os.path.isdir(base):
        return info
    gran = _read_int(f"{base}/MB/bandwidth_gran")
    if gran is not None:
        minimum, closids = _read_int(f"{base}/MB/min_bandwidth"), _read_int(f"{base}/MB/num_closids")
        if minimum is None or closids is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Cannot get min bandwidth from resctrl memory info")
        info.membw = (gran, minimum, closids)
    for entry in os.listdir(base):
        m = re.fullmatch(r"L(\d+)(.*)", entry)
        if m is None or m.group(2) not in _RESCTRL_TYPES:
            continue
        mask = _read(f"{base}/{entry}/cbm_mask")
        min_bits = _read_int(f"{base}/{entry}/min_cbm_bits")
        if mask is None or min_bits is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Cannot get cbm_mask from resctrl cache info")
        bits = bin(int(mask.strip(), 16)).count("1")
        types = info.levels.setdefault(int(m.group(1)), {})
        types[_RESCTRL_TYPES[m.group(2)]] = _ResctrlType(_read_int(f"{base}/{entry}/num_closids") or 0, bits,
                                                         min_bits)  # fmt: skip
    rmids = _read_int(f"{base}/L3_MON/num_rmids")
    if rmids is not None:
        features = _read(f"{base}/L3_MON/mon_features")
        if not features:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Got empty feature list from resctrl")
        info.monitor = (rmids, _read_int(f"{base}/L3_MON/max_threshold_occupancy"), features.split("\n"))
    return info


def _cache_controls(info: _Resctrl, level: int, size: int) -> list[CacheControl]:
    """virResctrlInfoGetCache, with the memory bandwidth bookkeeping it does on the side."""
    if info.empty():
        return []
    if info.membw is not None and level > info.membw_level:
        info.membw_level = level
    controls = []
    for kind in _TYPE_ORDER:
        t = info.levels.get(level, {}).get(kind)
        if t is None:
            continue
        if not t.size:
            t.size, t.granularity = size, size // t.bits
            t.min = t.min_cbm_bits * t.granularity if t.min_cbm_bits != 1 else 0
        elif t.size != size:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"level {level} cache size {t.size} does not match "
                                f"expected size {size}")  # fmt: skip
        gran, unit = _pretty(t.granularity)
        minimum, min_unit = _pretty(t.min)
        if minimum:  # one unit for both: the smaller
            gran_div, min_div = t.granularity // gran, t.min // minimum
            if min_div > gran_div:
                minimum *= min_div // gran_div
            elif min_div < gran_div:
                unit, gran = min_unit, gran * (gran_div // min_div)
        controls.append(CacheControl(granularity=gran, min=minimum or None, unit=unit, type=kind,
                                     max_allocs=t.max_allocation))  # fmt: skip
    return controls


def _monitor(info: _Resctrl, prefix: str) -> ResctrlMonitor | None:
    """virResctrlInfoGetMonitorPrefix: the monitor's features with this prefix (``llc_``, ``mbm_``)."""
    if info.empty() or info.monitor is None:
        return None
    rmids, threshold, features = info.monitor
    mine = [f for f in features if f.startswith(prefix)]
    if not mine:
        return None
    cache = prefix == "llc_"
    return ResctrlMonitor(level=3 if cache else None, reuse_threshold=(threshold or 0) if cache else None,
                          max_monitors=rmids, features=[MonitorFeature(name=f) for f in mine])  # fmt: skip


def _caches(system: str, info: _Resctrl) -> tuple[HostCache | None, MemoryBandwidth | None]:
    """virCapabilitiesInitCaches: level 3+ banks of the online CPUs (each bank once), sorted by level and id."""
    online = _read_bitmap(f"{system}/cpu/online")
    if online is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"File '{system}/cpu/online' does not exist")
    banks: list[tuple[int, int, str, int, frozenset[int], list[CacheControl]]] = []
    for cpu in sorted(online):
        path = f"{system}/cpu/cpu{cpu}/cache"
        if not os.path.isdir(path):
            continue
        for entry in sorted(os.listdir(path)):
            if not entry.startswith("index"):
                continue
            level = _read_int(f"{path}/{entry}/level")
            if level is None or level < 3:
                continue
            bank_id, kind = _read_int(f"{path}/{entry}/id"), _read(f"{path}/{entry}/type")
            size, cpus = _read_scaled(f"{path}/{entry}/size"), _read_bitmap(f"{path}/{entry}/shared_cpu_list")
            if bank_id is None or kind is None or size is None or cpus is None:
                continue  # libvirt skips a bank sysfs does not fully describe
            if kind.strip() not in _KERNEL_CACHE_TYPES:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"Unknown cache type '{kind}'")
            key = (bank_id, level, _KERNEL_CACHE_TYPES[kind.strip()], size, frozenset(cpus))
            if any(b[:5] == key for b in banks):
                continue
            banks.append((*key, _cache_controls(info, level, size)))
    banks.sort(key=lambda b: (b[1], b[0]))
    cache_banks = []
    for bank_id, level, kind, size, shared, controls in banks:
        short, unit = _pretty(size)
        cache_banks.append(CacheBank(id=bank_id, level=level, type=kind, size=short, unit=unit,
                                     cpus=format_bitmap(set(shared)), controls=controls or None))  # fmt: skip
    nodes = []
    if info.membw is not None:
        gran, minimum, closids = info.membw
        nodes = [MemBWNode(id=b[0], cpus=format_bitmap(set(b[4])),
                           control=MemBWControl(granularity=gran, min=minimum, max_allocs=closids))
                 for b in banks if b[1] == info.membw_level]  # fmt: skip
    cache_monitor, membw_monitor = _monitor(info, "llc_"), _monitor(info, "mbm_")
    cache = HostCache(banks=cache_banks or None, monitor=cache_monitor) if cache_banks or cache_monitor else None
    membw = MemoryBandwidth(nodes=nodes or None, monitor=membw_monitor) if nodes or membw_monitor else None
    return cache, membw


def _cells(system: str, numa: NumaSource) -> list[Cell]:
    """virCapabilitiesHostNUMAInitReal: nodes 0 to the highest online one; a node without sysfs is skipped."""
    online = _read_bitmap(f"{system}/node/online")
    if not online:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"File '{system}/node/online' does not exist")
    cells = []
    for node in range(max(online) + 1):
        cpulist = _read(f"{system}/node/node{node}/cpulist")
        if cpulist is None:
            continue
        cpus = _read_bitmap(f"{system}/node/node{node}/cpulist") or set()
        memory = numa.memory_kib(node)
        cells.append(Cell(
            id=node, memory_unit="KiB" if memory else None, memory_kib=memory or None,
            pages=[Pages(size=size, count=avail) for size, avail in numa.pages(node)] or None,
            distances=[Sibling(id=n, value=d) for n, d in numa.distances(node) if d] or None,
            caches=_node_caches(system, node), cpus_num=len(cpus),
            cpus=[_cpu(system, cpu) for cpu in sorted(cpus)],
        ))  # fmt: skip
    return cells


def host_from_sysfs(
    arch: str,
    system: str,
    resctrl: str,
    numa: NumaSource,
    *,
    offline_migrate: bool = False,
    live_migrate: bool = False,
) -> Host:
    """The ``<host>`` libvirt builds from ``system`` and ``resctrl`` (virCapabilitiesNew with its NUMA
    topology and caches), with no UUID, no CPU model and no security model: the drivers add those."""
    cells = _cells(system, numa)
    interconnects = _interconnects(system)
    kinds = ("", "read", "write")

    def links(kind: int) -> list[Interconnect] | None:
        return [Interconnect(initiator=i, target=t, type=kinds[a], value=v, unit="KiB" if kind else None)
                for k, i, t, a, v in interconnects if k == kind] or None  # fmt: skip

    cache, membw = _caches(system, _resctrl(resctrl))
    return Host(cpu=HostCpu(arch=arch), power_management=True, iommu_support=False,
                migration_features=True if offline_migrate else None, migration_live=True if live_migrate else None,
                cells_num=len(cells), cells=cells, latencies=links(0), bandwidths=links(1), cache=cache,
                memory_bandwidth=membw)  # fmt: skip
