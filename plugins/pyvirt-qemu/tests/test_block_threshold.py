"""A disk's write threshold on a real QEMU guest: ``domblkthreshold``, then block-threshold when writes pass it.

The writes are real block-layer writes to the guest's disk, made by QEMU's
own ``qemu-io`` (HMP, on the disk's device) because the firmware-only guest
that runs under KVM here writes nothing itself; QEMU then raises
BLOCK_WRITE_THRESHOLD as it would for the guest's writes. The comparison runs
the same ``virsh`` session on Debian's libvirtd 9.0 and on pyvirtd.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode

MIB = 1 << 20
STATS_BLOCK = 32  # VIR_DOMAIN_STATS_BLOCK


def _guest(virt_type: str, image: Path) -> str:
    return f"""<domain type='{virt_type}'><name>th</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


def _image(path: Path) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)


def _events(seen: list[Any], count: int) -> list[tuple[str, str | None, int, int]]:
    """The events once ``count`` arrived (and a moment for any more); with 0, what came within a second."""
    deadline = time.monotonic() + (10 if count else 1)
    while (len(seen) < count or not count) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # and no more than these
    return [(ev.dev, ev.path, ev.threshold, ev.excess) for ev in seen]


def test_writes_past_the_threshold_raise_block_threshold_once(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    image = tmp_path / "th.qcow2"
    _image(image)
    dom = conn.define_domain(_guest(virt_type, image))
    with pytest.raises(pyvirt.Error) as err:
        dom.set_block_threshold("vda", MIB)
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID,
        "Requested operation is not valid: domain is not running",
    )
    dom.create()
    seen: list[Any] = []
    conn.register_event("block-threshold", seen.append)

    def write(offset: int, length: int) -> None:
        out = guest_monitor(dom).execute(
            "human-monitor-command",
            {"command-line": f'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write {offset} {length}"'},
        )
        assert "rror" not in out, out  # (qemu-io reports success on QEMU's stdout, not to the monitor)

    # by target: libvirt names the disk and its top image (index 1 here)
    dom.set_block_threshold("vda", MIB)
    assert dict(dom.get_stats(STATS_BLOCK))["block.0.threshold"] == MIB  # domstats shows what QEMU holds
    write(0, 2 * MIB)
    got = _events(seen, 2)
    assert [g[0] for g in got] == ["vda", "vda[1]"], got
    for _dev, path, threshold, excess in got:
        assert (path, threshold) == (str(image), MIB) and excess > 0, got
    # it fired once: QEMU forgot it
    seen.clear()
    write(4 * MIB, MIB)
    assert _events(seen, 0) == []
    assert "block.0.threshold" not in dict(dom.get_stats(STATS_BLOCK))
    # by index: only the indexed event. The threshold counts in the image file (the storage node), where
    # qcow2 puts each new cluster at the end: ask for the end of the file as it is now.
    end = image.stat().st_size
    dom.set_block_threshold("vda[1]", end)
    write(8 * MIB, MIB)
    got = _events(seen, 1)
    assert [g[:3] for g in got] == [("vda[1]", str(image), end)], got
    # 0 clears it
    seen.clear()
    dom.set_block_threshold("vda", image.stat().st_size)
    dom.set_block_threshold("vda", 0)
    write(16 * MIB, MIB)
    assert _events(seen, 0) == []
    for dev, message in (
        ("vdz", "invalid argument: failed to find disk 'vdz'"),
        ("vda[7]", "invalid argument: failed to find disk 'vda[7]'"),
        ("vda[x", "invalid argument: failed to parse block device 'vda[x'"),
    ):
        with pytest.raises(pyvirt.Error) as err:
            dom.set_block_threshold(dev, MIB)
        assert (err.value.code, err.value.message) == (ErrorCode.INVALID_ARG, message)
    dom.destroy()


def _virsh_session(virsh: str, uri: str, work: Path) -> list[tuple[str, int, str, str]]:
    env = dict(os.environ, LC_ALL="C")
    out = []
    steps = ["define g.xml", "domblkthreshold th vda 1M", "start th", "domblkthreshold th vda 1M",
             "domblkthreshold th vda[1] 2MiB", "domblkthreshold th vda 0", "domblkthreshold th vdz 1",
             "domblkthreshold th vda[2] 1", "domblkthreshold th vda 1X", "destroy th", "undefine th"]  # fmt: skip
    for step in steps:
        argv = [virsh, "-c", uri, *step.replace("g.xml", str(work / "g.xml")).split()]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        out.append((step, done.returncode, done.stdout.replace(str(work), "W"), done.stderr))
    return out


def test_virsh_sets_thresholds_on_pyvirtd_as_on_libvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    from pyvirt.daemon.instance import PrivateDaemon

    results = {}
    # short directory names: pyvirtd's socket path must fit a sockaddr_un (108 bytes)
    for side, short in (("libvirtd", "lv"), ("pyvirtd", "pd"), ("pyvirsh on pyvirtd", "ps")):
        work = tmp_path / short
        work.mkdir()
        _image(work / "th.qcow2")
        (work / "g.xml").write_text(_guest(virt_type, work / "th.qcow2"))
        if side == "libvirtd":
            results[side] = _virsh_session("virsh", shared_libvirtd, work)
        else:
            virsh = "virsh" if side == "pyvirtd" else str(Path(sys.executable).with_name("pyvirsh"))
            with PrivateDaemon(qemu_root / short) as daemon:
                results[side] = _virsh_session(virsh, daemon.uri("qemu:///system"), work)
    theirs = results.pop("libvirtd")
    assert [rc for _, rc, _, _ in theirs] == [0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0], theirs  # it compares
    for side, ours in results.items():
        for expected, got in zip(theirs, ours, strict=True):
            assert got == expected, side
