"""Pull-mode backups and a backup's progress on a real QEMU guest (firmware only), beside libvirt 9.0.

A backup client reads the guest's disk over NBD (``qemu-img convert`` from
``nbd+unix://``) while the guest keeps writing to it: what it reads is the
disk as it was when the backup began, not what the guest wrote since. The
scratch image that holds the overwritten data grows (domjobinfo's temporary
space), and domjobabort ends the backup: the NBD server stops, the scratch
files go, and ``domjobinfo --completed`` keeps the final figures. A push
backup's figures reach its total. A scratch file the caller made
(REUSE_EXTERNAL) or a block device stays; TLS (qemu.conf's backup
certificates) admits only a client that speaks it. Bad descriptions get
libvirt's refusals; a backup that fails before it started (the NBD port
taken) or after (an export QEMU refuses) leaves no file, node or job behind,
nor does the guest's end. The description of a running pull backup and
domjobinfo's lines (running and completed, pull and push) are compared with
Debian's virsh against a private libvirtd.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.flags import DomainBackupBeginFlags, DomainGetJobStatsFlags, DomainQemuMonitorCommandFlags
from pyvirt.migration import JobType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backup_jobs import wait_backup_ended
from beside_libvirtd import embed_uri, pyvirsh, virsh

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img (qemu-utils)")

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{work}/a.qcow2'/>
<target dev='hda' bus='ide'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{work}/b.raw'/>
<target dev='vdb' bus='virtio'/></disk>
<memballoon model='none'/></devices></domain>"""
SIZE = 8 << 20


def _images(work: Path) -> None:
    """hda: qcow2 holding a byte pattern in its first 4 MiB; vdb: raw with another one."""
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "a.qcow2"), str(SIZE)], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 4M", str(work / "a.qcow2")], check=True,
                   capture_output=True)  # fmt: skip
    with open(work / "b.raw", "wb") as f:
        f.write(bytes(range(256)) * 4096)
        f.truncate(SIZE)


def _raw(image: Path, out: Path, fmt: str = "qcow2") -> bytes:
    subprocess.run(["qemu-img", "convert", "-U", "-f", fmt, "-O", "raw", str(image), str(out)], check=True)
    return out.read_bytes()


def _guest_writes(dom: pyvirt.Domain, disk: str, pattern: int, offset: int, length: int) -> None:
    """The guest writes to its disk: through the disk's device in QEMU (HMP's qemu-io on the device), so the
    write takes the path a guest's does and meets the backup's copy-before-write filter."""
    out = dom.qemu_monitor_command(f'qemu-io -d {disk} "write -P {pattern:#x} {offset} {length}"',
                                   DomainQemuMonitorCommandFlags.HMP)  # fmt: skip
    assert "rror" not in out, out  # (qemu-io prints its own report on QEMU's output, not here)


def _stats(dom: pyvirt.Domain, flags: int = 0) -> tuple[int, dict[str, Any]]:
    kind, params = dom.job_stats(flags)
    return kind, {p.field: p.value for p in params}


