"""pyvirsh through the remote driver prints what Debian's virsh prints, on the same libvirtd."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PYVIRSH = Path(sys.executable).parent / "pyvirsh"
COMMANDS = [
    "list --all", "dominfo test", "domstate test", "dumpxml test", "domid test", "domuuid test", "hostname",
    "nodeinfo", "capabilities", "uri", "net-list --all", "net-dumpxml default", "pool-list --all",
    "pool-info default-pool", "vol-list default-pool",
]  # fmt: skip


def run(tool: list[str], uri: str, command: str) -> str:
    out = subprocess.run([*tool, "-c", uri, *command.split()], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, (tool, command, out.stderr)
    # the running test domain's CPU time moves between the two runs
    return re.sub(r"CPU time:\s+\S+", "CPU time: N", out.stdout)


@pytest.mark.parametrize("command", COMMANDS)
def test_pyvirsh_output_matches_virsh_on_libvirtd(libvirtd: Any, command: str) -> None:
    if shutil.which("virsh") is None or not PYVIRSH.exists():
        pytest.skip("needs Debian's virsh and the venv's pyvirsh")
    assert run([str(PYVIRSH)], libvirtd.uri(), command) == run(["virsh"], libvirtd.uri(), command)


def test_pyvirsh_reports_a_missing_daemon_as_virsh_does(tmp_path: Path) -> None:
    uri = f"test+unix:///default?socket={tmp_path}/nobody"
    ours = subprocess.run([str(PYVIRSH), "-c", uri, "list"], capture_output=True, text=True, timeout=60, check=False)
    theirs = subprocess.run(["virsh", "-c", uri, "list"], capture_output=True, text=True, timeout=60, check=False)
    assert ours.returncode == theirs.returncode == 1
    message = f"Failed to connect socket to '{tmp_path}/nobody': No such file or directory"
    assert message in ours.stderr and message in theirs.stderr
