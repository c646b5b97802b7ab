"""``pyvirsh migrate`` and ``domjobinfo``, as virsh's cmdMigrate/doMigrate and cmdDomjobinfo do them.

``migrate`` runs the migration in a worker thread while the command watches
the job (virshWatchJob): every half second it asks for the job's progress
(virDomainGetJobInfo) and with ``--verbose`` prints virsh's
``\\rMigration: [ 42 %]`` on stderr; after ``--timeout`` seconds it suspends
the guest, so the last pass can complete (with ``--timeout-postcopy`` it
switches to post-copy instead, as ``--postcopy-after-precopy`` does once the
first pass ended). Without ``--p2p`` pyvirsh opens the destination itself,
with the same keepalive as the source's connection, and drives libvirt's
five phases (``Domain.migrate3``); with ``--p2p`` the source's daemon does
(``Domain.migrate_to_uri3``). ``migrate-postcopy`` switches a running
migration to post-copy (virDomainMigrateStartPostCopy);
``migrate-setmaxdowntime`` / ``migrate-getmaxdowntime`` set and read the
longest pause a live migration may take for its last pass
(virDomainMigrateSetMaxDowntime / GetMaxDowntime).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.nosupport_cmds import options_of
from pyvirt.errors import Error
from pyvirt.flags import DomainGetJobStatsFlags as JobStats
from pyvirt.migration import PARAM_TYPES, JobType, MigrateFlag, MigrateParam
from pyvirt.plugin.typed_params import TypedParam

if TYPE_CHECKING:
    from pyvirt.cli.progress import Progress

__all__: list[str] = []

_FLAG_OPTIONS = (
    ("live", MigrateFlag.LIVE), ("p2p", MigrateFlag.PEER2PEER), ("tunnelled", MigrateFlag.TUNNELLED),
    ("persistent", MigrateFlag.PERSIST_DEST), ("undefinesource", MigrateFlag.UNDEFINE_SOURCE),
    ("suspend", MigrateFlag.PAUSED), ("copy-storage-all", MigrateFlag.NON_SHARED_DISK),
    ("copy-storage-inc", MigrateFlag.NON_SHARED_INC), ("change-protection", MigrateFlag.CHANGE_PROTECTION),
    ("unsafe", MigrateFlag.UNSAFE), ("compressed", MigrateFlag.COMPRESSED),
    ("auto-converge", MigrateFlag.AUTO_CONVERGE), ("offline", MigrateFlag.OFFLINE),
    ("abort-on-error", MigrateFlag.ABORT_ON_ERROR), ("postcopy", MigrateFlag.POSTCOPY),
    ("tls", MigrateFlag.TLS), ("parallel", MigrateFlag.PARALLEL), ("rdma-pin-all", MigrateFlag.RDMA_PIN_ALL),
    ("copy-storage-synchronous-writes", MigrateFlag.NON_SHARED_SYNCHRONOUS_WRITES),
    ("postcopy-resume", MigrateFlag.POSTCOPY_RESUME), ("zerocopy", MigrateFlag.ZEROCOPY),
)  # fmt: skip
_STRING_PARAMS = (
    ("migrateuri", MigrateParam.URI), ("graphicsuri", MigrateParam.GRAPHICS_URI),
    ("listen-address", MigrateParam.LISTEN_ADDRESS), ("dname", MigrateParam.DEST_NAME),
    ("disks-uri", MigrateParam.DISKS_URI), ("tls-destination", MigrateParam.TLS_DESTINATION),
)  # fmt: skip
_LIST_PARAMS = (("migrate-disks", MigrateParam.MIGRATE_DISKS), ("comp-methods", MigrateParam.COMPRESSION))
_NUMBER_PARAMS = (
    ("disks-port", MigrateParam.DISKS_PORT), ("comp-mt-level", MigrateParam.COMPRESSION_MT_LEVEL),
    ("comp-mt-threads", MigrateParam.COMPRESSION_MT_THREADS),
    ("comp-mt-dthreads", MigrateParam.COMPRESSION_MT_DTHREADS),
    ("comp-xbzrle-cache", MigrateParam.COMPRESSION_XBZRLE_CACHE),
    ("auto-converge-initial", MigrateParam.AUTO_CONVERGE_INITIAL),
    ("auto-converge-increment", MigrateParam.AUTO_CONVERGE_INCREMENT),
    ("postcopy-bandwidth", MigrateParam.BANDWIDTH_POSTCOPY), ("parallel-connections", MigrateParam.PARALLEL_CONNECTIONS),
    ("bandwidth", MigrateParam.BANDWIDTH),
)  # fmt: skip
_PROGRESS_PERIOD = 0.5  # virshWatchJob's progress timer


@command(
    "migrate", "migrate domain to another host", *options_of("migrate"),
    description="Migrate domain to another host.  Add --live for live migration.",
)  # fmt: skip
def cmd_migrate(s: Session, o: dict[str, Any]) -> None:
    if o["live"] and o["offline"]:
        raise CommandError("Options --live and --offline are mutually exclusive")
    for needs_postcopy in ("postcopy-after-precopy", "postcopy-resume", "timeout-postcopy"):
        if o[needs_postcopy] and not o["postcopy"]:
            raise CommandError(f"Option --postcopy is required by option --{needs_postcopy}")
    if o["timeout-suspend"] and o["timeout-postcopy"]:
        raise CommandError("Options --timeout-suspend and --timeout-postcopy are mutually exclusive")
    if o["persistent-xml"] and not o["persistent"]:
        raise CommandError("Option --persistent-xml is required by option --persistent")
    if o["tls-destination"] and not o["tls"]:
        raise CommandError("Option --tls-destination is required by option --tls")
    timeout = int(o["timeout"] or 0)
    if timeout < 0:
        raise CommandError("Numeric value for <timeout> option is malformed or out of range")
    if timeout > 0 and not o["live"]:
        raise CommandError("migrate: Unexpected timeout for offline migration")
    if (o["timeout-suspend"] or o["timeout-postcopy"]) and not timeout:
        raise CommandError("migrate: Unexpected --timeout-* option without --timeout")
    dom = get_domain(s, o["domain"])
    flags = 0
    for name, flag in _FLAG_OPTIONS:
        if o[name]:
            flags |= flag
    params = [TypedParam(field, PARAM_TYPES[field], o[opt]) for opt, field in _STRING_PARAMS if o[opt]]
    for opt, field in _LIST_PARAMS:  # one parameter per item, as virsh adds them
        params += [TypedParam(field, PARAM_TYPES[field], item) for item in (o[opt] or "").split(",") if item]
    for opt, field in (("xml", MigrateParam.DEST_XML), ("persistent-xml", MigrateParam.PERSIST_XML)):
        if o[opt]:
            params.append(TypedParam(field, PARAM_TYPES[field], read_file(o[opt])))
    for opt, field in _NUMBER_PARAMS:
        if o[opt] is not None:
            params.append(TypedParam(field, PARAM_TYPES[field], int(o[opt])))
    dest = None
    if not (o["p2p"] or o["direct"]):
        import pyvirt

        # as virsh: the client connects to the destination itself, with the same keepalive (-k/-K) as the
        # source's connection, which is what notices a destination lost while the source performs
        dest = s._keep_alive(pyvirt.open(o["desturi"]))
    failure: list[Error] = []
    done = threading.Event()

    def work() -> None:
        try:
            if dest is None:
                dom.migrate_to_uri3(o["desturi"], params, flags)
            else:
                dom.migrate3(dest, params, flags)
        except Error as exc:
            failure.append(exc)
        finally:
            done.set()

    from pyvirt.cli.progress import Progress

    # virsh's "Migration: [ 45 %]" with --verbose; without it, a bar when stderr is a terminal
    progress = Progress(s, "Migration", verbose=bool(o["verbose"]))
    worker = threading.Thread(target=work, name="pyvirsh-migrate", daemon=True)
    worker.start()
    try:
        _watch(s, dom, done, progress, timeout=timeout, to_postcopy=bool(o["timeout-postcopy"]),
               after_precopy=bool(o["postcopy-after-precopy"]))  # fmt: skip
        worker.join()
    finally:
        if dest is not None:
            dest.close()
    if failure:
        if progress.mode == "bar":
            s.error_raw("\n")
        raise failure[0]
    progress.finish(newline=progress.mode == "bar")  # virsh's line is ended by the command's trailer


@command(
    "migrate-postcopy", "Switch running migration from pre-copy to post-copy", *options_of("migrate-postcopy"),
    description="Switch running migration from pre-copy to post-copy. The migration must have been started "
    "with --postcopy option.",
)  # fmt: skip
def cmd_migrate_postcopy(s: Session, o: dict[str, Any]) -> None:
    get_domain(s, o["domain"]).migrate_start_post_copy(0)


@command(
    "migrate-setmaxdowntime", "set maximum tolerable downtime",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("downtime", "maximum tolerable downtime (in milliseconds) for migration", required=True, positional=True,
        kind="intstring"),
    description="Set maximum tolerable downtime of a domain which is being live-migrated to another host.",
)  # fmt: skip
def cmd_migrate_setmaxdowntime(s: Session, o: dict[str, Any]) -> None:
    """virsh's cmdMigrateSetMaxDowntime: the domain is looked up first, then the number is read
    (vshCommandOptULongLong: decimal digits only, no sign) and 0 refused before the API is called."""
    dom = get_domain(s, o["domain"])
    raw = o["downtime"]
    if not raw.isascii() or not raw.isdigit() or int(raw) >= 1 << 64:
        raise CommandError(f"Numeric value '{raw}' for <downtime> option is malformed or out of range")
    if int(raw) < 1:
        raise CommandError("migrate: Invalid downtime")
    dom.migrate_set_max_downtime(int(raw), 0)


@command(
    "migrate-getmaxdowntime", "get maximum tolerable downtime",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    description="Get maximum tolerable downtime of a domain which is being live-migrated to another host.",
)  # fmt: skip
def cmd_migrate_getmaxdowntime(s: Session, o: dict[str, Any]) -> None:
    s.out(str(get_domain(s, o["domain"]).migrate_get_max_downtime(0)))


def _watch(
    s: Session,
    dom: Any,
    done: threading.Event,
    progress: Progress,
    *,
    timeout: int,
    to_postcopy: bool = False,
    after_precopy: bool = False,
) -> None:
    """virshWatchJob: progress every half second, the timeout's action once (virshMigrateTimeout: suspend,
    or with ``--timeout-postcopy`` the switch to post-copy).

    ``--postcopy-after-precopy``: virsh switches when libvirt's MIGRATION_ITERATION event says the first
    pass ended (iteration 2); pyvirsh reads the same count (``memory_iteration``) from the job's progress.
    """
    deadline = time.monotonic() + timeout if timeout else None
    switched = False
    while not done.wait(_PROGRESS_PERIOD):
        if deadline is not None and time.monotonic() >= deadline:
            deadline = None
            if to_postcopy:
                s.debug(0, "migration timed out; switching to post-copy\n")
                switched = _start_post_copy(s, dom)
            else:
                s.debug(0, "migration timed out; suspending domain\n")
                try:
                    dom.suspend()
                except Error:
                    s.debug(1, "suspending domain failed\n")
        if not progress.enabled and not (after_precopy and not switched):
            continue
        try:
            values = {p.field: p.value for p in dom.job_stats(0)[1]}
        except Error:
            continue
        if after_precopy and not switched and int(values.get("memory_iteration", 0)) >= 2:
            s.debug(0, "iteration 1 finished; switching to post-copy\n")
            switched = _start_post_copy(s, dom)
        if not progress.enabled:
            continue
        total = int(values.get("data_total", 0))
        if total > 0 and not done.is_set():
            progress.update(total - int(values.get("data_remaining", 0)), total)


def _start_post_copy(s: Session, dom: Any) -> bool:
    """virDomainMigrateStartPostCopy as virsh calls it from its watch: a failure is only a debug line."""
    try:
        dom.migrate_start_post_copy(0)
    except Error:
        s.debug(1, "switching to post-copy failed\n")
    return True


_JOB_TYPES = ("None", "Bounded", "Unbounded", "Completed", "Failed", "Cancelled")
_OPERATIONS = ("Unknown", "Start", "Save", "Restore", "Incoming migration", "Outgoing migration", "Snapshot",
               "Snapshot revert", "Dump", "Backup", "Snapshot delete")  # fmt: skip


def _pretty(value: int) -> tuple[float, str]:
    """vshPrettyCapacity."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if value >= 1 << shift:
            return value / (1 << shift), unit
    return float(value), "B"