@pytest.fixture(scope="module")
def guest(module_qemu_root: Path, virt_type: str, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[tuple[pyvirt.Domain, Path]]:  # fmt: skip
    """One running guest for the module's stories (each leaves it without a backup)."""
    work = tmp_path_factory.mktemp("pull")
    _images(work)
    with pyvirt.open(embed_uri(module_qemu_root)) as conn:
        dom = conn.define_domain(GUEST.format(virt=virt_type, work=work, name="pull"))
        dom.create()
        try:
            yield dom, work
        finally:
            dom.destroy()
            dom.undefine()


def test_a_pull_backup_reads_the_disk_as_it_was_until_aborted(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, work = guest
    before = _raw(work / "a.qcow2", work / "before.raw")
    sock = work / "nbd.sock"
    events: list[Any] = []
    dom.connection.register_event("job-completed", events.append)
    dom.backup_begin(f"<domainbackup mode='pull'><server transport='unix' socket='{sock}'/></domainbackup>")
    scratch = next(work.glob("a.qcow2.*"))  # libvirt's default scratch file: beside the image, named by the second
    text = dom.backup_get_xml_desc()
    index = re.findall(r"index='(\d+)'", text)
    assert len(index) == 2
    assert text == (
        f"<domainbackup mode='pull'>\n  <server transport='unix' socket='{sock}'/>\n  <disks>\n"
        f"    <disk name='hda' backup='yes' type='file' backupmode='full' exportname='hda' index='{index[0]}'>\n"
        f"      <driver type='qcow2'/>\n      <scratch file='{scratch}'/>\n    </disk>\n"
        f"    <disk name='vdb' backup='yes' type='file' backupmode='full' exportname='vdb' index='{index[1]}'>\n"
        f"      <driver type='qcow2'/>\n      <scratch file='{work}/b.raw.{scratch.suffix[1:]}'/>\n    </disk>\n"
        "  </disks>\n</domainbackup>\n"
    )
    kind, running = _stats(dom)
    assert kind == JobType.UNBOUNDED and running["operation"] == 9
    used_before = running.get("disk_temp_used", 0)
    _guest_writes(dom, "ide0-0-0", 0x5A, 1 << 20, 2 << 20)  # over part of the pattern
    _guest_writes(dom, "ide0-0-0", 0x77, 6 << 20, 1 << 20)  # where nothing was written yet
    kind, running = _stats(dom)
    assert running["disk_temp_used"] >= used_before + (3 << 20)  # the old data went to the scratch image
    assert running["disk_temp_total"] >= running["disk_temp_used"]
    exported = work / "exported.raw"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", f"nbd+unix:///hda?socket={sock}",
                    str(exported)], check=True)  # fmt: skip
    assert exported.read_bytes() == before  # the instant the backup began, not what the guest wrote since
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", f"nbd+unix:///vdb?socket={sock}",
                    str(exported)], check=True)  # fmt: skip
    assert exported.read_bytes() == (work / "b.raw").read_bytes()
    now = _raw(work / "a.qcow2", work / "now.raw")
    assert now[1 << 20 : 3 << 20] == b"\x5a" * (2 << 20) and now != before
    dom.abort_job()
    wait_backup_ended(dom)
    assert not scratch.exists() and not sock.exists()
    kind, done = _stats(dom, DomainGetJobStatsFlags.COMPLETED)
    assert kind == JobType.COMPLETED and done["success"] is True  # (libvirt: a pull backup ends so)
    assert done["disk_temp_used"] >= 3 << 20 and "disk_total" not in done and done["errmsg"] == "Operation canceled"
    assert events and {p.field: p.value for p in events[-1].params}["success"] is True


def test_a_push_backup_reaches_its_total(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, work = guest
    target = work / "vdb.bak"
    dom.backup_begin(f"<domainbackup><disks><disk name='vdb' type='file'><target file='{target}'/></disk>"
                     "<disk name='hda' backup='no'/></disks></domainbackup>")  # fmt: skip
    seen = [_stats(dom)[1]]
    wait_backup_ended(dom)
    kind, done = _stats(dom, DomainGetJobStatsFlags.COMPLETED)
    assert kind == JobType.COMPLETED and done["success"] is True
    assert done["disk_total"] == SIZE and done["disk_processed"] == SIZE and done["disk_remaining"] == 0
    assert all(s.get("disk_processed", 0) <= s.get("disk_total", 0) <= SIZE for s in seen)
    assert _raw(target, work / "vdb.copy") == (work / "b.raw").read_bytes()
    target.unlink()


def test_a_reused_scratch_file_stays(guest: tuple[pyvirt.Domain, Path]) -> None:
    """REUSE_EXTERNAL: the caller made the scratch image; the backup uses it and leaves it (libvirt removes only
    the files it made)."""
    dom, work = guest
    scratch, sock = work / "mine.scratch", work / "reuse.sock"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(scratch), str(SIZE)], check=True)
    dom.backup_begin(f"<domainbackup mode='pull'><server transport='unix' socket='{sock}'/><disks>"
                     f"<disk name='vdb' type='file'><scratch file='{scratch}'/></disk><disk name='hda' backup='no'/>"
                     "</disks></domainbackup>", None, DomainBackupBeginFlags.EXTERNAL)  # fmt: skip
    try:
        out = work / "reused.raw"
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", f"nbd+unix:///vdb?socket={sock}", str(out)],
                       check=True)  # fmt: skip
        assert out.read_bytes() == (work / "b.raw").read_bytes()
    finally:
        dom.abort_job()
        wait_backup_ended(dom)
    assert scratch.exists()
    scratch.unlink()


