"""vcpucount, vcpuinfo, nodecpumap, dommemstat, domblkstat, domifstat, domblkinfo: virsh 9.0's output, line for line.

The APIs are those virsh calls, and where virsh falls back (a driver without
virDomainGetVcpusFlags: the domain's info and XML; a domain that is not
running: vcpuinfo's pinning from the persistent definition) so does this.
Host CPU maps are sized by virNodeGetCPUMap's count, falling back to the
node info, as virsh sizes them.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.flags import DomainModificationImpact, DomainVcpuFlags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

LIVE, CONFIG = DomainModificationImpact.LIVE, DomainModificationImpact.CONFIG
MAXIMUM, GUEST = DomainVcpuFlags.MAXIMUM, DomainVcpuFlags.GUEST
MEMORY_STAT_NR = 13  # VIR_DOMAIN_MEMORY_STAT_NR of libvirt 9.0: what virsh asks for
# virDomainMemoryStatTags -> virsh's name, in the order cmdDomMemStat tests them
_MEMORY_STAT_NAMES = {0: "swap_in", 1: "swap_out", 2: "major_fault", 3: "minor_fault", 4: "unused", 5: "available",
                      8: "usable", 6: "actual", 7: "rss", 9: "last_update", 10: "disk_caches",
                      11: "hugetlb_pgalloc", 12: "hugetlb_pgfail"}  # fmt: skip
_VCPU_STATES = ("offline", "running", "blocked")  # virshDomainVcpuState
_SHUTOFF = 5  # VIR_DOMAIN_SHUTOFF

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)


def _exclusive(o: dict[str, Any], *pairs: tuple[str, str]) -> None:
    for a, b in pairs:
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")


# ---------------------------------------------------------------- vcpucount
def _count(dom: Domain, flags: int, check_state: bool) -> int | None:
    """virshCPUCountCollect: the count, None where virsh skips it (-1); a failure is a CommandError (-2)."""
    if check_state and ((flags & LIVE and not dom.is_active()) or (flags & CONFIG and not dom.is_persistent())):
        return None
    try:
        return dom.vcpus_count(flags)
    except Error as exc:
        if exc.code not in (ErrorCode.NO_SUPPORT, ErrorCode.INVALID_ARG):
            raise CommandError(exc.message) from None
        if flags & GUEST:  # virsh's line, then the library's error it kept
            raise CommandError("Failed to retrieve vCPU count from the guest", exc.message) from None
    # the driver has no virDomainGetVcpusFlags (or refused the flags): virsh's fallback to the info and the XML
    if not flags & (LIVE | CONFIG) and dom.is_active():
        flags |= LIVE
    try:
        if flags & LIVE:
            if flags & MAXIMUM:
                return _xml_vcpus(dom, 0, True)
            return dom.info().vcpus
        return _xml_vcpus(dom, _XML_INACTIVE, bool(flags & MAXIMUM))
    except Error as exc:
        raise CommandError(exc.message) from None


def _xml_vcpus(dom: Domain, xml_flags: int, maximum: bool) -> int:
    import re

    text = dom.xml_desc(xml_flags)
    found = re.search(r"<vcpu\b([^>]*)>\s*(\d+)\s*</vcpu>", text)
    if found is None:
        raise CommandError(f"Failed to retrieve {'maximum' if maximum else 'current'} vcpu count")
    current = re.search(r"current=['\"](\d+)['\"]", found.group(1))
    if maximum:
        return int(found.group(2))
    if current is None:
        raise CommandError("Failed to retrieve current vcpu count")
    return int(current.group(1))


@command(
    "vcpucount", "domain vcpu counts",
    DOMAIN,
    Opt("maximum", "get maximum count of vcpus", flag=True),
    Opt("active", "get number of currently active vcpus", flag=True),
    Opt("live", "get value from running domain", flag=True),
    Opt("config", "get value to be used on next boot", flag=True),
    Opt("current", "get value according to current domain state", flag=True),
    Opt("guest", "retrieve vcpu count from the guest instead of the hypervisor", flag=True),
)  # fmt: skip
def cmd_vcpucount(s: Session, o: dict[str, Any]) -> None:
    every = not any(o[n] for n in ("maximum", "active", "current", "config", "live", "guest"))
    if not o["maximum"] and not o["active"] and o["current"]:
        o = dict(o, current=False)  # before 0.9.4 --current meant "not --maximum": --current --live is --active
    _exclusive(o, ("live", "config"), ("current", "live"), ("current", "config"), ("active", "maximum"),
               ("guest", "config"))  # fmt: skip
    flags = ((LIVE if o["live"] else 0) | (CONFIG if o["config"] else 0) | (MAXIMUM if o["maximum"] else 0)
             | (GUEST if o["guest"] else 0))  # fmt: skip
    dom = get_domain(s, o["domain"])
    if not every:
        count = _count(dom, flags, False)
        s.out(str(count))
        return
    counts = [
        ("maximum", "config", _count(dom, CONFIG | MAXIMUM, True)),
        ("maximum", "live", _count(dom, LIVE | MAXIMUM, True)),
        ("current", "config", _count(dom, CONFIG, True)),
        ("current", "live", _count(dom, LIVE, True)),
    ]
    for which, state, value in counts:
        if value is not None and value > 0:
            s.out(f"{which:<12} {state:<12} {value:3d}")


# ---------------------------------------------------------------- vcpuinfo
def host_cpu_count(dom: Domain) -> int:
    """virshNodeGetCPUCount: virNodeGetCPUMap's count, else the node info's CPU total."""
    conn = dom._conn
    try:
        return conn.get_cpu_map()[0]
    except Error:
        info = conn.get_node_info()
        return info.nodes * info.sockets * info.cores * info.threads


def _affinity(s: Session, cpumap: bytes, maxcpu: int, pretty: bool) -> None:
    """virshVcpuinfoPrintAffinity."""
    used = [i for i in range(maxcpu) if i // 8 < len(cpumap) and cpumap[i // 8] & (1 << (i % 8))]
    if pretty:
        from pyvirt.conf.bitmap import format_bitmap

        s.out(f"{'CPU Affinity:':<15} {format_bitmap(set(used))} (out of {maxcpu})")
    else:
        s.out(f"{'CPU Affinity:':<15} " + "".join("y" if i in used else "-" for i in range(maxcpu)))


def _online_vcpus(dom: Domain) -> list[int]:
    """virshDomainGetVcpuBitmap of the persistent definition: which vCPUs are enabled."""
    import re

    text = dom.xml_desc(_XML_INACTIVE)
    found = re.search(r"<vcpu\b([^>]*)>\s*(\d+)\s*</vcpu>", text)
    if found is None:
        raise CommandError("Failed to retrieve maximum vcpu count")
    current = re.search(r"current=['\"](\d+)['\"]", found.group(1))
    count = int(current.group(1)) if current else int(found.group(2))
    states = re.findall(r"<vcpu id=['\"](\d+)['\"] enabled=['\"](yes|no)['\"]", text)
    if not states:
        return list(range(count))
    online = sorted(int(i) for i, enabled in states if enabled == "yes")
    if len(online) != count:
        raise CommandError("Failed to retrieve vcpu state bitmap")
    return online


@command(
    "vcpuinfo", "detailed domain vcpu information",
    DOMAIN,
    Opt("pretty", "return human readable output", flag=True),
)  # fmt: skip
def cmd_vcpuinfo(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    pretty = bool(o["pretty"])
    try:
        maxcpu = host_cpu_count(dom)
        info = dom.info()
    except Error as exc:
        raise CommandError(exc.message) from None
    maplen = (maxcpu + 7) // 8
    try:
        vcpus = dom.vcpus(info.vcpus, maplen)
    except Error as exc:
        if info.state != _SHUTOFF:
            raise CommandError(exc.message) from None
        _vcpuinfo_inactive(s, dom, maxcpu, maplen, pretty)
        return
    for n, v in enumerate(vcpus):
        s.out(f"{'VCPU:':<15} {v.number}")
        s.out(f"{'CPU:':<15} {v.cpu}")
        state = _VCPU_STATES[v.state] if 0 <= v.state < len(_VCPU_STATES) else "no state"
        s.out(f"{'State:':<15} {state}")
        if v.cpu_time_ns:
            s.out(f"{'CPU time:':<15} {v.cpu_time_ns / 1e9:.1f}s")
        _affinity(s, v.cpumap, maxcpu, pretty)
        if n < len(vcpus) - 1:
            s.out()


def _vcpuinfo_inactive(s: Session, dom: Domain, maxcpu: int, maplen: int, pretty: bool) -> None:
    """virshVcpuinfoInactive: each enabled vCPU's pinning from the persistent definition."""
    try:
        online = _online_vcpus(dom)
        maps = dom.vcpu_pin_info(max(online, default=-1) + 1, maplen, CONFIG)
    except Error as exc:
        raise CommandError(exc.message) from None
    for n, vcpu in enumerate(online):
        if n:
            s.out()
        s.out(f"{'VCPU:':<15} {vcpu}")
        s.out(f"{'CPU:':<15} N/A")
        s.out(f"{'State:':<15} N/A")
        s.out(f"{'CPU time':<15} N/A")
        _affinity(s, maps[vcpu] if vcpu < len(maps) else b"", maxcpu, pretty)


