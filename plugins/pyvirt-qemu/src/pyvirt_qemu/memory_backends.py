"""Guest RAM: the memory backend objects, guest NUMA nodes, huge pages, locking and host-node policy.

libvirt's rules for QEMU 7.x (``qemuBuildMemoryBackendProps``):

- without guest NUMA nodes the machine's RAM is one backend (``pc.ram``);
  with ``<cpu><numa>`` each cell gets ``ram-nodeN`` and ``-numa node``, its
  size rounded up to a MiB as libvirt aligns it, and ``-m`` is their sum;
- a backend is ``memory-backend-file`` when it needs a path (huge pages from
  a hugetlbfs mount, shared access), ``memory-backend-memfd`` for
  ``<source type='memfd'/>``, else ``memory-backend-ram``;
- the page size of a cell is the ``<page>`` whose nodeset holds it, else the
  one without a nodeset, else the host's default huge page size for a bare
  ``<hugepages/>``; huge pages are preallocated (``prealloc``), as is
  everything with ``<allocation mode='immediate'>``;
- ``<numatune>`` binds a backend to host nodes (``host-nodes`` + ``policy``),
  a cell's ``<memnode>`` taking precedence over the domain-wide nodeset, and
  preallocation then runs in a thread context pinned to those nodes; libvirt
  also confines QEMU with cgroups, which this driver does not do yet, so the
  cgroup-only ``restrictive`` mode is refused;
- ``<locked/>`` is ``-overcommit mem-lock=on`` (and an unlimited
  RLIMIT_MEMLOCK for QEMU).

Huge pages come from the hugetlbfs mounts ``qemu.conf`` names
(``hugetlbfs_mount``) or, by default, those in ``/proc/mounts``. Each guest
gets its own directory on the mount, ``libvirt/qemu/ID-NAME``, made at start
and removed after the guest stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, Alias, MemoryDevice
from pyvirt.conf.units import parse_scaled
from pyvirt.errors import (
    ErrorCode,
    InternalError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)

__all__ = [
    "MAX_MEMORY_KIB",
    "HugetlbfsMount",
    "MemoryDeviceArgs",
    "MemoryLayout",
    "NumaCell",
    "aligned_memory_kib",
    "assign_memory_devices",
    "host_numa_nodes",
    "hugetlbfs_mounts",
    "initial_memory_kib",
    "memory_alignment_kib",
    "memory_layout",
    "numa_cells",
    "prepare_hugepage_dirs",
    "remove_hugepage_dirs",
]

_SYSTEM_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_POLICIES = {"strict": "bind", "preferred": "preferred", "interleave": "interleave"}


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


@dataclass(frozen=True)
class HugetlbfsMount:
    path: str
    size_kib: int
    default: bool = False


def _default_hugepage_kib() -> int:
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("Hugepagesize:"):
                return int(line.split()[1])
    return 2048


def _mount_page_kib(options: str, default_kib: int) -> int:
    for option in options.split(","):
        if option.startswith("pagesize="):
            match = re.fullmatch(r"(\d+)([KMG]?)", option.removeprefix("pagesize="))
            if match:
                return (
                    int(match[1])
                    * {"": 1, "K": 1, "M": 1024, "G": 1024 * 1024}[match[2]]
                    // (1024 if not match[2] else 1)
                )
    return default_kib


def hugetlbfs_mounts(configured: Sequence[str] = ()) -> list[HugetlbfsMount]:
    """The mounts to use: ``qemu.conf``'s ``hugetlbfs_mount`` (a path or a list), else every hugetlbfs mounted."""
    default_kib = _default_hugepage_kib()
    mounted: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 4 and fields[2] == "hugetlbfs":
                mounted[fields[1]] = _mount_page_kib(fields[3], default_kib)
    paths = list(mounted)
    if configured:
        paths = list(configured)
    out: list[HugetlbfsMount] = []
    for path in paths:
        size = mounted.get(os.path.realpath(path), mounted.get(path, default_kib))
        out.append(HugetlbfsMount(path, size, default=size == default_kib))
    if out and not any(m.default for m in out):
        out[0] = HugetlbfsMount(out[0].path, out[0].size_kib, True)
    return out


