"""nodememstats, allocpages and node-memory-tune on the QEMU driver, against libvirtd 9.0's QEMU driver.

Both drivers read the same host: /proc/meminfo and the NUMA nodes' meminfo, the
huge page pools' ``nr_hugepages``, KSM's files under /sys/kernel/mm/ksm. Figures
that move between two reads (free memory, the page cache) are compared with a
read of /proc/meminfo made at the same time, within a tolerance; everything else
byte for byte, in one virsh run per tool. Pools and KSM settings a test changes
are put back as the test found them, whatever happens. The last test has Debian's
virsh call pyvirtd's QEMU driver.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing.virsh import run_line

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
needs_virsh = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
HUGEPAGES = Path("/sys/kernel/mm/hugepages")
KSM = Path("/sys/kernel/mm/ksm")
# the host's 2 MiB pool: the size these tests resize, restored afterwards
POOL_2M = HUGEPAGES / "hugepages-2048kB/nr_hugepages"


def _meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            out[m[1]] = int(m[2])
    return out


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"qemu:///embed?root={tmp_path_factory.mktemp('qemu-embed')}"


@pytest.fixture
def pool_2m_restored() -> Iterator[int]:
    """The host's 2 MiB pool size before the test, written back after it."""
    if not POOL_2M.exists():
        pytest.skip("this kernel has no 2 MiB huge pages")
    before = int(POOL_2M.read_text())
    try:
        yield before
    finally:
        POOL_2M.write_text(str(before))
        assert int(POOL_2M.read_text()) == before


def _check_stats(out: str, lines: list[str]) -> list[int]:
    """virsh's layout (``%-7s: %20llu KiB``) with the fields in libvirt's order; returns the figures."""
    got = out.splitlines()
    assert [g[:9] for g in got] == lines, out
    assert all(len(g) == 33 and g.endswith(" KiB") for g in got), out
    return [int(g[9:29]) for g in got]


@needs_virsh
def test_nodememstats_like_libvirtd(shared_libvirtd: str, ours: str) -> None:
    """One run per tool: the host's figures, cell 0's, then three refusals (past the last cell, negative, malformed)."""
    host = ["total  : ", "free   : ", "buffers: ", "cached : "]
    cell = ["total  : ", "free   : "]
    line = "nodememstats; nodememstats --cell 0; nodememstats --cell 64; nodememstats -2; nodememstats x"
    runs = []
    for tool, uri in (([VIRSH], shared_libvirtd), (PYVIRSH, ours)):
        before = _meminfo()
        out, err, rc = run_line(tool, uri, line)
        after = _meminfo()
        # each command's output, then virsh's blank line; the three refused ones print only that line
        host_out, cell_out, rest = out.split("\n\n", 2)
        assert rest == "\n\n\n", out
        total, free, buffers, cached = _check_stats(host_out, host)
        assert total == before["MemTotal"]
        for value, key in ((free, "MemFree"), (buffers, "Buffers"), (cached, "Cached")):
            low, high = sorted((before[key], after[key]))
            assert low - 65536 <= value <= high + 65536, (key, value, before[key], after[key])  # 64 MiB of churn
        node_total, _ = _check_stats(cell_out, cell)
        node0 = Path("/sys/devices/system/node/node0/meminfo")
        if node0.exists():
            assert f" {node_total} kB" in node0.read_text().splitlines()[0]
        runs.append((total, err, rc))
    assert runs[1] == runs[0]
    assert runs[1][1].startswith("error: Unable to get number of memory stats\nerror: cellNum in virHostMemGetStats")
    # pyvirt's own client against libvirtd: the count first, then exactly that many (libvirt's drivers want both)
    with pyvirt.open(shared_libvirtd) as remote:
        assert [f for f, _ in remote.get_memory_stats(0)] == ["total", "free"]