def test_a_block_device_as_scratch(guest: tuple[pyvirt.Domain, Path]) -> None:
    """``<disk type='block'><scratch dev=.../>``: libvirt makes no file for it; QEMU writes the qcow2 scratch
    format onto the device, and the device stays when the backup ends."""
    if not shutil.which("losetup"):
        pytest.skip("needs losetup (mount)")
    dom, work = guest
    backing = work / "loop.img"
    backing.write_bytes(b"")
    os.truncate(backing, 2 * SIZE)
    device = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    sock = work / "block.sock"
    try:
        dom.backup_begin(f"<domainbackup mode='pull'><server transport='unix' socket='{sock}'/><disks>"
                         f"<disk name='vdb' type='block'><scratch dev='{device}'/></disk><disk name='hda' "
                         "backup='no'/></disks></domainbackup>")  # fmt: skip
        assert "<disk name='vdb' backup='yes' type='block'" in dom.backup_get_xml_desc()
        assert f"<scratch dev='{device}'/>" in dom.backup_get_xml_desc()
        out = work / "block.raw"
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", f"nbd+unix:///vdb?socket={sock}", str(out)],
                       check=True)  # fmt: skip
        assert out.read_bytes() == (work / "b.raw").read_bytes()
        dom.abort_job()
        wait_backup_ended(dom)
        assert Path(device).exists()
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        backing.unlink()


BAD = {
    "tcp without a port": ("<domainbackup mode='pull'><server name='localhost'/></domainbackup>", "<domainbackup> must specify TCP port for now"),
    "tls": ("<domainbackup mode='pull'><server name='localhost' port='10809' tls='yes'/></domainbackup>",
            "unable to execute QEMU command 'object-add': Unable to access credentials"),  # (no certificates here)
    "a named disk without a scratch file": (
        "<domainbackup mode='pull'><server transport='unix' socket='{work}/s'/><disks><disk name='hda'/></disks>"
        "</domainbackup>", "argument key 'filename' must not have null value"),
    "the store exists": ("<domainbackup><disks><disk name='vdb' type='file'><target file='{work}/b.raw'/></disk>"
                         "</disks></domainbackup>", "store '{work}/b.raw' for backup of 'vdb' exists"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_libvirts_refusals(guest: tuple[pyvirt.Domain, Path], case: str) -> None:
    dom, work = guest
    xml, message = (text.format(work=work) for text in BAD[case])
    with pytest.raises(Error) as err:
        dom.backup_begin(xml)
    assert message in str(err.value)
    assert not list(work.glob("*.qcow2.*")) and not list(work.glob("b.raw.*"))


def test_a_failed_begin_leaves_nothing_behind(guest: tuple[pyvirt.Domain, Path],
                                              guest_monitor: Callable[[pyvirt.Domain], Any]) -> None:  # fmt: skip
    dom, work = guest
    nodes = {n["node-name"] for n in guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})}
    with socket.socket() as taken:  # QEMU's NBD server cannot listen where another socket does
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Error) as err:
            dom.backup_begin(f"<domainbackup mode='pull'><server name='127.0.0.1' port='{port}'/></domainbackup>")
    assert "unable to execute QEMU command 'nbd-server-start'" in str(err.value)
    assert not list(work.glob("*.qcow2.*")) and not list(work.glob("b.raw.*"))
    assert {n["node-name"] for n in guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})} == nodes
    with pytest.raises(Error) as err:
        dom.backup_get_xml_desc()
    assert err.value.code == ErrorCode.NO_DOMAIN_BACKUP
    assert dom.job_stats()[0] == JobType.NONE  # the job ended with the failure


