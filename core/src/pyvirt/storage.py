"""``StoragePool`` and ``StorageVolume`` handles (virStoragePoolPtr / virStorageVolPtr)."""

from __future__ import annotations

import os

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.list_filters import ACTIVE_PERSISTENT_AUTOSTART, ACTIVE_PERSISTENT_AUTOSTART_BITS, matches_flag_groups
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.records import PoolInfo, PoolRef, VolumeInfo, VolumeRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from pyvirt.connection import Connection
    from pyvirt.flags import (
        StoragePoolBuildFlags,
        StoragePoolCreateFlags,
        StoragePoolDeleteFlags,
        StorageVolCreateFlags,
        StorageVolDeleteFlags,
        StorageVolDownloadFlags,
        StorageVolResizeFlags,
        StorageVolUploadFlags,
        StorageXMLFlags,
    )

__all__ = ["StoragePool", "StorageVolume", "pool_matches"]

_CHUNK = 1 << 20
_VOL_RESIZE_DELTA = 2  # VIR_STORAGE_VOL_RESIZE_DELTA
_VOL_RESIZE_SHRINK = 4  # VIR_STORAGE_VOL_RESIZE_SHRINK


def pool_matches(calls: DriverCalls, ref: PoolRef, flags: int) -> bool:
    """virConnectListAllStoragePools' filters: the active, persistent and autostart groups, then the pool types.

    The type bits (VIR_CONNECT_LIST_STORAGE_POOLS_DIR and on) keep a pool
    whose type is any of those named, as virStoragePoolObjMatch does; no type
    bit keeps every type. Only a list that names types reads the pools' XML.
    """
    if flags & ACTIVE_PERSISTENT_AUTOSTART_BITS and not matches_flag_groups(
        flags, calls.pool_get_flags(pool=ref), ACTIVE_PERSISTENT_AUTOSTART
    ):
        return False
    if not flags & ~ACTIVE_PERSISTENT_AUTOSTART_BITS:
        return True
    return bool(flags & _pool_type_bit(calls.pool_get_xml_desc(pool=ref, flags=0)))


class _RootReadError(Exception):
    """Ends an expat read at the root element."""


def _pool_type_bit(xml: str) -> int:
    """The list flag of the pool type a ``<pool type=...>`` document names (0 for a type libvirt has no flag for)."""
    from contextlib import suppress
    from xml.parsers import expat

    from pyvirt.flags import ConnectListAllStoragePoolsFlags as F

    seen: list[str] = []

    def start(_tag: str, attrs: dict[str, str]) -> None:
        seen.append(attrs.get("type", ""))
        raise _RootReadError  # the root's attribute is all a type filter needs

    def doctype(*_args: object) -> None:
        raise _RootReadError  # the driver's own document never declares one: read nothing from it

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    with suppress(_RootReadError, expat.ExpatError):
        parser.Parse(xml, True)
    kind = seen[0] if seen else ""
    bits = {
        "dir": F.DIR, "fs": F.FS, "netfs": F.NETFS, "logical": F.LOGICAL, "disk": F.DISK, "iscsi": F.ISCSI,
        "iscsi-direct": F.ISCSI_DIRECT, "scsi": F.SCSI, "mpath": F.MPATH, "rbd": F.RBD, "sheepdog": F.SHEEPDOG,
        "gluster": F.GLUSTER, "zfs": F.ZFS, "vstorage": F.VSTORAGE,
    }  # fmt: skip
    return int(bits.get(kind, 0))


