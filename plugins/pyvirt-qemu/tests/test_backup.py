"""backup-begin and backup-dumpxml on a real QEMU guest (firmware only), beside libvirt 9.0: push mode, full.

The same virsh line runs through Debian's virsh against a private libvirtd,
through pyvirsh, and through Debian's virsh against pyvirtd: libvirt's
refusals (an inactive domain, no backup running, a disk the domain lacks or
named twice, an incremental disk without a checkpoint, a target for a drive
without media, a domain without disks) and a backup started into a named
target. Each side's target must then hold what the guest's disk held. A
second story takes libvirt's defaults (every disk with media, beside its
image, as qcow2), reads the running backup's description, and sees the
job-completed event.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, embed_uri, pyvirsh, virsh

GUEST = """<domain type='{virt}'><name>bk</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{work}/a.qcow2'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{work}/b.raw'/>
<target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
<memballoon model='none'/></devices></domain>"""
NO_DISKS = """<domain type='{virt}'><name>nd</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""
BACKUPS = {
    "invalid": "<domainbackup><disks><disk name='vdz'/></disks></domainbackup>",
    "nosuch": "<domainbackup><disks><disk name='vdz' type='file'/></disks></domainbackup>",
    "twice": "<domainbackup><disks><disk name='vda' backup='no'/><disk name='vda' backup='no'/></disks>"
             "</domainbackup>",
    "incremental": "<domainbackup><disks><disk name='vda' type='file' backupmode='incremental'/></disks>"
                   "</domainbackup>",
    "nomedia": "<domainbackup><disks><disk name='hdc' type='file'><target file='{work}/c.bak'/></disk></disks>"
               "</domainbackup>",
    "vdb": "<domainbackup><disks><disk name='vdb' type='file'><driver type='raw'/><target file='{work}/vdb.bak'/>"
           "</disk><disk name='vda' backup='no'/></disks></domainbackup>",
}  # fmt: skip
LINE = "; ".join([
    "define {work}/bk.xml", "define {work}/nd.xml", "backup-begin bk", "start bk", "start nd", "backup-begin nd",
    "backup-dumpxml bk", "backup-begin bk --backupxml {work}/invalid.xml",
    "backup-begin bk --backupxml {work}/nosuch.xml", "backup-begin bk --backupxml {work}/twice.xml",
    "backup-begin bk --backupxml {work}/incremental.xml", "backup-begin bk --backupxml {work}/nomedia.xml",
    "backup-begin bk --backupxml {work}/vdb.xml", "destroy nd", "undefine nd",
])  # fmt: skip


def _images(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "a.qcow2"), "16M"], check=True)
    with open(work / "b.raw", "wb") as f:  # a pattern the backup must carry over
        f.write(bytes(range(256)) * 4096 * 2)
        f.truncate(8 << 20)


def _setup(work: Path, virt: str) -> str:
    _images(work)
    (work / "bk.xml").write_text(GUEST.format(virt=virt, work=work))
    (work / "nd.xml").write_text(NO_DISKS.format(virt=virt))
    for name, xml in BACKUPS.items():
        (work / f"{name}.xml").write_text(xml.format(work=work))
    return LINE.format(work=work)


def _finished(run: Callable[[str, str], tuple[str, str, int]], uri: str, work: Path) -> None:
    """Until the backup job is over (backup-dumpxml finds none), then the guest goes."""
    deadline = time.monotonic() + 60
    while "no domain backup job present" not in run(uri, "backup-dumpxml bk")[1]:
        assert time.monotonic() < deadline, f"the backup into {work} did not end"
        time.sleep(0.2)
    run(uri, "destroy bk; undefine bk")


def _same(a: Path, b: Path) -> bool:
    return subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "raw", str(a), str(b)],
                          check=False).returncode == 0  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("needs qemu-img (qemu-utils)")
    outputs = {}
    for side in ("libvirt", "pyvirt", "wire"):
        work = tmp_path / side
        line = _setup(work, virt_type)
        if side == "libvirt":
            outputs[side] = virsh(shared_libvirtd, line)
            _finished(virsh, shared_libvirtd, work)
        elif side == "pyvirt":
            uri = embed_uri(qemu_root)
            with pyvirt.open(uri):  # the driver (and the backup's watcher) outlive each pyvirsh line
                outputs[side] = pyvirsh(uri, line)
                _finished(pyvirsh, uri, work)
        else:
            daemon = PrivateDaemon(tmp_path / "pyvirtd").start()
            try:
                outputs[side] = virsh(daemon.uri("qemu:///system"), line)
                _finished(virsh, daemon.uri("qemu:///system"), work)
            finally:
                daemon.stop()
        outputs[side] = tuple(str(part).replace(str(work), "WORK") for part in outputs[side])  # type: ignore[assignment]
        assert _same(work / "b.raw", work / "vdb.bak"), side
    theirs = outputs["libvirt"]
    assert "Backup started" in theirs[0] and "no disk named 'vdz'" in theirs[1], theirs
    assert_prints_as(theirs, pyvirt=outputs["pyvirt"], wire=outputs["wire"])


def test_defaults_the_description_and_the_end(conn: pyvirt.Connection, tmp_path: Path, virt_type: str) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("needs qemu-img (qemu-utils)")
    _images(tmp_path)
    events: list[object] = []
    conn.register_event("job-completed", events.append)
    dom = conn.define_domain(GUEST.format(virt=virt_type, work=tmp_path))
    dom.create()
    try:
        dom.backup_begin("<domainbackup/>")
        text = dom.backup_get_xml_desc()
        assert text.startswith("<domainbackup mode='push'>\n  <disks>\n")
        assert "<disk name='hdc' backup='no'/>" in text and "backupmode='full'" in text
        deadline = time.monotonic() + 60
        while not events:
            assert time.monotonic() < deadline, "no job-completed event"
            time.sleep(0.1)
        with pytest.raises(Error) as err:
            dom.backup_get_xml_desc()
        assert err.value.code == ErrorCode.NO_DOMAIN_BACKUP
        made = sorted(p.name.rsplit(".", 1)[0] for p in tmp_path.iterdir() if p.name.rsplit(".", 1)[-1].isdigit())
        assert made == ["a.qcow2", "b.raw"]  # beside each image, named with the second the backup began
        copy = next(p for p in tmp_path.iterdir() if p.name.startswith("b.raw."))
        info = subprocess.run(["qemu-img", "info", "-U", str(copy)], capture_output=True, text=True, check=True)
        assert "file format: qcow2" in info.stdout
        assert subprocess.run(["qemu-img", "compare", "-q", "-U", str(tmp_path / "b.raw"), str(copy)],
                              check=False).returncode == 0  # fmt: skip
    finally:
        dom.destroy()
        dom.undefine()