def test_a_failed_export_ends_the_backup(guest: tuple[pyvirt.Domain, Path]) -> None:
    """Two disks exported under one name: QEMU refuses the second export after the copies started, so the
    backup is cancelled (libvirt's qemuBackupJobCancelBlockjobs) and goes with its scratch files."""
    dom, work = guest
    sock = work / "twice.sock"
    with pytest.raises(Error) as err:
        dom.backup_begin(f"<domainbackup mode='pull'><server transport='unix' socket='{sock}'/><disks>"
                         f"<disk name='hda' exportname='same'><scratch file='{work}/a.qcow2.1'/></disk>"
                         f"<disk name='vdb' exportname='same'><scratch file='{work}/b.raw.1'/></disk>"
                         "</disks></domainbackup>")  # fmt: skip
    assert "unable to execute QEMU command 'block-export-add'" in str(err.value)
    wait_backup_ended(dom)
    assert not list(work.glob("*.raw.*")) and not list(work.glob("*.qcow2.*")) and not sock.exists()
    assert dom.job_stats()[0] == JobType.NONE


def test_the_guest_going_away_ends_a_pull_backup(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, work = guest
    sock = work / "gone.sock"
    dom.backup_begin(f"<domainbackup mode='pull'><server transport='unix' socket='{sock}'/></domainbackup>")
    assert len(list(work.glob("*.raw.*")) + list(work.glob("*.qcow2.*"))) == 2
    dom.destroy()
    try:
        wait_backup_ended(dom)  # (libvirt's qemuProcessStop terminates the backup)
        assert not list(work.glob("*.raw.*")) and not list(work.glob("*.qcow2.*"))  # no scratch file stays
        assert dom.job_stats()[0] == JobType.NONE
    finally:
        dom.create()  # (the module's guest, for whatever runs after)


def _certificates(directory: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 it signed, where QEMU's tls-creds-x509 looks for them."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    directory.mkdir()
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
        "-subj", "/CN=pyvirt test CA", "-days", "1")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "server-cert.pem", "-days", "1", "-extfile", "san.cnf")  # fmt: skip


