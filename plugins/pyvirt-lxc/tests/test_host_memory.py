"""The host's memory on an LXC connection: libvirt's LXC driver answers nodememstats, allocpages and
node-memory-tune with the same virhostmem.c calls as its QEMU driver, and so does this one (the QEMU
tests compare those calls with libvirtd's; here the LXC connection is checked to carry them, with
lxcNodeAllocPages' own name in its flag error).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode


def test_lxc_answers_the_host_memory_calls(conn: pyvirt.Connection) -> None:
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)[1])  # type: ignore[index]
    stats = conn.get_memory_stats()
    assert [f for f, _ in stats] == ["total", "free", "buffers", "cached"] and stats[0][1] == total
    assert [f for f, _ in conn.get_memory_stats(0)] == ["total", "free"]
    if Path("/sys/kernel/mm/ksm/pages_to_scan").exists():
        params = conn.get_memory_parameters()
        assert params[0].field == "shm_pages_to_scan"
        assert params[0].value == int(Path("/sys/kernel/mm/ksm/pages_to_scan").read_text())
    with pytest.raises(pyvirt.Error) as err:
        conn.alloc_pages({2048: 0}, -1, 1, 2)
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG,
        "unsupported flags (0x2) in function lxcNodeAllocPages",
    )
    with pytest.raises(pyvirt.Error) as err:
        conn.alloc_pages({4: 1}, -1, 1, 1)  # the system page size: the kernel's, not a pool
    assert err.value.message == "Operation not supported: system pages pool can't be modified"
