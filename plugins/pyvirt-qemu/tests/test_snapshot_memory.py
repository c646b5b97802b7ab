"""A full-system external snapshot of a running QEMU guest: memory to a file, disks onto overlays, job-completed.

As libvirt 9.0's qemuSnapshotCreateActiveExternal: the guest pauses, its
memory streams into the snapshot's memory file in libvirt's save-image format
through the snapshot's async job (job-completed, operation "snapshot", with
the migration's figures), each disk continues on a new qcow2 overlay named
IMAGE.SNAPSHOT, and the guest runs again.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pyvirt_qemu.save_image import read_image

import pyvirt
from pyvirt import DomainEvent
from pyvirt.domain_state import DomainState
from pyvirt.errors import Error, ErrorCode
from pyvirt.events import Resumed, Suspended

SNAPSHOT = 6  # VIR_DOMAIN_JOB_OPERATION_SNAPSHOT


def test_memory_and_disks_external_with_job_completed(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>memsnap</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/>
</disk><disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk></devices></domain>""")
    seen: list[tuple[str, Any]] = []
    conn.register_event("job-completed", lambda ev: seen.append(("job-completed", ev)))
    conn.register_domain_event(lambda ev: seen.append(("lifecycle", (ev.event, ev.detail))))
    memory = tmp_path / "mem"
    snap = dom.snapshot_create(
        f"<domainsnapshot><name>s1</name><memory snapshot='external' file='{memory}'/></domainsnapshot>"
    )
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [k for k, _ in seen] == ["lifecycle", "job-completed", "lifecycle"], seen
    assert seen[0][1] == (DomainEvent.SUSPENDED, Suspended.PAUSED)
    assert seen[2][1] == (DomainEvent.RESUMED, Resumed.UNPAUSED)
    stats = {p.field: p.value for p in seen[1][1].params}
    assert stats["operation"] == SNAPSHOT and stats["memory_total"] > 0 and stats["memory_remaining"] == 0, stats
    # the memory file is a save image of the running guest (libvirt's format: a restore could read it)
    header = read_image(str(memory))
    assert "<name>memsnap</name>" in header.xml
    # the disk goes on in an overlay over the old image; the empty CD-ROM takes no part
    overlay = tmp_path / "disk.s1"
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(overlay)], capture_output=True,
                                     text=True, check=True).stdout)  # fmt: skip
    assert info["format"] == "qcow2" and info["backing-filename"] == str(image)
    live = etree.fromstring(dom.xml_desc().encode())
    assert live.xpath("string(devices/disk[target/@dev='vda']/source/@file)") == str(overlay)
    assert dom.state()[0] == DomainState.RUNNING
    doc = etree.fromstring(snap.xml_desc().encode())
    assert doc.findtext("state") == "running"
    assert (doc.xpath("string(memory/@snapshot)"), doc.xpath("string(memory/@file)")) == ("external", str(memory))
    assert [
        (d.get("name"), d.get("snapshot"), d.xpath("string(source/@file)")) for d in doc.iterfind("disks/disk")
    ] == [
        ("vda", "external", str(overlay)),
        ("hdc", "no", ""),
    ]
    assert [s.name for s in dom.list_snapshots()] == ["s1"]
    dom.destroy()


def test_mixing_internal_disks_with_external_memory_is_refused(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True)
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>mix</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='{image}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    try:
        with pytest.raises(Error) as info:
            dom.snapshot_create(f"""<domainsnapshot><name>s1</name><memory file='{tmp_path}/mem'/>
<disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>""")
        # the external default lets a disk ask for internal (only an internal default must be uniform), then
        # qemuSnapshotPrepare refuses the mix
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert info.value.message.endswith("mixing internal and external targets for a snapshot is not yet supported")
        assert not (tmp_path / "mem").exists() and dom.state()[0] == DomainState.RUNNING
    finally:
        dom.destroy()
