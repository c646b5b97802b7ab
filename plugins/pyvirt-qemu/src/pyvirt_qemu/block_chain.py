"""Block pull and block commit: ``block-stream`` and ``block-commit`` along a disk's backing chain.

As libvirt's QEMU driver does with ``-blockdev``: a pull (virDomainBlockPull,
virDomainBlockRebase without COPY) copies the images between the disk's top
and ``base`` into the top image; a commit (virDomainBlockCommit) writes the
images from ``top`` down to just above ``base`` into ``base``. Jobs are named
``pull-<target>-<format node>`` and ``commit-<target>-<format node>`` after the
top image's format node, as libvirt names them.

The chain changes only when QEMU reports the job COMPLETED: the images that
left it lose their block nodes, the live XML's ``<backingStore>`` chain skips
them (the persistent definition follows when it described the same chain), and
BLOCK_JOB / BLOCK_JOB_2 events report it. Labels are given back as libvirt does:
the disk's own image when it leaves (an active commit's pivot) gets its
remembered owner back; backing layers were read-only to the guest and are left
as they are, since other guests may share them. A cancelled or failed job
leaves chain, nodes and labels as they were.

An *active* commit (the top is the disk's running image) is a mirror in QEMU:
it reaches READY and waits, showing ``<mirror job='active-commit'>``, until
virDomainBlockJobAbort ends it: PIVOT makes ``base`` the disk's image, a plain
abort keeps the disk on its overlay (virsh's ``--keep-overlay``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain_devices import BackingStore, Disk, DiskMirror
from pyvirt.errors import (
    Error,
    ErrorCode,
    InvalidArgumentError,
    NotSupportedError,
    OperationInvalidError,
)
from pyvirt.util.command import Command
from pyvirt_qemu.block_jobs_common import delete_nodes, give_back_labels, live_disk, mark_ready, start_job
from pyvirt_qemu.block_nodes import format_node

if TYPE_CHECKING:
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["ChainJob", "conclude", "forget", "recover", "runtime", "start_commit", "start_pull"]

PULL, COMMIT, ACTIVE_COMMIT = 1, 3, 4  # virDomainBlockJobType
COMPLETED, FAILED, CANCELED, READY = 0, 1, 2, 3  # virConnectDomainEventBlockJobStatus

Layer = Disk | BackingStore


@dataclass
class ChainJob:
    """One running pull or commit: which layers leave the chain when it completes.

    The fields ``name``, ``target``, ``path``, ``state``, ``status``, ``error`` and
    ``ended`` are those of :class:`pyvirt_qemu.block_jobs.CopyJob`, so that
    abort, speed and the event thread treat both alike.
    """

    name: str
    target: str
    path: str
    job_type: int  # PULL, COMMIT or ACTIVE_COMMIT
    top: int  # index of the highest layer that leaves the chain (commit) or is written to (pull)
    base: int | None  # index of the layer that stays below them; None: the chain ends (a full pull)
    delete: bool = False  # a commit's DELETE: the images that left the chain are removed
    state: str = "running"  # running, ready, aborting, pivoting
    status: int | None = None
    error: str | None = None
    ended: threading.Event = field(default_factory=threading.Event)


def _index(layer: Layer) -> int | None:
    return layer.source_index if isinstance(layer, Disk) else layer.index


def _path(layer: Layer) -> str | None:
    return layer.source_file or layer.source_dev


def _chain(disk: Disk) -> list[Layer]:
    """The disk's images top-down; an empty ``<backingStore/>`` ends it and is not one."""
    out: list[Layer] = [disk]
    layer = disk.backing
    while layer is not None and _path(layer):
        out.append(layer)
        layer = layer.backing
    return out


