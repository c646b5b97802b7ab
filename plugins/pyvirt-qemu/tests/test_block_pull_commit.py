"""Block pull and block commit on a real QEMU guest, along a three-image qcow2 chain.

A firmware-only guest is enough: QEMU streams and commits a disk's images
whether or not a guest OS uses them. Each image holds its own pattern, so after
a job the images that stay must read as the whole chain read before
(``qemu-io`` reads them back).
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

PULL, COMMIT, ACTIVE_COMMIT = 1, 3, 4
COMPLETED, CANCELED, READY = 0, 2, 3
COMMIT_SHALLOW, COMMIT_DELETE, COMMIT_ACTIVE = 1, 2, 4
REBASE_RELATIVE = 16
ABORT_PIVOT = 2


def _chain(tmp: Path) -> tuple[Path, Path, Path]:
    """base <- mid <- top, each with one MiB of its own pattern at its own offset."""
    base, mid, top = tmp / "base.qcow2", tmp / "mid.qcow2", tmp / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
    for upper, lower in ((mid, base), (top, mid)):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(lower), "-F", "qcow2", str(upper)],
                       check=True)  # fmt: skip
    for image, pattern, offset in ((base, 0x11, 0), (mid, 0x22, 1), (top, 0x33, 2)):
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} {offset}M 1M", str(image)], check=True,
                       capture_output=True)  # fmt: skip
    return base, mid, top


def _reads(image: Path, pattern: int, offset: int) -> bool:
    run = subprocess.run(["qemu-io", "-r", "-f", "qcow2", "-c", f"read -P {pattern} {offset}M 1M", str(image)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return run.returncode == 0 and "Pattern verification failed" not in run.stdout


def _guest(conn: pyvirt.Connection, virt_type: str, base: Path, mid: Path, top: Path) -> pyvirt.Domain:
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>chain</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{top}'/>
<backingStore type='file'><format type='qcow2'/><source file='{mid}'/>
<backingStore type='file'><format type='qcow2'/><source file='{base}'/></backingStore></backingStore>
<target dev='vda' bus='virtio'/></disk></devices></domain>""")
    dom.create()
    return dom


def _wait_for(events: list[Any], count: int, what: str) -> None:
    deadline = time.monotonic() + 30
    while len(events) < count:
        assert time.monotonic() < deadline, f"no {what} event came: {events}"
        time.sleep(0.05)


def _nodes(guest_monitor: Callable[[pyvirt.Domain], Any], dom: pyvirt.Domain) -> set[str]:
    return {n["node-name"] for n in guest_monitor(dom).execute("query-named-block-nodes", {"flat": True})}


def _live(dom: pyvirt.Domain) -> str:
    return dom.xml_desc().replace('"', "'")


