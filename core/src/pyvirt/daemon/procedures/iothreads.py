"""Domain procedures for I/O threads (contract 1.15): info, pin, add, delete, tune.

What libvirtd's remoteDispatchDomain*IOThread* do around the public API:
the info reply carries each thread's map as the driver made it, and the
count; the tunables arrive as typed parameters checked as libvirt's
deserializer checks them.
"""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.domains import _params_from_wire
from pyvirt.daemon.procedures.table import handles
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.remote.calls import domain_ref

__all__: list[str] = []


@handles("DOMAIN_GET_IOTHREAD_INFO", hook="domain_get_iothread_info")
def _get_iothread_info(ctx: ClientContext, a: Any) -> Any:
    infos = ctx.calls.domain_get_iothread_info(dom=domain_ref(a[0]), flags=a[1])
    return ([(info.iothread_id, info.cpumap) for info in infos], len(infos))


@handles("DOMAIN_PIN_IOTHREAD", hook="domain_pin_iothread")
def _pin_iothread(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pin_iothread(dom=domain_ref(a[0]), iothread_id=a[1], cpumap=bytes(a[2]), flags=a[3])


@handles("DOMAIN_ADD_IOTHREAD", hook="domain_add_iothread")
def _add_iothread(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_add_iothread(dom=domain_ref(a[0]), iothread_id=a[1], flags=a[2])


@handles("DOMAIN_DEL_IOTHREAD", hook="domain_del_iothread")
def _del_iothread(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_del_iothread(dom=domain_ref(a[0]), iothread_id=a[1], flags=a[2])


@handles("DOMAIN_SET_IOTHREAD_PARAMS", hook="domain_set_iothread_params")
def _set_iothread_params(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_iothread_params(
        dom=domain_ref(a[0]), iothread_id=a[1], params=_params_from_wire(a[2]), flags=a[3]
    )
