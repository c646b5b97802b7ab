"""iothreadadd / iothreaddel / iothreadset / iothreadpin on QEMU guests: libvirt 9.0's qemuDomainChgIOThread family.

A running guest's threads are QEMU ``iothread`` objects named ``iothreadN``:
adding one is ``object-add``, removing one ``object-del`` (libvirt then asks
``query-iothreads`` to check QEMU really has one more or one fewer),
tuning one is ``qom-set`` of its properties, pinning one is the kernel's
affinity of the thread id QEMU reports. The persistent definition changes as
libvirt's does: a thread added or pinned is written in ``<iothreadids>``
(it is no longer "autofilled"), and polling values have no XML, so they can
change only live. Every check runs on the persistent definition before the
live guest is touched, as libvirt checks its copy of it first.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pyvirt.conf.bitmap import format_bitmap
from pyvirt.conf.domain import CpuTune, Domain, IothreadId, IothreadPin
from pyvirt.errors import (
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationInvalidError,
    SystemCallError,
)
from pyvirt.flags import DomainModificationImpact
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.guest_stats import cpus_of_map
from pyvirt_qemu.iothreads import iothread_ids
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess

__all__ = ["IOThreadChangeHooks"]

_AFFECT = DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG
_INT_MAX = 2**31 - 1
# virTypedParamsValidate's table in qemuDomainIOThreadParseParams
_PARAM_TYPES = {
    "poll_max_ns": TypedParamType.ULLONG,
    "poll_grow": TypedParamType.UINT,
    "poll_shrink": TypedParamType.UINT,
    "thread_pool_min": TypedParamType.INT,
    "thread_pool_max": TypedParamType.INT,
}


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(ErrorCode.INVALID_ARG, message)


def _nonzero(iothread_id: int) -> None:
    if iothread_id == 0:
        raise _invalid("invalid value of 0 for iothread_id")


def _name_all(d: Domain, ids: list[int]) -> None:
    """Write every thread in ``<iothreadids>`` (one is no longer autofilled), keeping each one's pool sizes."""
    known = {t.id: t for t in d.iothreadids or []}
    d.iothreadids = [known.get(i) or IothreadId(id=i) for i in ids]
    d.iothreads = len(ids)


def add_to_def(d: Domain, iothread_id: int) -> None:
    """virDomainIOThreadIDAdd: a named thread at the end of the list."""
    _name_all(d, [*iothread_ids(d), iothread_id])


def del_from_def(d: Domain, iothread_id: int) -> None:
    """virDomainIOThreadIDDel, and the thread's ``<iothreadpin>`` with it.

    libvirt remembers per thread whether it was autofilled; a definition
    without ``<iothreadids>`` stands for all autofilled, so removing its last
    thread only lowers the count, and anything else writes the list.
    """
    ids = iothread_ids(d)
    rest = [i for i in ids if i != iothread_id]
    if not d.iothreadids and ids and ids[-1] == iothread_id:
        d.iothreads = len(rest)
    else:
        _name_all(d, rest)
    if not rest:
        d.iothreads, d.iothreadids = None, None
    tune = d.cputune
    if tune is not None and tune.iothreadpins:
        tune.iothreadpins = [p for p in tune.iothreadpins if p.iothread != iothread_id] or None
        if tune == CpuTune():
            d.cputune = None


def check_add(d: Domain, iothread_id: int) -> None:
    """virDomainDriverAddIOThreadCheck."""
    if iothread_id in iothread_ids(d):
        raise _invalid(f"an IOThread is already using iothread_id '{iothread_id}'")


def check_del(d: Domain, iothread_id: int) -> None:
    """virDomainDriverDelIOThreadCheck: the thread exists and no disk or controller runs in it."""
    if iothread_id not in iothread_ids(d):
        raise _invalid(f"cannot find IOThread '{iothread_id}' in iothreadids list")
    devices = d.devices
    for disk in devices.disks if devices is not None else []:
        if disk.driver_iothread == iothread_id:
            raise _invalid(f"cannot remove IOThread {iothread_id} since it is being used by disk '{disk.target_dev}'")
    for controller in devices.controllers if devices is not None else []:
        if controller.driver_iothread == iothread_id:
            raise _invalid(f"cannot remove IOThread '{iothread_id}' since it is being used by controller")


