"""The QEMU driver's async jobs in one process: a save is an abortable job, and its abort really cancels it.

libvirt's ``virDomainAbortJob`` begins an abort job beside the running save
and cancels QEMU's migration; the save then fails with "operation aborted:
job 'domain save' canceled by client", the half-written image is removed
and the guest runs on ("running (save canceled)"). While the save streams,
the guest shows as "paused (saving)".
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pyvirt_qemu import driver as qemu_driver

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.domain_state import PausedReason, RunningReason
from pyvirt.local_driver.domain_jobs import AsyncJob

from .test_jobs_daemon import big_memory_guest


def test_abort_cancels_a_save_and_the_guest_runs_on(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    dom = conn.define_domain(big_memory_guest(virt_type, "abortme", tmp_path / "nvdimm.img"))
    dom.create()
    (state,) = qemu_driver._states.values()  # this process's driver state for the embedded root
    obj = state.by_name["abortme"]
    image = tmp_path / "abortme.save"
    failure: list[BaseException] = []

    def save() -> None:
        try:
            dom.save(str(image))
        except pyvirt.Error as exc:
            failure.append(exc)

    saver = threading.Thread(target=save)
    saver.start()
    deadline = time.monotonic() + 10
    while True:  # until QEMU streams: before that, the job cannot be aborted yet
        assert time.monotonic() < deadline, "the save never became abortable"
        if obj.job.async_job == AsyncJob.SAVE:
            try:
                obj.job.abort()
                break
            except pyvirt.Error as exc:
                assert "cannot abort domain save job at this phase" in exc.message
            assert dom.state() in ((DomainState.RUNNING, RunningReason.BOOTED), (DomainState.PAUSED, PausedReason.SAVE))
        time.sleep(0.01)
    saver.join(30)
    (exc,) = failure
    assert isinstance(exc, pyvirt.Error) and exc.code == ErrorCode.OPERATION_ABORTED
    assert exc.message == "operation aborted: job 'domain save' canceled by client"
    assert not image.exists()
    assert dom.state() == (DomainState.RUNNING, RunningReason.SAVE_CANCELED)
    assert obj.job.async_job == AsyncJob.NONE
    with pytest.raises(pyvirt.Error) as err:
        obj.job.abort()  # nothing left to abort
    assert err.value.message.endswith("no job is active on the domain")
    dom.suspend()  # the guest is fully usable again: its jobs are free
    dom.resume()
    dom.destroy()


def test_commands_racing_a_monitor_close_fail_at_once(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    """Queries run beside jobs without any lock, so one may reach the monitor while the guest's exit handler
    closes it: it must fail at once, never wait out its 30 s for a reply a stopped loop will never deliver."""
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.process import shared_monitor_path

    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>racer</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>""")
    (state,) = qemu_driver._states.values()
    path = shared_monitor_path(state.paths, "racer")  # QEMU's second monitor: free for this test
    slowest = 0.0
    for _round in range(15):
        monitor = Monitor("racer")
        monitor.connect(path, timeout=10)
        stop = threading.Event()
        durations: list[float] = []

        def hammer(
            monitor: Monitor = monitor, stop: threading.Event = stop, durations: list[float] = durations
        ) -> None:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    monitor.execute("query-status", timeout=30)
                except pyvirt.Error:
                    durations.append(time.monotonic() - began)
                    return

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        monitor.close()
        stop.set()
        for t in threads:
            t.join(35)
        slowest = max([slowest, *durations])
    assert slowest < 5, f"a command waited {slowest:.1f} s on a closed monitor"
    dom.destroy()
