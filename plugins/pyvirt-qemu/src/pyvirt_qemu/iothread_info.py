"""iothreadinfo for QEMU guests: libvirt 9.0's qemuDomainGetIOThreadInfo.

A running guest's answer comes from QEMU and the kernel, not the XML: the
threads QEMU lists (query-iothreads, objects named ``iothreadN``), each with
the CPU affinity the kernel holds for its thread id, so a pinning made
behind libvirt's back shows. A persistent definition's answer is
virDomainDriverGetIOThreadsConfig's: each thread's ``<iothreadpin>``, else
``<vcpu cpuset>``, else the host's online CPUs.
"""

from __future__ import annotations

import os
from typing import Any

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain
from pyvirt.errors import SystemCallError
from pyvirt.plugin.records import IOThreadInfo
from pyvirt_qemu.guest_stats import online_host_cpus
from pyvirt_qemu.iothreads import iothread_ids

__all__ = ["config_iothreads", "live_iothreads"]


def _cpumap(cpus: set[int]) -> bytes:
    """virBitmapToData: CPU n is bit n % 8 of byte n // 8, as many bytes as the highest CPU needs."""
    out = bytearray((max(cpus, default=0) + 8) // 8)
    for cpu in cpus:
        out[cpu // 8] |= 1 << (cpu % 8)
    return bytes(out)


def config_iothreads(dom: Domain) -> list[IOThreadInfo]:
    """virDomainDriverGetIOThreadsConfig with no bitmap size: unpinned threads may use every online host CPU."""
    tune = dom.cputune
    pins = {p.iothread: p.cpuset for p in (tune.iothreadpins or [])} if tune is not None else {}
    cpuset = dom.vcpu.cpuset if dom.vcpu is not None else None
    default = parse_bitmap(cpuset, "cpuset") if cpuset else online_host_cpus()
    out = []
    for tid in iothread_ids(dom):
        pinned = pins.get(tid)
        out.append(IOThreadInfo(tid, _cpumap(parse_bitmap(pinned, "cpuset") if pinned else default)))
    return out


def live_iothreads(reply: list[dict[str, Any]]) -> list[IOThreadInfo]:
    """qemuMonitorJSONGetIOThreads + virProcessGetAffinity: QEMU's order; objects not named ``iothreadN`` (ones
    libvirt did not make) are skipped."""
    out = []
    for entry in reply:
        name = str(entry.get("id", ""))
        number = name.removeprefix("iothread")
        if number == name or not number.isdigit():
            continue
        try:
            cpus = os.sched_getaffinity(int(entry["thread-id"]))
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"cannot get CPU affinity of process {entry['thread-id']}") from None
        out.append(IOThreadInfo(int(number), _cpumap(set(cpus))))
    return out
