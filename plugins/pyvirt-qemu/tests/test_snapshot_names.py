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
