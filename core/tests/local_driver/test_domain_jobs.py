"""libvirt's per-domain job rules, checked on the job object alone with real threads.

What a user of a daemon sees: a second change to a guest waits for the first
and then runs; one that waits too long fails with libvirt's "cannot acquire
state change lock (held by monitor=API)"; queries and destroy get through a
long save; an abort reaches the save and the save fails as "canceled by
client"; nothing waits after a job ends or the domain is gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.local_driver.domain_jobs import (
    JOB_WAIT_TIME,
    AsyncJob,
    DomainJobs,
    Job,
    calling_api,
    current_api,
    try_lock_file,
    unlock_file,
)


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``fn`` in a thread; the list gets its result or its exception."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # the test inspects it
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_libvirt_waits_thirty_seconds() -> None:
    assert JOB_WAIT_TIME == 30.0 and DomainJobs().wait_time == 30.0


def test_a_second_modify_job_waits_for_the_first_then_runs() -> None:
    jobs = DomainJobs()
    jobs.begin(Job.MODIFY)
    t, out = in_thread(lambda: jobs.begin(Job.MODIFY))
    time.sleep(0.2)
    assert t.is_alive() and out == []  # waiting, not failed
    jobs.end()
    t.join(5)
    assert out == [True] and jobs.active == Job.MODIFY
    jobs.end()
    assert jobs.active == Job.NONE


def test_a_job_that_waits_too_long_fails_with_libvirts_error_naming_the_holder() -> None:
    jobs = DomainJobs(wait_time=0.3)
    with calling_api("remoteDispatchDomainSuspend"):
        jobs.begin(Job.SUSPEND)
    assert current_api() is None
    began = time.monotonic()
    with pytest.raises(Error) as err:
        jobs.begin(Job.MODIFY)
    assert 0.3 <= time.monotonic() - began < 2
    assert err.value.code == ErrorCode.OPERATION_TIMEOUT and err.value.domain == ErrorDomain.NONE
    assert err.value.message == (
        "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSuspend)"
    )
    jobs.end()
    # a holder nobody named (an in-process caller): libvirt's bare wording
    jobs.begin(Job.MODIFY)
    with pytest.raises(Error) as err:
        jobs.begin(Job.QUERY)
    assert err.value.message == "Timed out during operation: cannot acquire state change lock"


def test_nowait_returns_at_once() -> None:
    jobs = DomainJobs()
    jobs.begin(Job.MODIFY)
    began = time.monotonic()
    assert jobs.begin(Job.QUERY, nowait=True) is False
    assert time.monotonic() - began < 0.1
    jobs.end()
    assert jobs.begin(Job.QUERY, nowait=True) is True


def test_queries_destroy_and_abort_run_beside_an_async_job_but_a_modify_job_waits_for_it() -> None:
    jobs = DomainJobs(wait_time=0.3)
    with calling_api("remoteDispatchDomainSave"):
        jobs.begin_async(AsyncJob.SAVE)
    for job in (Job.QUERY, Job.DESTROY):
        began = time.monotonic()
        with jobs.holding(job):
            assert time.monotonic() - began < 0.1
    with pytest.raises(Error) as err:
        jobs.begin(Job.MODIFY)
    # the async job is in the way: libvirt names its owner
    assert "held by monitor=remoteDispatchDomainSave" in err.value.message
    # a second async job waits for the first too
    with pytest.raises(Error):
        jobs.begin_async(AsyncJob.SNAPSHOT)
    jobs.end_async()
    with jobs.holding(Job.MODIFY):
        pass


def test_the_start_job_lets_only_destroy_through() -> None:
    jobs = DomainJobs(wait_time=0.2)
    jobs.begin_async(AsyncJob.START, mask=frozenset())
    with pytest.raises(Error):
        jobs.begin(Job.QUERY)
    with jobs.holding(Job.DESTROY):  # destroy can never be masked out
        pass
    with pytest.raises(Error) as err:
        jobs.abort()
    assert err.value.code == ErrorCode.OPERATION_TIMEOUT  # as in libvirt: not even the ABORT job gets beside a start
    jobs.end_async()


def test_a_sync_job_beside_an_async_one_still_excludes_another_sync_job() -> None:
    jobs = DomainJobs(wait_time=0.2)
    jobs.begin_async(AsyncJob.SAVE)
    jobs.begin(Job.QUERY)
    with pytest.raises(Error):
        jobs.begin(Job.DESTROY)  # allowed beside the save, but the sync slot is taken
    jobs.end()
    jobs.end_async()


def test_a_waiter_wakes_when_the_async_job_ends_and_checks_the_sync_slot_again() -> None:
    jobs = DomainJobs(wait_time=5)
    jobs.begin_async(AsyncJob.SAVE)
    t, out = in_thread(lambda: jobs.begin(Job.MODIFY))
    time.sleep(0.1)
    jobs.begin(Job.QUERY)  # beside the save, while the modify job waits
    jobs.end_async()
    time.sleep(0.1)
    assert out == []  # the async job is gone, but the query holds the sync slot
    jobs.end()
    t.join(5)
    assert out == [True]
    jobs.end()


def test_abort_reaches_the_async_job_through_its_action() -> None:
    jobs = DomainJobs(error_domain=ErrorDomain.QEMU)
    with pytest.raises(Error) as err:
        jobs.abort()
    # libvirt raises it in qemuDomainAbortJobFlags: the QEMU driver's error domain, as its other refusals
    assert (err.value.code, err.value.domain, err.value.message) == (
        ErrorCode.OPERATION_INVALID,
        ErrorDomain.QEMU,
        "Requested operation is not valid: no job is active on the domain",
    )
    jobs.begin_async(AsyncJob.START)
    with pytest.raises(Error) as err:
        jobs.abort()
    assert (err.value.domain, err.value.message) == (
        ErrorDomain.QEMU,
        "Requested operation is not valid: cannot abort VM start; use virDomainDestroy instead",
    )
    jobs.end_async()
    cancelled = threading.Event()
    jobs.begin_async(AsyncJob.SAVE)

    def save() -> None:  # the owner: registers how to cancel its work, waits for the work, reports the abort
        jobs.on_abort(cancelled.set)
        try:
            if cancelled.wait(5) and jobs.abort_requested:
                raise jobs.aborted_error()
        finally:
            jobs.on_abort(None)
            jobs.end_async()

    t, out = in_thread(save)
    time.sleep(0.1)
    jobs.abort()
    t.join(5)
    (exc,) = out
    assert isinstance(exc, Error) and exc.code == ErrorCode.OPERATION_ABORTED and exc.domain == ErrorDomain.QEMU
    assert exc.message == "operation aborted: job 'domain save' canceled by client"
    assert jobs.async_job == AsyncJob.NONE and jobs.active == Job.NONE


def test_abort_is_refused_for_a_start_and_for_a_job_not_at_an_abortable_phase() -> None:
    jobs = DomainJobs(wait_time=0.2)
    jobs.begin_async(AsyncJob.START, mask=frozenset({Job.ABORT}))
    with pytest.raises(Error) as err:
        jobs.abort()
    assert err.value.message.endswith("cannot abort VM start; use virDomainDestroy instead")
    jobs.end_async()
    jobs.begin_async(AsyncJob.SNAPSHOT)
    with pytest.raises(Error) as err:
        jobs.abort()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "cannot abort snapshot job" in err.value.message
    assert jobs.active == Job.NONE  # the failed abort ended its own job
    jobs.end_async()


def test_waiters_for_a_domain_that_goes_away_fail_with_no_domain() -> None:
    jobs = DomainJobs()
    jobs.begin(Job.MODIFY)
    t, out = in_thread(lambda: jobs.begin(Job.MODIFY))
    time.sleep(0.1)
    jobs.mark_removed("0a8e6a3c-5f0e-4a4b-9d1e-0e5d1f7a2b11", "gone")
    jobs.end()
    t.join(5)
    (exc,) = out
    assert isinstance(exc, Error) and exc.code == ErrorCode.NO_DOMAIN
    assert exc.message == "Domain not found: no domain with matching uuid '0a8e6a3c-5f0e-4a4b-9d1e-0e5d1f7a2b11' (gone)"


def test_many_threads_never_hold_a_modify_job_together() -> None:
    jobs = DomainJobs()
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(50):
            with jobs.holding(Job.MODIFY):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most == 1 and jobs.active == Job.NONE


def test_the_file_lock_is_part_of_the_async_job_and_names_its_holder(tmp_path: Path) -> None:
    """Another process on the same root (here: a forked child) waits for the file lock, then fails with the
    holder's API name; the file is gone once the job ends."""
    lock = str(tmp_path / "guest.lock")
    jobs = DomainJobs(wait_time=5)
    with calling_api("remoteDispatchDomainCreate"):
        jobs.begin_async(AsyncJob.START, mask=frozenset(), lock_file=lock)
    assert jobs.holds_lock_file() and Path(lock).read_text() == "remoteDispatchDomainCreate"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other process: its own job object, the same file
        os.close(r)
        try:
            other = DomainJobs(wait_time=0.3)
            other.begin_async(AsyncJob.START, mask=frozenset(), lock_file=lock)
            os.write(w, b"got it")
        except Error as exc:
            os.write(w, f"{exc.code}:{exc.message}".encode())
        os._exit(0)
    os.close(w)
    answer = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert answer == (
        f"{ErrorCode.OPERATION_TIMEOUT}:Timed out during operation: "
        "cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)"
    )
    jobs.end_async()
    assert not os.path.exists(lock) and not jobs.holds_lock_file()
    fd = try_lock_file(lock)
    assert fd is not None
    unlock_file(lock, fd)


