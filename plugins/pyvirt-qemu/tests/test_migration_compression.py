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

import contextlib
import io
import os
import subprocess
import time
from pathlib import Path

import pyvirt
from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.flags import DomainDirtyRateCalcFlags

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


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _pyvirsh_remote(uri: str, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", uri, line])
    return out.getvalue(), err.getvalue(), rc


def _virsh(uri: str, line: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "mc.xml"
    xml.write_text(GUEST.format(virt=virt_type))
    line = _LINE.format(xml=xml)
    theirs = _virsh(shared_libvirtd, line)
    ours = _pyvirsh(qemu_root, line)
    client = _pyvirsh_remote(shared_libvirtd, line)  # pyvirt's RPC client against libvirtd
    daemon = PrivateDaemon(tmp_path / "pyvirtd").start()
    try:
        wire = _virsh(daemon.uri("qemu:///system"), line)
    finally:
        _virsh(daemon.uri("qemu:///system"), "destroy mc; undefine mc")
        daemon.stop()
    assert "Compression cache: 128.000 MiB" in theirs[0] and "dirtyrate.calc_status=0" in theirs[0]
    for got in (ours, wire, client):
        assert got[0].splitlines() == theirs[0].splitlines()
        assert got[1].splitlines() == theirs[1].splitlines()
        assert got[2] == theirs[2]


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
