"""blockpull and blockcommit: virsh 9.0's cmdBlockpull and cmdBlockcommit, and their wait for the job.

Which call starts a pull is chosen as virsh chooses it, since an older daemon
may serve only one: virDomainBlockPull for the whole chain, virDomainBlockRebase
once --base or --keep-relative is given. With --wait (blockcommit: also
--pivot, --keep-overlay, --timeout) the command follows the disk's block job
as blockcopy does, with virsh's ``Block Pull: [ 42 %]`` / ``Block commit: [ 42
%]`` line under --verbose and its closing words; Ctrl-C or the timeout aborts
the job.
"""

from __future__ import annotations

from pyvirt.cli.blockcopy_cmd import JobWaiter, call, timeout_ms
from pyvirt.cli.blockjob_cmd import parse_bandwidth
from pyvirt.cli.domain_stats_cmds import DOMAIN
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_REBASE_RELATIVE = 16  # VIR_DOMAIN_BLOCK_REBASE_RELATIVE
_REBASE_BYTES = 64  # VIR_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES
_PULL_BYTES = 64  # VIR_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES
_COMMIT_SHALLOW = 1  # VIR_DOMAIN_BLOCK_COMMIT_SHALLOW
_COMMIT_DELETE = 2  # VIR_DOMAIN_BLOCK_COMMIT_DELETE
_COMMIT_ACTIVE = 4  # VIR_DOMAIN_BLOCK_COMMIT_ACTIVE
_COMMIT_RELATIVE = 8  # VIR_DOMAIN_BLOCK_COMMIT_RELATIVE
_COMMIT_BYTES = 16  # VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES
_ABORT_ASYNC = 1  # VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC
_ABORT_PIVOT = 2  # VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
_COMPLETED, _FAILED, _CANCELED, _READY = 0, 1, 2, 3  # virConnectDomainEventBlockJobStatus


@command(
    "blockpull", "Populate a disk from its backing image.",
    DOMAIN,
    Opt("path", "fully-qualified path of disk", required=True, positional=True),
    Opt("bandwidth", "bandwidth limit in MiB/s", kind="intstring"),
    Opt("base", "path of backing file in chain for a partial pull"),
    Opt("wait", "wait for job to finish", flag=True),
    Opt("verbose", "with --wait, display the progress", flag=True),
    Opt("timeout", "with --wait, abort if pull exceeds timeout (in seconds)", kind="intstring"),
    Opt("async", "with --wait, don't wait for cancel to finish", flag=True),
    Opt("keep-relative", "keep the backing chain relatively referenced", flag=True),
    Opt("bytes", "the bandwidth limit is in bytes/s rather than MiB/s", flag=True),
    description="Populate a disk from its backing image.",
)  # fmt: skip
def cmd_blockpull(s: Session, o: dict[str, Any]) -> None:
    """cmdBlockpull: virsh's checks in its order, the pull started, then (--wait) followed to its end."""
    for name in ("verbose", "async"):  # VSH_REQUIRE_OPTION
        if o[name] and not o["wait"]:
            raise CommandError(f"Option --wait is required by option --{name}")
    path, base = o["path"], o["base"]
    bandwidth = parse_bandwidth(o["bandwidth"], o["bytes"]) if o["bandwidth"] is not None else 0
    timeout = timeout_ms(o)
    flags = _REBASE_RELATIVE if o["keep-relative"] else 0
    dom = get_domain(s, o["domain"])
    waiter = JobWaiter(s, dom, path, "Block Pull") if o["wait"] else None
    try:
        if base or flags:
            flags |= _REBASE_BYTES if o["bytes"] else 0
            call(lambda: dom.block_rebase(path, base, bandwidth, flags))
        else:
            call(lambda: dom.block_pull(path, bandwidth, _PULL_BYTES if o["bytes"] else 0))
        if waiter is None:
            s.extra_raw("Block Pull started")
            return
        status = waiter.wait(timeout, _ABORT_ASYNC if o["async"] else 0, o["verbose"])
    finally:
        if waiter is not None:
            waiter.close()
    if status == _CANCELED:
        s.extra_raw("\nPull aborted")
        raise CommandError()
    if status == _FAILED:
        s.extra_raw("\nPull failed")
        raise CommandError()
    s.extra_raw("\nPull complete")