def host_numa_nodes() -> set[int]:
    """The host's online NUMA nodes (node 0 when the kernel does not say)."""
    try:
        with open("/sys/devices/system/node/online", encoding="ascii") as f:
            return set(parse_bitmap(f.read().strip(), "online nodes"))
    except OSError:
        return {0}


@dataclass(frozen=True)
class NumaCell:
    id: int
    cpus: str
    memory_kib: int
    discard: bool | None = None
    mem_access: str | None = None


def numa_cells(dom: Domain) -> list[NumaCell]:
    """The guest's NUMA nodes from ``<cpu><numa>`` (kept verbatim by the model), in id order."""
    raw = dom.cpu.numa if dom.cpu is not None else None
    if not raw:
        return []
    root = etree.fromstring(f"<numa>{raw}</numa>".encode())
    cells: list[NumaCell] = []
    for el in root:
        if el.tag != "cell":
            raise _unsupported(f"<{el.tag}> in <cpu><numa>")
        if len(el):
            raise _unsupported(f"<{el[0].tag}> in a NUMA <cell>")
        for attr in map(str, el.attrib):
            if attr not in ("id", "cpus", "memory", "unit", "discard", "memAccess"):
                raise _unsupported(f"NUMA cell attribute '{attr}'")
        memory = parse_scaled(el.get("memory", "0"), el.get("unit"), "memory", default_unit="KiB") // 1024
        discard = el.get("discard")
        cells.append(NumaCell(int(el.get("id", str(len(cells)))), el.get("cpus", ""), memory,
                              None if discard is None else discard == "yes", el.get("memAccess")))  # fmt: skip
    return sorted(cells, key=lambda c: c.id)


# virMemoryMaxValue on a 64-bit host: sizes are off_t, so 2^63 bytes, in KiB
MAX_MEMORY_KIB = (2**63 - 1) >> 10


def memory_alignment_kib(dom: Domain) -> int:
    """libvirt's qemuDomainGetMemorySizeAlignment: pSeries takes RAM in 256 MiB steps, everything else in MiB
    (QEMU wants 4 KiB; libvirt has always rounded to the MiB, and its command lines say so)."""
    arch = dom.os.type.arch if dom.os is not None and dom.os.type is not None else None
    return 256 * 1024 if arch in ("ppc64", "ppc64le") else 1024


def aligned_memory_kib(dom: Domain, kib: int, what: str) -> int:
    """``kib`` rounded up to the guest's alignment; refused, with libvirt's words, when it no longer fits."""
    step = memory_alignment_kib(dom)
    aligned = _align(kib, step)
    if aligned > MAX_MEMORY_KIB:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} overflowed after alignment")
    return aligned


def _cell_sizes(dom: Domain, cells: list[NumaCell]) -> list[int]:
    """The NUMA cells' aligned sizes, each checked as qemuDomainAlignMemorySizes checks them."""
    sizes = [
        aligned_memory_kib(dom, cell.memory_kib, f"memory size of NUMA node '{i}'") for i, cell in enumerate(cells)
    ]
    if sum(sizes) > MAX_MEMORY_KIB:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "initial memory size overflowed after alignment")
    return sizes


def initial_memory_kib(dom: Domain) -> int:
    """The guest's initial RAM as QEMU gets it: the NUMA cells' aligned sum, or ``<memory>`` aligned."""
    cells = numa_cells(dom)
    if cells:
        return sum(_cell_sizes(dom, cells))
    assert dom.memory is not None
    return aligned_memory_kib(dom, dom.memory.kib, "initial memory size")


def _align_mib(kib: int) -> int:
    return (kib + 1023) // 1024 * 1024


@dataclass
class MemoryDeviceArgs:
    """One memory device: its backend objects, and its ``-device`` properties before any PCI address."""

    objects: list[str]
    props: dict[str, Any]
    device: MemoryDevice


@dataclass
class MemoryLayout:
    """What the command line needs: ``-m``, the machine's backend id, objects before and after ``-smp``,
    the memory devices (their PCI address still to add), and the directories QEMU will create files in."""

    size_arg: str
    machine_backend: str | None
    system_objects: list[str]
    mem_lock: bool
    numa_args: list[str]
    devices: list[MemoryDeviceArgs]
    hugepage_dirs: list[str]
    nvdimm: bool


