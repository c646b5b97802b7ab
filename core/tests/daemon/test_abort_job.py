"""virDomainAbortJob through pyvirtd: both of libvirt's procedures, and virsh's and pyvirsh's words.

libvirt's test driver has no jobs, so its answer is NO_SUPPORT naming the API
virsh chose by its flags; pyvirtd's test driver gives the same through either
procedure (REMOTE_PROC_DOMAIN_ABORT_JOB without flags, ..._FLAGS with them). The
QEMU driver's real abort of a save is tested with a guest in pyvirt-qemu.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

SCRIPT = "domjobabort test; domjobabort test --postcopy; domjobabort nosuch"


def _run(tool: list[str], uri: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, "-c", uri, SCRIPT], capture_output=True, text=True, env=env, timeout=60, check=False)
    return p.stdout, p.stderr, p.returncode


def test_domjobabort_through_pyvirtd_says_what_libvirt_says(pyvirtd: PrivateDaemon) -> None:
    expected = _run(["virsh"], "test:///default")
    assert "virDomainAbortJob\n" in expected[1] and "virDomainAbortJobFlags\n" in expected[1]
    assert _run(["virsh"], pyvirtd.uri("test:///default")) == expected
    assert _run([sys.executable, "-m", "pyvirt.cli.main"], pyvirtd.uri("test:///default")) == expected


def test_a_read_only_client_may_not_abort_a_job(pyvirtd: PrivateDaemon) -> None:
    run = subprocess.run(["virsh", "-c", pyvirtd.uri("test:///default", read_only=True), "domjobabort", "test"],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert run.stderr == "error: operation forbidden: read only access prevents virDomainAbortJob\n"
