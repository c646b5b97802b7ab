"""The host's memory as libvirt reads and tunes it: statistics, huge page pools and KSM.

libvirt's QEMU and LXC drivers answer virNodeGetMemoryStats, virNodeAllocPages and
virNodeGet/SetMemoryParameters with the same helpers (src/util/virhostmem.c and
virnuma.c), so both plugins here call this one module. Every function reads or
writes the kernel's files directly: ``/proc/meminfo`` and
``/sys/devices/system/node/nodeN/meminfo`` for statistics, the ``nr_hugepages``
files for page pools, ``/sys/kernel/mm/ksm`` for KSM. ``root`` prefixes every path,
so a test can point a call at a made-up tree (several NUMA nodes, a kernel without
KSM) while the drivers use the real one.
"""

from __future__ import annotations

import errno
import os
import re

from pyvirt.errors import (
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
)
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.typed_params import STRING_OKAY, TypedParam, TypedParamType, check_typed_params

__all__ = [
    "MEMORY_STATS_ALL_CELLS",
    "alloc_pages",
    "memory_parameters",
    "memory_stats",
    "numa_max_node",
    "set_memory_parameters",
]

MEMORY_STATS_ALL_CELLS = -1  # VIR_NODE_MEMORY_STATS_ALL_CELLS

_MEMINFO = "/proc/meminfo"
_NODES = "/sys/devices/system/node"
_HUGEPAGES = "/sys/kernel/mm/hugepages"
_KSM = "/sys/kernel/mm/ksm"

# virHostMemGetStatsLinux's field_conv: the meminfo lines read and the names libvirt gives them
_STATS_FIELDS = {"MemTotal:": "total", "MemFree:": "free", "Buffers:": "buffers", "Cached:": "cached"}
_STATS_ALL_CELLS = 4  # LINUX_NB_MEMORY_STATS_ALL
_STATS_CELL = 2  # LINUX_NB_MEMORY_STATS_CELL: a node's meminfo has no Buffers/Cached lines libvirt matches

# virHostMemGetParameters' eight parameters in its order: the KSM file each is read from, and its type
_KSM_PARAMETERS = (
    ("shm_pages_to_scan", "pages_to_scan", TypedParamType.UINT),
    ("shm_sleep_millisecs", "sleep_millisecs", TypedParamType.UINT),
    ("shm_pages_shared", "pages_shared", TypedParamType.ULLONG),
    ("shm_pages_sharing", "pages_sharing", TypedParamType.ULLONG),
    ("shm_pages_unshared", "pages_unshared", TypedParamType.ULLONG),
    ("shm_pages_volatile", "pages_volatile", TypedParamType.ULLONG),
    ("shm_full_scans", "full_scans", TypedParamType.ULLONG),
    ("shm_merge_across_nodes", "merge_across_nodes", TypedParamType.UINT),
)
# virHostMemSetParameters' virTypedParamsValidate list: only the tunables, never the counters
_KSM_SETTABLE = {
    "shm_pages_to_scan": TypedParamType.UINT,
    "shm_sleep_millisecs": TypedParamType.UINT,
    "shm_merge_across_nodes": TypedParamType.UINT,
}
_UINT_MAX = 2**32 - 1
_ULLONG_MAX = 2**64 - 1


def numa_available(root: str = "") -> bool:
    """virNumaIsAvailable: libnuma answers when the kernel has NUMA sysfs."""
    return os.path.isdir(root + _NODES)


def numa_max_node(root: str = "") -> int:
    """virNumaGetMaxNode (libnuma's numa_max_node): the highest ``nodeN`` directory, 0 without NUMA sysfs."""
    try:
        names = os.listdir(root + _NODES)
    except OSError:
        return 0
    nodes = [int(m.group(1)) for n in names if (m := re.fullmatch(r"node(\d+)", n))]
    return max(nodes, default=0)


def memory_stats(cell_num: int, flags: int = 0, root: str = "") -> list[tuple[str, int]]:
    """virHostMemGetStats: ``(field, KiB)`` pairs of the whole host (cell -1) or of one NUMA cell.

    The host gives total, free, buffers and cached (``/proc/meminfo``); a cell gives
    total and free (its node's meminfo, whose lines start "Node N "). libvirt reads
    a host without NUMA as one cell 0, so cell 0 there is the whole host.

    :raises InvalidArgumentError: a cell past the host's last.
    :raises SystemCallError: the file cannot be opened.
    :raises InternalError: no line libvirt reads was found.
    """
    check_flags(flags, 0, "virHostMemGetStats")
    if not numa_available(root) and cell_num == 0:
        cell_num = MEMORY_STATS_ALL_CELLS
    if cell_num == MEMORY_STATS_ALL_CELLS:
        path, wanted = root + _MEMINFO, _STATS_ALL_CELLS
    else:
        max_node = numa_max_node(root)
        if cell_num > max_node:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                f"cellNum in virHostMemGetStats must be less than or equal to {max_node}",
                verbatim=True,
            )
        path, wanted = f"{root}{_NODES}/node{cell_num}/meminfo", _STATS_CELL
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot open {path}") from None
    found: list[tuple[str, int]] = []
    for whole in lines:
        line = whole
        if whole.startswith("Node "):  # a node's meminfo: "Node 0 MemTotal:  8386980 kB"
            parts = whole.split(" ", 2)
            if len(parts) < 3:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "no prefix found")
            line = parts[2]
        # sscanf("%80s %lu kB"): a header word, then a number followed by "kB"
        m = re.match(r"\s*(\S+)\s+(\d+)\s*kB", line)
        if m is None or m.group(1) not in _STATS_FIELDS:
            continue
        found.append((_STATS_FIELDS[m.group(1)], int(m.group(2))))
        if len(found) >= wanted:
            break
    if not found:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "no available memory line found")
    return found


