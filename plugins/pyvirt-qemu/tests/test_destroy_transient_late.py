"""Destroying a transient guest succeeds even when the exit's cleanup has already forgotten the guest.

A destroy kills QEMU, waits for the exit and the watcher thread's cleanup
after it, then begins its destroy job; for a transient guest that cleanup
ends with the domain removed, so the job finds the domain gone. The destroy
once failed then with "Domain not found", although it had done exactly what
was asked (libvirt's destroy of a transient guest returns success and the
guest is gone). Here the destroying thread is held back until the cleanup is
through whatever ``kill`` waits for.
"""

from __future__ import annotations

import threading
import time

import pytest
from pyvirt_qemu.process import QemuProcess
from pyvirt_qemu.state import DomainObj, QemuState

import pyvirt
from pyvirt import ErrorCode

GUEST = """<domain type='{virt}'><name>late</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""


def test_a_late_destroyer_still_reports_success(
    conn: pyvirt.Connection, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dom = conn.create_domain(GUEST.format(virt=virt_type))
    kill = QemuProcess.kill

    def slow_to_wake(self: QemuProcess, grace: float = 10.0, *, until: threading.Event | None = None) -> None:
        kill(self, grace, until=until)
        assert self.cleaned.wait(30), "the watcher never cleaned up after the exit"

    monkeypatch.setattr(QemuProcess, "kill", slow_to_wake)
    dom.destroy()  # the guest is gone by now, and the destroy says it did that
    with pytest.raises(pyvirt.Error) as e:
        conn.lookup_domain_by_name("late")
    assert e.value.code == ErrorCode.NO_DOMAIN


def test_the_destroyer_wakes_once_after_the_cleanup(
    conn: pyvirt.Connection, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The destroying thread sleeps until the watcher has cleaned up, not until the exit and then again.

    The watcher's cleanup is slowed here: a killer that woke at the exit
    would return from ``kill`` before it, find ``cleaned`` unset and sleep a
    second time (each wake-up a scheduling delay on a loaded host).
    """
    on_exit = QemuState.on_exit

    def slow_cleanup(self: QemuState, obj: DomainObj, proc: QemuProcess) -> None:
        time.sleep(0.3)
        on_exit(self, obj, proc)

    cleaned_at_return: list[bool] = []
    kill = QemuProcess.kill

    def watched_kill(self: QemuProcess, grace: float = 10.0, *, until: threading.Event | None = None) -> None:
        kill(self, grace, until=until)
        cleaned_at_return.append(self.cleaned.is_set())

    dom = conn.create_domain(GUEST.format(virt=virt_type))
    monkeypatch.setattr(QemuState, "on_exit", slow_cleanup)
    monkeypatch.setattr(QemuProcess, "kill", watched_kill)
    dom.destroy()
    assert cleaned_at_return == [True]