@command("nodecpumap", "node cpu map", Opt("pretty", "return human readable output", flag=True))
def cmd_nodecpumap(s: Session, o: dict[str, Any]) -> None:
    try:
        count, cpumap, online = s.conn.get_cpu_map()
    except Error as exc:
        raise CommandError("Unable to get cpu map", exc.message) from None
    s.out(f"{'CPUs present:':<15} {count}")
    s.out(f"{'CPUs online:':<15} {online}")
    used = {i for i in range(count) if i // 8 < len(cpumap) and cpumap[i // 8] & (1 << (i % 8))}
    if o["pretty"]:
        from pyvirt.conf.bitmap import format_bitmap

        s.out(f"{'CPU map:':<15} {format_bitmap(used)}")
    else:
        s.out(f"{'CPU map:':<15} " + "".join("y" if i in used else "-" for i in range(count)))


# ---------------------------------------------------------------- dommemstat
@command(
    "dommemstat", "get memory statistics for a domain",
    DOMAIN,
    Opt("period", "period in seconds to set collection", kind="number"),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)  # fmt: skip
def cmd_dommemstat(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"))
    dom = get_domain(s, o["domain"])
    if o["period"] is not None:
        if o["period"] < 0:
            raise CommandError(f"Invalid collection period value '{o['period']}'")
        flags = (LIVE if o["live"] else 0) | (CONFIG if o["config"] else 0)
        try:
            dom.set_memory_stats_period(o["period"], flags)
        except Error as exc:
            raise CommandError("Unable to change balloon collection period.", exc.message) from None
        return
    try:
        stats = dom.memory_stats(MEMORY_STAT_NR)
    except Error as exc:
        raise CommandError(f"Failed to get memory statistics for domain {o['domain']}", exc.message) from None
    for tag, value in stats:
        name = _MEMORY_STAT_NAMES.get(tag)
        if name is not None:
            s.out(f"{name} {value}")


# ---------------------------------------------------------------- domblkstat, domifstat, domblkinfo
_BLOCK_FIELDS = (("rd_req", "number of read operations:"), ("rd_bytes", "number of bytes read:"),
                 ("wr_req", "number of write operations:"), ("wr_bytes", "number of bytes written:"),
                 ("errs", "error count:"))  # fmt: skip
# domblkstat_output: virDomainBlockStatsFlags' field, the legacy name virsh prints (None: the field's), --human's text
_BLOCK_PARAMS = (("rd_operations", "rd_req", "number of read operations:"), ("rd_bytes", "rd_bytes", "number of bytes read:"),
                 ("wr_operations", "wr_req", "number of write operations:"),
                 ("wr_bytes", "wr_bytes", "number of bytes written:"), ("errs", "errs", "error count:"),
                 ("flush_operations", None, "number of flush operations:"),
                 ("rd_total_times", None, "total duration of reads (ns):"),
                 ("wr_total_times", None, "total duration of writes (ns):"),
                 ("flush_total_times", None, "total duration of flushes (ns):"))  # fmt: skip


@command(
    "domblkstat", "get device block stats for a domain",
    DOMAIN,
    Opt("device", "block device", positional=True, kind="optstring"),
    Opt("human", "print a more human readable output", flag=True),
)  # fmt: skip
def cmd_domblkstat(s: Session, o: dict[str, Any]) -> None:
    """cmdDomblkstat: virDomainBlockStatsFlags' counters in virsh's order, else (NO_SUPPORT) virDomainBlockStats'."""
    from pyvirt.plugin.typed_params import format_typed_value

    dom = get_domain(s, o["domain"])
    device = o["device"] or ""
    human = o["human"]
    try:
        params = dom.block_stats_flags(device)
    except Error as exc:
        if exc.code != ErrorCode.NO_SUPPORT:
            raise CommandError(exc.message) from None
        _legacy_block_stats(s, dom, o["domain"], device, human)
        return
    prefix = device
    if human:
        s.out(f"Device: {device}")
        prefix = ""
    by_name = {p.field: p for p in params}
    for field, legacy, text in _BLOCK_PARAMS:
        param = by_name.pop(field, None)
        if param is not None:
            name = text if human else legacy or field
            s.out(f"{prefix} {name:<31} {format_typed_value(param)}" if human
                  else f"{prefix} {name} {format_typed_value(param)}")  # fmt: skip
    for param in params:  # the fields virsh has no name for, in the driver's order
        if param.field in by_name:
            s.out(f"{prefix} {param.field} {format_typed_value(param)}")


def _legacy_block_stats(s: Session, dom: Domain, name: str, device: str, human: bool) -> None:
    """virsh's fallback to virDomainBlockStats: the five counters, those the driver knows (not -1)."""
    try:
        stats = dom.block_stats(device)
    except Error as exc:
        raise CommandError(f"Failed to get block stats {name} {device}", exc.message) from None
    prefix = device
    if human:
        s.out(f"Device: {device}")
        prefix = ""
    for (legacy, text), value in zip(_BLOCK_FIELDS, stats, strict=True):
        if value >= 0:
            s.out(f"{prefix} {text:<31} {value}" if human else f"{prefix} {legacy} {value}")


@command(
    "domifstat", "get network interface stats for a domain",
    DOMAIN,
    Opt("interface", "interface device specified by name or MAC Address", required=True, positional=True),
)  # fmt: skip
def cmd_domifstat(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    device = o["interface"]
    try:
        stats = dom.interface_stats(device)
    except Error as exc:
        raise CommandError(f"Failed to get interface stats {o['domain']} {device}", exc.message) from None
    for name, value in zip(stats._fields, stats, strict=True):
        if value >= 0:
            s.out(f"{device} {name} {value}")


def _pretty_capacity(value: int) -> str:
    """vshPrettyCapacity with virsh's "%.3lf %s"."""
    for unit, shift in (("B", 0), ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40), ("PiB", 50)):
        if value < 1024 << shift or unit == "PiB":
            return f"{value / (1 << shift):.3f} {unit}" if shift else f"{float(value):.3f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _sizes(capacity: int, allocation: int, physical: int, human: bool) -> list[str]:
    """cmdDomblkinfoGet."""
    if capacity == allocation == physical == 0:
        return ["-", "-", "-"]
    if not human:
        return [str(capacity), str(allocation), str(physical)]
    return [_pretty_capacity(v) for v in (capacity, allocation, physical)]


@command(
    "domblkinfo", "domain block device size information",
    DOMAIN,
    Opt("device", "block device", positional=True, kind="optstring"),
    Opt("human", "Human readable output", flag=True),
    Opt("all", "display all block devices info", flag=True),
)  # fmt: skip
def cmd_domblkinfo(s: Session, o: dict[str, Any]) -> None:
    if o["all"] and o["device"] is not None:
        raise CommandError("Options --all and --device are mutually exclusive")
    dom = get_domain(s, o["domain"])
    human = bool(o["human"])
    if not o["all"]:
        if not o["device"]:
            raise CommandError("command 'domblkinfo' requires <device> option")
        try:
            info = dom.block_info(o["device"])
        except Error as exc:
            raise CommandError(exc.message) from None
        cap, alloc, phy = _sizes(info.capacity, info.allocation, info.physical, human)
        s.out(f"{'Capacity:':<15} {cap}")
        s.out(f"{'Allocation:':<15} {alloc}")
        s.out(f"{'Physical:':<15} {phy}")
        return
    from pyvirt.cli.table import print_table
    from pyvirt.conf.domain import parse_domain

    try:
        defn = parse_domain(dom.xml_desc(0))
    except Error as exc:
        raise CommandError(exc.message) from None
    rows = []
    for disk in defn.devices.disks if defn.devices is not None else []:
        target = disk.target_dev or ""
        has_source = any((disk.source_file, disk.source_dev, disk.source_dir, disk.source_name))
        sizes = ["-", "-", "-"]
        if has_source:
            try:
                info = dom.block_info(target)
            except Error as exc:
                raise CommandError(exc.message) from None
            sizes = _sizes(info.capacity, info.allocation, info.physical, human)
        rows.append([target, *sizes])
    print_table(s, ["Target", "Capacity", "Allocation", "Physical"], rows)


# ---------------------------------------------------------------- vcpupin (and emulatorpin's shared parts)
# the options vcpupin and emulatorpin end with, as virsh lists them
PIN_OPTS = (
    Opt("cpulist", "host cpu number(s) to set, or omit option to query", positional=True, kind="optstring"),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)


def pin_flags(o: dict[str, Any]) -> int:
    """virsh's checks of --current beside --live/--config, and the LIVE/CONFIG flags they name (0: --current)."""
    _exclusive(o, ("current", "live"), ("current", "config"))
    return (CONFIG if o["config"] else 0) | (LIVE if o["live"] else 0)


def cpumap_of(cpus: set[int], maplen: int) -> bytes:
    """A libvirt CPU map of ``maplen`` bytes: CPU ``n`` is bit ``n % 8`` of byte ``n // 8``."""
    cpumap = bytearray(maplen)
    for cpu in cpus:
        cpumap[cpu // 8] |= 1 << (cpu % 8)
    return bytes(cpumap)


@command(
    "vcpupin", "control or query domain vcpu affinity",
    DOMAIN,
    Opt("vcpu", "vcpu number", positional=True, kind="number"),
    *PIN_OPTS,
    description="Pin domain VCPUs to host physical CPUs.",
)  # fmt: skip
def cmd_vcpupin(s: Session, o: dict[str, Any]) -> None:
    """cmdVcpuPin: without a cpulist, each vCPU's affinity as a table; with one, pin a vCPU to those CPUs."""
    flags = pin_flags(o)
    cpulist, vcpu = o["cpulist"], o["vcpu"]
    if cpulist is None:
        _exclusive(o, ("live", "config"))
    if vcpu is not None and vcpu < 0:
        raise CommandError(f"Numeric value '{vcpu}' for <vcpu> option is malformed or out of range")
    if cpulist is not None and vcpu is None:
        raise CommandError("vcpupin: Missing vCPU number in pin mode.")
    dom = get_domain(s, o["domain"])
    try:
        maxcpu = host_cpu_count(dom)
    except Error as exc:
        raise CommandError(exc.message) from None
    if cpulist is None:
        _vcpupin_query(s, dom, vcpu, maxcpu, flags)
        return
    cpus = parse_cpulist(cpulist, maxcpu)
    try:
        dom.pin_vcpu(vcpu, cpumap_of(cpus, (max(cpus) + 8) // 8), flags)
    except Error as exc:
        raise CommandError(exc.message) from None


def parse_cpulist(cpulist: str, maxcpu: int) -> set[int]:
    """virshParseCPUList: ``r`` for every host CPU, else a CPU list naming some CPU below the host's count."""
    from pyvirt.conf.bitmap import parse_bitmap

    if cpulist.startswith("r"):
        return set(range(maxcpu))
    try:
        cpus = parse_bitmap(cpulist, "cpulist", 1024) if cpulist else None  # virBitmapParse refuses ""
    except Error:
        cpus = None
    if cpus is None:  # virsh then adds the library's complaint
        raise CommandError(f"Invalid cpulist '{cpulist}'", f"invalid argument: Failed to parse bitmap '{cpulist}'")
    if not cpus:
        raise CommandError(f"Invalid cpulist '{cpulist}'")
    if max(cpus) >= maxcpu:
        raise CommandError(f"CPU {max(cpus)} in cpulist '{cpulist}' exceed the maxcpu {maxcpu}")
    return cpus


def _vcpupin_query(s: Session, dom: Domain, vcpu: int | None, maxcpu: int, flags: int) -> None:
    """virshVcpuPinQuery: the maximum vCPU count of the definition asked for, then one row per vCPU."""
    from pyvirt.cli.table import print_table
    from pyvirt.conf.bitmap import format_bitmap

    count = _count(dom, flags | MAXIMUM, True)
    if count is None:
        raise CommandError("cannot get vcpupin for offline domain" if flags & LIVE
                           else "cannot get vcpupin for transient domain")  # fmt: skip
    if vcpu is not None and vcpu >= count:
        live = bool(flags & LIVE) or (not flags & CONFIG and dom.is_active())
        raise CommandError(f"vcpu {vcpu} is out of range of {'live' if live else 'persistent'} cpu count {count}")
    maplen = (maxcpu + 7) // 8
    try:
        maps = dom.vcpu_pin_info(count, maplen, flags)
    except Error as exc:
        raise CommandError(exc.message) from None
    rows = []
    for i, cpumap in enumerate(maps):
        if vcpu is None or i == vcpu:
            used = {c for c in range(maplen * 8) if c // 8 < len(cpumap) and cpumap[c // 8] & (1 << (c % 8))}
            rows.append([str(i), format_bitmap(used)])
    print_table(s, ["VCPU", "CPU Affinity"], rows)
