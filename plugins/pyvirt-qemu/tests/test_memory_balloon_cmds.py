"""setmem, setmaxmem, dominfo's OS type and domblkerror on a real QEMU guest (firmware only), beside libvirt 9.0.

The same virsh line runs through Debian's virsh against a private libvirtd and
through pyvirsh: each answer, refusal and the resulting ``<memory>`` and
``<currentMemory>`` of the running and the persistent definition must print
the same. A second story looks behind the XML: QEMU's balloon got the target
in bytes, and a balloon event moves the live ``<currentMemory>`` and
dominfo's "Used memory".
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.flags import DomainMemoryModFlags

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def guest(virt_type: str, name: str, balloon: str, inside: str = "") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory>
<currentMemory unit='MiB'>60</currentMemory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><memballoon model='{balloon}'>{inside}</memballoon></devices></domain>"""


_XPATH = "dumpxml {name} {inactive} --xpath '/domain/memory|/domain/currentMemory'"
_LINE = "; ".join([
    "define {xml}", "define {nb}", "setmem memq 48M --config", "setmaxmem memq 56M",
    _XPATH.format(name="memq", inactive=""), "setmem memq 60M --config", "setmem memq 20M",
    "domblkerror memq", "start memq", "setmem memq 40M", "setmem memq 40M --live --config",
    "setmem memq 65M --live", "setmaxmem memq 80M", "setmaxmem memq 80M --live", "setmaxmem memq 70M --config",
    "setmem memq 66M --config", "domblkerror memq",
    _XPATH.format(name="memq", inactive=""), _XPATH.format(name="memq", inactive="--inactive"),
    "start memnb", "setmem memnb 32M", "setmem memnb 32M --config", _XPATH.format(name="memnb", inactive="--inactive"),
    "destroy memnb", "destroy memq", _XPATH.format(name="memq", inactive=""), "undefine memq", "undefine memnb",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml, nb = tmp_path / "memq.xml", tmp_path / "memnb.xml"
    xml.write_text(guest(virt_type, "memq", "virtio"))
    nb.write_text(guest(virt_type, "memnb", "none"))
    line = _LINE.format(xml=xml, nb=nb)
    cleanup = "destroy memq; destroy memnb; undefine memq; undefine memnb"
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", cleanup)
    assert "Domain 'memq' started" in theirs[0] and "No errors found" in theirs[0]
    assert "cannot set memory higher than max memory" in theirs[1]
    assert_prints_as(theirs, **ours)


def _obj(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return state, obj
    raise AssertionError(f"{dom.name} is not running")


def test_the_balloon_gets_the_target_and_its_event_moves_used_memory(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(guest(virt_type, "memb", "virtio", "<stats period='5'/>"))
    dom.create()
    try:
        state, obj = _obj(dom)
        assert dom.os_type() == "hvm"
        # at start the balloon got <stats period> and its target; the CPUs had not run, so nothing came back yet
        path = "/machine/peripheral/balloon0"
        assert obj.process.monitor.execute("qom-get", {"path": path, "property": "guest-stats-polling-interval"}) == 5
        assert dom.info().memory_kib == 64 * 1024
        sent: list[dict[str, Any]] = []
        monitor = obj.process.monitor
        real = monitor.execute_message

        def spy(message: dict[str, Any]) -> Any:
            sent.append(message)
            return real(message)

        monitor.execute_message = spy
        try:
            dom.set_memory(32 * 1024, DomainMemoryModFlags.LIVE)
        finally:
            del monitor.execute_message
        assert {"execute": "balloon", "arguments": {"value": 32 * 1024 * 1024}} in sent
        # a firmware-only guest has no balloon driver to give pages back: QEMU's own event stands in for it
        from pyvirt_qemu.qmp_events import on_guest_event

        with obj.lock:  # as the monitor's thread delivers it
            on_guest_event(state, obj, "BALLOON_CHANGE", {"actual": 32 * 1024 * 1024})
        assert dom.info().memory_kib == 32 * 1024
        assert "<currentMemory unit='KiB'>32768</currentMemory>" in dom.xml_desc(0)
        assert dom.disk_errors() == {}
        try:
            dom.set_memory(128 * 1024, DomainMemoryModFlags.MAXIMUM | DomainMemoryModFlags.LIVE)
        except Error as exc:
            assert exc.code == ErrorCode.OPERATION_INVALID
            assert "cannot resize the maximum memory on an active domain" in str(exc)
        else:
            raise AssertionError("setmaxmem --live was accepted")
    finally:
        dom.destroy()
        dom.undefine()
