"""Secondary hooks of the test driver: networks, storage, secrets, node devices, interfaces."""

from __future__ import annotations

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import NetworkObj, PoolObj, SecretObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.events import EventSink, NetworkEvent, PoolEvent
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import (
    InterfaceRef,
    NetworkRef,
    NodeDeviceRef,
    PoolInfo,
    PoolRef,
    SecretRef,
    VolumeInfo,
    VolumeRef,
)
from pyvirt.util.lazy_import import lazy_module

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf import interface as conf_interface
    from pyvirt.conf import network as conf_network
    from pyvirt.conf import network_update as conf_network_update
    from pyvirt.conf import nodedev as conf_nodedev
    from pyvirt.conf import secret as conf_secret
    from pyvirt.conf import storage as conf_storage
else:  # loaded when a document is first parsed or formatted
    conf_interface = lazy_module("pyvirt.conf.interface")
    conf_network = lazy_module("pyvirt.conf.network")
    conf_network_update = lazy_module("pyvirt.conf.network_update")
    conf_nodedev = lazy_module("pyvirt.conf.nodedev")
    conf_secret = lazy_module("pyvirt.conf.secret")
    conf_storage = lazy_module("pyvirt.conf.storage")

# libvirt's flag bits by libvirt's names, not pyvirt.flags' enums: importing an enum builds its class, and
# this module is imported by every test:/// connection (test_flag_literals checks each value)
_VIR_NETWORK_CREATE_VALIDATE = 1
_VIR_NETWORK_DEFINE_VALIDATE = 1
_VIR_NETWORK_UPDATE_AFFECT_CONFIG = 2
_VIR_NETWORK_UPDATE_AFFECT_LIVE = 1
_VIR_SECRET_DEFINE_VALIDATE = 1
_VIR_STORAGE_POOL_DEFINE_VALIDATE = 1
_VIR_STORAGE_VOL_CREATE_VALIDATE = 4

__all__ = ["ResourceHooks"]

DEFAULT_POOL_CAPACITY = 100 * 1024**3
POOL_INACTIVE, POOL_RUNNING = 0, 2


