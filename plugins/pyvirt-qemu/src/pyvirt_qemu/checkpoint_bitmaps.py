"""The dirty bitmaps behind checkpoints: QMP ``transaction`` actions and libvirt 9.0's bitmap-chain rules.

A checkpoint of a disk is a persistent dirty bitmap, named after the
checkpoint, on the format node of the disk's top image: from then on QEMU
marks every cluster the guest writes, and qcow2 keeps the bitmap in the
image when the guest stops. In libvirt 9.0 (qemuCheckpointAddActions) a new
checkpoint leaves the older checkpoints' bitmaps recording, so the bitmap of
checkpoint X alone holds every change since X; deleting X therefore just
removes its bitmap (qemuCheckpointDiscardBitmaps) and an incremental backup
from X merges X's bitmap of each image of the disk's backing chain into a
temporary one (qemuBackupDiskPrepareOneBitmaps). These are the functions
the checkpoint hooks and the backup job (:mod:`pyvirt_qemu.backup`) share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, OperationFailedError
from pyvirt_qemu.block_nodes import format_node

if TYPE_CHECKING:
    from pyvirt.conf.checkpoint import Checkpoint
    from pyvirt.conf.domain import Domain
    from pyvirt_qemu.monitor import Monitor

__all__ = [
    "SIZE_BITMAP",
    "NodeBitmaps",
    "chain_is_valid",
    "chain_nodes",
    "checkpoint_add_actions",
    "discard_actions",
    "disk_by_target",
    "incremental_bitmap_actions",
    "node_bitmaps",
    "size_actions",
]

NodeBitmaps = dict[str, dict[str, dict[str, Any]]]
"""Format node name -> bitmap name -> QEMU's ``dirty-bitmaps`` entry (name, recording, persistent, count...)."""

SIZE_BITMAP = "libvirt-tmp-size-xml"
"""The temporary bitmap checkpoint-dumpxml --size merges into (libvirt's name, so leftovers are recognised)."""


def node_bitmaps(monitor: Monitor) -> NodeBitmaps:
    """qemuBlockGetNamedNodeData's bitmaps: every node's, from ``query-named-block-nodes`` (flat)."""
    out: NodeBitmaps = {}
    for node in monitor.execute("query-named-block-nodes", {"flat": True}):
        name = node.get("node-name")
        if name:
            out[str(name)] = {str(b["name"]): b for b in node.get("dirty-bitmaps", []) if b.get("name")}
    return out


def disk_by_target(dom: Domain, target: str | None) -> Disk | None:
    """virDomainDiskByTarget: a checkpoint's disk entry names its disk by target; a detached one is None."""
    return next((d for d in (dom.devices.disks if dom.devices else []) if d.target_dev == target), None)


def chain_nodes(disk: Disk) -> list[str]:
    """The format node of each image of the disk's chain, top first (``libvirt-N-format`` by its index)."""
    top = format_node(disk)
    if top is None:
        return []
    out = [top]
    layer: BackingStore | None = disk.backing
    while layer is not None and (layer.source_file or layer.source_dev) and layer.index is not None:
        out.append(f"libvirt-{layer.index}-format")
        layer = layer.backing
    return out


def chain_is_valid(disk: Disk, bitmap: str, bitmaps: NodeBitmaps) -> bool:
    """qemuBlockBitmapChainIsValid: the bitmap is on the top image, on no image below a gap, and on every one
    it is persistent, recording and consistent."""
    found = ended = False
    for node in chain_nodes(disk):
        entry = bitmaps.get(node, {}).get(bitmap)
        if entry is None:
            if not found:
                return False
            ended = True
            continue
        if ended or entry.get("inconsistent") or not entry.get("persistent") or not entry.get("recording"):
            return False
        found = True
    return found


def _add(node: str, name: str, persistent: bool, disabled: bool = False, granularity: int = 0) -> dict[str, Any]:
    """qemuMonitorTransactionBitmapAdd: ``disabled`` and ``granularity`` only when set."""
    data: dict[str, Any] = {"node": node, "name": name, "persistent": persistent}
    if disabled:
        data["disabled"] = True
    if granularity:
        data["granularity"] = granularity
    return {"type": "block-dirty-bitmap-add", "data": data}