def _json(obj: dict[str, Any]) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))


class _Backends:
    def __init__(self, dom: Domain, mounts: list[HugetlbfsMount], short_name: str, host_nodes: set[int],
                 backing_dir: str) -> None:  # fmt: skip
        self.dom = dom
        self.backing_dir = backing_dir
        self.mb = dom.memory_backing
        self.mounts = mounts
        self.short_name = short_name
        self.host_nodes = host_nodes
        self.dirs: list[str] = []
        nt = dom.numatune
        self.memnodes = {int(m.cellid): m for m in (nt.memnodes or []) if m.cellid is not None} if nt else {}

    def _page_kib(self, cell: int | None) -> int | None:
        """The huge page size for a cell (None: system memory), None when it uses normal pages."""
        mb = self.mb
        if mb is None or not mb.hugepages:
            return None
        pages = mb.pages or []
        if not pages:
            return 0  # <hugepages/>: the host's default huge pages
        fallback = None
        for page in pages:
            size = parse_scaled(str(page.size or 0), page.unit, "page size", default_unit="KiB") // 1024
            if page.nodeset is None:
                fallback = size
            elif cell is not None and cell in parse_bitmap(page.nodeset, "hugepages nodeset"):
                return size
            elif cell is None:
                fallback = size if fallback is None else fallback
        return fallback

    def _mount(self, size_kib: int) -> HugetlbfsMount:
        for mount in self.mounts:
            if (size_kib == 0 and mount.default) or mount.size_kib == size_kib:
                return mount
        if size_kib == 0:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                       "hugetlbfs filesystem is not mounted or disabled by administrator config")  # fmt: skip
        raise InternalError(ErrorCode.INTERNAL_ERROR,
                                   f"Unable to find any usable hugetlbfs mount for {size_kib} KiB")  # fmt: skip

    def _nodes(self, cell: int | None, device_nodes: str | None = None) -> tuple[list[int] | None, str | None]:
        nt = self.dom.numatune
        if device_nodes is not None:  # a memory device's own <source><nodemask>
            nodes = sorted(parse_bitmap(device_nodes, "nodemask"))
            missing = [n for n in nodes if n not in self.host_nodes]
            if missing:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"NUMA node {missing[0]} is unavailable")
            return nodes, "bind"
        if nt is None:
            return None, None
        memnode = self.memnodes.get(cell) if cell is not None else None
        mode = (memnode.mode if memnode is not None else None) or nt.memory_mode or "strict"
        nodeset = memnode.nodeset if memnode is not None else nt.memory_nodeset
        if nt.memory_placement == "auto" and memnode is None:
            raise _unsupported("automatic NUMA placement (<numatune><memory placement='auto'>)")
        if nodeset is None:
            return None, None
        nodes = sorted(parse_bitmap(nodeset, "numatune nodeset"))
        missing = [n for n in nodes if n not in self.host_nodes]
        if missing:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                       f"NUMA node {missing[0]} is unavailable")  # fmt: skip
        if mode == "restrictive":  # only cgroups confine it, and this driver does not put QEMU in cgroups
            raise _unsupported("<numatune> mode 'restrictive'")
        return nodes, _POLICIES[mode]

    def backend(self, alias: str, cell: int | None, size_kib: int, system: bool,
                dev: MemoryDevice | None = None) -> tuple[list[str], bool]:  # fmt: skip
        """``-object`` arguments for one backend (RAM, a NUMA cell or a memory device's), and whether prealloc
        moved to a virtio-mem device."""
        mb = self.mb
        cell_info = next((c for c in numa_cells(self.dom) if c.id == cell), None) if cell is not None else None
        access = (dev.access if dev is not None else None) or (cell_info.mem_access if cell_info else None) or (
            mb.access_mode if mb else None)  # fmt: skip
        discard = dev.discard if dev is not None and dev.discard is not None else (
            cell_info.discard if cell_info is not None and cell_info.discard is not None else (
                True if mb is not None and mb.discard else None))  # fmt: skip
        path = dev.source_path if dev is not None else None
        page = dev.source_pagesize.kib if dev is not None and dev.source_pagesize is not None else self._page_kib(cell)
        use_huge = page is not None and page != _SYSTEM_PAGE_KIB
        prealloc = bool(mb is not None and mb.allocation_mode == "immediate")
        if path is not None:
            prealloc = prealloc or not (dev is not None and (dev.source_pmem or dev.model == "virtio-pmem"))
        elif use_huge:
            prealloc = True
        source = mb.source_type if mb is not None else None
        props: dict[str, Any] = {}
        if path is None and source == "memfd":
            kind = "memory-backend-memfd"
            if use_huge:
                mount = self._mount(page or 0)
                props.update(hugetlb=True, hugetlbsize=mount.size_kib * 1024)
            if access:
                props["share"] = access == "shared"
        elif use_huge or path or access or source == "file":
            kind = "memory-backend-file"
            if path is None:
                if use_huge:
                    directory = f"{self._mount(page or 0).path}/libvirt/qemu/{self.short_name}"
                    path = directory
                else:  # shared or file-backed RAM without huge pages: a file under memory_backing_dir
                    directory = f"{self.backing_dir}/{self.short_name}"
                    path = f"{directory}/{alias.removeprefix('mem') if dev is not None else alias}"
                if directory not in self.dirs:
                    self.dirs.append(directory)
            props["mem-path"] = path
            if discard is not None and (dev is None or dev.source_path is None):
                props["discard-data"] = discard
            if access:
                props["share"] = access == "shared"
        else:
            kind = "memory-backend-ram"
        if system and kind != "memory-backend-ram":
            props["x-use-canonical-path-for-ramblock-id"] = False
        device_prealloc = False
        if dev is not None and dev.model == "virtio-mem":
            device_prealloc = prealloc  # QEMU 7.2 preallocates virtio-mem from the device, not the backend
            props["reserve"] = False
        else:
            if prealloc:
                props["prealloc"] = True
            if mb is not None and mb.allocation_threads:
                props["prealloc-threads"] = mb.allocation_threads
        props["size"] = size_kib * 1024
        if dev is not None and dev.source_alignsize is not None:
            props["align"] = dev.source_alignsize.kib * 1024
        if dev is not None and dev.source_pmem:
            props["pmem"] = True
        nodes, policy = self._nodes(cell, dev.source_nodemask if dev is not None else None)
        out: list[str] = []
        if nodes is not None:
            props.update({"host-nodes": nodes, "policy": policy})
            if props.get("prealloc"):
                # QEMU 7.2 preallocates with threads pinned to the memory's nodes
                out += ["-object", _json({"qom-type": "thread-context", "id": f"tc-{alias}", "node-affinity": nodes})]
                props["prealloc-context"] = f"tc-{alias}"
        out += ["-object", _json({"qom-type": kind, "id": alias, **props})]
        return out, device_prealloc