def parse_params(params: list[TypedParam]) -> dict[str, int]:
    """qemuDomainIOThreadParseParams: the known fields, each within what QEMU's int properties hold."""
    check_typed_params(params, _PARAM_TYPES)
    given = {p.field: int(p.value) for p in params}
    for field in ("poll_max_ns", "poll_grow", "poll_shrink"):
        value = given.get(field)
        if value is not None and value > _INT_MAX:
            shown = field.replace("_", "-")
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    f"{shown} ({value}) must be less than or equal to {_INT_MAX}")  # fmt: skip
    low = given.get("thread_pool_min")
    if low is not None and low < -1:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"thread_pool_min ({low}) must be equal to or greater than -1")  # fmt: skip
    high = given.get("thread_pool_max")
    if high is not None and (high < -1 or high == 0):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"thread_pool_max ({high}) must be a positive number or -1")  # fmt: skip
    return given


def _find_def(d: Domain, iothread_id: int) -> IothreadId:
    """virDomainIOThreadIDFind for a modification; an autofilled thread gets its entry (written out)."""
    ids = iothread_ids(d)
    if iothread_id not in ids:
        raise _invalid(f"cannot find IOThread '{iothread_id}' in iothreadids")
    for t in d.iothreadids or []:
        if t.id == iothread_id:
            return t
    return IothreadId(id=iothread_id)


def validate_change(thread: IothreadId, given: dict[str, int], live: bool) -> None:
    """qemuDomainIOThreadValidate: no -1 (QEMU's default) live, and the pool's minimum not above its maximum."""
    low = thread.thread_pool_min if thread.thread_pool_min is not None else -1
    high = thread.thread_pool_max if thread.thread_pool_max is not None else -1
    if "thread_pool_min" in given:
        if live and given["thread_pool_min"] < 0:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                f"thread_pool_min ({given['thread_pool_min']}) must be equal to or greater than 0 for live change")  # fmt: skip
        low = given["thread_pool_min"]
    if "thread_pool_max" in given:
        if live and given["thread_pool_max"] < 0:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                f"thread_pool_max ({given['thread_pool_max']}) must be equal to or greater than 0 for live change")  # fmt: skip
        high = given["thread_pool_max"]
    if low > high:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    f"thread_pool_min ({low}) can't be greater than thread_pool_max ({high})")  # fmt: skip


def apply_pool(d: Domain, iothread_id: int, given: dict[str, int]) -> None:
    """qemuDomainHotplugModIOThreadIDDef: the pool sizes land in ``<iothread thread_pool_min/max>``, but not
    when polling values came in the same call (libvirt gives up on the whole record then: polling has no XML,
    so the running definition keeps its old pool sizes while QEMU has the new ones)."""
    if {"poll_max_ns", "poll_grow", "poll_shrink"} & given.keys():
        return
    if "thread_pool_min" not in given and "thread_pool_max" not in given:
        return
    ids = iothread_ids(d)
    if not any(t.id == iothread_id for t in d.iothreadids or []):
        _name_all(d, ids)
    for t in d.iothreadids or []:
        if t.id == iothread_id:
            if "thread_pool_min" in given:
                t.thread_pool_min = given["thread_pool_min"] if given["thread_pool_min"] >= 0 else None
            if "thread_pool_max" in given:
                t.thread_pool_max = given["thread_pool_max"] if given["thread_pool_max"] >= 0 else None


