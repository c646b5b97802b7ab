"""``<disk type='volume'>``: a disk named by storage pool and volume, found through the storage driver.

As in libvirt, the QEMU driver does not know pools itself: at start (and
when such a disk is hot-plugged) it asks the storage driver of the same
mode (``qemu:///system`` -> ``storage:///system``, an embedded root ->
``storage:///embed`` with the same root) over pyvirt's public API, and
translates the volume as libvirt's virDomainStorageSourceTranslateSourcePool
does: a volume of a directory, filesystem, logical, disk or SCSI pool is its
path (a file, a block device, or a directory QEMU shows as a FAT drive); an
iSCSI pool's LUN is its host block device (``mode='host'``, the default) or
QEMU's own iSCSI initiator (``mode='direct'``, and every ``iscsi-direct``
pool), with the pool's host, target, CHAP user and initiator name. The running
guest's disk carries the result from then on while its XML keeps saying
``pool``/``volume`` (``Disk.xml_format_extra``). The status file records it (a
``<volumes>`` runtime element keyed by target) so a later process acts on the
same source without asking again.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlencode

import pyvirt
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk, DiskHost, StorageAuth
from pyvirt.conf.storage import Pool, parse_pool
from pyvirt.errors import Error, ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt.uri import URI

__all__ = ["StorageLookup", "apply_volume_paths", "resolve_volume_disk", "resolve_volume_disks", "storage_uri",
           "translate_volume_disks", "volume_paths"]  # fmt: skip

# virStorageVolType
_VOL_FILE, _VOL_BLOCK, _VOL_DIR, _VOL_NETWORK, _VOL_NETDIR, _VOL_PLOOP = range(6)
_VOL_TYPE_NAMES = ("file", "block", "dir", "network", "netdir", "ploop")
# pools whose volumes are local paths, and the disk type each volume type becomes
_PATH_POOLS = ("dir", "fs", "netfs", "logical", "disk", "scsi", "zfs", "vstorage")
_ACTUAL_TYPE = {_VOL_FILE: "file", _VOL_BLOCK: "block", _VOL_DIR: "dir", _VOL_PLOOP: "file"}


class _Volume(Protocol):
    def path(self) -> str: ...
    def info(self) -> Any: ...


class _Pool(Protocol):
    def is_active(self) -> bool: ...
    def xml_desc(self) -> str: ...
    def lookup_volume_by_name(self, name: str) -> Any: ...


class StorageLookup(Protocol):
    """What the translation asks of a storage driver: a ``pyvirt.Connection`` to one, or a stand-in (libvirt's
    qemuxml2argv test has its own fake storage driver)."""

    def lookup_storage_pool_by_name(self, name: str) -> Any: ...


def storage_uri(hypervisor: URI) -> str:
    """The storage driver's URI for the same mode as ``hypervisor``."""
    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    return f"storage://{hypervisor.path}{query}"


def _volume_disks(dom: Domain) -> list[Disk]:
    return [d for d in (dom.devices.disks if dom.devices is not None else []) if d.type == "volume"]


def _clear_source(disk: Disk) -> None:
    """What a previous translation (or the XML) put beside pool and volume: libvirt drops it first."""
    disk.source_file = disk.source_dev = disk.source_dir = None
    disk.source_protocol = disk.source_name = disk.source_initiator_iqn = None
    disk.source_hosts = None
    disk.auth = disk.source_auth = None


def _iscsi_direct(disk: Disk, pool: Pool) -> None:
    """virDomainDiskTranslateISCSIDirect: QEMU's initiator logs into the pool's target itself."""
    source = pool.source
    hosts = (source.hosts if source is not None else None) or []
    if len(hosts) != 1:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Expected exactly 1 host for the storage pool")
    auth = source.auth if source is not None else None
    if auth is not None:  # (the pool's auth type is not a disk's)
        secret = auth.secret
        disk.source_auth = StorageAuth(username=auth.username, secret_type="iscsi",
                                       secret_uuid=secret.uuid if secret is not None else None,
                                       secret_usage=secret.usage if secret is not None else None)  # fmt: skip
    tokens = (disk.source_volume or "").split(":")
    if len(tokens) != 4:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unexpected iscsi volume name '{disk.source_volume}'")
    devices = (source.devices if source is not None else None) or []
    target = devices[0].path if devices else ""
    disk.source_protocol = "iscsi"
    disk.source_name = f"{target}/{tokens[3]}"
    disk.source_hosts = [DiskHost(name=hosts[0].name, port=str(hosts[0].port or 3260), transport="tcp")]
    if not disk.source_initiator_iqn and source is not None and source.initiator_iqn:
        disk.source_initiator_iqn = source.initiator_iqn


