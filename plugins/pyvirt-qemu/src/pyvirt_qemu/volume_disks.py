"""``<disk type='volume'>``: a disk named by storage pool and volume, found through the storage driver.

As in libvirt, the QEMU driver does not know pools itself: at start (and
when such a disk is hot-plugged) it asks the storage driver of the same
mode (``qemu:///system`` -> ``storage:///system``, an embedded root ->
``storage:///embed`` with the same root) over pyvirt's public API, and the
running guest's disk carries the volume's path from then on while its XML
keeps saying ``pool``/``volume``. The status file records the resolved paths
(a ``<volumes>`` runtime element keyed by target) so a later process acts on
the same files without asking again.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pyvirt
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationInvalidError, XMLError
from pyvirt.uri import URI

__all__ = ["apply_volume_paths", "resolve_volume_disk", "resolve_volume_disks", "storage_uri", "volume_paths"]

_VOL_FILE, _VOL_BLOCK = 0, 1


def storage_uri(hypervisor: URI) -> str:
    """The storage driver's URI for the same mode as ``hypervisor``."""
    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    return f"storage://{hypervisor.path}{query}"


def _volume_disks(dom: Domain) -> list[Disk]:
    return [d for d in (dom.devices.disks if dom.devices is not None else []) if d.type == "volume"]


def resolve_volume_disk(conn: pyvirt.Connection, disk: Disk) -> None:
    """Give one volume disk its path (file or block), with libvirt's errors for what cannot be used."""
    if not disk.source_pool or not disk.source_volume:
        raise XMLError(ErrorCode.XML_ERROR, "missing pool or volume name for a disk of type 'volume'")
    pool = conn.lookup_storage_pool_by_name(disk.source_pool)
    if not pool.is_active():
        raise OperationInvalidError(
            ErrorCode.OPERATION_INVALID,
            f"storage pool '{disk.source_pool}' containing volume '{disk.source_volume}' is not active",
        )
    vol = pool.lookup_volume_by_name(disk.source_volume)
    kind = vol.info().type
    if kind not in (_VOL_FILE, _VOL_BLOCK):
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"volume '{disk.source_volume}' of pool '{disk.source_pool}' is neither a file nor a block device",
        )
    path = vol.path()
    disk.source_file, disk.source_dev = (path, None) if kind == _VOL_FILE else (None, path)


def resolve_volume_disks(dom: Domain, hypervisor: URI) -> None:
    """Resolve every volume disk of ``dom`` in place; nothing to do (and no connection) without one."""
    disks = _volume_disks(dom)
    if not disks:
        return
    try:
        conn = pyvirt.open(storage_uri(hypervisor))
    except Error as exc:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"disks of type 'volume' need the storage driver (pyvirt-storage): {exc.message}",
        ) from exc
    with conn:
        for disk in disks:
            resolve_volume_disk(conn, disk)


def volume_paths(dom: Domain) -> dict[str, str]:
    """``{target: 'file:PATH' | 'block:PATH'}`` for the status file."""
    out = {}
    for disk in _volume_disks(dom):
        if disk.target_dev and (disk.source_file or disk.source_dev):
            out[disk.target_dev] = f"file:{disk.source_file}" if disk.source_file else f"block:{disk.source_dev}"
    return out


def apply_volume_paths(dom: Domain, paths: dict[str, str]) -> None:
    """Put the recorded paths back on a guest read from its status file."""
    for disk in _volume_disks(dom):
        recorded = paths.get(disk.target_dev or "")
        if recorded is not None:
            kind, _, path = recorded.partition(":")
            disk.source_file, disk.source_dev = (path, None) if kind == "file" else (None, path)
