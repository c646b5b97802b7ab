"""StoragePool.build and StoragePool.delete on test:///default, as libvirt's testStoragePoolBuild/Delete.

The test driver has no storage: building or deleting an inactive pool
announces a CREATED or DELETED lifecycle event and changes nothing else (the
definition stays, the pool stays inactive); an active pool is refused, and
so is any flag.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.events import PoolEvent, PoolLifecycleEvent
from pyvirt.flags import StoragePoolBuildFlags, StoragePoolDeleteFlags


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def test_build_then_delete_an_inactive_pool_announces_both(conn: pyvirt.Connection) -> None:
    pool = conn.lookup_storage_pool_by_name("default-pool")
    pool.destroy()
    seen: list[PoolLifecycleEvent] = []
    conn.register_event("pool-lifecycle", seen.append)
    pool.build()
    pool.delete()
    assert [(e.pool.name, e.event, e.detail) for e in seen] == [
        ("default-pool", PoolEvent.CREATED, 0),
        ("default-pool", PoolEvent.DELETED, 0),
    ]
    # the definition is still there, still inactive: delete removes storage, not the pool
    assert pool.is_persistent() and not pool.is_active()
    assert conn.lookup_storage_pool_by_name("default-pool").uuid == pool.uuid


@pytest.mark.parametrize("method", ["build", "delete"])
def test_an_active_pool_is_refused(conn: pyvirt.Connection, method: str) -> None:
    pool = conn.lookup_storage_pool_by_name("default-pool")
    seen: list[PoolLifecycleEvent] = []
    conn.register_event("pool-lifecycle", seen.append)
    with pytest.raises(pyvirt.Error) as err:
        getattr(pool, method)()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    assert err.value.message == "Requested operation is not valid: storage pool 'default-pool' is active"
    assert seen == [] and pool.is_active()


@pytest.mark.parametrize(
    ("method", "flags", "function"),
    [
        ("build", StoragePoolBuildFlags.OVERWRITE, "testStoragePoolBuild"),
        ("build", StoragePoolBuildFlags.NO_OVERWRITE, "testStoragePoolBuild"),
        ("delete", StoragePoolDeleteFlags.ZEROED, "testStoragePoolDelete"),
    ],
)
def test_flags_are_refused(conn: pyvirt.Connection, method: str, flags: int, function: str) -> None:
    pool = conn.lookup_storage_pool_by_name("default-pool")
    pool.destroy()
    with pytest.raises(pyvirt.Error) as err:
        getattr(pool, method)(int(flags))
    assert err.value.code == ErrorCode.INVALID_ARG
    assert err.value.message == f"unsupported flags (0x{int(flags):x}) in function {function}"


def test_read_only_connection_names_the_api() -> None:
    with pyvirt.open_readonly("test:///default") as ro:
        pool = ro.lookup_storage_pool_by_name("default-pool")
        for method, api in (("build", "virStoragePoolBuild"), ("delete", "virStoragePoolDelete")):
            with pytest.raises(pyvirt.Error) as err:
                getattr(pool, method)()
            assert err.value.code == ErrorCode.OPERATION_DENIED
            assert err.value.message == f"operation forbidden: read only access prevents {api}"
