"""blockjob: virsh 9.0's cmdBlockjob: query, abort or pivot, or change the speed of a disk's block job.

The query prints what virsh prints: "No current block job for PATH", or the
job's progress line on standard error (virshPrintJobProgress, the line
``blockcopy --verbose`` redraws) with the bandwidth limit on standard output;
``--raw`` prints the four numbers. virsh asks for the bandwidth in bytes/s
first and falls back to MiB/s on a driver that refuses the flag, as here.
``--abort``/``--pivot``/``--async`` call virDomainBlockJobAbort and
``--bandwidth`` virDomainBlockJobSetSpeed, after virsh's own checks.

The commands that start a job (blockcopy, blockpull, blockcommit) share what
virsh shares between them: one table of their common options, the option
parsers (bandwidth, timeout), and one runner that starts the job and, when
asked to wait, follows it with :class:`JobWaiter` (virshBlockJobWait) and
ends it with virsh's words for that job (:class:`JobWords`).
"""

from __future__ import annotations

import time

from pyvirt.cli.domain_stats_cmds import DOMAIN, _exclusive, _pretty_capacity
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = [
    "ABORT_ASYNC", "ABORT_PIVOT", "CANCELED", "COMPLETED", "FAILED", "JOB_OPTS", "READY", "JobWaiter",
    "JobWords", "bandwidth_of", "parse_bandwidth", "parse_uint", "require_blocking", "run_job", "timeout_ms",
]  # fmt: skip

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
            dom.block_job_abort(path, (ABORT_ASYNC if o["async"] else 0) | (ABORT_PIVOT if o["pivot"] else 0))
            return
    except Error as exc:
        raise CommandError(exc.message) from None
    _show(s, dom, path, o["raw"], o["bytes"])


_SPEED_BYTES = 1  # VIR_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES
ABORT_ASYNC = 1  # VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
ABORT_PIVOT = 2  # VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
# virConnectDomainEventBlockJobStatus
COMPLETED, FAILED, CANCELED, READY = 0, 1, 2, 3
_UINT_MAX = (1 << 32) - 1
_POLL = 0.5  # virshBlockJobWait's period


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


# ---------------------------------------------------------------- what the job-starting commands share

# The options blockcopy, blockpull and blockcommit spell alike in virsh 9.0 (the others' help differs per command).
JOB_OPTS = {
    opt.name: opt
    for opt in (
        Opt("bandwidth", "bandwidth limit in MiB/s", kind="intstring"),
        Opt("verbose", "with --wait, display the progress", flag=True),
        Opt("async", "with --wait, don't wait for cancel to finish", flag=True),
        Opt("keep-relative", "keep the backing chain relatively referenced", flag=True),
        Opt("bytes", "the bandwidth limit is in bytes/s rather than MiB/s", flag=True),
    )
}


def bandwidth_of(o: dict[str, Any]) -> int:
    """--bandwidth as the job's API takes it (MiB/s, or bytes/s with --bytes); 0 when absent."""
    return parse_bandwidth(o["bandwidth"], o["bytes"]) if o["bandwidth"] is not None else 0


def parse_uint(o: dict[str, Any], name: str, limit: int = _UINT_MAX) -> int:
    """vshCommandOptUInt / ULongLong: 0 when absent; digits only (no sign), within the C type."""
    raw = o[name]
    if raw is None:
        return 0
    text = raw.strip()
    if not text.isdigit() or int(text) > limit:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return int(text)


def timeout_ms(o: dict[str, Any]) -> int:
    """vshCommandOptTimeoutToMs: seconds as a C unsigned int, not 0, that fit in an int once in ms."""
    if o["timeout"] is None:
        return 0
    seconds = parse_uint(o, "timeout")
    if seconds == 0 or seconds > (2**31 - 1) // 1000:
        raise CommandError(f"Numeric value '{seconds}' for <timeout> option is malformed or out of range")
    return seconds * 1000


def require_blocking(o: dict[str, Any], blocking: bool, finish: str) -> None:
    """virsh's check that --verbose and --async come with an option that waits (``finish``: the command's
    option that ends the job at its synchronized phase, --finish or --keep-overlay)."""
    if blocking:
        return
    for name in ("verbose", "async"):
        if o[name]:
            raise CommandError(f"--{name} requires at least one of --timeout, --wait, --pivot, or --{finish}")


