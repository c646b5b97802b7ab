"""A disk's write threshold: virDomainSetBlockThreshold, and QEMU's BLOCK_WRITE_THRESHOLD as block-threshold.

libvirt 9.0 (qemuDomainSetBlockThreshold, qemuProcessHandleBlockThreshold):
the threshold goes on the image's storage node (``libvirt-N-storage``) with
QMP ``block-set-write-threshold``; QEMU reports it once, as
BLOCK_WRITE_THRESHOLD naming that node, and forgets it. The event names the
disk by its target (``vda``) and by the image's index (``vda[N]``): both when
the threshold was set on the top image by target, only the indexed one when
it was set as ``vda[N]``. The path is the image's when it is local storage.
libvirt keeps no trace of the threshold in the domain XML; ``domstats``
shows what QEMU reports as ``block.N.threshold``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.errors import ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.events import BlockThresholdEvent

if TYPE_CHECKING:
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["on_write_threshold", "threshold_node"]

# Per domain (UUID) and run of its QEMU (pid): the storage nodes whose threshold was set with an explicit
# index ("vda[1]"), which libvirt remembers (thresholdEventWithIndex) to raise only the indexed event.
# A new run starts afresh, as libvirt's definition of the running guest does.
_WITH_INDEX: dict[str, tuple[int, dict[str, bool]]] = {}


def _with_index(obj: DomainObj) -> dict[str, bool]:
    pid = obj.process.pid if obj.process is not None else 0
    run = _WITH_INDEX.get(obj.uuid)
    if run is None or run[0] != pid:
        run = _WITH_INDEX[obj.uuid] = (pid, {})
    return run[1]


def _layers(disk: Disk) -> list[Disk | BackingStore]:
    out: list[Disk | BackingStore] = [disk]
    layer = disk.backing
    while layer is not None and (layer.source_file or layer.source_dev or layer.type):
        out.append(layer)
        layer = layer.backing
    return out


def _index(layer: Disk | BackingStore) -> int | None:
    return layer.source_index if isinstance(layer, Disk) else layer.index


def _disks(obj: DomainObj) -> list[Disk]:
    return list(obj.live.devices.disks) if obj.live.devices is not None else []


def threshold_node(obj: DomainObj, dev: str) -> str:
    """The storage node of ``dev`` (``vda`` or ``vda[N]``), as qemuDomainGetStorageSourceByDevstr finds it,
    remembering for the event whether an index named it."""
    match = re.fullmatch(r"([^\[\]]+)(?:\[(\d+)\])?", dev)  # virStorageFileParseBackingStoreStr
    if match is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"failed to parse block device '{dev}'",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    target, index = match[1], int(match[2]) if match[2] is not None else 0
    disk = next((d for d in _disks(obj) if d.target_dev == target), None)
    if disk is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"failed to find disk '{target}'", domain=ErrorDomain.QEMU)
    layer = disk if index == 0 else next((x for x in _layers(disk) if _index(x) == index), None)
    number = _index(layer) if layer is not None else None
    if number is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"failed to find disk '{dev}'", domain=ErrorDomain.QEMU)
    node = f"libvirt-{number}-storage"
    _with_index(obj)[node] = "[" in dev
    return node


def on_write_threshold(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """QEMU's BLOCK_WRITE_THRESHOLD (node-name, write-threshold, amount-exceeded) -> block-threshold event(s)."""
    node = str(data.get("node-name", ""))
    threshold, excess = int(data.get("write-threshold", 0)), int(data.get("amount-exceeded", 0))
    for disk in _disks(obj):
        for layer in _layers(disk):
            number = _index(layer)
            if number is None or node not in (f"libvirt-{number}-storage", f"libvirt-{number}-format"):
                continue
            local = layer.type in (None, "file", "block", "dir")  # virStorageSourceIsLocalStorage
            path = (layer.source_file or layer.source_dev) if local else None
            names = []
            if layer is disk and not _with_index(obj).get(f"libvirt-{number}-storage", False):
                names.append(str(disk.target_dev))
            names.append(f"{disk.target_dev}[{number}]")
            for name in names:
                ev = BlockThresholdEvent(obj.ref(), name, path, threshold, excess)
                for sink in list(state.sinks):
                    sink.emit("block-threshold", ev)
            return
