"""The storage driver: ``storage:///system``, ``storage:///session`` and ``storage:///embed?root=DIR``.

libvirt's storage driver, as its split daemon ``virtstoraged`` serves it:
pools and their volumes, with one backend per pool type found through the
``pyvirt.storage_backend`` entry points (this distribution ships ``dir``;
another distribution can add ``logical`` or ``iscsi`` without touching this
one). A pool type with no installed backend is refused when defined, naming
what to install.

Nothing is held in memory between calls: the pool files (``pyvirt.local_driver.object_store``) and
the directories themselves are the state, so every process sees the same
pools and a volume created by ``qemu-img`` outside pyvirt shows up on the
next listing, as after a libvirt ``pool-refresh``. Hypervisor drivers reach
volumes through this driver's URI (DESIGN §2), and ``qemu:///`` and
``lxc:///`` connections answer pool and volume calls through it too, as
libvirt's connections do.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from pyvirt.conf.storage import (
    VOL_PARSE_NO_CAPACITY,
    Bytes,
    Pool,
    Volume,
    format_pool,
    format_volume,
    parse_pool,
    parse_volume,
)
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
)
from pyvirt.events import EventSink, PoolEvent
from pyvirt.flags import (
    StoragePoolBuildFlags,
    StoragePoolCreateFlags,
    StoragePoolDefineFlags,
    StorageVolCreateFlags,
    StorageXMLFlags,
)
from pyvirt.local_driver.object_store import ObjectEntry, ObjectStore
from pyvirt.local_driver.paths import DriverPaths, embed_paths, paths_for_uri
from pyvirt.local_driver.state_driver import HeldState, should_autostart, wait_unlocked
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver, StorageBackend
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import PoolInfo, PoolRef, VolumeInfo, VolumeRef
from pyvirt.plugin.registry import load_driver
from pyvirt.uri import URI
from pyvirt_storage import volume_stream
from pyvirt_storage.pool_capabilities import POOL_TYPES, pool_capabilities_xml
from pyvirt_storage.volume_resize import resize_volume

__all__ = ["StorageConnection", "StorageDriver"]

POOL_INACTIVE, POOL_RUNNING = 0, 2
_VOLUME_TYPES = {"file": 0, "block": 1, "dir": 2, "network": 3, "netdir": 4, "ploop": 5}
_CREATE_WITH_BUILD = StoragePoolCreateFlags.WITH_BUILD
_CREATE_OVERWRITE = StoragePoolCreateFlags.WITH_BUILD_OVERWRITE
_CREATE_NO_OVERWRITE = StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE
_BUILD_NO_OVERWRITE, _BUILD_OVERWRITE = StoragePoolBuildFlags.NO_OVERWRITE, StoragePoolBuildFlags.OVERWRITE
_WIPE_ALGORITHMS = 10  # VIR_STORAGE_VOL_WIPE_ALG_LAST

log = logging.getLogger("pyvirt.storage")
_held = HeldState("storage")  # pyvirtd's connection, from state_initialize to state_cleanup


def _backend_call(backend: StorageBackend, method: str, what: str) -> Callable[..., Any]:
    """An optional backend method (``pyvirt.plugin.bases.StorageBackend``), or libvirt's NO_SUPPORT without it."""
    fn: Callable[..., Any] | None = getattr(backend, method, None)
    if fn is None:
        raise NotSupportedError(
            ErrorCode.NO_SUPPORT, f"storage pool does not support {what}", domain=ErrorDomain.STORAGE
        )
    return fn


def _storage_paths(uri: URI) -> DriverPaths:
    if uri.path == "/embed":
        # an embedded root is shared with the hypervisor drivers: pools get their own corner of it
        return embed_paths(os.path.join(uri.embed_root(), "storage"))
    return paths_for_uri(uri, "storage")


def _no_pool(name: str) -> NotFoundError:
    return NotFoundError(
        ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching name '{name}'", domain=ErrorDomain.STORAGE
    )


def _not_active(name: str) -> OperationInvalidError:
    return OperationInvalidError(ErrorCode.OPERATION_INVALID, f"storage pool '{name}' is not active")