@command(
    "blockcommit", "Start a block commit operation.",
    DOMAIN,
    Opt("path", "fully-qualified path of disk", required=True, positional=True),
    Opt("bandwidth", "bandwidth limit in MiB/s", kind="intstring"),
    Opt("base", "path of base file to commit into (default bottom of chain)"),
    Opt("shallow", "use backing file of top as base", flag=True),
    Opt("top", "path of top file to commit from (default top of chain)"),
    Opt("active", "trigger two-stage active commit of top file", flag=True),
    Opt("delete", "delete files that were successfully committed", flag=True),
    Opt("wait", "wait for job to complete (with --active, wait for job to sync)", flag=True),
    Opt("verbose", "with --wait, display the progress", flag=True),
    Opt("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)", kind="intstring"),
    Opt("pivot", "implies --active --wait, pivot when commit is synced", flag=True),
    Opt("keep-overlay", "implies --active --wait, quit when commit is synced", flag=True),
    Opt("async", "with --wait, don't wait for cancel to finish", flag=True),
    Opt("keep-relative", "keep the backing chain relatively referenced", flag=True),
    Opt("bytes", "the bandwidth limit is in bytes/s rather than MiB/s", flag=True),
    description="Commit changes from a snapshot down to its backing image.",
)  # fmt: skip
def cmd_blockcommit(s: Session, o: dict[str, Any]) -> None:
    """cmdBlockcommit: the commit started, then (blocking) followed to its end or, for an active commit, to
    its synchronized phase, where --pivot switches the disk to the base and --keep-overlay ends the job."""
    pivot, finish = o["pivot"], o["keep-overlay"]
    active = o["active"] or pivot or finish
    blocking = o["wait"] or pivot or finish
    if pivot and finish:
        raise CommandError("Options --pivot and --keep-overlay are mutually exclusive")
    path = o["path"]
    bandwidth = parse_bandwidth(o["bandwidth"], o["bytes"]) if o["bandwidth"] is not None else 0
    flags = (_COMMIT_BYTES if o["bytes"] else 0) | (_COMMIT_SHALLOW if o["shallow"] else 0)
    flags |= (_COMMIT_DELETE if o["delete"] else 0) | (_COMMIT_ACTIVE if active else 0)
    flags |= _COMMIT_RELATIVE if o["keep-relative"] else 0
    timeout = timeout_ms(o)
    blocking = blocking or bool(timeout)
    if not blocking:
        for name in ("verbose", "async"):
            if o[name]:
                raise CommandError(f"--{name} requires at least one of --timeout, --wait, --pivot, or --keep-overlay")
    abort_flags = _ABORT_ASYNC if o["async"] else 0
    dom = get_domain(s, o["domain"])
    waiter = JobWaiter(s, dom, path, "Block commit") if blocking else None
    try:
        call(lambda: dom.block_commit(path, o["base"], o["top"], bandwidth, flags))
        if waiter is None:
            s.extra_raw("Active Block Commit started" if active else "Block Commit started")
            return
        status = waiter.wait(timeout, abort_flags, o["verbose"])
    finally:
        if waiter is not None:
            waiter.close()
    if status == _CANCELED:
        s.extra_raw("\nCommit aborted")
        raise CommandError()
    if status == _FAILED:
        s.extra_raw("\nCommit failed")
        raise CommandError()
    if not active:
        s.extra_raw("\nCommit complete")
    elif pivot:
        try:
            dom.block_job_abort(path, abort_flags | _ABORT_PIVOT)
        except Error as exc:
            raise CommandError(f"failed to pivot job for disk {path}", exc.message) from None
        s.extra_raw("\nSuccessfully pivoted")
    elif finish:
        try:
            dom.block_job_abort(path, abort_flags)
        except Error as exc:
            raise CommandError(f"failed to finish job for disk {path}", exc.message) from None
        s.extra_raw("\nCommit complete, overlay image kept")
    else:
        s.extra_raw("\nNow in synchronized phase")
