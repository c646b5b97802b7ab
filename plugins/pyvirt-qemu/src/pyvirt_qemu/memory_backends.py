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
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain
from pyvirt.conf.units import parse_scaled
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError

__all__ = [
    "HugetlbfsMount",
    "MemoryLayout",
    "NumaCell",
    "guest_hugepage_dirs",
    "host_numa_nodes",
    "hugetlbfs_mounts",
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


def hugetlbfs_mounts(configured: str | None = None) -> list[HugetlbfsMount]:
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
        paths = [p.strip().strip('"') for p in configured.strip("[]").split(",") if p.strip().strip('"')]
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


def _align_mib(kib: int) -> int:
    return (kib + 1023) // 1024 * 1024


@dataclass
class MemoryLayout:
    """What the command line needs: ``-m``, the machine's backend id, objects before and after ``-smp``."""

    mib: int
    machine_backend: str | None
    system_objects: list[str]
    mem_lock: bool
    numa_args: list[str]
    hugepage_dirs: list[str]


def _json(obj: dict[str, Any]) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))


class _Backends:
    def __init__(self, dom: Domain, mounts: list[HugetlbfsMount], short_name: str, host_nodes: set[int]) -> None:
        self.dom = dom
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
        raise OperationFailedError(ErrorCode.INTERNAL_ERROR,
                                   f"Unable to find any usable hugetlbfs mount for {size_kib} KiB")  # fmt: skip

    def _nodes(self, cell: int | None) -> tuple[list[int] | None, str | None]:
        nt = self.dom.numatune
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

    def backend(self, alias: str, cell: int | None, size_kib: int, system: bool) -> tuple[list[str], bool]:
        """``-object`` arguments for one backend, and whether it had to be explicit at all."""
        mb = self.mb
        cell_info = next((c for c in numa_cells(self.dom) if c.id == cell), None) if cell is not None else None
        access = (cell_info.mem_access if cell_info is not None else None) or (mb.access_mode if mb else None)
        discard = cell_info.discard if cell_info is not None and cell_info.discard is not None else (
            True if mb is not None and mb.discard else None)  # fmt: skip
        page = self._page_kib(cell)
        use_huge = page is not None and page != _SYSTEM_PAGE_KIB
        prealloc = use_huge or (mb is not None and mb.allocation_mode == "immediate")
        source = mb.source_type if mb is not None else None
        props: dict[str, Any] = {}
        if source == "memfd":
            kind = "memory-backend-memfd"
            if use_huge:
                mount = self._mount(page or 0)
                props.update(hugetlb=True, hugetlbsize=mount.size_kib * 1024)
            if access:
                props["share"] = access == "shared"
        elif use_huge or access or source == "file":
            kind = "memory-backend-file"
            if not use_huge:
                raise _unsupported("file-backed guest RAM without huge pages (memory_backing_dir)")
            mount = self._mount(page or 0)
            path = f"{mount.path}/libvirt/qemu/{self.short_name}"
            if path not in self.dirs:
                self.dirs.append(path)
            props["mem-path"] = path
            if discard is not None:
                props["discard-data"] = discard
            if access:
                props["share"] = access == "shared"
        else:
            kind = "memory-backend-ram"
        if system and kind != "memory-backend-ram":
            props["x-use-canonical-path-for-ramblock-id"] = False
        if prealloc:
            props["prealloc"] = True
        if mb is not None and mb.allocation_threads:
            props["prealloc-threads"] = mb.allocation_threads
        props["size"] = size_kib * 1024
        nodes, policy = self._nodes(cell)
        out: list[str] = []
        if nodes is not None:
            props.update({"host-nodes": nodes, "policy": policy})
            if prealloc:
                # QEMU 7.2 preallocates with threads pinned to the memory's nodes
                out += ["-object", _json({"qom-type": "thread-context", "id": f"tc-{alias}", "node-affinity": nodes})]
                props["prealloc-context"] = f"tc-{alias}"
        out += ["-object", _json({"qom-type": kind, "id": alias, **props})]
        explicit = kind != "memory-backend-ram" or nodes is not None or page is not None
        return out, explicit


def _cpus_args(cpus: str) -> list[str]:
    return [f"cpus={part}" for part in cpus.split(",") if part]


def memory_layout(dom: Domain, memory_kib: int, machine_backend: str, mounts: list[HugetlbfsMount],
                  domain_id: int = -1, host_nodes: set[int] | None = None) -> MemoryLayout:  # fmt: skip
    """Everything about guest RAM on the command line (see the module docstring)."""
    short_name = f"{domain_id}-{(dom.name or '')[:20]}"
    backends = _Backends(dom, mounts, short_name, host_nodes if host_nodes is not None else host_numa_nodes())
    mb = dom.memory_backing
    if mb is not None and (mb.nosharepages or (mb.source_type not in (None, "anonymous", "memfd", "file"))):
        raise _unsupported("<memoryBacking><nosharepages/> or that <source>")
    lock = bool(mb is not None and mb.locked)
    cells = numa_cells(dom)
    if not cells:
        objects, _ = backends.backend(machine_backend, None, memory_kib, True)
        return MemoryLayout(memory_kib // 1024, machine_backend, objects, lock, [], backends.dirs)
    numa: list[str] = []
    total = 0
    for cell in cells:
        size = _align_mib(cell.memory_kib)
        total += size
        objects, _ = backends.backend(f"ram-node{cell.id}", cell.id, size, False)
        numa += objects
        numa += ["-numa", ",".join([f"node,nodeid={cell.id}", *_cpus_args(cell.cpus), f"memdev=ram-node{cell.id}"])]
    return MemoryLayout(total // 1024, None, [], lock, numa, backends.dirs)


def guest_hugepage_dirs(dom: Domain, mounts: list[HugetlbfsMount], domain_id: int) -> list[str]:
    """The per-guest directories the command line will point QEMU at."""
    return memory_layout(dom, (dom.memory.kib if dom.memory else 0), "pc.ram", mounts, domain_id).hugepage_dirs


def prepare_hugepage_dirs(dirs: list[str], uid: int, gid: int) -> None:
    """Make the guest's directories on the hugetlbfs mounts, owned by QEMU's user."""
    for path in dirs:
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chown(path, uid, gid)


def remove_hugepage_dirs(dirs: list[str]) -> None:
    for path in dirs:
        if re.search(r"/libvirt/qemu/[^/]+$", path):  # only ever the guest's own directory
            shutil.rmtree(path, ignore_errors=True)
