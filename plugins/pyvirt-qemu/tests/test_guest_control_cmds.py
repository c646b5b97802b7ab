"""domcontrol and set-lifecycle-action on a real QEMU guest (firmware only), beside libvirt 9.0.

The same virsh line runs through Debian's virsh against a private libvirtd and
through pyvirsh: answers, libvirt's refusals (qemuValidateLifecycleAction) and
the resulting ``<on_*>`` of the running and persistent definitions must print
the same. Then the running guest is shown to follow a live change: a guest
power-off restarts it once ``on_poweroff`` says restart, and a guest reboot
ends it once ``on_reboot`` says destroy (QEMU was told with ``set-action``).
The guest's actions are forced through its I/O ports, as in
test_lifecycle_actions.py. domcontrol says ``occupied`` while a job holds the
domain, timed from the job's start.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyvirt
from pyvirt.domain_state import DomainState
from pyvirt.flags import DomainModificationImpact, DomainXMLFlags
from pyvirt.local_driver.domain_jobs import Job

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way

GUEST = """<domain type='{virt}'><name>lc</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<devices><memballoon model='none'/></devices></domain>"""

_XPATH = "dumpxml lc {inactive} --xpath '/domain/on_poweroff|/domain/on_reboot|/domain/on_crash'"
_LINE = "; ".join([
    "define {xml}", "domcontrol lc", "set-lifecycle-action lc poweroff restart --config",
    "set-lifecycle-action lc reboot preserve", "set-lifecycle-action lc poweroff coredump-destroy",
    "set-lifecycle-action lc crash rename-restart", "set-lifecycle-action lc reboot destroy",
    "set-lifecycle-action lc crash preserve --live", "start lc", "domcontrol lc",
    "set-lifecycle-action lc reboot destroy --live", "set-lifecycle-action lc poweroff destroy",
    "set-lifecycle-action lc reboot destroy --live --config", "set-lifecycle-action lc crash coredump-restart --config",
    "set-lifecycle-action lc crash preserve", _XPATH.format(inactive=""), _XPATH.format(inactive="--inactive"),
    "destroy lc", "domcontrol lc", "undefine lc", "set-lifecycle-action lc crash preserve",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "lc.xml"
    xml.write_text(GUEST.format(virt=virt_type))
    line = _LINE.format(xml=xml)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy lc; undefine lc")
    assert "Domain 'lc' started" in theirs[0] and "<on_crash>preserve</on_crash>" in theirs[0]
    assert_prints_as(theirs, **ours)


def _obj(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj
    raise AssertionError(f"{dom.name} is not running")


def _port_write(dom: pyvirt.Domain, size: int, port: int, value: int) -> None:
    _obj(dom).process.monitor.execute("human-monitor-command", {"command-line": f"o /{size} {port:#x} {value:#x}"})


def _until(cond: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_running_guest_follows_a_live_change(conn: pyvirt.Connection, virt_type: str) -> None:
    events: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: events.append((int(ev.event), int(ev.detail))))
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    dom.create()
    try:
        assert dom.control_info() == (0, 0, 0)
        obj = _obj(dom)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with obj.job.holding(Job.MODIFY):
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(10)
        time.sleep(0.2)
        state, details, ms = dom.control_info()
        release.set()
        holder.join()
        assert (state, details) == (2, 0) and 150 <= ms < 10000  # occupied, since the job began

        dom.set_lifecycle_action(0, 1, DomainModificationImpact.LIVE)  # on_poweroff: restart
        pid = obj.process.pid
        _port_write(dom, 2, 0x604, 0x2000)  # SLP_EN with S5: the guest powers off
        time.sleep(1.5)
        assert dom.is_active() and _obj(dom).process.pid == pid and dom.state()[0] == DomainState.RUNNING
        live = DomainModificationImpact.LIVE
        dom.set_lifecycle_action(0, 0, live)  # on_poweroff back to destroy: restart with a destroying reboot
        dom.set_lifecycle_action(1, 0, live)  # is refused (qemuValidateLifecycleAction); on_reboot: destroy
        _port_write(dom, 1, 0xCF9, 0x06)  # PIIX reset control: the guest reboots
        _until(lambda: not dom.is_active())
        assert "<on_reboot>restart</on_reboot>" in dom.xml_desc(DomainXMLFlags.INACTIVE)
    finally:
        if dom.is_active():
            dom.destroy()
        dom.undefine()
