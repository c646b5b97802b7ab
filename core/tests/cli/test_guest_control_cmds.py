"""set-lifecycle-action, send-process-signal, set-user-password and domlaunchsecinfo on test:///default.

Byte for byte as Debian's virsh 9.0 (stdout, stderr, exit status): virsh's
own parsing (lifecycle names, signal names and numbers, empty values), the
library's checks (pid 0, read-only), and libvirt's test driver's answers,
including its refusal of every launch-security query (the library adds
VIR_TYPED_PARAM_STRING_OKAY, which that driver does not accept).
"""

from __future__ import annotations

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

import pyvirt
from pyvirt.errors import ErrorCode

pytestmark = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)


@pytest.mark.parametrize(
    "line",
    [
        "set-lifecycle-action test poweroff restart; dumpxml test --xpath //on_poweroff; "
        "dumpxml test --inactive --xpath //on_poweroff",
        "set-lifecycle-action test crash coredump-restart --config; dumpxml test --inactive --xpath //on_crash; "
        "dumpxml test --xpath //on_crash",
        "set-lifecycle-action test reboot preserve --live --config; dumpxml test --xpath //on_reboot; "
        "dumpxml test --inactive --xpath //on_reboot",
        "destroy test; set-lifecycle-action test reboot rename-restart; dumpxml test --inactive --xpath //on_reboot",
        "set-lifecycle-action test reboot coredump-destroy",
        "set-lifecycle-action test reboot bogus",
        "set-lifecycle-action nosuch bogus destroy",  # names are checked before the lookup
        "set-lifecycle-action test '' destroy",
        "destroy test; set-lifecycle-action test reboot destroy --live",
        "set-lifecycle-action test reboot preserve --current --live",
        "send-process-signal test 1 kill; send-process-signal test 1 SIG_TERM; send-process-signal test 1 sigRT32",
        "destroy test; send-process-signal test 1 9",
        "send-process-signal test 2 kill",
        "send-process-signal test 0 kill",
        "send-process-signal test 1 65",
        "send-process-signal test 1 -1",
        "send-process-signal test 1 bogus",
        "send-process-signal test x kill",
        "send-process-signal nosuch 1 kill",
        "set-user-password test root secret",
        "set-user-password test root secret --encrypted; set-user-password --quiet test root secret",
        "destroy test; set-user-password test root secret",
        "set-user-password nosuch '' b",
        "domlaunchsecinfo test",
        "domlaunchsecinfo nosuch",
        "set-lifecycle-action --help; send-process-signal --help; set-user-password --help; domlaunchsecinfo --help",
    ],
)
def test_like_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


def test_read_only_refusals_like_virsh() -> None:
    assert VIRSH is not None
    line = "set-lifecycle-action test crash destroy; send-process-signal test 1 kill; set-user-password test a b; "
    line += "domlaunchsecinfo test; send-process-signal test 0 kill"
    mine = run_line([*PYVIRSH, "-r"], line)
    assert mine == run_line([VIRSH, "-r"], line)
    assert "read only access prevents virDomainGetLaunchSecurityInfo" in mine[1]


def test_the_library_checks_as_libvirts() -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        for call, message in (
            (lambda: dom.set_lifecycle_action(3, 0), "invalid argument: invalid lifecycle type '3'"),
            (lambda: dom.set_lifecycle_action(0, -1), "invalid argument: invalid lifecycle action '4294967295'"),
            (lambda: dom.send_process_signal(1, -2), "invalid argument: signum value -2 is out of range"),
            (
                lambda: dom.set_user_password("a", "b", 2),
                "unsupported flags (0x2) in function testDomainSetUserPassword",
            ),
        ):
            with pytest.raises(pyvirt.Error) as err:
                call()
            assert (err.value.code, err.value.message) == (ErrorCode.INVALID_ARG, message)
        dom.set_lifecycle_action(2, 3)
        assert "<on_crash>preserve</on_crash>" in dom.xml_desc()
