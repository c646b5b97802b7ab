"""backup-begin / backup-dumpxml on QEMU guests: libvirt 9.0's qemuBackupBegin in push mode, full backups.

A push backup copies each chosen disk, as it was at the instant the backup
began, into a new image while the guest keeps running: QEMU's
``blockdev-backup`` with ``sync=full`` from the disk's format node into a
target node, all disks in one ``transaction`` so they share that instant.
The description (``<domainbackup>``) gets libvirt's defaults first
(virDomainBackupAlignDisks): with no disk named, every disk with media that
is not read-only, each into ``<image>.<seconds since the epoch>``; a target
is qcow2 unless said otherwise. Targets are made the way a block copy's are
(an empty file, labelled, formatted by QEMU's ``blockdev-create``) unless
REUSE_EXTERNAL says they exist.

The backup is the domain's asynchronous BACKUP job, left held when the call
returns, as libvirt leaves it: a watcher follows QEMU's jobs until every copy
has concluded, then removes the target nodes, gives the labels back, ends
the job and raises job-completed. ``domjobabort`` cancels the copies.

Not here yet: pull mode (an NBD export of the disks), incremental backups
and a checkpoint made with the backup (checkpoints are not kept for QEMU
guests here), and the backup's progress in ``domjobinfo``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    NotFoundError,
    NotSupportedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.events import JobCompletedEvent
from pyvirt.flags import DomainBackupBeginFlags
from pyvirt.local_driver.domain_jobs import DEFAULT_MASK, AsyncJob, Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParamType, typed_param
from pyvirt_qemu.block_copy_create import create_file, format_props, image_facts, run_create, storage_props
from pyvirt_qemu.block_nodes import disk_blockdevs, format_node, has_media, next_node_id
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["BackupDisk", "BackupHooks", "align_disks", "format_backup", "parse_backup"]

_OPERATION_BACKUP = 9  # VIR_DOMAIN_JOB_OPERATION_BACKUP
# libvirt's mask for the backup job: queries, and suspend and modify beside it
_MASK = DEFAULT_MASK | {Job.SUSPEND, Job.MODIFY}


@dataclass
class BackupDisk:
    """One ``<disk>`` of a ``<domainbackup>``: backup yes/no, and for yes its target file and format."""

    name: str
    backup: bool = True
    path: str | None = None
    fmt: str | None = None
    backupmode: str | None = None
    incremental: str | None = None
    index: int | None = None


@dataclass
class Backup:
    """A running backup: its description, the QEMU jobs and nodes it made, and what to undo."""

    mode: str
    disks: list[BackupDisk]
    jobs: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    labelled: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    cancelled: bool = False


# the running backups, by driver state and domain (libvirt's priv->backup)
_RUNNING: dict[tuple[int, str], Backup] = {}


def _key(state: QemuState, obj: DomainObj) -> tuple[int, str]:
    return (id(state), obj.uuid)


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def parse_backup(xml: str) -> tuple[str, str | None, list[BackupDisk]]:
    """virDomainBackupDefParse for what push mode needs: the mode, ``<incremental>`` and each disk."""
    from pyvirt.conf.schema import validate

    root = parse_xml(xml, "domainbackup", "domainbackup.xml")  # (the root checked there, in libvirt's words)
    validate(xml, "domainbackup")  # virDomainBackupDefParseString always validates against domainbackup.rng
    mode = root.get("mode", "push")
    incremental = root.findtext("incremental")
    disks = []
    for elem in root.findall("disks/disk"):
        name = elem.get("name")
        if not name:
            raise XMLError(ErrorCode.XML_ERROR, "missing name from disk backup element")
        backup = elem.get("backup", "yes") != "no"
        target = elem.find("target" if mode == "push" else "scratch")
        path = target.get("file") if target is not None else None
        driver = elem.find("driver")
        disks.append(BackupDisk(name, backup, path, driver.get("type") if driver is not None else None,
                                elem.get("backupmode"), elem.get("incremental")))  # fmt: skip
    return mode, incremental, disks


def align_disks(disks: list[BackupDisk], incremental: str | None, dom: Domain, suffix: str) -> list[BackupDisk]:
    """virDomainBackupAlignDisks: the named disks checked and given targets, then every other disk of the domain
    (backed up only when none was named), and each disk's mode."""
    domdisks = {d.target_dev: d for d in (dom.devices.disks if dom.devices is not None else [])}
    if not domdisks:
        raise _unsupported("domain must have at least one disk to perform backup")
    seen: set[str] = set()
    for bd in disks:
        disk = domdisks.get(bd.name)
        if disk is None:
            raise _unsupported(f"no disk named '{bd.name}'")
        if bd.name in seen:
            raise _unsupported(f"disk '{bd.name}' specified twice")
        seen.add(bd.name)
        if bd.backupmode == "incremental" and not bd.incremental and not incremental:
            raise _unsupported(f"'incremental' backup mode of disk '{bd.name}' requires setting 'incremental' "
                               "field for disk or backup")  # fmt: skip
        if bd.backup:
            _assign_store(bd, disk, suffix)
    out = list(disks)
    backup_all = not disks
    for target, disk in domdisks.items():
        if target in seen or target is None:
            continue
        bd = BackupDisk(target, backup=False)
        if backup_all and has_media(disk) and not disk.readonly:
            bd.backup = True
            _assign_store(bd, disk, suffix)
        out.append(bd)
    for bd in out:
        if bd.backupmode is None:
            bd.backupmode = "incremental" if (incremental or bd.incremental) else "full"
        if not bd.incremental and bd.backupmode == "incremental":
            bd.incremental = incremental
    return out