class StoragePool:
    """One storage pool of a connection (libvirt's virStoragePoolPtr); get it from the connection."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: PoolRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.StoragePool {self._ref.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def _flags(self) -> dict[str, bool]:
        return self._conn.calls.pool_get_flags(pool=self._ref)

    def is_active(self) -> bool:
        return self._flags()["active"]

    def is_persistent(self) -> bool:
        return self._flags()["persistent"]

    @property
    def autostart(self) -> bool:
        return self._flags()["autostart"]

    @autostart.setter
    def autostart(self, value: bool) -> None:
        self._conn.calls.pool_set_autostart(pool=self._ref, autostart=value)

    def info(self) -> PoolInfo:
        return self._conn.calls.pool_get_info(pool=self._ref)

    def xml_desc(self, flags: StorageXMLFlags | int = 0) -> str:
        return self._conn.calls.pool_get_xml_desc(pool=self._ref, flags=flags)

    def create(self, flags: StoragePoolCreateFlags | int = 0) -> None:
        self._conn.calls.pool_create(pool=self._ref, flags=flags)

    def destroy(self) -> None:
        self._conn.calls.pool_destroy(pool=self._ref)

    def undefine(self) -> None:
        self._conn.calls.pool_undefine(pool=self._ref)

    def refresh(self, flags: int = 0) -> None:
        self._conn.calls.pool_refresh(pool=self._ref, flags=flags)

    def build(self, flags: StoragePoolBuildFlags | int = 0) -> None:
        """virStoragePoolBuild: make the inactive pool's storage (a dir pool's directory, a disk's label).

        ``flags`` are :class:`pyvirt.flags.StoragePoolBuildFlags`; OVERWRITE and
        NO_OVERWRITE say whether existing data may be formatted over.
        """
        self._conn.calls.pool_build(pool=self._ref, flags=flags)

    def delete(self, flags: StoragePoolDeleteFlags | int = 0) -> None:
        """virStoragePoolDelete: remove the inactive pool's storage (a dir pool's empty directory).

        The definition stays; ``flags`` are :class:`pyvirt.flags.StoragePoolDeleteFlags`.
        """
        self._conn.calls.pool_delete(pool=self._ref, flags=flags)

    def list_all_volumes(self) -> list[StorageVolume]:
        return [StorageVolume(self._conn, r) for r in self._conn.calls.volume_list_all(pool=self._ref)]

    def lookup_volume_by_name(self, name: str) -> StorageVolume:
        return StorageVolume(self._conn, self._conn.calls.volume_lookup_by_name(pool=self._ref, name=name))

    def create_volume(self, xml: str, flags: StorageVolCreateFlags | int = 0) -> StorageVolume:
        return StorageVolume(self._conn, self._conn.calls.volume_create_xml(pool=self._ref, xml=xml, flags=flags))

    def create_volume_from(
        self, xml: str, source: StorageVolume, flags: StorageVolCreateFlags | int = 0
    ) -> StorageVolume:
        """virStorageVolCreateXMLFrom: a new volume of this pool, named by ``xml``, holding a copy of ``source``.

        ``source`` may belong to another pool of the same connection (libvirt
        refuses volumes of other connections, and so does this: the copy is
        the driver's, on its host).
        """
        if source._conn is not self._conn:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "the source volume belongs to another connection",
                        domain=ErrorDomain.STORAGE)  # fmt: skip
        ref = self._conn.calls.volume_create_xml_from(pool=self._ref, xml=xml, source=source._ref, flags=flags)
        return StorageVolume(self._conn, ref)


class StorageVolume:
    """One volume of a storage pool (libvirt's virStorageVolPtr); get it from its pool or the connection."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: VolumeRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.StorageVolume {self._ref.pool}/{self._ref.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def key(self) -> str:
        return self._ref.key

    @property
    def pool_name(self) -> str:
        return self._ref.pool

    def path(self) -> str:
        return self._conn.calls.volume_get_path(vol=self._ref)

    def info(self) -> VolumeInfo:
        return self._conn.calls.volume_get_info(vol=self._ref)

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.volume_get_xml_desc(vol=self._ref, flags=flags)

    def delete(self, flags: StorageVolDeleteFlags | int = 0) -> None:
        self._conn.calls.volume_delete(vol=self._ref, flags=flags)

    def wipe(self, flags: int = 0) -> None:
        """virStorageVolWipe: overwrite the volume's data with zeros; it keeps its size and format."""
        self._conn.calls.volume_wipe(vol=self._ref, algorithm=0, flags=flags)

    def wipe_pattern(self, algorithm: int, flags: int = 0) -> None:
        """virStorageVolWipePattern: overwrite the data as ``algorithm`` says (libvirt's virStorageVolWipeAlgorithm).

        0 zero, 1 nnsa, 2 dod, 3 bsi, 4 gutmann, 5 schneier, 6 pfitzner7,
        7 pfitzner33, 8 random, 9 trim; a driver refuses the ones it does not
        carry out (see ``specs.secondary.volume_wipe``).
        """
        self._conn.calls.volume_wipe(vol=self._ref, algorithm=algorithm, flags=flags)

    def resize(self, capacity: int, flags: StorageVolResizeFlags | int = 0) -> None:
        """virStorageVolResize: a new capacity in bytes, or with DELTA a change (a decrease with SHRINK too).

        Checked as libvirt's library does before the driver: a capacity of 0 needs DELTA or SHRINK.
        """
        if capacity == 0 and not flags & (_VOL_RESIZE_DELTA | _VOL_RESIZE_SHRINK):
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "capacity in virStorageVolResize cannot be zero without 'delta' or 'shrink' flags set",
                verbatim=True,
            )
        self._conn.calls.volume_resize(vol=self._ref, capacity=capacity, flags=int(flags))

    def upload(self, source: BinaryIO, offset: int = 0, length: int = 0, flags: StorageVolUploadFlags | int = 0) -> int:
        """virStorageVolUpload: write ``source``'s bytes into the volume from ``offset`` (at most ``length``, 0 = all).

        Returns the number of bytes sent, once the driver has confirmed they
        are stored (see ``specs.secondary.volume_upload``); a failure there is
        raised with the driver's message.
        """
        import socket  # only an upload needs it: listing pools and volumes does not pay for its import

        fd = self._conn.calls.volume_upload(vol=self._ref, offset=offset, length=length, flags=flags)
        with socket.socket(fileno=fd) as sock:
            sent = 0
            try:
                while chunk := source.read(_CHUNK):
                    sock.sendall(chunk)
                    sent += len(chunk)
            except BrokenPipeError:
                pass  # the driver stopped reading: its error follows
            sock.shutdown(socket.SHUT_WR)
            reply = bytearray()
            while data := sock.recv(4096):
                reply += data
        if reply:
            raise Error(ErrorCode.SYSTEM_ERROR, reply.decode("utf-8", "replace"), domain=ErrorDomain.STORAGE,
                        verbatim=True)  # fmt: skip
        return sent

    def download(
        self, dest: BinaryIO, offset: int = 0, length: int = 0, flags: StorageVolDownloadFlags | int = 0
    ) -> int:
        """virStorageVolDownload: copy the volume's bytes from ``offset`` (``length`` of them, 0 = to the end) into ``dest``.

        Returns the number of bytes written.
        """
        fd = self._conn.calls.volume_download(vol=self._ref, offset=offset, length=length, flags=flags)
        got = 0
        with os.fdopen(fd, "rb", buffering=0) as src:
            while chunk := src.read(_CHUNK):
                dest.write(chunk)
                got += len(chunk)
        return got
