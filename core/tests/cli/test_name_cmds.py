"""pool-name, pool-uuid, vol-key, vol-name, vol-pool and iface-mac answer as virsh's do, failures included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
pytestmark = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is needed as the reference")

POOL_UUID = "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"  # default-pool of test:///default

CASES = {
    # pool-name looks up by UUID only (a UUID-long string), pool-uuid by name only
    "pools": f"pool-uuid default-pool; pool-name {POOL_UUID}; pool-name nosuch; pool-name {POOL_UUID[:-1]}7; "
    f"pool-uuid nosuch; pool-uuid {POOL_UUID}",
    "volumes": (
        "vol-create-as default-pool a.img 1M; vol-key --pool default-pool a.img; vol-name /default-pool/a.img; "
        "vol-pool /default-pool/a.img; vol-pool --uuid /default-pool/a.img; vol-name nosuch; vol-key nosuch; "
        "vol-pool nosuch; vol-key a.img; vol-key --pool default-pool nosuch; vol-name a.img; vol-pool a.img --uuid"
    ),
    "missing-argument": "pool-name",
    # iface-mac looks a word up by name only when it is not a MAC address; the test driver's wording
    "interfaces": "iface-mac eth1; iface-mac nosuch; iface-mac 11:22:33:44:55:66; iface-mac lo; iface-dumpxml nosuch",
}


def run(tool: list[str], command: str) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, "-c", "test:///default", command], capture_output=True, text=True, env=env,
                       timeout=60, check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_virsh(name: str) -> None:
    assert VIRSH is not None
    assert run(PYVIRSH, CASES[name]) == run([VIRSH], CASES[name])
