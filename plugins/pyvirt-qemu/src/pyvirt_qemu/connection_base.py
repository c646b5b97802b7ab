"""What every group of hooks mixed into the QEMU connection shares: its state and four checks.

Why a base class: the connection is composed of one mixin per family of
libvirt calls (vCPUs, balloon, backups, ...). Each needs the driver's state
and the same few checks libvirt's qemu_driver.c makes at the top of its
calls; stated once here, every mixin inherits them instead of declaring
what it expects the connection to provide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.domain_state import DomainState
from pyvirt.errors import ErrorCode, ErrorDomain, InvalidArgumentError, OperationInvalidError
from pyvirt.flags import DomainModificationImpact
from pyvirt_qemu.guest_agent import GuestAgent

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["QemuConnectionBase"]


class QemuConnectionBase:
    """The QEMU connection as its mixins see it; the connection itself sets ``state``."""

    state: QemuState

    @staticmethod
    def _still_running(obj: DomainObj) -> QemuProcess:
        """The guest's process, checked again once the job is ours: it may have ended while we waited."""
        proc = obj.process
        if proc is None or not proc.alive():
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        return proc

    @staticmethod
    def _affect(
        obj: DomainObj, flags: int, transient: str = "cannot modify device on transient domain"
    ) -> tuple[bool, bool]:
        """(live, config) for VIR_DOMAIN_AFFECT_* flags, 0 resolved by the domain's state, checked as libvirt's
        virDomainObjUpdateModificationImpact does; ``transient`` is the caller's refusal for a transient domain."""
        live = bool(flags & DomainModificationImpact.LIVE)
        config = bool(flags & DomainModificationImpact.CONFIG)
        if not live and not config:
            live, config = obj.active, not obj.active
        if live and not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        if config and not obj.persistent:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, transient)
        return live, config

    def _one_def(self, obj: DomainObj, flags: int) -> Domain:
        """virDomainObjGetOneDef: the running or persistent definition, as LIVE or CONFIG (0: current) picks."""
        if flags & DomainModificationImpact.LIVE and flags & DomainModificationImpact.CONFIG:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
                verbatim=True,  # virReportInvalidArg: no "invalid argument: " before it
            )
        live, _config = self._affect(obj, flags, "transient domains do not have any persistent config")
        return obj.live if live else obj.persistent_def()

    @staticmethod
    def _agent(obj: DomainObj) -> GuestAgent:
        """qemuDomainAgentAvailable: a running guest whose agent channel is configured and open."""
        if obj.state != DomainState.RUNNING or obj.process is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        return GuestAgent(obj.live, obj.agent_open, obj.agent_timeout)
