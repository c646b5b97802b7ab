"""Host-fact hooks of the test driver: maximum vCPUs, sysinfo, free memory per NUMA cell, CPU time counters.

Every answer is libvirt 9.0's test driver's own (src/test/test_driver.c), fixed
numbers included: scripts and tests written against ``virsh -c test:///default``
read exactly these. ``test:///default`` has two NUMA cells (testOpenDefault: cell
``i`` has ``(i + 1) * 2048`` KiB of memory and ``(i + 1) * 1024`` KiB free); a
``test:///PATH.xml`` open has none (testOpenFromFile sets numCells to 0), so its
free memory is 0, which libvirt's library reports as a failure without a cause.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.errors import ErrorCode
from pyvirt.plugin.flags import check_flags

__all__ = ["HostHooks"]

# testConnectGetSysinfo's document, whatever the host is
_SYSINFO = (
    "<sysinfo type='smbios'>\n"
    "  <bios>\n"
    "    <entry name='vendor'>LENOVO</entry>\n"
    "    <entry name='version'>G4ETA1WW (2.61 )</entry>\n"
    "    <entry name='date'>05/07/2014</entry>\n"
    "    <entry name='release'>2.61</entry>\n"
    "  </bios>\n"
    "</sysinfo>\n"
)

# testNodeGetCPUStats's four counters (VIR_NODE_CPU_STATS_USER, _KERNEL, _IDLE, _IOWAIT), the same for every CPU
_CPU_STATS = (("user", 9797400000), ("kernel", 34678723400000), ("idle", 87264900000), ("iowait", 763600000))

_DEFAULT_CELLS = 2  # testOpenDefault's numCells


class HostHooks:
    """Mixed into the test connection; ``_shared`` (the ``test:///default`` state) comes from it."""

    _shared: bool

    def _cells(self) -> list[tuple[int, int]]:
        """(memory, free memory) in bytes of each NUMA cell, as testOpenDefault / testOpenFromFile set them."""
        if not self._shared:
            return []
        return [((i + 1) * 2048 * 1024, (i + 1) * 1024 * 1024) for i in range(_DEFAULT_CELLS)]

    @hookimpl
    def connect_get_max_vcpus(self, type: str | None) -> int:
        """testConnectGetMaxVcpus: 32 for any type."""
        return 32

    @hookimpl
    def connect_get_sysinfo(self, flags: int) -> str:
        """testConnectGetSysinfo: a fixed SMBIOS BIOS block."""
        check_flags(flags, 0, "testConnectGetSysinfo")
        return _SYSINFO

    @hookimpl
    def node_get_free_memory(self) -> int:
        """testNodeGetFreeMemory: the cells' free memory summed; 0 (no cells) is virNodeGetFreeMemory's failure."""
        free = sum(f for _, f in self._cells())
        if free == 0:
            # libvirt's test driver reports nothing; the library's virDispatchError then sets its generic failure
            raise _errors.InternalError(
                ErrorCode.INTERNAL_ERROR, "An error occurred, but the cause is unknown", verbatim=True
            )
        return free

    @hookimpl
    def node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        """testNodeGetCellsFreeMemory: note that it answers each cell's *memory*, not the free part.

        libvirt's test driver copies ``cells[cell].mem`` here while virNodeGetFreeMemory
        sums ``freeMem``, so ``virsh freecell --all`` shows 2048 and 4096 KiB where
        ``virsh freecell`` says 3072 KiB in total: the same numbers here.
        """
        cells = self._cells()
        if start_cell >= len(cells):
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "Range exceeds available cells")
        return [mem for mem, _ in cells[start_cell : start_cell + max_cells]]

    @hookimpl
    def node_get_cpu_stats(self, cpu_num: int, flags: int) -> list[tuple[str, int]]:
        """testNodeGetCPUStats: four fixed counters for any CPU number (it checks none)."""
        check_flags(flags, 0, "testNodeGetCPUStats")
        return list(_CPU_STATS)

    @hookimpl
    def connect_get_cpu_model_names(self, arch: str, flags: int) -> list[str]:
        """testConnectGetCPUModelNames: libvirt's CPU map, as every driver answers it."""
        check_flags(flags, 0, "testConnectGetCPUModelNames")
        from pyvirt.util.cpu_map import model_names

        return model_names(arch)

    @hookimpl
    def connect_baseline_cpu(self, xml_cpus: list[str], flags: int) -> str:
        """testConnectBaselineCPU: libvirt's x86 baseline of host CPUs; only EXPAND_FEATURES is accepted."""
        from pyvirt.util.cpu_x86 import VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES, baseline_xml

        check_flags(flags, VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES, "testConnectBaselineCPU")
        return baseline_xml(xml_cpus, bool(flags & VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES), False)

    @hookimpl
    def node_get_free_pages(self, pages: list[int], start_cell: int, cell_count: int, flags: int) -> list[int]:
        """testNodeGetFreePages: made-up counts 19, 45, 97, 201, ... (x = 2x + 7 from 6), for any cell and size.

        The sequence runs on across the cells of one call and starts again at each call, as libvirt's;
        neither the start cell nor the sizes are checked.
        """
        check_flags(flags, 0, "testNodeGetFreePages")
        counts = []
        x = 6
        for _ in range(cell_count * len(pages)):
            x = (x * 2 + 7 + 2**31) % 2**32 - 2**31  # a C int: past 2**31 it wraps, as on the hosts libvirt runs on
            counts.append(x % 2**64)  # stored in an unsigned long long
        return counts
