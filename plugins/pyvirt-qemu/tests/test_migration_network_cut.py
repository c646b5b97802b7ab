"""The network between two hosts cut mid-migration: the migration fails in bounded time, the guest runs on.

Two hosts, each a network namespace with its own pyvirtd (the multi-host
harness, ``core/tests/hosts/hosts_harness.py``); B listens for libvirt's
``qemu+tcp://`` connections. A TCG Linux guest that counts on its serial
console migrates peer to peer from A to B, slowed to 1 MiB/s so that it is
still under way when B's only link goes down. What a user sees then is
libvirt's: A's daemon notices the dead connection to B by keepalive (5 s x
5, libvirt's qemu.conf defaults), cancels QEMU's migration and reports
"Lost connection to destination host"; the guest never stopped counting on
A; B, whose own keepalive (1 s x 2 here) drops A's connection, discards the
half-arrived guest: no domain, no QEMU, no status file. Once the link is
back, the same migration succeeds and the guest counts on, on B.

The same cut under a client-driven migration (no ``--p2p``): A's daemon has
no connection to B, pyvirsh has; its keepalive gives B up, it aborts A's
job (``domjobabort``'s virDomainAbortJob) and reports the same "Lost
connection to destination host", the guest running on at A and nothing
left on B. libvirt 9.0's client has no such watch and waits there until
TCP gives QEMU's stream up.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt import DomainState

_HERE = Path(__file__).parent
_HOSTS_DIR = _HERE.parents[2] / "core" / "tests" / "hosts"


def _load(name: str, path: Path) -> ModuleType:
    """A helper module by path (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if not (_HOSTS_DIR / "hosts_harness.py").exists():  # an unpacked sdist of pyvirt-qemu has no core/tests beside it
    pytest.skip("needs the repository's core/tests/hosts/hosts_harness.py (namespaced hosts)", allow_module_level=True)
_harness = _load("pyvirt_hosts_harness", _HOSTS_DIR / "hosts_harness.py")
_hosts = _load("pyvirt_qemu_tests_migration_hosts", _HERE / "migration_hosts.py")
guest_linux = _hosts.guest_linux  # the fixture: Debian's kernel and busybox, fetched once
counter_guest, ticks, _migrating = _hosts.counter_guest, _hosts.ticks, _hosts.migrating
qemu_pids, wait_for, PYVIRSH = _hosts.qemu_pids, _hosts.wait_for, _hosts.PYVIRSH
_KEEPALIVE = 5 * (5 + 1)  # the source's keepalive to B (libvirt's defaults): interval x (count + 1) at most
_SLACK = 20  # scheduling on a shared 2-vCPU machine, QEMU's cancel, the client's own round trips


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[object]:
    why = _harness.have_tools()
    if why:
        pytest.skip(why)
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 (Debian's qemu-system-x86) is not installed")
    with _harness.TestNetwork(tmp_path / "net") as net:
        a, b = net.add_host("a"), net.add_host("b")
        try:
            a.start_pyvirtd()
            b.start_pyvirtd(
                'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\nkeepalive_interval = 1\nkeepalive_count = 2\n',
                "--listen",
            )
            yield net
        finally:
            for host in (a, b):
                host.close_daemon()
                for pid in qemu_pids(host.root):  # guests outlive their daemon: end ours
                    os.kill(pid, signal.SIGKILL)


def _uri(host: object) -> str:
    return f"qemu+unix:///system?socket={host.daemon.socket}"  # type: ignore[attr-defined]


def _pyvirsh(host: object, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run([*PYVIRSH, "-c", _uri(host), *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)  # fmt: skip


def test_network_cut_mid_migration_fails_in_bounded_time_and_the_guest_counts_on(
    hosts: object, guest_linux: Path, tmp_path: Path
) -> None:
    a, b = hosts.hosts["a"], hosts.hosts["b"]  # type: ignore[attr-defined]
    console = tmp_path / "console.log"
    (tmp_path / "counter.xml").write_text(counter_guest(guest_linux, tmp_path, console))
    assert _pyvirsh(a, "define", str(tmp_path / "counter.xml")).returncode == 0
    assert _pyvirsh(a, "start", "counter").returncode == 0
    wait_for(lambda: len(ticks(console)) >= 10, 180, "the guest counting on its console")
    [source_pid] = qemu_pids(a.root)
    dest = f"qemu+tcp://{b.address}/system"
    migrate = [*PYVIRSH, "-c", _uri(a), "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
               "--listen-address", b.address]  # fmt: skip
    slow = subprocess.Popen([*migrate, "--bandwidth", "1", "counter", dest], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, LC_ALL="C"))  # fmt: skip
    try:
        with pyvirt.open(_uri(a)) as conn:
            dom = conn.lookup_domain_by_name("counter")
            wait_for(lambda: _migrating(dom), 60, "the migration under way")
        assert len(qemu_pids(b.root)) == 1  # the guest is arriving on B
        b.link(False)
        cut = time.monotonic()
        _out, err = slow.communicate(timeout=_KEEPALIVE + _SLACK + 60)
        took = time.monotonic() - cut
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    assert slow.returncode == 1
    assert err == "error: operation failed: Lost connection to destination host\n", err + a.daemon_log()
    assert took <= _KEEPALIVE + _SLACK, f"the migration failed {took:.0f} s after the cut"
    # A: the same QEMU runs the guest, which never stopped counting
    assert qemu_pids(a.root) == [source_pid]
    assert _pyvirsh(a, "domstate", "counter").stdout.strip() == "running"
    counted = ticks(console)[-1][0]
    wait_for(lambda: ticks(console)[-1][0] >= counted + 10, 60, "the guest counting on A after the failure")
    # B (its daemon still reachable through its socket): nothing left of the guest
    wait_for(lambda: qemu_pids(b.root) == [], 30, "B's incoming QEMU gone")
    assert _pyvirsh(b, "list", "--all", "--name").stdout.strip() == ""
    assert not list((b.root / "run" / "qemu").glob("*.xml")), "a status file was left on B"
    assert not (b.root / "etc" / "qemu" / "counter.xml").exists()
    # the link back: the same migration now goes through, and the guest counts on, on B
    b.link(True)
    moved = subprocess.run([*migrate, "counter", dest], capture_output=True, text=True, timeout=300, check=False,
                           env=dict(os.environ, LC_ALL="C"))  # fmt: skip
    assert moved.returncode == 0, moved.stderr + a.daemon_log() + b.daemon_log()
    assert _pyvirsh(b, "domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
    assert qemu_pids(a.root) == [] and _pyvirsh(a, "list", "--all", "--name").stdout.strip() == ""
    counted = ticks(console)[-1][0]
    wait_for(lambda: ticks(console)[-1][0] >= counted + 10, 60, "the guest counting on B")
    log = console.read_text(errors="replace")
    assert log.count("PYVIRT-BOOT") == 1, "the guest booted again"
    numbers = [n for n, _ in ticks(console)]
    assert numbers == list(range(len(numbers))), "the counter restarted or skipped"
    with pyvirt.open(_uri(b)) as conn:
        assert conn.lookup_domain_by_name("counter").state()[0] == DomainState.RUNNING
    assert _pyvirsh(b, "destroy", "counter").returncode == 0


def test_client_driven_migration_on_a_cut_link_aborts_the_source_and_fails_in_bounded_time(
    hosts: object, guest_linux: Path, tmp_path: Path
) -> None:
    """Without --p2p pyvirsh drives the phases and holds the connection to B: when its keepalive gives B up
    during Perform, it aborts A's job (libvirt's own client waits there until TCP gives up, minutes later)."""
    a, b = hosts.hosts["a"], hosts.hosts["b"]  # type: ignore[attr-defined]
    console = tmp_path / "console.log"
    (tmp_path / "counter.xml").write_text(counter_guest(guest_linux, tmp_path, console))
    assert _pyvirsh(a, "define", str(tmp_path / "counter.xml")).returncode == 0
    assert _pyvirsh(a, "start", "counter").returncode == 0
    wait_for(lambda: len(ticks(console)) >= 10, 180, "the guest counting on its console")
    [source_pid] = qemu_pids(a.root)
    keepalive = (1, 3)  # pyvirsh -k 1 -K 3: B is given up 4 s after it went silent at most
    migrate = [*PYVIRSH, "-k", str(keepalive[0]), "-K", str(keepalive[1]), "-c", _uri(a), "migrate", "--live",
               "--persistent", "--undefinesource", "--listen-address", b.address, "--bandwidth", "1", "counter",
               f"qemu+tcp://{b.address}/system"]  # fmt: skip
    slow = subprocess.Popen(migrate, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, LC_ALL="C"))  # fmt: skip
    try:
        with pyvirt.open(_uri(a)) as conn:
            dom = conn.lookup_domain_by_name("counter")
            wait_for(lambda: _migrating(dom), 60, "the migration under way")
        assert len(qemu_pids(b.root)) == 1  # the guest is arriving on B
        b.link(False)
        cut = time.monotonic()
        _out, err = slow.communicate(timeout=keepalive[0] * (keepalive[1] + 1) + _SLACK + 60)
        took = time.monotonic() - cut
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    assert slow.returncode == 1
    assert err == "error: operation failed: Lost connection to destination host\n", err + a.daemon_log()
    assert took <= keepalive[0] * (keepalive[1] + 1) + _SLACK, f"the migration failed {took:.0f} s after the cut"
    # A: the same QEMU runs the guest, which never stopped counting; its job is over
    assert qemu_pids(a.root) == [source_pid]
    assert _pyvirsh(a, "domstate", "counter").stdout.strip() == "running"
    assert "Job type:         None" in _pyvirsh(a, "domjobinfo", "counter").stdout
    counted = ticks(console)[-1][0]
    wait_for(lambda: ticks(console)[-1][0] >= counted + 10, 60, "the guest counting on A after the failure")
    # B (its daemon still reachable through its socket) dropped the client by its own keepalive: nothing left
    wait_for(lambda: qemu_pids(b.root) == [], 30, "B's incoming QEMU gone")
    assert _pyvirsh(b, "list", "--all", "--name").stdout.strip() == ""
    assert not list((b.root / "run" / "qemu").glob("*.xml")), "a status file was left on B"
    assert _pyvirsh(a, "destroy", "counter").returncode == 0
