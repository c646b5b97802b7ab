"""blockjob: virsh 9.0's cmdBlockjob: query, abort or pivot, or change the speed of a disk's block job.

The query prints what virsh prints: "No current block job for PATH", or the
job's progress line on standard error (virshPrintJobProgress, the line
``blockcopy --verbose`` redraws) with the bandwidth limit on standard output;
``--raw`` prints the four numbers. virsh asks for the bandwidth in bytes/s
first and falls back to MiB/s on a driver that refuses the flag, as here.
``--abort``/``--pivot``/``--async`` call virDomainBlockJobAbort and
``--bandwidth`` virDomainBlockJobSetSpeed, after virsh's own checks.
"""

from __future__ import annotations

from pyvirt.cli.domain_stats_cmds import DOMAIN, _exclusive, _pretty_capacity
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["parse_bandwidth"]

_BANDWIDTH_BYTES = 1  # VIR_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES
# virshDomainBlockJob: virDomainBlockJobType -> virsh's label
_JOB_LABELS = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup")


@command(
    "blockjob", "Manage active block operations",
    DOMAIN,
    Opt("path", "fully-qualified path of disk", required=True, positional=True),
    Opt("abort", "abort the active job on the specified disk", flag=True),
    Opt("async", "implies --abort; request but don't wait for job end", flag=True),
    Opt("pivot", "implies --abort; conclude and pivot a copy or commit job", flag=True),
    Opt("info", "get active job information for the specified disk", flag=True),
    Opt("bytes", "get/set bandwidth in bytes rather than MiB/s", flag=True),
    Opt("raw", "implies --info; output details rather than human summary", flag=True),
    Opt("bandwidth", "set the bandwidth limit in MiB/s", kind="intstring"),
    description="Query, adjust speed, or cancel active block operations.",
)  # fmt: skip
def cmd_blockjob(s: Session, o: dict[str, Any]) -> None:
    """cmdBlockjob: virsh's exclusive options, then set the speed, abort, or (the default) show the job."""
    for first in ("raw", "info"):
        _exclusive(o, (first, "abort"), (first, "pivot"), (first, "async"))
        if o[first] and o["bandwidth"] is not None:
            raise CommandError(f"Options --{first} and --bandwidth are mutually exclusive")
    _exclusive(o, ("bytes", "abort"), ("bytes", "pivot"), ("bytes", "async"))
    dom = get_domain(s, o["domain"])
    path = o["path"]
    try:
        if o["bandwidth"] is not None:  # virshBlockJobSetSpeed
            bandwidth = parse_bandwidth(o["bandwidth"], o["bytes"])
            dom.block_job_set_speed(path, bandwidth, _SPEED_BYTES if o["bytes"] else 0)
            return
        if o["abort"] or o["pivot"] or o["async"]:  # virshBlockJobAbort
            dom.block_job_abort(path, (_ABORT_ASYNC if o["async"] else 0) | (_ABORT_PIVOT if o["pivot"] else 0))
            return
    except Error as exc:
        raise CommandError(exc.message) from None
    _show(s, dom, path, o["raw"], o["bytes"])


_SPEED_BYTES = 1  # VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES
_ABORT_ASYNC = 1  # VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
_ABORT_PIVOT = 2  # VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT


def _progress_percent(cur: int, end: int) -> int:
    """virshPrintJobProgress's number: 100 only when nothing remains, so rounding never claims it early."""
    remaining = end - cur
    return 100 if remaining == 0 else min(int(100.0 - remaining * 100.0 / end), 99)


def parse_bandwidth(raw: str, in_bytes: bool) -> int:
    """vshBlockJobOptionBandwidth: a C unsigned long as written (negatives wrap), else digits and a unit
    giving bytes, turned into MiB/s unless ``in_bytes``."""
    import re

    from pyvirt.conf.units import strtoul, unit_factor

    ulong_max = (1 << 64) - 1
    parsed = strtoul(raw)
    if parsed is not None and parsed[1] <= ulong_max:
        sign, magnitude = parsed
        return (-magnitude) & ulong_max if sign == "-" else magnitude
    first = f"Scaled numeric value '{raw}' for <--bandwidth> option is malformed or out of range"
    match = re.fullmatch(r"(\d+)(.*)", raw)
    if match is None:
        raise CommandError(first)
    try:
        factor = unit_factor(match[2]) if match[2] else 1
    except ValueError:  # virScaleInteger's own error follows virsh's line
        raise CommandError(first, f"invalid argument: unknown suffix '{match[2]}'") from None
    if int(match[1]) * factor > ulong_max:  # digits alone too large fail in strtoull, before any scaling
        raise CommandError(first, *([f"numerical overflow: value too large: {raw}"] if match[2] else []))
    scaled = int(match[1]) * factor
    return scaled if in_bytes else scaled >> 20


def _show(s: Session, dom: Domain, path: str, raw: bool, in_bytes: bool) -> None:
    """virshBlockJobInfo."""
    info = None
    if in_bytes or not raw:
        try:
            info = dom.block_job_info(path, _BANDWIDTH_BYTES)
        except Error as exc:
            # a driver that cannot give bytes/s: virsh asks again in MiB/s unless bytes were demanded
            if exc.code not in (ErrorCode.INVALID_ARG, ErrorCode.OVERFLOW) or in_bytes or raw:
                raise CommandError(exc.message) from None
    speed = info[1] if info is not None else 0
    if info is None:
        try:
            info = dom.block_job_info(path, 0)
        except Error as exc:
            raise CommandError(exc.message) from None
        speed = info[1] if raw else info[1] << 20
    kind, bandwidth, cur, end = info
    if kind == 0:
        if not raw:
            s.extra_raw(f"No current block job for {path}")
        return
    label = _JOB_LABELS[kind] if 0 <= kind < len(_JOB_LABELS) else "Unknown job"
    if raw:
        s.out(f" type={label}\n bandwidth={bandwidth}\n cur={cur}\n end={end}")
        return
    s.error_raw(f"\r{label}: [{_progress_percent(cur, end):3d} %]")  # stdout first, as virsh flushes it
    line = f"    Bandwidth limit: {speed} bytes/s ({_pretty_capacity(speed)}/s)" if speed else ""
    s.out(line)
