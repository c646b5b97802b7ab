"""set-lifecycle-action on QEMU guests: libvirt 9.0's qemuDomainSetLifecycleAction.

``<on_poweroff>``, ``<on_reboot>`` and ``<on_crash>`` change in the running
and/or the persistent definition. The running guest follows at once: the
driver reads the running definition when QEMU reports a power-off or a panic
(QEMU waits, ``-no-shutdown`` and ``set-action panic=pause``), and a reboot
is QEMU's own business, so a new ``<on_reboot>`` is told to QEMU with
``set-action reboot=shutdown|reset`` as libvirt does. What QEMU cannot do
(``rename-restart`` anywhere, ``preserve`` on power-off or reboot, a
power-off that restarts with a reboot that destroys) is refused as
qemuValidateLifecycleAction refuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt.flags import DomainModificationImpact
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.connection_base import QemuConnectionBase

if TYPE_CHECKING:
    pass

__all__ = ["LifecycleActionHooks", "check_actions"]

# virDomainLifecycle and virDomainLifecycleAction, by number, with their XML names
_TYPES = ("poweroff", "reboot", "crash")
_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart")
_DEFAULTS = {"poweroff": "destroy", "reboot": "restart", "crash": "destroy"}


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def check_actions(poweroff: str, reboot: str, crash: str) -> None:
    """qemuValidateLifecycleAction."""
    if "rename-restart" in (poweroff, reboot, crash):
        raise _unsupported(
            "qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'"
        )
    if "preserve" in (poweroff, reboot):
        raise _unsupported("qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'")
    if poweroff == "restart" and reboot == "destroy":
        raise _unsupported("qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'")


def _current(d: Domain) -> dict[str, str]:
    return {t: getattr(d, f"on_{t}") or _DEFAULTS[t] for t in _TYPES}


def _validate(d: Domain, kind: str, action: str) -> None:
    """qemuDomainSetLifecycleActionValidate: the definition's three actions with the new one in place."""
    actions = {**_current(d), kind: action}
    check_actions(actions["poweroff"], actions["reboot"], actions["crash"])


class LifecycleActionHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_set_lifecycle_action(self, dom: DomainRef, type: int, action: int, flags: int) -> None:
        """qemuDomainSetLifecycleAction (type and action are range-checked by the public API)."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG,
                    "qemuDomainSetLifecycleAction")  # fmt: skip
        kind, name = _TYPES[type], _ACTIONS[action]
        if kind in ("poweroff", "reboot") and name.startswith("coredump-"):  # virDomainDefLifecycleActionAllowed
            raise _unsupported(f"Lifecycle event '{kind}' doesn't support '{name}' action")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if live:
                _validate(obj.live, kind, name)
            if persistent is not None:
                _validate(persistent, kind, name)
            if live:
                proc = self._still_running(obj)
                # qemuDomainModifyLifecycleActionLive: only the reboot action lives in QEMU
                if kind == "reboot" and _current(obj.live)["reboot"] != name and name in ("destroy", "restart"):
                    proc.monitor.execute("set-action", {"reboot": "shutdown" if name == "destroy" else "reset"})
                with obj.lock:
                    setattr(obj.live, f"on_{kind}", name)
                self.state.save_status(obj)
            if persistent is not None:
                setattr(persistent, f"on_{kind}", name)
                self.state.save_config(persistent)
