"""blockcopy: virsh 9.0's cmdBlockcopy, and its wait for the copy (virshBlockJobWait).

Which call starts the copy decides what an older daemon can serve, so it is
chosen as virsh chooses it: virDomainBlockCopy (a ``<disk>`` destination and
typed parameters) when any of --xml, --granularity, --buf-size, a format
other than raw, --transient-job, --synchronous-writes or --print-xml asks for
it, else virDomainBlockRebase with the COPY flag.

With --wait (or --pivot, --finish, --timeout) the command waits for the
disk's BLOCK_JOB / BLOCK_JOB_2 event, polling the job's progress twice a
second as virsh does; the progress is virsh's ``Block Copy: [ 42 %]`` line
with --verbose, a bar on a terminal otherwise, nothing on a pipe. Ctrl-C or
the timeout aborts the job, as in virsh.
"""

from __future__ import annotations

import threading
import time

from pyvirt.cli.blockjob_cmd import parse_bandwidth
from pyvirt.cli.domain_cmds import _read_file
from pyvirt.cli.domain_stats_cmds import DOMAIN
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.progress import Progress
from pyvirt.domain import Domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["JobWaiter", "call", "timeout_ms"]

# virDomainBlockRebaseFlags and virDomainBlockCopyFlags (SHALLOW and REUSE_EXT have the same values in both)
_SHALLOW = 1  # VIR_DOMAIN_BLOCK_REBASE_SHALLOW
_REUSE_EXT = 2  # VIR_DOMAIN_BLOCK_REBASE_REUSE_EXT
_COPY_RAW = 4  # VIR_DOMAIN_BLOCK_REBASE_COPY_RAW
_COPY = 8  # VIR_DOMAIN_BLOCK_REBASE_COPY
_COPY_DEV = 32  # VIR_DOMAIN_BLOCK_REBASE_COPY_DEV
_REBASE_BYTES = 64  # VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES
_TRANSIENT_JOB = 4  # VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB
_SYNCHRONOUS_WRITES = 8  # VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES
_ABORT_ASYNC = 1  # VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
_ABORT_PIVOT = 2  # VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
# virConnectDomainEventBlockJobStatus
_COMPLETED, _FAILED, _CANCELED, _READY = 0, 1, 2, 3
_UINT_MAX = (1 << 32) - 1
_ULLONG_MAX = (1 << 64) - 1
_POLL = 0.5  # virshBlockJobWait's period


def _uint(o: dict[str, Any], name: str, limit: int = _UINT_MAX) -> int:
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
    seconds = _uint(o, "timeout")
    if seconds == 0 or seconds > (2**31 - 1) // 1000:
        raise CommandError(f"Numeric value '{seconds}' for <timeout> option is malformed or out of range")
    return seconds * 1000


def _escape(text: str) -> str:
    """virBufferEscapeString's escaping of a value inside single quotes."""
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&apos;")):
        text = text.replace(raw, entity)
    return text


def _destination_xml(dest: str, blockdev: bool, fmt: str | None) -> str:
    """The ``<disk>`` virsh writes for --dest (virXMLFormatElement, children indented by two)."""
    kind, attr = ("block", "dev") if blockdev else ("file", "file")
    driver = f"  <driver type='{_escape(fmt)}'/>\n" if fmt is not None else ""
    return f"<disk type='{kind}'>\n  <source {attr}='{_escape(dest)}'/>\n{driver}</disk>\n"