def _lookup(disk: Disk, chain: list[Layer], name: str | None, below: int | None) -> int:
    """virStorageSourceChainLookup: position of image ``name`` (a path or ``vda[N]``) in the chain, looked for
    beneath position ``below``; without a name, the chain's last image."""
    dst = disk.target_dev or ""
    start = dst  # libvirt names the chain by the disk's target here
    candidates = range((below + 1) if below is not None else 0, len(chain))
    index: int | None = None
    if name is not None and name.endswith("]") and "[" in name:
        target, _, number = name[:-1].partition("[")
        if target and target != dst:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"requested target '{target}' does not match target "
                                       f"'{dst}'")  # fmt: skip
        if number.isdigit():
            index = int(number)
    for pos in candidates:
        layer = chain[pos]
        if index is not None and _index(layer) == index:
            return pos
        if index is None and name is not None and name in (_path(layer), os.path.basename(_path(layer) or "")):
            return pos
        if name is None and pos == len(chain) - 1:
            return pos
    above = f" beneath '{_path(chain[below])}'" if below is not None else ""
    if index is not None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"could not find backing store index '{index}' in chain "
                                   f"for '{start}'")  # fmt: skip
    if name is not None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"could not find image '{name}'{above} in chain for '{start}'"
        )
    raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"could not find base image in chain for '{start}'")


def _raw_backing(path: str) -> str | None:
    """The backing file name as written in an image's header (libvirt's backingStoreRaw)."""
    out = Command(["qemu-img", "info", "--output=json", "-U", path]).pass_env("PATH").capture_stdout().run(timeout=60)
    value = json.loads(out.stdout or b"{}").get("backing-filename")
    return str(value) if value else None


def _relative_backing(chain: list[Layer], upper: int, base: int) -> str:
    """virStorageSourceGetRelativeBackingPath: ``base`` named relative to the image at ``upper``, composed of
    the relative names the images between them record; refused when one of them is absolute."""
    relative = ""
    for pos in range(upper, base):
        raw = _raw_backing(_path(chain[pos]) or "")
        if raw is None or os.path.isabs(raw):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "can't keep relative backing relationship")
        relative = os.path.join(os.path.dirname(relative), raw) if relative else raw
    return relative


def _check_idle(obj: DomainObj, disk: Disk) -> None:
    """qemuDomainDiskBlockJobIsActive: one block job per disk."""
    if (disk.target_dev or "") in obj.block_jobs or disk.mirror is not None:
        raise OperationInvalidError(ErrorCode.BLOCK_COPY_ACTIVE, f"disk '{disk.target_dev}' already in active "
                                    "block job")  # fmt: skip
    if format_node(disk) is None or disk.type not in (None, "file", "block"):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"block jobs are not supported on disk '{disk.target_dev}'")  # fmt: skip


def _register(state: QemuState, obj: DomainObj, monitor: Monitor, job: ChainJob, command: str,
              args: dict[str, Any], mirror: DiskMirror | None, disk: Disk) -> None:  # fmt: skip
    start_job(obj, monitor, job, disk, mirror, command, args)
    state.save_status(obj)


def start_pull(state: QemuState, obj: DomainObj, monitor: Monitor, disk: Disk, base: str | None, speed: int,
               relative: bool) -> None:  # fmt: skip
    """qemuDomainBlockPullCommon for a running guest whose MODIFY job the caller holds; ``speed`` in bytes/s."""
    if relative and base is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "flag VIR_DOMAIN_BLOCK_REBASE_RELATIVE is valid only "
                                   "with non-null base")  # fmt: skip
    _check_idle(obj, disk)
    chain = _chain(disk)
    base_pos = _lookup(disk, chain, base, 0) if base is not None else None
    dst = disk.target_dev or ""
    name = f"pull-{dst}-{format_node(disk)}"
    args: dict[str, Any] = {"job-id": name, "device": format_node(disk), "auto-dismiss": True}
    if base_pos is not None:
        base_layer = chain[base_pos]
        args["base-node"] = f"libvirt-{_index(base_layer)}-format"
        args["backing-file"] = _relative_backing(chain, 0, base_pos) if relative else _path(base_layer)
    if speed:
        args["speed"] = speed
    base_index = _index(chain[base_pos]) if base_pos is not None else None
    job = ChainJob(name, dst, disk.source_path or "", PULL, disk.source_index or 0, base_index)
    _register(state, obj, monitor, job, "block-stream", args, None, disk)


