"""The pieces pyvirtd's state hooks are made of, with real files, threads and driver objects.

What an operator relies on: autostart happens once per host boot however
many processes open the driver at once; a daemon's shutdown waits for the
start or save in flight, and for the pool or network change holding its
store's lock, but not forever; a third-party driver whose state hook is
misspelled is refused when it loads, naming the hook.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pyvirt.errors import Error, ErrorDomain
from pyvirt.events import EventSink
from pyvirt.local_driver.domain_jobs import AsyncJob, DomainJobs, Job
from pyvirt.local_driver.domain_table import DomainObj, DomainTable
from pyvirt.local_driver.paths import embed_paths
from pyvirt.local_driver.state_driver import (
    HeldState,
    should_autostart,
    state_uri,
    wait_for_jobs,
    wait_unlocked,
)
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.plugin.registry import bind_state_driver
from pyvirt.uri import URI


def test_autostart_once_per_boot_even_with_many_openers(tmp_path: Path) -> None:
    run = tmp_path / "run" / "qemu"  # not there yet: a fresh boot's /run
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def opener() -> None:
        barrier.wait()
        results.append(should_autostart(str(run)))

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]  # exactly one of them autostarts
    assert (run / "autostarted").exists() and not should_autostart(str(run))
    (run / "autostarted").unlink()  # a reboot empties /run
    assert should_autostart(str(run))


def test_state_uri_names_the_instance_paths() -> None:
    assert str(state_uri("qemu", True, "/srv/r").embed_root()) == "/srv/r"
    assert state_uri("qemu", True, None).path == "/system"
    assert state_uri("storage", False, None).path == "/session"


@dataclass
class JobObj(DomainObj):
    job: DomainJobs = field(default_factory=DomainJobs)


def _table(tmp_path: Path, obj_type: type[Any]) -> DomainTable[Any]:
    table: DomainTable[Any] = DomainTable(embed_paths(str(tmp_path), "qemu"), ErrorDomain.QEMU, obj_type)
    from pyvirt.conf.domain import parse_domain

    dom = parse_domain("<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type></os></domain>")
    table.add(table.new_obj(dom, persistent=True))
    return table


def _later(delay: float, action: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_shutdown_waits_for_jobs_in_flight_but_not_forever(tmp_path: Path) -> None:
    table = _table(tmp_path, JobObj)
    obj = next(iter(table.domains.values()))
    assert wait_for_jobs(table, 0.1)  # nothing in flight: at once
    obj.job.begin_async(AsyncJob.SAVE)
    t0 = time.monotonic()
    assert not wait_for_jobs(table, 0.3)  # a save that goes on: the daemon gives up waiting
    assert time.monotonic() - t0 >= 0.3
    t = _later(0.3, obj.job.end_async)
    assert wait_for_jobs(table, 10)  # ... or sees it end
    t.join()
    obj.job.begin(Job.MODIFY)
    t = _later(0.2, obj.job.end)
    assert wait_for_jobs(table, 10) and obj.job.active == Job.NONE
    t.join()


def test_shutdown_waits_for_the_data_lock_of_domains_without_jobs(tmp_path: Path) -> None:
    table = _table(tmp_path, DomainObj)
    obj = next(iter(table.domains.values()))
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with obj.lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    held.wait(5)
    assert not wait_for_jobs(table, 0.3)
    release.set()
    t.join()
    assert wait_for_jobs(table, 1)


def test_shutdown_waits_for_an_object_store_change(tmp_path: Path) -> None:
    lock = tmp_path / "driver.lock"
    assert wait_unlocked(str(lock), 0.1)  # never locked
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a pool being started, in this process (another open file description)
    try:
        assert not wait_unlocked(str(lock), 0.3)
        t = _later(0.2, lambda: fcntl.flock(fd, fcntl.LOCK_UN))
        assert wait_unlocked(str(lock), 10)
        t.join()
    finally:
        os.close(fd)


class _Conn:
    def __init__(self) -> None:
        self.closed = 0

    def connect_close(self) -> None:
        self.closed += 1


class _Driver:
    pyvirt_contract = CONTRACT_VERSION

    def __init__(self) -> None:
        self.opened: list[str] = []

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        self.opened.append(str(uri.embed_root()) if uri.path == "/embed" else uri.path)
        return _Conn()


def _accepting(held: HeldState) -> bool:
    return held.accepting


def test_held_state_holds_one_connection_until_cleanup() -> None:
    driver, held = _Driver(), HeldState("fake")
    conn = held.open(driver, True, "/srv/root")
    assert driver.opened == ["/srv/root"] and _accepting(held)
    with pytest.raises(Error, match="already initialized"):
        held.open(driver, True, None)
    held.prepare()
    assert not _accepting(held)
    held.close()
    held.close()  # a second cleanup is harmless
    assert conn.closed == 1 and held.conn is None


class _Misspelled(_Driver):
    @hookimpl
    def state_initialize(self, privileged: bool, rooot: str | None) -> bool:
        return True


def test_a_misspelled_state_hook_is_refused_when_the_driver_loads() -> None:
    with pytest.raises(Error) as err:
        bind_state_driver(_Misspelled(), "fake")
    assert "fake" in err.value.message and "state_initialize" in err.value.message and "rooot" in err.value.message


class _Stateful(_Driver):
    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        return root is not None

    @hookimpl
    def state_shutdown_wait(self, timeout: float) -> bool:
        return timeout > 1


def test_state_hooks_are_called_through_pluggy() -> None:
    pm = bind_state_driver(_Stateful(), "fake")
    assert pm.hook.state_initialize(privileged=True, root="/r") is True
    assert pm.hook.state_initialize(privileged=True, root=None) is False  # skipped, not declined
    assert pm.hook.state_shutdown_wait(timeout=30.0) is True
    assert pm.hook.state_reload() is None  # a driver may leave hooks out
