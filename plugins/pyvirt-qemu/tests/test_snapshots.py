"""Internal snapshots on real QEMU: a running guest's (memory and disks, QMP jobs) and a stopped one's (qemu-img)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import Error, ErrorCode


def qemu_img_snapshots(image: Path) -> dict[str, str]:
    """tag -> VM state size column, read with -U since QEMU may hold the image."""
    out = subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(image)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]
    return {row[1]: row[2] for row in rows}


def pattern_is(image: Path, byte: int) -> bool:
    out = subprocess.run(["qemu-io", "-r", "-U", "-c", f"read -P {byte:#x} 0 4k", str(image)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return "Pattern verification failed" not in out.stdout + out.stderr and out.returncode == 0


def write_pattern(image: Path, byte: int) -> None:
    subprocess.run(["qemu-io", "-c", f"write -P {byte:#x} 0 4k", str(image)], check=True, capture_output=True)


@pytest.fixture
def guest(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> tuple[pyvirt.Domain, Path]:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    xml = f"""<domain type='{virt_type}'><name>snapper</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>"""
    return conn.define_domain(xml), image


def test_stopped_snapshot_revert_restores_the_disk(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, image = guest
    write_pattern(image, 0xAA)
    snap = dom.snapshot_create("<domainsnapshot><name>clean</name></domainsnapshot>")
    assert "clean" in qemu_img_snapshots(image)
    write_pattern(image, 0xBB)
    assert pattern_is(image, 0xBB)
    snap.revert()
    assert pattern_is(image, 0xAA)
    xml = snap.xml_desc()
    assert "<state>shutoff</state>" in xml and "<memory snapshot='no'/>" in xml.replace('"', "'")
    assert "<disk name='vda' snapshot='internal'/>" in xml.replace('"', "'")
    with pytest.raises(Error) as exc:
        dom.undefine()
    assert exc.value.code == ErrorCode.OPERATION_INVALID and "with 1 snapshots" in str(exc.value)
    snap.delete()
    assert qemu_img_snapshots(image) == {}
    dom.undefine()


def test_running_snapshot_holds_memory_and_reverts_a_stopped_guest(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, image = guest
    dom.create()
    first = dom.snapshot_create("<domainsnapshot><name>first</name></domainsnapshot>")
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED), "the guest runs on after its snapshot"
    assert qemu_img_snapshots(image)["first"] != "0 B", "a running snapshot holds the VM state"
    dom.suspend()
    second = dom.snapshot_create("<domainsnapshot><name>second</name></domainsnapshot>")
    assert second.parent().name == "first" and dom.snapshot_current().name == "second"
    assert dom.state()[0] == DomainState.PAUSED
    dom.destroy()
    first.revert()  # a running snapshot starts the stopped guest from it
    assert dom.state() == (DomainState.RUNNING, RunningReason.FROM_SNAPSHOT)
    assert dom.snapshot_current().name == "first"
    second.revert()
    assert dom.state() == (DomainState.PAUSED, PausedReason.FROM_SNAPSHOT)
    second.delete()
    assert set(qemu_img_snapshots(image)) == {"first"} and dom.snapshot_current().name == "first"
    # HALT: the snapshot is taken, then the guest stops
    dom.resume()
    dom.snapshot_create("<domainsnapshot><name>halted</name></domainsnapshot>", 0x8)
    deadline = time.monotonic() + 10
    while dom.state()[0] != DomainState.SHUTOFF and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.FROM_SNAPSHOT)
    dom.undefine(0x2)  # VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA


def test_raw_disks_cannot_have_internal_snapshots(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * 1048576)
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>rawsnap</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='{raw}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    with pytest.raises(Error) as exc:
        dom.snapshot_create("<domainsnapshot><name>x</name></domainsnapshot>")
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "internal snapshot for disk vda unsupported for storage type raw" in str(exc.value)
    dom.undefine()


def test_external_disk_only_snapshot_of_a_stopped_guest(guest: tuple[pyvirt.Domain, Path]) -> None:
    dom, image = guest
    write_pattern(image, 0xAA)
    snap = dom.snapshot_create("<domainsnapshot><name>ext1</name></domainsnapshot>", 0x10)  # DISK_ONLY
    overlay = image.with_name("disk.ext1")
    info = subprocess.run(["qemu-img", "info", "-U", str(overlay)], capture_output=True, text=True, check=True).stdout
    assert f"backing file: {image}" in info and "file format: qcow2" in info
    assert str(overlay) in dom.xml_desc(), "the definition now writes to the overlay"
    xml = snap.xml_desc().replace('"', "'")
    # libvirt 9.0 records a stopped guest's disk-only snapshot as 'shutoff' (measured with virsh on libvirtd)
    assert "<state>shutoff</state>" in xml and f"<source file='{overlay}'/>" in xml and str(image) in xml
    dom.create()  # QEMU opens the overlay over its backing image
    dom.destroy()
    assert pattern_is(overlay, 0xAA), "the overlay reads through to the base"
    with pytest.raises(Error) as exc:
        dom.snapshot_create("<domainsnapshot><name>ext1</name></domainsnapshot>", 0x10)
    assert exc.value.code == ErrorCode.OPERATION_INVALID
    with pytest.raises(Error) as exc:
        snap.revert()
    assert exc.value.code == ErrorCode.OPERATION_UNSUPPORTED
    with pytest.raises(Error) as exc:
        snap.delete()
    assert exc.value.code == ErrorCode.OPERATION_UNSUPPORTED
    snap.delete(0x2)  # METADATA_ONLY
    assert dom.list_snapshots() == [] and overlay.exists()
    dom.create()
    # a running guest: QEMU makes the overlay and switches the disk to it (blockdev-snapshot-sync)
    dom.snapshot_create("<domainsnapshot><name>ext2</name></domainsnapshot>", 0x10)
    second = image.with_name("disk.ext2")
    info = subprocess.run(["qemu-img", "info", "-U", str(second)], capture_output=True, text=True, check=True).stdout
    assert f"backing file: {overlay}" in info
    assert str(second) in dom.xml_desc() and str(second) in dom.xml_desc(2), "live and persistent both switch"
    stats = dict(dom.get_stats(32))
    assert stats["block.0.path"] == str(second) and "block.0.rd.reqs" in stats and stats["block.0.capacity"] == 16 << 20
    dom.destroy()
    dom.undefine(0x2)
