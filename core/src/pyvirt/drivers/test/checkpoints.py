"""Checkpoint hooks of the test driver, as libvirt's test driver keeps them (metadata only).

libvirt's test driver has no disks to put bitmaps on, so a checkpoint is its
document: the disks it covers (aligned to the domain's disks as
virDomainCheckpointAlignDisks does), its parent (the current checkpoint when
it was made) and a copy of the domain definition. Its rules are libvirt's:
only a running domain without snapshots gets checkpoints, names are unique
per domain, deleting one re-parents its children or deletes them too.
"""

from __future__ import annotations

import time

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import CheckpointObj, DomainObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import CheckpointRef, DomainRef
from pyvirt.util.lazy_import import lazy_module

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf import checkpoint as conf_checkpoint
    from pyvirt.conf import domain as conf_domain
    from pyvirt.conf.checkpoint import Checkpoint, CheckpointDisk
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.domain_devices import Disk
else:
    conf_checkpoint = lazy_module("pyvirt.conf.checkpoint")
    conf_domain = lazy_module("pyvirt.conf.domain")

# libvirt's flag bits by libvirt's names, not pyvirt.flags' enums: importing an enum builds its class, and
# this module is imported by every test:/// connection (test_flag_literals checks each value)
_VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE = 2
_VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE = 1
_VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN = 1
_VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY = 4
_VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY = 2
_VIR_DOMAIN_CHECKPOINT_LIST_LEAVES = 4
_VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES = 8
_VIR_DOMAIN_CHECKPOINT_LIST_ROOTS = 1
_VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL = 2
_VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN = 2
_VIR_DOMAIN_CHECKPOINT_XML_SECURE = 1
_VIR_DOMAIN_CHECKPOINT_XML_SIZE = 4
_VIR_DOMAIN_XML_INACTIVE = 2

__all__ = ["CheckpointHooks"]

CREATE_REDEFINE, CREATE_QUIESCE = _VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE, _VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE
XML_SECURE, XML_NO_DOMAIN = _VIR_DOMAIN_CHECKPOINT_XML_SECURE, _VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN
XML_SIZE = _VIR_DOMAIN_CHECKPOINT_XML_SIZE
# ROOTS on a domain's list is DESCENDANTS on a checkpoint's (VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS, the same bit)
LIST_ROOTS = LIST_DESCENDANTS = _VIR_DOMAIN_CHECKPOINT_LIST_ROOTS
LIST_TOPOLOGICAL, LIST_LEAVES = _VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL, _VIR_DOMAIN_CHECKPOINT_LIST_LEAVES
LIST_NO_LEAVES = _VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES
DELETE_CHILDREN, DELETE_METADATA_ONLY = (
    _VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN,
    _VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY,
)
DELETE_CHILDREN_ONLY = _VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY
_DOMAIN_XML_INACTIVE = _VIR_DOMAIN_XML_INACTIVE


def _empty_or_readonly(disk: Disk) -> bool:
    """virStorageSourceIsEmpty || readonly: a disk no bitmap can be kept for."""
    if disk.readonly:
        return True
    kind = disk.type or "file"
    if kind in ("file", "block", "dir"):
        return not (disk.source_file or disk.source_dev or disk.source_dir)
    if kind == "network":
        return not disk.source_protocol
    return False


def _align_disks(chk: Checkpoint, dom: Domain) -> None:
    """virDomainCheckpointAlignDisks: one entry per disk of ``dom``, in its order, bitmaps named."""
    disks = list(dom.devices.disks) if dom.devices is not None else []
    asked = chk.disks or []
    if len(asked) > len(disks):
        raise _errors.NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "too many disk checkpoint requests for domain")
    if not disks:
        raise _errors.NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "domain must have at least one disk to perform checkpoints"
        )
    default = "bitmap" if not asked else "no"
    by_target: dict[str, CheckpointDisk] = {}
    for req in asked:
        # a disk is named by its target or by its source path (virDomainDiskByName)
        match = next((d for d in disks if req.name in (d.target_dev, d.source_file, d.source_dev, d.source_dir)), None)
        if match is None or not match.target_dev:
            raise _errors.NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"no disk named '{req.name}'")
        if match.target_dev in by_target:
            raise _errors.NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk '{req.name}' specified twice")
        kind = req.checkpoint or "bitmap"  # a listed disk without checkpoint= gets a bitmap
        if _empty_or_readonly(match) and kind != "no":
            raise _errors.NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk '{req.name}' is empty or readonly")
        by_target[match.target_dev] = conf_checkpoint.CheckpointDisk(
            name=match.target_dev, checkpoint=kind, bitmap=req.bitmap, size=req.size
        )
    aligned = []
    for disk in disks:
        entry = by_target.get(disk.target_dev or "")
        if entry is None:
            kind = "no" if _empty_or_readonly(disk) else default
            entry = conf_checkpoint.CheckpointDisk(name=disk.target_dev, checkpoint=kind)
        aligned.append(entry)
    chk.disks = aligned
    _name_bitmaps(chk)


