"""backup-begin / backup-dumpxml / domjobinfo of a backup on QEMU guests: libvirt 9.0's src/qemu/qemu_backup.c.

A backup copies each chosen disk as it was at the instant the backup began,
while the guest keeps running. All disks start in one QMP ``transaction`` so
they share that instant. The description is parsed and completed in
:mod:`pyvirt_qemu.backup_def`.

Push mode: QEMU's ``blockdev-backup`` with ``sync=full`` from the disk's
format node into a new target image, which is made the way a block copy's is
(an empty file, labelled, formatted by QEMU's ``blockdev-create``) unless
REUSE_EXTERNAL says it exists. The backup ends when every copy has ended.

Pull mode: the caller reads the disks itself over NBD. Each disk gets a
qcow2 *scratch* image whose backing is the live disk, and a
``blockdev-backup`` with ``sync=none`` into it: QEMU copies a cluster's old
content into the scratch image just before the guest overwrites it, so the
scratch node reads as the disk did at the backup's instant. QEMU's NBD
server (``nbd-server-start`` at the ``<server>``; TCP needs a port, as in
libvirt; ``tls='yes'`` adds a ``tls-creds-x509`` object from qemu.conf's
backup TLS directory) exports each scratch node read-only under the disk's
target name (``block-export-add``). A pull backup never finishes by itself:
it runs until ``domjobabort`` (or the guest's end), which cancels the
copies; the server stops and the scratch files are removed, as libvirt
removes them.

Incremental: ``<incremental>X</incremental>`` (or a disk's own) names a
checkpoint (:mod:`pyvirt_qemu.checkpoints`); the checkpoint's bitmaps down
each disk's chain are merged into a temporary ``backup-<disk>`` bitmap in the
same transaction. A push backup copies only the clusters it marks
(``sync=incremental``) into a qcow2 target whose backing is the disk; a pull
backup puts the bitmap on the scratch node and offers it with the export
(``qemu:dirty-bitmap:backup-<disk>``). A ``<domaincheckpoint>`` given to
backup-begin is created in the backup's transaction, so both share the
instant, and is recorded once QEMU has done it.

The backup is the domain's asynchronous BACKUP job, left held when the call
returns: a watcher follows QEMU's jobs until every copy has concluded, then
removes the nodes, gives the labels back, records the final figures for
``domjobinfo --completed`` and raises job-completed with them
(qemuBackupNotifyBlockjobEnd, qemuBackupJobTerminate). While it runs,
``domjobinfo`` shows libvirt's figures from ``query-jobs``: for push the
data copied of the total, for pull the temporary space the scratch images use.

Not here: a TLS server key protected by ``backup_tls_x509_secret_uuid``
(refused: it needs the guest's master key, which only a start hands out),
and a scratch or target's ``<seclabel>``/``<encryption>`` (not read).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationInvalidError,
)
from pyvirt.events import JobCompletedEvent
from pyvirt.flags import DomainBackupBeginFlags
from pyvirt.flags import DomainGetJobStatsFlags as JobStats
from pyvirt.local_driver.domain_jobs import DEFAULT_MASK, AsyncJob, Job
from pyvirt.migration import JobType
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, typed_param
from pyvirt_qemu import checkpoints
from pyvirt_qemu.backup_def import BackupDef, BackupDisk, BackupTls, align_disks, format_backup, parse_backup
from pyvirt_qemu.block_copy_create import create_file, format_props, image_facts, run_create, storage_props
from pyvirt_qemu.block_nodes import disk_blockdevs, format_node, next_node_id
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.migration_jobs import jobs_of
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["BackupHooks"]

_OPERATION_BACKUP = 9  # VIR_DOMAIN_JOB_OPERATION_BACKUP
# libvirt's mask for the backup job: queries, and suspend and modify beside it
_MASK = DEFAULT_MASK | {Job.SUSPEND, Job.MODIFY}
_TLS_ALIAS = "objlibvirt_backup_tls0"  # qemuAliasTLSObjFromSrcAlias("libvirt_backup")
_POLL = {"push": 0.05, "pull": 0.5}  # seconds between looks at QEMU's jobs (a pull backup waits for an abort)


@dataclass
class _DiskRun:
    """qemuBackupDiskData: one disk being backed up, its QEMU job and its state (virDomainBackupDiskState)."""

    bd: BackupDisk
    disk: Disk
    source: str  # the disk's top format node
    job: str
    store_node: str = ""  # the target's (scratch's) format node
    bitmap: str | None = None  # an incremental backup's bitmap (on the scratch node for pull, the disk's for push)
    state: str = "running"  # running, complete, failed, cancelling, cancelled


@dataclass
class Backup:
    """A running backup (libvirt's priv->backup): its description, disks, nodes, what to undo, and figures."""

    bdef: BackupDef
    reuse: bool
    runs: list[_DiskRun] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    labelled: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    nbd_running: bool = False
    tls_alias: str | None = None
    started: float = field(default_factory=time.monotonic)
    # the figures of the copies that ended (push: copied of total; pull: scratch space used of total)
    done_current: int = 0
    done_total: int = 0
    errmsg: str | None = None
    wake: threading.Event = field(default_factory=threading.Event)


# the running backups, by driver state and domain (libvirt's priv->backup)
_RUNNING: dict[tuple[int, str], Backup] = {}


def _key(state: QemuState, obj: DomainObj) -> tuple[int, str]:
    return (id(state), obj.uuid)


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def _prepare_server(bdef: BackupDef) -> None:
    """qemuBackupPrepare: a pull backup's server, TCP on localhost unless said otherwise; TCP needs a port."""
    from pyvirt_qemu.backup_def import BackupServer

    if not bdef.pull:
        return
    if bdef.server is None:
        bdef.server = BackupServer(transport="tcp", name="localhost")
    if bdef.server.transport == "tcp" and not bdef.server.port:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "<domainbackup> must specify TCP port for now")


