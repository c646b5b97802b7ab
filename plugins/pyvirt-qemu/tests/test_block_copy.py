"""Block copy on a real QEMU guest: blockdev-mirror to a new image, its events, ``<mirror>``, abort and pivot.

A firmware-only guest is enough: QEMU mirrors the disk whether or not a
guest OS uses it. The source image holds a written pattern, so after a pivot
the copy must hold the same bytes (``qemu-img compare``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

TRANSIENT_JOB = 4  # VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB
REUSE_EXT = 2
ABORT_PIVOT = 2
COMPLETED, CANCELED, READY = 0, 2, 3


def _image(path: Path, size: str = "16M", fmt: str = "qcow2", pattern: bool = True) -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), size], check=True)
    if pattern:
        subprocess.run(["qemu-io", "-f", fmt, "-c", "write -P 0x5a 0 4M", str(path)], check=True, capture_output=True)
    return path


def _guest(conn: pyvirt.Connection, virt_type: str, image: Path) -> pyvirt.Domain:
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>copier</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    dom.create()
    return dom


def _dest(path: Path, fmt: str = "qcow2") -> str:
    return f"<disk type='file'><source file='{path}'/><driver type='{fmt}'/></disk>"


def _wait_for(events: list[Any], count: int, what: str) -> None:
    deadline = time.monotonic() + 30
    while len(events) < count:
        assert time.monotonic() < deadline, f"no {what} event came: {events}"
        time.sleep(0.05)


def _nodes(guest_monitor: Callable[[pyvirt.Domain], Any], dom: pyvirt.Domain) -> set[str]:
    return {n["node-name"] for n in guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})}


def test_copy_reaches_ready_shows_mirror_and_pivots_to_the_copy(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    source, copy = _image(tmp_path / "src.qcow2"), tmp_path / "copy.qcow2"
    dom = _guest(conn, virt_type, source)
    by_path: list[Any] = []
    by_target: list[Any] = []
    conn.register_event("block-job", by_path.append)
    conn.register_event("block-job-2", by_target.append)
    try:
        with pytest.raises(Error) as exc:  # libvirt refuses a persistent guest unless the job is transient
            dom.block_copy("vda", _dest(copy))
        assert exc.value.code == ErrorCode.OPERATION_INVALID and "domain is not transient" in str(exc.value)
        assert not copy.exists(), "a refused copy creates nothing"
        dom.block_copy("vda", _dest(copy), flags=TRANSIENT_JOB)
        _wait_for(by_target, 1, "READY")
        assert [(e.disk, e.type, e.status) for e in by_path] == [(str(source), 2, READY)]
        assert [(e.disk, e.type, e.status) for e in by_target] == [("vda", 2, READY)]
        kind, _bandwidth, cur, end = dom.block_job_info("vda")
        assert kind == 2 and cur == end == 16 << 20
        live = dom.xml_desc().replace('"', "'")
        assert (
            f"<mirror type='file' file='{copy}' format='qcow2' job='copy' ready='yes'>\n"
            f"        <format type='qcow2'/>\n        <source file='{copy}' index='2'/>\n        <backingStore/>\n"
            "      </mirror>\n      <target dev='vda' bus='virtio'/>"
        ) in live
        assert "<mirror" not in dom.xml_desc(2), "a copy is not configuration"
        assert {"libvirt-2-storage", "libvirt-2-format"} <= _nodes(guest_monitor, dom)
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", _dest(tmp_path / "second.qcow2"), flags=TRANSIENT_JOB)
        assert str(exc.value) == "block copy still active: disk 'vda' already in active block job"
        dom.block_job_abort("vda", ABORT_PIVOT)
        _wait_for(by_target, 2, "COMPLETED")
        assert [(e.disk, e.status) for e in by_target] == [("vda", READY), ("vda", COMPLETED)]
        assert [(e.disk, e.status) for e in by_path] == [(str(source), READY), (str(copy), COMPLETED)]
        assert dom.block_job_info("vda") == (0, 0, 0, 0)
        live = dom.xml_desc().replace('"', "'")
        assert f"<source file='{copy}' index='2'/>\n      <backingStore/>" in live and "<mirror" not in live
        assert str(source) not in live
        # the definition named the same image: it follows the pivot (qemuBlockJobRewriteConfigDiskSource)
        assert f"<source file='{copy}'/>" in dom.xml_desc(2).replace('"', "'")
        nodes = _nodes(guest_monitor, dom)
        assert "libvirt-2-format" in nodes and not {"libvirt-1-storage", "libvirt-1-format"} & nodes, nodes
        with pytest.raises(Error) as exc:
            dom.block_job_abort("vda")
        assert exc.value.code == ErrorCode.INVALID_ARG and "disk vda does not have an active block job" in str(
            exc.value
        )
    finally:
        dom.destroy()
        dom.undefine()
    same = subprocess.run(["qemu-img", "compare", str(source), str(copy)], capture_output=True, text=True, check=False)
    assert same.returncode == 0, f"the copy differs from its source: {same.stdout}{same.stderr}"


def test_abort_keeps_the_disk_and_a_slow_copy_cannot_pivot(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    source, copy = _image(tmp_path / "src.qcow2", "64M"), tmp_path / "slow.qcow2"
    dom = _guest(conn, virt_type, source)
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    before = _nodes(guest_monitor, dom)
    try:
        # 1 MiB/s for 4 MiB of data: the copy stays in its first pass for seconds
        speed = [TypedParam("bandwidth", TypedParamType.ULLONG, 1 << 20)]
        dom.block_copy("vda", _dest(copy), speed, TRANSIENT_JOB)
        kind, bandwidth, cur, end = dom.block_job_info("vda", 1)
        assert (kind, bandwidth) == (2, 1 << 20) and cur < end
        with pytest.raises(Error) as exc:
            dom.block_job_abort("vda", ABORT_PIVOT)
        assert exc.value.code == ErrorCode.BLOCK_COPY_ACTIVE
        assert (
            str(exc.value) == "block copy still active: block job 'copy-vda-libvirt-1-format' not ready for pivot yet"
        )
        dom.block_job_set_speed("vda", 3)
        assert dom.block_job_info("vda")[1] == 3, "MiB/s as set"
        assert dom.block_job_info("vda", 1)[1] == 3 << 20
        dom.block_job_abort("vda")  # synchronous: the job is gone when the call returns
        assert [(e.disk, e.status) for e in events] == [("vda", CANCELED)]
        assert dom.block_job_info("vda") == (0, 0, 0, 0)
        live = dom.xml_desc().replace('"', "'")
        assert f"<source file='{source}' index='1'/>" in live and "<mirror" not in live
        assert _nodes(guest_monitor, dom) == before, "the copy's nodes are gone"
    finally:
        dom.destroy()
        dom.undefine()


def test_a_copy_that_cannot_start_leaves_nothing_behind(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    source = _image(tmp_path / "src.qcow2")
    dom = _guest(conn, virt_type, source)
    before_xml, before_nodes = dom.xml_desc(), _nodes(guest_monitor, dom)
    try:
        busy = tmp_path / "busy.raw"
        busy.write_bytes(b"x" * 4096)
        with pytest.raises(Error) as exc:  # an existing, non-empty file is not overwritten without REUSE_EXT
            dom.block_copy("vda", _dest(busy, "raw"), flags=TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert f"external destination file for disk vda already exists and is not a block device: {busy}" in str(
            exc.value
        )
        # reused, but not the format it is said to be: QEMU refuses to open it after it was labelled
        with pytest.raises(Error):
            dom.block_copy("vda", _dest(busy, "qcow2"), flags=TRANSIENT_JOB | REUSE_EXT)
        assert busy.read_bytes() == b"x" * 4096, "a reused file is not ours to remove or change"
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", _dest(tmp_path / "nodir" / "c.qcow2"), flags=TRANSIENT_JOB)
        assert not (tmp_path / "nodir").exists()
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", _dest(Path("relative.qcow2")), flags=TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.INVALID_ARG and "absolute path must be used as block copy target" in str(
            exc.value
        )
        granularity = [TypedParam("granularity", TypedParamType.UINT, 3000)]
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", _dest(tmp_path / "g.qcow2"), granularity, TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.INVALID_ARG and "granularity must be power of 2" in str(exc.value)
        # a power of two libvirt lets through and QEMU refuses: the image was made and its nodes added by then
        small = [TypedParam("granularity", TypedParamType.UINT, 256)]
        with pytest.raises(Error) as exc:
            dom.block_copy("vda", _dest(tmp_path / "made.qcow2"), small, TRANSIENT_JOB)
        assert "granularity" in str(exc.value)
        assert not (tmp_path / "made.qcow2").exists(), "the image this copy made goes with it"
        with pytest.raises(Error) as exc:
            dom.block_copy("vdz", _dest(tmp_path / "z.qcow2"), flags=TRANSIENT_JOB)
        assert exc.value.code == ErrorCode.INVALID_ARG and "disk 'vdz' not found in domain" in str(exc.value)
        assert dom.xml_desc() == before_xml and _nodes(guest_monitor, dom) == before_nodes
        assert dom.block_job_info("vda") == (0, 0, 0, 0)
        assert sorted(os.listdir(tmp_path)) == sorted(["busy.raw", "embed", "src.qcow2"])
    finally:
        dom.destroy()
        dom.undefine()


def test_emulator_pinning_of_a_running_guest_raises_the_tunable_event(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    dom = _guest(conn, virt_type, _image(tmp_path / "src.qcow2", pattern=False))
    events: list[Any] = []
    conn.register_event("tunable", events.append)
    try:
        dom.pin_emulator(b"\x01", 2)  # --config only: nothing runs differently, no event (as libvirt)
        assert events == []
        dom.pin_emulator(b"\x01", 1)
        assert [(e.domain.name, [(p.field, p.value) for p in e.params]) for e in events] == [
            ("copier", [("cputune.emulatorpin", "0")])
        ]
    finally:
        dom.destroy()
        dom.undefine()


def test_the_copy_is_labelled_for_the_guest_and_given_back() -> None:
    """QEMU running as +4242 can write the copy only because it was labelled for it; the pivot gives the old
    image its owner back, and the copy's own label goes back once QEMU is gone."""
    import shutil
    import tempfile

    if os.geteuid() != 0 or not shutil.which("qemu-system-x86_64"):
        pytest.skip("needs root and qemu-system-x86 to start QEMU under another identity")
    base = Path(tempfile.mkdtemp(prefix="pyvirt-copy-", dir="/var/tmp"))  # pytest's tmp is root's alone
    base.chmod(0o755)
    try:
        source, copy, aborted = _image(base / "src.qcow2"), base / "copy.qcow2", base / "aborted.qcow2"
        os.chown(source, 1234, 1235)
        with pyvirt.open(f"qemu:///embed?root={base / 'embed'}") as conn:
            dom = conn.define_domain(f"""<domain type='qemu'><name>labelled</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk></devices>
<seclabel type='static' model='dac' relabel='yes'><label>+4242:+4242</label></seclabel></domain>""")
            dom.create()
            try:
                events: list[Any] = []
                conn.register_event("block-job-2", events.append)
                dom.block_copy("vda", _dest(aborted), flags=TRANSIENT_JOB)
                _wait_for(events, 1, "READY")
                assert (aborted.stat().st_uid, aborted.stat().st_gid) == (4242, 4242)
                dom.block_job_abort("vda")
                assert (aborted.stat().st_uid, aborted.stat().st_gid) == (0, 0), "an aborted copy is given back"
                dom.block_copy("vda", _dest(copy), flags=TRANSIENT_JOB)
                _wait_for(events, 3, "READY")
                dom.block_job_abort("vda", ABORT_PIVOT)
                assert (source.stat().st_uid, source.stat().st_gid) == (1234, 1235), "the old image is given back"
                assert (copy.stat().st_uid, copy.stat().st_gid) == (4242, 4242)
            finally:
                dom.destroy()
                dom.undefine()
        assert (copy.stat().st_uid, copy.stat().st_gid) == (0, 0), "the guest's disk is given back at its end"
        assert [n for n in os.listxattr(copy) if n.startswith("trusted.libvirt")] == []
        # QEMU, as +4242, wrote every byte of the source into the copy it could open only once labelled
        same = subprocess.run(
            ["qemu-img", "compare", str(source), str(copy)], capture_output=True, text=True, check=False
        )
        assert same.returncode == 0, same.stdout + same.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


