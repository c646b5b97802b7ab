"""Incremental backups on a real QEMU guest (firmware only): a checkpoint made with a full backup, then only
what the guest wrote since copied (push) or marked in the export's dirty bitmap (pull).

The story: a full push backup that also creates checkpoint ``c1`` (one
transaction: the copy and the checkpoint's bitmap share the instant); the
guest writes a known pattern into one region; an incremental push backup
from ``c1`` then holds exactly that region (its qcow2 target has the disk
as its backing image, as libvirt makes it), and an incremental pull backup
exports the disk with the ``backup-hda`` bitmap, whose dirty extents an NBD
client reads back. Unknown checkpoints get libvirt's refusal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.flags import DomainQemuMonitorCommandFlags, DomainUndefineFlags

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backup_jobs import wait_backup_ended
from beside_libvirtd import embed_uri

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img (qemu-utils)")

GUEST = """<domain type='{virt}'><name>inc</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{work}/a.qcow2'/>
<target dev='hda' bus='ide'/></disk><memballoon model='none'/></devices></domain>"""
MIB = 1 << 20
REGION = (2 * MIB, MIB)  # what the guest writes after the checkpoint: offset, length


def _guest_writes(dom: pyvirt.Domain, pattern: int, offset: int, length: int) -> None:
    """Through the disk's device in QEMU (HMP's qemu-io on it), the path a guest's write takes."""
    out = dom.qemu_monitor_command(f'qemu-io -d ide0-0-0 "write -P {pattern:#x} {offset} {length}"',
                                   DomainQemuMonitorCommandFlags.HMP)  # fmt: skip
    assert "rror" not in out, out


def _map(args: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run(["qemu-img", "map", "--output=json", *args], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


@pytest.fixture(scope="module")
def guest(module_qemu_root: Path, virt_type: str, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[pyvirt.Domain, Path]]:  # fmt: skip
    """The guest after a full backup that made checkpoint c1, and the guest's write after it."""
    work = tmp_path_factory.mktemp("incremental")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "a.qcow2"), str(8 * MIB)], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 4M", str(work / "a.qcow2")], check=True,
                   capture_output=True)  # fmt: skip
    with pyvirt.open(embed_uri(module_qemu_root)) as conn:
        dom = conn.define_domain(GUEST.format(virt=virt_type, work=work))
        dom.create()
        try:
            dom.backup_begin(f"<domainbackup><disks><disk name='hda' type='file'><target file='{work}/full.qcow2'/>"
                             "</disk></disks></domainbackup>", "<domaincheckpoint><name>c1</name></domaincheckpoint>")  # fmt: skip
            wait_backup_ended(dom)
            assert dom.checkpoint_lookup_by_name("c1").name == "c1"
            _guest_writes(dom, 0x33, *REGION)
            yield dom, work
        finally:
            dom.destroy()
            dom.undefine(DomainUndefineFlags.CHECKPOINTS_METADATA)


def test_an_incremental_push_backup_holds_only_what_changed(guest: tuple[pyvirt.Domain, Path],
                                                            guest_monitor: Callable[[pyvirt.Domain], Any]) -> None:  # fmt: skip
    dom, work = guest
    target = work / "inc.qcow2"
    dom.backup_begin(f"<domainbackup><incremental>c1</incremental><disks><disk name='hda' type='file'>"
                     f"<target file='{target}'/></disk></disks></domainbackup>")  # fmt: skip
    text = dom.backup_get_xml_desc()
    assert "<incremental>c1</incremental>" in text and "backupmode='incremental' incremental='c1'" in text
    wait_backup_ended(dom)
    nodes = guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})
    names = sorted(b["name"] for n in nodes for b in n.get("dirty-bitmaps", []))
    assert names == ["c1"]  # the copy's temporary bitmap on the disk went with it; the checkpoint's stays
    top = [e for e in _map(["-U", "-f", "qcow2", str(target)]) if e["depth"] == 0 and e["data"]]
    assert [(e["start"], e["length"]) for e in top] == [REGION]  # nothing but the region written since c1
    data = subprocess.run(["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P 0x33 {REGION[0]} {REGION[1]}",
                           str(target)], capture_output=True, text=True, check=False)  # fmt: skip
    assert data.returncode == 0 and "Pattern verification failed" not in data.stdout, data
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(target)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert json.loads(info.stdout)["backing-filename"] == str(work / "a.qcow2")  # (libvirt records the disk below)


