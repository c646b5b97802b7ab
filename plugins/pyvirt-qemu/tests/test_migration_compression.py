"""migrate-compcache, domdirtyrate-calc and ``domstats --dirtyrate`` on a real QEMU guest (firmware only),
beside libvirt 9.0.

One virsh line runs through Debian's virsh against a private libvirtd, through
pyvirsh (locally and as libvirtd's client), and through Debian's virsh against
pyvirtd (the RPC procedures): the
cache's size as QEMU holds it (64 MiB by default, then what was set), QEMU's
own refusal of a size it cannot use, libvirt's checks of the measuring period
and mode, and the dirty-rate statistics before any measurement must print the
same. A second story lets QEMU measure and reads the result from domstats.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyvirt
from pyvirt.flags import DomainDirtyRateCalcFlags

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, pyvirsh, run_every_way

GUEST = """<domain type='{virt}'><name>mc</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""
STATS_DIRTYRATE = 512  # VIR_DOMAIN_STATS_DIRTYRATE

_LINE = "; ".join([
    "define {xml}", "migrate-compcache mc", "domdirtyrate-calc mc", "start mc", "migrate-compcache mc",
    "migrate-compcache mc --size 134217728", "migrate-compcache mc --size -1", "migrate-compcache mc --size 1x",
    "migrate-compcache mc --size 1000", "migrate-compcache mc", "migrate-compcache mc --size 1048576",
    "domstats mc --dirtyrate", "domdirtyrate-calc mc --seconds 0", "domdirtyrate-calc mc --seconds 61",
    "domdirtyrate-calc mc --mode nosuch", "domdirtyrate-calc mc --mode dirty-ring", "domdirtyrate-calc mc --seconds x",
    "destroy mc", "migrate-compcache mc", "undefine mc",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "mc.xml"
    xml.write_text(GUEST.format(virt=virt_type))
    line = _LINE.format(xml=xml)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy mc; undefine mc")
    ours["pyvirt_client"] = pyvirsh(shared_libvirtd, line)  # pyvirt's RPC client against libvirtd
    assert "Compression cache: 128.000 MiB" in theirs[0] and "dirtyrate.calc_status=0" in theirs[0]
    assert_prints_as(theirs, **ours)


def test_qemu_measures_and_domstats_reports_it(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    dom.create()
    try:
        dom.start_dirty_rate_calc(1, DomainDirtyRateCalcFlags.DIRTY_BITMAP)
        deadline = time.monotonic() + 20
        while (stats := dict(dom.get_stats(STATS_DIRTYRATE)))["dirtyrate.calc_status"] != 2:
            assert time.monotonic() < deadline, stats
            time.sleep(0.2)
        assert stats["dirtyrate.calc_mode"] == "dirty-bitmap" and stats["dirtyrate.calc_period"] == 1
        assert isinstance(stats["dirtyrate.megabytes_per_second"], int) and stats["dirtyrate.calc_start_time"] > 0
    finally:
        dom.destroy()
        dom.undefine()
