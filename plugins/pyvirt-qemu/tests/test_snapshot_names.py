"""Snapshot names that cannot be stored are refused before QEMU, qemu-img or the filesystem see them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.domain_state import DomainState
from pyvirt.errors import Error, ErrorCode

NINE_MB = 9 * 1024 * 1024


@pytest.fixture
def snapper(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> tuple[pyvirt.Domain, Path]:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    xml = f"""<domain type='{virt_type}'><name>names</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>"""
    return conn.define_domain(xml), image


def image_snapshots(image: Path) -> str:
    return subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(image)], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def refused(dom: pyvirt.Domain, name: str) -> Error:
    began = time.monotonic()
    with pytest.raises(Error) as exc:
        dom.snapshot_create(f"<domainsnapshot><name>{name}</name></domainsnapshot>")
    assert time.monotonic() - began < 10, "the refusal must not wait for QEMU"
    return exc.value


@pytest.mark.parametrize("size", [10_000, NINE_MB])
def test_a_huge_name_is_refused_and_the_running_guest_still_answers(
    snapper: tuple[pyvirt.Domain, Path], size: int
) -> None:
    dom, image = snapper
    dom.create()
    err = refused(dom, "s" * size)
    assert err.code == ErrorCode.XML_DETAIL
    assert "invalid snapshot name 'ssss" in err.message and "name can't be longer than 251 bytes" in err.message
    assert len(err.message) < 200  # the name is cut in the message, not echoed back in full
    assert "ssss" not in image_snapshots(image)
    # the monitor still answers at once: pause, resume, and a snapshot with a fine name
    began = time.monotonic()
    dom.suspend()
    dom.resume()
    assert time.monotonic() - began < 5 and dom.state()[0] == DomainState.RUNNING
    snap = dom.snapshot_create("<domainsnapshot><name>fine</name></domainsnapshot>")
    assert snap.name == "fine" and "fine" in image_snapshots(image)
    assert [s.name for s in dom.list_snapshots()] == ["fine"]
    with pytest.raises(Error) as exc:
        dom.snapshot_lookup_by_name("s" * size)
    assert exc.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT
    dom.destroy()


def test_libvirts_name_rules_for_stopped_and_running_guests(snapper: tuple[pyvirt.Domain, Path]) -> None:
    dom, image = snapper
    for running in (False, True):
        if running:
            dom.create()
        for name, why in (("a/b", "name can't contain '/'"), (".hidden", "name can't start with '.'"),
                          ("é" * 126, "name can't be longer than 251 bytes")):  # fmt: skip
            err = refused(dom, name)
            assert err.code == ErrorCode.XML_DETAIL and err.message == f"invalid snapshot name '{name[:64]}" + (
                "...'" if len(name) > 64 else "'") + f": {why}"  # fmt: skip
        assert dom.list_snapshots() == [] and "a/b" not in image_snapshots(image)
    # the longest storable name is taken, and looking up a name that walks out of the directory finds nothing
    longest = "x" * 251
    dom.snapshot_create(f"<domainsnapshot><name>{longest}</name></domainsnapshot>")
    assert [s.name for s in dom.list_snapshots()] == [longest]
    with pytest.raises(Error) as exc:
        dom.snapshot_lookup_by_name(f"../names/{longest}")
    assert exc.value.code == ErrorCode.NO_DOMAIN_SNAPSHOT
    dom.destroy()


@pytest.mark.parametrize(
    ("memory", "message"),
    [
        ("<memory snapshot='bogus'/>", "Invalid value for attribute 'snapshot' in element 'memory': 'bogus'."),
        ("<memory snapshot='external'/>", "external memory snapshots require a filename"),
        ("<memory snapshot='internal'/>", "memory state cannot be saved with offline or disk-only snapshot"),
        ("<memory snapshot='no' file='/m'/>", "memory filename '/m' requires external snapshot"),
        (
            "<disks><disk name='vda' snapshot='bogus'/></disks>",
            "Invalid value for attribute 'snapshot' in element 'disk': 'bogus'.",
        ),
        (
            "<disks><disk name='vda'><source file='rel.qcow2'/></disk></disks>",
            "disk snapshot image path 'rel.qcow2' must be absolute",
        ),
    ],
)
def test_libvirts_checks_of_the_document(snapper: tuple[pyvirt.Domain, Path], memory: str, message: str) -> None:
    """virDomainSnapshotDefParse's checks, as qemuSnapshotCreateXML parses a shut-off guest's snapshot (offline):
    nothing reaches qemu-img."""
    dom, image = snapper
    with pytest.raises(Error) as exc:
        dom.snapshot_create(f"<domainsnapshot><name>s1</name>{memory}</domainsnapshot>")
    assert exc.value.code == ErrorCode.XML_ERROR and exc.value.message == f"XML error: {message}"
    assert "s1" not in image_snapshots(image) and dom.list_snapshots() == []


@pytest.mark.parametrize(
    ("disks", "flags", "message"),
    [
        ("<disk name='nosuch'/>", 0, "no disk named 'nosuch'"),
        ("<disk name='vda'/><disk name='vda'/>", 0, "too many disk snapshot requests for domain"),
        ("<disk name='nosuch'/>", 0x10, "no disk named 'nosuch'"),  # DISK_ONLY
        # the external default is not uniform: the disk may ask for internal, and qemuSnapshotPrepare refuses
        (
            "<disk name='vda' snapshot='internal'/>",
            0x10,
            "disk-only snapshots require at least one disk to be selected for snapshot",
        ),
        ("<disk name='vda' snapshot='no'/>", 0x10, "nothing selected for snapshot"),
    ],
)
def test_disks_aligned_as_libvirt(snapper: tuple[pyvirt.Domain, Path], disks: str, flags: int, message: str) -> None:
    """virDomainSnapshotAlignDisks's and qemuSnapshotPrepare's refusals on the QEMU driver, internal and
    disk-only, of a shut-off guest, before qemu-img runs."""
    dom, image = snapper
    with pytest.raises(Error) as exc:
        dom.snapshot_create(f"<domainsnapshot><name>s1</name><disks>{disks}</disks></domainsnapshot>", flags)
    assert message in exc.value.message
    assert "s1" not in image_snapshots(image) and dom.list_snapshots() == []
    assert not (image.parent / "disk.s1").exists()
