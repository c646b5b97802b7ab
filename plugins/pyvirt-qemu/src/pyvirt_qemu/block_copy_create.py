"""A block copy's new destination image, made as libvirt 9.0 makes it (qemuDomainBlockCopyCommon).

libvirt does not run qemu-img here: it opens a local destination file itself
(empty, mode 0600: virStorageSourceCreate) so that the file can be labelled
for the guest before QEMU touches it, then lets the guest's own QEMU format it
with ``blockdev-create`` jobs (qemuBlockStorageSourceCreate):

1. storage: only a raw local file is sized by QEMU's ``file`` driver, since a
   raw image's size is its capacity (formats that keep the capacity in their
   header grow); network storage that QEMU can create (gluster, rbd, ssh, nfs)
   is not among what the QEMU driver here opens, and an NBD export exists
   already, so nothing is created for it;
2. the storage node is added;
3. format: every format but raw is written onto the storage node (qcow2 with
   the source's cluster size, and for a shallow copy the source's backing image
   recorded in its header);
4. the format node is added by the caller, as for an existing image.

Each ``blockdev-create`` is a QEMU job named ``create-<node>``; it is followed
with ``query-jobs`` until it concludes, then dismissed. Its error is libvirt's
"failed to format image: '...'".
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, OperationFailedError, SystemCallError

if TYPE_CHECKING:
    from pyvirt.conf.domain_devices import BackingStore, Disk
    from pyvirt_qemu.monitor import Monitor

__all__ = ["create_file", "format_props", "image_facts", "run_create", "storage_props"]

_JOB_TIMEOUT = 120.0  # seconds a create job may take before the copy gives up
# qemuBlockStorageSourceCreateGetFormatProps: format -> (QEMU driver, backing recorded, backing format recorded)
_FORMATS = {
    "qcow2": ("qcow2", True, True),
    "qcow": ("qcow", True, False),
    "qed": ("qed", True, True),
    "vpc": ("vpc", False, False),
    "ploop": ("parallels", False, False),
    "vdi": ("vdi", False, False),
    "vhd": ("vhdx", False, False),
    "vmdk": ("vmdk", True, False),
}


def create_file(path: str) -> None:
    """virStorageFileBackendFileCreate: an empty file only the owner may read, made before it is labelled."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, "failed to create copy target") from None
    os.close(fd)


def image_facts(monitor: Monitor, node: str) -> dict[str, Any]:
    """qemuBlockGetNamedNodeData's entry for the source's format node: its ``image`` (virtual-size, cluster-size,
    format-specific data)."""
    for entry in monitor.execute("query-named-block-nodes", {"flat": True}):
        if entry.get("node-name") == node:
            return dict(entry["image"])
    raise InternalError(ErrorCode.INTERNAL_ERROR, f"failed to update capacity data for block node '{node}'")


def storage_props(mirror: Disk, storage_node: dict[str, Any], size: int) -> dict[str, Any] | None:
    """qemuBlockStorageSourceCreateStorage: the options that size a raw local file, None where nothing is made."""
    if mirror.type in (None, "file") and (mirror.driver_type or "raw") == "raw" and storage_node.get("filename"):
        return {"driver": "file", "filename": storage_node["filename"], "size": size}
    return None


def format_props(mirror: Disk, storage: str, source: Disk, facts: dict[str, Any], backing: BackingStore | None,
                 ) -> dict[str, Any] | None:  # fmt: skip
    """qemuBlockStorageSourceCreateGetFormatProps: the options that write the image's format onto the storage
    node ``storage``; None for raw, which has nothing to write. ``backing``: the image a shallow copy records."""
    fmt = mirror.driver_type or "raw"
    if fmt == "raw":
        return None
    if fmt not in _FORMATS:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"can't create storage format '{fmt}'")
    driver, with_backing, with_format = _FORMATS[fmt]
    props: dict[str, Any] = {"driver": driver, "file": storage, "size": int(facts["virtual-size"])}
    if fmt == "qcow2" and (source.driver_type or "raw") == "qcow2":  # qemuBlockStorageSourceCreateDetectSize
        if facts.get("cluster-size"):
            props["cluster-size"] = int(facts["cluster-size"])
        specific = facts.get("format-specific", {}).get("data", {})
        if specific.get("extended-l2"):
            props["extended-l2"] = True
    base = (backing.source_file or backing.source_dev) if backing is not None else None
    if with_backing and base and backing is not None:
        props["backing-file"] = base
        if with_format:
            props["backing-fmt"] = backing.format or "raw"
    return props


def run_create(monitor: Monitor, job_id: str, options: dict[str, Any]) -> None:
    """qemuBlockStorageSourceCreateGeneric: one ``blockdev-create`` job, followed until it concludes."""
    monitor.execute("blockdev-create", {"job-id": job_id, "options": options})
    deadline = time.monotonic() + _JOB_TIMEOUT
    while True:
        job = next((j for j in monitor.execute("query-jobs") if j.get("id") == job_id), None)
        if job is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "blockdev-create job was cancelled")
        if job.get("status") == "concluded":
            monitor.execute("job-dismiss", {"id": job_id})
            if job.get("error"):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"failed to format image: '{job['error']}'")
            return
        if time.monotonic() > deadline:
            monitor.execute("job-cancel", {"id": job_id})
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "blockdev-create job was cancelled")
        time.sleep(0.02)
