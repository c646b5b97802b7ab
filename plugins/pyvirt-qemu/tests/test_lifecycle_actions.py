"""<on_poweroff>, <on_reboot> and <on_crash> on real QEMU, the guest's actions forced through its I/O ports.

A firmware-only guest cannot be asked to panic, reboot or power off, so the test writes the ports the
guest's kernel would (HMP ``o``): 1 to the pvpanic port, 0x06 to the PIIX reset control register at
0xcf9, and SLP_EN with the S5 sleep type to the PM1a control register SeaBIOS maps at 0x604.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyvirt
from pyvirt.domain_state import DomainState

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>
<on_poweroff>{poweroff}</on_poweroff><on_reboot>{reboot}</on_reboot><on_crash>{crash}</on_crash>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<panic model='isa'><address type='isa' iobase='0x505'/></panic></devices></domain>"""


def _process(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process
    raise AssertionError(f"{dom.name} is not running")


def _port_write(dom: pyvirt.Domain, size: int, port: int, value: int) -> None:
    _process(dom).monitor.execute("human-monitor-command", {"command-line": f"o /{size} {port:#x} {value:#x}"})


def _until(cond: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _start(conn: pyvirt.Connection, virt: str, name: str, poweroff: str = "destroy", reboot: str = "restart",
           crash: str = "destroy") -> pyvirt.Domain:  # fmt: skip
    dom = conn.define_domain(GUEST.format(virt=virt, name=name, poweroff=poweroff, reboot=reboot, crash=crash))
    dom.create()  # persistent, so its state can be read after it stops
    return dom


def test_on_crash_destroy_restart_preserve(conn: pyvirt.Connection, virt_type: str) -> None:
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = _start(conn, virt_type, "crash-destroy")
    _port_write(dom, 1, 0x505, 1)  # pvpanic: the guest panicked
    _until(lambda: not dom.is_active())
    assert dom.state() == (DomainState.SHUTOFF, 3)  # shut off (crashed)
    assert ("crash-destroy", pyvirt.DomainEvent.CRASHED, 0) in events
    assert ("crash-destroy", pyvirt.DomainEvent.STOPPED, 2) in events  # VIR_DOMAIN_EVENT_STOPPED_CRASHED
    dom = _start(conn, virt_type, "crash-restart", crash="restart")
    pid = _process(dom).pid
    _port_write(dom, 1, 0x505, 1)
    _until(lambda: ("crash-restart", pyvirt.DomainEvent.CRASHED, 0) in events)
    _until(lambda: _process(dom).monitor.execute("query-status")["running"])
    _until(lambda: dom.state()[0] == DomainState.RUNNING)  # QEMU's STOP and RESUME events may still be on the way
    assert _process(dom).pid == pid  # reset in the same QEMU
    dom.destroy()
    dom = _start(conn, virt_type, "crash-preserve", crash="preserve")
    _port_write(dom, 1, 0x505, 1)
    _until(lambda: dom.state()[0] == DomainState.CRASHED)
    time.sleep(0.3)
    assert dom.is_active() and not _process(dom).monitor.execute("query-status")["running"]  # kept, stopped
    dom.destroy()


def test_on_reboot_destroy_and_on_poweroff_restart(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = _start(conn, virt_type, "reboot-destroy", reboot="destroy")
    _port_write(dom, 1, 0xCF9, 0x06)  # the guest resets itself
    _until(lambda: not dom.is_active())
    assert dom.state() == (DomainState.SHUTOFF, 1)  # shut off (shutdown)
    events: list[tuple[int, int]] = []
    conn.register_domain_event(
        lambda ev: events.append((ev.event, ev.detail)) if ev.domain.name == "restarts" else None
    )
    dom = _start(conn, virt_type, "restarts", poweroff="restart")
    pid = _process(dom).pid
    resumed = (pyvirt.DomainEvent.RESUMED, 0)
    deadline = time.monotonic() + 20
    while resumed not in events:  # until SeaBIOS has mapped the PM block, the write goes nowhere
        assert time.monotonic() < deadline, "the guest's power-off did not restart it"
        _port_write(dom, 2, 0x604, 0x2000)  # ACPI S5: SLP_EN with sleep type 0
        time.sleep(0.3)
    # as libvirt's restart: QEMU stopped at the power-off, was reset and resumed, in the same process
    assert (pyvirt.DomainEvent.SUSPENDED, 0) in events and (pyvirt.DomainEvent.STOPPED, 0) not in events
    assert dom.is_active() and _process(dom).pid == pid and dom.state()[0] == DomainState.RUNNING
    dom.destroy()