def _name_bitmaps(chk: Checkpoint) -> None:
    """virDomainCheckpointDefAssignBitmapNames: a bitmap without a name is named after the checkpoint."""
    for disk in chk.disks or []:
        if (disk.checkpoint or "bitmap") == "bitmap" and not disk.bitmap:
            disk.checkpoint = "bitmap"
            disk.bitmap = chk.name


class CheckpointHooks:
    """Mixed into the test connection; ``self.state`` comes from it."""

    state: TestState

    def _checkpoint(self, obj: DomainObj, name: str) -> CheckpointObj:
        found = obj.checkpoints.get(name)
        if found is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_DOMAIN_CHECKPOINT, f"no domain checkpoint with matching name '{name}'",
                domain=ErrorDomain.TEST,
            )  # fmt: skip
        return found

    @staticmethod
    def _check_cycles(obj: DomainObj, chk: Checkpoint) -> None:
        """virDomainMomentCheckCycles: a redefined parent must exist and not descend from the checkpoint."""
        if not chk.parent:
            return
        if chk.parent == chk.name:
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"cannot set moment {chk.name} as its own parent")
        other = obj.checkpoints.get(chk.parent)
        if other is None:
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"parent {chk.parent} for moment {chk.name} not found"
            )
        while other is not None and other.defn.parent:
            if other.defn.parent == chk.name:
                raise _errors.InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"parent {other.defn.name} would create cycle to {chk.name}"
                )
            other = obj.checkpoints.get(other.defn.parent)

    # ------------------------------------------------------------------ create
    @hookimpl
    def checkpoint_create_xml(self, dom: DomainRef, xml: str, flags: int) -> CheckpointRef:
        check_flags(flags, CREATE_REDEFINE | CREATE_QUIESCE, "testDomainCheckpointCreateXML")
        redefine = bool(flags & CREATE_REDEFINE)
        with self.state.lock:
            obj = self.state.find(dom)
            if obj.snapshots:
                raise _errors.NotSupportedError(
                    ErrorCode.OPERATION_UNSUPPORTED, "cannot create checkpoint while snapshot exists",
                    domain=ErrorDomain.TEST,
                )  # fmt: skip
            if not obj.active:
                raise _errors.NotSupportedError(
                    ErrorCode.OPERATION_UNSUPPORTED, "cannot create checkpoint for inactive domain",
                    domain=ErrorDomain.TEST,
                )  # fmt: skip
            chk = conf_checkpoint.parse_checkpoint(xml, redefine=redefine)
            update_current = not redefine
            domain_copy: Domain | None
            if redefine:
                assert chk.name is not None
                self._check_cycles(obj, chk)
                domain_copy = None
                if chk.domain_xml:
                    domain_copy = conf_domain.parse_domain(chk.domain_xml)
                    if domain_copy.uuid != obj.uuid:
                        raise _errors.InvalidArgumentError(
                            ErrorCode.INVALID_ARG, f"definition for checkpoint {chk.name} must use uuid {obj.uuid}"
                        )
                    _align_disks(chk, domain_copy)
                else:
                    _name_bitmaps(chk)
                # virDomainCheckpointRedefinePrep: it becomes current when made after the current one, or
                # when there is none; a redefinition replaces the whole document, domain copy included
                current = obj.current_checkpoint
                update_current = current is None or (chk.parent is not None and chk.parent == current)
            else:
                now = int(time.time())
                chk.creation_time = now
                chk.name = chk.name or str(now)
                domain_copy = obj.live.model_copy(deep=True)
                _align_disks(chk, domain_copy)
                if chk.name in obj.checkpoints:
                    raise _errors.OperationFailedError(
                        ErrorCode.OPERATION_FAILED,
                        f"domain moment {chk.name} already exists",
                        domain=ErrorDomain.DOMAIN,
                    )
                chk.parent = obj.current_checkpoint
            assert chk.name is not None
            obj.checkpoints[chk.name] = CheckpointObj(chk, domain_copy)
            if update_current:
                obj.current_checkpoint = chk.name
        return CheckpointRef(dom, chk.name)

    # ------------------------------------------------------------------ queries
    def _select(self, obj: DomainObj, names: list[str], flags: int) -> list[str]:
        """The LEAVES / NO_LEAVES filter, then TOPOLOGICAL order (parents first) when asked."""
        parents = {c.defn.parent for c in obj.checkpoints.values() if c.defn.parent}
        leaves, no_leaves = bool(flags & LIST_LEAVES), bool(flags & LIST_NO_LEAVES)
        if leaves != no_leaves:
            names = [n for n in names if (n not in parents) == leaves]
        if flags & LIST_TOPOLOGICAL:
            placed: list[str] = []
            pending = list(names)
            chosen = set(names)
            while pending:
                ready = [
                    n for n in pending
                    if obj.checkpoints[n].defn.parent not in chosen or obj.checkpoints[n].defn.parent in placed
                ]  # fmt: skip
                if not ready:  # a cycle cannot be created, but never loop on one
                    ready = pending[:1]
                placed.extend(ready)
                pending = [n for n in pending if n not in ready]
            names = placed
        return names

    @hookimpl
    def checkpoint_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        check_flags(flags, LIST_ROOTS | LIST_TOPOLOGICAL | LIST_LEAVES | LIST_NO_LEAVES, "testDomainListAllCheckpoints")
        with self.state.lock:
            obj = self.state.find(dom)
            names = [n for n, c in obj.checkpoints.items() if not (flags & LIST_ROOTS and c.defn.parent)]
            return self._select(obj, names, flags)

    @hookimpl
    def checkpoint_list_children(self, chk: CheckpointRef, flags: int) -> list[str]:
        check_flags(
            flags, LIST_DESCENDANTS | LIST_TOPOLOGICAL | LIST_LEAVES | LIST_NO_LEAVES,
            "testDomainCheckpointListAllChildren",
        )  # fmt: skip
        with self.state.lock:
            obj = self.state.find(chk.domain)
            self._checkpoint(obj, chk.name)
            found = self._descendants(obj, chk.name) if flags & LIST_DESCENDANTS else {
                n for n, c in obj.checkpoints.items() if c.defn.parent == chk.name
            }  # fmt: skip
            return self._select(obj, [n for n in obj.checkpoints if n in found], flags)

    @staticmethod
    def _descendants(obj: DomainObj, name: str) -> set[str]:
        found: set[str] = set()
        frontier = [name]
        while frontier:
            parent = frontier.pop()
            for n, c in obj.checkpoints.items():
                if c.defn.parent == parent and n not in found:
                    found.add(n)
                    frontier.append(n)
        return found

    @hookimpl
    def checkpoint_lookup_by_name(self, dom: DomainRef, name: str, flags: int) -> CheckpointRef:
        check_flags(flags, 0, "testDomainCheckpointLookupByName")
        with self.state.lock:
            self._checkpoint(self.state.find(dom), name)
        return CheckpointRef(dom, name)

    @hookimpl
    def checkpoint_get_parent(self, chk: CheckpointRef, flags: int) -> CheckpointRef:
        check_flags(flags, 0, "testDomainCheckpointGetParent")
        with self.state.lock:
            found = self._checkpoint(self.state.find(chk.domain), chk.name)
            if not found.defn.parent:
                raise _errors.NotFoundError(
                    ErrorCode.NO_DOMAIN_CHECKPOINT, f"checkpoint '{chk.name}' does not have a parent",
                    domain=ErrorDomain.TEST,
                )  # fmt: skip
            return CheckpointRef(chk.domain, found.defn.parent)

    @hookimpl
    def checkpoint_get_xml_desc(self, chk: CheckpointRef, flags: int) -> str:
        check_flags(flags, XML_SECURE | XML_NO_DOMAIN | XML_SIZE, "testDomainCheckpointGetXMLDesc")
        with self.state.lock:
            obj = self.state.find(chk.domain)
            found = self._checkpoint(obj, chk.name)
            if flags & XML_SIZE and not obj.active:
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
                )
            # SIZE asks for each bitmap's size; libvirt's test driver never marks one known, so none is shown
            doc = found.defn.model_copy()
            doc.disks = [d.model_copy() for d in found.defn.disks or []] or None
            for disk in doc.disks or []:
                disk.size = None
            doc.domain_xml = None
            if found.domain_xml is not None and not flags & XML_NO_DOMAIN:
                doc.domain_xml = conf_domain.format_domain(
                    found.domain_xml, _DOMAIN_XML_INACTIVE | (flags & XML_SECURE)
                )
            return conf_checkpoint.format_checkpoint(doc)

    # ------------------------------------------------------------------ delete
    @hookimpl
    def checkpoint_delete(self, chk: CheckpointRef, flags: int) -> None:
        check_flags(flags, DELETE_CHILDREN | DELETE_METADATA_ONLY | DELETE_CHILDREN_ONLY, "testDomainCheckpointDelete")
        with self.state.lock:
            obj = self.state.find(chk.domain)
            found = self._checkpoint(obj, chk.name)
            if flags & (DELETE_CHILDREN | DELETE_CHILDREN_ONLY):
                doomed = self._descendants(obj, chk.name)
                if obj.current_checkpoint in doomed:
                    obj.current_checkpoint = chk.name
                for name in doomed:
                    del obj.checkpoints[name]
            else:  # the children move up to this checkpoint's parent
                for other in obj.checkpoints.values():
                    if other.defn.parent == chk.name:
                        other.defn.parent = found.defn.parent
            if flags & DELETE_CHILDREN_ONLY:
                return
            if obj.current_checkpoint == chk.name:
                parent = found.defn.parent
                obj.current_checkpoint = parent if parent in obj.checkpoints else None
            del obj.checkpoints[chk.name]
