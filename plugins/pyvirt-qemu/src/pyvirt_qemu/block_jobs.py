"""Block copy: ``blockdev-mirror`` of a disk to a new image, and the end of the job (abort or pivot).

The destination is a local file or block device, a network image (NBD; its
``<disk type='network'>`` as virDomainBlockCopy's XML gives it) or a storage
volume, translated through the storage driver into one of those first. A new
image is made by the guest's QEMU as libvirt makes it
(:mod:`pyvirt_qemu.block_copy_create`); a reused one is opened as it is, its
format probed only when it is local.

As libvirt's QEMU driver does with ``-blockdev``: the destination gets its own
storage and format nodes (``libvirt-N-…``, N one above every number in use),
the job is named ``copy-<target>-<format node>``, and the disk's live XML
shows ``<mirror>`` while the job runs (``ready='yes'`` once QEMU reports
BLOCK_JOB_READY, ``abort``/``pivot`` while it is being ended).

QEMU's events drive the rest, on the monitor's event thread:

- BLOCK_JOB_READY: the copy caught up; BLOCK_JOB(_2) READY events.
- BLOCK_JOB_COMPLETED after ``block-job-complete`` (a pivot): the disk now
  runs on the copy; its old nodes go, the old image gets its label back, and
  the persistent definition follows when it named the same image
  (qemuBlockJobRewriteConfigDiskSource). Event COMPLETED.
- BLOCK_JOB_CANCELLED, or COMPLETED after ``block-job-cancel`` of a ready
  copy (libvirt reports both as CANCELED): the copy's nodes go and its label is
  restored; the disk stays as it was.
- an error ends the job as FAILED, cleaned up like an abort.

A copy that fails to start leaves nothing behind: nodes added are deleted,
a label set is restored and an image this call created is removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Disk, DiskHost, DiskMirror
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
    XMLError,
)
from pyvirt.flags import DomainBlockCopyFlags, DomainBlockRebaseFlags
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params
from pyvirt_qemu.block_chain import ChainJob, conclude, forget
from pyvirt_qemu.block_copy_create import create_file, format_props, image_facts, run_create, storage_props
from pyvirt_qemu.block_jobs_common import delete_nodes, give_back_labels, live_disk, mark_ready, start_job
from pyvirt_qemu.block_nodes import disk_blockdevs, format_node, next_node_id
from pyvirt_qemu.volume_disks import StorageLookup, resolve_volume_disk

if TYPE_CHECKING:
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = [
    "CopyJob",
    "CopyRequest",
    "abort",
    "forget_all",
    "job_of",
    "on_event",
    "recover",
    "request_from_rebase",
    "request_from_xml",
    "set_speed",
    "speed_bytes",
    "start_copy",
    "translate_volume",
]  # fmt: skip

JOB_TYPE_COPY = 2  # virDomainBlockJobType
COMPLETED, FAILED, CANCELED, READY = 0, 1, 2, 3  # virConnectDomainEventBlockJobStatus
_LLONG_MAX = (1 << 63) - 1
_QCOW2_MAGIC = b"QFI\xfb"


@dataclass
class CopyRequest:
    """What virDomainBlockCopy / virDomainBlockRebase(COPY) asked for, already parsed."""

    kind: str  # file, block, network (a volume is translated to one of them before the copy starts)
    path: str  # a local destination's path ("" for a network one)
    fmt: str | None
    bandwidth: int = 0  # bytes/s
    granularity: int = 0
    buf_size: int = 0
    shallow: bool = False
    reuse: bool = False
    sync_writes: bool = False
    protocol: str | None = None  # a network destination: protocol, export and its one server
    name: str | None = None
    hosts: list[DiskHost] | None = None
    tls: bool | None = None  # the source's tls='no' (tls='yes' is refused)
    pool: str | None = None  # a volume destination, until it is translated
    volume: str | None = None
    fdgroup: str | None = None  # a file passed as a descriptor: refused, as libvirt 9.0 refuses it


@dataclass
class CopyJob:
    """One running copy: QEMU's job, the destination's nodes, and how the job ended (once it has)."""

    name: str
    target: str  # the disk's target (vda): BLOCK_JOB_2's name for it
    path: str  # the disk's image when the job started: BLOCK_JOB's name for it
    mirror: Disk  # the destination as a disk (source, format, node number)
    nodes: list[str]  # the destination's nodes, users first (blockdev-del's order)
    state: str = "running"  # running, ready, aborting, pivoting
    status: int | None = None  # the virConnectDomainEventBlockJobStatus it ended with
    error: str | None = None
    ended: threading.Event = field(default_factory=threading.Event)


def request_from_xml(destxml: str, params: list[TypedParam], flags: int) -> CopyRequest:
    """qemuDomainBlockCopy: the typed parameters checked, the destination read from its ``<disk>``."""
    from pyvirt.conf.xmlmodel import parse_model
    from pyvirt.conf.xmlparse import parse_xml

    check_typed_params(params, {"bandwidth": TypedParamType.ULLONG, "granularity": TypedParamType.UINT,
                                "buf-size": TypedParamType.ULLONG})  # fmt: skip
    values = {p.field: int(p.value) for p in params}
    granularity = values.get("granularity", 0)
    if granularity & (granularity - 1):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "granularity must be power of 2")
    elem = parse_xml(destxml, "disk", "disk.xml")
    kind = elem.get("type") or "file"
    source = elem.find("source")
    src: dict[str, str] = {str(k): str(v) for k, v in source.attrib.items()} if source is not None else {}
    path = src.get("dev") if kind == "block" else src.get("file") if kind == "file" else ""
    if kind not in ("file", "block", "network", "volume"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"block copy to a '{kind}' disk is not supported "
                                "by the QEMU driver yet")  # fmt: skip
    _refuse_unsupported(elem)
    hosts = [parse_model(DiskHost, h, "disk/source/host") for h in source.iterchildren("host")] if source is not None \
        else []  # fmt: skip
    driver = elem.find("driver")
    fmt = driver.get("type") if driver is not None else None
    return CopyRequest(kind, path or "", fmt, values.get("bandwidth", 0), granularity, values.get("buf-size", 0),
                       shallow=bool(flags & DomainBlockCopyFlags.SHALLOW),
                       reuse=bool(flags & DomainBlockCopyFlags.REUSE_EXT),
                       sync_writes=bool(flags & DomainBlockCopyFlags.SYNCHRONOUS_WRITES),
                       protocol=src.get("protocol"), name=src.get("name"), hosts=hosts or None,
                       tls=False if src.get("tls") == "no" else None,
                       pool=src.get("pool"), volume=src.get("volume"), fdgroup=src.get("fdgroup"))  # fmt: skip


def _refuse_unsupported(elem: Any) -> None:
    """What a destination ``<disk>`` may say that this driver does not build yet is refused by name rather than
    ignored: a copy made without the encryption, credentials or backing chain asked for is not the copy asked for."""
    source = elem.find("source")
    places = [elem] if source is None else [elem, source]
    wanted = {
        "encryption": any(e.find("encryption") is not None for e in places),
        "a backing chain of its own": any(b.get("type") or len(b) for b in elem.iterchildren("backingStore")),
        "authentication": any(e.find("auth") is not None for e in places),
        "TLS": source is not None and source.get("tls") == "yes",
        "slices": source is not None and source.find("slices") is not None,
    }
    named = [what for what, asked in wanted.items() if asked]
    if named:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"a block copy destination with {', '.join(named)} "
                                "is not supported by the QEMU driver yet")  # fmt: skip


def translate_volume(req: CopyRequest, storage: StorageLookup) -> None:
    """A volume destination becomes what the storage driver says the volume is (a file, a block device or an
    iSCSI LUN), as a volume disk does at start; libvirt 9.0's copy skips this step and fails on the untranslated
    volume ("storage source pool '...' volume '...' is not translated")."""
    if req.kind != "volume":
        return
    if not req.pool or not req.volume:
        raise XMLError(ErrorCode.XML_ERROR, "missing pool or volume name for a disk of type 'volume'")
    disk = Disk(type="volume", source_pool=req.pool, source_volume=req.volume, driver_type=req.fmt)
    resolve_volume_disk(storage, disk)
    if disk.source_dir:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"volume '{req.volume}' of pool '{req.pool}' is a "
                                "directory, which cannot be a block copy destination")  # fmt: skip
    if disk.source_protocol:
        req.kind, req.protocol, req.name, req.hosts = "network", disk.source_protocol, disk.source_name, \
            disk.source_hosts  # fmt: skip
    else:
        req.kind = "file" if disk.source_file else "block"
        req.path = disk.source_file or disk.source_dev or ""


def speed_bytes(bandwidth: int, in_bytes: bool) -> int:
    """A job's speed in bytes/s from the API's MiB/s (or bytes/s), refused as libvirt refuses an overflow."""
    if in_bytes:
        return bandwidth
    if bandwidth > _LLONG_MAX >> 20:
        raise OperationFailedError(ErrorCode.OVERFLOW, f"bandwidth must be less than {_LLONG_MAX >> 20}")
    return bandwidth << 20


def request_from_rebase(base: str | None, bandwidth: int, flags: int) -> CopyRequest:
    """qemuDomainBlockRebase with COPY: the destination from ``base`` and the flags, the speed in bytes/s."""
    bandwidth = speed_bytes(bandwidth, bool(flags & DomainBlockRebaseFlags.BANDWIDTH_BYTES))
    if flags & DomainBlockRebaseFlags.RELATIVE:
        raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "Relative backing during copy not supported yet")
    kind = "block" if flags & DomainBlockRebaseFlags.COPY_DEV else "file"
    return CopyRequest(kind, base or "", "raw" if flags & DomainBlockRebaseFlags.COPY_RAW else None, bandwidth,
                       shallow=bool(flags & DomainBlockRebaseFlags.SHALLOW),
                       reuse=bool(flags & DomainBlockRebaseFlags.REUSE_EXT))  # fmt: skip


def job_of(obj: DomainObj, disk: Disk) -> CopyJob | ChainJob | None:
    return obj.block_jobs.get(disk.target_dev or "")


def _probe_format(path: str) -> str:
    """virStorageFileProbeFormat for the two formats a copy is made in here: qcow2 by its magic, else raw."""
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == _QCOW2_MAGIC else "raw"


def _check_destination(disk: Disk, req: CopyRequest) -> bool:
    """qemuDomainBlockCopyValidateMirror: whether the destination exists already (then it is reused)."""
    dst = disk.target_dev or ""
    try:
        st = os.stat(req.path)
    except OSError as exc:
        if req.reuse or req.kind == "block":
            raise SystemCallError(exc.errno or 0, f"missing destination file for disk {dst}: {req.path}") from None
        return False
    if stat.S_ISBLK(st.st_mode):
        return True
    if req.kind == "block":
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"blockdev flag requested for disk {dst}, but file "
                                   f"'{req.path}' is not a block device")  # fmt: skip
    if st.st_size and not req.reuse:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"external destination file for disk {dst} already "
                                f"exists and is not a block device: {req.path}")  # fmt: skip
    return req.reuse


def _backing_node(disk: Disk) -> str | None:
    layer = disk.backing
    if layer is None or layer.index is None or not (layer.source_file or layer.source_dev):
        return None
    return f"libvirt-{layer.index}-format"


def start_copy(state: QemuState, obj: DomainObj, monitor: Monitor, disk: Disk, req: CopyRequest,
               transient_job: bool) -> None:  # fmt: skip
    """qemuDomainBlockCopyCommon, for a running guest whose MODIFY job the caller holds (a volume destination
    translated already, :func:`translate_volume`)."""
    dst = disk.target_dev or ""
    local = req.kind in ("file", "block")
    if local and not os.path.isabs(req.path):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "absolute path must be used as block copy target")
    if req.bandwidth > _LLONG_MAX:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"bandwidth must be less than '{_LLONG_MAX}' bytes/s "
                                   f"({_LLONG_MAX >> 20} MiB/s)")  # fmt: skip
    if job_of(obj, disk) is not None or disk.mirror is not None:
        raise OperationInvalidError(ErrorCode.BLOCK_COPY_ACTIVE, f"disk '{dst}' already in active block job")
    if format_node(disk) is None or disk.type not in (None, "file", "block"):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"block copy of disk '{dst}' is not supported")
    if req.fdgroup is not None:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "copy to a FD passed disk source is not yet supported")
    if not transient_job and obj.persistent:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not transient")
    if req.protocol == "nbd" and req.tls is None and state.nbd_tls is not None and state.nbd_tls.enabled:
        # qemu.conf's nbd_tls would have libvirt reach the export over TLS, which the copy cannot set up yet
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a block copy destination with TLS is not supported "
                                "by the QEMU driver yet")  # fmt: skip
    backing = _backing_node(disk)
    shallow = req.shallow and backing is not None  # one layer only: nothing to share
    existing = _check_destination(disk, req) if local else req.reuse
    fmt = req.fmt
    if fmt is None and not req.reuse:
        fmt = disk.driver_type or "raw"
    elif fmt is None:  # only a local image can be probed
        if not local:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "reused mirror destination format must be specified")
        fmt = _probe_format(req.path)
    if shallow and not existing and fmt == "raw":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"shallow copy of disk '{dst}' into a raw file is not possible")  # fmt: skip
    mirror = Disk(type=req.kind, device=disk.device, driver_type=fmt, target_dev=dst,
                  source_file=req.path if req.kind == "file" else None,
                  source_dev=req.path if req.kind == "block" else None,
                  source_protocol=req.protocol, source_name=req.name, source_hosts=req.hosts,
                  # qemuDomainPrepareStorageSourceTLS: an NBD source in clear says so in the live XML
                  source_tls=False if req.protocol == "nbd" else req.tls,
                  backing=None if shallow else BackingStore())  # fmt: skip
    created = False
    labelled = False
    added: list[str] = []
    g = state.audit_guest(obj, obj.process.pid if obj.process is not None else 0)
    try:
        if not existing and req.kind == "file":  # (a missing block device was refused above)
            create_file(req.path)
            created = True
        if local:
            state.security.set_path_label(obj.live, req.path)
            labelled = True
        with obj.lock:
            mirror.source_index = next_node_id(obj.live)
        nodes = disk_blockdevs(mirror)
        if shallow:
            nodes[-1]["backing"] = backing
        storage_node, format_node_props = nodes
        facts = image_facts(monitor, format_node(disk) or "") if not existing else {}
        sized = storage_props(mirror, storage_node, int(facts.get("virtual-size", 0))) if not existing else None
        if sized is not None:
            run_create(monitor, f"create-{storage_node['node-name']}", sized)
        monitor.execute("blockdev-add", storage_node)
        added.append(str(storage_node["node-name"]))
        formatted = None
        if not existing:
            formatted = format_props(mirror, str(storage_node["node-name"]), disk, facts,
                                     disk.backing if shallow else None)  # fmt: skip
        if formatted is not None:
            run_create(monitor, f"create-{format_node_props['node-name']}", formatted)
        monitor.execute("blockdev-add", format_node_props)
        added.append(str(format_node_props["node-name"]))
        name = f"copy-{dst}-{format_node(disk)}"
        args: dict[str, Any] = {"job-id": name, "device": format_node(disk), "target": format_node(mirror),
                                "sync": "top" if shallow else "full", "auto-dismiss": True}  # fmt: skip
        if req.bandwidth:
            args["speed"] = req.bandwidth
        if req.granularity:
            args["granularity"] = req.granularity
        if req.buf_size:
            args["buf-size"] = req.buf_size
        if req.sync_writes:
            args["copy-mode"] = "write-blocking"
        job = CopyJob(name, dst, disk.source_file or disk.source_dev or "", mirror, list(reversed(added)))
        start_job(obj, monitor, job, disk, _mirror_xml(mirror), "blockdev-mirror", args)
    except Error:
        for name in reversed(added):
            with contextlib.suppress(Error):
                monitor.execute("blockdev-del", {"node-name": name})
        if labelled:
            with contextlib.suppress(Error):
                state.security.restore_path_label(obj.live, req.path)
        if created:
            with contextlib.suppress(OSError):
                os.unlink(req.path)
        state.auditor.disk(g, None, mirror.source_path, "mirror", False)  # (a network image: no path)
        raise
    state.auditor.disk(g, None, mirror.source_path, "mirror", True)
    state.save_status(obj)


def _mirror_xml(mirror: Disk, ready: str | None = None) -> DiskMirror:
    """virDomainDiskDefFormatMirror's content for a copy: old-style attributes for a file, the new children."""
    is_file = mirror.type == "file"
    return DiskMirror(type=mirror.type, file=mirror.source_file if is_file else None,
                      format=mirror.driver_type if is_file else None, job="copy", ready=ready,
                      format_type=mirror.driver_type, source_file=mirror.source_file, source_dev=mirror.source_dev,
                      source_protocol=mirror.source_protocol, source_name=mirror.source_name,
                      source_tls=mirror.source_tls, source_index=mirror.source_index, source_hosts=mirror.source_hosts,
                      backing=mirror.backing)  # fmt: skip