def _tls_props(bdef: BackupDef, cfg: BackupTls) -> dict[str, Any] | None:
    """qemuBackupBeginPrepareTLS: for ``tls='yes'`` the server's ``tls-creds-x509`` from qemu.conf's backup
    directory (QEMU reads, and refuses, the certificates when the object is added)."""
    if not (bdef.server is not None and bdef.server.tls):
        return None
    if cfg.secret_uuid:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "backup_tls_x509_secret_uuid without the guest's "
                                "master key is not supported by the QEMU driver yet")  # fmt: skip
    return {"qom-type": "tls-creds-x509", "id": _TLS_ALIAS, "dir": cfg.cert_dir, "endpoint": "server",
            "verify-peer": cfg.verify}  # fmt: skip


def _server_address(bdef: BackupDef) -> dict[str, Any]:
    """qemuMonitorJSONNBDServerStart's ``addr``: an inet or unix socket address."""
    server = bdef.server
    assert server is not None
    if server.transport == "unix":
        return {"type": "unix", "data": {"path": server.socket}}
    return {"type": "inet", "data": {"host": server.name, "port": str(server.port)}}


def _job_params(backup: Backup, current: int, total: int, status: JobType) -> list[TypedParam]:
    """qemuDomainBackupJobDataToParams: the operation, the time, then push's disk or pull's temporary figures,
    and for an ended job whether it succeeded and its error."""
    out = [typed_param("operation", TypedParamType.INT, _OPERATION_BACKUP),
           typed_param("time_elapsed", TypedParamType.ULLONG, int((time.monotonic() - backup.started) * 1000))]  # fmt: skip
    if (current or total) and not backup.bdef.pull:
        out += [typed_param("disk_total", TypedParamType.ULLONG, total),
                typed_param("disk_processed", TypedParamType.ULLONG, current),
                typed_param("disk_remaining", TypedParamType.ULLONG, total - current)]  # fmt: skip
    if (current or total) and backup.bdef.pull:
        out += [typed_param("disk_temp_used", TypedParamType.ULLONG, current),
                typed_param("disk_temp_total", TypedParamType.ULLONG, total)]  # fmt: skip
    if status != JobType.UNBOUNDED:
        out.append(typed_param("success", TypedParamType.BOOLEAN, status == JobType.COMPLETED))
    if backup.errmsg:
        out.append(typed_param("errmsg", TypedParamType.STRING, backup.errmsg))
    return out


class BackupHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_backup_begin(self, dom: DomainRef, xml: str, checkpoint_xml: str | None, flags: int) -> None:
        """qemuBackupBegin: phases in libvirt's order, one rollback (nothing is left of a backup that failed)."""
        check_flags(flags, DomainBackupBeginFlags.EXTERNAL, "qemuBackupBegin")
        bdef = parse_backup(xml)
        chk = None
        if checkpoint_xml is not None:  # virDomainCheckpointDefParseString: named after now unless named
            chk = checkpoints.parse(checkpoint_xml)
            chk.creation_time = int(time.time())
            chk.name = chk.name or str(chk.creation_time)
        suffix = chk.name if chk is not None and chk.name else str(int(time.time()))
        obj = self.state.find(dom)
        obj.job.begin_async(AsyncJob.BACKUP, mask=frozenset(_MASK))
        started = False
        try:
            if not obj.active or obj.process is None:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "cannot perform disk backup for inactive domain")  # fmt: skip
            with obj.lock:
                live = obj.live.model_copy(deep=True)
            align_disks(bdef, live, suffix)
            if _RUNNING.get(_key(self.state, obj)) is not None:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "another backup job is already running")
            _prepare_server(bdef)
            tls = _tls_props(bdef, self.state.backup_tls)
            proc = self._still_running(obj)
            store = checkpoints.CheckpointStore(self.state.paths, obj.name)
            actions: list[dict[str, Any]] = []
            if chk is not None:  # qemuCheckpointCreateCommon: its bitmaps join the backup's transaction
                checkpoints.prepare_new(store, obj, chk)
                actions += checkpoints.checkpoint_add_actions(chk, live)
            backup = Backup(bdef, reuse=bool(flags & DomainBackupBeginFlags.EXTERNAL))
            try:
                actions += self._prepare_data(live, backup, store, checkpoints.node_bitmaps(proc.monitor))
                self._prepare_storage(obj, proc, backup)
                if tls is not None:
                    execute_checked(proc, "object-add", tls)
                    backup.tls_alias = _TLS_ALIAS
                if bdef.pull:
                    start = {"addr": _server_address(bdef)} | ({"tls-creds": _TLS_ALIAS} if tls else {})
                    execute_checked(proc, "nbd-server-start", start)
                    backup.nbd_running = True
                execute_checked(proc, "transaction", {"actions": actions})
            except BaseException:
                self._undo(obj, proc, backup, keep_files=False)
                raise
            _RUNNING[_key(self.state, obj)] = backup
            if chk is not None:  # qemuCheckpointCreateFinalize (kept even if an export fails below, as libvirt)
                checkpoints.commit_new(store, chk)
            obj.job.on_abort(lambda: self._cancel(proc, backup))
            started = True
            threading.Thread(target=self._watch, args=(obj, proc, backup), daemon=True,
                             name=f"backup-{obj.name}").start()  # fmt: skip
            if bdef.pull:
                self._export(proc, backup)
        finally:
            if not started:
                obj.job.end_async()

    def _prepare_data(self, live: Domain, backup: Backup, store: checkpoints.CheckpointStore,
                      bitmaps: checkpoints.NodeBitmaps) -> list[dict[str, Any]]:  # fmt: skip
        """qemuBackupDiskPrepareData: per disk its checks, its nodes' numbers, an incremental backup's bitmap and
        its ``blockdev-backup`` action (push: sync=full, or incremental with the bitmap, into the target; pull:
        sync=none into the scratch image, which carries the bitmap the export offers)."""
        domdisks = {d.target_dev: d for d in (live.devices.disks if live.devices is not None else [])}
        next_id = next_node_id(live)
        actions: list[dict[str, Any]] = []
        for bd in backup.bdef.disks:
            if not (bd.backup and bd.stored):
                continue
            disk = domdisks.get(bd.name)
            if disk is None:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"no disk named '{bd.name}'")
            source = format_node(disk)
            if source is None:
                raise _unsupported(f"disk '{bd.name}' has no media")
            if bd.fmt is None:
                bd.fmt = "qcow2"
            elif bd.fmt != "qcow2" and backup.bdef.pull:
                raise _unsupported(f"pull mode backup for disk '{bd.name}' requires qcow2 driver")
            bd.index = next_id
            next_id += 1
            run = _DiskRun(bd, disk, source, f"backup-{bd.name}-{source}", f"libvirt-{bd.index}-format")
            backup.runs.append(run)
            if bd.incremental:
                actions += self._incremental(backup, run, store, bitmaps)
            data: dict[str, Any] = {"device": source, "job-id": run.job, "target": run.store_node, "sync": "full",
                                    "auto-finalize": True, "auto-dismiss": False}  # fmt: skip
            if backup.bdef.pull:
                data["sync"] = "none"
            elif run.bitmap:
                data.update({"sync": "incremental", "bitmap": run.bitmap})
            actions.append({"type": "blockdev-backup", "data": data})
        if not backup.runs:
            raise _unsupported("no disks selected for backup")
        return actions

    @staticmethod
    def _incremental(backup: Backup, run: _DiskRun, store: checkpoints.CheckpointStore,
                     bitmaps: checkpoints.NodeBitmaps) -> list[dict[str, Any]]:  # fmt: skip
        """qemuBackupDiskPrepareDataOne's incremental part: the checkpoint must exist; its bitmaps down the disk's
        chain are merged into ``backup-<disk>`` (or the export bitmap named), on the scratch node for pull, on the
        disk's own node for push."""
        bd = run.bd
        name = bd.incremental or ""
        try:
            store.load(name)
        except NotFoundError:
            raise NotFoundError(ErrorCode.NO_DOMAIN_CHECKPOINT,
                                f"Checkpoint '{name}' for incremental backup of disk '{bd.name}' not found",
                                domain=ErrorDomain.QEMU) from None  # fmt: skip
        run.bitmap = bd.exportbitmap or f"backup-{run.disk.target_dev}"
        node = run.store_node if backup.bdef.pull else run.source
        actions = checkpoints.incremental_bitmap_actions(run.disk, name, node, run.bitmap, bitmaps)
        if backup.bdef.pull:
            bd.exportbitmap = bd.exportbitmap or run.bitmap
        return actions

    def _prepare_storage(self, obj: DomainObj, proc: QemuProcess, backup: Backup) -> None:
        """qemuBackupDiskPrepareStorage: per disk its store made (refused if it exists, unless reused), labelled,
        formatted by QEMU (a scratch image with the disk as its backing) and added as nodes."""
        for run in backup.runs:
            bd, path = run.bd, run.bd.path
            if path is None:  # a disk named without a target or scratch: libvirt fails building its node so
                raise InternalError(ErrorCode.INTERNAL_ERROR, "argument key 'filename' must not have null value")
            if not backup.reuse and bd.kind == "file":
                if os.path.exists(path):
                    raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                               f"store '{path}' for backup of '{bd.name}' exists")  # fmt: skip
                create_file(path)
                backup.created.append(path)
            self.state.security.set_path_label(obj.live, path)
            backup.labelled.append(path)
            store = Disk(type=bd.kind, device="disk", driver_type=bd.fmt, target_dev=bd.name, backing=BackingStore(),
                         source_file=path if bd.kind == "file" else None,
                         source_dev=path if bd.kind == "block" else None)  # fmt: skip
            store.source_index = bd.index
            storage_node, format_node_props = disk_blockdevs(store)
            backing = None
            if backup.bdef.pull or (run.bitmap and bd.fmt == "qcow2"):  # the disk below: pull, incremental push
                format_node_props["backing"] = run.source
                image = run.disk.source_file or run.disk.source_dev
                backing = BackingStore(source_file=image, format=run.disk.driver_type or "raw") if image else None
            if not backup.reuse:
                facts = image_facts(proc.monitor, run.source)
                sized = storage_props(store, storage_node, int(facts.get("virtual-size", 0)))
                if sized is not None:
                    run_create(proc.monitor, f"create-{storage_node['node-name']}", sized)
            execute_checked(proc, "blockdev-add", storage_node)
            backup.nodes.append(str(storage_node["node-name"]))
            if not backup.reuse:
                formatted = format_props(store, str(storage_node["node-name"]), run.disk, facts, backing)
                if formatted is not None:
                    run_create(proc.monitor, f"create-{format_node_props['node-name']}", formatted)
            execute_checked(proc, "blockdev-add", format_node_props)
            backup.nodes.append(run.store_node)

    def _export(self, proc: QemuProcess, backup: Backup) -> None:
        """qemuBackupBeginPullExportDisks: each scratch node exported read-only, named after its disk unless the
        description names it. A failed export cancels the copies (the backup then ends as libvirt's does)."""
        try:
            for run in backup.runs:
                run.bd.exportname = run.bd.exportname or run.bd.name
                props: dict[str, Any] = {"type": "nbd", "id": f"libvirt-nbd-{run.store_node}",
                                         "node-name": run.store_node, "writable": False, "name": run.bd.exportname}  # fmt: skip
                if run.bitmap:  # (an incremental backup's; an exportbitmap named for a full one is only shown)
                    props["bitmaps"] = [run.bitmap]
                execute_checked(proc, "block-export-add", props)
        except BaseException:
            self._cancel(proc, backup)
            raise

    def _undo(self, obj: DomainObj, proc: QemuProcess, backup: Backup, keep_files: bool) -> None:
        """qemuBackupDiskDataCleanup / qemuBackupJobTerminate: the NBD server stopped, the store nodes deleted
        (while QEMU runs), the labels given back, and the files this backup made removed unless kept."""
        self._stop_server(proc, backup)
        for name in reversed(backup.nodes if proc.alive() else []):
            with contextlib.suppress(Error):
                proc.monitor.execute("blockdev-del", {"node-name": name})
        backup.nodes.clear()
        for path in backup.labelled:
            with contextlib.suppress(Error):
                self.state.security.restore_path_label(obj.live, path)
        for path in [] if keep_files else backup.created:
            with contextlib.suppress(OSError):
                os.unlink(path)

    @staticmethod
    def _stop_server(proc: QemuProcess, backup: Backup) -> None:
        """The NBD server stopped (its exports with it) and its TLS credentials deleted, once."""
        if backup.nbd_running and proc.alive():
            with contextlib.suppress(Error):
                proc.monitor.execute("nbd-server-stop")
        if backup.tls_alias and proc.alive():
            with contextlib.suppress(Error):
                proc.monitor.execute("object-del", {"id": backup.tls_alias})
        backup.nbd_running, backup.tls_alias = False, None

    def _cancel(self, proc: QemuProcess, backup: Backup) -> None:
        """qemuBackupJobCancelBlockjobs: every copy still running is cancelled; the watcher sees them end."""
        for run in backup.runs:
            if run.state != "running":
                continue
            with contextlib.suppress(Error):
                proc.monitor.execute("job-cancel", {"id": run.job})
                run.state = "cancelling"
        backup.wake.set()

    def _watch(self, obj: DomainObj, proc: QemuProcess, backup: Backup) -> None:
        """qemuBackupNotifyBlockjobEnd for each copy that concluded, until none runs (or QEMU is gone)."""
        status = JobType.COMPLETED
        try:
            while proc.alive() and any(run.state in ("running", "cancelling") for run in backup.runs):
                jobs = {job.get("id"): job for job in proc.monitor.execute("query-jobs")}
                for run in backup.runs:
                    job = jobs.get(run.job)
                    if run.state in ("running", "cancelling") and (job is None or job.get("status") == "concluded"):
                        self._ended(proc, backup, run, job or {})
                if any(run.state in ("failed", "cancelled") for run in backup.runs):
                    self._cancel(proc, backup)  # "cancel the rest of the jobs"
                backup.wake.wait(_POLL[backup.bdef.mode])
                backup.wake.clear()
            states = {run.state for run in backup.runs}
            if not proc.alive() or "running" in states or "cancelling" in states:
                status = JobType.CANCELLED  # the guest went away (qemuProcessStop terminates the backup so)
            elif "failed" in states:
                status = JobType.FAILED
            elif "cancelled" in states and not backup.bdef.pull:
                status = JobType.CANCELLED
        except Error as exc:
            status, backup.errmsg = JobType.FAILED, backup.errmsg or exc.message
        finally:
            self._terminate(obj, proc, backup, status)

    def _ended(self, proc: QemuProcess, backup: Backup, run: _DiskRun, job: dict[str, Any]) -> None:
        """One copy concluded: its figures added to the backup's, its state set, its QEMU job dismissed."""
        self._stop_server(proc, backup)  # (a pull backup's exports go with the first copy that ends)
        backup.done_current += int(job.get("current-progress", 0))
        backup.done_total += int(job.get("total-progress", 0))
        if job.get("error"):  # the first error, a cancelled copy's too ("Operation canceled"), as libvirt keeps it
            backup.errmsg = backup.errmsg or str(job["error"])
        if run.state == "cancelling":
            run.state = "cancelled"
        elif job.get("error"):
            run.state = "failed"
        else:
            run.state = "complete"
        if job:
            with contextlib.suppress(Error):
                proc.monitor.execute("job-dismiss", {"id": run.job})
        if run.bitmap and not backup.bdef.pull:  # the push copy's temporary bitmap on the disk goes with it
            with contextlib.suppress(Error):
                proc.monitor.execute("block-dirty-bitmap-remove", {"node": run.source, "name": run.bitmap})

    def _terminate(self, obj: DomainObj, proc: QemuProcess, backup: Backup, status: JobType) -> None:
        """qemuBackupJobTerminate: nodes and labels undone, scratch files (and a push backup's unfinished
        targets) removed, the final figures kept for ``domjobinfo --completed`` and sent with job-completed."""
        keep = not backup.bdef.pull and status == JobType.COMPLETED
        with contextlib.suppress(Error):
            self._undo(obj, proc, backup, keep_files=keep)
        done = _job_params(backup, backup.done_current, backup.done_total, status)
        jobs = jobs_of(self.state)
        with jobs.lock:
            jobs.completed[obj.uuid] = done
        _RUNNING.pop(_key(self.state, obj), None)
        obj.job.end_async()
        ev = JobCompletedEvent(obj.ref(), list(done))
        for sink in list(self.state.sinks):
            sink.emit("job-completed", ev)

    def backup_job_stats(self, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]] | None:
        """qemuBackupGetJobInfoStats for the running backup: the ended copies' figures plus the running ones'
        from ``query-jobs``; None when no backup runs or the completed job is asked for."""
        check_flags(flags, JobStats.COMPLETED | JobStats.KEEP_COMPLETED, "qemuDomainGetJobStats")
        if flags & JobStats.COMPLETED:
            return None
        obj = self.state.find(dom)
        backup = _RUNNING.get(_key(self.state, obj))
        proc = obj.process
        if backup is None or obj.job.async_job != AsyncJob.BACKUP or proc is None:
            return None
        jobs = {job.get("id"): job for job in proc.monitor.execute("query-jobs")}
        current, total = backup.done_current, backup.done_total
        for run in backup.runs:
            job = jobs.get(run.job)
            if run.state == "running" and job is not None:
                current += int(job.get("current-progress", 0))
                total += int(job.get("total-progress", 0))
        return JobType.UNBOUNDED, _job_params(backup, current, total, JobType.UNBOUNDED)

    @hookimpl
    def domain_backup_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """qemuBackupGetXMLDesc (qemuDomainGetBackup: the running backup, else NO_DOMAIN_BACKUP)."""
        check_flags(flags, 0, "qemuDomainBackupGetXMLDesc")
        obj = self.state.find(dom)
        backup = _RUNNING.get(_key(self.state, obj))
        if backup is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN_BACKUP, "no domain backup job present",
                                domain=ErrorDomain.DOMAIN)  # fmt: skip
        return format_backup(backup.bdef)
