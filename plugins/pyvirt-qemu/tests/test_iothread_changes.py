"""iothreadadd, iothreaddel, iothreadset and iothreadpin on a real QEMU guest (firmware only), beside libvirt 9.0.

The same virsh line runs through Debian's virsh against a private libvirtd and
through pyvirsh: each answer, error and the resulting ``<iothreads>``,
``<iothreadids>`` and ``<cputune>`` of the running and the persistent
definition must print the same. A second story looks behind the XML: the new
thread exists in QEMU, QEMU holds the polling values set, and the kernel holds
the pinning.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pyvirt
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def guest(virt_type: str) -> str:
    return f"""<domain type='{virt_type}'><name>ioq</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<iothreads>2</iothreads><iothreadids><iothread id='3'/></iothreadids>
<os><type>hvm</type></os><devices>
<controller type='scsi' index='0' model='virtio-scsi'><driver iothread='1'/></controller>
<memballoon model='none'/></devices></domain>"""


_XPATH = "dumpxml ioq {inactive} --xpath '/domain/iothreads|/domain/iothreadids|/domain/cputune'"
_LINE = "; ".join([
    "define {xml}", "iothreadadd ioq 4 --config", "iothreaddel ioq 4", "iothreadadd ioq 5 --live",
    "start ioq", "iothreadadd ioq 7", "iothreadadd ioq 7", "iothreaddel ioq 3", "iothreaddel ioq 8",
    "iothreaddel ioq 1", "iothreadpin ioq 7 0", "iothreadpin ioq 9 0", "iothreadpin ioq 7 1 --live --config",
    "iothreadpin ioq 3 0 --config", "iothreadinfo ioq", "iothreadinfo ioq --config",
    "iothreadset ioq 7 --poll-max-ns 100 --poll-grow 2 --thread-pool-min 2 --thread-pool-max 4",
    "iothreadset ioq 7 --thread-pool-max 1", "iothreadset ioq 7 --thread-pool-min -1",
    "iothreadset ioq 7 --poll-max-ns 4294967296", "iothreadset ioq 1 --poll-grow 3 --config",
    "iothreadset ioq 1 --thread-pool-max 3 --config", "iothreadset ioq 12 --poll-grow 1",
    "iothreadadd ioq 9 --config", "iothreaddel ioq 3 --config",
    _XPATH.format(inactive=""), _XPATH.format(inactive="--inactive"),
    "destroy ioq", "iothreadinfo ioq", _XPATH.format(inactive=""), "undefine ioq",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "ioq.xml"
    xml.write_text(guest(virt_type))
    line = _LINE.format(xml=xml)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy ioq; undefine ioq")
    assert "Domain 'ioq' started" in theirs[0] and '<iothread id="7"' in theirs[0]
    assert_prints_as(theirs, **ours)


def _process(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process
    raise AssertionError(f"{dom.name} is not running")


def test_qemu_and_the_kernel_hold_the_changes(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(guest(virt_type))
    dom.create()
    try:
        monitor = _process(dom).monitor
        dom.add_iothread(7, 0)
        threads = {t["id"]: t for t in monitor.execute("query-iothreads")}
        assert set(threads) == {"iothread1", "iothread3", "iothread7"}
        ullong, uint = TypedParamType.ULLONG, TypedParamType.UINT
        dom.set_iothread_params(7, [TypedParam("poll_max_ns", ullong, 1000), TypedParam("poll_shrink", uint, 3)])
        thread = monitor.execute("query-iothreads")
        seven = next(t for t in thread if t["id"] == "iothread7")
        assert (seven["poll-max-ns"], seven["poll-shrink"]) == (1000, 3)
        dom.pin_iothread(7, bytes([0b1]), 0)
        assert os.sched_getaffinity(int(seven["thread-id"])) == {0}
        dom.del_iothread(3, 0)
        assert {t["id"] for t in monitor.execute("query-iothreads")} == {"iothread1", "iothread7"}
    finally:
        dom.destroy()
        dom.undefine()
