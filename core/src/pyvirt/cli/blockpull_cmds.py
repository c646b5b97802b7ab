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

from pyvirt.cli import blockjob_cmd as blockjob
from pyvirt.cli.domain_stats_cmds import DOMAIN
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.flags import DomainBlockCommitFlags as Commit
from pyvirt.flags import DomainBlockPullFlags, DomainBlockRebaseFlags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_PULL_WORDS = blockjob.JobWords("Block Pull", "Pull", "Block Pull started", "Pull complete")


@command(
    "blockpull", "Populate a disk from its backing image.",
    DOMAIN,
    Opt("path", "fully-qualified path of disk", required=True, positional=True),
    blockjob.JOB_OPTS["bandwidth"],
    Opt("base", "path of backing file in chain for a partial pull"),
    Opt("wait", "wait for job to finish", flag=True),
    blockjob.JOB_OPTS["verbose"],
    Opt("timeout", "with --wait, abort if pull exceeds timeout (in seconds)", kind="intstring"),
    blockjob.JOB_OPTS["async"],
    blockjob.JOB_OPTS["keep-relative"],
    blockjob.JOB_OPTS["bytes"],
    description="Populate a disk from its backing image.",
)  # fmt: skip
def cmd_blockpull(s: Session, o: dict[str, Any]) -> None:
    """cmdBlockpull: virsh's checks in its order, the pull started, then (--wait) followed to its end."""
    for name in ("verbose", "async"):  # VSH_REQUIRE_OPTION
        if o[name] and not o["wait"]:
            raise CommandError(f"Option --wait is required by option --{name}")
    path, base = o["path"], o["base"]
    bandwidth = blockjob.bandwidth_of(o)
    timeout = blockjob.timeout_ms(o)
    flags = DomainBlockRebaseFlags.RELATIVE if o["keep-relative"] else 0
    dom = get_domain(s, o["domain"])
    if base or flags:
        flags |= DomainBlockRebaseFlags.BANDWIDTH_BYTES if o["bytes"] else 0

        def start() -> None:
            dom.block_rebase(path, base, bandwidth, flags)
    else:

        def start() -> None:
            dom.block_pull(path, bandwidth, DomainBlockPullFlags.BYTES if o["bytes"] else 0)

    blockjob.run_job(s, dom, path, start, _PULL_WORDS, blocking=o["wait"], timeout=timeout,
                     abort_flags=blockjob.ABORT_ASYNC if o["async"] else 0, verbose=o["verbose"])  # fmt: skip


@command(
    "blockcommit", "Start a block commit operation.",
    DOMAIN,
    Opt("path", "fully-qualified path of disk", required=True, positional=True),
    blockjob.JOB_OPTS["bandwidth"],
    Opt("base", "path of base file to commit into (default bottom of chain)"),
    Opt("shallow", "use backing file of top as base", flag=True),
    Opt("top", "path of top file to commit from (default top of chain)"),
    Opt("active", "trigger two-stage active commit of top file", flag=True),
    Opt("delete", "delete files that were successfully committed", flag=True),
    Opt("wait", "wait for job to complete (with --active, wait for job to sync)", flag=True),
    blockjob.JOB_OPTS["verbose"],
    Opt("timeout", "implies --wait, abort if copy exceeds timeout (in seconds)", kind="intstring"),
    Opt("pivot", "implies --active --wait, pivot when commit is synced", flag=True),
    Opt("keep-overlay", "implies --active --wait, quit when commit is synced", flag=True),
    blockjob.JOB_OPTS["async"],
    blockjob.JOB_OPTS["keep-relative"],
    blockjob.JOB_OPTS["bytes"],
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
    bandwidth = blockjob.bandwidth_of(o)
    flags = (Commit.BANDWIDTH_BYTES if o["bytes"] else 0) | (Commit.SHALLOW if o["shallow"] else 0)
    flags |= (Commit.DELETE if o["delete"] else 0) | (Commit.ACTIVE if active else 0)
    flags |= Commit.RELATIVE if o["keep-relative"] else 0
    timeout = blockjob.timeout_ms(o)
    blocking = blocking or bool(timeout)
    blockjob.require_blocking(o, blocking, "keep-overlay")
    dom = get_domain(s, o["domain"])
    if active:
        words = blockjob.JobWords("Block commit", "Commit", "Active Block Commit started",
                                  "Now in synchronized phase", "Commit complete, overlay image kept")  # fmt: skip
    else:
        words = blockjob.JobWords("Block commit", "Commit", "Block Commit started", "Commit complete")
    end = "pivot" if pivot else "finish" if finish else None
    blockjob.run_job(s, dom, path, lambda: dom.block_commit(path, o["base"], o["top"], bandwidth, flags), words,
                     blocking=blocking, timeout=timeout, abort_flags=blockjob.ABORT_ASYNC if o["async"] else 0,
                     verbose=o["verbose"], end=end)  # fmt: skip