def _cpus_args(cpus: str) -> list[str]:
    return [f"cpus={part}" for part in cpus.split(",") if part]


def _align(kib: int, step: int) -> int:
    return (kib + step - 1) // step * step


_DEVICE_PREFIX = {"dimm": "dimm", "nvdimm": "nvdimm", "virtio-mem": "virtiomem", "virtio-pmem": "virtiopmem"}


def assign_memory_devices(dom: Domain) -> None:
    """DIMM slots (the first free ones) and aliases for memory devices, as libvirt numbers them."""
    mems = dom.devices.memories if dom.devices is not None else []
    used = {int(m.address.attrs.get("slot", "0")) for m in mems
            if m.address is not None and m.address.attrs.get("type") == "dimm"}  # fmt: skip
    counters: dict[str, int] = {}
    for mem in mems:
        prefix = _DEVICE_PREFIX.get(mem.model or "")
        if prefix is None:
            raise _unsupported(f"memory device model '{mem.model}'")
        if mem.model in ("dimm", "nvdimm"):
            if mem.address is None:
                slot = next(n for n in range(len(mems) + len(used) + 1) if n not in used)
                used.add(slot)
                mem.address = Address(attrs={"type": "dimm", "slot": str(slot)})
            index = int(mem.address.attrs.get("slot", "0"))
        else:
            index = counters.get(prefix, 0)
        counters[prefix] = index + 1
        if mem.alias is None or not mem.alias.name:
            mem.alias = Alias(name=f"{prefix}{index}")


