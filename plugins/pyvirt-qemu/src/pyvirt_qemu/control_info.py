"""domcontrol on QEMU guests: libvirt 9.0's qemuDomainGetControlInfo.

Management software asks, before it queues a call, whether the driver can
talk to the guest's QEMU now: ``ok``; ``job`` while a call runs inside an
asynchronous job (save, dump, migration), timed from the async job's start;
``occupied`` while a call holds the domain's job (libvirt times it from
entering the monitor; every job here is a monitor conversation, so from the
job's start); ``error`` with the reason ``monitor`` once the monitor broke
while QEMU still runs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyvirt.errors import ErrorCode, ErrorDomain, OperationInvalidError
from pyvirt.local_driver.domain_jobs import AsyncJob, Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.connection_base import QemuConnectionBase

if TYPE_CHECKING:
    pass

__all__ = ["ControlInfoHooks"]

# virDomainControlState and virDomainControlErrorReason
_OK, _JOB, _OCCUPIED, _ERROR = 0, 1, 2, 3
_REASON_MONITOR = 2


class ControlInfoHooks(QemuConnectionBase):
    """Mixed into the QEMU connection, whose ``state`` it reads."""

    @hookimpl
    def domain_get_control_info(self, dom: DomainRef, flags: int) -> tuple[int, int, int]:
        """qemuDomainGetControlInfo: read without a job (it must answer while a job holds the domain)."""
        check_flags(flags, 0, "qemuDomainGetControlInfo")
        obj = self.state.find(dom)
        proc = obj.process
        if not obj.active or proc is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        if proc.monitor.failure is not None:  # priv->monError
            return (_ERROR, _REASON_MONITOR, 0)
        jobs = obj.job
        active, started = jobs.active, jobs.started
        async_job, async_started = jobs.async_job, jobs.async_started
        if active == Job.NONE:
            return (_OK, 0, 0)
        now = time.monotonic()
        if async_job != AsyncJob.NONE:  # vm->job->current: the async job's data, timed from its start
            return (_JOB, 0, max(0, int((now - async_started) * 1000)))
        return (_OCCUPIED, 0, max(0, int((now - started) * 1000)))
