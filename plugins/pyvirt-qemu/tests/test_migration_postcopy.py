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
phase". ``migrate --postcopy --postcopy-resume`` then takes the stream up
again between the same two QEMUs, and the guest ends on the destination,
still counting, and gone from the source.

QEMU runs without capabilities, so its userfaultfd needs the host's
``vm.unprivileged_userfaultfd = 1``, which libvirt's package sets at boot
(``postcopy-migration.sysctl``); these tests set it for their duration and
put the old value back.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt.events import DomainEvent, Resumed, Started, Stopped, Suspended


def _load_hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hosts = _load_hosts()
TwoHosts, qemu_pids, wait_for, PYVIRSH = _hosts.TwoHosts, _hosts.qemu_pids, _hosts.wait_for, _hosts.PYVIRSH
counter_guest, ticks, _Events = _hosts.counter_guest, _hosts.ticks, _hosts.DomainEvents
two_hosts, guest_linux = _hosts.two_hosts, _hosts.guest_linux  # the fixtures
unprivileged_userfaultfd = _hosts.unprivileged_userfaultfd  # the fixture every test here uses (pytestmark)
pytestmark = pytest.mark.usefixtures("unprivileged_userfaultfd")
# the counter, plus a writer that keeps rewriting 16 MiB of files in its RAM-backed root, megabytes a second
# under TCG: more than the few MiB/s the tests let QEMU send, so what is dirty never shrinks to nothing
DIRTYING_INIT = _hosts.COUNTER_INIT.replace(
    b"n=0\n",
    b"(while :; do for i in 1 2 3 4 5 6 7 8; do cat /bin/busybox > /dirty$i; done; done) &\nn=0\n",
)


def _start_counter(two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path, *, dirtying: bool = False,
                   devices: str = "") -> Path:  # fmt: skip
    a = two_hosts.a
    console = tmp_path / "console.log"
    init = DIRTYING_INIT if dirtying else _hosts.COUNTER_INIT
    (tmp_path / "counter.xml").write_text(counter_guest(guest_linux, tmp_path, console, init, devices))
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
        return bool(_hosts.migrating(conn.lookup_domain_by_name("counter")))


@pytest.mark.parametrize("driver", ["client", "p2p"])
def test_timeout_postcopy_moves_the_guest_and_it_keeps_counting(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path, driver: str
) -> None:
    """The switch after ``--timeout``, with pyvirsh driving the phases or (``--p2p``) A's daemon.

    The client-driven run also copies the guest's qcow2 disk (``--copy-storage-all``): the disks go first
    over NBD, the memory after them, and the switch to post-copy completes the disk mirrors while the guest
    is paused on A (libvirt 9.0 refuses post-copy only with a non-live, paused or tunnelled migration)."""
    a, b = two_hosts.a, two_hosts.b
    storage: list[str] = []
    devices = ""
    if driver == "client":  # data written on A's disk before the migration must be on B's disk after it
        src_img, dst_img = tmp_path / "a-disk.qcow2", tmp_path / "b-disk.qcow2"
        for img in (src_img, dst_img):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "32M"], check=True, timeout=60)
        written = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xcd 1M 3M", str(src_img)],
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert written.returncode == 0, written.stderr
        devices = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{src_img}'/>"
                   "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    console = _start_counter(two_hosts, guest_linux, tmp_path, devices=devices)
    if driver == "client":
        b_xml = tmp_path / "on-b.xml"
        b_xml.write_text(a.pyvirsh("dumpxml", "--migratable", "counter").stdout.replace(str(src_img), str(dst_img)))
        storage = ["--copy-storage-all", "--xml", str(b_xml)]
    before = ticks(console)[-1]
    on_a, on_b = _Events(a.uri), _Events(b.uri)
    try:
        # 2 MiB/s: the pre-copy takes a minute, so it is still under way when --timeout switches to post-copy
        p2p = ["--p2p"] if driver == "p2p" else []
        run = _migrate(two_hosts, *p2p, *storage, "--timeout", "4", "--timeout-postcopy", "--bandwidth", "2")
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
        assert on_b.has((DomainEvent.STARTED, Started.MIGRATED), (DomainEvent.RESUMED, Resumed.MIGRATED)), on_b.seen
        # "resumed (post-copy)" only if pages were still arriving when B's Finish let the guest run: after the
        # switch the rest goes at full speed, and a Finish that comes late on a loaded machine finds the
        # migration completed (B then resumes it as migrated only, as libvirt's Finish does)
        started = on_b.seen.index((DomainEvent.STARTED, Started.MIGRATED))
        assert started < on_b.seen.index((DomainEvent.RESUMED, Resumed.MIGRATED)), on_b.seen
        if on_b.has((DomainEvent.RESUMED, Resumed.POSTCOPY)):
            assert started < on_b.seen.index((DomainEvent.RESUMED, Resumed.POSTCOPY)), on_b.seen
    finally:
        on_a.conn.close()
        on_b.conn.close()
    # the same guest counts on, on B: one boot, every number once and in order
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 20, 120, "the guest counting on after the migration")
    assert console.read_text(errors="replace").count("PYVIRT-BOOT") == 1, "the guest booted again"
    numbers = [n for n, _ in ticks(console)]
    assert numbers == list(range(len(numbers))), "the counter restarted or skipped"
    if driver == "client":  # B's guest runs on B's own image
        assert str(dst_img) in b.pyvirsh("dumpxml", "counter").stdout
    assert b.pyvirsh("destroy", "counter").returncode == 0
    if driver == "client":  # which holds what A's had
        check = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0xcd 1M 3M", str(dst_img)],
                               capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout


def test_migrate_postcopy_switches_and_a_broken_postcopy_leaves_both_halves_failed(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path
) -> None:
    """The switch by ``migrate-postcopy``, a stream broken after it, then ``--postcopy-resume``."""
    a, b = two_hosts.a, two_hosts.b
    console = _start_counter(two_hosts, guest_linux, tmp_path)
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
    # --postcopy-resume: the same two QEMUs take the stream up again and the migration ends as a whole
    no_postcopy = a.pyvirsh("migrate", "--live", "--postcopy-resume", "counter", b.uri)
    assert no_postcopy.stderr == "error: Option --postcopy is required by option --postcopy-resume\n", (
        no_postcopy.stderr
    )
    [dest_pid] = qemu_pids(b.root)
    resumed = a.pyvirsh("migrate", "--live", "--postcopy", "--postcopy-resume", "--persistent", "--undefinesource",
                        "--listen-address", "127.0.0.1", "counter", b.uri)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr + a.daemon.log() + b.daemon.log()
    assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
    assert qemu_pids(b.root) == [dest_pid]  # the QEMU that waited for its pages, not a new one
    assert qemu_pids(a.root) == [] and a.status_files() == []
    assert a.pyvirsh("list", "--all", "--name").stdout.strip() == ""  # --undefinesource
    again = a.pyvirsh("migrate", "--live", "--postcopy", "--postcopy-resume", "counter", b.uri)
    assert again.stderr == "error: failed to get domain 'counter'\n", again.stderr  # nothing left to resume
    before = ticks(console)[-1]
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 10, 120, "the guest counting on after the resume")
    assert console.read_text(errors="replace").count("PYVIRT-BOOT") == 1, "the guest booted again"
    numbers = [n for n, _ in ticks(console)]
    assert numbers == list(range(len(numbers))), "the counter restarted or skipped"
    assert b.pyvirsh("destroy", "counter").returncode == 0


def test_postcopy_after_precopy_switches_once_the_first_pass_ended(
    two_hosts: TwoHosts, guest_linux: Path, tmp_path: Path
) -> None:
    """virsh's --postcopy-after-precopy: the switch once the first pass over memory ended (iteration 2)."""
    a, b = two_hosts.a, two_hosts.b
    console = _start_counter(two_hosts, guest_linux, tmp_path, dirtying=True)
    # 1 ms of pause allowed for the last pass: at 4 MiB/s QEMU would stop only with at most one page (4 KiB)
    # still dirty, and the writer dirties megabytes between two passes, so the pre-copy cannot converge and
    # the migration can only end through the switch (without it, it converged now and then before the switch)
    assert a.pyvirsh("migrate-setmaxdowntime", "counter", "1").returncode == 0
    assert a.pyvirsh("migrate-getmaxdowntime", "counter").stdout.strip() == "1"
    before = ticks(console)[-1]
    on_a = _Events(a.uri)
    try:
        run = _migrate(two_hosts, "--postcopy-after-precopy", "--bandwidth", "4")
        _out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err + a.daemon.log() + b.daemon.log()
        # it did switch (the event reaches this connection on its own schedule: a loaded machine delays it)
        wait_for(lambda: on_a.has((DomainEvent.SUSPENDED, Suspended.POSTCOPY)), 30, "A's post-copy event")
    finally:
        on_a.conn.close()
    assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 10, 120, "the guest counting on after the migration")
    assert console.read_text(errors="replace").count("PYVIRT-BOOT") == 1, "the guest booted again"
    assert b.pyvirsh("destroy", "counter").returncode == 0