def _assign_store(bd: BackupDisk, disk: Disk, suffix: str) -> None:
    """virDomainBackupDefAssignStore: a disk without media cannot be backed up; a local image's backup goes
    beside it unless a target was given."""
    if not has_media(disk):
        if bd.path is not None:
            raise _unsupported(f"disk '{bd.name}' has no media")
        return
    if bd.path is None:
        if disk.type in (None, "file") and disk.source_file:
            bd.path = f"{disk.source_file}.{suffix}"
        else:
            raise _unsupported(f"refusing to generate file name for disk '{bd.name}'")


def format_backup(mode: str, incremental: str | None, disks: list[BackupDisk]) -> str:
    """virDomainBackupDefFormat (not internal): the description as backup-dumpxml prints it."""
    root = etree.Element("domainbackup", mode=mode)
    if incremental:
        etree.SubElement(root, "incremental").text = incremental
    holder = etree.SubElement(root, "disks")
    for bd in disks:
        elem = etree.SubElement(holder, "disk", name=bd.name, backup="yes" if bd.backup else "no")
        if bd.backup:
            elem.set("type", "file")
            if bd.backupmode:
                elem.set("backupmode", bd.backupmode)
            if bd.incremental:
                elem.set("incremental", bd.incremental)
            if bd.index:
                elem.set("index", str(bd.index))
            if bd.fmt:
                etree.SubElement(elem, "driver", type=bd.fmt)
            etree.SubElement(elem, "target" if mode == "push" else "scratch", file=bd.path or "")
    if not len(holder):
        root.remove(holder)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode").replace('"', "'") + "\n"