# One virsh session's worth of block job commands, run by Debian's virsh against a private libvirtd 9.0 and
# against pyvirtd on the same kind of guest; {w} is the side's own directory.
_VIRSH_STEPS = (
    "blockcopy cp vda --dest {w}/c.qcow2 --wait --verbose",
    "blockjob cp vda --raw",
    "blockjob cp vda --bandwidth 3",
    "blockjob cp vda --raw",
    "blockjob cp vda --bytes",
    "blockjob cp vda --pivot --async",
    "blockjob cp vda",
    "blockcopy cp vda --dest {w}/d.qcow2 --bandwidth 1 --format qcow2",
    "blockjob cp vda --pivot",
    "blockjob cp vda --abort",
    "blockjob cp vda --bandwidth 2",
    "blockcopy cp vda --dest {w}/e.qcow2 --print-xml --blockdev",
    "blockjob cp vdz",
    "blockcopy cp vda --xml {w}/missing.xml",
    "emulatorpin cp 0",
    "blockcopy cp vda --dest {w}/f.qcow2 --transient-job --granularity 65536 --buf-size 1048576 --finish",
)


def _virsh_session(tool: str, uri: str, work: Path, listeners: Any) -> list[tuple[str, int, str, str]]:
    import re

    env = dict(os.environ, LC_ALL="C")
    probe = "event 'metadata-change' for domain 'cp': type description, uri <null>"  # a description none sets

    def virsh(*argv: str) -> str:
        return subprocess.run(["virsh", "-c", uri, *argv], capture_output=True, text=True, env=env,
                              check=False).stdout  # fmt: skip

    assert subprocess.run([tool, "-c", uri, "create", str(work / "g.xml")], check=False).returncode == 0
    events = listeners.start([tool, "-c", uri, "event", "cp", "--all", "--loop", "--timeout", "60"], env)
    out = []
    try:
        listeners.registered([events], lambda: virsh("desc", "cp", "--live", "probe"), probe)  # before the first step
        for step in _VIRSH_STEPS:
            done = subprocess.run([tool, "-c", uri, *step.format(w=work).split()], capture_output=True, text=True,
                                  timeout=120, env=env, check=False)  # fmt: skip
            out.append(
                (step, done.returncode, done.stdout.replace(str(work), "W"), done.stderr.replace(str(work), "W"))
            )
            if "--async" in step:  # the pivot's end, before the next question
                events.wait_for("'block-job-2' for domain 'cp': Block Copy for vda completed")
        disk = re.search(r"<disk .*?</disk>", virsh("dumpxml", "cp"), re.S)
        out.append(("dumpxml's disk", 0, disk[0].replace(str(work), "W") if disk else "", ""))
    finally:
        virsh("destroy", "cp")
        # the guest's end comes after every block job event of the steps: then nothing is left to print
        events.wait_for("event 'lifecycle' for domain 'cp': Stopped Destroyed")
        lines = listeners.without_probe(events.stop(sig=signal.SIGTERM)[0], probe)
    kept = [line for line in lines.replace(str(work), "W").splitlines() if "lifecycle" not in line]
    out.append(("events", 0, "\n".join(kept), ""))
    return out