def abort(state: QemuState, obj: DomainObj, monitor: Monitor, disk: Disk, pivot: bool, wait: bool) -> None:
    """qemuDomainBlockJobAbort: cancel the copy, or (pivot) complete it; unless ``wait``, return once asked."""
    dst = disk.target_dev or ""
    job = job_of(obj, disk)
    if job is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk {dst} does not have an active block job")
    if job.state in ("aborting", "pivoting"):
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"block job on disk '{dst}' is still being ended")
    if pivot and job.state != "ready":
        raise OperationInvalidError(ErrorCode.BLOCK_COPY_ACTIVE, f"block job '{job.name}' not ready for pivot yet")
    # the new state before the command: QEMU's event may reach the event thread before the reply reaches us
    previous, job.state = job.state, "pivoting" if pivot else "aborting"
    try:
        monitor.execute("block-job-complete" if pivot else "block-job-cancel", {"device": job.name})
    except Error:
        job.state = previous
        raise
    with obj.lock:
        if disk.mirror is not None:
            disk.mirror.ready = "pivot" if pivot else "abort"
    state.save_status(obj)
    if not wait:
        return
    while not job.ended.wait(1.0):
        if obj.process is None or not obj.process.alive():
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
    if pivot and job.status == FAILED:
        detail = f": {job.error}" if job.error else ""
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"block job '{job.name}' failed while pivoting{detail}")


