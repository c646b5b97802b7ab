"""Starting and stopping a real container leaves libvirt's audit trail in the kernel.

Audit starts disabled on this host; the fixture turns it on with Debian's
auditctl for the test and restores the previous setting afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.util.audit import AuditReader, read_audit_status

UUID = "6d0d1a52-3c6f-4f7e-9a57-2f1c8f0e4a11"


@pytest.fixture
def kernel_audit() -> Iterator[None]:
    if not shutil.which("auditctl"):
        pytest.skip("auditctl (Debian's auditd package) is not installed")
    try:
        before = read_audit_status().enabled
    except OSError as exc:
        pytest.skip(f"this kernel has no audit support: {exc}")
    if before == 2:
        pytest.skip("audit configuration is locked (enabled=2)")
    subprocess.run(["auditctl", "-e", "1"], check=True, stdout=subprocess.DEVNULL)
    yield
    subprocess.run(["auditctl", "-e", str(before)], check=True, stdout=subprocess.DEVNULL)


def test_start_init_and_destroy_are_audited(
    kernel_audit: None, conn: pyvirt.Connection, lxc_root: Path, make_rootfs: Callable[..., Path]
) -> None:
    rootfs = make_rootfs("exec sleep 1000\n")
    xml = f"""<domain type='lxc'><name>lxcaudit</name><uuid>{UUID}</uuid><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/>
</devices></domain>"""
    with AuditReader() as reader:
        dom = conn.create_domain(xml)
        text = (lxc_root / "run" / "lxc" / "lxcaudit.xml").read_text()
        init = int(text.split('<init pid="', 1)[1].split('"', 1)[0])
        pidns = os.stat(f"/proc/{init}/ns/pid").st_ino
        controller = int(text.split('pid="', 1)[1].split('"', 1)[0])  # <domstatus pid=...>: the controller
        dom.destroy()
        got = [(rtype, t) for rtype, t in reader.records(2.0) if 2500 <= rtype <= 2502 and f"uuid={UUID}" in t]
    bodies = [re.search(r"msg='(.*) exe=", t).group(1) for _, t in got]  # type: ignore[union-attr]
    vm = f'vm="lxcaudit" uuid={UUID}'
    assert bodies == [
        f'virt=lxc resrc=fs reason=start {vm} old-fs="?" new-fs="{rootfs}"',
        f"virt=lxc resrc=mem reason=start {vm} old-mem=0 new-mem=65536",
        f"virt=lxc resrc=vcpu reason=start {vm} old-vcpu=0 new-vcpu=1",
        f"virt=lxc op=start reason=booted {vm} vm-pid={controller}",
        f"virt=lxc op=init {vm} vm-pid={controller} init-pid={init} pid-ns={pidns}",
        f"virt=lxc op=stop reason=destroyed {vm} vm-pid={controller}",
    ]
    assert all(t.endswith("res=success'") for _, t in got)
