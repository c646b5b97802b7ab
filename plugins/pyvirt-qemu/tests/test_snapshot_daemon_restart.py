"""pyvirtd killed while an external snapshot writes the guest's memory, as libvirt 9.0's qemuProcessRecoverJob
recovers it (VIR_ASYNC_JOB_SNAPSHOT goes the way of a save).

A user takes a full-system snapshot whose memory file is a slow reader (a
FIFO that takes one block, then nothing) and the daemon is killed meanwhile:
the guest sits "paused (snapshot)", QEMU blocked on the FIFO. When the daemon
comes back on the same root the guest runs again ("running (save
canceled)"), no job is left, no half snapshot is listed, QEMU lets go of the
FIFO once its reader drains it, and a new snapshot with its memory works.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.migration import JobType

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stalled_fifo import StalledFifo

GUEST = """<domain type='{t}'><name>snap</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""
SNAPSHOT = "<domainsnapshot><name>{name}</name><memory snapshot='external' file='{file}'/></domainsnapshot>"


def _wait_state(dom: pyvirt.Domain, want: tuple[int, int], timeout: float = 10) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while (state := dom.state()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


def test_pyvirtd_killed_during_a_memory_snapshot_leaves_the_guest_running(
    qemu_root: Path, tmp_path: Path, virt_type: str
) -> None:
    stalled = StalledFifo(tmp_path / "memory.fifo")
    fifo, first, go, eof, reader = stalled.path, stalled.first, stalled.go, stalled.eof, stalled.reader
    daemon = PrivateDaemon(qemu_root / "d").start()
    try:
        uri = daemon.uri("qemu:///system")
        with pyvirt.open(uri) as conn:
            conn.define_domain(GUEST.format(t=virt_type)).create()
        reader.start()
        errors: list[BaseException] = []

        def snapshot() -> None:
            try:
                with pyvirt.open(uri) as c:
                    c.lookup_domain_by_name("snap").snapshot_create(SNAPSHOT.format(name="cut", file=fifo))
            except BaseException as exc:
                errors.append(exc)

        writer = threading.Thread(target=snapshot, daemon=True)
        writer.start()
        assert first.wait(20), "QEMU wrote nothing"
        with pyvirt.open(uri) as conn:
            want = (DomainState.PAUSED, PausedReason.SNAPSHOT)
            assert _wait_state(conn.lookup_domain_by_name("snap"), want) == want
        daemon.kill()
        writer.join(30)
        assert len(errors) == 1 and isinstance(errors[0], pyvirt.Error), errors  # the client lost its daemon

        daemon = PrivateDaemon(qemu_root / "d").start()
        with pyvirt.open(uri) as conn:
            dom = conn.lookup_domain_by_name("snap")
            assert dom.state() == (DomainState.RUNNING, RunningReason.SAVE_CANCELED)
            assert dom.job_stats()[0] == JobType.NONE
            assert [s.name for s in dom.list_snapshots()] == []
            go.set()  # QEMU's blocked write goes on, and it sees its migration cancelled
            assert eof.wait(30), "QEMU kept the FIFO open"
            time.sleep(0.5)  # (QEMU marks the migration cancelled right after it lets go of the file)
            dom.snapshot_create(SNAPSHOT.format(name="after", file=tmp_path / "after.mem"))
            assert [s.name for s in dom.list_snapshots()] == ["after"]
            assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
            dom.destroy()
        assert not daemon.tracebacks(), daemon.tracebacks()
    finally:
        go.set()
        daemon.kill()
        reader.join(30)
