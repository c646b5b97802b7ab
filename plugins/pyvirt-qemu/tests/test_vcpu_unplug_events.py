"""vCPUs that come or go behind the driver's back, as libvirt 9.0 handles them.

- A vCPU's DEVICE_DELETED is not a device removal: libvirt's
  processDeviceDeletedEvent hands a ``vcpuN`` alias to qemuDomainRemoveVcpuAlias
  and sends no device-removed event. A firmware-only guest never lets a vCPU go
  (QEMU refuses the request while the firmware keeps ACPI's legacy CPU
  hot-plug mode), nor does QEMU 7.2 report the CPU's own DEVICE_DELETED for a
  Linux guest that does: so the QEMU half is played by handing the driver the
  event an unplug of the vCPU plugged by a real ``setvcpus`` ends with, and
  that of a NIC for comparison.
- A restarted daemon reads each vCPU's state from QEMU, not from its status
  file (qemuProcessReconnect's qemuDomainRefreshVcpuInfo): here a vCPU is
  plugged through QEMU's own monitor while pyvirtd is down, and the new pyvirtd
  counts it, and knows it by its alias (its unplug reaches QEMU).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from pyvirt_qemu import driver as qemu_driver

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.events import DeviceRemovedEvent
from pyvirt.flags import DomainModificationImpact

LIVE = DomainModificationImpact.LIVE


def guest(virt_type: str, name: str, features: str = "") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory>
<vcpu current='1'>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>{features}
<devices><memballoon model='none'/></devices></domain>"""


def _state_and_obj(name: str) -> tuple[Any, Any]:
    for state in list(qemu_driver._states.values()):
        for obj in list(state.domains.values()):
            if obj.name == name:
                return state, obj
    raise AssertionError(f"no QEMU state holds {name}")


def test_a_vcpu_deleted_sends_no_device_removed_event(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.create_domain(guest(virt_type, "vcev"))
    try:
        got: list[DeviceRemovedEvent] = []
        cid = conn.register_event("device-removed", got.append, dom.uuid)
        dom.set_vcpus(2, LIVE)
        state, obj = _state_and_obj("vcev")
        state.on_qmp_event(obj, "DEVICE_DELETED", {"device": "vcpu1", "path": "/machine/peripheral/vcpu1"})
        assert got == []
        state.on_qmp_event(obj, "DEVICE_DELETED", {"device": "net0", "path": "/machine/peripheral/net0"})
        assert [ev.alias for ev in got] == ["net0"]
        conn.deregister_event(cid)
    finally:
        dom.destroy()


def _qmp(path: str, *commands: dict[str, Any]) -> list[Any]:
    """QEMU's monitor spoken directly, as nobody else holds it while pyvirtd is down."""
    answers = []
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        stream = s.makefile("rwb")
        json.loads(stream.readline())  # the greeting
        for command in ({"execute": "qmp_capabilities"}, *commands):
            stream.write(json.dumps(command).encode() + b"\n")
            stream.flush()
            while "return" not in (reply := json.loads(stream.readline())):
                assert "error" not in reply, reply
            answers.append(reply["return"])
    return answers[1:]


def test_a_restarted_pyvirtd_reads_the_vcpus_from_qemu(tmp_path: Path, virt_type: str) -> None:
    daemon = PrivateDaemon(tmp_path / "d").start()
    try:
        uri = daemon.uri("qemu:///system")
        with pyvirt.open(uri) as conn:
            dom = conn.create_domain(guest(virt_type, "vcre"))
            try:
                assert dom.vcpus_count(LIVE) == 1
                daemon.kill()
                monitor = str(next((tmp_path / "d").rglob("vcre.monitor")))
                (cpus,) = _qmp(monitor, {"execute": "query-hotpluggable-cpus"})
                free = next(c for c in cpus if "qom-path" not in c)
                _qmp(monitor, {"execute": "device_add", "arguments": {"driver": free["type"], "id": "vcpu1",
                                                                      **free["props"]}})  # fmt: skip
                daemon.start()
            except BaseException:
                dom.destroy()
                raise
        with pyvirt.open(uri) as conn:
            dom = conn.lookup_domain_by_name("vcre")
            try:
                assert dom.vcpus_count(LIVE) == 2 and dom.info().vcpus == 2
                # known as libvirt's vCPU 1: its unplug reaches QEMU, which refuses it for this ACPI-less guest
                with pytest.raises(pyvirt.Error, match="CPU hot unplug not supported without ACPI"):
                    dom.set_vcpu("1", 0, LIVE)
            finally:
                dom.destroy()
    finally:
        daemon.stop()
