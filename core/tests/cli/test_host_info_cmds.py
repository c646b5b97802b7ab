"""maxvcpus, freecell, nodecpustats and sysinfo: what virsh 9.0 prints on libvirt's test driver, byte for byte.

A script that reads ``virsh freecell --all`` or ``virsh nodecpustats`` on
``test:///default`` gets libvirt's test driver's fixed figures (32 vCPUs, two
NUMA cells, four CPU counters, a Lenovo BIOS); pyvirsh must print the same
lines, the same errors in the same order, and exit the same way. A node file
(``test:///PATH.xml``) has no NUMA cells in libvirt's test driver, which
changes what freecell answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

import pyvirt
from pyvirt.errors import ErrorCode

needs_virsh = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)


def _both(line: str, uri: str = "test:///default") -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    assert VIRSH is not None
    return run_line(PYVIRSH, line, uri), run_line([VIRSH], line, uri)


@needs_virsh
@pytest.mark.parametrize(
    "line",
    [
        "maxvcpus",
        "maxvcpus --type kvm",
        "maxvcpus qemu",
        "maxvcpus --type ''",  # vshCommandOptStringReq: an empty value is refused before any call
        "freecell",
        "freecell --all",
        "freecell --cellno 1",
        "freecell 0",
        "freecell --cellno 2",  # the test driver's "Range exceeds available cells"
        "freecell --cellno -1",  # the library refuses a negative start cell
        "freecell --cellno ' 1'",  # strtol's leading white space
        "freecell --cellno 1x",
        "freecell --all --cellno 0",
        "nodecpustats",
        "nodecpustats --cpu 3",
        "nodecpustats 99",  # the test driver checks no CPU number
        "nodecpustats --cpu -2",  # the library's cpuNum check, after virsh's own line
        "nodecpustats --cpu abc",
        "freepages --all",
        "freepages --all --pagesize 2M",
        "freepages --all --pagesize 1KB",  # 1000 bytes: rounded up to 1 KiB
        "freepages --cellno 0 --pagesize 4",
        "freepages 1 8",
        "freepages --cellno -1 --pagesize 1500b",
        "freepages --cellno 7 --pagesize 4194303",  # the test driver checks neither cell nor size
        "freepages --cellno 0 --pagesize 4194304",  # over UINT_MAX bytes: virScaleInteger's overflow
        "freepages --cellno 0 --pagesize 4X",
        "freepages --cellno 0 --pagesize -1",
        "freepages --all --cellno 0 --pagesize 4X",  # exclusive options first
        "freepages --cellno 0",
        "freepages --cellno -2",
        "freepages",
        "cpu-models x86_64",  # libvirt's CPU map, in its include order
        "cpu-models ppc64le",
        "cpu-models aarch64",  # a CPU driver without a model list: any model is accepted
        "cpu-models mips",  # an architecture no CPU driver handles
        "cpu-models bogus",  # no architecture at all
        "cpu-models none",
        "sysinfo",
        "sysinfo extra",
        "help maxvcpus",
        "help freecell",
        "help nodecpustats",
        "help sysinfo",
        "help cpu-models",
        "help freepages",
    ],
)
def test_like_virsh_on_test_default(line: str) -> None:
    mine, virsh = _both(line)
    assert mine == virsh


@needs_virsh
def test_percent_is_the_change_over_one_second_as_virsh_prints_it() -> None:
    """The test driver's counters never move, so every share is 0/0: virsh prints glibc's "-nan"."""
    mine, virsh = _both("nodecpustats --percent")
    assert mine == virsh
    assert mine[0].splitlines()[0] == "usage:           -nan%"


@needs_virsh
@pytest.mark.parametrize(
    "line", ["freecell", "freecell --all", "freecell --cellno 0", "freepages --all", "maxvcpus", "sysinfo"]
)
def test_a_node_file_has_no_numa_cells(line: str, tmp_path: Path) -> None:
    """testOpenFromFile sets no cells: no free memory (a failure without a cause), no cell to ask."""
    node = tmp_path / "node.xml"
    node.write_text("<node/>\n")
    mine, virsh = _both(line, f"test://{node}")
    assert mine == virsh


def test_the_library_checks_arguments_before_the_driver() -> None:
    with pyvirt.open("test:///default") as conn:
        with pytest.raises(pyvirt.Error) as exc:
            conn.get_cells_free_memory(0, 0)
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert str(exc.value.message) == "maxCells in virNodeGetCellsFreeMemory must be greater than zero"
        with pytest.raises(pyvirt.Error) as exc:
            conn.get_cpu_stats(-3)
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert conn.get_cells_free_memory(0, 5) == [2048 * 1024, 4096 * 1024]
        assert conn.get_cells_free_memory(1, 1) == [4096 * 1024]
        assert conn.get_free_memory() == 3072 * 1024
        assert [f for f, _ in conn.get_cpu_stats()] == ["user", "kernel", "idle", "iowait"]
        assert conn.get_free_pages([4, 2048], 0, 2) == [19, 45, 97, 201]
        with pytest.raises(pyvirt.Error) as exc:
            conn.get_free_pages([], 0, 1)
        assert str(exc.value.message) == "npages in virNodeGetFreePages must not be zero"
        with pytest.raises(pyvirt.Error) as exc:
            conn.get_free_pages([4], 0, 0)
        assert str(exc.value.message) == "cellCount in virNodeGetFreePages must not be zero"
        # libvirt's counter is a C int, 13 * 2**n - 7 after n steps: it wraps past 2**31 (the 28th count on) and
        # is stored sign-extended in an unsigned long long, which virsh prints with %lld
        wrapped = [((13 * 2**n - 7 + 2**31) % 2**32 - 2**31) % 2**64 for n in range(1, 33)]
        assert conn.get_free_pages([4] * 32, 0, 1) == wrapped
        assert wrapped[26] == 1744830457 and wrapped[27] == 2**64 - 805306375
        with pytest.raises(pyvirt.Error) as exc:
            conn.get_sysinfo(1)
        assert exc.value.code == ErrorCode.INVALID_ARG
        assert str(exc.value.message) == "unsupported flags (0x1) in function testConnectGetSysinfo"
