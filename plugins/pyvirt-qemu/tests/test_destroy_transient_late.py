"""Destroying a transient guest succeeds even when the exit's cleanup has already forgotten the guest.

A destroy kills QEMU, waits for the exit, then begins its destroy job. The
watcher thread cleans up right after the exit, and for a transient guest
that ends with the domain removed. On a busy host the destroying thread can
wake after all that: its job then found the domain gone and the destroy
failed with "Domain not found", although it had done exactly what was asked
(libvirt's destroy of a transient guest returns success and the guest is
gone). Here the destroying thread is held back until the cleanup is through.
"""

from __future__ import annotations

import pytest
from pyvirt_qemu.process import QemuProcess

import pyvirt
from pyvirt import ErrorCode

GUEST = """<domain type='{virt}'><name>late</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""


def test_a_late_destroyer_still_reports_success(
    conn: pyvirt.Connection, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dom = conn.create_domain(GUEST.format(virt=virt_type))
    kill = QemuProcess.kill

    def slow_to_wake(self: QemuProcess, grace: float = 10.0) -> None:
        kill(self, grace)
        assert self.cleaned.wait(30), "the watcher never cleaned up after the exit"

    monkeypatch.setattr(QemuProcess, "kill", slow_to_wake)
    dom.destroy()  # the guest is gone by now, and the destroy says it did that
    with pytest.raises(pyvirt.Error) as e:
        conn.lookup_domain_by_name("late")
    assert e.value.code == ErrorCode.NO_DOMAIN