def test_a_pull_backup_over_tls(qemu_root: Path, tmp_path: Path, virt_type: str) -> None:
    """qemu.conf's backup TLS directory: the export answers a TLS client that trusts its CA, and no other."""
    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    _certificates(tmp_path / "certs")
    (qemu_root / "etc").mkdir(parents=True, exist_ok=True)
    (qemu_root / "etc" / "qemu.conf").write_text(f'backup_tls_x509_cert_dir = "{tmp_path}/certs"\n'
                                                 "backup_tls_x509_verify = 0\n")  # fmt: skip
    _images(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pyvirt.open(embed_uri(qemu_root)) as conn:
        dom = conn.define_domain(GUEST.format(virt=virt_type, work=tmp_path, name="tls"))
        dom.create()
        try:
            dom.backup_begin(f"<domainbackup mode='pull'><server name='127.0.0.1' port='{port}' tls='yes'/><disks>"
                             f"<disk name='vdb' type='file'><scratch file='{tmp_path}/vdb.scratch'/></disk>"
                             "<disk name='hda' backup='no'/></disks></domainbackup>")  # fmt: skip
            assert f"<server transport='tcp' tls='yes' name='127.0.0.1' port='{port}'/>" in dom.backup_get_xml_desc()
            plain = subprocess.run(["qemu-img", "info", f"nbd://127.0.0.1:{port}/vdb"], capture_output=True,
                                   text=True, check=False)  # fmt: skip
            assert plain.returncode != 0  # the server insists on TLS
            out = tmp_path / "vdb.out"
            subprocess.run(["qemu-img", "convert", "--object",
                            f"tls-creds-x509,id=tls0,dir={tmp_path}/certs,endpoint=client", "--image-opts",
                            f"driver=raw,file.driver=nbd,file.host=127.0.0.1,file.port={port},file.export=vdb,"
                            "file.tls-creds=tls0", "-O", "raw", str(out)], check=True, capture_output=True)  # fmt: skip
            assert out.read_bytes() == (tmp_path / "b.raw").read_bytes()
            dom.abort_job()
            wait_backup_ended(dom)
            assert not (tmp_path / "vdb.scratch").exists()
        finally:
            dom.destroy()
            dom.undefine()


def _normalized(text: str, work: Path) -> str:
    text = text.replace(str(work), "WORK")
    text = re.sub(r"\.\d{9,}\b", ".SECONDS", text)
    text = re.sub(r"index='\d+'", "index='N'", text)
    return re.sub(r"Time elapsed:\s+\d+\s+ms", "Time elapsed: VALUE ms", text)


def test_pull_backup_prints_as_libvirt(tmp_path: Path, qemu_root: Path, virt_type: str, shared_libvirtd: str,
                                       ) -> None:  # fmt: skip
    line = ("define {work}/g.xml; start cmp; backup-begin cmp --backupxml {work}/pull.xml; backup-dumpxml cmp; "
            "domjobinfo cmp; domjobabort cmp")  # fmt: skip
    outputs = {}
    for side in ("libvirt", "pyvirt"):
        work = tmp_path / side
        _images(work)
        (work / "g.xml").write_text(GUEST.format(virt=virt_type, work=work, name="cmp"))
        (work / "pull.xml").write_text(f"<domainbackup mode='pull'><server transport='unix' socket='{work}/s'/>"
                                       "</domainbackup>")  # fmt: skip
        if side == "libvirt":
            uri = shared_libvirtd
            run = virsh
            got = virsh(uri, line.format(work=work))
        else:
            uri = embed_uri(qemu_root)
            run = pyvirsh
            conn = pyvirt.open(uri)
            got = pyvirsh(uri, line.format(work=work))
        deadline = time.monotonic() + 30
        while "no domain backup job present" not in run(uri, "backup-dumpxml cmp")[1]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        completed = run(uri, "domjobinfo cmp --completed")  # the final figures, kept after the abort
        (work / "push.xml").write_text(f"<domainbackup><disks><disk name='vdb' type='file'><target file='{work}/c'/>"
                                       "</disk><disk name='hda' backup='no'/></disks></domainbackup>")  # fmt: skip
        run(uri, f"backup-begin cmp --backupxml {work}/push.xml")
        while "no domain backup job present" not in run(uri, "backup-dumpxml cmp")[1]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        completed += run(uri, "domjobinfo cmp --completed")  # a push backup's: the data copied of its total
        run(uri, "destroy cmp; undefine cmp")
        if side == "pyvirt":
            conn.close()
        assert not list(work.glob("a.qcow2.*")), side  # the scratch file went with the abort
        outputs[side] = tuple(_normalized(str(part), work) for part in got + completed)
    assert "<scratch file='WORK/a.qcow2.SECONDS'/>" in outputs["libvirt"][0], outputs
    assert "Temporary disk space total:" in outputs["libvirt"][0] and "Completed" in outputs["libvirt"][3], outputs
    assert "File processed:   8.000 MiB" in outputs["libvirt"][6], outputs
    assert outputs["pyvirt"] == outputs["libvirt"]
