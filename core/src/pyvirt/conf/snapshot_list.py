"""Listing a domain's snapshots: libvirt's ``virDomainSnapshotObjListGetNames`` and its filters.

libvirt keeps the walk over the snapshot tree and ``virDomainSnapshotFilter``
in ``src/conf/virdomainsnapshotobjlist.c``, shared by every driver, so that
``snapshot-list --leaves`` means the same on test:/// and qemu:///. Drivers
here keep snapshots in different shapes (documents in memory, files on
disk), so each describes its snapshots as :class:`SnapshotNode` and calls
:func:`list_snapshot_names`, which also refuses the flags libvirt's drivers
refuse (``virCheckFlags(ROOTS | TOPOLOGICAL | FILTERS_ALL)``).
"""

from __future__ import annotations

from pyvirt.plugin.flags import check_flags

TYPE_CHECKING = False  # not typing's, and no XML models: the test driver lists snapshots on every snapshot-list
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pyvirt.conf.snapshot import Snapshot

__all__ = ["SnapshotNode", "list_snapshot_names", "snapshot_node"]

# Named as libvirt does, not imported from pyvirt.flags: the test driver imports this module and stays
# off that large enum module (test_flag_literals compares these values with it).
_VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE = 0x40
_VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY = 0x80
_VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL = 0x200
_VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE = 0x20
_VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL = 0x100
_VIR_DOMAIN_SNAPSHOT_LIST_LEAVES = 4
_VIR_DOMAIN_SNAPSHOT_LIST_METADATA = 2
_VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES = 8
_VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA = 0x10
_VIR_DOMAIN_SNAPSHOT_LIST_ROOTS = 1
_VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL = 0x400

_STATUS = _VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE | _VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE | _VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY
_LOCATION = _VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL | _VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL
_METADATA = _VIR_DOMAIN_SNAPSHOT_LIST_METADATA | _VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA
_LEAVES = _VIR_DOMAIN_SNAPSHOT_LIST_LEAVES | _VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES
# VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | VIR_DOMAIN_SNAPSHOT_FILTERS_ALL
_ACCEPTED = (
    _VIR_DOMAIN_SNAPSHOT_LIST_ROOTS | _VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL | _METADATA | _LEAVES | _STATUS | _LOCATION
)
# virDomainSnapshotFilter's status of a snapshot's state: anything else was taken of a running guest
_STATUS_OF_STATE = {"shutoff": _VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE, "disk-snapshot": _VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY}


class SnapshotNode:
    """What the filters need of one snapshot, whatever the driver keeps it in.

    ``parent`` is the parent's name as the document says; a parent that is
    not in the list (deleted metadata) makes the snapshot a root, as
    libvirt's tree does.
    """

    __slots__ = ("external", "name", "parent", "state")

    def __init__(self, name: str, parent: str | None, state: str | None, external: bool) -> None:
        self.name, self.parent, self.state, self.external = name, parent, state, external

    def __repr__(self) -> str:
        return f"SnapshotNode({self.name!r}, {self.parent!r}, {self.state!r}, {self.external!r})"


def snapshot_node(snap: Snapshot) -> SnapshotNode:
    """A snapshot document's node; external is ``virDomainSnapshotDefIsExternal``: its memory or any disk."""
    external = snap.memory_snapshot == "external" or any(d.snapshot == "external" for d in snap.disks or [])
    return SnapshotNode(snap.name or "", snap.parent, snap.state, external)


def list_snapshot_names(nodes: Iterable[SnapshotNode], flags: int, function: str) -> list[str]:
    """virDomainSnapshotObjListGetNames over ``nodes``, given oldest first; ``function`` names the caller.

    ROOTS keeps the snapshots without a parent; LEAVES and NO_LEAVES each
    filter (both: none, as libvirt's moment list ends up doing); the status
    group (INACTIVE, ACTIVE, DISK_ONLY) and the location group (INTERNAL,
    EXTERNAL) each filter unless all of a group is given; METADATA keeps
    all (every listed snapshot has metadata) and NO_METADATA alone none.
    The order is libvirt's pre-order walk, each parent's newest child first,
    so TOPOLOGICAL (parents before children) always holds.
    """
    check_flags(flags, _ACCEPTED, function)
    if flags & _METADATA == _VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA:
        return []
    by_name = {node.name: node for node in nodes}
    children: dict[str | None, list[str]] = {}
    for node in by_name.values():
        parent = node.parent if node.parent in by_name else None
        children.setdefault(parent, []).insert(0, node.name)  # virDomainMomentSetParent puts a child first
    order: list[str] = []
    todo = list(children.get(None, []))
    while todo:  # pre-order walk: a parent, then its subtrees
        name = todo.pop(0)
        order.append(name)
        if not flags & _VIR_DOMAIN_SNAPSHOT_LIST_ROOTS:
            todo[:0] = children.get(name, [])
    return [n for n in order if _matches(by_name[n], bool(children.get(n)), flags)]


def _matches(node: SnapshotNode, has_children: bool, flags: int) -> bool:
    """virDomainMomentObjListCopyNames + virDomainSnapshotFilter for one snapshot."""
    if flags & _VIR_DOMAIN_SNAPSHOT_LIST_LEAVES and has_children:
        return False
    if flags & _VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES and not has_children:  # with LEAVES too: none, as libvirt
        return False
    status = flags & _STATUS
    if (
        status
        and status != _STATUS
        and not status & _STATUS_OF_STATE.get(node.state or "", _VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE)
    ):
        return False
    location = flags & _LOCATION
    if location and location != _LOCATION:
        return node.external == bool(location & _VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL)
    return True