@command(
    "blockcopy", "Start a block copy operation.",
    DOMAIN,
    Opt("path", "fully-qualified path of source disk", required=True, positional=True),
    Opt("dest", "path of the copy to create"),
    Opt("bandwidth", "bandwidth limit in MiB/s", kind="intstring"),
    Opt("shallow", "make the copy share a backing chain", flag=True),
    Opt("reuse-external", "reuse existing destination", flag=True),
    Opt("blockdev", "copy destination is block device instead of regular file", flag=True),
    Opt("wait", "wait for job to reach mirroring phase", flag=True),
    Opt("verbose", "with --wait, display the progress", flag=True),
    Opt("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)", kind="intstring"),
    Opt("pivot", "implies --wait, pivot when mirroring starts", flag=True),
    Opt("finish", "implies --wait, quit when mirroring starts", flag=True),
    Opt("async", "with --wait, don't wait for cancel to finish", flag=True),
    Opt("xml", "filename containing XML description of the copy destination"),
    Opt("format", "format of the destination file"),
    Opt("granularity", "power-of-two granularity to use during the copy", kind="intstring"),
    Opt("buf-size", "maximum amount of in-flight data during the copy", kind="intstring"),
    Opt("bytes", "the bandwidth limit is in bytes/s rather than MiB/s", flag=True),
    Opt("transient-job", "the copy job is not persisted if VM is turned off", flag=True),
    Opt("synchronous-writes", "the copy job forces guest writes to be synchronously written to the destination",
        flag=True),
    Opt("print-xml", "print the XML used to start the copy job instead of starting the job", flag=True),
    description="Copy a disk backing image chain to dest.",
)  # fmt: skip
def cmd_blockcopy(s: Session, o: dict[str, Any]) -> None:
    """cmdBlockcopy: options checked in virsh's order, the copy started, then (blocking) the wait."""
    path, dest, xml, fmt = o["path"], o["dest"], o["xml"], o["format"]
    blocking = o["wait"] or o["finish"] or o["pivot"]
    bandwidth = parse_bandwidth(o["bandwidth"], o["bytes"]) if o["bandwidth"] is not None else 0
    granularity = _uint(o, "granularity")
    buf_size = _uint(o, "buf-size", _ULLONG_MAX)
    flags = (_SHALLOW if o["shallow"] else 0) | (_REUSE_EXT if o["reuse-external"] else 0)
    flags |= (_TRANSIENT_JOB if o["transient-job"] else 0) | (_SYNCHRONOUS_WRITES if o["synchronous-writes"] else 0)
    timeout = timeout_ms(o)
    blocking = blocking or bool(timeout)
    abort_flags = _ABORT_ASYNC if o["async"] else 0
    for a, b in (("dest", "xml"), ("format", "xml"), ("blockdev", "xml"), ("pivot", "finish")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    if not dest and not xml:
        raise CommandError("need either --dest or --xml")
    if not blocking:
        for name in ("verbose", "async"):
            if o[name]:
                raise CommandError(f"--{name} requires at least one of --timeout, --wait, --pivot, or --finish")
    dom = get_domain(s, o["domain"])
    waiter = JobWaiter(s, dom, path) if blocking else None
    try:
        xmlstr = _read_file(xml) if xml else None
        if granularity or buf_size or (fmt and fmt != "raw") or xml or o["transient-job"] or \
                o["synchronous-writes"] or o["print-xml"]:  # fmt: skip
            params = _copy_params(bandwidth, o["bytes"], granularity, buf_size)
            if xmlstr is None:
                xmlstr = _destination_xml(dest, o["blockdev"], fmt)
            if o["print-xml"]:
                s.out_raw(xmlstr)
                return
            call(lambda: dom.block_copy(path, xmlstr, params, flags))
        else:
            flags |= _COPY | (_COPY_DEV if o["blockdev"] else 0) | (_COPY_RAW if fmt == "raw" else 0)
            flags |= _REBASE_BYTES if o["bytes"] else 0
            call(lambda: dom.block_rebase(path, dest, bandwidth, flags))
        if waiter is None:
            s.extra_raw("Block Copy started")
            return
        status = waiter.wait(timeout, abort_flags, o["verbose"])
    finally:
        if waiter is not None:
            waiter.close()
    if status == _CANCELED:
        s.extra_raw("\nCopy aborted")
        raise CommandError()
    if status == _FAILED:
        s.extra_raw("\nCopy failed")
        raise CommandError()
    if o["pivot"]:
        try:
            dom.block_job_abort(path, abort_flags | _ABORT_PIVOT)
        except Error as exc:
            raise CommandError(f"failed to pivot job for disk {path}", exc.message) from None
        s.extra_raw("\nSuccessfully pivoted")
    elif o["finish"]:
        try:
            dom.block_job_abort(path, abort_flags)
        except Error as exc:
            raise CommandError(f"failed to finish job for disk {path}", exc.message) from None
        s.extra_raw("\nSuccessfully copied")
    else:
        s.extra_raw("\nNow in mirroring phase")


def call(start: Any) -> None:
    try:
        start()
    except Error as exc:
        raise CommandError(exc.message) from None


def _copy_params(bandwidth: int, in_bytes: bool, granularity: int, buf_size: int) -> list[Any]:
    """virDomainBlockCopy's typed parameters, as virsh builds them (the bandwidth always in bytes/s)."""
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

    params: list[TypedParam] = []
    if bandwidth:
        if not in_bytes:
            limit = min(_ULLONG_MAX, _ULLONG_MAX >> 20)
            if bandwidth > limit:
                raise CommandError(f"bandwidth must be less than {limit}")
            bandwidth <<= 20
        params.append(TypedParam("bandwidth", TypedParamType.ULLONG, bandwidth))
    if granularity:
        params.append(TypedParam("granularity", TypedParamType.UINT, granularity))
    if buf_size:
        params.append(TypedParam("buf-size", TypedParamType.ULLONG, buf_size))
    return params


class JobWaiter:
    """virshBlockJobWaitInit/virshBlockJobWait: the disk's block job events, and the polling beside them."""

    def __init__(self, s: Session, dom: Domain, path: str, label: str = "Block Copy") -> None:
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
                        result = _COMPLETED
                        break
                    if end == cur:
                        retries -= 1
                        if not any(registered) or retries == 0:
                            result = _READY
                            break
                if (cur, end) != last and end > 0:
                    progress.update(cur, end)
                last = (cur, end)
                if timeout_ms and (time.monotonic() - start) * 1000 > timeout_ms:
                    return self._abort(abort_flags)
                self._changed.wait(_POLL)
        except KeyboardInterrupt:
            return self._abort(abort_flags)
        if result in (_COMPLETED, _READY):
            progress.update(1, 1, force=True)
        return result

    def _abort(self, flags: int) -> int:
        try:
            self.dom.block_job_abort(self.path, flags)
        except Error as exc:
            raise CommandError(f"failed to abort job for disk '{self.path}'", exc.message) from None
        return _CANCELED