def start_commit(state: QemuState, obj: DomainObj, monitor: Monitor, disk: Disk, base: str | None,
                 top: str | None, speed: int, shallow: bool, active: bool, relative: bool,
                 delete: bool = False) -> None:  # fmt: skip
    """qemuDomainBlockCommit + qemuBlockCommit for a running guest whose MODIFY job the caller holds."""
    dst = disk.target_dev or ""
    if not disk.source_path:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk {dst} has no source file to be committed")
    chain = _chain(disk)
    top_pos = 0 if top is None or top == dst else _lookup(disk, chain, top, None)
    base_pos = top_pos + 1 if base is None and shallow else _lookup(disk, chain, base, top_pos)
    _check_idle(obj, disk)
    top_layer = chain[top_pos]
    if top_pos == 0:
        if not active:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"commit of '{dst}' active layer requires active flag")
    elif active:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"active commit requested but '{_path(top_layer)}' is "
                                   "not active")  # fmt: skip
    if len(chain) <= top_pos + 1:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"top '{_path(top_layer)}' in chain for "
                                   f"'{disk.source_path}' has no backing file")  # fmt: skip
    if base_pos >= len(chain):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"could not find base image in chain for '{dst}'")
    base_layer = chain[base_pos]
    assert isinstance(base_layer, BackingStore)  # below the top, so never the disk itself
    if shallow and base_pos != top_pos + 1:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"base '{_path(base_layer)}' is not immediately below "
                                   f"'{_path(top_layer)}' in chain for '{disk.source_path}'")  # fmt: skip
    name = f"commit-{dst}-{format_node(disk)}"
    args: dict[str, Any] = {"job-id": name, "device": format_node(disk), "auto-dismiss": True,
                            "base-node": f"libvirt-{_index(base_layer)}-format"}  # fmt: skip
    if top_pos > 0:  # the image above the top records base's name from now on (an active commit: none does)
        args["top-node"] = f"libvirt-{_index(top_layer)}-format"
        args["backing-file"] = _relative_backing(chain, top_pos - 1, base_pos) if relative else _path(base_layer)
    if speed:
        args["speed"] = speed
    mirror = None
    if active:  # libvirt shows where the disk goes: the base node, without the old copy-only attributes
        mirror = DiskMirror(type=base_layer.type or "file", job="active-commit", format_type=base_layer.format,
                            source_file=base_layer.source_file, source_dev=base_layer.source_dev,
                            source_index=base_layer.index)  # fmt: skip
    job = ChainJob(name, dst, disk.source_path or "", ACTIVE_COMMIT if active else COMMIT, _index(top_layer) or 0,
                   _index(base_layer), delete=delete)  # fmt: skip
    _register(state, obj, monitor, job, "block-commit", args, mirror, disk)


def conclude(state: QemuState, obj: DomainObj, job: ChainJob, event: str, data: dict[str, Any]) -> int | None:
    """A BLOCK_JOB_* event of this job; the status it ended with, or None while it goes on."""
    if event == "BLOCK_JOB_READY":
        return READY if mark_ready(obj, job) else None
    if event not in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"):
        return None
    error = data.get("error")
    job.error = str(error) if error is not None else None
    with obj.lock:
        disk = live_disk(obj, job.target)
        if disk is not None:
            disk.mirror = None
    if error is not None:
        return CANCELED if job.state == "aborting" else FAILED
    if event == "BLOCK_JOB_CANCELLED" or (job.job_type == ACTIVE_COMMIT and job.state != "pivoting"):
        return CANCELED  # an active commit cancelled once ready completes in QEMU, the disk stays on its overlay
    if disk is not None:
        _drop_layers(state, obj, job, disk)
    return COMPLETED


