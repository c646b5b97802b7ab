"""Post-copy migration between two pyvirtd hosts, with the TCG Linux guest that counts on its console.

``pyvirsh migrate --postcopy`` enables QEMU's ``postcopy-ram`` on both
sides (the destination's needs userfaultfd); the switch comes from
``--timeout N --timeout-postcopy`` or from ``pyvirsh migrate-postcopy``
(virDomainMigrateStartPostCopy) while the migration runs. After the switch the guest runs on the destination while
its memory still arrives; it keeps counting, without a reboot, and the
events are libvirt's: the source's guest is suspended for the migration and
then for post-copy, the destination's resumed in post-copy and then as
migrated.

A migration whose stream breaks after the switch (``domjobabort
--postcopy``, QEMU's ``migrate-pause``) cannot go back: neither host has
the whole guest. libvirt leaves the source's guest "paused (post-copy
failed)" and the destination's "running (post-copy failed)", and the
client reports the destination's "job 'migration in' failed in post-copy
phase". Resuming it (``--postcopy-resume``) is not offered.

QEMU runs without capabilities, so its userfaultfd needs the host's
``vm.unprivileged_userfaultfd = 1``, which libvirt's package sets at boot
(``postcopy-migration.sysctl``); these tests set it for their duration and
put the old value back.
"""

from __future__ import annotations

import importlib.util
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt.events import DomainEvent, Resumed, Started, Stopped, Suspended


def _sibling(name: str) -> ModuleType:
    """A helper module beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location(f"pyvirt_qemu_tests_{name}", Path(__file__).parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hosts = _sibling("migration_hosts")
_migration = _sibling("test_migration")
TwoHosts, qemu_pids, wait_for = _hosts.TwoHosts, _hosts.qemu_pids, _hosts.wait_for
two_hosts = _hosts.two_hosts  # the fixture
guest_linux = _migration.guest_linux  # the fixture: Debian's kernel and busybox, fetched once
counter_guest, ticks, newc = _migration.counter_guest, _migration.ticks, _migration.newc
# the counter, plus a writer that keeps rewriting 16 MiB of files in its RAM-backed root: far more than the
# 1.2 MiB QEMU would send in its last pause (4 MiB/s x 300 ms), so the pre-copy cannot converge, and its first
# pass ending is what switches it to post-copy
DIRTYING_INIT = _migration.COUNTER_INIT.replace(
    b"n=0\n",
    b"(while :; do for i in 1 2 3 4 5 6 7 8; do cat /bin/busybox > /dirty$i; done; done) &\nn=0\n",
)

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
_UFFD = Path("/proc/sys/vm/unprivileged_userfaultfd")


@pytest.fixture(autouse=True)
def unprivileged_userfaultfd() -> Iterator[None]:
    """libvirt's postcopy-migration.sysctl for the test's duration: the destination's QEMU (no capabilities)
    may then use userfaultfd, without which QEMU refuses ``postcopy-ram`` ("Postcopy is not supported")."""
    try:
        old = _UFFD.read_text()
        _UFFD.write_text("1\n")
    except OSError as exc:
        pytest.skip(f"cannot allow unprivileged userfaultfd ({exc}); post-copy needs vm.unprivileged_userfaultfd=1")
    try:
        yield
    finally:
        _UFFD.write_text(old)


class _Events:
    """The lifecycle events of one host's daemon, as (event, detail), in order."""

    def __init__(self, uri: str) -> None:
        self.conn = pyvirt.open(uri)
        self.seen: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self.conn.register_domain_event(self._add)

    def _add(self, ev: object) -> None:
        with self._lock:
            self.seen.append((ev.event, ev.detail))  # type: ignore[attr-defined]

    def has(self, *expected: tuple[int, int]) -> bool:
        """Whether ``expected`` came, in this order (other events may come between)."""
        with self._lock:
            it = iter(self.seen)
            return all(any(got == want for got in it) for want in expected)


def _start_counter(two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path, *, dirtying: bool = False) -> Path:
    a = two_hosts.a
    console = tmp_path / "console.log"
    xml = counter_guest(guest_linux, tmp_path, console)
    if dirtying:  # the same guest, its initrd's init replaced
        exe, folder = stat.S_IFREG | 0o755, stat.S_IFDIR | 0o755
        dirs = [(d, folder, b"") for d in ("bin", "proc", "dev")]
        (tmp_path / "counter.cpio").write_bytes(newc([*dirs, ("bin/busybox", exe, (guest_linux / "busybox").read_bytes()),
                                                      ("init", exe, DIRTYING_INIT)]))  # fmt: skip
    (tmp_path / "counter.xml").write_text(xml)
    assert a.pyvirsh("define", str(tmp_path / "counter.xml")).returncode == 0
    assert a.pyvirsh("start", "counter").returncode == 0
    wait_for(lambda: len(ticks(console)) >= 20, 180, "the guest counting on its console")
    return console


def _migrate(two_hosts: TwoHosts, *options: str) -> subprocess.Popen[str]:
    """``pyvirsh migrate`` from A to B, in the background (the client drives the phases)."""
    argv = [*PYVIRSH, "-c", two_hosts.a.uri, "migrate", "--live", "--postcopy", "--persistent", "--undefinesource",
            "--listen-address", "127.0.0.1", *options, "counter", two_hosts.b.uri]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _migrating(uri: str) -> bool:
    with pyvirt.open(uri) as conn:
        kind, params = conn.lookup_domain_by_name("counter").job_stats()
    return kind == 1 and any(p.field == "data_processed" and int(p.value) > 0 for p in params)


