"""pyvirtd killed in the middle of a save or a dump, as libvirt 9.0's qemuProcessRecoverJob recovers it.

A user saves (or dumps) a guest into a slow reader (a FIFO that takes one
block, then nothing) and the daemon is killed with SIGKILL meanwhile: the
guest sits paused, QEMU blocked on the FIFO. When the daemon comes back on
the same root, the guest runs again ("running (save canceled)"),
``domjobinfo`` shows no job, QEMU's migration into the FIFO ends once the
reader drains it, and a new save works and restores. A managed save cut
short that way is never taken for a finished one: the next start removes
it and boots afresh, as libvirt's start does with an incomplete image.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.migration import JobType

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stalled_fifo import StalledFifo

GUEST = """<domain type='{t}'><name>{name}</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""


def _wait_state(dom: pyvirt.Domain, want: tuple[int, int], timeout: float = 10) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while (state := dom.state()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


@pytest.mark.parametrize("job", ["save", "dump"])
def test_pyvirtd_killed_during_a_save_or_dump_leaves_the_guest_running(
    qemu_root: Path, tmp_path: Path, virt_type: str, job: str
) -> None:
    stalled = StalledFifo(tmp_path / "fifo")
    fifo, first, go, eof, reader = stalled.path, stalled.first, stalled.go, stalled.eof, stalled.reader
    daemon = PrivateDaemon(qemu_root / "d").start()
    try:
        uri = daemon.uri("qemu:///system")
        with pyvirt.open(uri) as conn:
            conn.define_domain(GUEST.format(t=virt_type, name="cut")).create()
        reader.start()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with pyvirt.open(uri) as c:
                    dom = c.lookup_domain_by_name("cut")
                    dom.save(str(fifo)) if job == "save" else dom.core_dump(str(fifo))
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        assert first.wait(20), "QEMU wrote nothing"
        paused_for = PausedReason.SAVE if job == "save" else PausedReason.DUMP
        with pyvirt.open(uri) as conn:
            assert _wait_state(conn.lookup_domain_by_name("cut"), (DomainState.PAUSED, paused_for)) == (
                DomainState.PAUSED,
                paused_for,
            )
        daemon.kill()
        writer.join(30)
        assert len(errors) == 1 and isinstance(errors[0], pyvirt.Error), errors  # the client lost its daemon

        daemon = PrivateDaemon(qemu_root / "d").start()
        with pyvirt.open(uri) as conn:
            dom = conn.lookup_domain_by_name("cut")
            assert dom.state() == (DomainState.RUNNING, RunningReason.SAVE_CANCELED)
            assert dom.job_stats()[0] == JobType.NONE
            go.set()  # QEMU's blocked write goes on, and it sees its migration cancelled
            assert eof.wait(30), "QEMU kept the FIFO open"
            time.sleep(0.5)  # (QEMU marks the migration cancelled right after it lets go of the file)
            image = tmp_path / "after.save"
            dom.save(str(image))
            assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
            conn.restore_domain(str(image))
            assert dom.state() == (DomainState.RUNNING, RunningReason.RESTORED)
            dom.destroy()
        assert not daemon.tracebacks(), daemon.tracebacks()
    finally:
        go.set()
        daemon.kill()
        reader.join(30)


def test_a_managed_save_cut_short_is_dropped_by_the_next_start(conn: pyvirt.Connection, virt_type: str) -> None:
    from pyvirt_qemu import driver as qemu_driver

    dom = conn.define_domain(GUEST.format(t=virt_type, name="half"))
    dom.create()
    dom.managed_save()
    (state,) = [s for s in qemu_driver._states.values() if "half" in s.by_name]
    image = Path(state.paths.managed_save("half"))
    raw = bytearray(image.read_bytes())
    raw[:16] = b"LibvirtQemudPart"  # what a save the daemon's death cut short leaves
    image.write_bytes(raw)
    dom.create()
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)  # afresh, not from half an image
    assert not image.exists() and not dom.has_managed_save()


def test_recovery_closes_the_file_qemu_was_handed_but_never_took(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """The daemon died between handing QEMU the save file's descriptor (``getfd``) and ``migrate``: QEMU holds
    it under its name, and would hold the file open for its life. The next daemon's recovery closes it, and
    resumes the guest the save had paused."""
    from pyvirt_qemu import driver as qemu_driver
    from pyvirt_qemu.file_job_recovery import record_file_job, recover

    dom = conn.define_domain(GUEST.format(t=virt_type, name="handed"))
    dom.create()
    (state,) = [s for s in qemu_driver._states.values() if "handed" in s.by_name]
    obj = state.by_name["handed"]
    monitor = guest_monitor(dom)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        monitor.pass_fd(write_end, "pyvirt-save")
        os.close(write_end)
        write_end = -1
        dom.suspend()  # what the dead daemon's save had done, and recorded: "paused (saving)", job "save"
        with obj.lock:
            obj.reason = PausedReason.SAVE
        record_file_job(state, obj, AsyncJob.SAVE)
        recover(state)
        assert select.select([read_end], [], [], 10)[0] == [read_end] and os.read(read_end, 1) == b""  # closed
        assert dom.state() == (DomainState.RUNNING, RunningReason.SAVE_CANCELED)
        assert "async" not in Path(state.paths.status_xml("handed")).read_text()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