def _drop_layers(state: QemuState, obj: DomainObj, job: ChainJob, disk: Disk) -> None:
    """qemuBlockJobProcessEventCompleted{Pull,Commit,ActiveCommit}: the chain skips the images that left it."""
    with obj.lock:
        chain = _chain(disk)
        positions = {_index(layer): pos for pos, layer in enumerate(chain)}
        top = positions.get(job.top, 0)
        base = positions.get(job.base) if job.base is not None else None
        if job.job_type == PULL:
            gone = chain[1:base] if base is not None else chain[1:]
            kept = chain[base] if base is not None else BackingStore()
            disk.backing = _as_backing(kept)
        elif job.job_type == COMMIT:
            gone = chain[top:base]
            parent = chain[top - 1]
            parent.backing = _as_backing(chain[base]) if base is not None else BackingStore()
        else:  # an active commit pivoted: base is the disk's image now
            assert base is not None
            gone = chain[:base]
            old = disk.model_copy(deep=True)
        # named before the disk itself (one of them after an active commit) takes base's place
        gone_paths = [p for p in (_path(layer) for layer in gone) if p]
        # libvirt gives back only the disk's own image: backing layers are read-only to it, never restored
        # (virSecurityDACRestoreImageLabelSingle), since other guests may use them
        given_back = [disk.source_path] if gone and gone[0] is disk and disk.source_path else []
        gone_files = [layer.source_file for layer in gone if layer.type in (None, "file") and layer.source_file]
        gone_nodes = [f"libvirt-{_index(layer)}-{kind}" for layer in gone for kind in ("format", "storage")]
        if job.job_type == ACTIVE_COMMIT:
            assert base is not None
            _become(disk, chain[base])
        persistent = obj.config
    delete_nodes(obj, gone_nodes)
    give_back_labels(state, obj, given_back)
    if job.delete:  # qemuBlockJobDeleteImages: local files only; a failure is no failure of the job
        for path in gone_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
    if persistent is not None and job.job_type == ACTIVE_COMMIT:
        _rewrite_source(state, persistent, old, disk)
    elif persistent is not None:
        _rewrite_chain(state, persistent, disk, gone_paths)


def _as_backing(layer: Layer) -> BackingStore:
    if isinstance(layer, BackingStore):
        return layer
    return BackingStore(type=layer.type or "file", index=layer.source_index, format=layer.driver_type,
                        source_file=layer.source_file, source_dev=layer.source_dev,
                        backing=layer.backing)  # fmt: skip


def _become(disk: Disk, layer: Layer) -> None:
    """The disk runs on ``layer`` now: its source, format, number and what lies below it."""
    assert isinstance(layer, BackingStore)
    disk.type = layer.type or "file"
    disk.driver_type = layer.format
    disk.source_file, disk.source_dev = layer.source_file, layer.source_dev
    disk.source_index = layer.index
    disk.backing = layer.backing if layer.backing is not None else BackingStore()


def _rewrite_chain(state: QemuState, persistent: Any, live: Disk, gone: list[str]) -> None:
    """The definition follows when it spelled out the chain the job changed: the same disk, an image that left."""
    for disk in persistent.devices.disks if persistent.devices else []:
        if disk.target_dev != live.target_dev or disk.source_path != live.source_path:
            continue
        if not any(_path(layer) in gone for layer in _chain(disk)[1:]):
            return
        disk.backing = _strip_indexes(live.backing)
        with contextlib.suppress(Error):
            state.save_config(persistent)
        return


def _rewrite_source(state: QemuState, persistent: Any, old: Disk, new: Disk) -> None:
    """qemuBlockJobRewriteConfigDiskSource after a pivot: the definition that named the overlay names base."""
    for disk in persistent.devices.disks if persistent.devices else []:
        if disk.target_dev == old.target_dev and disk.source_path == old.source_path:
            disk.type, disk.driver_type = new.type, new.driver_type
            disk.source_file, disk.source_dev = new.source_file, new.source_dev
            disk.backing = _strip_indexes(new.backing)
            with contextlib.suppress(Error):
                state.save_config(persistent)
            return


