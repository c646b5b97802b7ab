"""QEMU's guest events become libvirt's domain events (and state changes), as libvirt's qemu_process.c has them.

A watchdog firing, a disk I/O error, a guest suspending itself, setting its
clock, a memory failure: each needs a guest OS (or broken hardware) to
happen, which the firmware-only guests here do not have. So, as in
test_device_agent_events, the guest's half is played by handing the driver
the QMP events QEMU sends then, with QEMU's own data (the disk named by the
node name real QEMU reports in query-block), through the monitor's event
queue as QEMU's own events go; everything else is real: a
running QEMU, the driver's event handling, the connection's callbacks and
the domain's state. Balloon changes, tray moves, graphics clients and the
migration events come from real QEMU in test_linux_guest,
test_domain_events_qemu and test_migration.
"""

from __future__ import annotations

import queue
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree
from pyvirt_qemu import driver as qemu_driver

import pyvirt
from pyvirt import DomainState

KINDS = ("watchdog", "io-error", "io-error-reason", "pm-suspend", "pm-suspend-disk", "pm-wakeup", "rtc-change",
         "balloon-change", "memory-failure", "migration-iteration", "tray-change")  # fmt: skip


def _state_and_obj(name: str) -> tuple[Any, Any]:
    for state in list(qemu_driver._states.values()):
        obj = state.by_name.get(name)
        if obj is not None:
            return state, obj
    raise AssertionError(f"no QEMU state holds {name}")


def _injector(obj: Any) -> Callable[[str, dict[str, Any]], None]:
    """``qemu_says(event, data)``: QEMU's event handed to the driver as QEMU's own arrive, then handled.

    QEMU's events reach the driver through the monitor's queue, on its dispatching thread (the driver
    ignores events from any other thread: they would be a replaced QEMU's); the test's go the same way.
    """
    monitor = obj.process.monitor
    handled: queue.Queue[str] = queue.Queue()
    deliver = monitor._on_event

    def traced(event: str, data: dict[str, Any]) -> None:
        try:
            deliver(event, data)
        finally:
            handled.put(event)

    monitor._on_event = traced

    def qemu_says(event: str, data: dict[str, Any]) -> None:
        # (the monitor queues the event's name, its data and QEMU's whole message, which carries the timestamp)
        now = time.time()
        message = {"event": event, "data": data, "timestamp": {"seconds": int(now), "microseconds": 0}}
        monitor._queue.put((event, data, message))
        while handled.get(timeout=10) != event:
            pass

    return qemu_says


