"""pyvirt.util.hostmem on made-up kernel trees: the cases this host cannot show (two NUMA nodes, no NUMA
sysfs, a kernel without some KSM files), read and written the way libvirt's virhostmem.c does.

The real host's files are read by the drivers' tests, which compare with libvirtd
(plugins/pyvirt-qemu/tests/test_host_memory.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin.typed_params import TypedParam, TypedParamType
from pyvirt.util import hostmem

MEMINFO = """MemTotal:       16000000 kB
MemFree:         8000000 kB
MemAvailable:   12000000 kB
Buffers:          100000 kB
Cached:          2000000 kB
SwapCached:            0 kB
"""


def _tree(root: Path, nodes: int, sizes: tuple[int, ...] = (2048, 1048576)) -> Path:
    (root / "proc").mkdir(parents=True)
    (root / "proc/meminfo").write_text(MEMINFO)
    for size in sizes:
        pool = root / f"sys/kernel/mm/hugepages/hugepages-{size}kB"
        pool.mkdir(parents=True)
        (pool / "nr_hugepages").write_text("0\n")
    for n in range(nodes):
        node = root / f"sys/devices/system/node/node{n}"
        node.mkdir(parents=True)
        (node / "meminfo").write_text(
            f"Node {n} MemTotal:        {8000000 + n} kB\nNode {n} MemFree:         {4000000 + n} kB\n"
            f"Node {n} MemUsed:         4000000 kB\nNode {n} FilePages:        900000 kB\n"
        )
        for size in sizes:
            pool = node / f"hugepages/hugepages-{size}kB"
            pool.mkdir(parents=True)
            (pool / "nr_hugepages").write_text("0\n")
    ksm = root / "sys/kernel/mm/ksm"
    ksm.mkdir(parents=True)
    for name, value in (("pages_to_scan", 100), ("sleep_millisecs", 20), ("pages_shared", 7), ("pages_sharing", 9),
                        ("pages_unshared", 0), ("pages_volatile", 0), ("full_scans", 3),
                        ("merge_across_nodes", 1)):  # fmt: skip
        (ksm / name).write_text(f"{value}\n")
    return root


def test_host_and_cell_figures_come_from_meminfo_files(tmp_path: Path) -> None:
    root = str(_tree(tmp_path, nodes=2))
    assert hostmem.memory_stats(-1, root=root) == [
        ("total", 16000000), ("free", 8000000), ("buffers", 100000), ("cached", 2000000)
    ]  # fmt: skip
    # a node's file: its "Node N " prefix skipped, only total and free (libvirt's LINUX_NB_MEMORY_STATS_CELL)
    assert hostmem.memory_stats(1, root=root) == [("total", 8000001), ("free", 4000001)]
    with pytest.raises(Error) as err:
        hostmem.memory_stats(2, root=root)
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG, "cellNum in virHostMemGetStats must be less than or equal to 1"
    )  # fmt: skip
    with pytest.raises(Error) as err:
        hostmem.memory_stats(-1, flags=1, root=root)
    assert err.value.message == "unsupported flags (0x1) in function virHostMemGetStats"


def test_without_numa_sysfs_cell_0_is_the_whole_host(tmp_path: Path) -> None:
    root = str(_tree(tmp_path, nodes=0))
    assert [f for f, _ in hostmem.memory_stats(0, root=root)] == ["total", "free", "buffers", "cached"]
    # and allocpages on cell 0 changes the host's pool, the NUMA-agnostic path
    assert hostmem.alloc_pages([2048], [3], 0, 1, add=False, root=root) == 1
    assert (tmp_path / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").read_text() == "3"


def test_page_pools_are_set_or_grown_cell_by_cell(tmp_path: Path) -> None:
    root = str(_tree(tmp_path, nodes=2))

    def count(node: int) -> str:
        return (tmp_path / f"sys/devices/system/node/node{node}/hugepages/hugepages-2048kB/nr_hugepages").read_text()

    assert hostmem.alloc_pages([2048], [4], 0, 2, add=False, root=root) == 2
    assert (count(0), count(1)) == ("4", "4")
    (tmp_path / "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages").write_text("4\n")
    assert hostmem.alloc_pages([2048], [2], 1, 5, add=True, root=root) == 1  # the cell count stops at the last cell
    assert count(1) == "6"
    cases = [
        (([2048], [1], 2, 1), ErrorCode.INTERNAL_ERROR, "internal error: start cell 2 out of range (0-1)"),
        (([4096], [1], 0, 1), ErrorCode.OPERATION_FAILED, "operation failed: page size 4096 is not available on node 0"),
        (([4096], [1], -1, 1), ErrorCode.OPERATION_FAILED, "operation failed: page size 4096 is not available"),
        (([4], [1], 0, 1), ErrorCode.OPERATION_UNSUPPORTED, "Operation not supported: system pages pool can't be modified"),
    ]  # fmt: skip
    for args, code, message in cases:
        with pytest.raises(Error) as err:
            hostmem.alloc_pages(*args, add=False, root=root)
        assert (err.value.code, err.value.message) == (code, message)
    (tmp_path / "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages").write_text("lots\n")
    with pytest.raises(Error) as err:
        hostmem.alloc_pages([2048], [1], 0, 1, add=False, root=root)
    assert "invalid number 'lots\n' in '" in err.value.message


def test_ksm_parameters_in_libvirts_order_and_missing_files_left_out(tmp_path: Path) -> None:
    root = str(_tree(tmp_path, nodes=1))
    params = hostmem.memory_parameters(root=root)
    assert [(p.field, p.type, p.value) for p in params] == [
        ("shm_pages_to_scan", TypedParamType.UINT, 100), ("shm_sleep_millisecs", TypedParamType.UINT, 20),
        ("shm_pages_shared", TypedParamType.ULLONG, 7), ("shm_pages_sharing", TypedParamType.ULLONG, 9),
        ("shm_pages_unshared", TypedParamType.ULLONG, 0), ("shm_pages_volatile", TypedParamType.ULLONG, 0),
        ("shm_full_scans", TypedParamType.ULLONG, 3), ("shm_merge_across_nodes", TypedParamType.UINT, 1),
    ]  # fmt: skip
    (tmp_path / "sys/kernel/mm/ksm/merge_across_nodes").unlink()  # a kernel built without NUMA
    assert [p.field for p in hostmem.memory_parameters(root=root)][-1] == "shm_full_scans"
    with pytest.raises(Error) as err:
        hostmem.set_memory_parameters([TypedParam("shm_merge_across_nodes", TypedParamType.UINT, 0)], root=root)
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID,
        "Requested operation is not valid: Parameter 'shm_merge_across_nodes' is not supported by this kernel",
    )
    (tmp_path / "sys/kernel/mm/ksm/full_scans").write_text("many\n")
    with pytest.raises(Error) as err:
        hostmem.memory_parameters(root=root)
    assert err.value.message == "internal error: failed to parse full_scans"


def test_only_the_three_tunables_are_written(tmp_path: Path) -> None:
    root = str(_tree(tmp_path, nodes=1))
    hostmem.set_memory_parameters(
        [TypedParam("shm_pages_to_scan", TypedParamType.UINT, 500),
         TypedParam("shm_sleep_millisecs", TypedParamType.UINT, 50)], root=root
    )  # fmt: skip
    assert (tmp_path / "sys/kernel/mm/ksm/pages_to_scan").read_text() == "500"
    assert (tmp_path / "sys/kernel/mm/ksm/sleep_millisecs").read_text() == "50"
    # virTypedParamsValidate: a counter is no tunable, and a tunable has its type
    for params, code in (([TypedParam("shm_pages_shared", TypedParamType.ULLONG, 1)], ErrorCode.ARGUMENT_UNSUPPORTED),
                         ([TypedParam("shm_pages_to_scan", TypedParamType.ULLONG, 1)], ErrorCode.INVALID_ARG)):  # fmt: skip
        with pytest.raises(Error) as err:
            hostmem.set_memory_parameters(params, root=root)
        assert err.value.code == code, err.value.message
    assert (tmp_path / "sys/kernel/mm/ksm/pages_to_scan").read_text() == "500"
