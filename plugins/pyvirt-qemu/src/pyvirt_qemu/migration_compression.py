"""migrate-compcache and domdirtyrate-calc on QEMU guests: libvirt 9.0's
qemuDomainMigrateGet/SetCompressionCache and qemuDomainStartDirtyRateCalc.

Both tune or measure a migration before it happens, from outside it. XBZRLE
compression sends a page dirtied again as a delta against the copy QEMU
keeps in its cache; the cache's size is QEMU's migration parameter
``xbzrle-cache-size``, so it lives in the running QEMU (set under the
MIGRATION_OP job an outgoing migration lets through). The dirty-page rate
tells whether a migration can converge at all: ``calc-dirty-rate`` starts a
measurement QEMU runs on its own, and the result is read later with
``query-dirty-rate``, which is the ``dirtyrate`` group of ``domstats``
(:func:`dirty_rate_fields`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, ErrorDomain, NotSupportedError, OperationInvalidError
from pyvirt.flags import DomainDirtyRateCalcFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj

__all__ = ["MigrationCompressionHooks", "dirty_rate_fields"]

_MIN_PERIOD, _MAX_PERIOD = 1, 60  # MIN_DIRTYRATE_CALC_PERIOD, MAX_DIRTYRATE_CALC_PERIOD
# virDomainDirtyRateStatus by QEMU's DirtyRateStatus
_STATUS = {"unstarted": 0, "measuring": 1, "measured": 2}


def _running(obj: DomainObj) -> QemuProcess:
    """virDomainObjCheckActive."""
    proc = obj.process
    if not obj.active or proc is None or not proc.alive():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
    return proc


def _check_xbzrle(proc: QemuProcess) -> None:
    """qemuMigrationCapsGet(XBZRLE): the QEMU binary has XBZRLE compression."""
    caps = proc.monitor.execute("query-migrate-capabilities")
    if not any(c.get("capability") == "xbzrle" for c in caps):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "Compressed migration is not supported by QEMU binary")


def dirty_rate_fields(monitor: Any) -> list[tuple[str, int | str]]:
    """qemuDomainGetStatsDirtyRate: QEMU's last measurement (query-dirty-rate) in libvirt's field names; the
    rate only once measured, and per vCPU in the dirty-ring mode."""
    info: dict[str, Any] = monitor.execute("query-dirty-rate")
    status = _STATUS.get(str(info.get("status")), 0)
    out: list[tuple[str, int | str]] = [
        ("dirtyrate.calc_status", status),
        ("dirtyrate.calc_start_time", int(info.get("start-time", 0))),
        ("dirtyrate.calc_period", int(info.get("calc-time", 0))),
        ("dirtyrate.calc_mode", str(info.get("mode", "page-sampling"))),
    ]
    if status == _STATUS["measured"]:
        out.append(("dirtyrate.megabytes_per_second", int(info.get("dirty-rate", 0))))
        if info.get("mode") == "dirty-ring":
            for vcpu in info.get("vcpu-dirty-rate", []):
                out.append((f"dirtyrate.vcpu.{vcpu['id']}.megabytes_per_second", int(vcpu["dirty-rate"])))
    return out


class MigrationCompressionHooks(QemuConnectionBase):
    """Mixed into the QEMU connection, whose ``state`` it uses."""

    @hookimpl
    def domain_migrate_get_compression_cache(self, dom: DomainRef, flags: int) -> int:
        """qemuDomainMigrateGetCompressionCache: ``xbzrle-cache-size`` from query-migrate-parameters."""
        check_flags(flags, 0, "qemuDomainMigrateGetCompressionCache")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = _running(obj)
            _check_xbzrle(proc)
            params = proc.monitor.execute("query-migrate-parameters")
            # qemuMigrationParamsGetULL leaves the answer at 0 when QEMU did not report the parameter
            return int(params.get("xbzrle-cache-size", 0))

    @hookimpl
    def domain_migrate_set_compression_cache(self, dom: DomainRef, size: int, flags: int) -> None:
        """qemuDomainMigrateSetCompressionCache: migrate-set-parameters under the MIGRATION_OP job; a size QEMU
        refuses comes back in QEMU's words, as through libvirt."""
        check_flags(flags, 0, "qemuDomainMigrateSetCompressionCache")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MIGRATION_OP):
            proc = _running(obj)
            _check_xbzrle(proc)
            execute_checked(proc, "migrate-set-parameters", {"xbzrle-cache-size": size})

    @hookimpl
    def domain_start_dirty_rate_calc(self, dom: DomainRef, seconds: int, flags: int) -> None:
        """qemuDomainStartDirtyRateCalc: the period and mode checked, then calc-dirty-rate (QEMU measures on its
        own; the call does not wait)."""
        modes = DomainDirtyRateCalcFlags
        check_flags(flags, modes.PAGE_SAMPLING | modes.DIRTY_BITMAP | modes.DIRTY_RING, "qemuDomainStartDirtyRateCalc")
        if not _MIN_PERIOD <= seconds <= _MAX_PERIOD:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                f"seconds={seconds} is invalid, please choose value within [{_MIN_PERIOD}, {_MAX_PERIOD}].")  # fmt: skip
        obj = self.state.find(dom)
        _running(obj)
        mode = "page-sampling"
        if flags & modes.DIRTY_BITMAP:
            mode = "dirty-bitmap"
        elif flags & modes.DIRTY_RING:
            features = obj.live.features
            kvm = features.kvm if features is not None else None
            if kvm is None or kvm.dirty_ring != "on":  # <features><kvm> on, and its dirty ring
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        "dirty-ring calculation mode requires dirty-ring feature enabled.")  # fmt: skip
            mode = "dirty-ring"
        with obj.job.holding(Job.MODIFY):
            proc = _running(obj)
            arguments: dict[str, Any] = {"calc-time": seconds}
            if mode != "page-sampling":  # qemuMonitorJSONStartDirtyRateCalc names the mode only when not the default
                arguments["mode"] = mode
            execute_checked(proc, "calc-dirty-rate", arguments)