@command(
    "domjobinfo", "domain job information",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("completed", "return statistics of a recently completed job", flag=True),
    Opt("keep-completed", "don't destroy statistics of a recently completed job when reading", flag=True),
    Opt("anystats", "print statistics for any kind of job (even failed ones)", flag=True),
    Opt("rawstats", "print the raw data returned by libvirt", flag=True),
    description="Returns information about jobs running on a domain.",
)  # fmt: skip
def cmd_domjobinfo(s: Session, o: dict[str, Any]) -> None:
    if o["keep-completed"] and not o["completed"]:
        raise CommandError("Option --keep-completed is required by option --completed")
    flags = (JobStats.COMPLETED if o["completed"] else 0) | (JobStats.KEEP_COMPLETED if o["keep-completed"] else 0)
    kind, params = get_domain(s, o["domain"]).job_stats(flags)
    if o["rawstats"]:
        s.out(f"Job type: {kind}\n")
        for p in params:
            s.out(f"{p.field}: {p.value}")
        return
    values = {p.field: p.value for p in params}

    def row(label: str, text: str) -> None:
        s.out(f"{label:<17} {text}")

    def size(label: str, key: str) -> None:
        value, unit = _pretty(int(values.get(key, 0)))
        row(label, f"{value:.3f} {unit}")

    row("Job type:", f"{_JOB_TYPES[kind] if 0 <= kind < len(_JOB_TYPES) else 'unknown':<12}")
    if kind == JobType.NONE:
        return
    op = int(values.get("operation", 0))
    row("Operation:", f"{_OPERATIONS[op] if 0 <= op < len(_OPERATIONS) else 'unknown':<12}")
    if (
        not o["anystats"]
        and kind not in (JobType.BOUNDED, JobType.UNBOUNDED)
        and not (flags & JobStats.COMPLETED and kind == JobType.COMPLETED)
    ):
        return
    row("Time elapsed:", f"{int(values.get('time_elapsed', 0)):<12} ms")
    if kind == JobType.BOUNDED:
        row("Time remaining:", f"{int(values.get('time_remaining', 0)):<12} ms")
    for prefix, key in (("Data", "data"), ("Memory", "memory"), ("File", "disk")):
        if any(values.get(f"{key}_{part}") for part in ("total", "remaining", "processed")):
            size(f"{prefix} processed:", f"{key}_processed")
            size(f"{prefix} remaining:", f"{key}_remaining")
            size(f"{prefix} total:", f"{key}_total")
            if key == "memory":
                if values.get("memory_bps"):
                    value, unit = _pretty(int(values["memory_bps"]))
                    row("Memory bandwidth:", f"{value:.3f} {unit}/s")
                for label, field, suffix in (("Dirty rate:", "memory_dirty_rate", " pages/s"),
                                             ("Page size:", "memory_page_size", " bytes"),
                                             ("Iteration:", "memory_iteration", ""),
                                             ("Postcopy requests:", "memory_postcopy_requests", "")):  # fmt: skip
                    if field in values:
                        row(label, f"{int(values[field]):<12}{suffix}")
    if "memory_constant" in values:
        row("Constant pages:", f"{int(values['memory_constant']):<12}")
    if "memory_normal" in values:
        row("Normal pages:", f"{int(values['memory_normal']):<12}")
    if "memory_normal_bytes" in values:
        size("Normal data:", "memory_normal_bytes")
    if "downtime" in values:
        label = "Total downtime:" if kind == JobType.COMPLETED else "Expected downtime:"
        row(label, f"{int(values['downtime']):<12} ms")
    if "setup_time" in values:
        row("Setup time:", f"{int(values['setup_time']):<12} ms")
    if "disk_temp_used" in values:  # a pull backup's scratch space
        size("Temporary disk space use:", "disk_temp_used")
    if "disk_temp_total" in values:
        size("Temporary disk space total:", "disk_temp_total")
    if "errmsg" in values:
        row("Error message:", str(values["errmsg"]))
