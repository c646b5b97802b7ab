"""vol-resize: libvirt 9.0's storageVolResize checks, before the pool's backend changes the volume.

The new capacity is the one asked for, or with DELTA the current capacity plus
(with SHRINK minus, never below zero) the one asked for. It may not fall below
the volume's allocation, nor below its capacity without SHRINK; with ALLOCATE
the space it adds must fit in the pool's free space. Then the backend's
``resize_volume`` (storage-backend contract 1.3) does the work with DELTA
removed from the flags, as libvirt hands its backend the absolute size.
"""

from __future__ import annotations

from collections.abc import Callable

from pyvirt.conf.storage import Pool, Volume
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
)
from pyvirt.flags import StorageVolResizeFlags
from pyvirt.plugin.bases import StorageBackend
from pyvirt.plugin.flags import check_flags

__all__ = ["resize_volume"]

_ALLOCATE = StorageVolResizeFlags.ALLOCATE
_DELTA = StorageVolResizeFlags.DELTA
_SHRINK = StorageVolResizeFlags.SHRINK


def resize_volume(backend: StorageBackend, pool: Pool, vol: Volume, capacity: int, flags: int) -> None:
    """storageVolResize on ``vol`` of the active ``pool`` (its sizes refreshed); errors in libvirt's words."""
    check_flags(flags, _ALLOCATE | _DELTA | _SHRINK, "storageVolResize")
    assert vol.capacity is not None and pool.available is not None
    old_capacity = vol.capacity.value
    allocation = vol.allocation.value if vol.allocation is not None else 0
    new_capacity = capacity
    if flags & _DELTA and flags & _SHRINK:
        new_capacity = old_capacity - min(capacity, old_capacity)
    elif flags & _DELTA:
        new_capacity = old_capacity + capacity
    flags = int(flags) & ~int(_DELTA)
    if new_capacity < allocation:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "can't shrink capacity below existing allocation",
                                   domain=ErrorDomain.STORAGE)  # fmt: skip
    if new_capacity < old_capacity and not flags & _SHRINK:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
            domain=ErrorDomain.STORAGE,
        )
    delta = new_capacity - allocation if flags & _ALLOCATE else 0
    if delta > pool.available.value:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, "Not enough space left in storage pool",
                                   domain=ErrorDomain.STORAGE)  # fmt: skip
    resize: Callable[..., None] | None = getattr(backend, "resize_volume", None)
    if resize is None:  # optional (storage-backend contract 1.3)
        raise NotSupportedError(ErrorCode.NO_SUPPORT, "storage pool does not support changing of volume capacity",
                                domain=ErrorDomain.STORAGE)  # fmt: skip
    resize(pool, vol, new_capacity, int(flags))
