"""``pyvirsh maxvcpus``, ``freecell``, ``freepages``, ``nodecpustats``, ``cpu-models``, ``sysinfo``, as virsh 9.0.

Each follows its ``cmdXxx`` in libvirt 9.0's tools/virsh-host.c: the same
calls in the same order (``maxvcpus`` asks the domain capabilities first,
``freecell --all`` walks the capabilities' NUMA cells), the same checks
before them and the same printf layouts, so scripts that parse virsh's output
read pyvirsh's unchanged.
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


def _opt_int(o: dict[str, Any], name: str) -> int | None:
    """vshCommandOptInt: None when absent; strtol's base-10 syntax over the whole value, within a C int."""
    raw = o[name]
    if raw is None:
        return None
    text = raw.lstrip(" \t\n\v\f\r")  # strtol skips leading white space, nothing else
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not digits.isascii() or not digits.isdigit() or not _INT_MIN <= int(text) <= _INT_MAX:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return int(text)


@command("maxvcpus", "connection vcpu maximum",
         Opt("type", "domain type", positional=True, kind="optstring"),
         description="Show maximum number of virtual CPUs for guests on this connection.")  # fmt: skip
def cmd_maxvcpus(s: Session, o: dict[str, Any]) -> None:
    """cmdMaxvcpus: the domain capabilities' ``<vcpu max>`` where the driver has them, else virConnectGetMaxVcpus."""
    kind = o["type"]
    if kind == "":
        raise CommandError("Failed to get option 'type': Option argument is empty")
    vcpus = -1
    try:
        caps = s.conn.get_domain_capabilities(None, None, None, kind)
    except pyvirt.Error:
        caps = None  # virsh resets the error and falls back
    if caps is not None:
        from pyvirt.conf.xmlparse import parse_xml

        root = parse_xml(caps, "domainCapabilities", "(domainCapabilities)")
        found = root.find("vcpu")
        text = (found.get("max") if found is not None else None) or ""
        # virXPathInt on a missing or malformed attribute leaves the value at -1
        if text.strip().lstrip("+-").isdigit():
            vcpus = int(text)
    if vcpus < 0:
        vcpus = s.conn.get_max_vcpus(kind)
    s.out(str(vcpus))


@command("freecell", "NUMA free memory",
         Opt("cellno", "NUMA cell number", positional=True, kind="intstring"),
         Opt("all", "show free memory for all NUMA cells", flag=True),
         description="display available free memory for the NUMA cell.")  # fmt: skip
def cmd_freecell(s: Session, o: dict[str, Any]) -> None:
    """cmdFreecell: one cell, the total, or every cell of the capabilities with a total."""
    if o["all"] and o["cellno"] is not None:
        raise CommandError("Options --all and --cellno are mutually exclusive")
    cell = _opt_int(o, "cellno")
    if not o["all"]:
        if cell is not None:
            memory = s.conn.get_cells_free_memory(cell, 1)
            if len(memory) != 1:
                raise CommandError("An error occurred, but the cause is unknown")
            s.out(f"{cell}: {memory[0] // 1024} KiB")
            return
        s.out(f"Total: {s.conn.get_free_memory() // 1024} KiB")
        return
    cells = _numa_cell_ids(s)
    free = []
    for cell_id in cells:
        try:
            got = s.conn.get_cells_free_memory(cell_id, 1)
        except pyvirt.Error as exc:
            raise CommandError(f"failed to get free memory for NUMA node number: {cell_id}", exc.message) from None
        if len(got) != 1:
            raise CommandError(f"failed to get free memory for NUMA node number: {cell_id}")
        free.append(got[0])
    for cell_id, value in zip(cells, free, strict=True):
        s.out(f"{cell_id:5}: {value // 1024:10} KiB")
    s.out("--------------------")
    s.out(f"{'Total':>5}: {sum(free) // 1024:10} KiB")


def _numa_cell_ids(s: Session) -> list[int]:
    """The ids of /capabilities/host/topology/cells/cell, as cmdFreecell reads them (virStrToLong_ulp)."""
    from pyvirt.conf.xmlparse import parse_xml

    try:
        xml = s.conn.get_capabilities()
    except pyvirt.Error as exc:
        raise CommandError("unable to get node capabilities", exc.message) from None
    root = parse_xml(xml, "capabilities", "(capabilities)")
    ids = []
    for node in root.iterfind("host/topology/cells/cell"):
        text = node.get("id") or ""
        if not text.isascii() or not text.isdigit():
            raise CommandError("conversion from string failed")
        ids.append(int(text))
    return ids