def _plain_ram(objects: list[str]) -> bool:
    """A backend with nothing but an id and a size (qemuBuildMemoryBackendProps's "not needed")."""
    props = [json.loads(a) for a in objects if a.startswith("{")]
    return all(p.get("qom-type") == "memory-backend-ram" and set(p) <= {"qom-type", "id", "size"} for p in props)


def memory_layout(dom: Domain, memory_kib: int, machine_backend: str | None, mounts: list[HugetlbfsMount],
                  domain_id: int = -1, host_nodes: set[int] | None = None,
                  backing_dir: str = "/var/lib/libvirt/qemu/ram", numa_mem: bool = False) -> MemoryLayout:  # fmt: skip
    """Everything about guest RAM on the command line (see the module docstring).

    ``numa_mem``: the machine still takes ``-numa node,mem=`` (QEMU < 5.1; libvirt's numaMemSupported), which
    libvirt uses while no cell needs a backend object of its own.
    """
    short_name = f"{domain_id}-{(dom.name or '')[:20]}"
    backends = _Backends(dom, mounts, short_name, host_nodes if host_nodes is not None else host_numa_nodes(),
                         backing_dir)  # fmt: skip
    mb = dom.memory_backing
    if mb is not None and (mb.nosharepages or (mb.source_type not in (None, "anonymous", "memfd", "file"))):
        raise _unsupported("<memoryBacking><nosharepages/> or that <source>")
    lock = bool(mb is not None and mb.locked)
    cells = numa_cells(dom)
    mems = dom.devices.memories if dom.devices is not None else []
    if (dom.max_memory is not None or mems) and not cells:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "At least one numa node has to be configured when enabling memory hotplug")  # fmt: skip
    if mems and dom.max_memory is None:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "cannot use/hotplug a memory device when domain 'maxMemory' is not defined")  # fmt: skip
    plain = mb is None or not (mb.hugepages or mb.source_type or mb.access_mode or mb.allocation_mode or mb.discard)
    if not cells and machine_backend is None and plain:
        # a machine without a RAM backend id (QEMU < 5.0, libvirt's fake test capabilities): plain -m
        return MemoryLayout(str(memory_kib // 1024), None, [], lock, [], [], backends.dirs, False)
    if not cells:
        objects, _ = backends.backend(machine_backend or "pc.ram", None, memory_kib, True)
        return MemoryLayout(str(memory_kib // 1024), machine_backend, objects, lock, [], [], backends.dirs, False)
    numa: list[str] = []
    total = 0
    # qemuDomainAlignMemorySizes: each cell on its own, and the cells' sum is the initial memory
    sizes = _cell_sizes(dom, cells)
    per_cell = [backends.backend(f"ram-node{cell.id}", cell.id, size, False)[0]
                for cell, size in zip(cells, sizes, strict=True)]  # fmt: skip
    # libvirt's qemuBuildNumaCommandLine: backends for every cell as soon as one needs more than plain RAM
    legacy = numa_mem and all(_plain_ram(objects) for objects in per_cell)
    for cell, objects, size in zip(cells, per_cell, sizes, strict=True):
        total += size
        memory = f"mem={size // 1024}" if legacy else f"memdev=ram-node{cell.id}"
        numa += [] if legacy else objects
        numa += ["-numa", ",".join([f"node,nodeid={cell.id}", *_cpus_args(cell.cpus), memory])]
    size_arg = str(total // 1024)
    if dom.max_memory is not None:
        size_arg = f"size={total}k,slots={dom.max_memory.slots or 0},maxmem={dom.max_memory.kib}k"
    assign_memory_devices(dom)
    devices = [_memory_device(backends, mem) for mem in mems]
    nvdimm = any(m.model == "nvdimm" for m in mems)
    return MemoryLayout(size_arg, None, [], lock, numa, devices, backends.dirs, nvdimm)


def _memory_device(backends: _Backends, mem: MemoryDevice) -> MemoryDeviceArgs:
    """The backend object and ``-device`` of one memory device (libvirt's property order)."""
    assert mem.alias is not None and mem.alias.name
    alias = mem.alias.name
    if mem.target_size is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing memory device size")
    size = mem.target_size.kib
    if mem.model == "virtio-mem":
        block = mem.target_block.kib if mem.target_block is not None else 2048
        size = _align(size, block)
    else:
        size = _align(size, 2048)  # libvirt aligns DIMMs and persistent memory to 2 MiB on x86
    objects, device_prealloc = backends.backend(f"mem{alias}", mem.target_node, size, False, mem)
    props: dict[str, Any] = {"driver": {"dimm": "pc-dimm", "nvdimm": "nvdimm", "virtio-mem": "virtio-mem-pci",
                                        "virtio-pmem": "virtio-pmem-pci"}[mem.model or ""]}  # fmt: skip
    if mem.model != "virtio-pmem" and mem.target_node is not None:
        props["node"] = mem.target_node
    if mem.model == "nvdimm":
        if mem.target_label_size is not None:
            props["label-size"] = mem.target_label_size.kib * 1024
        if mem.target_readonly:
            props["unarmed"] = True
    if mem.model == "virtio-mem":
        props["block-size"] = (mem.target_block.kib if mem.target_block is not None else 2048) * 1024
        props["requested-size"] = (mem.target_requested.kib if mem.target_requested is not None else 0) * 1024
    props["memdev"] = f"mem{alias}"
    if device_prealloc:
        props["prealloc"] = True
    props["id"] = alias
    if mem.model in ("dimm", "nvdimm") and mem.address is not None:
        props["slot"] = int(mem.address.attrs.get("slot", "0"))
        if mem.address.attrs.get("base"):
            props["addr"] = int(mem.address.attrs["base"], 0)
    return MemoryDeviceArgs(objects, props, mem)


def hotplug_memory(dom: Domain, mem: MemoryDevice, mounts: list[HugetlbfsMount], domain_id: int,
                   backing_dir: str, host_nodes: set[int] | None = None) -> tuple[MemoryDeviceArgs, list[str]]:  # fmt: skip
    """A memory device for a running guest: its slot and alias among the guest's, its backend objects and
    ``device_add`` properties, and the directories its backend needs (made by the caller)."""
    assert dom.devices is not None
    cells = numa_cells(dom)
    if dom.max_memory is None or not cells:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "cannot use/hotplug a memory device when domain 'maxMemory' is not defined")  # fmt: skip
    existing = dom.devices.memories
    if mem.model in ("dimm", "nvdimm"):
        used = sum(1 for m in existing if m.model in ("dimm", "nvdimm"))
        if used + 1 > (dom.max_memory.slots or 0):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    f"no free memory device slot available (maxMemory slots {dom.max_memory.slots})")  # fmt: skip
    size = mem.target_size.kib if mem.target_size is not None else 0
    current = sum(_align_mib(c.memory_kib) for c in cells) + sum(m.target_size.kib for m in existing if m.target_size)
    if current + size > dom.max_memory.kib:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Attaching memory device with size '{size}' would "
                                f"exceed domain's maxMemory config size '{dom.max_memory.kib}'")  # fmt: skip
    dom.devices.memories = [*existing, mem]
    try:
        assign_memory_devices(dom)
    finally:
        dom.devices.memories = existing
    short_name = f"{domain_id}-{(dom.name or '')[:20]}"
    backends = _Backends(dom, mounts, short_name, host_nodes if host_nodes is not None else host_numa_nodes(),
                         backing_dir)  # fmt: skip
    return _memory_device(backends, mem), backends.dirs


def prepare_hugepage_dirs(dirs: list[str], uid: int, gid: int) -> None:
    """Make the guest's directories on the hugetlbfs mounts, owned by QEMU's user."""
    for path in dirs:
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chown(path, uid, gid)


def remove_hugepage_dirs(dirs: list[str]) -> None:
    """Remove the guest's own directories (named ``ID-NAME``) on hugetlbfs mounts and under the backing dir."""
    for path in dirs:
        if re.fullmatch(r"-?\d+-.+", os.path.basename(path)):
            shutil.rmtree(path, ignore_errors=True)
