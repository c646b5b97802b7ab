"""A migration's progress as libvirt reports it: VIR_DOMAIN_JOB_* fields from QEMU's ``query-migrate``."""

from __future__ import annotations

import time
from typing import Any

from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, typed_param

__all__ = ["OPERATIONS", "migration_stats"]


def migration_stats(info: dict[str, Any], started: float, *, completed: bool = False) -> list[TypedParam]:
    """VIR_DOMAIN_JOB_* fields from QEMU's query-migrate (libvirt's qemuMonitorJSONGetMigrationStats).

    In the order of libvirt's qemuDomainMigrationJobDataToParams, which is the
    order a job-completed event lists them in (``virsh event`` prints them so).
    As libvirt, data processed is what QEMU transferred, also once completed.
    """
    ram = info.get("ram") or {}
    total, remaining = int(ram.get("total", 0)), int(ram.get("remaining", 0))
    transferred = int(ram.get("transferred", 0))
    if completed:
        remaining = 0
    elapsed = int((time.monotonic() - started) * 1000) if not completed else int(info.get("total-time", 0))

    def ull(field: str, value: int) -> TypedParam:
        return typed_param(field, TypedParamType.ULLONG, max(value, 0))

    out = [ull("time_elapsed", elapsed)]
    if "downtime" in info:
        out.append(ull("downtime", int(info["downtime"])))
    if "setup-time" in info:
        out.append(ull("setup_time", int(info["setup-time"])))
    out += [
        ull("data_total", total),
        ull("data_processed", transferred),
        ull("data_remaining", remaining),
        ull("memory_total", total),
        ull("memory_processed", transferred),
        ull("memory_remaining", remaining),
        ull("memory_bps", int(float(ram.get("mbps", 0)) * 1_000_000 / 8)),
        ull("memory_constant", int(ram.get("duplicate", 0))),
        ull("memory_normal", int(ram.get("normal", 0))),
        ull("memory_normal_bytes", int(ram.get("normal-bytes", 0))),
        ull("memory_dirty_rate", int(ram.get("dirty-pages-rate", 0))),
        ull("memory_iteration", int(ram.get("dirty-sync-count", 0))),
        ull("memory_postcopy_requests", int(ram.get("postcopy-requests", 0))),
        ull("memory_page_size", int(ram.get("page-size", 0))),
    ]
    if "cpu-throttle-percentage" in info:
        out.append(typed_param("auto_converge_throttle", TypedParamType.INT, int(info["cpu-throttle-percentage"])))
    return out


# virDomainJobOperation of each async job: what ``domjobinfo`` names as "Operation"
OPERATIONS = {AsyncJob.START: 1, AsyncJob.SAVE: 2, AsyncJob.MIGRATION_IN: 4, AsyncJob.MIGRATION_OUT: 5,
               AsyncJob.SNAPSHOT: 6, AsyncJob.DUMP: 8, AsyncJob.BACKUP: 9}  # fmt: skip
