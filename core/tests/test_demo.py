"""``./bootstrap demo`` fails when a step fails, says which, and still cleans up.

The story: the demo ran every pyvirsh step unchecked and exited 0 while its
whole KVM part failed. These tests drive the demo's own step runner
(``demo.run`` and ``demo.pyvirsh``) with steps that fail in each way a step
can: a command's exit status, an ``error:`` line from a command in the middle
of a ``"cmd1; cmd2"`` line (pyvirsh then exits with the last command's
status, 0), and a ``pyvirt.Error`` from the Python API part. The full demo
starts real guests and takes minutes; it is run by ``./bootstrap demo``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt

DEMO = Path(__file__).resolve().parents[2] / "demo.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pyvirt_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failed_step_stops_the_demo_with_status_1_and_one_line(
    demo: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    def steps() -> None:
        try:
            demo.pyvirsh("-c", "test:///default", "domname", "1")
            ran.append("first")
            demo.pyvirsh("-c", "test:///default", "dominfo", "nosuch")
            ran.append("after the failure")
        finally:
            ran.append("cleanup")

    assert demo.run(steps) == 1
    assert ran == ["first", "cleanup"]
    out, err = capsys.readouterr()
    assert "$ pyvirsh -c test:///default domname 1\ntest\n" in out
    assert "error: failed to get domain 'nosuch'" in out  # shown where it happened, not after later output
    assert err == (
        "demo failed: 'pyvirsh -c test:///default dominfo nosuch' failed (exit status 1): "
        "failed to get domain 'nosuch'\n"
    )


def test_an_error_in_the_middle_of_a_command_line_fails_the_step(
    demo: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """``"dominfo nosuch; list"``: pyvirsh exits 0 (the last command succeeded), as virsh does; the step still fails."""
    assert demo.run(lambda: demo.pyvirsh("-c", "test:///default", "dominfo nosuch; list")) == 1
    out, err = capsys.readouterr()
    assert out.index("error: failed to get domain 'nosuch'") < out.index(" 1    test   running")
    assert err == (
        "demo failed: 'pyvirsh -c test:///default 'dominfo nosuch; list'' failed (exit status 0): "
        "failed to get domain 'nosuch'\n"
    )


def test_a_library_error_fails_the_demo_with_its_message(demo: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    def steps() -> None:
        with pyvirt.open("test:///default") as conn:
            conn.lookup_domain_by_name("nosuch")

    assert demo.run(steps) == 1
    err = capsys.readouterr().err
    assert err.startswith("demo failed: ") and err.count("\n") == 1 and "nosuch" in err


def test_every_step_succeeding_is_status_0(demo: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.run(lambda: demo.pyvirsh_each("test:///default", "domname 1", "list --name")) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.endswith("== demo finished: every step succeeded ==\n")


def test_the_process_exit_status_is_the_runners() -> None:
    """What the shell (and ``./bootstrap demo``) sees."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(DEMO)!r})\n"
        "d = importlib.util.module_from_spec(spec); spec.loader.exec_module(d)\n"
        "sys.exit(d.run(lambda: d.pyvirsh('-c', 'test:///default', 'start', 'test')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    # test:///default's guest 'test' is running already: virsh's refusal is the step's failure
    assert done.stderr.splitlines()[-1] == (
        "demo failed: 'pyvirsh -c test:///default start test' failed (exit status 1): Domain is already active"
    )


def test_the_summary_carries_the_reason_virsh_prints_after_what_failed(
    demo: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    """virsh prints "error: <what failed>" then "error: <why>"; the one-line summary keeps both."""
    assert demo.run(lambda: demo.pyvirsh("-c", "test:///default", "vol-create-as", "nopool", "v", "1M")) == 1
    assert capsys.readouterr().err == (
        "demo failed: 'pyvirsh -c test:///default vol-create-as nopool v 1M' failed (exit status 1): "
        "failed to get pool 'nopool': Storage pool not found: no storage pool with matching name 'nopool'\n"
    )


# ---------------------------------------------------------------- the pyvirtd part: virsh beside pyvirsh
needs_virsh = pytest.mark.skipif(
    shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is not installed"
)
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 (qemu-system-x86) is not installed"
)
needs_qemu_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None,
    reason="the core tested alone (tox -e core) has no QEMU driver: needs pyvirt-qemu installed",
)


