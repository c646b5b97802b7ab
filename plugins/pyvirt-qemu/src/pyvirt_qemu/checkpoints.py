"""Checkpoints of QEMU guests: libvirt 9.0's qemu_checkpoint.c over :mod:`pyvirt.conf.checkpoint`.

A checkpoint is a ``<domaincheckpoint>`` document kept where libvirt keeps
it, ``<lib>/checkpoint/<domain>/<name>.xml`` (written atomically, read back
by any process, so a restarted pyvirtd finds them), plus one persistent
dirty bitmap per covered disk in the running QEMU (see
:mod:`pyvirt_qemu.checkpoint_bitmaps`). Which checkpoint is current (the
parent of the next one) lives in memory only, as in libvirt: a process that
loads the documents afresh takes the single leaf, if there is one
(virDomainMomentFindLeaf).

The phases are libvirt's: parse, take the MODIFY job, prepare (domain copy,
disk alignment, the refusals), one QMP ``transaction`` for every disk, and
only when QEMU has done it the document is written; a failure before leaves
neither bitmap nor file. For the backup job this module re-exports the
bitmap helpers (``checkpoint_add_actions``, ``incremental_bitmap_actions``,
``node_bitmaps``) and offers :func:`prepare_new` / :func:`commit_new`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

from pyvirt.conf.checkpoint import Checkpoint, CheckpointDisk, format_checkpoint, parse_checkpoint
from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.flags import (
    DomainCheckpointCreateFlags,
    DomainCheckpointDeleteFlags,
    DomainCheckpointListFlags,
    DomainCheckpointXMLFlags,
    DomainXMLFlags,
)
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import CheckpointRef, DomainRef
from pyvirt_qemu.block_nodes import format_node
from pyvirt_qemu.checkpoint_bitmaps import (
    SIZE_BITMAP,
    NodeBitmaps,
    chain_is_valid,
    checkpoint_add_actions,
    discard_actions,
    disk_by_target,
    incremental_bitmap_actions,
    node_bitmaps,
    size_actions,
)
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.moment_domain import moment_domain
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt.local_driver.paths import DriverPaths
    from pyvirt_qemu.state import DomainObj

__all__ = [
    "CheckpointHooks",
    "CheckpointStore",
    "NodeBitmaps",
    "align_disks",
    "checkpoint_add_actions",
    "commit_new",
    "incremental_bitmap_actions",
    "node_bitmaps",
    "parse",
    "prepare_new",
    "undefine_checkpoints",
]

_LIST = DomainCheckpointListFlags
_DELETE = DomainCheckpointDeleteFlags
_XML = DomainCheckpointXMLFlags
_CREATE = DomainCheckpointCreateFlags

# which checkpoint is current, per checkpoint directory: libvirt keeps it in memory only
_current: dict[str, str | None] = {}
_current_lock = threading.Lock()


def _no_checkpoint(name: str) -> NotFoundError:
    return NotFoundError(ErrorCode.NO_DOMAIN_CHECKPOINT, f"no domain checkpoint with matching name '{name}'",
                         domain=ErrorDomain.QEMU)  # fmt: skip


class CheckpointStore:
    """One domain's checkpoint documents on disk, and which of them is current."""

    def __init__(self, paths: DriverPaths, domain_name: str) -> None:
        self.paths = paths
        self.dir = os.path.join(paths.lib, "checkpoint", domain_name)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.xml")

    def all(self) -> dict[str, Checkpoint]:
        """Every readable document by name, oldest first (creation time, then name); a broken one is skipped,
        as qemuDomainCheckpointLoad skips it."""
        found = []
        for path in glob.glob(os.path.join(glob.escape(self.dir), "*.xml")):
            try:
                with open(path, "rb") as f:
                    chk = parse(f.read(), redefine=True)
            except (OSError, XMLError, InternalError):
                continue
            if chk.name:
                found.append(chk)
        found.sort(key=lambda c: (c.creation_time or 0, c.name or ""))
        return {c.name or "": c for c in found}

    def load(self, name: str) -> Checkpoint:
        """The document, or libvirt's NO_DOMAIN_CHECKPOINT error (a name that cannot be a file's included)."""
        if not name or "/" in name or name.startswith("."):
            raise _no_checkpoint(name)
        try:
            with open(self._path(name), "rb") as f:
                return parse(f.read(), redefine=True)
        except (OSError, XMLError, InternalError):
            raise _no_checkpoint(name) from None

    def exists(self, name: str) -> bool:
        return os.path.exists(self._path(name))

    def save(self, chk: Checkpoint) -> None:
        """qemuCheckpointWriteMetadata: the document with its secure domain copy, atomically."""
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        atomic_write(self._path(chk.name or ""), format_checkpoint(chk).encode())

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))
        with _current_lock:
            if _current.get(self.dir) == name:
                _current[self.dir] = None

    def remove_all(self) -> None:
        """qemuCheckpointDiscardAllMetadata and the directory after it (undefine, or a transient guest's end)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        with _current_lock:
            _current.pop(self.dir, None)

    def current(self, every: dict[str, Checkpoint] | None = None) -> str | None:
        """The current checkpoint; first asked in this process, the single leaf of the tree (libvirt's reload)."""
        with _current_lock:
            known = self.dir in _current
            cached = _current.get(self.dir)
        if known:  # (one whose document went some other way is no parent to anything)
            return cached if cached is None or os.path.exists(self._path(cached)) else None
        every = self.all() if every is None else every
        parents = {c.parent for c in every.values() if c.parent in every}
        roots = [n for n, c in every.items() if c.parent not in every]
        leaf: str | None = None
        if len(roots) == 1:  # virDomainMomentFindLeaf: down a line of only children, to its end
            leaf = roots[0]
            while leaf in parents:
                kids = [n for n, c in every.items() if c.parent == leaf]
                if len(kids) != 1:
                    leaf = None
                    break
                leaf = kids[0]
        with _current_lock:
            return _current.setdefault(self.dir, leaf)

    def set_current(self, name: str | None) -> None:
        with _current_lock:
            _current[self.dir] = name


# ---------------------------------------------------------------------------------------------- preparing
def parse(xml: str | bytes, redefine: bool = False) -> Checkpoint:
    """virDomainCheckpointDefParseString as the QEMU driver calls it: the document, and a ``<disk>`` without
    ``checkpoint=`` is a bitmap disk (virDomainCheckpointDiskDefParseXML's default)."""
    chk = parse_checkpoint(xml, redefine=redefine)
    for entry in chk.disks or []:
        entry.checkpoint = entry.checkpoint or "bitmap"
    return chk


def _by_name(dom: Domain, name: str | None) -> Disk | None:
    """virDomainDiskByName: a disk named by its target or by its source's path."""
    disks = dom.devices.disks if dom.devices else []
    return next((d for d in disks if name in (d.target_dev, d.source_file, d.source_dev, d.source_dir)), None)


def _empty_or_readonly(disk: Disk) -> bool:
    """virStorageSourceIsEmpty(src) || src->readonly: a disk no bitmap can be kept for."""
    if disk.readonly:
        return True
    if (disk.type or "file") in ("file", "block", "dir"):
        return not (disk.source_file or disk.source_dev or disk.source_dir)
    return disk.type == "network" and not disk.source_protocol


def _conf_error(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message, domain=ErrorDomain.DOMAIN_CHECKPOINT)


def _name_bitmaps(chk: Checkpoint) -> None:
    """virDomainCheckpointDefAssignBitmapNames: a bitmap disk without a bitmap name gets the checkpoint's."""
    for entry in chk.disks or []:
        if entry.checkpoint == "bitmap" and not entry.bitmap:
            entry.bitmap = chk.name


def align_disks(chk: Checkpoint, dom: Domain) -> None:
    """virDomainCheckpointAlignDisks: one entry per disk of ``dom`` in its order, by target, bitmaps named.

    With no ``<disks>`` every writable disk with media gets a bitmap; with some, the others get none.
    """
    disks = list(dom.devices.disks) if dom.devices is not None else []
    asked = chk.disks or []
    if len(asked) > len(disks):
        raise _conf_error("too many disk checkpoint requests for domain")
    if not disks:
        raise _conf_error("domain must have at least one disk to perform checkpoints")
    default = "no" if asked else "bitmap"
    chosen: dict[str, CheckpointDisk] = {}
    for req in asked:
        disk = _by_name(dom, req.name)
        if disk is None or not disk.target_dev:
            raise _conf_error(f"no disk named '{req.name}'")
        if disk.target_dev in chosen:
            raise _conf_error(f"disk '{req.name}' specified twice")
        kind = req.checkpoint or "bitmap"  # (a document read by parse() always says)
        if kind != "no" and _empty_or_readonly(disk):
            raise _conf_error(f"disk '{req.name}' is empty or readonly")
        chosen[disk.target_dev] = CheckpointDisk(name=disk.target_dev, checkpoint=kind, bitmap=req.bitmap)
    chk.disks = [
        chosen.get(d.target_dev or "")
        or CheckpointDisk(name=d.target_dev, checkpoint="no" if _empty_or_readonly(d) else default)
        for d in disks
    ]
    _name_bitmaps(chk)


def _check_disk(chk: Checkpoint, entry: CheckpointDisk, disk: Disk) -> None:
    """qemuCheckpointPrepare's refusals for one bitmap disk, and qemuDomainDiskBlockJobIsSupported's."""
    if entry.bitmap != chk.name:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, f"bitmap for disk '{entry.name}' must match checkpoint name '{chk.name}'",
            domain=ErrorDomain.QEMU,
        )  # fmt: skip
    fmt = disk.driver_type or "raw"
    if fmt != "qcow2":
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, f"checkpoint for disk {entry.name} unsupported for storage type {fmt}",
            domain=ErrorDomain.QEMU,
        )  # fmt: skip
    target = disk.target_dev
    why = (f"disk '{target}' using bus 'sd'" if disk.target_bus == "sd"
           else f"transient disk '{target}'" if disk.transient
           else f"vhostuser disk '{target}'" if disk.type == "vhostuser" else None)  # fmt: skip
    if why is not None:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"block jobs are not supported on {why}",
                                domain=ErrorDomain.QEMU)  # fmt: skip