class BackupHooks:
    """Mixed into the QEMU connection; ``state`` and ``_still_running`` come from it."""

    state: QemuState

    if TYPE_CHECKING:

        @staticmethod
        def _still_running(obj: DomainObj) -> QemuProcess: ...

    @hookimpl
    def domain_backup_begin(self, dom: DomainRef, xml: str, checkpoint_xml: str | None, flags: int) -> None:
        """qemuBackupBegin, push mode and full backups."""
        check_flags(flags, DomainBackupBeginFlags.EXTERNAL, "qemuBackupBegin")
        reuse = bool(flags & DomainBackupBeginFlags.EXTERNAL)
        mode, incremental, wanted = parse_backup(xml)
        suffix = str(int(time.time()))
        obj = self.state.find(dom)
        obj.job.begin_async(AsyncJob.BACKUP, mask=frozenset(_MASK))
        started = False
        try:
            if not obj.active or obj.process is None:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "cannot perform disk backup for inactive domain")  # fmt: skip
            with obj.lock:
                live = obj.live.model_copy(deep=True)
            disks = align_disks(wanted, incremental, live, suffix)
            if checkpoint_xml is not None:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "creating checkpoint for incremental backup is not supported yet")  # fmt: skip
            if any(bd.backupmode == "incremental" for bd in disks):
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "incremental backup is not supported yet")
            if mode != "push":
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "pull mode backup is not supported by this driver")  # fmt: skip
            if _RUNNING.get(_key(self.state, obj)) is not None:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "another backup job is already running")
            chosen = [bd for bd in disks if bd.backup]
            if not chosen:
                raise _unsupported("no disks selected for backup")
            proc = self._still_running(obj)
            backup = Backup(mode, disks)
            try:
                actions = self._prepare(obj, proc, live, chosen, backup, reuse)
                execute_checked(proc, "transaction", {"actions": actions})
            except BaseException:
                self._undo(obj, proc, backup)
                raise
            _RUNNING[_key(self.state, obj)] = backup
            obj.job.on_abort(lambda: self._cancel(obj, proc, backup))
            started = True
            threading.Thread(target=self._watch, args=(obj, proc, backup), daemon=True,
                             name=f"backup-{obj.name}").start()  # fmt: skip
        finally:
            if not started:
                obj.job.end_async()

    def _prepare(self, obj: DomainObj, proc: QemuProcess, live: Domain, chosen: list[BackupDisk], backup: Backup,
                 reuse: bool) -> list[dict[str, Any]]:  # fmt: skip
        """qemuBackupDiskPrepareData + PrepareStorage: per disk a target node (made unless reused) and its
        blockdev-backup action."""
        domdisks = {d.target_dev: d for d in (live.devices.disks if live.devices is not None else [])}
        next_id = next_node_id(live)
        actions: list[dict[str, Any]] = []
        for bd in chosen:
            disk = domdisks[bd.name]
            source = format_node(disk)
            if source is None:
                raise _unsupported(f"disk '{bd.name}' has no media")
            bd.fmt = bd.fmt or "qcow2"
            bd.index = next_id
            next_id += 1
            target = Disk(type="file", device="disk", driver_type=bd.fmt, target_dev=bd.name,
                          source_file=bd.path, backing=BackingStore())  # fmt: skip
            target.source_index = bd.index
            storage_node, format_node_props = disk_blockdevs(target)
            path = bd.path or ""
            if not reuse:
                create_file(path)
                backup.created.append(path)  # (removed again unless the backup completes)
            self.state.security.set_path_label(obj.live, path)
            backup.labelled.append(path)
            facts = image_facts(proc.monitor, source) if not reuse else {}
            sized = storage_props(target, storage_node, int(facts.get("virtual-size", 0))) if not reuse else None
            if sized is not None:
                run_create(proc.monitor, f"create-{storage_node['node-name']}", sized)
            execute_checked(proc, "blockdev-add", storage_node)
            backup.nodes.append(str(storage_node["node-name"]))
            formatted = format_props(target, str(storage_node["node-name"]), disk, facts, None) if not reuse else None
            if formatted is not None:
                run_create(proc.monitor, f"create-{format_node_props['node-name']}", formatted)
            execute_checked(proc, "blockdev-add", format_node_props)
            backup.nodes.append(str(format_node_props["node-name"]))
            job = f"backup-{bd.name}-{source}"
            backup.jobs.append(job)
            actions.append({"type": "blockdev-backup", "data": {
                "device": source, "job-id": job, "target": format_node_props["node-name"], "sync": "full",
                "auto-finalize": True, "auto-dismiss": False}})  # fmt: skip
        return actions

    def _undo(self, obj: DomainObj, proc: QemuProcess, backup: Backup, keep_files: bool = False) -> None:
        """qemuBackupDiskDataCleanup / qemuBackupJobTerminate: the target nodes deleted (while QEMU runs), the
        labels given back, and the files this backup made removed unless it completed."""
        import os

        for name in reversed(backup.nodes if proc.alive() else []):
            with contextlib.suppress(Error):
                proc.monitor.execute("blockdev-del", {"node-name": name})
        for path in backup.labelled:
            with contextlib.suppress(Error):
                self.state.security.restore_path_label(obj.live, path)
        for path in [] if keep_files else backup.created:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _cancel(self, obj: DomainObj, proc: QemuProcess, backup: Backup) -> None:
        """qemuBackupJobCancelBlockjobs: domjobabort cancels every copy still running."""
        backup.cancelled = True
        for job in backup.jobs:
            with contextlib.suppress(Error):
                proc.monitor.execute("job-cancel", {"id": job})

    def _watch(self, obj: DomainObj, proc: QemuProcess, backup: Backup) -> None:
        """Until every copy concluded (or QEMU is gone): then qemuBackupJobTerminate's clean-up and event."""
        failed = False
        try:
            pending = set(backup.jobs)
            while pending and proc.alive():
                for job in proc.monitor.execute("query-jobs"):
                    if job.get("id") in pending and job.get("status") == "concluded":
                        failed = failed or bool(job.get("error"))
                        pending.discard(job["id"])
                        proc.monitor.execute("job-dismiss", {"id": job["id"]})
                time.sleep(0.05)
            if pending:
                failed = True
        except Error:
            failed = True
        finally:
            with contextlib.suppress(Error):
                self._undo(obj, proc, backup, keep_files=not (failed or backup.cancelled))
            _RUNNING.pop(_key(self.state, obj), None)
            obj.job.end_async()
            done = [typed_param("operation", TypedParamType.INT, _OPERATION_BACKUP)]
            ev = JobCompletedEvent(obj.ref(), done)
            for sink in list(self.state.sinks):
                sink.emit("job-completed", ev)

    @hookimpl
    def domain_backup_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        """qemuBackupGetXMLDesc (qemuDomainGetBackup: the running backup, else NO_DOMAIN_BACKUP)."""
        check_flags(flags, 0, "qemuDomainBackupGetXMLDesc")
        obj = self.state.find(dom)
        backup = _RUNNING.get(_key(self.state, obj))
        if backup is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN_BACKUP, "no domain backup job present",
                                domain=ErrorDomain.DOMAIN)  # fmt: skip
        return format_backup(backup.mode, None, backup.disks)
