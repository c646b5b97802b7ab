"""Domain procedures for the guest's file systems (contract 1.15): info, freeze, thaw, trim.

The info reply carries each mount point's record and the count, as
libvirtd's hand-written remoteDispatchDomainGetFSInfo sends them.
"""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.table import handles
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.remote.calls import domain_ref

__all__: list[str] = []


@handles("DOMAIN_GET_FSINFO", hook="domain_get_fs_info")
def _get_fs_info(ctx: ClientContext, a: Any) -> Any:
    infos = ctx.calls.domain_get_fs_info(dom=domain_ref(a[0]), flags=a[1])
    return ([(i.mountpoint, i.name, i.fstype, list(i.dev_aliases)) for i in infos], len(infos))


@handles("DOMAIN_FSFREEZE", hook="domain_fs_freeze")
def _fs_freeze(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_fs_freeze(dom=domain_ref(a[0]), mountpoints=list(a[1]), flags=a[2]),)


@handles("DOMAIN_FSTHAW", hook="domain_fs_thaw")
def _fs_thaw(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_fs_thaw(dom=domain_ref(a[0]), mountpoints=list(a[1]), flags=a[2]),)


@handles("DOMAIN_FSTRIM", hook="domain_fs_trim")
def _fs_trim(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_fs_trim(dom=domain_ref(a[0]), mountpoint=a[1], minimum=a[2], flags=a[3])
