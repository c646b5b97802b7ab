"""A source daemon that dies mid-migration, and the daemon after it that finds the guest and finishes the job.

The source records its outgoing job's phase in the guest's status file
(libvirt's ``<job async='migration out' phase=...>``); the test makes the
daemon kill itself right after it recorded a chosen phase
(``PYVIRT_TEST_MIGRATION_CRASH``, the knob ``pyvirt_qemu.migration``
documents), then starts a new daemon on the same root and looks at what it
made of the guest, as libvirt's ``qemuProcessRecoverMigrationOut`` would:

- after Perform, peer to peer, before Finish: the destination never ran the
  guest (it discarded its half when the source's connection went), so the
  guest here is resumed: the same QEMU, "running (migration canceled)";
- in Confirm, told that Finish ran the guest on the destination: the guest
  here is killed ("shut off (migrated)") and, with ``--undefinesource``,
  undefined; it runs on the destination;
- during Perform, driven by the client: the migration is cancelled, the
  guest runs on, the destination is clean;
- after Perform, driven by the client: the daemon cannot know whether the
  client went on, so the guest stays paused for its manager (libvirt's
  choice), with the job over.
"""

from __future__ import annotations

import importlib.util
import signal
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt import DomainState
from pyvirt.domain_state import RunningReason


def _load_hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hosts = _load_hosts()
TwoHosts, qemu_pids, wait_for, FIRMWARE_GUEST = (
    _hosts.TwoHosts,
    _hosts.qemu_pids,
    _hosts.wait_for,
    _hosts.FIRMWARE_GUEST,
)
two_hosts = _hosts.two_hosts  # the fixture

RUNNING_MIGRATION_CANCELED = (DomainState.RUNNING, RunningReason.MIGRATION_CANCELED)


@pytest.fixture
def guest(two_hosts: TwoHosts, virt_type: str, tmp_path: Path) -> Iterator[int]:
    """A persistent firmware guest running on A; yields its QEMU's pid."""
    a = two_hosts.a
    (tmp_path / "g.xml").write_text(FIRMWARE_GUEST.format(virt=virt_type, name="g"))
    assert a.pyvirsh("define", str(tmp_path / "g.xml")).returncode == 0
    assert a.pyvirsh("start", "g").returncode == 0
    [pid] = qemu_pids(a.root)
    yield pid


def _crashing_source(two_hosts: TwoHosts, monkeypatch: pytest.MonkeyPatch, phase: str) -> None:
    """A's daemon again, one that dies (SIGKILL) right after it records ``phase``."""
    two_hosts.a.daemon.stop()
    with monkeypatch.context() as env:
        env.setenv("PYVIRT_TEST_MIGRATION_CRASH", phase)
        two_hosts.a.restart()


def _after_crash(two_hosts: TwoHosts) -> None:
    """The crashed daemon is gone (killed by its own signal); a new one starts on the same root."""
    a = two_hosts.a
    assert a.daemon.proc is not None
    assert a.daemon.proc.wait(60) == -signal.SIGKILL, a.daemon.log()
    a.restart()


def _state(host: object, name: str) -> tuple[int, int]:
    with pyvirt.open(host.uri) as conn:  # type: ignore[attr-defined]
        return conn.lookup_domain_by_name(name).state()


def _qemu_runs_guest(two_hosts: TwoHosts, name: str) -> bool:
    """QEMU's own word: one more daemon restart, whose reconnect asks QEMU (query-status) whether it runs."""
    a = two_hosts.a
    a.daemon.stop()
    a.restart()
    return _state(a, name)[0] == DomainState.RUNNING


