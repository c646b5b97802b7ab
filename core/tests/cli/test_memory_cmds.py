"""setmem, setmaxmem and setvcpus: virsh's option checks, words and exit status, before any driver is asked.

What the commands ask a driver (the flags virsh 9.0 passes) is tested where a
driver answers them: plugins/pyvirt-esx/tests/test_host_objects.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]

CASES = [
    "setmem test 1G --current --live",
    "setmaxmem test 1G --current --config",
    "setvcpus test 0",
    "setvcpus test 2 --maximum",
    "setvcpus test 2 --guest --config",
    "setmem test abc",
    "setvcpus test x",
    "setmem nosuch 1G",
    # a required number is "--name" in virsh's refusal even where it may come by position (vshCommandCheckOpts)
    "setmem test",
    "setmaxmem test",
    "setvcpus test",
]


def _run(tool: list[str], line: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, "-c", "test:///default", line], capture_output=True, text=True, env=env, timeout=60,
                       check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize("line", CASES)
def test_refusals_like_virsh(line: str) -> None:
    assert VIRSH is not None
    theirs = _run([VIRSH], line)
    assert theirs[2] == 1
    assert _run(PYVIRSH, line) == theirs


def test_read_only_connection_refuses_in_virsh_words() -> None:
    env = dict(os.environ, LC_ALL="C")
    p = subprocess.run([*PYVIRSH, "-r", "-c", "test:///default", "setmaxmem test 1G"], capture_output=True,
                       text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert p.returncode == 1
    assert p.stderr == ("error: Unable to change MaxMemorySize\n"
                        "error: operation forbidden: read only access prevents virDomainSetMemoryFlags\n")  # fmt: skip
