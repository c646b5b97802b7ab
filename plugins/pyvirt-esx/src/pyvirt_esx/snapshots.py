"""VM snapshots on the host, as libvirt's ESX driver maps them: vSphere's snapshot tree is the only record.

libvirt keeps no snapshot metadata for ESX: a snapshot is found by name in
the VM's tree (``snapshot.rootSnapshotList``), its XML is made from what the
tree says (name, description, parent, creation time, power state) and the
``<domain>`` part carries only the VM's UUID. Disk-only snapshots, metadata
operations and redefinition are refused with libvirt's words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pyvirt.conf.snapshot import Snapshot, check_snapshot_name, format_snapshot, parse_snapshot
from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.flags import DomainSnapshotCreateFlags, DomainSnapshotDeleteFlags, DomainSnapshotListFlags
from pyvirt.plugin.flags import check_flags
from pyvirt_esx.vsphere import Session

__all__ = ["SnapshotTree"]

# virDomainSnapshotCreateFlags / ListFlags / DeleteFlags bits libvirt's ESX driver takes
CREATE_NO_METADATA, CREATE_DISK_ONLY = DomainSnapshotCreateFlags.NO_METADATA, DomainSnapshotCreateFlags.DISK_ONLY
CREATE_QUIESCE, CREATE_VALIDATE = DomainSnapshotCreateFlags.QUIESCE, DomainSnapshotCreateFlags.VALIDATE
LIST_ROOTS, LIST_METADATA, LIST_LEAVES = (
    DomainSnapshotListFlags.ROOTS,
    DomainSnapshotListFlags.METADATA,
    DomainSnapshotListFlags.LEAVES,
)
DELETE_CHILDREN, DELETE_METADATA_ONLY = DomainSnapshotDeleteFlags.CHILDREN, DomainSnapshotDeleteFlags.METADATA_ONLY
_STATES = {"poweredOn": "running", "poweredOff": "shutoff", "suspended": "paused"}


def _error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.ESX)


def _walk(trees: list[Any], parent: Any = None) -> Iterator[tuple[Any, Any]]:
    """Every snapshot of the tree with its parent, depth first in the host's order (libvirt's order)."""
    for tree in trees:
        yield tree, parent
        yield from _walk(list(tree.childSnapshotList or []), tree)


class SnapshotTree:
    """The snapshots of one VM."""

    def __init__(self, session: Session, vm: Any) -> None:
        self.session = session
        self.vm = vm
        info = session.property(vm, "snapshot")
        self.roots: list[Any] = list(info.rootSnapshotList or []) if info is not None else []
        self.current = info.currentSnapshot if info is not None else None

    def find(self, name: str) -> tuple[Any, Any]:
        for tree, parent in _walk(self.roots):
            if tree.name == name:
                return tree, parent
        raise _error(ErrorCode.NO_DOMAIN_SNAPSHOT, f"Could not find snapshot with name '{name}'")

    def names(self, flags: int) -> list[str]:
        """esxDomainSnapshotListNames: all, or the roots; leaves only with LIST_LEAVES; none with LIST_METADATA."""
        check_flags(flags, LIST_ROOTS | LIST_METADATA | LIST_LEAVES, "esxDomainSnapshotListNames")
        if flags & LIST_METADATA:
            return []  # the host keeps no libvirt metadata
        trees = [t for t, _ in _walk(self.roots)] if not flags & LIST_ROOTS else list(self.roots)
        if flags & LIST_LEAVES:
            trees = [t for t in trees if not t.childSnapshotList]
        return [str(t.name) for t in trees]

    def current_name(self) -> str:
        for tree, _ in _walk(self.roots):
            if self.current is not None and tree.snapshot == self.current:
                return str(tree.name)
        raise _error(ErrorCode.NO_DOMAIN_SNAPSHOT, "Domain has no current snapshot")

    def xml(self, name: str, domain_uuid: str) -> str:
        tree, parent = self.find(name)
        created = tree.createTime
        snap = Snapshot(
            name=str(tree.name),
            description=str(tree.description) if tree.description else None,
            state=_STATES.get(str(tree.state), "nostate"),
            parent=str(parent.name) if parent is not None else None,
            creation_time=int(created.timestamp()) if created is not None else int(time.time()),
        )
        snap.domain_xml = f"<domain>\n  <uuid>{domain_uuid}</uuid>\n</domain>"
        return format_snapshot(snap)

    def parent_name(self, name: str) -> str:
        _, parent = self.find(name)
        if parent is None:
            raise _error(ErrorCode.NO_DOMAIN_SNAPSHOT, f"snapshot '{name}' does not have a parent")
        return str(parent.name)

    def create(self, xml: str, flags: int) -> str:
        """esxDomainSnapshotCreateXML: a memory snapshot unless DISK_ONLY; QUIESCE asks the guest tools."""
        check_flags(flags, CREATE_DISK_ONLY | CREATE_QUIESCE | CREATE_NO_METADATA | CREATE_VALIDATE,
                    "esxDomainSnapshotCreateXML")  # fmt: skip
        snap = parse_snapshot(xml)
        if snap.disks:
            raise _error(ErrorCode.CONFIG_UNSUPPORTED, "disk snapshots not supported yet")
        name = snap.name or str(int(time.time()))
        check_snapshot_name(name)
        if any(t.name == name for t, _ in _walk(self.roots)):
            raise _error(ErrorCode.OPERATION_INVALID, f"Snapshot '{name}' already exists")
        task = self.vm.CreateSnapshot_Task(name=name, description=snap.description or "",
                                           memory=not flags & CREATE_DISK_ONLY, quiesce=bool(flags & CREATE_QUIESCE))  # fmt: skip
        self.session.wait(task, "Could not create snapshot")
        return name

    def revert(self, name: str, flags: int) -> None:
        check_flags(flags, 0, "esxDomainRevertToSnapshot")
        tree, _ = self.find(name)
        self.session.wait(tree.snapshot.RevertToSnapshot_Task(),
                          f"Could not revert to snapshot '{name}'")  # fmt: skip

    def delete(self, name: str, flags: int) -> None:
        """esxDomainSnapshotDelete: the snapshot, and its descendants with DELETE_CHILDREN."""
        check_flags(flags, DELETE_CHILDREN | DELETE_METADATA_ONLY, "esxDomainSnapshotDelete")
        tree, _ = self.find(name)
        if flags & DELETE_METADATA_ONLY:
            raise _error(ErrorCode.CONFIG_UNSUPPORTED, "deletion of metadata is not supported")
        self.session.wait(tree.snapshot.RemoveSnapshot_Task(removeChildren=bool(flags & DELETE_CHILDREN)),
                          f"Could not delete snapshot '{name}'")  # fmt: skip
