"""Domain procedures for the guest agent, power management, one vCPU and one device by alias (contract 1.16).

The guest-info reply is libvirtd's hand-written remoteDispatchDomainGetGuestInfo:
the parameters, bounded by REMOTE_DOMAIN_GUEST_INFO_PARAMS_MAX; the SSH keys
reply is bounded by REMOTE_DOMAIN_AUTHORIZED_SSH_KEYS_MAX as libvirtd bounds it.
"""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.domains import _wire_params
from pyvirt.daemon.procedures.table import handles
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain
from pyvirt.remote.calls import domain_ref

__all__: list[str] = []

_GUEST_INFO_PARAMS_MAX = 2048  # REMOTE_DOMAIN_GUEST_INFO_PARAMS_MAX
_AUTHORIZED_SSH_KEYS_MAX = 2048  # REMOTE_DOMAIN_AUTHORIZED_SSH_KEYS_MAX


@handles("DOMAIN_GET_GUEST_INFO", hook="domain_get_guest_info")
def _get_guest_info(ctx: ClientContext, a: Any) -> Any:
    params = ctx.calls.domain_get_guest_info(dom=domain_ref(a[0]), types=a[1], flags=a[2])
    if len(params) > _GUEST_INFO_PARAMS_MAX:  # virTypedParamsSerialize's bound in remoteDispatchDomainGetGuestInfo
        raise ConnectionError(ErrorCode.RPC, f"too many parameters '{len(params)}' for limit '{_GUEST_INFO_PARAMS_MAX}'",
                              domain=ErrorDomain.RPC)  # fmt: skip
    return (_wire_params(params),)


@handles("DOMAIN_GET_GUEST_VCPUS", hook="domain_get_guest_vcpus")
def _get_guest_vcpus(ctx: ClientContext, a: Any) -> Any:
    return (_wire_params(ctx.calls.domain_get_guest_vcpus(dom=domain_ref(a[0]), flags=a[1])),)


@handles("DOMAIN_SET_GUEST_VCPUS", hook="domain_set_guest_vcpus")
def _set_guest_vcpus(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_guest_vcpus(dom=domain_ref(a[0]), cpumap=a[1], state=a[2], flags=a[3])


@handles("DOMAIN_AUTHORIZED_SSH_KEYS_GET", hook="domain_authorized_ssh_keys_get")
def _authorized_ssh_keys_get(ctx: ClientContext, a: Any) -> Any:
    keys = ctx.calls.domain_authorized_ssh_keys_get(dom=domain_ref(a[0]), user=a[1], flags=a[2])
    if len(keys) > _AUTHORIZED_SSH_KEYS_MAX:
        raise ConnectionError(ErrorCode.RPC, f"Number of keys {len(keys)}, which exceeds max limit: "
                              f"{_AUTHORIZED_SSH_KEYS_MAX}", domain=ErrorDomain.RPC)  # fmt: skip
    return (list(keys),)


@handles("DOMAIN_AUTHORIZED_SSH_KEYS_SET", hook="domain_authorized_ssh_keys_set")
def _authorized_ssh_keys_set(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_authorized_ssh_keys_set(dom=domain_ref(a[0]), user=a[1], keys=list(a[2]), flags=a[3])


@handles("DOMAIN_AGENT_SET_RESPONSE_TIMEOUT", hook="domain_agent_set_response_timeout")
def _agent_set_response_timeout(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_agent_set_response_timeout(dom=domain_ref(a[0]), timeout=a[1], flags=a[2])
    return (0,)


@handles("DOMAIN_PM_SUSPEND_FOR_DURATION", hook="domain_pm_suspend_for_duration")
def _pm_suspend_for_duration(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pm_suspend_for_duration(dom=domain_ref(a[0]), target=a[1], duration=a[2], flags=a[3])


@handles("DOMAIN_PM_WAKEUP", hook="domain_pm_wakeup")
def _pm_wakeup(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pm_wakeup(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_SET_VCPU", hook="domain_set_vcpu")
def _set_vcpu(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_vcpu(dom=domain_ref(a[0]), cpumap=a[1], state=a[2], flags=a[3])


@handles("DOMAIN_DETACH_DEVICE_ALIAS", hook="domain_detach_device_alias")
def _detach_device_alias(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_detach_device_alias(dom=domain_ref(a[0]), alias=a[1], flags=a[2])
