"""Datastores as storage pools and their files as volumes, as libvirt's ESX storage driver maps them.

libvirt 9.0's ``esx_storage_backend_vmfs.c`` is followed:

- every datastore the host mounts is a pool, always active, persistent and
  autostarted (pools are neither defined, started nor stopped here); its
  UUID is the MD5 sum of the host's mount path, which cannot change while
  the datastore exists; the pool type comes from the datastore's info: a
  local one is ``dir``, a NAS one ``netfs`` (with its NFS/CIFS source), a
  VMFS one ``fs`` with ``<format type='vmfs'/>``;
- volumes are the virtual disks, ISO and floppy images found under the
  datastore (HostDatastoreBrowser), named by their path in it
  (``dir/disk.vmdk``); a virtual disk's key is its disk UUID, any other
  file's key is its datastore path ``[datastore] dir/file``;
- ``vol-create`` makes a ``.vmdk`` through the VirtualDiskManager (thin
  when the allocation is 0, preallocated when it equals the capacity), its
  directory first when missing; ``vol-delete`` deletes the virtual disk.

Two things vcsim needs that a real host does not mind: the browser is
given the match pattern ``*`` (vcsim matches nothing without one; on ESX
it means every file), and folder paths are read whether the host writes
``[ds] dir`` or ``[ds]/dir``.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import uuid as uuid_module
from typing import Any
from xml.parsers.expat import ExpatError

from pyvirt.conf import storage as conf
from pyvirt.conf.xmlmodel import parse_model
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import Error, ErrorCode, NotSupportedError, XMLError
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import PoolInfo, PoolRef, VolumeInfo, VolumeRef
from pyvirt_esx.vmomi import vim as _vim
from pyvirt_esx.vmomi import vmodl
from pyvirt_esx.vsphere import Datastore, Session, esx_error, fault_text

__all__ = ["DatastorePools", "reformat_disk_uuid"]

vim: Any = _vim  # pyVmomi builds its types at run time: untyped for mypy

POOL_RUNNING, POOL_INACCESSIBLE = 2, 4  # virStoragePoolState
VOL_FILE = 0  # virStorageVolType
_BROWSER: Any = vim.host.DatastoreBrowser  # pyVmomi's data classes are untyped


def reformat_disk_uuid(text: str) -> str:
    """esxUtil_ReformatUuid: ESX writes ``60 00 C2 9b ...-...`` for a disk UUID; libvirt's usual form is the key."""
    digits = re.sub(r"[\s-]", "", text)
    try:
        return str(uuid_module.UUID(hex=digits))
    except ValueError:
        raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not parse UUID from string '{text}'") from None


def _split(datastore_path: str) -> tuple[str, str]:
    """esxUtil_ParseDatastorePath: ``[name] dir/file`` -> (name, ``dir/file``)."""
    match = re.match(r"^\[([^\]]+)\]\s*(.*)$", datastore_path, re.S)
    if match is None:
        raise esx_error(ErrorCode.INVALID_ARG, f"Datastore path '{datastore_path}' doesn't have expected format "
                        "'[<datastore>] <path>'")  # fmt: skip
    return match.group(1), match.group(2)


def _search_spec(pattern: str) -> Any:
    """What libvirt's esxVI_LookupDatastoreContentByDatastoreName asks the browser for: disks, ISO and floppy images."""
    disk = _BROWSER.VmDiskQuery(details=_BROWSER.VmDiskQuery.Details(
        diskType=False, capacityKb=True, hardwareVersion=False, controllerType=True, diskExtents=False))  # fmt: skip
    return _BROWSER.SearchSpec(
        details=_BROWSER.FileInfo.Details(fileType=True, fileSize=True, modification=False),
        query=[disk, _BROWSER.IsoImageQuery(), _BROWSER.FloppyImageQuery()],
        matchPattern=[pattern],
    )