def _strip_indexes(layer: BackingStore | None) -> BackingStore | None:
    """A live chain as configuration: no node numbers, and no closing ``<backingStore/>``."""
    if layer is None or not _path(layer):
        return None
    copy = layer.model_copy(deep=True)
    copy.index = None
    copy.backing = _strip_indexes(layer.backing)
    return copy


def forget(state: QemuState, obj: DomainObj, job: ChainJob) -> None:
    """The guest's QEMU is gone and the job with it; nothing was labelled for it, so nothing to give back."""
    del state, obj
    job.status = FAILED
    job.ended.set()


# ---------------------------------------------------------------- a daemon that starts again


def runtime(obj: DomainObj) -> dict[str, str]:
    """The running pulls and commits for the status file (libvirt keeps them in its ``<blockjobs>``): by disk
    target, "type top base delete" with the layers' node numbers (base "-" for a full pull)."""
    return {target: f"{job.job_type} {job.top} {job.base if job.base is not None else '-'} {int(job.delete)}"
            for target, job in obj.block_jobs.items() if isinstance(job, ChainJob)}  # fmt: skip


def _chain_files(monitor: Monitor, node: str) -> list[str]:
    """The image files QEMU's chain under format node ``node`` reads now, top down."""
    nodes = {str(n.get("node-name")): n for n in monitor.execute("query-named-block-nodes", {"flat": True})}
    image = nodes.get(node, {}).get("image")
    files: list[str] = []
    while isinstance(image, dict):
        files.append(str(image.get("filename", "")))
        image = image.get("backing-image")
    return files


def recover(state: QemuState, obj: DomainObj, monitor: Monitor, saved: dict[str, str]) -> None:
    """Take over the pulls and commits the status file lists: a job QEMU still runs is followed again; one
    that ended while no daemon listened is concluded by the chain QEMU's device reads now (the image that
    was to leave it is gone: completed; else cancelled or failed)."""
    from pyvirt_qemu.block_jobs import on_event
    from pyvirt_qemu.hotplug import top_nodes

    running = {str(j.get("device")): j for j in monitor.execute("query-block-jobs")}
    for target, text in saved.items():
        disk = live_disk(obj, target)
        fields = text.split()
        if disk is None or len(fields) != 4:
            continue
        job_type, top, base, delete = int(fields[0]), int(fields[1]), fields[2], fields[3] == "1"
        name = f"{'pull' if job_type == PULL else 'commit'}-{target}-{format_node(disk)}"
        job = ChainJob(name, target, disk.source_path or "", job_type, top, None if base == "-" else int(base),
                       delete=delete)  # fmt: skip
        qemu_job = running.get(name)
        if qemu_job is not None and qemu_job.get("ready"):
            job.state = "ready"
        if disk.mirror is not None and disk.mirror.ready in ("abort", "pivot"):
            job.state = "aborting" if disk.mirror.ready == "abort" else "pivoting"
        obj.block_jobs[target] = job
        if qemu_job is not None:
            continue
        chain = _chain(disk)
        positions = {_index(layer): pos for pos, layer in enumerate(chain)}
        leaving = chain[positions.get(top, 0) + (1 if job_type == PULL else 0) :]
        gone = _path(leaving[0]) if leaving else None
        alias = disk.alias.name if disk.alias is not None else None
        device_top = top_nodes(monitor).get(alias or "", format_node(disk) or "")
        completed = gone is not None and gone not in _chain_files(monitor, device_top)
        if completed and job_type == ACTIVE_COMMIT:
            job.state = "pivoting"
        on_event(state, obj, "BLOCK_JOB_COMPLETED" if completed else "BLOCK_JOB_CANCELLED", {"device": name})
