"""The call table's rows for storage pools and volumes.

Part of :data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import (
    _ALL,
    _OBJECT_FLAGS,
    RemoteCall,
    _first,
    _flags,
    _one,
    _wire_volume,
    uuid_bytes,
    uuid_text,
)

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import PoolRef, VolumeRef

__all__ = ["ROWS"]


def _pool_ref(w: Any) -> PoolRef:
    return _records.PoolRef(w[0], uuid_text(w[1]))


def _wire_pool(p: PoolRef) -> tuple[str, bytes]:
    return (p.name, uuid_bytes(p.uuid))


def _volume_ref(w: Any) -> VolumeRef:
    return _records.VolumeRef(w[0], w[1], w[2])


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("pool_list_all", "CONNECT_LIST_ALL_STORAGE_POOLS", lambda: (_ALL, 0),
         lambda w: sorted((_pool_ref(p) for p in w[0]), key=lambda r: r.name)),
    _one("pool_lookup_by_name", "STORAGE_POOL_LOOKUP_BY_NAME", lambda name: (name,), lambda w: _pool_ref(w[0])),
    _one("pool_lookup_by_uuid", "STORAGE_POOL_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: _pool_ref(w[0])),
    _one("pool_define_xml", "STORAGE_POOL_DEFINE_XML", lambda xml, flags: (xml, flags), lambda w: _pool_ref(w[0])),
    _one("pool_create_xml", "STORAGE_POOL_CREATE_XML", lambda xml, flags: (xml, flags), lambda w: _pool_ref(w[0])),
    _one("pool_undefine", "STORAGE_POOL_UNDEFINE", lambda pool: (_wire_pool(pool),)),
    _one("pool_create", "STORAGE_POOL_CREATE", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_destroy", "STORAGE_POOL_DESTROY", lambda pool: (_wire_pool(pool),)),
    _one("pool_refresh", "STORAGE_POOL_REFRESH", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_build", "STORAGE_POOL_BUILD", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_delete", "STORAGE_POOL_DELETE", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_get_info", "STORAGE_POOL_GET_INFO", lambda pool: (_wire_pool(pool),), lambda w: _records.PoolInfo(*w)),
    _one("pool_get_xml_desc", "STORAGE_POOL_GET_XML_DESC", lambda pool, flags: (_wire_pool(pool), flags), _first),
    RemoteCall("pool_get_flags",
               ("STORAGE_POOL_IS_ACTIVE", "STORAGE_POOL_IS_PERSISTENT", "STORAGE_POOL_GET_AUTOSTART"),
               lambda pool: [(_wire_pool(pool),)] * 3, _flags(_OBJECT_FLAGS)),
    _one("pool_set_autostart", "STORAGE_POOL_SET_AUTOSTART",
         lambda pool, autostart: (_wire_pool(pool), int(autostart))),
    _one("volume_list_all", "STORAGE_POOL_LIST_ALL_VOLUMES", lambda pool: (_wire_pool(pool), _ALL, 0),
         lambda w: sorted((_volume_ref(v) for v in w[0]), key=lambda r: r.name)),
    _one("volume_lookup_by_name", "STORAGE_VOL_LOOKUP_BY_NAME", lambda pool, name: (_wire_pool(pool), name),
         lambda w: _volume_ref(w[0])),
    _one("volume_lookup_by_key", "STORAGE_VOL_LOOKUP_BY_KEY", lambda key: (key,), lambda w: _volume_ref(w[0])),
    _one("volume_lookup_by_path", "STORAGE_VOL_LOOKUP_BY_PATH", lambda path: (path,), lambda w: _volume_ref(w[0])),
    _one("volume_create_xml", "STORAGE_VOL_CREATE_XML", lambda pool, xml, flags: (_wire_pool(pool), xml, flags),
         lambda w: _volume_ref(w[0])),
    _one("volume_delete", "STORAGE_VOL_DELETE", lambda vol, flags: (_wire_volume(vol), flags)),
    _one("volume_get_info", "STORAGE_VOL_GET_INFO", lambda vol: (_wire_volume(vol),), lambda w: _records.VolumeInfo(*w)),
    _one("volume_get_xml_desc", "STORAGE_VOL_GET_XML_DESC", lambda vol, flags: (_wire_volume(vol), flags), _first),
    _one("volume_get_path", "STORAGE_VOL_GET_PATH", lambda vol: (_wire_volume(vol),), _first),
    _one("volume_create_xml_from", "STORAGE_VOL_CREATE_XML_FROM",
         lambda pool, xml, source, flags: (_wire_pool(pool), xml, _wire_volume(source), flags),
         lambda w: _volume_ref(w[0])),
    # libvirt's client sends virStorageVolWipe as its own procedure: a daemon whose driver has no patterns
    # (ESX) answers it
    _one("volume_wipe", "STORAGE_VOL_WIPE_PATTERN", lambda vol, algorithm, flags: (_wire_volume(vol), algorithm, flags),
         plain=("STORAGE_VOL_WIPE", lambda vol, algorithm, flags: None if algorithm else (_wire_volume(vol), flags))),
    _one("volume_resize", "STORAGE_VOL_RESIZE", lambda vol, capacity, flags: (_wire_volume(vol), capacity, flags)),
)
# fmt: on
