"""blockjob: virsh 9.0's cmdBlockjob, its query mode on virDomainGetBlockJobInfo.

The query prints what virsh prints: "No current block job for PATH", or the
job's progress line on standard error (virshPrintJobProgress, the line
``blockcopy --verbose`` redraws) with the bandwidth limit on standard output;
``--raw`` prints the four numbers. virsh asks for the bandwidth in bytes/s
first and falls back to MiB/s on a driver that refuses the flag, as here.
Aborting, pivoting and setting the speed need virDomainBlockJobAbort and
virDomainBlockJobSetSpeed, which no driver here has: those modes report
libvirt's not-supported error for them after virsh's own checks.
"""

from __future__ import annotations

from typing import Any

from pyvirt.cli.domain_stats_cmds import DOMAIN, _exclusive, _pretty_capacity
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.nosupport import not_supported
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode

__all__: list[str] = []

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
    if o["bandwidth"] is not None:
        _check_bandwidth(o["bandwidth"])
        raise CommandError(not_supported("virDomainBlockJobSetSpeed").message)
    if o["abort"] or o["pivot"] or o["async"]:
        raise CommandError(not_supported("virDomainBlockJobAbort").message)
    _show(s, dom, path, o["raw"], o["bytes"])


def _check_bandwidth(raw: str) -> None:
    """vshBlockJobOptionBandwidth's parse: a C unsigned long (negatives wrap), else digits and a unit."""
    import re

    from pyvirt.conf.units import strtoul, unit_factor

    ulong_max = (1 << 64) - 1
    parsed = strtoul(raw)
    if parsed is not None and parsed[1] <= ulong_max:
        return
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
    # virshPrintJobProgress: 100 % only when nothing remains
    remaining = end - cur
    percent = 100 if remaining == 0 else min(int(100.0 - remaining * 100.0 / end), 99)
    s.error_raw(f"\r{label}: [{percent:3d} %]")  # stdout first, as virsh flushes it
    line = f"    Bandwidth limit: {speed} bytes/s ({_pretty_capacity(speed)}/s)" if speed else ""
    s.out(line)
