"""iothreadinfo, iothreadpin, iothreadadd, iothreadset, iothreaddel: virsh 9.0's cmdIOThread* line for line.

Each checks what virsh checks, in virsh's order (--current beside
--live/--config, then the domain, then each number as virsh's
vshCommandOpt* reads it), so a bad line fails with virsh's words before the
driver is asked. Flags are virsh's: --current (0) unless --live/--config.
"""

from __future__ import annotations

from pyvirt.cli.domain_stats_cmds import DOMAIN, cpumap_of, host_cpu_count, parse_cpulist, pin_flags
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.cli.framework import Handler
    from pyvirt.domain import Domain

__all__: list[str] = []

_INT_MAX, _UINT_MAX, _ULLONG_MAX = 2**31 - 1, 2**32 - 1, 2**64 - 1
_IMPACT = (
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)


def _number(o: dict[str, Any], name: str, *, signed: bool, limit: int) -> int | None:
    """vshCommandOptInt (virStrToLong_i) or, unsigned, vshCommandOptUInt/ULongLong (virStrToLong_uip/_ullp):
    base 10 over the whole value after white space, no minus sign for the unsigned ones; None when absent."""
    raw = o[name]
    if raw is None:
        return None
    text = raw.lstrip(" \t\n\v\f\r")
    sign = text[:1] if text[:1] in ("+", "-") else ""
    digits = text[len(sign) :]
    value = int(text) if digits.isascii() and digits.isdigit() else None
    low = -_INT_MAX - 1 if signed else 0
    if value is None or (sign == "-" and not signed) or not low <= value <= limit:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return value


def _thread_id(o: dict[str, Any], name: str = "id") -> int:
    """cmdIOThreadAdd/Del/Set's id: an int, refused at 0 or below in virsh's words."""
    value = _number(o, name, signed=True, limit=_INT_MAX) or 0
    if value <= 0:
        raise CommandError(f"Invalid IOThread id value: '{value}'")
    return value


def _target(s: Session, o: dict[str, Any]) -> tuple[Domain, int, int]:
    """cmdIOThreadAdd/Set/Del's start, in virsh's order: the flags' checks, the domain, then the id."""
    flags = pin_flags(o)
    dom = get_domain(s, o["domain"])
    return dom, _thread_id(o), flags


