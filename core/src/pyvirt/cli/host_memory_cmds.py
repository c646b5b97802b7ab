"""``pyvirsh nodememstats``, ``allocpages``, ``node-memory-tune``: the host's memory, as virsh 9.0.

Each follows its ``cmdXxx`` in libvirt 9.0's tools/virsh-host.c: options read in
virsh's order with its number parsers (so a malformed value fails with the same
words), the same API calls (nodememstats and node-memory-tune ask the count
first, then the values; allocpages --all walks the capabilities' NUMA cells)
and the same printf layouts, so scripts that parse virsh's output read these.
"""

from __future__ import annotations

import re

import pyvirt
from pyvirt.cli.framework import CommandError, Opt, Session, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_UINT_MAX = 2**32 - 1
_ULLONG_MAX = 2**64 - 1
_C_SPACE = " \t\n\v\f\r"
_SCALES = "kmgtpe"
_ALLOC_PAGES_ADD = 0  # VIR_NODE_ALLOC_PAGES_ADD
_ALLOC_PAGES_SET = 1  # VIR_NODE_ALLOC_PAGES_SET
_UINT = 2  # VIR_TYPED_PARAM_UINT


def _malformed(raw: str, name: str) -> CommandError:
    return CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")


def _opt_int(o: dict[str, Any], name: str) -> int | None:
    """vshCommandOptInt: strtol's base-10 syntax over the whole value, within a C int; None when absent."""
    raw = o[name]
    if raw is None:
        return None
    match = re.fullmatch(f"[{_C_SPACE}]*([+-]?[0-9]+)", raw)
    if match is None or not _INT_MIN <= int(match[1]) <= _INT_MAX:
        raise _malformed(raw, name)
    return int(match[1])


def _opt_unsigned(o: dict[str, Any], name: str, maximum: int) -> int | None:
    """vshCommandOptUInt / vshCommandOptULongLong: virStrToLong_uip / _ullp, which refuse a minus sign."""
    raw = o[name]
    if raw is None:
        return None
    match = re.fullmatch(f"[{_C_SPACE}]*\\+?([0-9]+)", raw)
    if match is None or int(match[1]) > maximum:
        raise _malformed(raw, name)
    return int(match[1])


def _opt_scaled(o: dict[str, Any], name: str, scale: int, maximum: int) -> int:
    """vshCommandOptScaledInt: virStrToLong_ullp, then virScaleInteger's unit (none: ``scale``) and maximum."""
    raw = o[name]
    first = f"Scaled numeric value '{raw}' for <{name}> option is malformed or out of range"
    match = re.fullmatch(f"[{_C_SPACE}]*\\+?([0-9]+)(.*)", raw, re.DOTALL)
    if match is None or int(match[1]) > _ULLONG_MAX:
        raise CommandError(first)
    value, suffix = int(match[1]), match[2]
    if not suffix:
        factor = scale
    elif suffix.lower() in ("b", "byte", "bytes"):
        factor = 1
    elif suffix[0].lower() in _SCALES and (len(suffix) == 1 or suffix[1:].lower() in ("ib", "b")):
        base = 1000 if suffix[1:].lower() == "b" else 1024
        factor = base ** (_SCALES.index(suffix[0].lower()) + 1)
    else:
        raise CommandError(first, f"invalid argument: unknown suffix '{suffix}'")
    if value and value > maximum // factor:
        raise CommandError(first, f"numerical overflow: value too large: {value}{suffix}")
    return value * factor


@command("nodememstats", "Prints memory stats of the node.",
         Opt("cell", "prints specified cell statistics only.", positional=True, kind="intstring"),
         description="Returns memory stats of the node, in kilobytes.")  # fmt: skip
def cmd_nodememstats(s: Session, o: dict[str, Any]) -> None:
    """cmdNodeMemStats: the count, then every figure as ``%-7s: %20llu KiB``."""
    cell = _opt_int(o, "cell")
    cell_num = -1 if cell is None else cell  # VIR_NODE_MEMORY_STATS_ALL_CELLS
    try:
        count = len(s.conn.get_memory_stats(cell_num, 0))
    except pyvirt.Error as exc:
        raise CommandError("Unable to get number of memory stats", exc.message) from None
    if count == 0:
        return  # nothing to output
    try:
        stats = s.conn.get_memory_stats(cell_num, 0)[:count]
    except pyvirt.Error as exc:
        raise CommandError("Unable to get memory stats", exc.message) from None
    for field, value in stats:
        s.out(f"{field:<7}: {value:20} KiB")


