"""Memory and vCPU changes (setmem, setmaxmem, setvcpus) as libvirt's libxl driver makes them.

Live changes go through xl: ``xl mem-set`` (the balloon target the guest's
driver follows, libxl_set_memory_target), ``xl mem-max`` (the hypervisor's
ceiling, libxl_domain_setmaxmem) and ``xl vcpu-set`` (libxl_set_vcpuonline:
the vCPUs the guest is asked to bring online, up to the ``maxvcpus`` it was
built with). Persistent changes rewrite the saved definition. The checks,
their order and their wording are libxlDomainSetMemoryFlags' and
libxlDomainSetVcpusFlags'.

One difference, from pyvirt's hook: flags 0 means the domain's current
state (live when it runs, else its definition) for both calls, where
libvirt's libxl driver maps virDomainSetVcpus to LIVE and refuses
virDomainSetVcpusFlags with 0; the hook serves both entry points.
"""

from __future__ import annotations

import contextlib

from pyvirt.conf.domain import Domain, Vcpu
from pyvirt.conf.domain_devices import Memory
from pyvirt.errors import Error, ErrorCode, InternalError, InvalidArgumentError, OperationInvalidError
from pyvirt.flags import DomainMemoryModFlags, DomainModificationImpact
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.plugin.flags import check_flags
from pyvirt_xen.lifecycle import refresh, write_status_file
from pyvirt_xen.state import XenState, audit_guest
from pyvirt_xen.xl import run_xl, xl_info

__all__ = ["impact", "set_memory", "set_vcpus"]

# the same bits in virDomainModificationImpact, virDomainMemoryModFlags, virDomainVcpuFlags and
# virDomainDeviceModifyFlags, which set_memory, set_vcpus and hotplug take
LIVE = DomainModificationImpact.LIVE
CONFIG = DomainModificationImpact.CONFIG
MAXIMUM = DomainMemoryModFlags.MAXIMUM


def impact(obj: DomainObj, flags: int) -> int:
    """virDomainObjUpdateModificationImpact: 0 becomes LIVE or CONFIG; each must be possible."""
    if not flags & (LIVE | CONFIG):
        flags |= LIVE if obj.active else CONFIG
    if flags & LIVE and not obj.active:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")
    if flags & CONFIG and not obj.persistent:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "transient domains do not have any persistent config")
    return flags


def _total_kib(dom: Domain) -> int:
    return dom.memory.kib if dom.memory is not None else 0


def set_memory(state: XenState, obj: DomainObj, memory_kib: int, flags: int) -> None:
    """libxlDomainSetMemoryFlags: the balloon target (or, with MAXIMUM, the ceiling), live and/or persistent."""
    check_flags(flags, LIVE | CONFIG | MAXIMUM, "libxlDomainSetMemoryFlags")
    refresh(state, [obj])
    with obj.lock:
        flags = impact(obj, flags)
        persistent = obj.persistent_def()
        if flags & MAXIMUM:
            if flags & LIVE:
                run_xl(
                    "mem-max", str(obj.id), f"{memory_kib}k",
                    failure=f"Failed to set maximum memory for domain '{obj.id}' with libxenlight",
                )  # fmt: skip
            if flags & CONFIG:
                persistent.memory = Memory(kib=memory_kib)
                if persistent.current_memory is None or persistent.current_memory.kib > memory_kib:
                    persistent.current_memory = Memory(kib=memory_kib)
                state.save_config(persistent)
            return
        if memory_kib > _total_kib(obj.live):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
        if flags & LIVE:
            old = obj.live.current_memory.kib if obj.live.current_memory is not None else _total_kib(obj.live)
            try:
                run_xl(
                    "mem-set", str(obj.id), f"{memory_kib}k",
                    failure=f"Failed to set memory for domain '{obj.id}' with libxenlight",
                )  # fmt: skip
            except Error:
                state.auditor.memory(audit_guest(obj), old, memory_kib, "update", False)
                raise
            state.auditor.memory(audit_guest(obj), old, memory_kib, "update", True)
            obj.live.current_memory = Memory(kib=memory_kib)
            write_status_file(state, obj)
        if flags & CONFIG:
            persistent.current_memory = Memory(kib=memory_kib)
            state.save_config(persistent)


def _vcpus_max(dom: Domain) -> int:
    return (dom.vcpu.count or 1) if dom.vcpu is not None else 1


def _host_max_vcpus() -> int:
    """libxlConnectGetMaxVcpus: libxl_get_max_cpus, the host's highest CPU id + 1 (``xl info``)."""
    try:
        info = xl_info()
    except Error as err:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "could not determine max vcpus for the domain") from err
    return int(info["max_cpu_id"]) + 1 if "max_cpu_id" in info else int(info["nr_cpus"])


def _set_count(dom: Domain, count: int, *, maximum: bool) -> None:
    """virDomainDefSetVcpus / virDomainDefSetVcpusMax on the model: ``count`` is the max, ``current`` the online."""
    if dom.vcpu is None:
        dom.vcpu = Vcpu(count=1)
    vcpu = dom.vcpu
    old_max = vcpu.count or 1
    current = vcpu.current or old_max
    if maximum:
        vcpu.count = count
        current = min(current, count)
    else:
        current = count
    vcpu.current = None if current == vcpu.count else current


def set_vcpus(state: XenState, obj: DomainObj, count: int, flags: int) -> None:
    """libxlDomainSetVcpusFlags: vCPUs online (``xl vcpu-set``) and/or in the definition, or the definition's maximum."""
    check_flags(flags, LIVE | CONFIG | MAXIMUM, "libxlDomainSetVcpusFlags")
    refresh(state, [obj])
    with obj.lock:
        if not flags & (LIVE | CONFIG):
            flags |= LIVE if obj.active else CONFIG
        if flags & (MAXIMUM | LIVE) == MAXIMUM | LIVE:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid flag combination: (0x{flags:x})")
        if count == 0:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "nvcpus is zero")
        if not obj.active and flags & LIVE:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot set vcpus on an inactive domain")
        if not obj.persistent and flags & CONFIG:
            raise OperationInvalidError(
                ErrorCode.OPERATION_INVALID, "cannot change persistent config of a transient domain"
            )
        # the host is asked only when its limit can matter: a count within the definition's maximum needs
        # no hypervisor, and one above it is refused anyway (with the host's limit when that is lower)
        if flags & MAXIMUM:
            limit = _host_max_vcpus()
        else:
            limit = _vcpus_max(obj.live)
            if count > limit:
                with contextlib.suppress(Error):
                    limit = min(limit, _host_max_vcpus())
        if count > limit:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                f"requested vcpus is greater than max allowable vcpus for the domain: {count} > {limit}",
            )
        persistent = obj.persistent_def()
        if flags & LIVE:
            vcpu = obj.live.vcpu
            old = (vcpu.current or vcpu.count or 1) if vcpu is not None else 1
            try:
                run_xl(
                    "vcpu-set", str(obj.id), str(count),
                    failure=f"Failed to set vcpus for domain '{obj.id}' with libxenlight",
                )  # fmt: skip
            except Error:
                state.auditor.vcpu(audit_guest(obj), old, count, "update", False)
                raise
            state.auditor.vcpu(audit_guest(obj), old, count, "update", True)
            _set_count(obj.live, count, maximum=False)
            write_status_file(state, obj)
        if flags & CONFIG:
            _set_count(persistent, count, maximum=bool(flags & MAXIMUM))
            state.save_config(persistent)