def test_debian_virsh_sees_from_pyvirtd_what_libvirtd_shows(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str, event_listeners: Any
) -> None:
    """Outputs, errors, ``<mirror>``-free XML after the pivots, and the block-job/tunable events, line for line."""
    from pyvirt.daemon.instance import PrivateDaemon

    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    results = {}
    for side in ("libvirt", "pyvirt", "pyvirsh"):
        work = tmp_path / side
        work.mkdir()
        _image(work / "src.qcow2")
        (work / "g.xml").write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{work}/src.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
        if side == "libvirt":
            results[side] = _virsh_session("virsh", shared_libvirtd, work, event_listeners)
        else:  # Debian's virsh, then pyvirsh, against pyvirtd
            with PrivateDaemon(qemu_root / side) as daemon:
                results[side] = _virsh_session(
                    "virsh" if side == "pyvirt" else pyvirsh, daemon.uri("qemu:///system"), work, event_listeners
                )
    theirs = results["libvirt"]
    assert "Successfully copied" in theirs[-3][2] and "ready" in theirs[-1][2], theirs  # the comparison compares
    for client in ("pyvirt", "pyvirsh"):
        _compare(theirs, results[client], client)


def _compare(theirs: list[tuple[str, int, str, str]], ours: list[tuple[str, int, str, str]], client: str) -> None:
    for (step, *expected), (_, *got) in zip(theirs, ours, strict=True):
        if step.startswith("blockcopy") and "--verbose" in step:  # how many progress lines depends on timing
            expected[2], got[2] = expected[2].splitlines()[-1], got[2].splitlines()[-1]  # (\r read as newline)
        if step == "dumpxml's disk":  # libvirt also shows the probed (empty) chain of an image it never copied
            expected[1] = expected[1].replace("<source file='W/src.qcow2' index='1'/>\n      <backingStore/>", "")
        assert got == expected, f"{'virsh' if client == 'pyvirt' else 'pyvirsh'} {step}"


