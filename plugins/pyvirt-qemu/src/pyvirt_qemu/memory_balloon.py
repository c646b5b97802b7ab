"""setmem / setmaxmem, the OS type and domblkerror on QEMU guests: libvirt 9.0's qemuDomainSetMemoryFlags,
qemuDomainGetOSType and qemuDomainGetDiskErrors.

A running guest's memory changes only through its balloon: libvirt asks
QEMU (``balloon``, in bytes) and does not touch the live ``<currentMemory>``
itself; it follows QEMU's BALLOON_CHANGE event once the guest's driver has
given the pages back (qmp_events). The maximum (``<memory>``) can change only
in the persistent definition, since QEMU's RAM size is fixed at start.
Disk errors are QEMU's ``io-status`` per block device, which is how an
operator learns which disk stopped a guest paused on an I/O error.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk, Memory
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, InvalidArgumentError, OperationInvalidError
from pyvirt.flags import DomainMemoryModFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.guest_stats import set_stats_period
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.process import QemuProcess

__all__ = ["MemoryBalloonHooks", "setup_balloon"]

_ALL = DomainMemoryModFlags.LIVE | DomainMemoryModFlags.CONFIG | DomainMemoryModFlags.MAXIMUM
# qemuMonitorBlockIOStatusToError: QEMU's io-status -> virDomainDiskErrorCode (NONE 0, UNSPEC 1, NO_SPACE 2)
_IO_STATUS = {"ok": 0, "failed": 1, "nospace": 2}
# QEMU's error classes qemuMonitorJSONSetBalloon takes for "no balloon" (its return 0)
_NO_BALLOON = ("DeviceNotActive", "KVMMissingCap")


def _balloonable_max(d: Domain) -> int:
    """virDomainDefGetMemoryTotal less the virtio-mem devices' sizes (those are not the balloon's to move)."""
    total = d.memory.kib if d.memory is not None else 0
    mems = d.devices.memories if d.devices is not None else []
    return total - sum(m.target_size.kib for m in mems if m.model == "virtio-mem" and m.target_size is not None)


def set_maximum(persistent: Domain, memory_kib: int) -> None:
    """The MAXIMUM branch for the persistent definition: ``<memory>``, and ``<currentMemory>`` cut down to it."""
    if persistent.cpu is not None and persistent.cpu.numa:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    "initial memory size of a domain with NUMA nodes cannot be modified with this API")  # fmt: skip
    ceiling = persistent.max_memory.kib if persistent.max_memory is not None else 0
    if ceiling and ceiling < memory_kib:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    "cannot set initial memory size greater than the maximum memory size")  # fmt: skip
    persistent.memory = Memory(kib=memory_kib)
    if persistent.current_memory is not None and persistent.current_memory.kib > memory_kib:
        persistent.current_memory = Memory(kib=memory_kib)


def _balloon(monitor: Monitor, memory_kib: int) -> bool:
    """qemuMonitorJSONSetBalloon: QEMU's ``balloon`` (bytes); False when QEMU has no balloon to move."""
    reply = monitor.execute_message({"execute": "balloon", "arguments": {"value": memory_kib * 1024}})
    error = reply.get("error")
    if error is None:
        return True
    if error.get("class") in _NO_BALLOON:
        return False
    raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to execute QEMU command 'balloon': {error.get('desc')}",
                        domain=ErrorDomain.QEMU)  # fmt: skip


def _has_balloon(d: Domain) -> bool:
    """virDomainDefHasMemballoon."""
    balloon = d.devices.memballoon if d.devices is not None else None
    return balloon is not None and balloon.model not in (None, "none")


