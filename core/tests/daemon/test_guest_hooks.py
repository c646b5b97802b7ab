"""The contract-1.11 domain hooks through pyvirtd, for virsh and for pyvirsh, against libvirt's own test driver.

One script uses every new call (metadata and description, rename, reset,
NMI, keys, the guest clock and host name, vCPU counts and maps, the host CPU
map, memory statistics, block sizes, and the statistics' errors): virsh run
in its own process against ``test:///default`` is the oracle; virsh through
pyvirtd checks the daemon's dispatch (argument order, the cpumaps' layout,
the block info's wire order), and pyvirsh through pyvirtd the client's rows
(a reply whose cpumaps the request sized). CPU times and disk or NIC
counters come from the clock, so only their errors are compared.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

SCRIPT = """\
desc test
desc test --title mytitle
desc test --config a persistent description
desc test --config
list --title
metadata test http://example.org/a --key a --set "<app><v>1</v></app>"
metadata test http://example.org/a
metadata test http://example.org/b
vcpucount test
setvcpus test 1 --live
vcpucount test --live
vcpuinfo test --pretty
nodecpumap
dommemstat test
setmem test 1G
dommemstat test
domtime test
domtime test --time 1000
domtime test --pretty
domhostname test
reset test
inject-nmi test
send-key test KEY_A KEY_B
send-key test --codeset linux 999
domblkinfo test vda
domblkinfo test --all --human
domblkstat test nosuch
domifstat test nosuch
destroy test
vcpuinfo test
domrename test renamed
list --all --name
domblkinfo renamed vda
dommemstat renamed
"""


def _run(tool: list[str], uri: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    line = "; ".join(SCRIPT.strip().splitlines())
    p = subprocess.run([*tool, "-c", uri, line], capture_output=True, text=True, env=env, timeout=120, check=False)
    return re.sub(r"CPU time:\s+\S+", "CPU time: X", p.stdout), p.stderr, p.returncode


def test_virsh_and_pyvirsh_through_pyvirtd_see_libvirts_test_driver(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    expected = _run(["virsh"], "test:///default")
    assert (
        "Time: 1970-01-01 00:16:40" in expected[0] and "CPU Affinity:   0-7 (out of 8)" in expected[0]
    )  # the script ran through
    through_daemon = _run(["virsh"], pyvirtd.uri())
    assert through_daemon == expected
    # the daemon's test:///default was changed by that run (renamed, stopped): a fresh one for pyvirsh
    with PrivateDaemon(tmp_path) as second:
        assert _run([sys.executable, "-m", "pyvirt.cli.main"], second.uri()) == expected