def test_peer_to_peer_source_dies_after_perform_and_resumes_its_guest(
    two_hosts: TwoHosts, guest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_hosts.a, two_hosts.b
    _crashing_source(two_hosts, monkeypatch, "perform3_done")
    run = a.pyvirsh("migrate", "--live", "--p2p", "--listen-address", "127.0.0.1", "g", b.uri, timeout=120)
    assert run.returncode == 1  # the client lost its daemon mid-call
    # B discarded the half-arrived guest when A's daemon vanished (its close callback)
    wait_for(lambda: qemu_pids(b.root) == [], 60, "B's incoming QEMU gone")
    _after_crash(two_hosts)
    wait_for(lambda: _state(a, "g") == RUNNING_MIGRATION_CANCELED, 60, "the guest resumed on A")
    assert qemu_pids(a.root) == [guest], "the guest's QEMU was not the same one"
    assert _qemu_runs_guest(two_hosts, "g")
    assert b.pyvirsh("list", "--all", "--name").stdout.strip() == "" and b.status_files() == []
    assert "phase=" not in (a.run_dir / "g.xml").read_text()  # the job is over
    # and it can migrate again, to completion
    moved = a.pyvirsh("migrate", "--live", "--p2p", "--listen-address", "127.0.0.1", "g", b.uri, timeout=120)
    assert moved.returncode == 0, moved.stderr + a.daemon.log()
    assert b.pyvirsh("domstate", "g").stdout.strip() == "running"
    assert b.pyvirsh("destroy", "g").returncode == 0


def test_source_dies_in_confirm_after_a_finish_that_succeeded_and_ends_its_guest(
    two_hosts: TwoHosts, guest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_hosts.a, two_hosts.b
    _crashing_source(two_hosts, monkeypatch, "confirm3")
    run = a.pyvirsh("migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--listen-address",
                    "127.0.0.1", "g", b.uri, timeout=120)  # fmt: skip
    assert run.returncode == 1
    # B ran Finish: the guest runs there, defined
    assert b.pyvirsh("domstate", "--reason", "g").stdout.strip() == "running (migrated)"
    assert qemu_pids(a.root) == [guest]  # still there, paused, until a daemon decides
    _after_crash(two_hosts)
    wait_for(lambda: qemu_pids(a.root) == [], 60, "the source's QEMU ended")
    # --undefinesource: A forgets the guest altogether
    wait_for(lambda: a.pyvirsh("list", "--all", "--name").stdout.strip() == "", 30, "the guest undefined on A")
    assert a.status_files() == [] and not (a.root / "etc" / "qemu" / "g.xml").exists()
    assert b.pyvirsh("domstate", "g").stdout.strip() == "running"
    assert (b.root / "etc" / "qemu" / "g.xml").exists()
    assert b.pyvirsh("destroy", "g").returncode == 0


def test_source_dies_during_a_client_driven_perform_and_cancels_it(
    two_hosts: TwoHosts, guest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client sees Perform fail and cancels Finish on B; A's next daemon cancels QEMU's migration."""
    a, b = two_hosts.a, two_hosts.b
    _crashing_source(two_hosts, monkeypatch, "perform3")
    run = a.pyvirsh("migrate", "--live", "--listen-address", "127.0.0.1", "g", b.uri, timeout=120)
    assert run.returncode == 1
    wait_for(lambda: qemu_pids(b.root) == [], 60, "B's incoming QEMU gone")
    _after_crash(two_hosts)
    wait_for(lambda: _state(a, "g")[0] == DomainState.RUNNING, 60, "the guest running on A")
    assert qemu_pids(a.root) == [guest]
    assert _qemu_runs_guest(two_hosts, "g")
    assert b.pyvirsh("list", "--all", "--name").stdout.strip() == "" and b.status_files() == []
    assert "phase=" not in (a.run_dir / "g.xml").read_text()


def test_client_driven_source_dies_after_perform_and_leaves_the_guest_paused_for_its_manager(
    two_hosts: TwoHosts, guest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libvirt's "perform3_done": the daemon cannot know whether the client went on to Finish (here it did
    not: it saw Perform fail and cancelled B's half), so the guest stays paused, the job over, and whoever
    manages the hosts resumes it."""
    a, b = two_hosts.a, two_hosts.b
    _crashing_source(two_hosts, monkeypatch, "perform3_done")
    run = a.pyvirsh("migrate", "--live", "--listen-address", "127.0.0.1", "g", b.uri)
    assert run.returncode == 1
    wait_for(lambda: qemu_pids(b.root) == [], 60, "B's incoming QEMU gone")
    _after_crash(two_hosts)
    assert a.pyvirsh("domstate", "--reason", "g").stdout.strip() == "paused (migrating)"
    assert qemu_pids(a.root) == [guest]
    assert "phase=" not in (a.run_dir / "g.xml").read_text()
    resumed = a.pyvirsh("resume", "g")
    assert resumed.returncode == 0, resumed.stderr
    assert a.pyvirsh("domstate", "g").stdout.strip() == "running"
    assert b.pyvirsh("list", "--all", "--name").stdout.strip() == "" and b.status_files() == []