def prepare_new(store: CheckpointStore, obj: DomainObj, chk: Checkpoint) -> None:
    """qemuCheckpointCreateCommon up to the actions: the domain copy, the aligned disks, the refusals, the parent.

    The caller holds the MODIFY job (or the backup's), and sends :func:`checkpoint_add_actions` in its
    transaction; then :func:`commit_new`.
    """
    copy = moment_domain(obj.live, store.paths)  # qemuCheckpointPrepare's copy of the definition
    align_disks(chk, copy)
    live_disks = obj.live.devices.disks if obj.live.devices else []
    for i, entry in enumerate(chk.disks or []):
        if entry.checkpoint == "bitmap":
            _check_disk(chk, entry, live_disks[i])
    if store.exists(chk.name or ""):  # virDomainMomentAssignDef
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"domain moment {chk.name} already exists",
                                   domain=ErrorDomain.DOMAIN)  # fmt: skip
    chk.parent = store.current()
    chk.domain_xml = format_domain(copy, DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE)


def commit_new(store: CheckpointStore, chk: Checkpoint, update_current: bool = True) -> None:
    """qemuCheckpointCreateFinalize: current first, then the document (an unwritable one is libvirt's error)."""
    if update_current:
        store.set_current(chk.name)
    try:
        store.save(chk)
    except OSError:
        store.remove(chk.name or "")
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to save metadata for checkpoint {chk.name}",
                            domain=ErrorDomain.QEMU) from None  # fmt: skip