def setup_balloon(monitor: Monitor, live: Domain, refresh: bool) -> None:
    """qemuProcessSetupBalloon at start (the balloon's target from ``<currentMemory>``, before the CPUs run),
    then, unless the guest's state comes from an image, qemuProcessRefreshBalloonState: the live
    ``<currentMemory>`` is what QEMU's balloon holds (the CPUs have not run, so nothing was given back yet)."""
    if not _has_balloon(live):
        if refresh and live.memory is not None:
            live.current_memory = Memory(kib=live.memory.kib)
        return
    balloon = live.devices.memballoon if live.devices is not None else None
    if balloon is not None and balloon.stats_period:
        with contextlib.suppress(Error):  # libvirt ignores qemuMonitorSetMemoryStatsPeriod's failure here
            set_stats_period(live, monitor, balloon.stats_period)
    if live.current_memory is not None:
        _balloon(monitor, live.current_memory.kib)
    if refresh:
        actual = int(monitor.execute("query-balloon")["actual"]) // 1024
        mems = live.devices.memories if live.devices is not None else []
        plugged = sum(m.target_current.kib for m in mems if m.model == "virtio-mem" and m.target_current is not None)
        live.current_memory = Memory(kib=actual + plugged)


def set_balloon(proc: QemuProcess, memory_kib: int) -> None:
    """qemuMonitorSetBalloon: QEMU's ``balloon``; a guest without a balloon device is libvirt's refusal."""
    if not _balloon(proc.monitor, memory_kib):
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "Unable to change memory of active domain without "
                                    "the balloon device and guest OS balloon driver")  # fmt: skip


def _entry_names(disk: Disk) -> set[str]:
    """The names query-block may give the disk: its alias (a ``-drive``'s id less ``drive-``, or a non-virtio
    device's qdev id) and the virtio backend's QOM path (libvirt's diskPriv->qomName)."""
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else ""
    return {alias, f"/machine/peripheral/{alias}/virtio-backend"} if alias else set()


def disk_errors(live: Domain, blocks: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """qemuMonitorJSONGetBlockInfo's table, read per disk of the definition in its order: those not "ok"."""
    table: dict[str, int] = {}
    for entry in blocks:
        status = entry.get("io-status")
        if status is None:  # missing io-status indicates no error
            code = 0
        elif status in _IO_STATUS:
            code = _IO_STATUS[status]
        else:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unknown block IO status: {status}")
        device = str(entry.get("device") or "").removeprefix("drive-")
        for name in (device, str(entry.get("qdev") or "")):
            if name:
                table[name] = code
    out: list[tuple[str, int]] = []
    for disk in live.devices.disks if live.devices is not None else []:
        codes = [table[n] for n in _entry_names(disk) if n in table]
        if codes and codes[0] != 0:
            out.append((disk.target_dev or "", codes[0]))
    return out


class MemoryBalloonHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_set_memory(self, dom: DomainRef, memory_kib: int, flags: int) -> None:
        """qemuDomainSetMemoryFlags: every check before QEMU is asked, the persistent definition written last."""
        check_flags(flags, _ALL, "qemuDomainSetMemoryFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if flags & DomainMemoryModFlags.MAXIMUM:
                if live:
                    raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                                "cannot resize the maximum memory on an active domain")  # fmt: skip
                if persistent is not None:
                    set_maximum(persistent, memory_kib)
                    self.state.save_config(persistent)
                return
            oldmax = _balloonable_max(obj.live) if live else 0
            if persistent is not None and (not live or oldmax > _balloonable_max(persistent)):
                oldmax = _balloonable_max(persistent)
            if memory_kib > oldmax:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
            if live:
                set_balloon(self._still_running(obj), memory_kib)
            if persistent is not None:
                persistent.current_memory = Memory(kib=memory_kib)
                self.state.save_config(persistent)

    @hookimpl
    def domain_get_os_type(self, dom: DomainRef) -> str:
        """qemuDomainGetOSType: the current definition's ``<os><type>``."""
        d = self.state.find(dom).live
        os_type = d.os.type if d.os is not None else None
        return (os_type.name if os_type is not None else None) or "hvm"

    @hookimpl
    def domain_get_disk_errors(self, dom: DomainRef, flags: int) -> list[tuple[str, int]]:
        """qemuDomainGetDiskErrors: query-block's io-status of each disk, in the definition's order."""
        check_flags(flags, 0, "qemuDomainGetDiskErrors")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            blocks = execute_checked(proc, "query-block")
            with obj.lock:
                live = obj.live
            return disk_errors(live, list(blocks or []))