def set_speed(obj: DomainObj, monitor: Monitor, disk: Disk, bandwidth: int) -> None:
    """qemuDomainBlockJobSetSpeed, ``bandwidth`` in bytes/s."""
    job = job_of(obj, disk)
    if job is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk {disk.target_dev} does not have an active block job")
    monitor.execute("block-job-set-speed", {"device": job.name, "speed": bandwidth})


def on_event(state: QemuState, obj: DomainObj, event: str, data: dict[str, Any]) -> bool:
    """A BLOCK_JOB_* event of one of our copies (True), handled; anything else is not ours (False)."""
    name = data.get("device")
    job = next((j for j in list(obj.block_jobs.values()) if j.name == name), None)
    if job is None:
        return False
    if isinstance(job, ChainJob):
        _on_chain_event(state, obj, job, event, data)
        return True
    if event == "BLOCK_JOB_READY":
        if mark_ready(obj, job):
            _save(state, obj)
            _emit(state, obj, job, READY)
        return True
    if event == "BLOCK_JOB_ERROR":
        return True  # the job goes on or ends as QEMU's error policy says; its end comes as its own event
    if event not in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"):
        return True
    error = data.get("error")
    if event == "BLOCK_JOB_COMPLETED" and error is None and job.state == "pivoting":
        _conclude_pivot(state, obj, job)
        status = COMPLETED
    else:
        # libvirt: a copy cancelled once ready completes in QEMU, an abort's end is CANCELED either way
        status = FAILED if error is not None and job.state != "aborting" else CANCELED
        if event == "BLOCK_JOB_COMPLETED" and error is None and job.state == "running":
            status = COMPLETED  # (never for a mirror, which waits in the ready state; kept for completeness)
        _conclude_abort(state, obj, job)
    job.status, job.error = status, str(error) if error is not None else None
    with obj.lock:
        obj.block_jobs.pop(job.target, None)
    _save(state, obj)
    _emit(state, obj, job, status)
    job.ended.set()
    return True


