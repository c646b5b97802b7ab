"""Block pull and block commit on a real QEMU guest, along a three-image qcow2 chain.

A firmware-only guest is enough: QEMU streams and commits a disk's images
whether or not a guest OS uses them. Each image holds its own pattern, so after
a job the images that stay must read as the whole chain read before
(``qemu-io`` reads them back).
"""

from __future__ import annotations

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
            f"'{top}' in chain for '{top}'"  # fmt: skip
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
        assert str(exc.value) == f"invalid argument: could not find base image in chain for '{top}'"
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
        assert f"<mirror type='file' file='{base}' format='qcow2' job='active-commit' ready='yes'>" in live, live
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