@command(
    "iothreadinfo", "view domain IOThreads",
    DOMAIN,
    *_IMPACT,
    description="Returns basic information about the domain IOThreads.",
)  # fmt: skip
def cmd_iothreadinfo(s: Session, o: dict[str, Any]) -> None:
    """cmdIOThreadInfo: one row per thread, its id and the CPUs of its map."""
    from pyvirt.cli.table import print_table
    from pyvirt.conf.bitmap import format_bitmap

    flags = pin_flags(o)
    dom = get_domain(s, o["domain"])
    try:
        infos = dom.iothread_info(flags)
    except Error as exc:
        raise CommandError("Unable to get domain IOThreads information", exc.message) from None
    if not infos:
        s.extra_raw("No IOThreads found for the domain")
        return
    rows = []
    for info in infos:
        cpumap = info.cpumap
        # virBitmapDataFormat: every set bit of the map as the driver sized it
        cpus = {c for c in range(len(cpumap) * 8) if cpumap[c // 8] >> (c % 8) & 1}
        rows.append([str(info.iothread_id), format_bitmap(cpus)])
    print_table(s, ["IOThread ID", "CPU Affinity"], rows)


@command(
    "iothreadpin", "control domain IOThread affinity",
    DOMAIN,
    Opt("iothread", "IOThread ID number", required=True, positional=True, kind="intstring"),
    Opt("cpulist", "host cpu number(s) to set", required=True, positional=True),
    *_IMPACT,
    description="Pin domain IOThreads to host physical CPUs.",
)  # fmt: skip
def cmd_iothreadpin(s: Session, o: dict[str, Any]) -> None:
    """cmdIOThreadPin: the thread id (unsigned), the CPU list against the host's CPU count, then the pin."""
    flags = pin_flags(o)
    dom = get_domain(s, o["domain"])
    iothread_id = _number(o, "iothread", signed=False, limit=_UINT_MAX) or 0
    cpulist = o["cpulist"]
    if not cpulist:
        raise CommandError("Failed to get option 'cpulist': Option argument is empty")
    try:
        maxcpu = host_cpu_count(dom)
    except Error as exc:
        raise CommandError(exc.message) from None
    # virshParseCPUList's map: VIR_CPU_MAPLEN(maxcpu) bytes
    pinmap = cpumap_of(parse_cpulist(cpulist, maxcpu), (maxcpu + 7) // 8)
    try:
        dom.pin_iothread(iothread_id, pinmap, flags)
    except Error as exc:
        raise CommandError(exc.message) from None


@command(
    "iothreadset", "modifies an existing IOThread of the guest domain",
    DOMAIN,
    Opt("id", "iothread id of existing IOThread", required=True, positional=True, kind="intstring"),
    Opt("poll-max-ns", "set the maximum IOThread polling time in ns", kind="intstring"),
    Opt("poll-grow", "set the value to increase the IOThread polling time", kind="intstring"),
    Opt("poll-shrink", "set the value for reduction of the IOThread polling time", kind="intstring"),
    Opt("thread-pool-min", "lower boundary for worker thread pool", kind="intstring"),
    Opt("thread-pool-max", "upper boundary for worker thread pool", kind="intstring"),
    *_IMPACT,
    description="Modifies an existing IOThread of the guest domain.",
)  # fmt: skip
def cmd_iothreadset(s: Session, o: dict[str, Any]) -> None:
    """cmdIOThreadSet: the typed parameters of the options given, in virsh's order; none is an error."""
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

    dom, iothread_id, flags = _target(s, o)
    params = []
    # option, VIR_DOMAIN_IOTHREAD_* field, its type, the C type virsh reads it as (signed?, limit)
    for name, field, kind, signed, limit in (
        ("poll-max-ns", "poll_max_ns", TypedParamType.ULLONG, False, _ULLONG_MAX),
        ("poll-grow", "poll_grow", TypedParamType.UINT, False, _UINT_MAX),
        ("poll-shrink", "poll_shrink", TypedParamType.UINT, False, _UINT_MAX),
        ("thread-pool-min", "thread_pool_min", TypedParamType.INT, True, _INT_MAX),
        ("thread-pool-max", "thread_pool_max", TypedParamType.INT, True, _INT_MAX),
    ):
        value = _number(o, name, signed=signed, limit=limit)
        if value is not None:
            params.append(TypedParam(field, kind, value))
    if not params:
        raise CommandError("Not enough arguments passed, nothing to set")
    try:
        dom.set_iothread_params(iothread_id, params, flags)
    except Error as exc:
        raise CommandError(exc.message) from None


# cmdIOThreadAdd and cmdIOThreadDel differ only in words and call: command, summary, the id's help,
# description, the call
_ADD_DEL: tuple[tuple[str, str, str, str, Callable[[Domain, int, int], None]], ...] = (
    ("iothreadadd", "add an IOThread to the guest domain", "iothread for the new IOThread",
     "Add an IOThread to the guest domain.", lambda d, i, f: d.add_iothread(i, f)),
    ("iothreaddel", "delete an IOThread from the guest domain", "iothread_id for the IOThread to delete",
     "Delete an IOThread from the guest domain.", lambda d, i, f: d.del_iothread(i, f)),
)  # fmt: skip


def _add_del_handler(call: Callable[[Domain, int, int], None]) -> Handler:
    """cmdIOThreadAdd/Del: the flags, the domain and the id in virsh's order, then the driver's answer."""

    def run(s: Session, o: dict[str, Any]) -> None:
        dom, iothread_id, flags = _target(s, o)
        try:
            call(dom, iothread_id, flags)
        except Error as exc:
            raise CommandError(exc.message) from None

    return run


for _name, _summary, _help, _description, _call in _ADD_DEL:
    command(_name, _summary, DOMAIN, Opt("id", _help, required=True, positional=True, kind="intstring"), *_IMPACT,
            description=_description)(_add_del_handler(_call))  # fmt: skip
