"""The host-memory hooks the QEMU and LXC drivers share: libvirt's two drivers answer them alike.

qemuNodeGetMemoryStats / lxcNodeGetMemoryStats, ...AllocPages and ...Get/SetMemoryParameters
(src/qemu/qemu_driver.c, src/lxc/lxc_driver.c) are each one call of src/util/virhostmem.c;
here each hook is one call of :mod:`pyvirt.util.hostmem`. A driver class inherits
:class:`HostMemoryHooks` and names its libvirt prefix, which virNodeAllocPages' flag check
quotes ("unsupported flags (0x2) in function qemuNodeAllocPages").
"""

from __future__ import annotations

from typing import ClassVar

from pyvirt.flags import NodeAllocPagesFlags
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.typed_params import TypedParam
from pyvirt.util import hostmem

__all__ = ["HostMemoryHooks"]


class HostMemoryHooks:
    """nodememstats, allocpages and node-memory-tune of a driver whose guests run on this host."""

    host_memory_function_prefix: ClassVar[str] = "qemu"

    @hookimpl
    def node_get_memory_stats(self, cell_num: int, flags: int) -> list[tuple[str, int]]:
        return hostmem.memory_stats(cell_num, flags)

    @hookimpl
    def node_alloc_pages(
        self, pages: list[int], counts: list[int], start_cell: int, cell_count: int, flags: int
    ) -> int:
        check_flags(flags, NodeAllocPagesFlags.SET, f"{self.host_memory_function_prefix}NodeAllocPages")
        return hostmem.alloc_pages(pages, counts, start_cell, cell_count, add=not flags & NodeAllocPagesFlags.SET)

    @hookimpl
    def node_get_memory_parameters(self, flags: int) -> list[TypedParam]:
        return hostmem.memory_parameters(flags)

    @hookimpl
    def node_set_memory_parameters(self, params: list[TypedParam], flags: int) -> None:
        hostmem.set_memory_parameters(params, flags)
