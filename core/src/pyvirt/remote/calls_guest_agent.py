"""The call table's rows for the guest agent, power management, one vCPU and one device by alias (contract 1.16).

Part of :data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.remote.calls import RemoteCall, _one, _typed_params, _wd

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ROWS"]


def _keys(w: Any) -> list[str]:
    """remote_domain_authorized_ssh_keys_get_ret: the keys, in the guest's order."""
    return list(w[0])


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("domain_get_guest_info", "DOMAIN_GET_GUEST_INFO",
         lambda dom, types, flags: (_wd(dom), types, flags), _typed_params),
    _one("domain_get_guest_vcpus", "DOMAIN_GET_GUEST_VCPUS", lambda dom, flags: (_wd(dom), flags), _typed_params),
    _one("domain_set_guest_vcpus", "DOMAIN_SET_GUEST_VCPUS",
         lambda dom, cpumap, state, flags: (_wd(dom), cpumap, state, flags)),
    _one("domain_authorized_ssh_keys_get", "DOMAIN_AUTHORIZED_SSH_KEYS_GET",
         lambda dom, user, flags: (_wd(dom), user, flags), _keys),
    _one("domain_authorized_ssh_keys_set", "DOMAIN_AUTHORIZED_SSH_KEYS_SET",
         lambda dom, user, keys, flags: (_wd(dom), user, list(keys), flags)),
    # the reply's ``result`` is libvirtd's return value (0): nothing to hand back
    _one("domain_agent_set_response_timeout", "DOMAIN_AGENT_SET_RESPONSE_TIMEOUT",
         lambda dom, timeout, flags: (_wd(dom), timeout, flags)),
    _one("domain_pm_suspend_for_duration", "DOMAIN_PM_SUSPEND_FOR_DURATION",
         lambda dom, target, duration, flags: (_wd(dom), target, duration, flags)),
    _one("domain_pm_wakeup", "DOMAIN_PM_WAKEUP", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_set_vcpu", "DOMAIN_SET_VCPU", lambda dom, cpumap, state, flags: (_wd(dom), cpumap, state, flags)),
    _one("domain_detach_device_alias", "DOMAIN_DETACH_DEVICE_ALIAS",
         lambda dom, alias, flags: (_wd(dom), alias, flags)),
)
# fmt: on