@needs_virsh
@pytest.mark.parametrize("tool", ["virsh", "pyvirsh"])
def test_virsh_steps_are_checked_like_pyvirsh_steps(
    demo: ModuleType, capsys: pytest.CaptureFixture[str], tool: str
) -> None:
    """The same failure through either client gives the same one-line summary, with virsh's own words."""
    assert demo.run(lambda: getattr(demo, tool)("-c", "test:///default", "dominfo", "nosuch")) == 1
    out, err = capsys.readouterr()
    assert f"$ {tool} -c test:///default dominfo nosuch\nerror: failed to get domain 'nosuch'" in out
    assert err == (
        f"demo failed: '{tool} -c test:///default dominfo nosuch' failed (exit status 1): "
        "failed to get domain 'nosuch'\n"
    )


@needs_virsh
@pytest.mark.parametrize("tool", ["virsh", "pyvirsh"])
def test_a_refusal_step_passes_only_on_the_expected_error(
    demo: ModuleType, capsys: pytest.CaptureFixture[str], tool: str
) -> None:
    """What the read-only socket step relies on, shown with each client's own read-only connection (``-r``)."""
    forbidden = "operation forbidden: read only access prevents virDomainDestroy"
    assert demo.run(lambda: demo.refused(tool, "-r", "-c", "test:///default", "destroy", "test", expect=forbidden)) == 0
    capsys.readouterr()

    # a write that goes through is the failure the step exists to catch
    assert demo.run(lambda: demo.refused(tool, "-c", "test:///default", "destroy", "test", expect=forbidden)) == 1
    assert capsys.readouterr().err == (
        f"demo failed: '{tool} -c test:///default destroy test' succeeded; it must be refused with: {forbidden}\n"
    )

    # refused, but for another reason
    assert (
        demo.run(lambda: demo.refused(tool, "-r", "-c", "test:///default", "destroy", "nosuch", expect=forbidden)) == 1
    )
    assert capsys.readouterr().err == (
        f"demo failed: '{tool} -r -c test:///default destroy nosuch' failed (exit status 1): "
        f"failed to get domain 'nosuch' (expected the refusal: {forbidden})\n"
    )


def test_a_watcher_that_exits_does_not_hold_the_demo_up(demo: ModuleType, tmp_path: Path) -> None:
    """No daemon on the socket: the watcher exits with libvirt's error and waiting for an event ends at once."""
    missing = tmp_path / "pyvirt-sock"
    watcher = demo.EventWatcher(
        "pyvirsh", [sys.executable, "-m", "pyvirt.cli.main"], f"qemu+unix:///system?socket={missing}"
    )
    started = time.monotonic()
    assert not watcher.wait_for("Defined", timeout=60)
    assert time.monotonic() - started < 30
    assert watcher.stop() == 1
    assert f"Failed to connect socket to '{missing}': No such file or directory" in "\n".join(watcher.lines)


NUL = b"\0"


def _leftovers(root: Path) -> list[str]:
    """Live processes (a zombie has no command line) whose command line names ``root``: QEMUs, pyvirtd, watchers."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if str(root).encode() in raw:
                found.append(f"{entry}: {raw.replace(NUL, b' ')[:200]!r}")
    return found


@needs_virsh
@needs_qemu
@needs_qemu_driver
def test_the_pyvirtd_part_runs_and_leaves_nothing_behind(demo: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's pyvirtd part end to end: real daemon, real QEMU, Debian's virsh beside pyvirsh."""
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        assert demo.run(lambda: demo._pyvirtd(tmp)) == 0, capsys.readouterr().err
        assert _leftovers(Path(tmp)) == []
    out = capsys.readouterr().out
    for watcher in ("pyvirsh", "virsh"):  # each saw the other client's start and destroy
        shown = out.split(f"[{watcher} event --loop, stopped with Ctrl-C: exit status 0]\n", 1)[1]
        assert "Started Booted" in shown.split("[", 1)[0] and "Stopped Destroyed" in shown.split("[", 1)[0]
    assert "QEMU " in out and "of 'demo-daemon' is still running" in out


@needs_virsh
@needs_qemu
@needs_qemu_driver
def test_a_failure_with_the_guest_running_still_stops_the_daemon_and_its_qemu(
    demo: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step failing while the guest runs (here the read-only check): the SIGTERM'd daemon leaves QEMU, cleanup kills it."""
    real = demo.refused

    def refusal_fails(tool: str, *args: str, expect: str) -> None:
        real(tool, *args, expect="a message no client prints")

    monkeypatch.setattr(demo, "refused", refusal_fails)
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        assert demo.run(lambda: demo._pyvirtd(tmp)) == 1
        assert _leftovers(Path(tmp)) == []
    out, err = capsys.readouterr()
    assert "cleanup: killing the leftover QEMU of 'demo-daemon'" in out
    assert err.count("\n") == 1 and "(expected the refusal: a message no client prints)" in err
