"""IOThreads: ``<iothreads>``/``<iothreadids>`` as QEMU ``iothread`` objects, and who uses them.

A virtio disk or virtio-scsi controller with ``<driver iothread='N'>`` runs
its I/O in that thread instead of QEMU's main loop. Ids come from
``<iothreadids>`` in their order, the rest of ``<iothreads>`` filled with the
lowest unused ids (libvirt's rule); pool sizes become the objects'
``thread-pool-min``/``-max``, and ``<defaultiothread>`` sizes the main loop's pool.
"""

from __future__ import annotations

import json
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, OperationInvalidError

__all__ = ["iothread_args", "iothread_ids", "iothread_prop"]


def iothread_ids(dom: Domain) -> list[int]:
    ids = [t.id for t in dom.iothreadids or [] if t.id is not None]
    wanted = max(dom.iothreads or 0, len(ids))
    candidate = 1
    while len(ids) < wanted:
        if candidate not in ids:
            ids.append(candidate)
        candidate += 1
    return ids


def _json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def iothread_args(dom: Domain) -> list[str]:
    pools = {t.id: t for t in dom.iothreadids or []}
    out: list[str] = []
    for tid in iothread_ids(dom):
        props: dict[str, Any] = {"qom-type": "iothread", "id": f"iothread{tid}"}
        pool = pools.get(tid)
        if pool is not None and pool.thread_pool_min is not None:
            props["thread-pool-min"] = pool.thread_pool_min
        if pool is not None and pool.thread_pool_max is not None:
            props["thread-pool-max"] = pool.thread_pool_max
        out += ["-object", _json(props)]
    if dom.default_pool_min is not None or dom.default_pool_max is not None:
        props = {"qom-type": "main-loop", "id": "main-loop"}
        if dom.default_pool_min is not None:
            props["thread-pool-min"] = dom.default_pool_min
        if dom.default_pool_max is not None:
            props["thread-pool-max"] = dom.default_pool_max
        out += ["-object", _json(props)]
    return out


def iothread_prop(dom: Domain, tid: int | None, what: str) -> dict[str, str]:
    """``{"iothread": "iothreadN"}`` for a device, checking the thread exists (libvirt's error otherwise)."""
    if tid is None:
        return {}
    if tid not in iothread_ids(dom):
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"{what} iothread '{tid}' not defined in iothreadid",
                                verbatim=False)  # fmt: skip
    return {"iothread": f"iothread{tid}"}