def test_a_job_that_cannot_get_the_file_lock_leaves_no_job_behind(tmp_path: Path) -> None:
    lock = str(tmp_path / "guest.lock")
    fd = try_lock_file(lock)  # held "elsewhere" (flock conflicts between two descriptors)
    assert fd is not None
    jobs = DomainJobs(wait_time=0.2)
    with pytest.raises(Error) as err:
        jobs.begin_async(AsyncJob.START, mask=frozenset(), lock_file=lock)
    assert err.value.code == ErrorCode.OPERATION_TIMEOUT
    assert jobs.async_job == AsyncJob.NONE and not jobs.holds_lock_file()
    unlock_file(lock, fd)
    with jobs.holding_async(AsyncJob.START, mask=frozenset(), lock_file=lock):
        assert jobs.holds_lock_file()


def test_pyvirtd_names_calls_as_libvirtds_generated_dispatchers() -> None:
    """What a waiting client reads in "held by monitor=...": libvirtd's remoteDispatch<ProcName>."""
    from pyvirt.daemon.remote_program import dispatch_name

    assert dispatch_name("REMOTE_PROC_DOMAIN_CREATE") == "remoteDispatchDomainCreate"
    assert dispatch_name("REMOTE_PROC_DOMAIN_CREATE_XML") == "remoteDispatchDomainCreateXML"
    assert dispatch_name("REMOTE_PROC_DOMAIN_SAVE_FLAGS") == "remoteDispatchDomainSaveFlags"
    assert dispatch_name("REMOTE_PROC_DOMAIN_MANAGED_SAVE") == "remoteDispatchDomainManagedSave"