def _on_a_terminal(argv: list[str]) -> tuple[str, str, int]:
    """Run with standard error on a pseudo-terminal (where pyvirsh draws its bars), standard output on a pipe."""
    import pty

    main_fd, child_fd = pty.openpty()
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=child_fd, text=True, timeout=120, check=False)
        os.close(child_fd)
        child_fd = -1
        chunks = []
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if child_fd >= 0:
            os.close(child_fd)
        os.close(main_fd)
    return done.stdout, b"".join(chunks).decode(), done.returncode


def test_pyvirsh_draws_a_bar_on_a_terminal_and_nothing_on_a_pipe(
    qemu_root: Path, tmp_path: Path, virt_type: str
) -> None:
    from pyvirt.daemon.instance import PrivateDaemon

    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    source = _image(tmp_path / "src.qcow2")
    xml = tmp_path / "g.xml"
    xml.write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    with PrivateDaemon(qemu_root) as daemon:
        uri = daemon.uri("qemu:///system")
        assert (
            subprocess.run([pyvirsh, "-c", uri, "create", str(xml)], capture_output=True, check=False).returncode == 0
        )
        try:
            out, err, rc = _on_a_terminal([pyvirsh, "-c", uri, "blockcopy", "cp", "vda", "--dest",
                                           str(tmp_path / "a.qcow2"), "--wait", "--pivot"])  # fmt: skip
            assert rc == 0 and out == "\nSuccessfully pivoted\n", (out, err)
            assert "\rBlock Copy: [" + "#" * 30 + "] 100 %" in err, repr(err)
            piped = subprocess.run([pyvirsh, "-c", uri, "blockcopy", "cp", "vda", "--dest", str(tmp_path / "b.qcow2"),
                                    "--wait", "--finish"], capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
            assert (piped.returncode, piped.stdout, piped.stderr) == (0, "\nSuccessfully copied\n", "")
        finally:
            subprocess.run([pyvirsh, "-c", uri, "destroy", "cp"], capture_output=True, check=False)


def test_a_restarted_daemon_takes_the_copy_over(
    qemu_root: Path,
    tmp_path: Path,
    virt_type: str,
    qmp_without_block_jobs: Callable[[Path, str, dict[str, Any]], None],
) -> None:
    """pyvirtd killed (SIGKILL) while a copy mirrors: the next one finds it in the status file and QEMU, and
    pivots it; a copy that QEMU cancelled while no daemon ran is concluded at the reconnect."""
    from pyvirt.daemon.instance import PrivateDaemon

    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    source, copy = _image(tmp_path / "src.qcow2"), tmp_path / "copy.qcow2"
    xml = tmp_path / "g.xml"
    xml.write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{source}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")

    def run(uri: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pyvirsh, "-c", uri, *argv], capture_output=True, text=True, timeout=120, check=False)

    daemon = PrivateDaemon(qemu_root).start()
    try:
        uri = daemon.uri("qemu:///system")
        assert run(uri, "create", str(xml)).returncode == 0
        started = run(uri, "blockcopy", "cp", "vda", "--dest", str(copy), "--wait")
        assert started.returncode == 0, started.stderr
        daemon.kill()
        daemon = PrivateDaemon(qemu_root).start()
        assert "ready='yes'" in run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert run(uri, "blockjob", "cp", "vda", "--raw").stdout.startswith(" type=Block Copy\n")
        pivoted = run(uri, "blockjob", "cp", "vda", "--pivot")
        assert pivoted.returncode == 0, pivoted.stderr
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert f"<source file='{copy}' index='2'/>" in live and "<mirror" not in live
        # a second copy, cancelled behind the daemon's back (QMP through its monitor socket is ours only while
        # no daemon runs): the next daemon concludes it as an abort
        again = run(uri, "blockcopy", "cp", "vda", "--dest", str(tmp_path / "again.qcow2"), "--wait")
        assert again.returncode == 0, again.stderr
        daemon.kill()
        monitor = next(qemu_root.rglob("cp.monitor"))
        qmp_without_block_jobs(monitor, "block-job-cancel", {"device": "copy-vda-libvirt-2-format"})
        daemon = PrivateDaemon(qemu_root).start()
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert f"<source file='{copy}' index='2'/>" in live and "<mirror" not in live, live
        assert run(uri, "blockjob", "cp", "vda").stdout == "No current block job for vda\n"
        again = run(uri, "blockcopy", "cp", "vda", "--dest", str(tmp_path / "third.qcow2"), "--wait", "--finish")
        assert again.returncode == 0, again.stderr  # the cancelled copy's nodes are gone: no duplicate names
    finally:
        run(daemon.uri("qemu:///system"), "destroy", "cp")
        daemon.stop()