@command("allocpages", "Manipulate pages pool size",
         Opt("pagesize", "page size (in kibibytes)", required=True, positional=True, kind="intstring"),
         Opt("pagecount", "page count", required=True, positional=True, kind="intstring"),
         Opt("cellno", "NUMA cell number", positional=True, kind="intstring"),
         Opt("add", "instead of setting new pool size add pages to it", flag=True),
         Opt("all", "set on all NUMA cells", flag=True),
         description="Allocate or free some pages in the pool for NUMA cell.")  # fmt: skip
def cmd_allocpages(s: Session, o: dict[str, Any]) -> None:
    """cmdAllocpages: one pool (the host's, or a cell's with --cellno) or, with --all, each cell's in turn."""
    if o["all"] and o["cellno"] is not None:
        raise CommandError("Options --all and --cellno are mutually exclusive")
    start_cell = -1
    if o["cellno"] is not None:
        found = _opt_int(o, "cellno")
        assert found is not None
        start_cell = found
    page_kib = -(-_opt_scaled(o, "pagesize", 1024, _UINT_MAX * 1024) // 1024)  # VIR_DIV_UP(bytes, 1024)
    count = _opt_unsigned(o, "pagecount", _ULLONG_MAX)
    assert count is not None
    flags = _ALLOC_PAGES_ADD if o["add"] else _ALLOC_PAGES_SET
    if not o["all"]:
        s.conn.alloc_pages({page_kib: count}, start_cell, 1, flags)
        return
    from pyvirt.conf.xmlparse import parse_xml

    try:
        caps = s.conn.get_capabilities()
    except pyvirt.Error as exc:
        raise CommandError("unable to get node capabilities", exc.message) from None
    root = parse_xml(caps, "capabilities", "(capabilities)")
    for node in root.iterfind("host/topology/cells/cell"):
        match = re.fullmatch(f"[{_C_SPACE}]*\\+?([0-9]+)", node.get("id") or "")  # virStrToLong_ulp
        if match is None:
            raise CommandError("conversion from string failed")
        s.conn.alloc_pages({page_kib: count}, int(match[1]), 1, flags)


_SHM_OPTIONS = (
    ("shm-pages-to-scan", "shm_pages_to_scan"),
    ("shm-sleep-millisecs", "shm_sleep_millisecs"),
    ("shm-merge-across-nodes", "shm_merge_across_nodes"),
)


@command("node-memory-tune", "Get or set node memory parameters",
         Opt("shm-pages-to-scan", "number of pages to scan before the shared memory service goes to sleep",
             positional=True, kind="intstring"),
         Opt("shm-sleep-millisecs", "number of millisecs the shared memory service should sleep before next scan",
             positional=True, kind="intstring"),
         Opt("shm-merge-across-nodes", "Specifies if pages from different numa nodes can be merged",
             positional=True, kind="intstring"),
         description="Get or set node memory parameters\n    To get the memory parameters, use following command: "
                     "\n\n    virsh # node-memory-tune")  # fmt: skip
def cmd_node_memory_tune(s: Session, o: dict[str, Any]) -> None:
    """cmdNodeMemoryTune: with no option the KSM parameters (count first, then values), else a set of them."""
    from pyvirt.plugin.typed_params import format_typed_value, typed_param

    params = []
    for option, field in _SHM_OPTIONS:
        value = _opt_unsigned(o, option, _UINT_MAX)
        if value is not None:
            params.append(typed_param(field, _UINT, value))
    if params:
        try:
            s.conn.set_memory_parameters(params, 0)
        except pyvirt.Error as exc:
            raise CommandError("Unable to change memory parameters", exc.message) from None
        return
    try:
        count = len(s.conn.get_memory_parameters(0))
    except pyvirt.Error as exc:
        raise CommandError("Unable to get number of memory parameters", exc.message) from None
    if count == 0:
        return
    try:
        got = s.conn.get_memory_parameters(0)[:count]
    except pyvirt.Error as exc:
        raise CommandError("Unable to get memory parameters", exc.message) from None
    s.out("Shared memory:")
    for p in got:
        s.out(f"\t{p.field:<15} {format_typed_value(p)}")
