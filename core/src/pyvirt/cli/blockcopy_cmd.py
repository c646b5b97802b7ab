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

from pyvirt.cli import blockjob_cmd as blockjob
from pyvirt.cli.domain_stats_cmds import DOMAIN
from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.flags import DomainBlockCopyFlags as Copy
from pyvirt.flags import DomainBlockRebaseFlags as Rebase

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_ULLONG_MAX = (1 << 64) - 1
_WORDS = blockjob.JobWords("Block Copy", "Copy", "Block Copy started", "Now in mirroring phase", "Successfully copied")


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
    blockjob.JOB_OPTS["bandwidth"],
    Opt("shallow", "make the copy share a backing chain", flag=True),
    Opt("reuse-external", "reuse existing destination", flag=True),
    Opt("blockdev", "copy destination is block device instead of regular file", flag=True),
    Opt("wait", "wait for job to reach mirroring phase", flag=True),
    blockjob.JOB_OPTS["verbose"],
    Opt("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)", kind="intstring"),
    Opt("pivot", "implies --wait, pivot when mirroring starts", flag=True),
    Opt("finish", "implies --wait, quit when mirroring starts", flag=True),
    blockjob.JOB_OPTS["async"],
    Opt("xml", "filename containing XML description of the copy destination"),
    Opt("format", "format of the destination file"),
    Opt("granularity", "power-of-two granularity to use during the copy", kind="intstring"),
    Opt("buf-size", "maximum amount of in-flight data during the copy", kind="intstring"),
    blockjob.JOB_OPTS["bytes"],
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
    bandwidth = blockjob.bandwidth_of(o)
    granularity = blockjob.parse_uint(o, "granularity")
    buf_size = blockjob.parse_uint(o, "buf-size", _ULLONG_MAX)
    flags = (Copy.SHALLOW if o["shallow"] else 0) | (Copy.REUSE_EXT if o["reuse-external"] else 0)
    flags |= (Copy.TRANSIENT_JOB if o["transient-job"] else 0) | (
        Copy.SYNCHRONOUS_WRITES if o["synchronous-writes"] else 0
    )
    timeout = blockjob.timeout_ms(o)
    blocking = blocking or bool(timeout)
    for a, b in (("dest", "xml"), ("format", "xml"), ("blockdev", "xml"), ("pivot", "finish")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    if not dest and not xml:
        raise CommandError("need either --dest or --xml")
    blockjob.require_blocking(o, blocking, "finish")
    dom = get_domain(s, o["domain"])
    xmlstr = read_file(xml) if xml else None
    if granularity or buf_size or (fmt and fmt != "raw") or xml or o["transient-job"] or \
            o["synchronous-writes"] or o["print-xml"]:  # fmt: skip
        params = _copy_params(bandwidth, o["bytes"], granularity, buf_size)
        if xmlstr is None:
            xmlstr = _destination_xml(dest, o["blockdev"], fmt)
        if o["print-xml"]:
            s.out_raw(xmlstr)
            return
        destxml = xmlstr

        def start() -> None:
            dom.block_copy(path, destxml, params, flags)
    else:
        flags |= Rebase.COPY | (Rebase.COPY_DEV if o["blockdev"] else 0) | (Rebase.COPY_RAW if fmt == "raw" else 0)
        flags |= Rebase.BANDWIDTH_BYTES if o["bytes"] else 0

        def start() -> None:
            dom.block_rebase(path, dest, bandwidth, flags)

    end = "pivot" if o["pivot"] else "finish" if o["finish"] else None
    blockjob.run_job(s, dom, path, start, _WORDS, blocking=blocking, timeout=timeout,
                     abort_flags=blockjob.ABORT_ASYNC if o["async"] else 0, verbose=o["verbose"], end=end)  # fmt: skip


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