def test_an_incremental_pull_backup_exports_the_changed_extents(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, work = guest
    sock = work / "nbd.sock"
    dom.backup_begin(f"<domainbackup mode='pull'><incremental>c1</incremental><server transport='unix' "
                     f"socket='{sock}'/></domainbackup>")  # fmt: skip
    try:
        assert "exportname='hda' exportbitmap='backup-hda'" in dom.backup_get_xml_desc()
        _guest_writes(dom, 0x44, 6 * MIB, MIB)  # after the backup began: not in its bitmap
        extents = _map(["--image-opts", f"driver=nbd,export=hda,server.type=unix,server.path={sock},"
                        "x-dirty-bitmap=qemu:dirty-bitmap:backup-hda"])  # fmt: skip
        dirty = [(e["start"], e["length"]) for e in extents if not e["data"]]  # (x-dirty-bitmap: dirty = no data)
        assert dirty == [REGION], extents
        data = subprocess.run(["qemu-io", "-r", "-f", "raw", "-c", f"read -P 0x33 {REGION[0]} {REGION[1]}",
                               f"nbd+unix:///hda?socket={sock}"], capture_output=True, text=True, check=True)  # fmt: skip
        assert "Pattern verification failed" not in data.stdout, data.stdout
    finally:
        dom.abort_job()
        wait_backup_ended(dom)
    assert not list(work.glob("a.qcow2.*"))


def test_an_unknown_checkpoint_is_refused(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, work = guest
    with pytest.raises(Error) as err:
        dom.backup_begin(f"<domainbackup><incremental>nope</incremental><disks><disk name='hda' type='file'>"
                         f"<target file='{work}/x.qcow2'/></disk></disks></domainbackup>")  # fmt: skip
    assert err.value.code == ErrorCode.NO_DOMAIN_CHECKPOINT
    assert "Checkpoint 'nope' for incremental backup of disk 'hda' not found" in str(err.value)
    assert not (work / "x.qcow2").exists()


CMP_GUEST = GUEST.replace("<name>inc</name>", "<name>cmpinc</name>")
CMP_FILES = {
    "g.xml": CMP_GUEST,
    "c1.xml": "<domaincheckpoint><name>c1</name></domaincheckpoint>",
    "pull.xml": "<domainbackup mode='pull'><server transport='unix' socket='{work}/s'/></domainbackup>",
    "inc.xml": "<domainbackup mode='pull'><incremental>c1</incremental><server transport='unix' socket='{work}/s'/>"
               "</domainbackup>",
    "nope.xml": "<domainbackup><incremental>nope</incremental></domainbackup>",
    "noport.xml": "<domainbackup mode='pull'><server name='localhost'/></domainbackup>",
    "tls.xml": "<domainbackup mode='pull'><server name='localhost' port='10809' tls='yes'/></domainbackup>",
    "noscratch.xml": "<domainbackup mode='pull'><server transport='unix' socket='{work}/s'/><disks>"
                     "<disk name='hda'/></disks></domainbackup>",
    "named.xml": "<domainbackup mode='pull'><server transport='unix' socket='{work}/s'/><disks>"
                 "<disk name='hda' exportname='e1' exportbitmap='b1'><scratch file='{work}/x.qcow2'/></disk>"
                 "</disks></domainbackup>",
    "exists.xml": "<domainbackup><disks><disk name='hda' type='file'><target file='{work}/a.qcow2'/></disk></disks>"
                  "</domainbackup>",
}  # fmt: skip
CMP_LINES = [
    "define {work}/g.xml; start cmpinc; backup-begin cmpinc --backupxml {work}/nope.xml; "
    "backup-begin cmpinc --backupxml {work}/noport.xml; backup-begin cmpinc --backupxml {work}/tls.xml; "
    "backup-begin cmpinc --backupxml {work}/noscratch.xml; backup-begin cmpinc --backupxml {work}/exists.xml; "
    "backup-begin cmpinc --backupxml {work}/pull.xml --checkpointxml {work}/c1.xml; domjobabort cmpinc",
    "backup-begin cmpinc --backupxml {work}/inc.xml; backup-dumpxml cmpinc; domjobabort cmpinc",
    "backup-begin cmpinc --backupxml {work}/named.xml; backup-dumpxml cmpinc; domjobabort cmpinc",
]


def _until_no_backup(run: Callable[[str, str], tuple[str, str, int]], uri: str) -> None:
    deadline = time.monotonic() + 30
    while "no domain backup job present" not in run(uri, "backup-dumpxml cmpinc")[1]:
        assert time.monotonic() < deadline, "the backup did not end"
        time.sleep(0.1)


def test_checkpoints_and_incremental_pull_print_as_libvirt(tmp_path: Path, qemu_root: Path, virt_type: str,
                                                           shared_libvirtd: str) -> None:  # fmt: skip
    import re

    from beside_libvirtd import pyvirsh, virsh

    outputs = {}
    for side in ("libvirt", "pyvirt"):
        work = tmp_path / side
        work.mkdir()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "a.qcow2"), str(8 * MIB)], check=True)
        for name, text in CMP_FILES.items():
            (work / name).write_text(text.format(virt=virt_type, work=work))
        uri, run = (shared_libvirtd, virsh) if side == "libvirt" else (embed_uri(qemu_root), pyvirsh)
        conn = pyvirt.open(uri) if side == "pyvirt" else None  # (the embedded driver outlives each line)
        got: list[str] = []
        try:
            for line in CMP_LINES:
                got += [str(part) for part in run(uri, line.format(work=work))]
                _until_no_backup(run, uri)
            got += [str(part) for part in run(uri, "checkpoint-list cmpinc --name")]
        finally:
            run(uri, "destroy cmpinc; undefine cmpinc --checkpoints-metadata")
            if conn is not None:
                conn.close()
        assert sorted(p.name for p in work.iterdir()) == sorted([*CMP_FILES, "a.qcow2"]), side  # no scratch left
        text = "\n".join(got).replace(str(work), "WORK")
        outputs[side] = re.sub(r"index='\d+'", "index='N'", re.sub(r"\.\d{9,}'", ".SECONDS'", text))
    assert "exportbitmap='backup-hda'" in outputs["libvirt"] and "\nc1\n" in outputs["libvirt"], outputs["libvirt"]
    assert "exportname='e1' exportbitmap='b1'" in outputs["libvirt"], outputs["libvirt"]
    assert outputs["pyvirt"] == outputs["libvirt"]
