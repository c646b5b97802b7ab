"""A destroy that comes while a start is still connecting to QEMU's monitor ends that start, as libvirt's does.

libvirt gives a starting domain its id before QEMU runs, so ``virsh destroy``
during ``virsh start`` kills the QEMU being started and reports success; the
start fails. pyvirt answered "domain is not running" until the start had
adopted its QEMU, and the start then carried on: the destroy was lost.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyvirt_qemu import process as qemu_process

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.domain_state import ShutoffReason
from pyvirt.events import DomainEvent, Stopped

from .test_start_races import guest, qemus_of, run_dir


def test_destroy_before_the_monitor_answers_kills_the_starting_qemu(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dom = conn.define_domain(guest(virt_type, "early"))
    connecting = threading.Event()
    original = qemu_process.Monitor.connect

    def slow_connect(self: Any, path: str, timeout: float = 30.0, alive: Any = lambda: True) -> None:
        """QEMU exists, its monitor not yet connected: hold the start here while QEMU lives (at most 20 s)."""
        connecting.set()
        deadline = time.monotonic() + 20
        while alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        original(self, path, timeout, alive)

    monkeypatch.setattr(qemu_process.Monitor, "connect", slow_connect)
    events: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.event, ev.detail)), dom)
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            dom.start()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    assert connecting.wait(30), "the start never reached its monitor"
    assert len(qemus_of(qemu_root, "early")) == 1  # the QEMU being started exists
    began = time.monotonic()
    dom.destroy()  # before: "Requested operation is not valid: domain is not running"
    assert time.monotonic() - began < 15, "the destroy waited for the start instead of ending it"
    starter.join(30)
    (failure,) = outcome
    assert isinstance(failure, pyvirt.Error), f"the start went on after the destroy: {failure!r}"
    assert qemus_of(qemu_root, "early") == []
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    assert events == [(DomainEvent.STOPPED, Stopped.DESTROYED)]
    assert not (run_dir(qemu_root) / "early.xml").exists()  # no status left behind
    monkeypatch.setattr(qemu_process.Monitor, "connect", original)
    dom.start()  # nothing of the ended start stands in the way of the next one
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_destroy_before_qemu_exists_ends_the_start_before_it_spawns(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier still (the start is preparing, no QEMU yet): the start stops at its next step and never spawns."""
    dom = conn.define_domain(guest(virt_type, "earlier"))
    preparing, go_on = threading.Event(), threading.Event()
    original = qemu_process.open_taps

    def slow_taps(*args: Any, **kwargs: Any) -> Any:
        preparing.set()
        go_on.wait(20)
        return original(*args, **kwargs)

    monkeypatch.setattr(qemu_process, "open_taps", slow_taps)
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            dom.start()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    assert preparing.wait(30)
    destroyer = threading.Thread(target=dom.destroy)
    destroyer.start()
    time.sleep(0.2)  # the destroy has marked the start and waits for it
    go_on.set()
    destroyer.join(30)
    starter.join(30)
    (failure,) = outcome
    assert isinstance(failure, pyvirt.Error) and failure.code == ErrorCode.OPERATION_FAILED
    assert failure.message == "operation failed: domain is no longer running"
    assert qemus_of(qemu_root, "earlier") == []
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