class ResourceHooks:
    state: TestState
    events: EventSink

    # ================================================================ networks
    def _net(self, ref: NetworkRef | str) -> NetworkObj:
        name = ref if isinstance(ref, str) else ref.name
        obj = self.state.networks.get(name)
        if obj is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_NETWORK, f"no network with matching name '{name}'", domain=ErrorDomain.TEST
            )
        return obj

    @staticmethod
    def _nref(obj: NetworkObj) -> NetworkRef:
        return NetworkRef(obj.name, obj.uuid)

    def _add_network(self, xml: str, *, active: bool) -> NetworkObj:
        net = conf_network.parse_network(xml)
        with self.state.lock:
            for other in self.state.networks.values():
                if other.uuid == (net.uuid or "") and other.name != (net.name or ""):
                    raise _errors.OperationFailedError(
                        ErrorCode.OPERATION_FAILED,
                        f"network '{other.name}' is already defined with uuid {net.uuid}",
                    )
            existing = self.state.networks.get(net.name or "")
            if existing is not None:
                if existing.uuid != net.uuid and net.uuid:
                    raise _errors.OperationFailedError(
                        ErrorCode.OPERATION_FAILED,
                        f"network '{net.name}' already exists with uuid {existing.uuid}",
                    )
                if active and existing.active:
                    raise _errors.OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, f"network is already active as '{net.name}'"
                    )
                if existing.active and not active:
                    existing.config = net  # libvirt's newDef: the running network keeps its definition
                else:
                    existing.defn, existing.config = net, None
                return existing
            obj = NetworkObj(net, active=active, persistent=not active)
            self.state.networks[net.name or ""] = obj
            return obj

    @hookimpl
    def network_list_all(self) -> list[NetworkRef]:
        return [self._nref(o) for _, o in sorted(self.state.networks.items())]

    @hookimpl
    def network_lookup_by_name(self, name: str) -> NetworkRef:
        return self._nref(self._net(name))

    @hookimpl
    def network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        for obj in self.state.networks.values():
            if obj.uuid == uuid:
                return self._nref(obj)
        raise _errors.NotFoundError(
            ErrorCode.NO_NETWORK, f"no network with matching uuid '{uuid}'", domain=ErrorDomain.TEST
        )

    @hookimpl
    def network_define_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, _VIR_NETWORK_DEFINE_VALIDATE, "testNetworkDefineXMLFlags")
        obj = self._add_network(xml, active=False)
        obj.persistent = True
        self.events.network_lifecycle(self._nref(obj), NetworkEvent.DEFINED)
        return self._nref(obj)

    @hookimpl
    def network_create_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, _VIR_NETWORK_CREATE_VALIDATE, "testNetworkCreateXMLFlags")
        obj = self._add_network(xml, active=True)
        obj.active = True  # a defined, inactive network of that name starts with this definition (ADD_LIVE)
        ref = self._nref(obj)
        self.events.network_lifecycle(ref, NetworkEvent.STARTED)
        return ref

    @hookimpl
    def network_undefine(self, net: NetworkRef) -> None:
        with self.state.lock:
            obj = self._net(net)
            if obj.active:  # testNetworkUndefine: unlike the network driver, the test driver refuses
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"Network '{net.name}' is still running"
                )
            del self.state.networks[net.name]
        self.events.network_lifecycle(net, NetworkEvent.UNDEFINED)

    @hookimpl
    def network_create(self, net: NetworkRef) -> None:
        with self.state.lock:
            obj = self._net(net)
            if obj.active:
                # testNetworkCreate's own wording, not the bridge driver's
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"Network '{net.name}' is already running"
                )
            obj.active = True
        self.events.network_lifecycle(net, NetworkEvent.STARTED)

    @hookimpl
    def network_destroy(self, net: NetworkRef) -> None:
        with self.state.lock:
            # testNetworkDestroy does not check that the network runs: destroying an inactive one succeeds
            obj = self._net(net)
            obj.active = False
            if not obj.persistent:
                del self.state.networks[net.name]
        self.events.network_lifecycle(net, NetworkEvent.STOPPED)

    @hookimpl
    def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        check_flags(flags, 0, "testNetworkGetXMLDesc")  # libvirt's test driver takes no flags, not even INACTIVE
        return conf_network.format_network(self._net(net).defn)

    @hookimpl
    def network_update(self, net: NetworkRef, command: int, section: int, parent_index: int, xml: str,
                       flags: int) -> None:  # fmt: skip
        """libvirt's virNetworkObjUpdate: the live and/or persistent definition, each changed on a copy.

        As in libvirt's test driver, a pending persistent definition does not replace the live one
        when the network stops; the next update of an inactive network's config does.
        """
        check_flags(flags, _VIR_NETWORK_UPDATE_AFFECT_LIVE | _VIR_NETWORK_UPDATE_AFFECT_CONFIG, "testNetworkUpdate")
        with self.state.lock:
            obj = self._net(net)
            live, config = (
                bool(flags & _VIR_NETWORK_UPDATE_AFFECT_LIVE),
                bool(flags & _VIR_NETWORK_UPDATE_AFFECT_CONFIG),
            )
            if not live and not config:
                live, config = obj.active, not obj.active
            if live and not obj.active:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "network is not running")
            if config and not obj.persistent:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot change persistent config of a "
                                            "transient network")  # fmt: skip
            new_live = obj.defn.model_copy(deep=True) if live else None
            new_config = obj.persistent_def().model_copy(deep=True) if config else None
            for target in (new_live, new_config):
                if target is not None:
                    conf_network_update.update_network(target, command, section, parent_index, xml)
            if new_live is not None:
                if obj.config is None and obj.persistent:
                    obj.config = obj.defn  # the persistent definition stays as it was
                obj.defn = new_live
            if new_config is not None:
                if obj.active:
                    obj.config = new_config
                else:
                    obj.defn, obj.config = new_config, None

    @hookimpl
    def network_get_flags(self, net: NetworkRef) -> dict[str, bool]:
        obj = self._net(net)
        return {"active": obj.active, "persistent": obj.persistent, "autostart": obj.autostart}

    @hookimpl
    def network_get_bridge_name(self, net: NetworkRef) -> str:
        obj = self._net(net)
        if not obj.bridge_name:
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"network '{net.name}' does not have a bridge name.")
        return obj.bridge_name

    @hookimpl
    def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        # testNetworkSetAutostart sets it even on a transient network (the network driver refuses)
        self._net(net).autostart = autostart

    # ================================================================ pools
    def _pool(self, ref: PoolRef | str) -> PoolObj:
        name = ref if isinstance(ref, str) else ref.name
        obj = self.state.pools.get(name)
        if obj is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching name '{name}'", domain=ErrorDomain.STORAGE
            )
        return obj

    @staticmethod
    def _pref(obj: PoolObj) -> PoolRef:
        return PoolRef(obj.name, obj.uuid)

    def add_pool(self, xml: str, *, active: bool) -> PoolObj:
        """virStoragePoolObjListAdd: a new pool, or the same name and UUID defined again (while inactive).

        virStoragePoolObjIsDuplicate's checks: a UUID another pool has, a name
        another UUID has, and an active pool as a new one to start.
        """
        pool = conf_storage.parse_pool(xml)
        with self.state.lock:
            existing = next((o for o in self.state.pools.values() if o.uuid == (pool.uuid or "")), None)
            if existing is not None and existing.name != (pool.name or ""):
                raise _errors.OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"pool '{existing.name}' is already defined with uuid {pool.uuid}"
                )
            if existing is None and (clash := self.state.pools.get(pool.name or "")) is not None:
                raise _errors.OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"pool '{pool.name}' already exists with uuid {clash.uuid}"
                )
            if existing is not None:
                if existing.active:
                    raise _errors.OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, f"pool is already active as '{pool.name}'"
                    )
                existing.defn = pool
                return existing
            obj = PoolObj(self._with_new_pool_figures(pool), active=active, persistent=not active)
            self.state.pools[pool.name or ""] = obj
            return obj

    @staticmethod
    def _with_new_pool_figures(pool: conf_storage.Pool) -> conf_storage.Pool:
        """A new pool's figures in libvirt's test driver: a fixed capacity, nothing allocated yet."""
        pool.capacity = conf_storage.Bytes(value=DEFAULT_POOL_CAPACITY)
        pool.allocation = conf_storage.Bytes(value=0)
        pool.available = conf_storage.Bytes(value=DEFAULT_POOL_CAPACITY)
        return pool

    def new_pool_definition(self, xml: str) -> conf_storage.Pool:
        """A built-in pool's definition as ``add_pool`` would have made it (parsed on first read)."""
        return self._with_new_pool_figures(conf_storage.parse_pool(xml))

    @hookimpl
    def pool_list_all(self) -> list[PoolRef]:
        return [self._pref(o) for _, o in sorted(self.state.pools.items())]

    @hookimpl
    def pool_lookup_by_name(self, name: str) -> PoolRef:
        return self._pref(self._pool(name))

    @hookimpl
    def pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        for obj in self.state.pools.values():
            if obj.uuid == uuid:
                return self._pref(obj)
        raise _errors.NotFoundError(
            ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching uuid '{uuid}'", domain=ErrorDomain.STORAGE
        )

    @hookimpl
    def pool_define_xml(self, xml: str, flags: int) -> PoolRef:
        check_flags(flags, _VIR_STORAGE_POOL_DEFINE_VALIDATE, "testStoragePoolDefineXML")
        obj = self.add_pool(xml, active=False)
        obj.persistent = True
        return self._pref(obj)

    @hookimpl
    def pool_create_xml(self, xml: str, flags: int) -> PoolRef:
        check_flags(flags, 0, "testStoragePoolCreateXML")  # libvirt's test driver builds nothing, and says so
        return self._pref(self.add_pool(xml, active=True))

    @hookimpl
    def pool_undefine(self, pool: PoolRef) -> None:
        with self.state.lock:
            obj = self._pool(pool)
            if obj.active:
                # testStoragePoolObjFindInactiveByName's wording
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is active"
                )
            del self.state.pools[pool.name]

    @hookimpl
    def pool_create(self, pool: PoolRef, flags: int) -> None:
        check_flags(flags, 0, "testStoragePoolCreate")
        with self.state.lock:
            obj = self._pool(pool)
            if obj.active:
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is active"
                )
            obj.active = True

    @hookimpl
    def pool_destroy(self, pool: PoolRef) -> None:
        with self.state.lock:
            obj = self._pool(pool)
            if not obj.active:
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is not active"
                )
            obj.active = False
            if not obj.persistent:
                del self.state.pools[pool.name]

    @hookimpl
    def pool_refresh(self, pool: PoolRef, flags: int) -> None:
        check_flags(flags, 0, "testStoragePoolRefresh")
        obj = self._pool(pool)
        if not obj.active:
            raise _errors.OperationInvalidError(
                ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is not active"
            )

    def _inactive_pool(self, pool: PoolRef) -> PoolObj:
        """testStoragePoolObjFindInactiveByName: the pool, refused while it runs."""
        obj = self._pool(pool)
        if obj.active:
            raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is active")
        return obj

    @hookimpl
    def pool_build(self, pool: PoolRef, flags: int) -> None:
        # libvirt's test driver has no storage to make: it only checks and announces (testStoragePoolBuild)
        check_flags(flags, 0, "testStoragePoolBuild")
        with self.state.lock:
            self._inactive_pool(pool)
        self.events.pool_lifecycle(pool, PoolEvent.CREATED)

    @hookimpl
    def pool_delete(self, pool: PoolRef, flags: int) -> None:
        # as testStoragePoolDelete: the definition stays, only the (imaginary) storage goes
        check_flags(flags, 0, "testStoragePoolDelete")
        with self.state.lock:
            self._inactive_pool(pool)
        self.events.pool_lifecycle(pool, PoolEvent.DELETED)

    @hookimpl
    def pool_get_info(self, pool: PoolRef) -> PoolInfo:
        obj = self._pool(pool)
        if (
            not obj.parsed
        ):  # a built-in pool not read yet holds no volume: a new pool's figures (_with_new_pool_figures)
            return PoolInfo(
                state=POOL_RUNNING if obj.active else POOL_INACTIVE,
                capacity=DEFAULT_POOL_CAPACITY,
                allocation=0,
                available=DEFAULT_POOL_CAPACITY,
            )
        d = obj.defn
        return PoolInfo(
            state=POOL_RUNNING if obj.active else POOL_INACTIVE,
            capacity=d.capacity.value if d.capacity else 0,
            allocation=d.allocation.value if d.allocation else 0,
            available=d.available.value if d.available else 0,
        )

    @hookimpl
    def pool_get_xml_desc(self, pool: PoolRef, flags: int) -> str:
        check_flags(flags, 0, "testStoragePoolGetXMLDesc")  # one definition per pool: no INACTIVE
        return conf_storage.format_pool(self._pool(pool).defn)

    @hookimpl
    def pool_get_flags(self, pool: PoolRef) -> dict[str, bool]:
        obj = self._pool(pool)
        return {"active": obj.active, "persistent": obj.persistent, "autostart": obj.autostart}

    @hookimpl
    def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None:
        obj = self._pool(pool)
        if not obj.persistent:  # testStoragePoolSetAutostart: a transient pool has no config file to mark
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "pool has no config file")
        obj.autostart = autostart

    # ================================================================ volumes
    def _active_pool(self, pool: PoolRef) -> PoolObj:
        obj = self._pool(pool)
        if not obj.active:
            raise _errors.OperationInvalidError(
                ErrorCode.OPERATION_INVALID, f"storage pool '{pool.name}' is not active"
            )
        return obj

    @hookimpl
    def volume_list_all(self, pool: PoolRef) -> list[VolumeRef]:
        obj = self._active_pool(pool)
        return [VolumeRef(pool.name, n, v.key or "") for n, v in sorted(obj.volumes.items())]

    @hookimpl
    def volume_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        obj = self._active_pool(pool)
        vol = obj.volumes.get(name)
        if vol is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{name}'", domain=ErrorDomain.STORAGE
            )
        return VolumeRef(pool.name, name, vol.key or "")

    def _find_vol(self, attr: str, value: str) -> VolumeRef:
        for pname, pobj in self.state.pools.items():
            if not pobj.active:
                continue
            for vname, vol in pobj.volumes.items():
                got = vol.key if attr == "key" else (vol.target.path if vol.target else None)
                if got == value:
                    return VolumeRef(pname, vname, vol.key or "")
        raise _errors.NotFoundError(
            ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching {attr} '{value}'", domain=ErrorDomain.STORAGE
        )

    @hookimpl
    def volume_lookup_by_key(self, key: str) -> VolumeRef:
        return self._find_vol("key", key)

    @hookimpl
    def volume_lookup_by_path(self, path: str) -> VolumeRef:
        return self._find_vol("path", path)

    @hookimpl
    def volume_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolumeRef:
        # libvirt's test driver takes VALIDATE only: --prealloc-metadata is refused by flag value
        check_flags(flags, _VIR_STORAGE_VOL_CREATE_VALIDATE, "testStorageVolCreateXML")
        if flags & _VIR_STORAGE_VOL_CREATE_VALIDATE:
            from pyvirt.conf.schema import validate  # lxml's RelaxNG only when asked for

            validate(xml, "volume")
        vol = conf_storage.parse_volume(xml)
        with self.state.lock:
            obj = self._active_pool(pool)
            assert vol.name is not None and vol.capacity is not None
            if vol.name in obj.volumes:
                raise _errors.OperationFailedError(
                    ErrorCode.OPERATION_FAILED, "storage vol already exists"
                )  # test driver
            alloc = vol.allocation.value if vol.allocation else vol.capacity.value
            available = obj.defn.available.value if obj.defn.available else 0
            if alloc > available:
                raise _errors.OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"Not enough free space in pool for volume '{vol.name}'"
                )
            base = obj.defn.target.path if obj.defn.target and obj.defn.target.path else ""
            path = f"{base}/{vol.name}"
            vol.type = vol.type or "file"
            vol.key = path
            vol.allocation = conf_storage.Bytes(value=alloc)
            if vol.target is None:
                vol.target = conf_storage.VolTarget()
            vol.target.path = path
            if vol.target.format_type is None and obj.defn.type in ("dir", "fs", "netfs"):
                vol.target.format_type = "raw"
            obj.volumes[vol.name] = vol
            self._account(obj, alloc)
        return VolumeRef(pool.name, vol.name, path)

    @hookimpl
    def volume_create_xml_from(self, pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
        """testStorageVolCreateXMLFrom: the new volume is what its document says (virsh's ``vol-clone``
        sends the source's own, so it takes the source's capacity and allocation); the source is looked
        up by name in the target pool, as libvirt's test driver does, and no data is copied."""
        check_flags(flags, _VIR_STORAGE_VOL_CREATE_VALIDATE, "testStorageVolCreateXMLFrom")
        if flags & _VIR_STORAGE_VOL_CREATE_VALIDATE:
            from pyvirt.conf.schema import validate  # lxml's RelaxNG only when asked for

            validate(xml, "volume")
        vol = conf_storage.parse_volume(xml)
        with self.state.lock:
            obj = self._active_pool(pool)
            assert vol.name is not None and vol.capacity is not None
            if vol.name in obj.volumes:
                raise _errors.OperationFailedError(ErrorCode.OPERATION_FAILED, "storage vol already exists")
            if source.name not in obj.volumes:
                raise _errors.NotFoundError(
                    ErrorCode.NO_STORAGE_VOL,
                    f"no storage vol with matching name '{source.name}'",
                    domain=ErrorDomain.STORAGE,
                )
            alloc = vol.allocation.value if vol.allocation else vol.capacity.value
            d = obj.defn
            used = d.allocation.value if d.allocation else 0
            if used + alloc > (d.capacity.value if d.capacity else 0):
                raise _errors.InternalError(
                    ErrorCode.INTERNAL_ERROR, f"Not enough free space in pool for volume '{vol.name}'"
                )
            path = f"{d.target.path if d.target and d.target.path else ''}/{vol.name}"
            vol.type = vol.type or "file"
            vol.key = path
            vol.allocation = conf_storage.Bytes(value=alloc)
            if vol.target is None:
                vol.target = conf_storage.VolTarget()
            vol.target.path = path
            if vol.target.format_type is None and d.type in ("dir", "fs", "netfs"):
                vol.target.format_type = "raw"
            obj.volumes[vol.name] = vol
            self._account(obj, alloc)
        return VolumeRef(pool.name, vol.name, path)

    @staticmethod
    def _account(obj: PoolObj, delta: int) -> None:
        d = obj.defn
        if d.allocation is not None and d.available is not None:
            d.allocation.value += delta
            d.available.value -= delta

    @hookimpl
    def volume_delete(self, vol: VolumeRef, flags: int) -> None:
        check_flags(flags, 0, "testStorageVolDelete")  # libvirt's test driver takes neither ZEROED nor WITH_SNAPSHOTS
        with self.state.lock:
            obj = self._active_pool(PoolRef(vol.pool, ""))
            v = obj.volumes.pop(vol.name, None)
            if v is None:
                raise _errors.NotFoundError(ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{vol.name}'")
            self._account(obj, -(v.allocation.value if v.allocation else 0))

    def _vol(self, vol: VolumeRef):  # type: ignore[no-untyped-def]
        obj = self._active_pool(PoolRef(vol.pool, ""))
        v = obj.volumes.get(vol.name)
        if v is None:
            raise _errors.NotFoundError(ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{vol.name}'")
        return v

    @hookimpl
    def volume_get_info(self, vol: VolumeRef) -> VolumeInfo:
        v = self._vol(vol)
        types = {"file": 0, "block": 1, "dir": 2, "network": 3, "netdir": 4, "ploop": 5}
        return VolumeInfo(types.get(v.type or "file", 0), v.capacity.value, v.allocation.value if v.allocation else 0)

    @hookimpl
    def volume_get_xml_desc(self, vol: VolumeRef, flags: int) -> str:
        check_flags(flags, 0, "testStorageVolGetXMLDesc")
        return conf_storage.format_volume(self._vol(vol))

    @hookimpl
    def volume_get_path(self, vol: VolumeRef) -> str:
        v = self._vol(vol)
        return str(v.target.path if v.target else "")

    # ================================================================ secrets
    def _secret(self, uuid: str) -> SecretObj:
        obj = self.state.secrets.get(uuid)
        if obj is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_SECRET, f"no secret with matching uuid '{uuid}'", domain=ErrorDomain.SECRET
            )
        return obj

    @staticmethod
    def _sref(obj: SecretObj) -> SecretRef:
        return SecretRef(obj.defn.uuid or "", obj.defn.usage_number, obj.defn.usage_id)

    @hookimpl
    def secret_list_all(self) -> list[SecretRef]:
        return [self._sref(o) for _, o in sorted(self.state.secrets.items())]

    @hookimpl
    def secret_lookup_by_uuid(self, uuid: str) -> SecretRef:
        return self._sref(self._secret(uuid))

    @hookimpl
    def secret_lookup_by_usage(self, usage_type: int, usage_id: str) -> SecretRef:
        for obj in self.state.secrets.values():
            if obj.defn.usage_number == usage_type and obj.defn.usage_id == usage_id:
                return self._sref(obj)
        raise _errors.NotFoundError(
            ErrorCode.NO_SECRET, f"no secret with matching usage '{usage_id}'", domain=ErrorDomain.SECRET
        )

    @hookimpl
    def secret_define_xml(self, xml: str, flags: int) -> SecretRef:
        check_flags(flags, _VIR_SECRET_DEFINE_VALIDATE, "testSecretDefineXML")
        if flags & _VIR_SECRET_DEFINE_VALIDATE:  # virSecretDefParse's schema check (secret.rng)
            from pyvirt.conf.schema import validate

            validate(xml, "secret")
        sec = conf_secret.parse_secret(xml)
        with self.state.lock:
            for other in self.state.secrets.values():
                if (
                    other.defn.uuid != sec.uuid
                    and sec.usage_id
                    and other.defn.usage_id == sec.usage_id
                    and (other.defn.usage_number == sec.usage_number)
                ):
                    raise _errors.InternalError(
                        ErrorCode.INTERNAL_ERROR,
                        f"a secret with UUID {other.defn.uuid} already defined for use with {sec.usage_id}",
                    )
            existing = self.state.secrets.get(sec.uuid or "")
            if existing is not None:
                existing.defn = sec
                return self._sref(existing)
            obj = SecretObj(sec)
            self.state.secrets[sec.uuid or ""] = obj
        return self._sref(obj)

    @hookimpl
    def secret_undefine(self, secret: SecretRef) -> None:
        with self.state.lock:
            self._secret(secret.uuid)
            del self.state.secrets[secret.uuid]

    @hookimpl
    def secret_get_xml_desc(self, secret: SecretRef, flags: int) -> str:
        check_flags(flags, 0, "testSecretGetXMLDesc")
        return conf_secret.format_secret(self._secret(secret.uuid).defn)

    @hookimpl
    def secret_set_value(self, secret: SecretRef, value: bytes, flags: int) -> None:
        check_flags(flags, 0, "testSecretSetValue")
        self._secret(secret.uuid).value = bytes(value)

    @hookimpl
    def secret_get_value(self, secret: SecretRef, flags: int) -> bytes:
        check_flags(flags, 0, "testSecretGetValue")
        obj = self._secret(secret.uuid)
        if obj.defn.private:
            raise _errors.OperationInvalidError(ErrorCode.INVALID_SECRET, "secret is private")
        if obj.value is None:
            raise _errors.NotFoundError(ErrorCode.NO_SECRET, f"secret '{secret.uuid}' does not have a value")
        return obj.value

    # ================================================================ node devices
    @hookimpl
    def nodedev_list_all(self, cap: str | None) -> list[NodeDeviceRef]:
        out = []
        for name, dev in sorted(self.state.devices.items()):
            if cap is None or cap in dev.capability_types():
                out.append(NodeDeviceRef(name))
        return out

    @hookimpl
    def nodedev_lookup_by_name(self, name: str) -> NodeDeviceRef:
        if name not in self.state.devices:
            raise _errors.NotFoundError(
                ErrorCode.NO_NODE_DEVICE, f"no node device with matching name '{name}'", domain=ErrorDomain.NODEDEV
            )
        return NodeDeviceRef(name)

    @hookimpl
    def nodedev_get_xml_desc(self, dev: NodeDeviceRef, flags: int) -> str:
        check_flags(flags, 0, "testNodeDeviceGetXMLDesc")
        self.nodedev_lookup_by_name(dev.name)
        return conf_nodedev.format_nodedev(self.state.devices[dev.name].defn)

    @hookimpl
    def nodedev_get_parent(self, dev: NodeDeviceRef) -> str:
        self.nodedev_lookup_by_name(dev.name)
        return self.state.devices[dev.name].parent

    # ================================================================ interfaces
    @hookimpl
    def interface_list_all(self) -> list[InterfaceRef]:
        return [InterfaceRef(n, o.mac) for n, o in sorted(self.state.interfaces.items())]

    @hookimpl
    def interface_lookup_by_name(self, name: str) -> InterfaceRef:
        obj = self.state.interfaces.get(name)
        if obj is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_INTERFACE, f"no interface with matching name '{name}'", domain=ErrorDomain.INTERFACE
            )
        return InterfaceRef(name, obj.mac)

    @hookimpl
    def interface_get_xml_desc(self, iface: InterfaceRef, flags: int) -> str:
        check_flags(flags, 0, "testInterfaceGetXMLDesc")  # libvirt 9.0 refuses even INACTIVE
        self.interface_lookup_by_name(iface.name)
        return conf_interface.format_interface(self.state.interfaces[iface.name].defn)

    @hookimpl
    def interface_is_active(self, iface: InterfaceRef) -> bool:
        self.interface_lookup_by_name(iface.name)
        return self.state.interfaces[iface.name].active
