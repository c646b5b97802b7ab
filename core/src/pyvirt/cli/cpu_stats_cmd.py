"""``pyvirsh cpu-stats``: a running domain's CPU time per host CPU and in total, as virsh's cmdCPUStats.

By default both; ``--total`` the totals only; ``--start``/``--count`` the
per-CPU part only, fetched 128 CPUs at a time as virsh does. Times in
nanoseconds print as seconds with nine decimals (vshCPUStatsPrintField).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import parse_c_int
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.typed_params import TypedParam

__all__: list[str] = []

_TIMES = ("cpu_time", "vcpu_time", "user_time", "system_time")  # VIR_DOMAIN_CPU_STATS_*TIME


def _field(s: Session, p: TypedParam) -> None:
    from pyvirt.plugin.typed_params import TypedParamType, format_typed_value

    if p.field in _TIMES and p.type == TypedParamType.ULLONG:
        value = int(p.value)
        s.out_raw(f"\t{p.field:<12} {value // 10**9:9d}.{value % 10**9:09d} seconds\n")
    else:
        s.out_raw(f"\t{p.field:<12} {format_typed_value(p)}\n")


def _int_opt(o: dict[str, Any], name: str) -> int | None:
    if o[name] is None:
        return None
    value = parse_c_int(o[name])  # vshCommandOptInt
    if value is None:
        raise CommandError(f"Numeric value '{o[name]}' for <{name}> option is malformed or out of range")
    return value


@command(
    "cpu-stats", "show domain cpu statistics",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("total", "Show total statistics only", flag=True),
    Opt("start", "Show statistics from this CPU", kind="intstring"),
    Opt("count", "Number of shown CPUs at most", kind="intstring"),
    description="Display per-CPU and total statistics about the domain's CPUs",
)  # fmt: skip
def cmd_cpu_stats(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    show_total, show_per_cpu = bool(o["total"]), False
    cpu, count = 0, -1
    start = _int_opt(o, "start")
    if start is not None:
        if start < 0:
            raise CommandError("Invalid value for start CPU")
        cpu, show_per_cpu = start, True
    wanted = _int_opt(o, "count")
    if wanted is not None:
        if wanted < 0:
            raise CommandError("Invalid value for number of CPUs to show")
        count, show_per_cpu = wanted, True
    if not show_total and not show_per_cpu:
        show_total = show_per_cpu = True
    failed = f"Failed to retrieve CPU statistics for domain '{dom.name}'"
    try:
        if show_per_cpu:
            max_id = len(dom.cpu_stats(0, 0))
            if cpu >= max_id:
                raise CommandError(f"Start CPU {cpu} is out of range (min: 0, max: {max_id - 1})")
            if count < 0 or count > max_id:
                if count > max_id:
                    s.out(f"Only {max_id} CPUs available to show")
                count = max_id - cpu
            while count:
                chunk = min(count, 128)
                for i, params in enumerate(dom.cpu_stats(cpu, chunk)):
                    if params:  # an empty list: a CPU the domain may not use
                        s.out(f"CPU{cpu + i}:")
                        for p in params:
                            _field(s, p)
                cpu += chunk
                count -= chunk
        if show_total:
            totals = dom.cpu_stats()
            if not totals or not totals[0]:
                s.out_raw("No total stats available")
                return
            s.out("Total:")
            for p in totals[0]:
                _field(s, p)
    except Error as exc:
        raise CommandError(failed, exc.message) from None
