"""``<tpm><backend type='external'><source type='unix' path='...'/>``: a TPM emulator someone else runs.

It was refused by name. libvirt starts no swtpm of its own for it: QEMU connects to the given control socket.
Here the user's swtpm runs beside the guest, and the started guest has its TPM.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt

GUEST = """<domain type='{virt}'><name>exttpm</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<tpm model='tpm-tis'><backend type='external'><source type='unix' mode='connect' path='{sock}'/></backend></tpm>
<memballoon model='none'/></devices></domain>"""


@pytest.fixture
def users_swtpm(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("swtpm") is None:
        pytest.skip("needs swtpm")
    sock = tmp_path / "swtpm.sock"
    proc = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={tmp_path}", "--ctrl",
                             f"type=unixio,path={sock}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert sock.exists(), "swtpm did not come up"
        yield sock
    finally:
        proc.terminate()
        proc.wait(30)


def test_qemu_uses_the_users_swtpm(
    conn: pyvirt.Connection, virt_type: str, users_swtpm: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, sock=users_swtpm))
    dom.create()
    try:
        tpms = guest_monitor(dom).execute("query-tpm")
        assert [(t["id"], t["model"], t["options"]["type"]) for t in tpms] == [("tpm-tpm0", "tpm-tis", "emulator")]
    finally:
        dom.destroy()