def test_a_shallow_copy_shares_the_backing_chain(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base = _image(tmp_path / "base.qcow2")
    top, copy = tmp_path / "top.qcow2", tmp_path / "shallow.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(top)], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x33 8M 1M", str(top)], check=True, capture_output=True)
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>shallow</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{top}'/><backingStore type='file'><format type='qcow2'/>
<source file='{base}'/></backingStore><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    dom.create()
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    try:
        dom.block_copy("vda", _dest(copy), flags=TRANSIENT_JOB | 1)  # VIR_DOMAIN_BLOCK_COPY_SHALLOW
        _wait_for(events, 1, "READY")
        dom.block_job_abort("vda", ABORT_PIVOT)
        live = dom.xml_desc().replace('"', "'")
        assert f"<source file='{copy}' index='3'/>\n      <backingStore type='file' index='2'>" in live, live
        assert f"<source file='{base}'/>" in live.replace(" index='2'", "")
        nodes = _nodes(guest_monitor, dom)
        assert {"libvirt-3-format", "libvirt-2-format"} <= nodes and "libvirt-1-format" not in nodes, nodes
    finally:
        dom.destroy()
        dom.undefine()
    info = subprocess.run(["qemu-img", "info", "--output=json", str(copy)], capture_output=True, text=True, check=True)
    assert f'"backing-filename": "{base}"' in info.stdout, "the copy holds only the top image, over the same base"
    same = subprocess.run(["qemu-img", "compare", str(top), str(copy)], capture_output=True, text=True, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