def resolve_volume_disk(conn: StorageLookup, disk: Disk) -> None:
    """Translate one volume disk's source (virDomainStorageSourceTranslateSourcePool), with libvirt's errors
    for what cannot be used; a volume disk naming no pool (an empty CD-ROM) has nothing to translate."""
    if not disk.source_pool and not disk.source_volume:
        return
    if not disk.source_pool or not disk.source_volume:
        raise XMLError(ErrorCode.XML_ERROR, "missing pool or volume name for a disk of type 'volume'")
    pool = conn.lookup_storage_pool_by_name(disk.source_pool)
    if not pool.is_active():
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"storage pool '{disk.source_pool}' containing volume '{disk.source_volume}' is not active",
        )
    vol = pool.lookup_volume_by_name(disk.source_volume)
    kind = int(vol.info().type)
    pooldef = parse_pool(pool.xml_desc())
    if disk.source_mode and pooldef.type != "iscsi":
        raise XMLError(ErrorCode.XML_ERROR, "disk source mode is only valid when storage pool is of iscsi type")
    _clear_source(disk)
    if pooldef.type in _PATH_POOLS:
        actual = _ACTUAL_TYPE.get(kind)
        if actual is None:
            name = _VOL_TYPE_NAMES[kind] if 0 <= kind < len(_VOL_TYPE_NAMES) else str(kind)
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                f"unexpected storage volume type '{name}' for storage pool type '{pooldef.type}'")  # fmt: skip
        _set_path(disk, actual, vol.path())
    elif pooldef.type == "iscsi-direct":
        _iscsi_direct(disk, pooldef)
    elif pooldef.type == "iscsi":
        if disk.source_mode in (None, "host"):
            disk.source_mode = "host"
            _set_path(disk, "block", vol.path())
        else:
            _iscsi_direct(disk, pooldef)
    else:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"using '{pooldef.type}' pools for backing 'volume' disks isn't yet supported")  # fmt: skip
    if disk.driver_type is None:  # qemuDomainPrepareDiskSource: a directory is a FAT drive, the rest raw
        disk.driver_type = "fat" if disk.source_dir else "raw"


def _set_path(disk: Disk, actual: str, path: str) -> None:
    if actual == "file":
        disk.source_file = path
    elif actual == "block":
        disk.source_dev = path
    else:
        disk.source_dir = path


def translate_volume_disks(dom: Domain, conn: StorageLookup) -> None:
    """Translate every volume disk of ``dom`` in place through ``conn``."""
    for disk in _volume_disks(dom):
        resolve_volume_disk(conn, disk)


def resolve_volume_disks(dom: Domain, hypervisor: URI) -> None:
    """Resolve every volume disk of ``dom`` in place; nothing to do (and no connection) without one."""
    disks = [d for d in _volume_disks(dom) if d.source_pool or d.source_volume]
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
        translate_volume_disks(dom, conn)


def volume_paths(dom: Domain) -> dict[str, str]:
    """``{target: 'file:PATH' | 'block:PATH' | 'dir:PATH' | 'network:JSON'}`` for the status file."""
    out = {}
    for disk in _volume_disks(dom):
        if not disk.target_dev:
            continue
        if disk.source_protocol:
            hosts = [{"name": h.name, "port": h.port} for h in disk.source_hosts or []]
            auth = disk.source_auth
            out[disk.target_dev] = "network:" + json.dumps({
                "protocol": disk.source_protocol, "name": disk.source_name, "hosts": hosts,
                "initiator": disk.source_initiator_iqn,
                "auth": [auth.username, auth.secret_uuid, auth.secret_usage] if auth is not None else None})  # fmt: skip
        elif disk.source_file or disk.source_dev or disk.source_dir:
            kind, path = next((k, p) for k, p in (("file", disk.source_file), ("block", disk.source_dev),
                                                  ("dir", disk.source_dir)) if p)  # fmt: skip
            out[disk.target_dev] = f"{kind}:{path}"
    return out


def apply_volume_paths(dom: Domain, paths: dict[str, str]) -> None:
    """Put the recorded translations back on a guest read from its status file."""
    for disk in _volume_disks(dom):
        recorded = paths.get(disk.target_dev or "")
        if recorded is None:
            continue
        kind, _, value = recorded.partition(":")
        _clear_source(disk)
        if kind != "network":
            _set_path(disk, kind, value)
            continue
        net = json.loads(value)
        disk.source_protocol, disk.source_name = net["protocol"], net["name"]
        disk.source_hosts = [DiskHost(name=h["name"], port=h["port"], transport="tcp") for h in net["hosts"]]
        disk.source_initiator_iqn = net["initiator"]
        if net["auth"] is not None:
            user, uuid, usage = net["auth"]
            disk.source_auth = StorageAuth(username=user, secret_type="iscsi", secret_uuid=uuid, secret_usage=usage)