def _system_page_kib() -> int:
    return os.sysconf("SC_PAGE_SIZE") // 1024


def _read_count(path: str) -> int:
    """virFileReadAll then virStrToLong_ull: a number, then the kernel's newline.

    libvirt requires the newline; a number alone is taken here too, so that a test's plain file
    (which reads back what was written, without the newline sysfs adds) stands for the kernel's.
    """
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(1024)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"Failed to open file '{path}'") from None
    m = re.fullmatch(r"\s*(\d+)\n?", text)
    if m is None:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"invalid number '{text}' in '{path}'")
    return int(m.group(1))


def _pool_path(node: int, page_kib: int, root: str) -> str:
    """virNumaGetHugePageInfoPath for ``nr_hugepages``: the host's pool (node -1) or one node's."""
    if node == -1:
        path = f"{root}{_HUGEPAGES}/hugepages-{page_kib}kB/nr_hugepages"
    else:
        path = f"{root}{_NODES}/node{node}/hugepages/hugepages-{page_kib}kB/nr_hugepages"
    if os.path.exists(path):
        return path
    if node == -1:
        message = f"page size {page_kib} is not available"
    elif not os.path.isdir(f"{root}{_NODES}/node{node}"):  # virNumaNodeIsAvailable
        message = f"NUMA node {node} is not available"
    else:
        message = f"page size {page_kib} is not available on node {node}"
    raise OperationFailedError(ErrorCode.OPERATION_FAILED, message)


def _set_pool_size(node: int, page_kib: int, count: int, add: bool, root: str) -> None:
    """virNumaSetPagePoolSize: write the new pool size, then read it back to see what the kernel managed."""
    if page_kib == _system_page_kib():
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "system pages pool can't be modified")
    path = _pool_path(node, page_kib, root)
    current = _read_count(path)
    if add:
        if not count:
            return
        count += current
    elif current == count:
        return
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(str(count))
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"Unable to write to: {path}") from None
    allocated = _read_count(path)
    if allocated != count:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"Unable to allocate {count} pages. Allocated only {allocated}"
        )


def alloc_pages(
    page_sizes: list[int], counts: list[int], start_cell: int, cell_count: int, add: bool, root: str = ""
) -> int:
    """virHostMemAllocPages: set (or grow by) each page size's pool on ``cell_count`` cells from ``start_cell``.

    Cell -1 is the host's pool under /sys/kernel/mm/hugepages; so is cell 0 of a host
    without NUMA. The drivers pass the last cell of their capabilities as libvirt's do.

    :returns: how many (cell, size) pools were adjusted.
    :raises InternalError: ``start_cell`` past the last cell.
    :raises OperationFailedError: a size or cell the host lacks, or the kernel gave fewer pages.
    :raises NotSupportedError: the system page size (its pool is not the kernel's to resize).
    """
    last_cell = numa_max_node(root)
    if not numa_available(root) and last_cell == 0 and start_cell == 0 and cell_count == 1:
        start_cell = -1
    if start_cell > last_cell:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"start cell {start_cell} out of range (0-{last_cell})")
    last_cell = min(last_cell, start_cell + cell_count - 1)
    done = 0
    for cell in range(start_cell, last_cell + 1):
        for size, count in zip(page_sizes, counts, strict=True):
            _set_pool_size(cell, size, count, add, root)
            done += 1
    return done


def memory_parameters(flags: int = 0, root: str = "") -> list[TypedParam]:
    """virHostMemGetParameters: KSM's tunables and counters, in libvirt's order.

    A file this kernel lacks leaves its parameter out, as libvirt leaves the slot
    empty (its RPC layer then sends nothing for it).

    :raises InternalError: a file that does not hold the number libvirt expects.
    """
    check_flags(flags, STRING_OKAY, "virHostMemGetParameters")
    params: list[TypedParam] = []
    for field, name, kind in _KSM_PARAMETERS:
        path = f"{root}{_KSM}/{name}"
        if not os.path.exists(path):
            continue
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                text = f.read(1024).split("\n", 1)[0]
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to open file '{path}'") from None
        m = re.fullmatch(r"\s*(\d+)", text)
        limit = _UINT_MAX if kind is TypedParamType.UINT else _ULLONG_MAX
        if m is None or int(m.group(1)) > limit:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"failed to parse {name}")
        params.append(TypedParam(field, kind, int(m.group(1))))
    return params


def set_memory_parameters(params: list[TypedParam], flags: int = 0, root: str = "") -> None:
    """virHostMemSetParameters: the KSM tunables written to their files, after all were checked.

    :raises InvalidArgumentError: a parameter libvirt does not set, or of another type.
    :raises OperationInvalidError: this kernel has no file for one of them.
    :raises SystemCallError: the kernel refused a value.
    """
    check_flags(flags, 0, "virHostMemSetParameters")
    check_typed_params(params, _KSM_SETTABLE)
    for p in params:
        if not os.path.exists(f"{root}{_KSM}/{p.field.partition('_')[2]}"):
            raise OperationInvalidError(
                ErrorCode.OPERATION_INVALID, f"Parameter '{p.field}' is not supported by this kernel"
            )
    for p in params:
        path = f"{root}{_KSM}/{p.field.partition('_')[2]}"
        try:
            with open(path, "w", encoding="ascii") as f:
                f.write(str(p.value))
        except OSError:
            # libvirt passes virFileWriteStr's -1 as the errno (virReportSystemError(-rc, ...)), so every
            # refusal reads "Operation not permitted" whatever the kernel said; the same words here
            raise SystemCallError(errno.EPERM, f"failed to set {p.field}") from None
