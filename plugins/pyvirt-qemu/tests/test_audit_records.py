"""Starting and stopping a real QEMU guest leaves libvirt's audit trail in the kernel.

Audit starts disabled on this host; the fixture turns it on with Debian's
auditctl for the test and restores the previous setting afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.util.audit import AuditReader, read_audit_status

UUID = "3e3fce45-4f53-4fa7-bb32-11f34168b82b"


def _set_enabled(value: int) -> None:
    subprocess.run(["auditctl", "-e", str(value)], check=True, stdout=subprocess.DEVNULL)


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
    _set_enabled(1)
    yield
    _set_enabled(before)


def test_start_and_destroy_are_audited(
    kernel_audit: None, conn: pyvirt.Connection, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    disk = tmp_path / "scratch.img"
    disk.write_bytes(b"\0" * 1048576)
    xml = f"""<domain type='{virt_type}'><name>audited</name><uuid>{UUID}</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
<interface type='ethernet'><mac address='52:54:00:5e:01:02'/><model type='virtio'/></interface>
<serial type='pty'/></devices></domain>"""
    with AuditReader() as reader:
        dom = conn.define_domain(xml)
        dom.create()
        pid = int((qemu_root / "run" / "qemu" / "audited.pid").read_text())
        dom.destroy()
        got = [(rtype, text) for rtype, text in reader.records(2.0) if 2500 <= rtype <= 2502 and f"uuid={UUID}" in text]
    bodies = [re.search(r"msg='(.*) exe=", text).group(1) for _, text in got]  # type: ignore[union-attr]
    vm = f'vm="audited" uuid={UUID}'
    t = virt_type
    assert bodies[:7] == [
        f'virt={t} resrc=disk reason=start {vm} old-disk="?" new-disk="{disk}"',
        f'virt={t} resrc=net reason=start {vm} old-net="?" new-net="52:54:00:5e:01:02"',
        f'virt={t} resrc=net reason=open {vm} net=52:54:00:5e:01:02 path="/dev/net/tun" rdev=0A:C8',
        f"virt={t} resrc=mem reason=start {vm} old-mem=0 new-mem=65536",
        f"virt={t} resrc=vcpu reason=start {vm} old-vcpu=0 new-vcpu=1",
        # the DAC label (qemu.conf's default user root), as libvirt's virDomainAuditSecurityLabel writes it:
        # guests are confined by default now that qemu.conf's security_default_confined is read (libvirt's 1)
        f"virt={t} {vm} vm-ctx=+0:+0 img-ctx=+0:+0 model=dac",
        f"virt={t} op=start reason=booted {vm} vm-pid={pid}",
    ]
    assert bodies[-1] == f"virt={t} op=stop reason=destroyed {vm} vm-pid={pid}"
    assert all(text.endswith("res=success'") for _, text in got)
    dom.undefine()


def test_a_block_copy_destination_is_audited_as_mirror(
    kernel_audit: None, conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    """qemuDomainBlockCopyCommon's virDomainAuditDisk(vm, NULL, mirror, "mirror", ...): the copy's image."""
    source, copy = tmp_path / "src.qcow2", tmp_path / "copy.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(source), "16M"], check=True)
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>mirrored</name><uuid>{UUID}</uuid>
<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{source}'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>""")
    dom.create()
    try:
        with AuditReader() as reader:
            dom.block_copy("vda", f"<disk type='file'><source file='{copy}'/><driver type='qcow2'/></disk>",
                           flags=4)  # VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB  # fmt: skip
            # the start's records may still be on their way to the reader: only the copy's reason is looked at
            got = [text for rtype, text in reader.records(2.0)
                   if rtype == 2501 and f"uuid={UUID}" in text and "reason=mirror" in text]  # fmt: skip
        dom.block_job_abort("vda")
    finally:
        dom.destroy()
        dom.undefine()
    bodies = [re.search(r"msg='(.*) exe=", text).group(1) for text in got]  # type: ignore[union-attr]
    assert bodies == [
        f'virt={virt_type} resrc=disk reason=mirror vm="mirrored" uuid={UUID} old-disk="?" new-disk="{copy}"'
    ], got
    assert got[0].endswith("res=success'")
