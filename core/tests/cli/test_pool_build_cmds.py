"""pool-build and pool-delete answer as Debian's virsh does on test:///default, byte for byte, failures included.

libvirt's test driver has no storage to make: building or deleting an
inactive pool only announces it, an active pool is refused, and any build
flag is refused by the driver (virsh passes --overwrite and --no-overwrite
on without checking them). The success line names the pool as the user
gave it, so a UUID stays a UUID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
pytestmark = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is needed as the reference")

POOL_UUID = "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"  # default-pool of test:///default

CASES = {
    "build-and-delete-inactive": "pool-destroy default-pool; pool-build default-pool; pool-delete default-pool; "
    "pool-list --all",
    "by-uuid": f"pool-destroy default-pool; pool-build {POOL_UUID}; pool-delete {POOL_UUID}",
    "active-is-refused": "pool-build default-pool; pool-delete default-pool",
    "build-flags-refused-by-the-driver": "pool-destroy default-pool; pool-build default-pool --overwrite; "
    "pool-build default-pool --no-overwrite; pool-build --overwrite --no-overwrite default-pool",
    "no-such-pool": "pool-build nosuch; pool-delete nosuch",
    "missing-argument": "pool-build",
    "help": "help pool-build; help pool-delete",
}


def run(tool: list[str], command: str, *options: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, *options, "-c", "test:///default", command], capture_output=True, text=True,
                       env=env, timeout=60, check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_virsh(name: str) -> None:
    assert VIRSH is not None
    assert run(PYVIRSH, CASES[name]) == run([VIRSH], CASES[name])


def test_success_lines_as_virsh_prints_them() -> None:
    # the words scripts and Ansible's logs show, pinned here as well as compared
    out, err, rc = run(PYVIRSH, CASES["build-and-delete-inactive"])
    assert (rc, err) == (0, "")
    assert "Pool default-pool built\n\nPool default-pool deleted\n" in out


def test_quiet_prints_nothing_on_success() -> None:
    command = "pool-destroy default-pool; pool-build default-pool; pool-delete default-pool"
    assert VIRSH is not None
    assert run(PYVIRSH, command, "-q") == run([VIRSH], command, "-q") == ("", "", 0)


def test_through_pyvirtd_debian_virsh_and_pyvirsh_say_the_same(tmp_path: Path) -> None:
    """REMOTE_PROC_STORAGE_POOL_BUILD and _DELETE served by pyvirtd: each client's lines as virsh's own test driver."""
    from pyvirt.daemon.instance import PrivateDaemon

    assert VIRSH is not None
    script = " ".join(CASES[name] + ";" for name in ("build-and-delete-inactive", "build-flags-refused-by-the-driver"))
    expected = run([VIRSH], script)
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("test:///default")
        for tool in ([VIRSH], PYVIRSH):
            env = dict(os.environ, LC_ALL="C")
            env.pop("LIBVIRT_DEFAULT_URI", None)
            p = subprocess.run([*tool, "-c", uri, script], capture_output=True, text=True, env=env, timeout=60,
                               check=False)  # fmt: skip
            assert (p.stdout, p.stderr, p.returncode) == expected, tool
