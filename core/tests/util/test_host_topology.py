"""The host description read from sysfs agrees with what the kernel reports elsewhere."""

from __future__ import annotations

import os

from pyvirt.util.host_topology import _parse_list, host_description, host_uuid, node_info


def test_kernel_cpu_lists() -> None:
    assert _parse_list("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11]
    assert _parse_list("") == []


def test_cells_hold_every_online_cpu_once() -> None:
    host = host_description([("none", "0")])
    assert host.cells
    ids = [cpu.id or 0 for cell in host.cells for cpu in cell.cpus or []]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == os.cpu_count()
    assert host.cpu is not None and host.cpu.arch == os.uname().machine
    assert host.cpu.pages and host.cpu.pages[0].size == os.sysconf("SC_PAGE_SIZE") // 1024
    assert host.uuid == host_uuid() and len(host.uuid) == 36


def test_node_info_topology_multiplies_out() -> None:
    info = node_info()
    assert info.nodes * info.sockets * info.cores * info.threads == info.cpus == os.cpu_count()
    assert info.memory_kib > 0
