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
import subprocess
import sys
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