class StorageDriver(HypervisorDriver):
    """Entry point ``storage`` of ``pyvirt.hypervisor``: opens the connections."""

    # 1.10: pool_build, pool_delete; 1.11: volume_create_xml_from, volume_wipe; 1.16: volume_resize,
    # pool_get_capabilities
    pyvirt_contract = "1.16"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "storage" or uri.server:
            return None
        return StorageConnection(_storage_paths(uri), events)

    # pyvirtd's state hooks: the pools are files shared by every process, so the state held is one
    # connection of the driver's own; initializing it is the first open after a host boot (autostart),
    # and a reload starts the autostart pools that are not running, as libvirt's storageStateReload does.
    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        _held.open(self, privileged, root)
        return True

    @hookimpl
    def state_reload(self) -> None:
        if _held.conn is not None:
            _held.conn.autostart()

    @hookimpl
    def state_shutdown_prepare(self) -> None:
        _held.prepare()

    @hookimpl
    def state_shutdown_wait(self, timeout: float) -> bool:
        if _held.conn is None:
            return True
        return wait_unlocked(os.path.join(_held.conn.store.paths.run, "driver.lock"), timeout)

    @hookimpl
    def state_cleanup(self) -> None:
        _held.close()


class StorageConnection:
    """The hooks of one ``storage:///`` connection."""

    def __init__(self, paths: DriverPaths, events: EventSink | None = None) -> None:
        # pool lifecycle and refresh events of this connection's calls, reported where libvirt's
        # storage driver queues them (another process's changes are not seen)
        self.events = events if events is not None else EventSink()
        self.store: ObjectStore[Pool] = ObjectStore(paths, parse_pool, format_pool, _no_pool)
        self._backends: dict[str, StorageBackend] = {}
        if should_autostart(paths.run):  # pyvirtd's state_initialize, or the first open after a host boot
            self.autostart()

    def autostart(self) -> list[str]:
        """Start the pools marked autostart that are not running (libvirt's ``storageDriverAutostart``).

        Each under the store's lock, checked again there (another process
        may have started it meanwhile); one broken pool is logged and does
        not keep the others (or the connection) down. Returns the names started.
        """
        started: list[str] = []
        for entry in self.store.all():
            if not entry.autostart or entry.active:
                continue
            name = entry.defn.name or ""
            try:
                with self.store.locked():
                    again = self.store.get(name)
                    if not again.autostart or again.active:
                        continue
                    self._start(again, 0)
            except Error as e:
                log.error("Failed to autostart storage pool '%s': %s", name, e.message)
                continue
            self.events.pool_lifecycle(self._ref(again.defn), PoolEvent.STARTED)
            started.append(name)
        return started

    def backend(self, pool_type: str) -> StorageBackend:
        found = self._backends.get(pool_type)
        if found is None:
            try:
                found = load_driver("storage_backend", pool_type)
            except Error as exc:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"missing backend for pool type '{pool_type}': {exc.detail or exc.message}",
                    domain=ErrorDomain.STORAGE,
                ) from exc  # fmt: skip
            self._backends[pool_type] = found
        return found

    # ---------------------------------------------------------------- connection
    @hookimpl
    def connect_close(self) -> None:
        self._backends.clear()

    @hookimpl
    def connect_get_type(self) -> str:
        return "storage"

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    # ---------------------------------------------------------------- pools
    @staticmethod
    def _ref(pool: Pool) -> PoolRef:
        return PoolRef(pool.name or "", pool.uuid or "")

    @hookimpl
    def pool_list_all(self) -> list[PoolRef]:
        return [self._ref(e.defn) for e in self.store.all()]

    @hookimpl
    def pool_lookup_by_name(self, name: str) -> PoolRef:
        return self._ref(self.store.get(name).defn)

    @hookimpl
    def pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        for entry in self.store.all():
            if entry.defn.uuid == uuid:
                return self._ref(entry.defn)
        raise NotFoundError(
            ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching uuid '{uuid}'", domain=ErrorDomain.STORAGE
        )

    def _check_new(self, pool: Pool) -> None:
        """libvirt's duplicate checks: one name per UUID, and no two pools on one directory."""
        self.backend(pool.type or "")
        target = os.path.normpath(pool.target.path) if pool.target is not None and pool.target.path else None
        for other in self.store.all():
            if other.defn.name == pool.name:
                if other.defn.uuid != pool.uuid:
                    raise OperationFailedError(
                        ErrorCode.OPERATION_FAILED,
                        f"pool '{pool.name}' is already defined with uuid {other.defn.uuid}",
                    )
                continue
            if other.defn.uuid == pool.uuid:
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"pool '{other.defn.name}' is already defined with uuid {pool.uuid}"
                )
            other_target = other.defn.target.path if other.defn.target is not None else None
            if target and other.defn.type == pool.type and other_target and os.path.normpath(other_target) == target:
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"Storage source conflict with pool: '{other.defn.name}'"
                )

    @staticmethod
    def _strip_sizes(pool: Pool) -> Pool:
        pool.capacity = pool.allocation = pool.available = None
        return pool

    @hookimpl
    def pool_define_xml(self, xml: str, flags: int) -> PoolRef:
        check_flags(
            flags, StoragePoolDefineFlags.VALIDATE, "storagePoolDefineXML"
        )  # VALIDATE: the parser checks already
        pool = self._strip_sizes(parse_pool(xml))
        with self.store.locked():
            existing = self.store.find(pool.name or "")
            if existing is not None and pool.uuid != existing.defn.uuid and "<uuid" not in xml:
                pool.uuid = existing.defn.uuid  # redefining by name keeps the pool's UUID, as in libvirt
            self._check_new(pool)
            self.store.save_config(pool)
        self.events.pool_lifecycle(self._ref(pool), PoolEvent.DEFINED)
        return self._ref(pool)

    @hookimpl
    def pool_create_xml(self, xml: str, flags: int) -> PoolRef:
        check_flags(
            flags,
            StoragePoolCreateFlags.WITH_BUILD
            | StoragePoolCreateFlags.WITH_BUILD_OVERWRITE
            | StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreateXML",
        )
        pool = self._strip_sizes(parse_pool(xml))
        with self.store.locked():
            existing = self.store.find(pool.name or "")
            if existing is not None and existing.active:
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is already active"
                )
            self._check_new(pool)
            self._start(ObjectEntry(pool, False, False, False), flags)
        self.events.pool_lifecycle(self._ref(pool), PoolEvent.STARTED)
        return self._ref(pool)

    @hookimpl
    def pool_undefine(self, pool: PoolRef) -> None:
        with self.store.locked():
            entry = self.store.get(pool.name)
            if entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is still active")
            if not entry.persistent:
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is not persistent"
                )
            self.store.remove_config(pool.name)
        self.events.pool_lifecycle(pool, PoolEvent.UNDEFINED)

    def _start(self, entry: ObjectEntry[Pool], flags: int) -> None:
        pool = entry.defn
        backend = self.backend(pool.type or "")
        if flags & (_CREATE_WITH_BUILD | _CREATE_OVERWRITE | _CREATE_NO_OVERWRITE):
            build = getattr(backend, "build", None)  # optional: libvirt skips building without buildPool
            if build is not None:
                # storagePoolCreate: the start flags become build flags, OVERWRITE winning over NO_OVERWRITE
                if flags & _CREATE_OVERWRITE:
                    build(pool, _BUILD_OVERWRITE)
                else:
                    build(pool, _BUILD_NO_OVERWRITE if flags & _CREATE_NO_OVERWRITE else 0)
        check = getattr(backend, "check", None)  # optional, as libvirt's checkPool
        if check is not None:
            check(pool)
        backend.refresh(pool)
        self.store.mark_running(pool)

    @hookimpl
    def pool_create(self, pool: PoolRef, flags: int) -> None:
        check_flags(
            flags,
            StoragePoolCreateFlags.WITH_BUILD
            | StoragePoolCreateFlags.WITH_BUILD_OVERWRITE
            | StoragePoolCreateFlags.WITH_BUILD_NO_OVERWRITE,
            "storagePoolCreate",
        )
        with self.store.locked():
            entry = self.store.get(pool.name)
            if entry.active:
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is already active"
                )
            self._start(entry, flags)
        self.events.pool_lifecycle(pool, PoolEvent.STARTED)

    @hookimpl
    def pool_destroy(self, pool: PoolRef) -> None:
        with self.store.locked():
            entry = self.store.get(pool.name)
            if not entry.active:
                raise _not_active(pool.name)
            self.store.mark_stopped(pool.name)
        self.events.pool_lifecycle(pool, PoolEvent.STOPPED)

    def _active(self, pool: PoolRef | str) -> Pool:
        name = pool if isinstance(pool, str) else pool.name
        entry = self.store.get(name)
        if not entry.active:
            raise _not_active(name)
        return entry.defn

    @hookimpl
    def pool_build(self, pool: PoolRef, flags: int) -> None:
        """storagePoolBuild: only an inactive pool; the backend checks the flags (none without a build)."""
        with self.store.locked():
            entry = self.store.get(pool.name)
            backend = self.backend(entry.defn.type or "")
            if entry.active:
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is already active"
                )
            build = getattr(backend, "build", None)  # optional: without it building succeeds doing nothing
            if build is not None:
                build(entry.defn, flags)
        self.events.pool_lifecycle(pool, PoolEvent.CREATED)

    @hookimpl
    def pool_delete(self, pool: PoolRef, flags: int) -> None:
        """storagePoolDelete: the inactive pool's storage goes, its definition stays."""
        with self.store.locked():
            entry = self.store.get(pool.name)
            backend = self.backend(entry.defn.type or "")
            if entry.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is still active")
            delete = getattr(backend, "delete", None)  # storage-backend contract 1.1
            if delete is None:
                raise NotSupportedError(
                    ErrorCode.NO_SUPPORT, "pool does not support pool deletion", domain=ErrorDomain.STORAGE
                )
            delete(entry.defn, flags)
        self.events.pool_lifecycle(pool, PoolEvent.DELETED)

    @hookimpl
    def pool_refresh(self, pool: PoolRef, flags: int) -> None:
        check_flags(flags, 0, "storagePoolRefresh")
        with self.store.locked():
            defn = self._active(pool)
            try:
                self.backend(defn.type or "").refresh(defn)
            except Error:
                self.store.mark_stopped(pool.name)  # libvirt stops a pool whose refresh fails
                self.events.pool_lifecycle(pool, PoolEvent.STOPPED)
                raise
            self.store.mark_running(defn)
        self.events.pool_refresh(pool)

    def _current(self, entry: ObjectEntry[Pool]) -> Pool:
        """The definition with live sizes (active) or zeros (inactive), as libvirt shows it."""
        pool = entry.defn
        if entry.active:
            self.backend(pool.type or "").refresh(pool)
        else:
            pool.capacity, pool.allocation, pool.available = Bytes(value=0), Bytes(value=0), Bytes(value=0)
        return pool

    @hookimpl
    def pool_get_info(self, pool: PoolRef) -> PoolInfo:
        entry = self.store.get(pool.name)
        p = self._current(entry)
        assert p.capacity is not None and p.allocation is not None and p.available is not None
        state = POOL_RUNNING if entry.active else POOL_INACTIVE
        return PoolInfo(state, p.capacity.value, p.allocation.value, p.available.value)

    @hookimpl
    def pool_get_xml_desc(self, pool: PoolRef, flags: int) -> str:
        check_flags(flags, StorageXMLFlags.INACTIVE, "storagePoolGetXMLDesc")
        entry = self.store.get(pool.name)
        if flags & StorageXMLFlags.INACTIVE and entry.persistent:  # VIR_STORAGE_XML_INACTIVE
            inactive = self.store.persistent_definition(pool.name)
            if inactive is not None:
                entry = ObjectEntry(inactive, False, True, entry.autostart)
        return format_pool(self._current(entry))

    @hookimpl
    def pool_get_flags(self, pool: PoolRef) -> dict[str, bool]:
        entry = self.store.get(pool.name)
        return {"active": entry.active, "persistent": entry.persistent, "autostart": entry.autostart}

    @hookimpl
    def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None:
        with self.store.locked():
            entry = self.store.get(pool.name)
            if not entry.persistent:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot set autostart for transient pool")
            self.store.set_autostart(pool.name, autostart)

    # ---------------------------------------------------------------- volumes
    def _volume(self, pool: Pool, name: str) -> Volume:
        return self.backend(pool.type or "").volume(pool, name)

    @hookimpl
    def volume_list_all(self, pool: PoolRef) -> list[VolumeRef]:
        defn = self._active(pool)
        backend = self.backend(defn.type or "")
        names = backend.volume_names(defn)
        directory = (defn.target.path if defn.target is not None else None) or ""
        return [VolumeRef(pool.name, n, os.path.join(directory, n)) for n in names]

    @hookimpl
    def volume_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        vol = self._volume(self._active(pool), name)
        return VolumeRef(pool.name, name, vol.key or "")

    def _find(self, what: str, value: str) -> VolumeRef:
        wanted = os.path.normpath(value)
        for entry in self.store.all():
            target = entry.defn.target.path if entry.defn.target is not None else None
            if not entry.active or not target:
                continue
            directory, name = os.path.split(wanted)
            if os.path.normpath(target) == directory and name:
                try:
                    vol = self._volume(entry.defn, name)
                except NotFoundError:
                    continue
                return VolumeRef(entry.defn.name or "", name, vol.key or "")
        raise NotFoundError(
            ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching {what} '{value}'", domain=ErrorDomain.STORAGE
        )

    @hookimpl
    def volume_lookup_by_key(self, key: str) -> VolumeRef:
        return self._find("key", key)

    @hookimpl
    def volume_lookup_by_path(self, path: str) -> VolumeRef:
        return self._find("path", path)

    @hookimpl
    def volume_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolumeRef:
        check_flags(flags, StorageVolCreateFlags.PREALLOC_METADATA, "storageVolCreateXML")  # PREALLOC_METADATA
        with self.store.locked():
            defn = self._active(pool)
            vol = parse_volume(xml, defn.type)  # the pool's type decides the formats a volume may have
            create = _backend_call(self.backend(defn.type or ""), "create_volume", "volume creation")
            created: Volume = create(defn, vol, flags)
        return VolumeRef(pool.name, created.name or "", created.key or "")

    @hookimpl
    def volume_create_xml_from(self, pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
        """storageVolCreateXMLFrom: a new volume of ``pool`` holding a copy of ``source`` (any active pool's).

        libvirt's rules before the backend copies: the new name must be free,
        the capacity is at least the source's, and an allocation the XML
        leaves out is the whole capacity. REFLINK (a copy-on-write clone) is
        refused: the copy here is always a real one.
        """
        check_flags(flags, StorageVolCreateFlags.PREALLOC_METADATA, "storageVolCreateXMLFrom")
        with self.store.locked():
            defn = self._active(pool)
            source_defn = defn if source.pool == pool.name else self._active(source.pool)
            original = self._volume(source_defn, source.name)
            vol = parse_volume(xml, defn.type, VOL_PARSE_NO_CAPACITY)
            assert vol.name is not None and original.capacity is not None
            try:
                self._volume(defn, vol.name)
            except NotFoundError:
                pass
            else:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"storage volume name '{vol.name}' already in use.",
                                    domain=ErrorDomain.STORAGE)  # fmt: skip
            if vol.capacity is None or vol.capacity.value < original.capacity.value:
                vol.capacity = Bytes(value=original.capacity.value)
            if parse_xml(xml, "volume", "volume_definition").find("allocation") is None:
                vol.allocation = Bytes(value=vol.capacity.value)  # (parsing defaulted it to the XML's capacity)
            create = _backend_call(self.backend(defn.type or ""), "create_volume_from",
                                   "volume creation from an existing volume")  # fmt: skip
            created: Volume = create(defn, vol, original, flags)
        return VolumeRef(pool.name, created.name or "", created.key or "")

    @hookimpl
    def volume_wipe(self, vol: VolumeRef, algorithm: int, flags: int) -> None:
        """storageVolWipePattern (storageVolWipe is algorithm 0): the backend overwrites the data."""
        check_flags(flags, 0, "storageVolWipePattern")
        if not 0 <= algorithm < _WIPE_ALGORITHMS:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"wiping algorithm {algorithm} not supported",
                                       domain=ErrorDomain.STORAGE)  # fmt: skip
        with self.store.locked():
            defn = self._active(vol.pool)
            self._volume(defn, vol.name)  # NO_STORAGE_VOL for a volume gone since its lookup
            wipe: Callable[..., None] | None = getattr(self.backend(defn.type or ""), "wipe_volume", None)
            if wipe is None:  # optional (storage-backend contract 1.2); libvirt words this one its own way
                raise NotSupportedError(ErrorCode.NO_SUPPORT, "storage pool doesn't support volume wiping",
                                        domain=ErrorDomain.STORAGE)  # fmt: skip
            wipe(defn, vol.name, algorithm, flags)

    @hookimpl
    def volume_resize(self, vol: VolumeRef, capacity: int, flags: int) -> None:
        """storageVolResize (pyvirt_storage.volume_resize), under the store's lock."""
        with self.store.locked():
            entry = self.store.get(vol.pool)
            if not entry.active:
                raise _not_active(vol.pool)
            pool = self._current(entry)
            resize_volume(self.backend(pool.type or ""), pool, self._volume(pool, vol.name), capacity, flags)

    @hookimpl
    def pool_get_capabilities(self, flags: int) -> str:
        """storageConnectGetStoragePoolCapabilities: libvirt's pool types, ``yes`` where a backend is installed.

        libvirt's driver says yes for each backend it registered at start; here a
        backend is one whose ``pyvirt.storage_backend`` entry point loads.
        """
        check_flags(flags, 0, "storageConnectGetStoragePoolCapabilities")
        supported = []
        for kind in POOL_TYPES:
            try:
                self.backend(kind)
            except InternalError:
                continue
            supported.append(kind)
        return pool_capabilities_xml(supported)

    @hookimpl
    def volume_delete(self, vol: VolumeRef, flags: int) -> None:
        check_flags(flags, 0, "storageVolDelete")
        with self.store.locked():
            defn = self._active(vol.pool)
            _backend_call(self.backend(defn.type or ""), "delete_volume", "vol deletion")(defn, vol.name)

    @hookimpl
    def volume_get_info(self, vol: VolumeRef) -> VolumeInfo:
        v = self._volume(self._active(vol.pool), vol.name)
        assert v.capacity is not None
        return VolumeInfo(_VOLUME_TYPES.get(v.type or "file", 0), v.capacity.value,
                          v.allocation.value if v.allocation else 0)  # fmt: skip

    @hookimpl
    def volume_get_xml_desc(self, vol: VolumeRef, flags: int) -> str:
        check_flags(flags, 0, "storageVolGetXMLDesc")
        defn = self._active(vol.pool)
        return format_volume(self._volume(defn, vol.name), defn.type)

    @hookimpl
    def volume_get_path(self, vol: VolumeRef) -> str:
        v = self._volume(self._active(vol.pool), vol.name)
        return str(v.target.path if v.target is not None else "")

    def _stream_path(self, vol: VolumeRef, flags: int, api: str) -> str:
        # libvirt's local backends honour the sparse flag (holes on the wire); this stream carries
        # plain data only, so the flag is refused up front with virCheckFlags' error.
        check_flags(flags, 0, api)
        v = self._volume(self._active(vol.pool), vol.name)
        return str(v.target.path if v.target is not None else "")

    @hookimpl
    def volume_upload(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        path = self._stream_path(vol, flags, "storageVolUpload")
        try:
            return volume_stream.open_upload(path, offset, length)
        except OSError as e:
            raise Error(ErrorCode.SYSTEM_ERROR, f"Unable to open stream for '{path}': {e.strerror}",
                        domain=ErrorDomain.STORAGE) from e  # fmt: skip

    @hookimpl
    def volume_download(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        path = self._stream_path(vol, flags, "storageVolDownload")
        try:
            return volume_stream.open_download(path, offset, length)
        except OSError as e:
            raise Error(ErrorCode.SYSTEM_ERROR, f"Unable to open stream for '{path}': {e.strerror}",
                        domain=ErrorDomain.STORAGE) from e  # fmt: skip