class DatastorePools:
    """The storage pools (datastores) and volumes (their files) of one connection's host."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ pools
    def _find(self, name: str) -> Datastore:
        for ds in self.session.datastores():
            if ds.name == name:
                return ds
        raise esx_error(ErrorCode.NO_STORAGE_POOL, f"Could not find storage pool with name '{name}'")

    def mount_path(self, ds: Datastore) -> str:
        """The host's mount path of the datastore (``host.mountInfo.path``); vcsim leaves it unset: its URL then."""
        for mount in ds.obj.host or []:
            if mount.key == self.session.host and mount.mountInfo is not None and mount.mountInfo.path:
                return str(mount.mountInfo.path)
        return ds.mount_path

    def _ref(self, ds: Datastore) -> PoolRef:
        digest = hashlib.md5(self.mount_path(ds).encode(), usedforsecurity=False).digest()
        return PoolRef(ds.name, str(uuid_module.UUID(bytes=digest)))

    def list_all(self) -> list[PoolRef]:
        return sorted((self._ref(ds) for ds in self.session.datastores()), key=lambda r: r.name)

    def lookup_by_name(self, name: str) -> PoolRef:
        return self._ref(self._find(name))

    def lookup_by_uuid(self, uuid: str) -> PoolRef:
        for ref in self.list_all():
            if ref.uuid == uuid:
                return ref
        raise esx_error(ErrorCode.NO_STORAGE_POOL, f"Could not find storage pool with uuid '{uuid}'")

    def info(self, pool: PoolRef) -> PoolInfo:
        """esxStoragePoolGetInfo: running with the datastore's figures when accessible, inaccessible otherwise."""
        summary = self._find(pool.name).obj.summary
        if not summary.accessible:
            return PoolInfo(POOL_INACCESSIBLE, 0, 0, 0)
        capacity, free = int(summary.capacity or 0), int(summary.freeSpace or 0)
        return PoolInfo(POOL_RUNNING, capacity, capacity - free, free)

    def xml(self, pool: PoolRef, flags: int) -> str:
        """esxStoragePoolGetXMLDesc, as libvirt formats its zeroed definition (so permissions 00, owner and group 0)."""
        check_flags(flags, 0, "esxStoragePoolGetXMLDesc")
        ds = self._find(pool.name)
        state = self.info(pool)
        info = ds.obj.info
        source = conf.PoolSource()
        if isinstance(info, vim.host.LocalDatastoreInfo):
            kind = "dir"
        elif isinstance(info, vim.host.NasDatastoreInfo):
            kind = "netfs"
            nas = info.nas
            if str(nas.type).upper() not in ("NFS", "CIFS"):
                raise esx_error(ErrorCode.INTERNAL_ERROR, f"Datastore has unexpected type '{nas.type}'")
            source = conf.PoolSource(hosts=[conf.PoolHost(name=nas.remoteHost)], dir_path=nas.remotePath,
                                     format_type=str(nas.type).lower())  # fmt: skip
        elif isinstance(info, vim.host.VmfsDatastoreInfo):
            kind = "fs"  # libvirt has no better place for VMFS than a file system pool of format vmfs
            source = conf.PoolSource(format_type="vmfs")
        else:
            raise esx_error(ErrorCode.INTERNAL_ERROR, "DatastoreInfo has unexpected type")
        model = conf.Pool(
            type=kind, name=pool.name, uuid=pool.uuid, capacity=conf.Bytes(value=state.capacity),
            allocation=conf.Bytes(value=state.allocation), available=conf.Bytes(value=state.available),
            source=source,
            target=conf.PoolTarget(path=self.mount_path(ds),
                                   permissions=conf.Permissions(mode="00", owner=0, group=0)),
        )  # fmt: skip
        return conf.format_pool(model)

    def refresh(self, pool: PoolRef, flags: int) -> None:
        check_flags(flags, 0, "esxStoragePoolRefresh")
        try:
            self._find(pool.name).obj.RefreshDatastore()
        except (OSError, http.client.HTTPException, ExpatError) as err:
            # a server without the method may drop the request (vcsim 0.24 answers it with an empty reply)
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not refresh datastore '{pool.name}': "
                            f"{type(err).__name__}: {err}") from None  # fmt: skip
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not refresh datastore '{pool.name}': "
                            f"{fault_text(err)}") from None  # fmt: skip

    @staticmethod
    def set_autostart(autostart: bool) -> None:
        """esxStoragePoolSetAutostart: a datastore is always there; turning autostart off is refused."""
        if not autostart:
            raise esx_error(ErrorCode.INTERNAL_ERROR, "Cannot deactivate storage pool autostart")

    # ------------------------------------------------------------------ volumes
    def _browse(self, datastore: str, folder: str, pattern: str, recurse: bool) -> list[tuple[str, Any]]:
        """(volume name, file info) of what the host's browser finds under ``[datastore] folder``."""
        ds = self._find(datastore)
        path = f"[{datastore}] {folder}" if folder else f"[{datastore}]"
        browser = ds.obj.browser
        spec = _search_spec(pattern)
        try:
            task = (browser.SearchDatastoreSubFolders_Task if recurse else browser.SearchDatastore_Task)(
                datastorePath=path, searchSpec=spec
            )
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not search in datastore '{datastore}': "
                            f"{fault_text(err)}") from None  # fmt: skip
        try:
            result = self.session.wait(task, f"Could not search in datastore '{datastore}'", ErrorCode.INTERNAL_ERROR)
        except Error as err:
            if isinstance(getattr(err, "vsphere_fault", None), vim.fault.FileNotFound):
                return []  # the directory itself is missing: so is the file
            raise
        found = []
        for results in result if isinstance(result, list) else [result]:
            _, directory = _split(str(results.folderPath))
            directory = directory.strip("/")
            for info in results.file or []:
                found.append((f"{directory}/{info.path}" if directory else str(info.path), info))
        return found

    def file_info(self, datastore: str, name: str) -> Any:
        """esxVI_LookupFileInfoByDatastorePath: the file's info, or NO_STORAGE_VOL as libvirt words it."""
        directory, _, file_name = name.rpartition("/")
        for found, info in self._browse(datastore, directory, file_name, recurse=False):
            if found == name:
                return info
        raise esx_error(ErrorCode.NO_STORAGE_VOL, f"No storage volume with key or path '[{datastore}] {name}'")

    def _key(self, datastore: str, name: str, info: Any) -> str:
        """esxVI_LookupStorageVolumeKeyByDatastorePath: a virtual disk's UUID, else the datastore path."""
        path = f"[{datastore}] {name}"
        if isinstance(info, _BROWSER.VmDiskInfo):
            manager = self.session.content.virtualDiskManager
            return reformat_disk_uuid(str(manager.QueryVirtualDiskUuid(name=path, datacenter=self.session.datacenter)))
        return path

    def list_volumes(self, pool: PoolRef) -> list[VolumeRef]:
        self._find(pool.name)
        found = self._browse(pool.name, "", "*", recurse=True)
        return sorted((VolumeRef(pool.name, name, self._key(pool.name, name, info)) for name, info in found),
                      key=lambda r: r.name)  # fmt: skip

    def lookup_volume(self, pool: str, name: str) -> VolumeRef:
        return VolumeRef(pool, name, self._key(pool, name, self.file_info(pool, name)))

    def lookup_volume_by_path(self, path: str) -> VolumeRef:
        if not path.startswith("["):
            # libvirt hands '/...' to its iSCSI backend, which has no counterpart here
            raise esx_error(ErrorCode.INVALID_ARG, f"Unexpected volume path format: {path}")
        datastore, name = _split(path)
        return self.lookup_volume(datastore, name)

    def lookup_volume_by_key(self, key: str) -> VolumeRef:
        if key.startswith("["):
            return self.lookup_volume_by_path(key)  # the key of a file that is not a virtual disk
        for ref in self.list_all():
            for vol in self.list_volumes(ref):
                if vol.key == key:
                    return vol
        raise esx_error(ErrorCode.NO_STORAGE_VOL, f"Could not find storage volume with key '{key}'")

    def volume_info(self, vol: VolumeRef) -> VolumeInfo:
        capacity, allocation = self._sizes(self.file_info(vol.pool, vol.name))
        return VolumeInfo(VOL_FILE, capacity, allocation)

    @staticmethod
    def _sizes(info: Any) -> tuple[int, int]:
        size = int(info.fileSize or 0)
        if isinstance(info, _BROWSER.VmDiskInfo):
            return int(info.capacityKb or 0) * 1024, size  # a disk: its capacity, the file's size as allocation
        return size, size

    def volume_xml(self, vol: VolumeRef, flags: int) -> str:
        check_flags(flags, 0, "esxStorageVolGetXMLDesc")
        info = self.file_info(vol.pool, vol.name)
        path = f"[{vol.pool}] {vol.name}"
        if isinstance(info, _BROWSER.VmDiskInfo):
            fmt = "vmdk"
        elif isinstance(info, _BROWSER.IsoImageInfo):
            fmt = "iso"
        elif isinstance(info, _BROWSER.FloppyImageInfo):
            fmt = "raw"
        else:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"File '{path}' has unknown type")
        capacity, allocation = self._sizes(info)
        model = conf.Volume(type="file", name=vol.name, key=self._key(vol.pool, vol.name, info),
                            capacity=conf.Bytes(value=capacity), allocation=conf.Bytes(value=allocation),
                            target=conf.VolTarget(path=path, format_type=fmt))  # fmt: skip
        return conf.format_volume(model)

    def _new_volume(self, pool: PoolRef, xml: str) -> tuple[Any, str]:
        """A new volume's definition, checked as esxStorageVolCreateXML(From) checks it; and its directory."""
        self._find(pool.name)
        # libvirt's virStorageVolDefParse: a volume here is named by its path, so '/' is allowed in the name
        vol = parse_model(conf.Volume, parse_xml(xml, conf.Volume.TAG, "volume_definition"))
        if not vol.name:
            raise XMLError(ErrorCode.XML_ERROR, "missing volume name element")
        if vol.capacity is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing capacity element")
        if vol.type not in (None, "file"):
            raise esx_error(ErrorCode.NO_SUPPORT, "Creating non-file volumes is not supported")
        directory, _, file_name = vol.name.rpartition("/")
        if not directory or vol.name.startswith("/") or not file_name:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Volume name '{vol.name}' doesn't have expected format "
                            "'<directory>/<file>'")  # fmt: skip
        if not vol.name.lower().endswith(".vmdk"):
            raise esx_error(ErrorCode.NO_SUPPORT, f"Volume name '{vol.name}' has unsupported suffix, "
                            "expecting '.vmdk'")  # fmt: skip
        fmt = (vol.target.format_type if vol.target is not None else None) or "raw"
        if fmt != "vmdk":
            raise esx_error(ErrorCode.NO_SUPPORT, f"Creation of {fmt} volumes is not supported")
        return vol, directory

    def _make_directory(self, folder: str) -> None:
        # libvirt looks the directory up, then makes it; asking for it and accepting "already exists" is one call
        try:
            self.session.content.fileManager.MakeDirectory(name=folder, datacenter=self.session.datacenter,
                                                           createParentDirectories=True)  # fmt: skip
        except vim.fault.FileAlreadyExists:
            pass
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not create directory '{folder}': "
                            f"{fault_text(err)}") from None  # fmt: skip

    def create_volume(self, pool: PoolRef, xml: str, flags: int) -> VolumeRef:
        """esxStorageVolCreateXML: a ``.vmdk`` named ``<directory>/<file>``, thin or preallocated."""
        check_flags(flags, 0, "esxStorageVolCreateXML")
        vol, directory = self._new_volume(pool, xml)
        capacity = vol.capacity.value
        allocation = vol.allocation.value if vol.allocation is not None else capacity
        if allocation == capacity:
            disk_type = "preallocated"  # all space allocated at creation, zeroed on demand
        elif allocation == 0:
            disk_type = "thin"  # allocated and zeroed on demand
        else:
            raise esx_error(ErrorCode.INTERNAL_ERROR, "Unsupported capacity-to-allocation relation")
        self._make_directory(f"[{pool.name}] {directory}")
        # the adapter type is required and the volume XML cannot say it: libvirt's choice, lsiLogic
        spec: Any = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType=disk_type, adapterType="lsiLogic", capacityKb=-(-capacity // 1024)
        )
        path = f"[{pool.name}] {vol.name}"
        manager = self.session.content.virtualDiskManager
        task = manager.CreateVirtualDisk_Task(name=path, datacenter=self.session.datacenter, spec=spec)
        self.session.wait(task, "Could not create volume", ErrorCode.INTERNAL_ERROR)
        return self.lookup_volume(pool.name, vol.name)

    def create_volume_from(self, pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
        """esxStorageVolCreateXMLFrom: the source disk copied by the host (CopyVirtualDisk_Task) to a new ``.vmdk``.

        Only the new volume's name and format are read from the XML, as in
        libvirt: the copy has the source's size.
        """
        check_flags(flags, 0, "esxStorageVolCreateXMLFrom")
        vol, directory = self._new_volume(pool, xml)
        self._make_directory(f"[{pool.name}] {directory}")
        datacenter = self.session.datacenter
        manager = self.session.content.virtualDiskManager
        try:
            task = manager.CopyVirtualDisk_Task(sourceName=f"[{source.pool}] {source.name}", sourceDatacenter=datacenter,
                                                destName=f"[{pool.name}] {vol.name}", destDatacenter=datacenter,
                                                force=False)  # fmt: skip
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not copy volume: {fault_text(err)}") from None
        self.session.wait(task, "Could not copy volume", ErrorCode.INTERNAL_ERROR)
        return self.lookup_volume(pool.name, vol.name)

    def wipe_volume(self, vol: VolumeRef, algorithm: int, flags: int) -> None:
        """esxStorageVolWipe: the host writes zeros over the disk (ZeroFillVirtualDisk_Task).

        Zeros only: libvirt's ESX driver has no virStorageVolWipePattern, so
        any other algorithm is refused as libvirt refuses it, never zeroed instead.
        """
        if algorithm:
            raise NotSupportedError(ErrorCode.NO_SUPPORT, "virStorageVolWipePattern")  # the facade's own words
        check_flags(flags, 0, "esxStorageVolWipe")
        manager = self.session.content.virtualDiskManager
        try:
            task = manager.ZeroFillVirtualDisk_Task(name=f"[{vol.pool}] {vol.name}", datacenter=self.session.datacenter)
        except vmodl.MethodFault as err:  # a host without the call (vcsim 0.24) refuses it outright
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not wipe volume: {fault_text(err)}") from None
        self.session.wait(task, "Could not wipe volume", ErrorCode.INTERNAL_ERROR)

    def delete_volume(self, vol: VolumeRef, flags: int) -> None:
        check_flags(flags, 0, "esxStorageVolDelete")
        manager = self.session.content.virtualDiskManager
        task = manager.DeleteVirtualDisk_Task(name=f"[{vol.pool}] {vol.name}", datacenter=self.session.datacenter)
        self.session.wait(task, "Could not delete volume", ErrorCode.INTERNAL_ERROR)