def test_qmp_guest_events_raise_libvirts_events_and_states(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    image = tmp_path / "vda.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "8M"], check=True)
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>qmpev</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><clock offset='variable' adjustment='100' basis='utc'/>
<devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    try:
        got: dict[str, list[Any]] = {kind: [] for kind in KINDS}
        for kind in KINDS:
            conn.register_event(kind, got[kind].append, dom.uuid)
        lifecycle: list[tuple[int, int]] = []
        conn.register_domain_event(lambda ev: lifecycle.append((ev.event, ev.detail)), dom)
        obj = _state_and_obj("qmpev")[1]

        qemu_says = _injector(obj)

        # a watchdog set to pause: libvirt's watchdog event, then the guest paused for it
        qemu_says("WATCHDOG", {"action": "pause"})
        assert [ev.action for ev in got["watchdog"]] == [1]
        assert dom.state() == (DomainState.PAUSED, 6) and lifecycle == [(3, 3)]  # paused (watchdog)
        dom.resume()
        qemu_says("WATCHDOG", {"action": "inject-nmi"})  # any other action leaves the state alone
        assert [ev.action for ev in got["watchdog"]] == [1, 6] and dom.state()[0] == DomainState.RUNNING
        # an I/O error QEMU stops the guest for (its werror=enospc), naming the disk by its format node
        node = next(b["inserted"]["node-name"] for b in guest_monitor(dom).execute("query-block") if b.get("inserted"))
        lifecycle.clear()
        qemu_says("BLOCK_IO_ERROR", {"device": "", "node-name": node, "operation": "write", "action": "stop",
                                     "nospace": True, "reason": "No space left on device"})  # fmt: skip
        assert [(ev.src_path, ev.dev_alias, ev.action) for ev in got["io-error"]] == [(str(image), "virtio-disk0", 1)]
        assert [(ev.dev_alias, ev.action, ev.reason) for ev in got["io-error-reason"]] == [
            ("virtio-disk0", 1, "enospc")
        ]
        assert dom.state() == (DomainState.PAUSED, 5) and lifecycle == [(3, 2)]  # paused (I/O error)
        dom.resume()
        qemu_says("BLOCK_IO_ERROR", {"device": "", "node-name": "nosuch", "operation": "read", "action": "report",
                                     "nospace": False, "reason": "Input/output error"})  # fmt: skip
        assert got["io-error"][-1][1:] == ("", "", 2) and dom.state()[0] == DomainState.RUNNING
        # the guest suspends itself to memory, is woken up, suspends to disk
        lifecycle.clear()
        qemu_says("SUSPEND", {})
        assert len(got["pm-suspend"]) == 1 and dom.state() == (DomainState.PMSUSPENDED, 0)
        qemu_says("WAKEUP", {})
        assert len(got["pm-wakeup"]) == 1 and dom.state() == (DomainState.RUNNING, 8)  # running (event wakeup)
        qemu_says("SUSPEND_DISK", {})
        assert len(got["pm-suspend-disk"]) == 1 and lifecycle == [(7, 0), (2, 4), (7, 1)]
        qemu_says("WAKEUP", {})  # (QEMU's own wake-up from S4 is a new boot; this one only returns the state)
        # the guest set its clock an hour ahead (twice); its balloon reached 48 MiB; memory failed; a migration pass
        # (the clock is 'variable': QEMU counts from the start date, libvirt adds the adjustment the guest
        # started with, and the live XML keeps the new one)
        qemu_says("RTC_CHANGE", {"offset": 3600, "qom-path": "/machine/unattached/device[6]"})
        assert "adjustment='3700'" in dom.xml_desc().replace('"', "'")
        qemu_says("RTC_CHANGE", {"offset": 3610, "qom-path": "/machine/unattached/device[6]"})
        qemu_says("BALLOON_CHANGE", {"actual": 48 << 20})
        qemu_says("MEMORY_FAILURE", {"recipient": "guest", "action": "inject",
                                     "flags": {"action-required": True, "recursive": False}})  # fmt: skip
        qemu_says("MIGRATION_PASS", {"pass": 2})
        qemu_says("DEVICE_TRAY_MOVED", {"device": "", "id": "nosuch", "tray-open": True})  # no such disk: nothing
        assert [ev.offset for ev in got["rtc-change"]] == [3700, 3710]
        assert [ev.actual for ev in got["balloon-change"]] == [48 << 10]  # KiB
        assert etree.fromstring(dom.xml_desc().encode()).findtext("currentMemory") == str(48 << 10)  # as libvirt
        assert [ev[1:] for ev in got["memory-failure"]] == [(1, 1, 1)]
        assert [ev.iteration for ev in got["migration-iteration"]] == [2] and got["tray-change"] == []
        assert {ev.domain.name for evs in got.values() for ev in evs} == {"qmpev"}
    finally:
        dom.destroy()


def test_memory_device_events(conn: pyvirt.Connection, virt_type: str) -> None:
    """A virtio-mem device the guest plugged 6 MiB of (its size in the live XML and the balloon follow), a DIMM
    the guest's ACPI refused to eject, a device the guest refused to unplug: libvirt's events for each."""
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>memev</name>
<maxMemory slots='4' unit='MiB'>1024</maxMemory><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu><devices>
<memory model='virtio-mem'><target><size unit='MiB'>32</size><node>0</node><block unit='MiB'>2</block>
  <requested unit='MiB'>8</requested></target></memory></devices></domain>""")
    try:
        sizes: list[tuple[str, int]] = []
        refused: list[str] = []
        conn.register_event("memory-device-size-change", lambda ev: sizes.append((ev.alias, ev.size)), dom.uuid)
        conn.register_event("device-removal-failed", lambda ev: refused.append(ev.alias), dom.uuid)
        before = int(etree.fromstring(dom.xml_desc().encode()).findtext("currentMemory") or 0)
        qemu_says = _injector(_state_and_obj("memev")[1])
        qemu_says("MEMORY_DEVICE_SIZE_CHANGE", {"id": "virtiomem0", "size": (6 << 20) + 1, "qom-path": "/x"})
        qemu_says("MEMORY_DEVICE_SIZE_CHANGE", {"id": "nosuch", "size": 4 << 20, "qom-path": "/y"})
        assert sizes == [("virtiomem0", (6 << 10) + 1)]  # KiB, rounded up
        live = etree.fromstring(dom.xml_desc().encode())
        assert live.xpath("string(devices/memory/target/current)") == str((6 << 10) + 1)
        assert int(live.findtext("currentMemory") or 0) == before + (6 << 10) + 1
        qemu_says("DEVICE_UNPLUG_GUEST_ERROR", {"device": "virtiomem0", "path": "/machine/peripheral/virtiomem0"})
        qemu_says("DEVICE_UNPLUG_GUEST_ERROR", {"path": "/machine/peripheral-anon/device[3]"})  # no id: nothing
        ost = {"device": "dimm0", "slot": "0", "slot-type": "DIMM", "source": 0x003, "status": 0x01}
        qemu_says("ACPI_DEVICE_OST", {"info": ost})
        qemu_says("ACPI_DEVICE_OST", {"info": {**ost, "status": 0}})  # ejected fine: nothing
        assert refused == ["virtiomem0", "dimm0"]
    finally:
        dom.destroy()
