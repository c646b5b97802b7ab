"""blkdeviotune on a real QEMU guest (firmware only), beside libvirt 9.0's QEMU driver.

A user throttles a guest's disks: first in the persistent definition while
it is shut off, then live (QEMU's ``block_set_io_throttle``, read back from
QEMU), adding a second disk to a throttle group by naming it, clearing
limits, and meeting libvirt's refusals (a total with its read/write split, a
maximum below its limit, a value above the driver's ceiling, a disk the guest
has not, a new group with nothing in it). The same virsh line runs through
Debian's virsh against a private libvirtd and through pyvirsh / pyvirtd:
every answer, error and the resulting ``<iotune>`` of the running and the
persistent definition must print the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyvirt
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def guest(virt_type: str, disks: Path) -> str:
    return f"""<domain type='{virt_type}'><name>bt</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disks}/a.img'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disks}/b.img'/>
<target dev='sda' bus='scsi'/></disk>
<memballoon model='none'/></devices></domain>"""


_XPATH = "dumpxml bt {inactive} --xpath '/domain/devices/disk/iotune'"
_LINE = "; ".join([
    "define {xml}", "blkdeviotune bt vda", "blkdeviotune bt vda --total-bytes-sec 1000 --config",
    "blkdeviotune bt vda --config", "start bt", "blkdeviotune bt vda",
    "blkdeviotune bt vda --read-bytes-sec 2000 --write-bytes-sec 3000 --total-iops-sec 40 --group-name g1",
    "blkdeviotune bt vda", "blkdeviotune bt sda --group-name g1 --total-bytes-sec 5000", "blkdeviotune bt sda",
    "blkdeviotune bt vda", "blkdeviotune bt vda --total-bytes-sec 1 --read-bytes-sec 1",
    "blkdeviotune bt vda --read-bytes-sec-max 10", "blkdeviotune bt vda --total-iops-sec-max 80 --size-iops-sec 4",
    "blkdeviotune bt vda", "blkdeviotune bt vda --total-bytes-sec 1000000000000001", "blkdeviotune bt vdz",
    "blkdeviotune bt sda --group-name g2 --total-bytes-sec 0", "blkdeviotune bt {disks}/b.img --live",
    _XPATH.format(inactive=""), _XPATH.format(inactive="--inactive"),
    "blkdeviotune bt vda --total-bytes-sec 0 --read-bytes-sec 0 --write-bytes-sec 0 --total-iops-sec 0 "
    "--total-iops-sec-max 0 --size-iops-sec 0 --config", "blkdeviotune bt vda --config",
    "destroy bt", "blkdeviotune bt vda", _XPATH.format(inactive=""), "undefine bt",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    disks = tmp_path / "disks"
    disks.mkdir()
    for name in ("a.img", "b.img"):
        with (disks / name).open("wb") as f:
            f.truncate(1 << 20)
    xml = tmp_path / "bt.xml"
    xml.write_text(guest(virt_type, disks))
    line = _LINE.format(xml=xml, disks=disks)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy bt; undefine bt")
    assert "Domain 'bt' started" in theirs[0] and "<group_name>g1</group_name>" in theirs[0], theirs
    assert_prints_as(theirs, **ours)


def _process(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process
    raise AssertionError(f"{dom.name} is not running")


def test_qemu_holds_the_limits_and_the_group(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    for name in ("a.img", "b.img"):
        with (tmp_path / name).open("wb") as f:
            f.truncate(1 << 20)
    dom = conn.create_domain(guest(virt_type, tmp_path).replace("<name>bt</name>", "<name>btq</name>"))
    events: list[Any] = []
    conn.register_event("tunable", events.append)
    try:
        ullong, string = TypedParamType.ULLONG, TypedParamType.STRING
        dom.set_block_io_tune(
            "vda", [TypedParam("read_bytes_sec", ullong, 4096), TypedParam("group_name", string, "g")]
        )
        dom.set_block_io_tune("sda", [TypedParam("group_name", string, "g")])
        blocks = {b["qdev"]: b["inserted"] for b in _process(dom).monitor.execute("query-block") if "inserted" in b}
        throttled = [i for i in blocks.values() if i.get("group") == "g"]
        assert len(throttled) == 2 and all(i["bps_rd"] == 4096 and i["bps"] == 0 for i in throttled), blocks
        assert "<read_bytes_sec>4096</read_bytes_sec><group_name>g</group_name>" in dom.xml_desc(0).replace(
            "\n", ""
        ).replace(" ", "")
        # libvirt's tunable event per live change: the disk as named, then the fields given, in their order
        assert [[(p.field, p.value) for p in e.params] for e in events if e.domain.name == "btq"] == [
            [("blkdeviotune.disk", "vda"), ("blkdeviotune.read_bytes_sec", 4096), ("blkdeviotune.group_name", "g")],
            [("blkdeviotune.disk", "sda"), ("blkdeviotune.group_name", "g")],
        ]
    finally:
        dom.destroy()
