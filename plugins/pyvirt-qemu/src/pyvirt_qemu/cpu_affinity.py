"""CPU pinning: ``<vcpu cpuset>``, ``<cputune><emulatorpin>`` and ``<vcpupin>`` as thread affinity.

libvirt pins with both cgroups (cpuset) and ``sched_setaffinity``; this
driver does not put QEMU in cgroups, so it uses the affinity half, which is
what decides where the threads run: QEMU starts with the emulator's CPU set
(``emulatorpin``, else ``<vcpu cpuset>``), every thread it creates inherits
it, and once QEMU reports its vCPU threads (``query-cpus-fast``, while the
guest is still paused) each pinned vCPU gets its own set. The cgroup-only
tunables (shares, period and quota, scheduler policies, cache and memory
bandwidth allocation) and automatic placement are refused by name.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError, SystemCallError

__all__ = ["check_cpu_tuning", "emulator_cpus", "pin_emulator_threads", "pin_vcpus"]

_CGROUP_ONLY = ("shares", "period", "quota", "global_period", "global_quota", "emulator_period", "emulator_quota",
                "iothread_period", "iothread_quota", "iothreadpins", "emulatorsched", "vcpuscheds", "iothreadscheds",
                "cachetunes", "memorytunes")  # fmt: skip


class _Executes(Protocol):
    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0) -> Any: ...


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def _cpus(text: str, what: str) -> set[int]:
    cpus = parse_bitmap(text, what)
    host = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))
    if not cpus & host:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"{what} '{text}' names no CPU of this host")
    return cpus


def check_cpu_tuning(dom: Domain) -> None:
    """Refuse what needs cgroups or numad; check every CPU set names a host CPU."""
    if dom.vcpu is not None and dom.vcpu.placement == "auto":
        raise _unsupported("automatic vCPU placement (numad)")
    tune = dom.cputune
    if tune is not None:
        for name in _CGROUP_ONLY:
            if getattr(tune, name) not in (None, []):
                raise _unsupported(f"<cputune> {name} (it needs cgroups)")
        count = dom.vcpu.count if dom.vcpu is not None and dom.vcpu.count else 1
        for pin in tune.vcpupins or []:
            if pin.vcpu is None or not 0 <= pin.vcpu < count:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"vcpupin for vCPU {pin.vcpu} outside the "
                                        f"domain's {count} vCPUs")  # fmt: skip
            _cpus(pin.cpuset or "", "vcpupin cpuset")
    emulator_cpus(dom)


def emulator_cpus(dom: Domain) -> set[int] | None:
    """The CPU set QEMU starts with (None: wherever the host lets it run)."""
    if dom.cputune is not None and dom.cputune.emulatorpin:
        return _cpus(dom.cputune.emulatorpin, "emulatorpin cpuset")
    if dom.vcpu is not None and dom.vcpu.cpuset:
        return _cpus(dom.vcpu.cpuset, "vcpu cpuset")
    return None


def pin_vcpus(dom: Domain, monitor: _Executes) -> None:
    """Give each vCPU thread its ``<vcpupin>`` set, else the ``<vcpu cpuset>``, else every host CPU.

    qemuProcessSetupPid's order. The last case matters only beside
    ``<emulatorpin>``: the vCPU threads inherited the emulator's set from QEMU's
    main thread, and libvirt gives an unpinned vCPU the whole host instead.
    """
    pins = {p.vcpu: p.cpuset for p in (dom.cputune.vcpupins or []) if p.cpuset} if dom.cputune is not None else {}
    default = dom.vcpu.cpuset if dom.vcpu is not None else None
    emulatorpin = dom.cputune is not None and bool(dom.cputune.emulatorpin)
    if not pins and not emulatorpin:
        return  # every vCPU thread already runs with the set QEMU started with
    host = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))  # qemuProcessGetAllCpuAffinity
    for cpu in monitor.execute("query-cpus-fast"):
        wanted = pins.get(cpu["cpu-index"], default)
        if not wanted and not emulatorpin:
            continue
        try:
            os.sched_setaffinity(int(cpu["thread-id"]), parse_bitmap(wanted, "vcpupin cpuset") if wanted else host)
        except OSError as exc:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED,
                f"cannot set CPU affinity on vCPU {cpu['cpu-index']}: {exc.strerror}",
            ) from exc


def pin_emulator_threads(pid: int, monitor: _Executes, cpus: set[int]) -> None:
    """qemuDomainPinEmulator's live half: every QEMU thread but the vCPUs' runs on ``cpus`` from now on.

    libvirt moves the emulator cgroup's threads (all but vCPUs and I/O
    threads) with cpuset.cpus, then sets the main thread's affinity. This
    driver puts QEMU in no cgroup, so affinity does both: each thread of
    ``/proc/PID/task`` that QEMU does not report as a vCPU (``<iothreadpin>``
    is refused at start, so I/O threads belong to the emulator here).
    """
    vcpus = {int(c["thread-id"]) for c in monitor.execute("query-cpus-fast")}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot set CPU affinity on process {pid}") from exc
    for tid in tids:
        if tid in vcpus:
            continue
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            continue  # a worker thread that ended meanwhile
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"cannot set CPU affinity on process {tid}") from exc
