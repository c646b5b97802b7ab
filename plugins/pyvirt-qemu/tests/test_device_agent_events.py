"""Device-removed and agent-lifecycle events from the QEMU driver's event handling.

Both need a guest OS to happen for real (a guest that answers the PCI
unplug request; a guest agent that opens its port), which the
firmware-only guests here do not have. So the guest's half is played by
handing the QEMU driver the QMP events QEMU sends then (``DEVICE_DELETED``
with the device's id; ``VSERPORT_CHANGE`` for the agent channel), while
everything else is real: a running QEMU, a live detach that sent
``device_del`` and is waiting, the connection's event callbacks.
"""

from __future__ import annotations

import time

from pyvirt_qemu import driver as qemu_driver

import pyvirt
from pyvirt.events import AgentLifecycleEvent, DeviceRemovedEvent

NIC = "<interface type='ethernet'><mac address='52:54:00:5e:04:07'/><target dev='pvevt0'/><model type='virtio'/></interface>"


def _state_and_obj(name: str) -> tuple[object, object]:
    for state in list(qemu_driver._states.values()):
        for obj in list(state.domains.values()):
            if obj.name == name:
                return state, obj
    raise AssertionError(f"no QEMU state holds {name}")


def test_device_removed_after_a_live_detach_carries_the_alias(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>unplug</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices/></domain>""")
    try:
        got: list[DeviceRemovedEvent] = []
        cid = conn.register_event("device-removed", got.append, dom.uuid)
        dom.attach_device(NIC)
        dom.detach_device(NIC)  # device_del sent; a firmware-only guest never answers, the removal is deferred
        assert "pvevt0" in dom.xml_desc() and got == []
        state, obj = _state_and_obj("unplug")
        state.on_qmp_event(obj, "DEVICE_DELETED", {"device": "net0", "path": "/machine/peripheral/net0"})  # type: ignore[attr-defined]
        assert [(ev.domain.name, ev.alias) for ev in got] == [("unplug", "net0")]
        deadline = time.monotonic() + 10
        while "pvevt0" in dom.xml_desc():  # the deferred removal finishes on a thread of its own
            assert time.monotonic() < deadline, "the deferred removal did not complete on the event"
            time.sleep(0.05)
        conn.deregister_event(cid)
    finally:
        dom.destroy()


def test_agent_lifecycle_follows_the_agent_channel(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>agented</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>""")
    try:
        got: list[AgentLifecycleEvent] = []
        conn.register_event("agent-lifecycle", got.append)
        state, obj = _state_and_obj("agented")
        alias = "channel0"
        assert f"<alias name='{alias}'/>" in dom.xml_desc().replace('"', "'")
        for opened in (True, True, False):  # QEMU repeats a state: one event per change, as libvirt
            state.on_qmp_event(obj, "VSERPORT_CHANGE", {"id": alias, "open": opened})  # type: ignore[attr-defined]
        state.on_qmp_event(obj, "VSERPORT_CHANGE", {"id": "other", "open": True})  # type: ignore[attr-defined]
        assert [(ev.domain.name, ev.state, ev.reason) for ev in got] == [("agented", 1, 2), ("agented", 2, 2)]
    finally:
        dom.destroy()