def set_pin(d: Domain, iothread_id: int, cpus: set[int]) -> str:
    """The thread's ``<iothreadpin>`` (in ``<iothreadids>`` order, as libvirt formats them); the cpuset text."""
    ids = iothread_ids(d)
    _name_all(d, ids)  # a pinned thread is no longer autofilled
    if d.cputune is None:
        d.cputune = CpuTune()
    text = format_bitmap(cpus)
    pins = [p for p in (d.cputune.iothreadpins or []) if p.iothread != iothread_id]
    pins.append(IothreadPin(iothread=iothread_id, cpuset=text))
    rank = {tid: n for n, tid in enumerate(ids)}
    d.cputune.iothreadpins = sorted(pins, key=lambda p: rank.get(p.iothread or 0, len(rank)))
    return text


def _threads(proc: QemuProcess) -> dict[int, int]:
    """qemuMonitorGetIOThreads: QEMU's ``iothreadN`` objects by N, each with its thread id."""
    out: dict[int, int] = {}
    for entry in proc.monitor.execute("query-iothreads"):
        number = str(entry.get("id", "")).removeprefix("iothread")
        if number.isdigit():
            out[int(number)] = int(entry["thread-id"])
    return out


def _set_affinity(tid: int, cpus: set[int]) -> None:
    """virProcessSetAffinity (no cgroups here, so the kernel's affinity is the whole pinning)."""
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot set CPU affinity on process {tid}") from None


def hotplug_add(proc: QemuProcess, live: Domain, iothread_id: int) -> None:
    """qemuDomainHotplugAddIOThread: the object, QEMU's new list checked, the thread set up (its pinning, else
    ``<vcpu cpuset>``), and the running definition told; the object goes again if a step after it fails."""
    alias = f"iothread{iothread_id}"
    expected = len(iothread_ids(live)) + 1
    execute_checked(proc, "object-add", {"qom-type": "iothread", "id": alias})
    try:
        threads = _threads(proc)
        if len(threads) != expected:
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                f"got wrong number of IOThread ids from QEMU monitor. got {len(threads)}, wanted {expected}")  # fmt: skip
        if iothread_id not in threads:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot find new IOThread '{iothread_id}' in QEMU monitor.")
        cpuset = live.vcpu.cpuset if live.vcpu is not None else None
        if cpuset:  # qemuProcessSetupPid: the domain's cpumask for a thread without its own pinning
            from pyvirt.conf.bitmap import parse_bitmap

            _set_affinity(threads[iothread_id], parse_bitmap(cpuset, "cpuset"))
    except Exception:
        execute_checked(proc, "object-del", {"id": alias})
        raise
    add_to_def(live, iothread_id)


def hotplug_del(proc: QemuProcess, live: Domain, iothread_id: int) -> None:
    """qemuDomainHotplugDelIOThread: ``object-del``, then QEMU's list must be one shorter."""
    expected = len(iothread_ids(live)) - 1
    execute_checked(proc, "object-del", {"id": f"iothread{iothread_id}"})
    threads = _threads(proc)
    if len(threads) != expected:
        raise InternalError(ErrorCode.INTERNAL_ERROR,
            f"got wrong number of IOThread ids from QEMU monitor. got {len(threads)}, wanted {expected}")  # fmt: skip
    del_from_def(live, iothread_id)


def hotplug_mod(proc: QemuProcess, iothread_id: int, given: dict[str, int]) -> None:
    """qemuMonitorJSONSetIOThread: ``qom-set`` per property; the pool's maximum first when the current one is
    below the new minimum (QEMU refuses a minimum above the maximum)."""
    path = f"/objects/iothread{iothread_id}"

    def put(prop: str, value: int) -> None:
        execute_checked(proc, "qom-set", {"path": path, "property": prop, "value": value})

    for field in ("poll_max_ns", "poll_grow", "poll_shrink"):
        if field in given:
            put(field.replace("_", "-"), given[field])
    order = ["thread_pool_min", "thread_pool_max"]
    if "thread_pool_min" in given and "thread_pool_max" in given:
        current = execute_checked(proc, "qom-get", {"path": path, "property": "thread-pool-max"})
        if int(current) < given["thread_pool_min"]:
            order.reverse()
    for field in order:
        if field in given:
            put(field.replace("_", "-"), given[field])


class IOThreadChangeHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    def _change(self, dom: DomainRef, flags: int, iothread_id: int, action: str, given: dict[str, int]) -> None:
        """qemuDomainChgIOThread: the persistent definition checked first, then the live guest, then the file."""
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if persistent is not None:
                if action == "add":
                    check_add(persistent, iothread_id)
                elif action == "del":
                    check_del(persistent, iothread_id)
                else:
                    validate_change(_find_def(persistent, iothread_id), given, live=False)
                    if {"poll_max_ns", "poll_grow", "poll_shrink"} & given.keys():
                        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                                "configuring persistent polling values is not supported")  # fmt: skip
            if live:
                proc = self._still_running(obj)
                with obj.lock:
                    current = obj.live.model_copy(deep=True)
                if action == "add":
                    check_add(current, iothread_id)
                    hotplug_add(proc, current, iothread_id)
                elif action == "del":
                    check_del(current, iothread_id)
                    hotplug_del(proc, current, iothread_id)
                else:
                    validate_change(_find_def(current, iothread_id), given, live=True)
                    hotplug_mod(proc, iothread_id, given)
                    apply_pool(current, iothread_id, given)
                with obj.lock:
                    obj.live.iothreads, obj.live.iothreadids = current.iothreads, current.iothreadids
                    obj.live.cputune = current.cputune
                self.state.save_status(obj)
            if persistent is not None:
                if action == "add":
                    add_to_def(persistent, iothread_id)
                elif action == "del":
                    del_from_def(persistent, iothread_id)
                else:
                    apply_pool(persistent, iothread_id, given)
                self.state.save_config(persistent)

    @hookimpl
    def domain_add_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        """qemuDomainAddIOThread."""
        check_flags(flags, _AFFECT, "qemuDomainAddIOThread")
        _nonzero(iothread_id)
        self._change(dom, flags, iothread_id, "add", {})

    @hookimpl
    def domain_del_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        """qemuDomainDelIOThread."""
        check_flags(flags, _AFFECT, "qemuDomainDelIOThread")
        _nonzero(iothread_id)
        self._change(dom, flags, iothread_id, "del", {})

    @hookimpl
    def domain_set_iothread_params(self, dom: DomainRef, iothread_id: int, params: list[TypedParam],
                                   flags: int) -> None:  # fmt: skip
        """qemuDomainSetIOThreadParams: polling values live only, pool sizes live and/or in the definition."""
        check_flags(flags, _AFFECT, "qemuDomainSetIOThreadParams")
        _nonzero(iothread_id)
        given = parse_params(params)
        self._change(dom, flags, iothread_id, "mod", given)

    @hookimpl
    def domain_pin_iothread(self, dom: DomainRef, iothread_id: int, cpumap: bytes, flags: int) -> None:
        """qemuDomainPinIOThread: the thread's affinity and ``<iothreadpin>`` live, and/or in the definition;
        a live change sends libvirt's tunable event ``cputune.iothreadpinN``."""
        check_flags(flags, _AFFECT, "qemuDomainPinIOThread")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            cpus = cpus_of_map(cpumap)
            if not cpus:
                raise _invalid("Empty iothread cpumap list for pinning")
            if live:
                proc = self._still_running(obj)
                if iothread_id not in iothread_ids(obj.live):
                    raise _invalid(f"iothread {iothread_id} not found")
                tid = _threads(proc).get(iothread_id)
                if tid is None:
                    raise _invalid(f"iothread {iothread_id} not found")
                _set_affinity(tid, cpus)
                with obj.lock:
                    text = set_pin(obj.live, iothread_id, cpus)
                self.state.save_status(obj)
                ref = obj.ref()
                param = TypedParam(f"cputune.iothreadpin{iothread_id}", TypedParamType.STRING, text)
                for sink in list(self.state.sinks):
                    sink.tunable(ref, [param])
            if config:
                persistent = obj.persistent_def()
                if iothread_id not in iothread_ids(persistent):
                    raise _invalid(f"iothreadid {iothread_id} not found")
                set_pin(persistent, iothread_id, cpus)
                self.state.save_config(persistent)
