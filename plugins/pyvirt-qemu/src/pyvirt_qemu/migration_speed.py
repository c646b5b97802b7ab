"""A guest's migration bandwidth: virDomainMigrateSetMaxSpeed / GetMaxSpeed, as libvirt 9.0's QEMU driver.

libvirt keeps the pre-copy speed (MiB/s) in the domain's private data
(``migMaxBandwidth``), not only in QEMU: it can be set while the guest is
shut off, it is what ``migrate-getspeed`` answers (libvirt's maximum until
someone sets it, whatever QEMU's own default is), every migration that
names no bandwidth runs at it, and a save or dump, which runs unthrottled,
gives it back to QEMU afterwards (:func:`unthrottled`). The post-copy speed
lives only in QEMU (``max-postcopy-bandwidth``), so it needs a running guest
both ways. Like libvirt, nothing of it is written to the status file: a
restarted daemon starts again from the maximum.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pyvirt.errors import Error, ErrorCode, ErrorDomain, make_error
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.migration_jobs import running

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.state import DomainObj

__all__ = ["MAX_SPEED_POSTCOPY", "SPEED_MAX", "get_max_speed", "set_max_speed", "unthrottled"]

MAX_SPEED_POSTCOPY = 1  # VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY
SPEED_MAX = (2**63 - 1) // (1 << 20)  # QEMU_DOMAIN_MIG_BANDWIDTH_MAX (MiB/s) on a 64-bit host
_POSTCOPY_MAX = (2**64 - 1) // 1024 // 1024  # ULLONG_MAX / 1024 / 1024: QEMU's parameter is in bytes/s
_MIB = 1 << 20


def set_max_speed(conn: QemuConnection, dom: DomainRef, bandwidth: int, flags: int) -> None:
    """qemuDomainMigrateSetMaxSpeed: recorded only for a shut-off guest; otherwise QEMU's parameter under libvirt's
    MIGRATION_OP job (the one an outgoing migration lets through), then recorded."""
    check_flags(flags, MAX_SPEED_POSTCOPY, "qemuDomainMigrateSetMaxSpeed")
    postcopy = bool(flags & MAX_SPEED_POSTCOPY)
    obj = conn.state.find(dom)
    limit = _POSTCOPY_MAX if postcopy else SPEED_MAX
    if bandwidth > limit:
        raise make_error(ErrorCode.OVERFLOW, f"bandwidth must be less than {limit + 1}", domain=ErrorDomain.QEMU)
    if not postcopy and not obj.active:
        obj.mig_max_bandwidth = bandwidth
        return
    with obj.job.holding(Job.MIGRATION_OP):
        proc = running(obj)
        param = "max-postcopy-bandwidth" if postcopy else "max-bandwidth"
        proc.monitor.execute("migrate-set-parameters", {param: bandwidth * _MIB})
        if not postcopy:
            obj.mig_max_bandwidth = bandwidth


def get_max_speed(conn: QemuConnection, dom: DomainRef, flags: int) -> int:
    """qemuDomainMigrateGetMaxSpeed: the recorded pre-copy speed, or QEMU's post-copy one (MiB/s, rounded down)."""
    check_flags(flags, MAX_SPEED_POSTCOPY, "qemuDomainMigrateGetMaxSpeed")
    obj = conn.state.find(dom)
    if not flags & MAX_SPEED_POSTCOPY:
        return obj.mig_max_bandwidth
    with obj.job.holding(Job.QUERY):
        proc = running(obj)
        value = proc.monitor.execute("query-migrate-parameters").get("max-postcopy-bandwidth")
    if value is None:
        raise make_error(ErrorCode.OPERATION_INVALID,
                         "querying maximum post-copy migration speed is not supported by QEMU binary",
                         domain=ErrorDomain.QEMU)  # fmt: skip
    return int(value) // _MIB


@contextlib.contextmanager
def unthrottled(obj: DomainObj, monitor: Monitor) -> Iterator[None]:
    """QEMU's ``max-bandwidth`` at libvirt's maximum for the migration into a file run inside, and the recorded
    speed given back afterwards, after a failure too (libvirt's qemuMigrationSrcToFile).

    Why: the recorded limit is meant for a network; a save or dump held to
    it would keep the guest paused longer for nothing. As libvirt, the
    record reads the maximum meanwhile (``migrate-getspeed`` during a save),
    and what QEMU gets back is the record, not whatever QEMU held: a limit
    set behind libvirt's back (``qemu-monitor-command``) is not kept. A
    restore that fails (QEMU is gone) is not an error of the save.
    """
    saved = obj.mig_max_bandwidth
    monitor.execute("migrate-set-parameters", {"max-bandwidth": SPEED_MAX * _MIB})
    obj.mig_max_bandwidth = SPEED_MAX
    try:
        yield
    finally:
        obj.mig_max_bandwidth = saved
        with contextlib.suppress(Error):
            monitor.execute("migrate-set-parameters", {"max-bandwidth": saved * _MIB})
