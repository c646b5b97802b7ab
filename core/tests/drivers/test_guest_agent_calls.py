"""The guest-agent, power-management and detach-by-alias calls on a driver that lacks them (libvirt 9.0's test
driver lacks them too): the library's own checks first, in libvirt's words, then NO_SUPPORT naming libvirt's API.

The expected messages are what Debian's libvirt-python 9.0 (python3-libvirt) says on test:///default, read once
by hand (its guestVcpus binding answers None instead of raising; virsh shows libvirt's error, which
core/tests/cli/test_nosupport_cmds.py compares).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode


@pytest.fixture
def dom() -> Iterator[pyvirt.Domain]:
    with pyvirt.open("test:///default") as conn:
        yield conn.lookup_domain_by_name("test")


def test_ssh_key_flags_exclude_each_other_before_the_driver(dom: pyvirt.Domain) -> None:
    with pytest.raises(pyvirt.Error) as info:
        dom.authorized_ssh_keys_set("root", ["ssh-ed25519 AAAA k"], 3)  # APPEND | REMOVE
    assert (info.value.code, info.value.message) == (
        ErrorCode.INVALID_ARG,
        "Flags 'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND' and 'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE' "
        "are mutually exclusive",
    )


@pytest.mark.parametrize(
    ("call", "api"),
    [
        (lambda d: d.guest_info(), "virDomainGetGuestInfo"),
        (lambda d: d.guest_vcpus(), "virDomainGetGuestVcpus"),
        (lambda d: d.set_guest_vcpus("1", 0), "virDomainSetGuestVcpus"),
        (lambda d: d.authorized_ssh_keys_get("root"), "virDomainAuthorizedSSHKeysGet"),
        (lambda d: d.authorized_ssh_keys_set("root", [], 0), "virDomainAuthorizedSSHKeysSet"),
        (lambda d: d.agent_set_response_timeout(5), "virDomainAgentSetResponseTimeout"),
        (lambda d: d.pm_suspend_for_duration(0), "virDomainPMSuspendForDuration"),
        (lambda d: d.pm_wakeup(), "virDomainPMWakeup"),
        (lambda d: d.set_vcpu("1", 1), "virDomainSetVcpu"),
        (lambda d: d.detach_device_alias("ua-x"), "virDomainDetachDeviceAlias"),
    ],
)
def test_a_driver_without_them_says_so_in_libvirts_words(
    dom: pyvirt.Domain, call: Callable[[pyvirt.Domain], Any], api: str
) -> None:
    with pytest.raises(pyvirt.Error) as info:
        call(dom)
    assert (info.value.code, info.value.message) == (
        ErrorCode.NO_SUPPORT,
        f"this function is not supported by the connection driver: {api}",
    )