# virshCPUStats: libvirt's field names in virsh's order, and the labels virsh prints
_CPU_FIELDS = (("user", "user:"), ("kernel", "system:"), ("idle", "idle:"), ("iowait", "iowait:"), ("intr", "intr:"))
_UTILIZATION = "utilization"
_ULLONG = 2**64


def _c_percent(part: int, total: float) -> str:
    """printf's ``%5.1lf`` of part / total * 100.

    A total of 0 (counters that did not move, as the test driver's fixed ones) makes every share
    0.0/0.0, which x86 computes as a NaN with its sign bit set: glibc prints ``-nan``, and so does virsh.
    """
    if total == 0:
        return " -nan"
    return f"{part / total * 100:5.1f}"


@command("nodecpustats", "Prints cpu stats of the node.",
         Opt("cpu", "prints specified cpu statistics only.", positional=True, kind="intstring"),
         Opt("percent", "prints by percentage during 1 second.", flag=True),
         description="Returns cpu stats of the node, in nanoseconds.")  # fmt: skip
def cmd_nodecpustats(s: Session, o: dict[str, Any]) -> None:
    """cmdNodeCpuStats: the counters, or with --percent their change over one second as shares of the total."""
    cpu = _opt_int(o, "cpu")
    cpu_num = -1 if cpu is None else cpu
    try:
        count = len(s.conn.get_cpu_stats(cpu_num, 0))
    except pyvirt.Error as exc:
        raise CommandError("Unable to get number of cpu stats", exc.message) from None
    if count == 0:
        return  # nothing to output
    stats: dict[str, int] = {}
    for round_ in range(2):
        try:
            params = s.conn.get_cpu_stats(cpu_num, 0)[:count]
        except pyvirt.Error as exc:
            raise CommandError("Unable to get node cpu stats", exc.message) from None
        for field, value in params:
            if field not in (*(f for f, _ in _CPU_FIELDS), _UTILIZATION):
                continue
            if round_ == 0:
                stats[field] = value
            elif field in stats:
                stats[field] = (value - stats[field]) % _ULLONG  # unsigned long long arithmetic
        if _UTILIZATION in stats or not o["percent"]:
            break
        import time

        time.sleep(1)
    if not o["percent"]:
        for field, label in _CPU_FIELDS:
            if field in stats:
                s.out(f"{label:<15} {stats[field]:20}")
        return
    if _UTILIZATION in stats:
        usage = stats[_UTILIZATION]
        # "%5.1llu": the precision of an integer conversion is its minimum digit count
        s.out(f"{'usage:':<15} {usage:5}%")
        s.out(f"{'idle:':<15} {(100 - usage) % _ULLONG:5}%")
        return
    total = float(sum(stats.get(f, 0) for f, _ in _CPU_FIELDS))
    s.out(f"{'usage:':<15} {_c_percent(stats.get('user', 0) + stats.get('kernel', 0), total)}%")
    for field, label in _CPU_FIELDS:
        if field in stats:
            s.out(f"{label:<15} {_c_percent(stats[field], total)}%")


_UINT_MAX = 2**32 - 1
_SCALES = "kmgtpe"