# ---------------------------------------------------------------------------------------------- listing
def _children(every: dict[str, Checkpoint]) -> dict[str | None, list[str]]:
    """Each checkpoint's children, newest first (virDomainMomentSetParent prepends); parentless under None."""
    kids: dict[str | None, list[str]] = {}
    for name, chk in every.items():
        kids.setdefault(chk.parent if chk.parent in every else None, []).insert(0, name)
    return kids


def list_names(every: dict[str, Checkpoint], start: str | None, flags: int) -> list[str]:
    """virDomainCheckpointObjListGetNames: a pre-order walk from the metaroot or ``start`` (so TOPOLOGICAL holds),
    ROOTS (or, from a checkpoint, not DESCENDANTS) staying one level down; LEAVES / NO_LEAVES filter."""
    kids = _children(every)
    deep = not flags & _LIST.ROOTS if start is None else bool(flags & _LIST.DESCENDANTS)
    order: list[str] = []
    todo = list(kids.get(start, []))
    while todo:
        name = todo.pop(0)
        order.append(name)
        if deep:
            todo[:0] = kids.get(name, [])
    if flags & _LIST.LEAVES:
        order = [n for n in order if not kids.get(n)]
    if flags & _LIST.NO_LEAVES:
        order = [n for n in order if kids.get(n)]
    return order