@pytest.mark.parametrize("driver", ["client", "p2p"])
def test_timeout_postcopy_moves_the_guest_and_it_keeps_counting(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path, driver: str
) -> None:
    """The switch after ``--timeout``, with pyvirsh driving the phases or (``--p2p``) A's daemon."""
    a, b = two_hosts.a, two_hosts.b
    console = _start_counter(two_hosts, guest_linux, tmp_path)
    before = ticks(console)[-1]
    on_a, on_b = _Events(a.uri), _Events(b.uri)
    try:
        # 2 MiB/s: the pre-copy takes a minute, so it is still under way when --timeout switches to post-copy
        p2p = ["--p2p"] if driver == "p2p" else []
        run = _migrate(two_hosts, *p2p, "--timeout", "4", "--timeout-postcopy", "--bandwidth", "2")
        _out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err + a.daemon.log() + b.daemon.log()
        assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
        assert a.pyvirsh("list", "--all", "--name").stdout.strip() == ""
        assert qemu_pids(a.root) == [] and a.status_files() == []
        # libvirt's events: A suspended for the migration, then for post-copy, then stopped as migrated;
        # B started as migrated, resumed in post-copy, then resumed as migrated once every page arrived
        wait_for(lambda: on_a.has((DomainEvent.STOPPED, Stopped.MIGRATED)), 30, "A's stopped event")
        assert on_a.has(
            (DomainEvent.SUSPENDED, Suspended.MIGRATED), (DomainEvent.SUSPENDED, Suspended.POSTCOPY),
            (DomainEvent.STOPPED, Stopped.MIGRATED),
        ), on_a.seen  # fmt: skip
        wait_for(lambda: on_b.has((DomainEvent.RESUMED, Resumed.MIGRATED)), 30, "B's resumed event")
        assert on_b.has(
            (DomainEvent.STARTED, Started.MIGRATED), (DomainEvent.RESUMED, Resumed.POSTCOPY),
            (DomainEvent.RESUMED, Resumed.MIGRATED),
        ), on_b.seen  # fmt: skip
    finally:
        on_a.conn.close()
        on_b.conn.close()
    # the same guest counts on, on B: one boot, every number once and in order
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 20, 120, "the guest counting on after the migration")
    assert console.read_text(errors="replace").count("PYVIRT-BOOT") == 1, "the guest booted again"
    numbers = [n for n, _ in ticks(console)]
    assert numbers == list(range(len(numbers))), "the counter restarted or skipped"
    assert b.pyvirsh("destroy", "counter").returncode == 0


def test_migrate_postcopy_switches_and_a_broken_postcopy_leaves_both_halves_failed(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path
) -> None:
    a, b = two_hosts.a, two_hosts.b
    _start_counter(two_hosts, guest_linux, tmp_path)
    # no migration yet: libvirt's refusal
    idle = a.pyvirsh("migrate-postcopy", "counter")
    assert idle.returncode == 1
    assert idle.stderr == (
        "error: Requested operation is not valid: post-copy can only be started while outgoing migration is in "
        "progress\n"
    ), idle.stderr
    offline = a.pyvirsh("migrate", "--postcopy", "counter", b.uri)  # post-copy needs a live migration
    assert offline.stderr == (
        "error: argument unsupported: post-copy migration is not supported with non-live or paused migration\n"
    ), offline.stderr
    # 1 MiB/s before and after the switch: the post-copy phase lasts long enough to be broken
    run = _migrate(two_hosts, "--bandwidth", "1", "--postcopy-bandwidth", "1")
    try:
        wait_for(lambda: _migrating(a.uri), 60, "the migration under way")
        switch = a.pyvirsh("migrate-postcopy", "counter")
        assert switch.returncode == 0, switch.stderr + a.daemon.log()
        wait_for(lambda: a.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "paused (post-copy)", 60,
                 "A's guest paused for post-copy")  # fmt: skip
        wait_for(lambda: b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (post-copy)", 60,
                 "B's guest running in post-copy")  # fmt: skip
        info = a.pyvirsh("domjobinfo", "counter")  # the job goes on: pages still leave A
        assert "Outgoing migration" in info.stdout and "Postcopy requests:" in info.stdout, info.stdout
        broken = a.pyvirsh("domjobabort", "--postcopy", "counter")
        assert broken.returncode == 0, broken.stderr + a.daemon.log()
        _out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 1
    assert err == "error: operation failed: job 'migration in' failed in post-copy phase\n", err + b.daemon.log()
    assert a.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "paused (post-copy failed)"
    assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (post-copy failed)"
    assert len(qemu_pids(a.root)) == 1 and len(qemu_pids(b.root)) == 1  # neither half is thrown away
    assert a.pyvirsh("destroy", "counter").returncode == 0
    assert b.pyvirsh("destroy", "counter").returncode == 0


def test_postcopy_after_precopy_switches_once_the_first_pass_ended(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path
) -> None:
    """virsh's --postcopy-after-precopy: the switch once the first pass over memory ended (iteration 2)."""
    a, b = two_hosts.a, two_hosts.b
    console = _start_counter(two_hosts, guest_linux, tmp_path, dirtying=True)
    before = ticks(console)[-1]
    on_a = _Events(a.uri)
    try:
        run = _migrate(two_hosts, "--postcopy-after-precopy", "--bandwidth", "4")
        _out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err + a.daemon.log() + b.daemon.log()
        assert on_a.has((DomainEvent.SUSPENDED, Suspended.POSTCOPY)), on_a.seen  # it did switch
    finally:
        on_a.conn.close()
    assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 10, 120, "the guest counting on after the migration")
    assert console.read_text(errors="replace").count("PYVIRT-BOOT") == 1, "the guest booted again"
    assert b.pyvirsh("destroy", "counter").returncode == 0
