"""Tuning a guest's migration from outside it: the longest pause QEMU may take for the last pass.

libvirt's qemuDomainMigrateSetMaxDowntime / GetMaxDowntime. QEMU ends
pre-copy once what is still dirty fits in ``downtime-limit`` milliseconds at
the speed it measures; until then it keeps iterating. The limit is one of
QEMU's migration parameters, so it lives in the guest's QEMU: it can be set
before a migration (and stays for it) or while one runs, which is why the
setter takes libvirt's MIGRATION_OP job, the one an outgoing migration lets
through beside itself.

Kept apart from the phases (:mod:`pyvirt_qemu.migration_source`): these
calls run on their own, not as a step of a migration.

The bandwidth, which libvirt also records per domain, and the unthrottled
migration into a file are :mod:`pyvirt_qemu.migration_speed`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.errors import ErrorCode, ErrorDomain, OperationInvalidError
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.migration_jobs import running

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["get_max_downtime", "set_max_downtime"]


def set_max_downtime(conn: QemuConnection, dom: DomainRef, downtime: int, flags: int) -> None:
    """libvirt's qemuDomainMigrateSetMaxDowntime: QEMU's ``migrate-set-parameters downtime-limit`` (ms).
    A value QEMU refuses (over 2000 s) comes back with QEMU's own words, as through libvirt."""
    check_flags(flags, 0, "qemuDomainMigrateSetMaxDowntime")
    obj = conn.state.find(dom)
    with obj.job.holding(Job.MIGRATION_OP):
        proc = running(obj)
        proc.monitor.execute("migrate-set-parameters", {"downtime-limit": downtime})


def get_max_downtime(conn: QemuConnection, dom: DomainRef, flags: int) -> int:
    """libvirt's qemuDomainMigrateGetMaxDowntime: ``downtime-limit`` from ``query-migrate-parameters``."""
    check_flags(flags, 0, "qemuDomainMigrateGetMaxDowntime")
    obj = conn.state.find(dom)
    with obj.job.holding(Job.QUERY):
        proc = running(obj)
        limit = proc.monitor.execute("query-migrate-parameters").get("downtime-limit")
    if limit is None:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                    "Querying migration downtime is not supported by QEMU binary",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    return int(limit)