@needs_virsh
def test_node_memory_tune_like_libvirtd(shared_libvirtd: str, ours: str) -> None:
    """KSM's parameters (KSM is off on a test host, so its counters stand still between the two runs), then
    two refusals: a value the kernel rejects (libvirt says EPERM whatever the kernel said), a negative number."""
    if not KSM.is_dir():
        pytest.skip("this kernel has no KSM")
    line = "node-memory-tune; node-memory-tune --shm-merge-across-nodes 7; node-memory-tune --shm-pages-to-scan -1"
    theirs = run_line([VIRSH], shared_libvirtd, line)
    mine = run_line(PYVIRSH, ours, line)
    assert mine == theirs
    assert mine[0].startswith("Shared memory:\n\tshm_pages_to_scan ")
    assert f"\tshm_sleep_millisecs {int((KSM / 'sleep_millisecs').read_text())}\n" in mine[0]
    assert "error: failed to set shm_merge_across_nodes: Operation not permitted\n" in mine[1]


@needs_virsh
def test_node_memory_tune_sets_ksm(ours: str) -> None:
    if not (KSM / "sleep_millisecs").exists():
        pytest.skip("this kernel has no KSM")
    saved = {name: (KSM / name).read_text() for name in ("sleep_millisecs", "pages_to_scan")}
    try:
        wanted = int(saved["sleep_millisecs"]) + 7
        out, err, rc = run_line(
            PYVIRSH, ours, f"node-memory-tune --shm-sleep-millisecs {wanted} --shm-pages-to-scan 123"
        )
        assert (out, err, rc) == ("\n", "", 0)
        assert ((KSM / "sleep_millisecs").read_text(), (KSM / "pages_to_scan").read_text()) == (f"{wanted}\n", "123\n")
    finally:
        for name, value in saved.items():
            (KSM / name).write_text(value)
    assert {name: (KSM / name).read_text() for name in saved} == saved


@needs_virsh
def test_allocpages_like_libvirtd(shared_libvirtd: str, ours: str, pool_2m_restored: int) -> None:
    """One run per tool: four refusals, then the host's pool set, then grown on each NUMA cell's pool."""
    before = pool_2m_restored
    cells = len(list(Path("/sys/devices/system/node").glob("node[0-9]*")))
    line = (
        "allocpages 4 1; allocpages 2M 0 --cellno 64; allocpages 3M 0; allocpages 2M 1 --add --all --cellno 0; "
        f"allocpages 2M {before + 1}; allocpages 2048 1 --add --all"
    )
    runs = []
    for tool, uri in (([VIRSH], shared_libvirtd), (PYVIRSH, ours)):
        runs.append((run_line(tool, uri, line), int(POOL_2M.read_text())))
        POOL_2M.write_text(str(before))
    assert runs[1] == runs[0]
    (out, err, rc), count = runs[1]
    assert (out, rc, count) == ("\n" * 6, 0, before + 1 + cells)
    assert err.startswith("error: Operation not supported: system pages pool can't be modified\n")


@needs_virsh
def test_debian_virsh_through_pyvirtd(tmp_path: Path, pool_2m_restored: int) -> None:
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("qemu:///system")
        out, err, rc = run_line([VIRSH], uri, "nodememstats; node-memory-tune; allocpages 2M 0 --cellno 64")
        assert out.startswith("total  : ") and "\nShared memory:\n\tshm_pages_to_scan " in out
        assert (err, rc) == ("error: internal error: start cell 64 out of range (0-0)\n", 1)
        out, err, rc = run_line([VIRSH], uri, f"allocpages 2M {pool_2m_restored + 1}")
        assert (err, rc) == ("", 0) and int(POOL_2M.read_text()) == pool_2m_restored + 1
        with pyvirt.open(uri) as remote:  # pyvirt's own client, over the same procedures
            assert [f for f, _ in remote.get_memory_stats(0)] == ["total", "free"]
            assert remote.alloc_pages({2048: pool_2m_restored}, -1, 1, 1) == 1
            assert int(POOL_2M.read_text()) == pool_2m_restored
            if (KSM / "pages_to_scan").exists():
                assert remote.get_memory_parameters()[0].field == "shm_pages_to_scan"
            with pytest.raises(pyvirt.Error) as exc:
                remote.get_memory_stats(-5)
            assert exc.value.code == ErrorCode.INVALID_ARG
        with pyvirt.open_readonly(uri) as ro:  # reads allowed, changes refused as libvirtd's ACLs say
            assert ro.get_memory_stats()[0][0] == "total"
            with pytest.raises(pyvirt.Error) as exc:
                ro.alloc_pages({2048: 0}, -1, 1, 1)
            assert exc.value.code == ErrorCode.OPERATION_DENIED