def _on_chain_event(state: QemuState, obj: DomainObj, job: ChainJob, event: str, data: dict[str, Any]) -> None:
    """A pull's or commit's event: the chain updated (:mod:`pyvirt_qemu.block_chain`), then the same events."""
    status = conclude(state, obj, job, event, data)
    if status is None:
        return
    if status != READY:
        job.status = status
        with obj.lock:
            obj.block_jobs.pop(job.target, None)
    _save(state, obj)
    _emit(state, obj, job, status, job.job_type)
    if status != READY:
        job.ended.set()


def _save(state: QemuState, obj: DomainObj) -> None:
    if obj.process is not None and obj.process.alive():
        with contextlib.suppress(Error):
            state.save_status(obj)


def _emit(
    state: QemuState, obj: DomainObj, job: CopyJob | ChainJob, status: int, job_type: int = JOB_TYPE_COPY
) -> None:
    """BLOCK_JOB names the disk by its image now: after a pivot, the copy or commit's base (as libvirt does)."""
    with obj.lock:
        disk = live_disk(obj, job.target)
        path = (disk.source_file or disk.source_dev) if disk is not None else None
    ref = obj.ref()
    for sink in list(state.sinks):
        sink.block_job(ref, path or job.path, job.target, job_type, status)


def _conclude_abort(state: QemuState, obj: DomainObj, job: CopyJob) -> None:
    """qemuBlockJobProcessEventConcludedCopyAbort: the copy's nodes and label go; the disk is as it was."""
    with obj.lock:
        disk = live_disk(obj, job.target)
        if disk is not None:
            disk.mirror = None
    delete_nodes(obj, job.nodes)
    give_back_labels(state, obj, [job.mirror.source_path])