def checkpoint_add_actions(chk: Checkpoint, dom: Domain) -> list[dict[str, Any]]:
    """qemuCheckpointAddActions: one persistent, recording ``block-dirty-bitmap-add`` on the top format node of
    each disk the (aligned) checkpoint covers with ``checkpoint='bitmap'``; run them in one ``transaction``.

    The older checkpoints' bitmaps are left recording, as libvirt 9.0 leaves them.
    """
    actions = []
    for entry in chk.disks or []:
        disk = disk_by_target(dom, entry.name)
        node = format_node(disk) if disk is not None else None
        if node is None or entry.checkpoint != "bitmap" or not entry.bitmap:
            continue
        actions.append(_add(node, entry.bitmap, True))
    return actions


def _merge_actions(disk: Disk, bitmap: str, target_node: str, target_bitmap: str,
                   bitmaps: NodeBitmaps) -> list[dict[str, Any]]:  # fmt: skip
    """qemuBlockGetBitmapMergeActions for one named bitmap into an explicitly named, transient, disabled one."""
    sources: list[dict[str, str]] = []
    granularity = 0
    for node in chain_nodes(disk):
        entry = bitmaps.get(node, {}).get(bitmap)
        if entry is None:
            continue
        granularity = granularity or int(entry.get("granularity", 0))
        sources.append({"node": node, "name": bitmap})
    if not sources:
        return []
    return [
        _add(target_node, target_bitmap, False, True, granularity),
        {"type": "block-dirty-bitmap-merge", "data": {"node": target_node, "target": target_bitmap,
                                                      "bitmaps": sources}},
    ]  # fmt: skip


def incremental_bitmap_actions(disk: Disk, checkpoint: str, target_node: str, target_bitmap: str,
                               bitmaps: NodeBitmaps) -> list[dict[str, Any]]:  # fmt: skip
    """What an incremental backup from ``checkpoint`` copies, as libvirt 9.0's qemuBackupDiskPrepareOneBitmaps
    gathers it: ``target_bitmap`` (transient, disabled) added on ``target_node`` and the checkpoint's bitmap of
    every image of the disk's chain merged into it. A push backup passes the disk's own format node and
    ``backup-<target>``.

    :raises OperationFailedError: CHECKPOINT_INCONSISTENT when the checkpoint's bitmap chain is missing or
        broken (qemuBlockBitmapChainIsValid), in libvirt's words.
    """
    if not chain_is_valid(disk, checkpoint, bitmaps):
        raise OperationFailedError(
            ErrorCode.CHECKPOINT_INCONSISTENT, f"missing or broken bitmap '{checkpoint}' for disk '{disk.target_dev}'",
            domain=ErrorDomain.QEMU,
        )  # fmt: skip
    return _merge_actions(disk, checkpoint, target_node, target_bitmap, bitmaps)


def discard_actions(chk: Checkpoint, dom: Domain, bitmaps: NodeBitmaps) -> list[dict[str, Any]]:
    """qemuCheckpointDiscardBitmaps' actions: the checkpoint's bitmap removed from every image that has it.

    :raises InternalError: a disk still attached has no such bitmap anywhere in its chain (libvirt's words).
    """
    actions: list[dict[str, Any]] = []
    for entry in chk.disks or []:
        disk = disk_by_target(dom, entry.name)
        if disk is None or entry.checkpoint != "bitmap":  # a disk unplugged since has nothing left to remove
            continue
        if not entry.bitmap:
            from pyvirt.errors import InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"missing bitmap name for disk '{entry.name}' of checkpoint '{chk.name}'",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        found = [node for node in chain_nodes(disk) if entry.bitmap in bitmaps.get(node, {})]
        if not found:
            raise InternalError(
                ErrorCode.INTERNAL_ERROR, f"bitmap '{entry.bitmap}' not found in backing chain of '{disk.target_dev}'",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        actions += [{"type": "block-dirty-bitmap-remove", "data": {"node": n, "name": entry.bitmap}} for n in found]
    return actions


def size_actions(disk: Disk, checkpoint: str, bitmaps: NodeBitmaps) -> tuple[list[dict[str, Any]], ...]:
    """qemuCheckpointGetXMLDescUpdateSize for one disk: (remove a leftover temporary bitmap, merge the
    checkpoint's chain into a fresh one, remove it again) as three lists of actions."""
    node = format_node(disk) or ""
    recover = []
    if SIZE_BITMAP in bitmaps.get(node, {}):
        recover.append({"type": "block-dirty-bitmap-remove", "data": {"node": node, "name": SIZE_BITMAP}})
    merge = _merge_actions(disk, checkpoint, node, SIZE_BITMAP, bitmaps)
    cleanup = [{"type": "block-dirty-bitmap-remove", "data": {"node": node, "name": SIZE_BITMAP}}]
    return recover, merge, cleanup