class JobWords(NamedTuple):
    """What virsh prints about one kind of job; the noun starts "Copy aborted" and "Copy failed"."""

    label: str  # the progress line's: Block Copy
    noun: str
    started: str  # without a wait
    reached: str  # the wait ended (the job completed, or it is ready and neither pivoted nor finished)
    finished: str = ""  # after --finish / --keep-overlay ended a ready job


def run_job(s: Session, dom: Domain, path: str, start: Callable[[], None], words: JobWords, *, blocking: bool,
            timeout: int = 0, abort_flags: int = 0, verbose: bool = False, end: str | None = None) -> None:  # fmt: skip
    """Start a job and, when ``blocking``, follow it as virsh does: to its end or its ready phase, where
    ``end`` "pivot" pivots and "finish" ends it; a job that was aborted or failed fails the command."""
    waiter = JobWaiter(s, dom, path, words.label) if blocking else None
    try:
        try:
            start()
        except Error as exc:
            raise CommandError(exc.message) from None
        if waiter is None:
            s.extra_raw(words.started)
            return
        status = waiter.wait(timeout, abort_flags, verbose)
    finally:
        if waiter is not None:
            waiter.close()
    if status == CANCELED:
        s.extra_raw(f"\n{words.noun} aborted")
        raise CommandError()
    if status == FAILED:
        s.extra_raw(f"\n{words.noun} failed")
        raise CommandError()
    if end is None:
        s.extra_raw(f"\n{words.reached}")
        return
    try:
        dom.block_job_abort(path, abort_flags | (ABORT_PIVOT if end == "pivot" else 0))
    except Error as exc:
        raise CommandError(f"failed to {end} job for disk {path}", exc.message) from None
    s.extra_raw("\nSuccessfully pivoted" if end == "pivot" else f"\n{words.finished}")


class JobWaiter:
    """virshBlockJobWaitInit/virshBlockJobWait: the disk's block job events, and the polling beside them."""

    def __init__(self, s: Session, dom: Domain, path: str, label: str) -> None:
        import threading  # only a command that waits on its job needs it (the other block commands do not)

        self.s, self.dom, self.path, self.label = s, dom, path, label
        self.status = -1
        self._changed = threading.Event()
        self._ids: list[int] = []
        conn = s.conn
        for kind in ("block-job", "block-job-2"):
            try:
                self._ids.append(conn.register_event(kind, self._on_event, dom.uuid))
            except Error:  # a daemon without the event: virsh falls back to polling alone
                self._ids.append(-1)

    def _on_event(self, ev: Any) -> None:
        if ev.disk == self.path:
            self.status = ev.status
            self._changed.set()

    def close(self) -> None:
        for cid in self._ids:
            if cid >= 0:
                self.s.conn.deregister_event(cid)

    def wait(self, timeout_ms: int, abort_flags: int, verbose: bool) -> int:
        """The job's end or readiness as a virConnectDomainEventBlockJobStatus (CANCELED after our abort)."""
        from pyvirt.cli.progress import Progress

        progress = Progress(self.s, self.label, verbose=verbose)
        retries = 5
        start = time.monotonic()
        last = (0, 0)
        registered = [cid >= 0 for cid in self._ids]
        try:
            while True:
                try:
                    kind, _bandwidth, cur, end = self.dom.block_job_info(self.path, 0)
                except Error as exc:
                    raise CommandError(f"failed to query job for disk {self.path}", exc.message) from None
                if any(registered) and self.status != -1:
                    result = self.status
                    break
                if not all(registered):
                    if kind == 0:  # the job vanished: it completed
                        result = COMPLETED
                        break
                    if end == cur:
                        retries -= 1
                        if not any(registered) or retries == 0:
                            result = READY
                            break
                if (cur, end) != last and end > 0:
                    progress.update(cur, end)
                last = (cur, end)
                if timeout_ms and (time.monotonic() - start) * 1000 > timeout_ms:
                    return self._abort(abort_flags)
                self._changed.wait(_POLL)
        except KeyboardInterrupt:
            return self._abort(abort_flags)
        if result in (COMPLETED, READY):
            progress.update(1, 1, force=True)
        return result

    def _abort(self, flags: int) -> int:
        try:
            self.dom.block_job_abort(self.path, flags)
        except Error as exc:
            raise CommandError(f"failed to abort job for disk '{self.path}'", exc.message) from None
        return CANCELED