def _conclude_pivot(state: QemuState, obj: DomainObj, job: CopyJob) -> None:
    """qemuBlockJobProcessEventConcludedCopyPivot: the disk runs on the copy; its old chain is let go."""
    with obj.lock:
        disk = live_disk(obj, job.target)
        if disk is None:
            return
        old = disk.model_copy(deep=True)
        mirror = job.mirror
        _take_source(disk, mirror)
        disk.source_tls, disk.source_index = mirror.source_tls, mirror.source_index  # (live facts, not config)
        if mirror.backing is not None:  # a full copy: one image, its chain ends there
            disk.backing = mirror.backing
        disk.mirror = None
        persistent = obj.config if obj.config is not None else None
    shared_backing = mirror.backing is None  # a shallow copy keeps using the old backing chain
    old_nodes = [n["node-name"] for n in reversed(disk_blockdevs(old))]
    if shared_backing:
        old_nodes = [n for n in old_nodes if n.startswith(f"libvirt-{old.source_index}-")]
    delete_nodes(obj, [str(n) for n in old_nodes])
    give_back_labels(state, obj, [old.source_path])
    if persistent is not None:
        _rewrite_config(state, persistent, old, disk)


def _rewrite_config(state: QemuState, persistent: Domain, old: Disk, new: Disk) -> None:
    """qemuBlockJobRewriteConfigDiskSource: the definition follows the pivot when it named the same image."""
    for disk in persistent.devices.disks if persistent.devices else []:
        if disk.target_dev == old.target_dev and disk.source_path == old.source_path:
            _take_source(disk, new)
            if new.backing is not None and not (new.backing.source_file or new.backing.source_dev):
                disk.backing = None
            with contextlib.suppress(Error):
                state.save_config(persistent)
            return