def test_pull_to_a_base_then_of_the_whole_chain(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base, mid, top = _chain(tmp_path)
    dom = _guest(conn, virt_type, base, mid, top)
    by_path: list[Any] = []
    by_target: list[Any] = []
    conn.register_event("block-job", by_path.append)
    conn.register_event("block-job-2", by_target.append)
    try:
        assert "<backingStore type='file' index='2'>" in _live(dom)
        with pytest.raises(Error) as exc:
            dom.block_rebase("vda", str(tmp_path / "elsewhere.qcow2"), 0, 0)
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert str(exc.value) == f"invalid argument: could not find image '{tmp_path / 'elsewhere.qcow2'}' beneath " \
            f"'{top}' in chain for 'vda'"  # fmt: skip
        with pytest.raises(Error) as exc:  # the images name their backing files by absolute paths
            dom.block_rebase("vda", str(base), 0, REBASE_RELATIVE)
        assert exc.value.code == ErrorCode.OPERATION_INVALID
        assert str(exc.value) == "Requested operation is not valid: can't keep relative backing relationship"
        dom.block_rebase("vda", str(base), 0, 0)  # pull mid into top, down to base
        _wait_for(by_target, 1, "COMPLETED")
        assert [(e.disk, e.type, e.status) for e in by_target] == [("vda", PULL, COMPLETED)]
        assert [(e.disk, e.type, e.status) for e in by_path] == [(str(top), PULL, COMPLETED)]
        live = _live(dom)
        assert str(mid) not in live, live
        assert f"<source file='{top}' index='1'/>\n      <backingStore type='file' index='3'>" in live, live
        nodes = _nodes(guest_monitor, dom)
        assert "libvirt-3-format" in nodes and not {"libvirt-2-format", "libvirt-2-storage"} & nodes, nodes
        assert str(mid) not in dom.xml_desc(2), "the definition spelled the chain out: it follows"
        dom.block_pull("vda")  # the rest: top holds everything, and its chain ends
        _wait_for(by_target, 2, "COMPLETED")
        live = _live(dom)
        assert f"<source file='{top}' index='1'/>\n      <backingStore/>" in live, live
        assert "libvirt-3-format" not in _nodes(guest_monitor, dom)
        assert dom.block_job_info("vda") == (0, 0, 0, 0)
    finally:
        dom.destroy()
        dom.undefine()
    assert all(_reads(top, p, o) for p, o in ((0x11, 0), (0x22, 1), (0x33, 2))), "top holds the whole chain"
    info = subprocess.run(["qemu-img", "info", "--output=json", str(top)], capture_output=True, text=True, check=True)
    assert "backing-filename" not in info.stdout


def test_commit_of_a_middle_image_and_its_refusals(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base, mid, top = _chain(tmp_path)
    dom = _guest(conn, virt_type, base, mid, top)
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    try:
        with pytest.raises(Error) as exc:
            dom.block_commit("vda")
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert str(exc.value) == "invalid argument: commit of 'vda' active layer requires active flag"
        with pytest.raises(Error) as exc:
            dom.block_commit("vda", top=str(mid), flags=COMMIT_ACTIVE)
        assert str(exc.value) == f"invalid argument: active commit requested but '{mid}' is not active"
        with pytest.raises(Error) as exc:
            dom.block_commit("vda", top=str(base))
        assert str(exc.value) == "invalid argument: could not find base image in chain for 'vda'"
        assert not events and "<mirror" not in _live(dom), "a refused commit starts nothing"
        dom.block_commit("vda", top=str(mid), flags=COMMIT_SHALLOW | COMMIT_DELETE)  # mid into base, then gone
        _wait_for(events, 1, "COMPLETED")
        assert [(e.disk, e.type, e.status) for e in events] == [("vda", COMMIT, COMPLETED)]
        live = _live(dom)
        assert str(mid) not in live
        assert f"<source file='{top}' index='1'/>\n      <backingStore type='file' index='3'>" in live, live
        assert not {"libvirt-2-format", "libvirt-2-storage"} & _nodes(guest_monitor, dom)
        assert not mid.exists(), "--delete removes what left the chain"
        assert base.exists() and top.exists()
    finally:
        dom.destroy()
        dom.undefine()
    assert _reads(base, 0x22, 1) and _reads(base, 0x11, 0), "mid's data is in base now"


def test_active_commit_waits_ready_then_pivots_to_the_base(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base, mid, top = _chain(tmp_path)
    dom = _guest(conn, virt_type, base, mid, top)
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    try:
        dom.block_commit("vda", flags=COMMIT_ACTIVE)
        _wait_for(events, 1, "READY")
        assert [(e.disk, e.type, e.status) for e in events] == [("vda", ACTIVE_COMMIT, READY)]
        assert dom.block_job_info("vda")[0] == ACTIVE_COMMIT
        live = _live(dom)
        assert (
            "<mirror type='file' job='active-commit' ready='yes'>\n        <format type='qcow2'/>\n"
            f"        <source file='{base}' index='3'/>\n      </mirror>"
        ) in live, live
        with pytest.raises(Error) as exc:
            dom.block_pull("vda")
        assert exc.value.code == ErrorCode.BLOCK_COPY_ACTIVE
        dom.block_job_abort("vda", ABORT_PIVOT)
        _wait_for(events, 2, "COMPLETED")
        assert [(e.type, e.status) for e in events][1] == (ACTIVE_COMMIT, COMPLETED)
        live = _live(dom)
        assert f"<source file='{base}' index='3'/>\n      <backingStore/>" in live, live
        assert str(top) not in live and str(mid) not in live and "<mirror" not in live
        nodes = _nodes(guest_monitor, dom)
        assert "libvirt-3-format" in nodes and not {"libvirt-1-format", "libvirt-2-format"} & nodes, nodes
        config = dom.xml_desc(2).replace('"', "'")
        assert f"<source file='{base}'/>" in config and str(top) not in config, config
    finally:
        dom.destroy()
        dom.undefine()
    assert all(_reads(base, p, o) for p, o in ((0x11, 0), (0x22, 1), (0x33, 2))), "base holds the whole chain"


def test_an_active_commit_aborted_keeps_the_overlay(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base, mid, top = _chain(tmp_path)
    dom = _guest(conn, virt_type, base, mid, top)
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    before = _nodes(guest_monitor, dom)
    xml_before = _live(dom)
    try:
        dom.block_commit("vda", flags=COMMIT_ACTIVE)
        _wait_for(events, 1, "READY")
        dom.block_job_abort("vda")
        assert [(e.type, e.status) for e in events] == [(ACTIVE_COMMIT, READY), (ACTIVE_COMMIT, CANCELED)]
        assert _live(dom) == xml_before, "the chain is as it was"
        assert _nodes(guest_monitor, dom) == before
    finally:
        dom.destroy()
        dom.undefine()


def test_a_slow_pull_shows_its_progress_and_an_abort_leaves_the_chain(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    base, mid, top = _chain(tmp_path)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x44 4M 8M", str(mid)], check=True, capture_output=True)
    dom = _guest(conn, virt_type, base, mid, top)
    events: list[Any] = []
    conn.register_event("block-job-2", events.append)
    before, xml_before = _nodes(guest_monitor, dom), _live(dom)
    try:
        dom.block_pull("vda", 1)  # 1 MiB/s for 10 MiB of data: the pull runs for seconds
        kind, bandwidth, cur, end = dom.block_job_info("vda", 1)
        assert (kind, bandwidth) == (PULL, 1 << 20) and cur < end
        dom.block_job_set_speed("vda", 2)
        assert dom.block_job_info("vda")[:2] == (PULL, 2)
        with pytest.raises(Error) as exc:
            dom.block_job_abort("vda", ABORT_PIVOT)
        assert (
            str(exc.value) == "block copy still active: block job 'pull-vda-libvirt-1-format' not ready for pivot yet"
        )
        dom.block_job_abort("vda")  # synchronous: the job is gone when the call returns
        assert [(e.type, e.status) for e in events] == [(PULL, CANCELED)]
        assert dom.block_job_info("vda") == (0, 0, 0, 0)
        assert _live(dom) == xml_before and _nodes(guest_monitor, dom) == before, "the chain is as it was"
    finally:
        dom.destroy()
        dom.undefine()
    info = subprocess.run(["qemu-img", "info", "--output=json", str(top)], capture_output=True, text=True, check=True)
    assert f'"backing-filename": "{mid}"' in info.stdout, "top still stands on mid"


def test_a_restarted_daemon_takes_pulls_and_commits_over(
    qemu_root: Path,
    tmp_path: Path,
    virt_type: str,
    qmp_without_block_jobs: Callable[[Path, str, dict[str, Any]], None],
) -> None:
    """pyvirtd killed (SIGKILL) during jobs: a commit that completed while no daemon ran is concluded at the
    reconnect; a pull and an active commit still running are followed again by the next daemon to their end."""
    import sys

    from pyvirt.daemon.instance import PrivateDaemon

    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    base, mid, top = _chain(tmp_path)
    low = tmp_path / "low.qcow2"  # base <- low <- mid <- top, low and mid with 8 MiB each: slow at 1 MiB/s
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(low)], check=True)
    subprocess.run(["qemu-img", "rebase", "-u", "-b", str(low), "-F", "qcow2", str(mid)], check=True)
    for image in (low, mid):
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x44 4M 8M", str(image)], check=True,
                       capture_output=True)  # fmt: skip
    xml = tmp_path / "g.xml"
    xml.write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{top}'/>
<backingStore type='file'><format type='qcow2'/><source file='{mid}'/>
<backingStore type='file'><format type='qcow2'/><source file='{low}'/>
<backingStore type='file'><format type='qcow2'/><source file='{base}'/></backingStore></backingStore></backingStore>
<target dev='vda' bus='virtio'/></disk></devices></domain>""")

    def run(uri: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pyvirsh, "-c", uri, *argv], capture_output=True, text=True, timeout=120, check=False)

    def wait_until(what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not done():
            assert time.monotonic() < deadline, f"{what} never came"
            time.sleep(0.2)

    daemon = PrivateDaemon(qemu_root).start()
    try:
        uri = daemon.uri("qemu:///system")
        assert run(uri, "create", str(xml)).returncode == 0
        started = run(uri, "blockcommit", "cp", "vda", "--top", str(low), "--shallow", "--bandwidth", "1")
        assert started.returncode == 0, started.stderr
        daemon.kill()
        qmp_without_block_jobs(next(qemu_root.rglob("cp.monitor")), "block-job-set-speed", {"device": "commit-vda-libvirt-1-format",
                                                                        "speed": 0})  # fmt: skip
        daemon = PrivateDaemon(qemu_root).start()  # the commit completed meanwhile
        assert run(uri, "blockjob", "cp", "vda").stdout == "No current block job for vda\n"
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert str(low) not in live and "<backingStore type='file' index='4'>" in live, live

        started = run(uri, "blockpull", "cp", "vda", "--base", str(base), "--bandwidth", "1")
        assert started.returncode == 0, started.stderr
        daemon.kill()
        daemon = PrivateDaemon(qemu_root).start()
        assert run(uri, "blockjob", "cp", "vda", "--raw").stdout.startswith(" type=Block Pull\n")
        assert run(uri, "blockjob", "cp", "vda", "--bandwidth", "1000").returncode == 0
        wait_until("the pull's end", lambda: run(uri, "blockjob", "cp", "vda").stdout.startswith("No current"))
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert str(mid) not in live and f"<source file='{top}' index='1'/>" in live, live

        started = run(uri, "blockcommit", "cp", "vda", "--active", "--bandwidth", "1")
        assert started.returncode == 0, started.stderr
        daemon.kill()
        daemon = PrivateDaemon(qemu_root).start()
        shown = run(uri, "blockjob", "cp", "vda", "--raw").stdout
        assert shown.startswith(" type=Active Block Commit\n"), shown
        assert run(uri, "blockjob", "cp", "vda", "--bandwidth", "1000").returncode == 0
        wait_until("READY", lambda: "ready='yes'" in run(uri, "dumpxml", "cp").stdout.replace('"', "'"))
        pivoted = run(uri, "blockjob", "cp", "vda", "--pivot")
        assert pivoted.returncode == 0, pivoted.stderr
        live = run(uri, "dumpxml", "cp").stdout.replace('"', "'")
        assert f"<source file='{base}' index='4'/>" in live and str(top) not in live and "<mirror" not in live, live
    finally:
        run(daemon.uri("qemu:///system"), "destroy", "cp")
        daemon.stop()
    assert all(_reads(base, p, o) for p, o in ((0x11, 0), (0x22, 1), (0x33, 2), (0x44, 4))), "base holds it all"


def test_images_that_leave_the_chain_get_their_owner_back() -> None:
    """QEMU running as +4242 writes into base only because the chain was labelled for it; when the disk's own
    image leaves the chain (an active commit) it gets its remembered owner back, as in libvirt."""
    import os
    import shutil
    import tempfile

    if os.geteuid() != 0 or not shutil.which("qemu-system-x86_64"):
        pytest.skip("needs root and qemu-system-x86 to start QEMU under another identity")
    where = Path(tempfile.mkdtemp(prefix="pyvirt-commit-", dir="/var/tmp"))  # pytest's tmp is root's alone
    where.chmod(0o755)
    try:
        base, mid, top = _chain(where)
        for image in (base, mid, top):
            os.chown(image, 1234, 1235)
        owner = lambda image: (image.stat().st_uid, image.stat().st_gid)  # noqa: E731
        with pyvirt.open(f"qemu:///embed?root={where / 'embed'}") as conn:
            dom = conn.define_domain(f"""<domain type='qemu'><name>labelled</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{top}'/>
<backingStore type='file'><format type='qcow2'/><source file='{mid}'/>
<backingStore type='file'><format type='qcow2'/><source file='{base}'/></backingStore></backingStore>
<target dev='vda' bus='virtio'/></disk></devices>
<seclabel type='static' model='dac' relabel='yes'><label>+4242:+4242</label></seclabel></domain>""")
            dom.create()
            try:
                events: list[Any] = []
                conn.register_event("block-job-2", events.append)
                assert [owner(i) for i in (base, mid, top)] == [(4242, 4242)] * 3
                dom.block_commit("vda", top=str(mid))
                _wait_for(events, 1, "COMPLETED")
                assert [(e.type, e.status) for e in events] == [(COMMIT, COMPLETED)]
                # a backing layer was read-only to the guest: libvirt never gives it back (others may use it)
                assert owner(mid) == (4242, 4242), "mid left the chain as libvirt leaves it"
                dom.block_commit("vda", flags=COMMIT_ACTIVE)
                _wait_for(events, 2, "READY")
                dom.block_job_abort("vda", ABORT_PIVOT)
                assert events[-1].status == COMPLETED
                assert owner(top) == (1234, 1235), "the guest's own image left the chain: its owner is back"
                assert owner(base) == (4242, 4242), "the guest runs on base now"
            finally:
                dom.destroy()
                dom.undefine()
        assert all(_reads(base, p, o) for p, o in ((0x11, 0), (0x22, 1), (0x33, 2))), "QEMU wrote it all into base"
    finally:
        shutil.rmtree(where, ignore_errors=True)


_VIRSH_STEPS = [
    "blockpull cp vda --base {w}/nosuch.qcow2",
    "blockpull cp vda --base {w}/mid1.qcow2 --wait --verbose",
    "blockjob cp vda --info",
    "blockcommit cp vda --wait",
    "blockcommit cp vda --top {w}/mid1.qcow2 --wait --verbose",
    "blockcommit cp vda --active --wait",
    "blockjob cp vda --abort",
    "blockcommit cp vda --keep-overlay --bandwidth 100",
    "blockcommit cp vda --pivot --verbose",
    "blockcommit cp vda --active",
    "blockjob cp vda",
]


def _disk_xml(uri: str, env: dict[str, str], work: Path, *flags: str) -> str:
    import re

    dumped = subprocess.run(["virsh", "-c", uri, "dumpxml", "cp", *flags], capture_output=True, text=True, env=env,
                            check=False).stdout  # fmt: skip
    disk = re.search(r"<disk .*?</disk>", dumped, re.S)
    return disk[0].replace(str(work), "W") if disk else ""


def _virsh_session(tool: str, uri: str, work: Path) -> list[tuple[str, int, str, str]]:
    """A persistent guest on the chain, each step's outputs and the disk's live XML after it."""
    import os

    env = dict(os.environ, LC_ALL="C")
    for step in ("define", "start"):
        target = str(work / "g.xml") if step == "define" else "cp"
        assert subprocess.run([tool, "-c", uri, step, target], capture_output=True, check=False).returncode == 0
    events = subprocess.Popen([tool, "-c", uri, "event", "cp", "--event", "block-job-2", "--loop", "--timeout", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    out = []
    try:
        time.sleep(1)  # registered before the first step
        for step in _VIRSH_STEPS:
            done = subprocess.run([tool, "-c", uri, *step.format(w=work).split()], capture_output=True, text=True,
                                  timeout=120, env=env, check=False)  # fmt: skip
            out.append((step, done.returncode, done.stdout.replace(str(work), "W"),
                        done.stderr.replace(str(work), "W")))  # fmt: skip
            out.append((f"the disk after {step}", 0, _disk_xml(uri, env, work), ""))
        out.append(("the defined disk", 0, _disk_xml(uri, env, work, "--inactive"), ""))
    finally:
        for step in ("destroy", "undefine"):
            subprocess.run(["virsh", "-c", uri, step, "cp"], capture_output=True, env=env, check=False)
        time.sleep(1)
        events.terminate()
        lines, _ = events.communicate(timeout=30)
    out.append(("events", 0, lines.replace(str(work), "W"), ""))
    return out


def test_debian_virsh_sees_from_pyvirtd_what_libvirtd_shows(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """Pull, commit and active commit with pivot on a four-image chain: outputs, errors, the live and persistent
    chains afterwards and the BLOCK_JOB_2 events, line for line with libvirtd 9.0 (virsh and pyvirsh clients)."""
    import re
    import sys

    from pyvirt.daemon.instance import PrivateDaemon

    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    results = {}
    for side in ("libvirt", "pyvirt", "pyvirsh"):
        work = tmp_path / side
        work.mkdir()
        names = ["base", "mid1", "mid2", "top"]
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "base.qcow2"), "16M"], check=True)
        for lower, upper in itertools.pairwise(names):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(work / f"{lower}.qcow2"), "-F",
                            "qcow2", str(work / f"{upper}.qcow2")], check=True)  # fmt: skip
        chain = ""
        for name in names[:-1]:
            chain = f"<backingStore type='file'><format type='qcow2'/><source file='{work}/{name}.qcow2'/>{chain}" \
                "</backingStore>"  # fmt: skip
        (work / "g.xml").write_text(f"""<domain type='{virt_type}'><name>cp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='{work}/top.qcow2'/>{chain}<target dev='vda' bus='virtio'/></disk>
</devices></domain>""")
        if side == "libvirt":
            results[side] = _virsh_session("virsh", shared_libvirtd, work)
        else:  # Debian's virsh, then pyvirsh, against pyvirtd
            with PrivateDaemon(qemu_root / side) as daemon:
                results[side] = _virsh_session(
                    "virsh" if side == "pyvirt" else pyvirsh, daemon.uri("qemu:///system"), work
                )
    theirs = results["libvirt"]
    assert "Successfully pivoted" in theirs[16][2], theirs  # the comparison compares
    for client in ("pyvirt", "pyvirsh"):
        for (step, *expected), (_, *got) in zip(theirs, results[client], strict=True):
            if "--verbose" in step:  # how many progress lines depends on timing (\r read as newline)
                expected[2], got[2] = expected[2].splitlines()[-1:], got[2].splitlines()[-1:]
            if step.startswith("the ") and "disk" in step:
                # libvirt probes the bottom image at start and closes the chain below it with <backingStore/>;
                # pyvirt takes the chain as defined (a start-time difference, not the jobs')
                expected[1] = re.sub(r"\n {8,}<backingStore/>", "", expected[1])
            assert got == expected, f"{'virsh' if client == 'pyvirt' else 'pyvirsh'} {step}"