def _opt_scaled_kib(o: dict[str, Any], name: str) -> int:
    """vshCommandOptScaledInt(..., 1024, UINT_MAX) then VIR_DIV_UP(bytes, 1024): 0 when absent.

    virStrToLong_ullp (leading white space, no minus) for the digits, then virScaleInteger
    for the suffix: none is KiB, ``b``/``byte``/``bytes`` bytes, ``k``..``e`` with ``iB`` or
    nothing 1024-based and with ``B`` 1000-based.
    """
    raw = o[name]
    if raw is None:
        return 0
    first = f"Scaled numeric value '{raw}' for <{name}> option is malformed or out of range"
    match = re.fullmatch(r"[ \t\n\v\f\r]*\+?(\d+)(.*)", raw, re.DOTALL)
    if match is None or int(match[1]) >= 2**64:
        raise CommandError(first)
    value, suffix = int(match[1]), match[2]
    if not suffix:
        scale = 1024
    elif suffix.lower() in ("b", "byte", "bytes"):
        scale = 1
    elif suffix[0].lower() in _SCALES and (len(suffix) == 1 or suffix[1:].lower() in ("ib", "b")):
        base = 1000 if suffix[1:].lower() == "b" else 1024
        scale = base ** (_SCALES.index(suffix[0].lower()) + 1)
    else:
        raise CommandError(first, f"invalid argument: unknown suffix '{suffix}'")
    if value and value > _UINT_MAX // scale:
        raise CommandError(first, f"numerical overflow: value too large: {value}{suffix}")
    return -(-value * scale // 1024)


@command("freepages", "NUMA free pages",
         Opt("cellno", "NUMA cell number", positional=True, kind="intstring"),
         Opt("pagesize", "page size (in kibibytes)", positional=True, kind="intstring"),
         Opt("all", "show free pages for all NUMA cells", flag=True),
         description="display available free pages for the NUMA cell.")  # fmt: skip
def cmd_freepages(s: Session, o: dict[str, Any]) -> None:
    """cmdFreepages: one cell and one size, or every cell of the capabilities with every size they list."""
    if o["all"] and o["cellno"] is not None:
        raise CommandError("Options --all and --cellno are mutually exclusive")
    kib = _opt_scaled_kib(o, "pagesize")
    if not o["all"]:
        if o["cellno"] is None:
            raise CommandError("missing cellno argument")
        cell = _opt_int(o, "cellno")
        assert cell is not None
        if cell < -1:
            raise CommandError("cell number must be non-negative integer or -1")
        if o["pagesize"] is None:
            raise CommandError("missing pagesize argument")
        counts = s.conn.get_free_pages([kib], cell, 1)
        s.out(f"{kib}KiB: {_lld(counts[0])}")
        return
    from pyvirt.conf.xmlparse import parse_xml

    try:
        xml = s.conn.get_capabilities()
    except pyvirt.Error as exc:
        raise CommandError("unable to get node capabilities", exc.message) from None
    root = parse_xml(xml, "capabilities", "capabilities")
    if o["pagesize"] is None:
        nodes = root.findall("host/cpu/pages") or root.findall("host/topology/cells/cell/pages")
        if not nodes:
            raise CommandError("could not get information about supported page sizes")
        sizes = []
        for node in nodes:
            val = node.get("size")
            text = (val or "").lstrip(" \t\n\v\f\r")
            if not text.isascii() or not text.isdigit() or int(text) > _UINT_MAX:
                raise CommandError(f"unable to parse page size: {val if val is not None else '(null)'}")
            sizes.append(int(text))
        pages = sorted(set(sizes))
    else:
        pages = [kib]
    for node in root.iterfind("host/topology/cells/cell"):
        val = node.get("id")
        try:
            cell = _c_int(val or "")
        except ValueError:
            raise CommandError(f"unable to parse numa node id: {val if val is not None else '(null)'}") from None
        counts = s.conn.get_free_pages(pages, cell, 1)
        s.out(f"Node {cell}:")
        for size, count in zip(pages, counts, strict=False):
            s.out(f"{size}KiB: {_lld(count)}")
        s.out()


def _c_int(text: str) -> int:
    """virStrToLong_i: strtol's base-10 syntax over the whole text, within a C int."""
    body = text.lstrip(" \t\n\v\f\r")
    digits = body[1:] if body[:1] in ("+", "-") else body
    if not digits or not digits.isascii() or not digits.isdigit() or not _INT_MIN <= int(body) <= _INT_MAX:
        raise ValueError(text)
    return int(body)


def _lld(count: int) -> int:
    """An unsigned long long printed with ``%lld``, as virsh prints free page counts."""
    return count - 2**64 if count >= 2**63 else count


@command("cpu-models", "CPU models",
         Opt("arch", "architecture", required=True, positional=True),
         description="Get the CPU models for an arch.")  # fmt: skip
def cmd_cpu_models(s: Session, o: dict[str, Any]) -> None:
    """cmdCPUModelNames: one name a line, or that any model is accepted."""
    arch = o["arch"]
    if arch == "":
        raise CommandError("Failed to get option 'arch': Option argument is empty")
    try:
        models = s.conn.get_cpu_model_names(arch, 0)
    except pyvirt.Error as exc:
        raise CommandError("failed to get CPU model names", exc.message) from None
    if not models:
        s.extra("all CPU models are accepted")
    for name in models:
        s.out(name)


@command("sysinfo", "print the hypervisor sysinfo",
         description="output an XML string for the hypervisor sysinfo, if available")  # fmt: skip
def cmd_sysinfo(s: Session, o: dict[str, Any]) -> None:
    """cmdSysinfo: the document as the driver gives it (it ends with its own newline)."""
    try:
        text = s.conn.get_sysinfo(0)
    except pyvirt.Error as exc:
        raise CommandError("failed to get sysinfo", exc.message) from None
    s.out_raw(text)
