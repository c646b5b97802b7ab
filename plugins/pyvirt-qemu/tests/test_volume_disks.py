"""``<disk type='volume'>``: the QEMU driver asks the storage driver (pyvirt-storage) for the volume's path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.conf.schema import validate
from pyvirt.plugin.entry_point_index import entry_point_value

pytestmark = pytest.mark.skipif(
    entry_point_value("pyvirt.hypervisor", "storage") is None,
    reason="pyvirt-storage (the storage driver) is not installed",
)

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>{disks}</devices></domain>"""
VOLUME_DISK = """<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
<source pool='images' volume='{volume}'/><target dev='{dev}' bus='virtio'/></disk>"""


def _query_block(dom: pyvirt.Domain) -> dict[str, str]:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            blocks = obj.process.monitor.execute("query-block")
            return {b["qdev"]: b["inserted"]["file"] for b in blocks if b.get("inserted")}
    raise AssertionError(f"{dom.name} is not running")


def test_volume_disks_start_hotplug_and_refuse_what_is_missing(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    # the qemu:/// connection reaches the storage driver of the same embedded root
    pool = conn.define_storage_pool(
        f"<pool type='dir'><name>images</name><target><path>{images}</path></target></pool>"
    )
    dom = conn.define_domain(GUEST.format(virt=virt_type, name="volguest",
                                          disks=VOLUME_DISK.format(volume="root.qcow2", dev="vda")))  # fmt: skip
    with pytest.raises(pyvirt.Error) as err:
        dom.create()
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED  # (libvirt's virDomainStorageSourceTranslateSourcePool)
    assert "storage pool 'images' containing volume 'root.qcow2' is not active" in err.value.message
    pool.create(1)
    with pytest.raises(pyvirt.Error) as err:
        dom.create()
    assert err.value.code == ErrorCode.NO_STORAGE_VOL
    assert not dom.is_active() and not list((qemu_root / "run" / "qemu").glob("volguest.*"))  # nothing left behind
    pool.create_volume("<volume><name>root.qcow2</name><capacity>16777216</capacity>"
                       "<target><format type='qcow2'/></target></volume>")  # fmt: skip
    pool.create_volume("<volume><name>extra.qcow2</name><capacity>8388608</capacity>"
                       "<target><format type='qcow2'/></target></volume>")  # fmt: skip
    dom.create()
    assert _query_block(dom)["/machine/peripheral/virtio-disk0/virtio-backend"] == str(images / "root.qcow2")
    live = dom.xml_desc()
    validate(live, "domain")
    assert "<source pool='images' volume='root.qcow2' index='1'/>" in live.replace('"', "'")
    # the security stack took the volume's file for the guest (its original owner is remembered)
    assert any(a.startswith("trusted.libvirt.security.ref_dac") for a in os.listxattr(images / "root.qcow2"))
    # another process finds the path in the status file without asking the storage driver again
    stats = subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={qemu_root}",
                            "domstats", "volguest", "--block"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert f"block.0.path={images / 'root.qcow2'}" in stats
    dom.attach_device(VOLUME_DISK.format(volume="extra.qcow2", dev="vdb"))
    assert _query_block(dom)["/machine/peripheral/virtio-disk1/virtio-backend"] == str(images / "extra.qcow2")
    assert "volume='extra.qcow2'" in dom.xml_desc().replace('"', "'")
    dom.destroy()
    assert not any(a.startswith("trusted.libvirt.security") for a in os.listxattr(images / "root.qcow2"))
    dom.undefine()


def test_a_directory_volume_is_a_read_only_fat_drive(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, tmp_path: Path
) -> None:
    """A directory in a dir pool is a volume of type 'dir': the guest gets it as QEMU's virtual FAT drive
    (vvfat, read-only, the format 'fat' filled in as libvirt does), and the live XML still names the volume."""
    images = tmp_path / "images"
    (images / "share").mkdir(parents=True)
    (images / "share" / "README").write_text("hello from the host\n")
    pool = conn.define_storage_pool(
        f"<pool type='dir'><name>images</name><target><path>{images}</path></target></pool>"
    )
    pool.create(0)
    disk = ("<disk type='volume' device='disk'><source pool='images' volume='share'/><target dev='vda' bus='virtio'/>"
            "READONLY</disk>")  # fmt: skip
    rw = conn.define_domain(GUEST.format(virt=virt_type, name="fatrw", disks=disk.replace("READONLY", "")))
    with pytest.raises(pyvirt.Error) as err:
        rw.create()
    assert (err.value.code, err.value.message) == (ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: "
                                                   "virtual FAT storage can't be accessed in read-write mode")  # fmt: skip
    rw.undefine()
    dom = conn.define_domain(GUEST.format(virt=virt_type, name="fatguest",
                                          disks=disk.replace("READONLY", "<readonly/>")))  # fmt: skip
    dom.create()
    try:
        from pyvirt_qemu import driver as qemu_driver

        state = next(s for s in qemu_driver._states.values() if s.by_name.get("fatguest") is not None)
        proc = state.by_name["fatguest"].process
        assert proc is not None
        nodes = {n["node-name"]: n for n in proc.monitor.execute("query-named-block-nodes")}
        assert nodes["libvirt-1-storage"]["drv"] == "vvfat" and nodes["libvirt-1-format"]["drv"] == "raw"
        assert nodes["libvirt-1-format"]["ro"]
        live = dom.xml_desc().replace('"', "'")
        validate(dom.xml_desc(), "domain")
        assert "<driver name='qemu' type='fat'/>" in live
        assert "<source pool='images' volume='share' index='1'/>" in live  # (no dir= in the XML)
    finally:
        dom.destroy()
        dom.undefine()
