"""pyvirsh snapshot-list against the QEMU driver: the driver filters, as libvirt's qemuDomainListAllSnapshots does.

libvirt's QEMU and test drivers share one walk and one filter
(virDomainSnapshotObjListGetNames); so do ours (pyvirt.conf.snapshot_list).
The story: a shut-off guest with a qcow2 disk gets a small tree of internal
snapshots (qemu-img, no QEMU started), and every listing option gives on
qemu:/// what it gives on test:/// for the same tree (and on libvirt 9.0's
virsh with test:///). --leaves, --no-leaves, --no-metadata and
--topological failed with "unsupported flags" until the driver took them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import InvalidArgumentError
from pyvirt.flags import DomainSnapshotListFlags as List

# a is the root; b and c are a's children (c made after reverting to a); d is c's child
_SETUP = "snapshot-create-as lister a; snapshot-create-as lister b; snapshot-revert lister a; "
_SETUP += "snapshot-create-as lister c; snapshot-create-as lister d"
_OPTIONS = {  # what libvirt 9.0's virsh prints for this tree (names sorted unless --topological)
    "": "a\nb\nc\nd",
    "--roots": "a",
    "--leaves": "b\nd",
    "--no-leaves": "a\nc",
    "--leaves --no-leaves": "",
    "--topological": "a\nc\nd\nb",
    "--inactive": "a\nb\nc\nd",
    "--active": "",
    "--disk-only": "",
    "--internal": "a\nb\nc\nd",
    "--external": "",
    "--internal --external": "a\nb\nc\nd",
    "--metadata": "a\nb\nc\nd",
    "--no-metadata": "",
    "--leaves --inactive --internal": "b\nd",
    "--from a": "b\nc",
    "--from a --descendants": "b\nc\nd",
}


def _pyvirsh(uri: str, line: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-q", "-c", uri, line], capture_output=True,
                          text=True, env=env, timeout=120, check=False)  # fmt: skip


def test_snapshot_list_filters_match_the_test_driver(conn: pyvirt.Connection, qemu_root: Path, tmp_path: Path) -> None:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    conn.define_domain(f"""<domain type='qemu'><name>lister</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>""")
    conn.close()  # the CLI below opens the same embedded root on its own
    uri = f"qemu:///embed?root={qemu_root}"
    made = _pyvirsh(uri, _SETUP)
    assert (made.returncode, made.stderr) == (0, "")
    test_xml = tmp_path / "lister.xml"
    test_xml.write_text(
        "<domain type='test'><name>lister</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    )
    # every listing in one pyvirsh process per driver (a process costs half a second), each after a marker
    listings = "".join(f"echo @@; snapshot-list lister --name {options}; " for options in _OPTIONS)
    qemu = _pyvirsh(uri, listings)
    test = _pyvirsh("test:///default", f"define {test_xml}; {_SETUP}; {listings}")
    for driver, run in (("qemu:///", qemu), ("test:///", test)):
        assert (run.returncode, run.stderr) == (0, ""), driver  # any listing that failed printed its error
        shown = [chunk.strip() for chunk in run.stdout.split("@@")[1:]]
        assert len(shown) == len(_OPTIONS), (driver, run.stdout)
        for (options, names), got in zip(_OPTIONS.items(), shown, strict=True):
            assert got == names, f"{driver} {options}"


def test_the_driver_itself_filters_and_refuses_what_libvirt_refuses(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """The API, not pyvirsh's fallbacks: the flags reach qemuDomainListAllSnapshots and are applied there."""
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    dom = conn.define_domain(f"""<domain type='qemu'><name>tree</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>""")
    for name in ("a", "b"):
        dom.snapshot_create(f"<domainsnapshot><name>{name}</name></domainsnapshot>")
    dom.snapshot_lookup_by_name("a").revert()
    dom.snapshot_create("<domainsnapshot><name>c</name></domainsnapshot>")

    def names(flags: int) -> list[str]:
        return [s.name for s in dom.list_snapshots(flags)]

    assert names(List.TOPOLOGICAL) == ["a", "c", "b"]  # each parent's newest child first, as libvirt walks
    assert names(List.ROOTS) == ["a"]
    assert sorted(names(List.LEAVES)) == ["b", "c"]
    assert names(List.NO_LEAVES) == ["a"]
    assert names(List.NO_METADATA) == []
    assert sorted(names(List.METADATA | List.INACTIVE | List.INTERNAL)) == ["a", "b", "c"]
    assert names(List.ACTIVE | List.DISK_ONLY) == []
    with pytest.raises(
        InvalidArgumentError, match=r"unsupported flags \(0x800\) in function qemuDomainListAllSnapshots"
    ):
        names(0x800)  # no such VIR_DOMAIN_SNAPSHOT_LIST_* bit in libvirt 9.0