def _take_source(disk: Disk, new: Disk) -> None:
    """The disk now reads the image ``new`` describes: local or network, and in its format."""
    disk.type, disk.driver_type = new.type, new.driver_type
    disk.source_file, disk.source_dev = new.source_file, new.source_dev
    disk.source_protocol, disk.source_name, disk.source_hosts = new.source_protocol, new.source_name, new.source_hosts


def forget_all(state: QemuState, obj: DomainObj) -> None:
    """The guest's QEMU is gone: its copies ended with it; their images get their labels back."""
    with obj.lock:
        jobs = list(obj.block_jobs.values())
        obj.block_jobs.clear()
    for job in jobs:
        if isinstance(job, ChainJob):
            forget(state, obj, job)
            continue
        give_back_labels(state, obj, [job.mirror.source_path])
        job.status = FAILED
        job.ended.set()


def recover(state: QemuState, obj: DomainObj, monitor: Monitor) -> None:
    """A daemon that starts again takes over the copies its status file shows (``<mirror>``), as libvirt's
    reconnect does: a job QEMU still runs is followed again; one that ended meanwhile is concluded by what
    QEMU's device now reads, the copy (it was pivoted) or the old image (it was cancelled or failed)."""
    from pyvirt_qemu.hotplug import top_nodes

    disks = [d for d in (obj.live.devices.disks if obj.live.devices else [])
             if d.mirror is not None and d.mirror.job in (None, "copy")]  # fmt: skip
    if not disks:
        return
    running = {str(j.get("device")): j for j in monitor.execute("query-block-jobs")}
    tops: dict[str, str] | None = None
    for disk in disks:
        m = disk.mirror
        assert m is not None
        dst = disk.target_dev or ""
        mirror = Disk(type=m.type, device=disk.device, driver_type=m.format_type, target_dev=dst,
                      source_file=m.source_file, source_dev=m.source_dev, source_protocol=m.source_protocol,
                      source_name=m.source_name, source_tls=m.source_tls, source_hosts=m.source_hosts,
                      source_index=m.source_index,
                      backing=m.backing)  # fmt: skip
        name = f"copy-{dst}-{format_node(disk)}"
        job_state = {"yes": "ready", "abort": "aborting", "pivot": "pivoting"}.get(m.ready or "", "running")
        qemu_job = running.get(name)
        if qemu_job is not None and qemu_job.get("ready") and job_state == "running":
            job_state, m.ready = "ready", "yes"  # it became ready while nobody listened
        nodes = [str(n["node-name"]) for n in reversed(disk_blockdevs(mirror))]
        job = CopyJob(name, dst, disk.source_file or disk.source_dev or "", mirror, nodes, job_state)
        obj.block_jobs[dst] = job
        if qemu_job is not None:
            continue
        if tops is None:
            tops = top_nodes(monitor)
        alias = disk.alias.name if disk.alias is not None else None
        pivoted = alias is not None and tops.get(alias) == format_node(mirror)
        job.state = "pivoting" if pivoted else "aborting"
        on_event(state, obj, "BLOCK_JOB_COMPLETED" if pivoted else "BLOCK_JOB_CANCELLED", {"device": name})