def _descendants(every: dict[str, Checkpoint], name: str) -> list[str]:
    """Children before their own children (virDomainMomentForEachDescendant's order)."""
    return list_names(every, name, _LIST.DESCENDANTS)


# ---------------------------------------------------------------------------------------------- hooks
class CheckpointHooks(QemuConnectionBase):
    """The checkpoint hooks of a qemu connection (mixed into QemuConnection; ``state`` is its)."""

    def _checkpoints(self, ref: DomainRef) -> tuple[DomainObj, CheckpointStore]:
        obj = self.state.find(ref)
        return obj, CheckpointStore(self.state.paths, obj.name)

    @hookimpl
    def checkpoint_create_xml(self, dom: DomainRef, xml: str, flags: int) -> CheckpointRef:
        """qemuCheckpointCreateXML: a new checkpoint of a running guest, or REDEFINE's metadata."""
        check_flags(flags, _CREATE.REDEFINE | _CREATE.REDEFINE_VALIDATE, "qemuCheckpointCreateXML")
        redefine = bool(flags & _CREATE.REDEFINE)
        obj, store = self._checkpoints(dom)
        if not redefine and not obj.active:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "cannot create checkpoint for inactive domain",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
        chk = parse(xml, redefine)
        if not redefine:  # virDomainMomentDefPostParse: now, and the name defaults to it
            chk.creation_time = int(time.time())
            chk.name = chk.name or str(chk.creation_time)
        with obj.job.holding(Job.MODIFY):
            if redefine:
                update_current = self._redefine(obj, store, chk, bool(flags & _CREATE.REDEFINE_VALIDATE))
            else:
                if obj.process is None:
                    raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                                domain=ErrorDomain.QEMU)  # fmt: skip
                prepare_new(store, obj, chk)
                actions = checkpoint_add_actions(chk, obj.live)
                if actions:
                    execute_checked(obj.process, "transaction", {"actions": actions})
                update_current = True
            commit_new(store, chk, update_current)
        return CheckpointRef(dom, chk.name or "")

    def _redefine(self, obj: DomainObj, store: CheckpointStore, chk: Checkpoint, validate: bool) -> bool:
        """virDomainCheckpointRedefinePrep (+ the bitmaps' validation): whether it becomes current."""
        every = store.all()
        name = chk.name or ""
        if chk.parent:  # virDomainMomentCheckCycles
            if chk.parent == name:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"cannot set moment {name} as its own parent",
                                           domain=ErrorDomain.DOMAIN)  # fmt: skip
            other = every.get(chk.parent)
            if other is None:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"parent {chk.parent} for moment {name} not found",
                                           domain=ErrorDomain.DOMAIN)  # fmt: skip
            seen = set()
            while other is not None and other.parent and other.name not in seen:
                seen.add(other.name)
                if other.parent == name:
                    raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"parent {other.name} would create cycle to {name}",
                                               domain=ErrorDomain.DOMAIN)  # fmt: skip
                other = every.get(other.parent)
        if chk.domain_xml:
            copy = parse_domain(chk.domain_xml)
            if copy.uuid != obj.live.uuid:
                raise InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"definition for checkpoint {name} must use uuid {obj.live.uuid}",
                    domain=ErrorDomain.DOMAIN_CHECKPOINT,
                )  # fmt: skip
            align_disks(chk, copy)
            chk.domain_xml = format_domain(copy, DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE)
        else:
            _name_bitmaps(chk)
        current = store.current(every)
        update = current is None or (chk.parent is not None and chk.parent == current and chk.parent in every)
        if validate:
            self._validate_bitmaps(obj, chk)
        return update

    @staticmethod
    def _validate_bitmaps(obj: DomainObj, chk: Checkpoint) -> None:
        """qemuCheckpointRedefineValidateBitmaps: each bitmap disk still attached has a sound bitmap chain."""
        if obj.process is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        bitmaps = node_bitmaps(obj.process.monitor)
        for entry in chk.disks or []:
            disk = disk_by_target(obj.live, entry.name)
            if entry.checkpoint != "bitmap" or disk is None:
                continue
            if not chain_is_valid(disk, chk.name or "", bitmaps):
                raise OperationFailedError(
                    ErrorCode.CHECKPOINT_INCONSISTENT,
                    f"missing or broken bitmap '{chk.name}' for disk '{disk.target_dev}'", domain=ErrorDomain.QEMU,
                )  # fmt: skip

    @hookimpl
    def checkpoint_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        check_flags(flags, _LIST.ROOTS | _LIST.TOPOLOGICAL | _LIST.LEAVES | _LIST.NO_LEAVES,
                    "qemuDomainListAllCheckpoints")  # fmt: skip
        return list_names(self._checkpoints(dom)[1].all(), None, flags)

    @hookimpl
    def checkpoint_list_children(self, chk: CheckpointRef, flags: int) -> list[str]:
        check_flags(flags, _LIST.DESCENDANTS | _LIST.TOPOLOGICAL | _LIST.LEAVES | _LIST.NO_LEAVES,
                    "qemuDomainCheckpointListAllChildren")  # fmt: skip
        every = self._checkpoints(chk.domain)[1].all()
        if chk.name not in every:
            raise _no_checkpoint(chk.name)
        return list_names(every, chk.name, flags)

    @hookimpl
    def checkpoint_lookup_by_name(self, dom: DomainRef, name: str, flags: int) -> CheckpointRef:
        check_flags(flags, 0, "qemuDomainCheckpointLookupByName")
        self._checkpoints(dom)[1].load(name)
        return CheckpointRef(dom, name)

    @hookimpl
    def checkpoint_get_parent(self, chk: CheckpointRef, flags: int) -> CheckpointRef:
        check_flags(flags, 0, "qemuDomainCheckpointGetParent")
        found = self._checkpoints(chk.domain)[1].load(chk.name)
        if not found.parent:
            raise NotFoundError(ErrorCode.NO_DOMAIN_CHECKPOINT, f"checkpoint '{chk.name}' does not have a parent",
                                domain=ErrorDomain.QEMU)  # fmt: skip
        return CheckpointRef(chk.domain, found.parent)

    @hookimpl
    def checkpoint_get_xml_desc(self, chk: CheckpointRef, flags: int) -> str:
        """qemuCheckpointGetXMLDesc: SIZE asks QEMU how much each bitmap chain has marked (a merged copy's count)."""
        check_flags(flags, _XML.SECURE | _XML.NO_DOMAIN | _XML.SIZE, "qemuCheckpointGetXMLDesc")
        obj, store = self._checkpoints(chk.domain)
        doc = store.load(chk.name)
        if flags & _XML.SIZE:
            with obj.job.holding(Job.MODIFY):
                self._sizes(obj, doc)
        if doc.domain_xml and flags & _XML.NO_DOMAIN:
            doc.domain_xml = None
        elif doc.domain_xml:
            inactive = DomainXMLFlags.INACTIVE | (DomainXMLFlags.SECURE if flags & _XML.SECURE else 0)
            doc.domain_xml = format_domain(parse_domain(doc.domain_xml), inactive)
        return format_checkpoint(doc)

    @staticmethod
    def _sizes(obj: DomainObj, doc: Checkpoint) -> None:
        """qemuCheckpointGetXMLDescUpdateSize: merge, read the temporary bitmap's count, remove it."""
        for entry in doc.disks or []:
            entry.size = None
        proc = obj.process
        if proc is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
        bitmaps = node_bitmaps(proc.monitor)
        chosen = []
        for entry in doc.disks or []:
            disk = disk_by_target(obj.live, entry.name)
            if entry.checkpoint == "bitmap" and disk is not None and chain_is_valid(disk, doc.name or "", bitmaps):
                chosen.append((entry, disk))
        if not chosen:
            return
        recover: list[dict[str, Any]] = []
        merge: list[dict[str, Any]] = []
        cleanup: list[dict[str, Any]] = []
        for _entry, disk in chosen:  # every disk's in one transaction each time, as libvirt's three
            found, merged, removed = size_actions(disk, doc.name or "", bitmaps)
            recover += found
            merge += merged
            cleanup += removed
        if recover:
            execute_checked(proc, "transaction", {"actions": recover})
        execute_checked(proc, "transaction", {"actions": merge})
        stats = node_bitmaps(proc.monitor)
        execute_checked(proc, "transaction", {"actions": cleanup})
        for entry, disk in chosen:
            merged_bitmap = stats.get(format_node(disk) or "", {}).get(SIZE_BITMAP)
            if merged_bitmap is not None:  # QEMU's count: the bytes marked dirty
                entry.size = int(merged_bitmap.get("count", 0))

    @hookimpl
    def checkpoint_delete(self, chk: CheckpointRef, flags: int) -> None:
        """qemuCheckpointDelete: bitmaps (not with METADATA_ONLY) and documents; children re-parented or gone."""
        check_flags(flags, _DELETE.CHILDREN | _DELETE.METADATA_ONLY | _DELETE.CHILDREN_ONLY, "qemuCheckpointDelete")
        metadata_only = bool(flags & _DELETE.METADATA_ONLY)
        obj, store = self._checkpoints(chk.domain)
        with obj.job.holding(Job.MODIFY):
            if not metadata_only and not obj.active:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "cannot delete checkpoint for inactive domain",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
            every = store.all()
            target = every.get(chk.name)
            if target is None:
                raise _no_checkpoint(chk.name)
            if flags & (_DELETE.CHILDREN | _DELETE.CHILDREN_ONLY):
                current = store.current(every)
                doomed = _descendants(every, chk.name)
                for name in doomed:  # qemuDomainMomentDiscardAll: each one, children first in the walk
                    self._discard(obj, store, every, every[name], False, metadata_only)
                if current in doomed:
                    store.set_current(chk.name)
            else:
                for child in _children(every).get(chk.name, []):  # qemuCheckpointReparentChildren
                    every[child].parent = target.parent
                    store.save(every[child])
            if not flags & _DELETE.CHILDREN_ONLY:
                self._discard(obj, store, every, target, True, metadata_only)

    def _discard(self, obj: DomainObj, store: CheckpointStore, every: dict[str, Checkpoint], chk: Checkpoint,
                 update_parent: bool, metadata_only: bool) -> None:  # fmt: skip
        """qemuCheckpointDiscard: one QMP transaction removes its bitmaps, then its document goes."""
        if not metadata_only:
            proc = obj.process
            if proc is None:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "cannot remove checkpoint from inactive domain",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
            actions = discard_actions(chk, obj.live, node_bitmaps(proc.monitor))
            if actions:
                execute_checked(proc, "transaction", {"actions": actions})
        was_current = store.current(every) == chk.name
        store.remove(chk.name or "")
        every.pop(chk.name or "", None)
        if was_current:
            store.set_current(chk.parent if update_parent and chk.parent in every else None)


def undefine_checkpoints(paths: DriverPaths, obj: DomainObj, drop_metadata: bool) -> None:
    """qemuDomainUndefineFlags' checkpoint step: an inactive domain with checkpoints is kept unless asked to
    drop their metadata (VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA), in libvirt's words."""
    store = CheckpointStore(paths, obj.name)
    if obj.active:
        return
    count = len(store.all())
    if count and not drop_metadata:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"cannot delete inactive domain with {count} checkpoints",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    store.remove_all()
