"""Disk defaults of libvirt's generic post-parse in the test driver, compared with libvirt's own test driver.

A domain whose disks name no bus and no address, in a scrambled order, with
a floppy, a CD-ROM and an explicit SATA disk: libvirt orders them at parse
time (before any bus is known), gives each the bus its target implies, a
drive address from its index, marks the CD-ROM read-only and adds the
controllers those addresses need, each in its type's group. virsh on
libvirt's ``test:///default`` is the oracle.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

DISKS = """<domain type='test'>
  <name>disks</name>
  <uuid>0a6c3a2d-6a5b-4b8e-9c1f-3c5e2d1b0a99</uuid>
  <memory>65536</memory>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/a'/><target dev='sdb'/></disk>
    <disk type='file' device='disk'><source file='/b'/><target dev='hdc'/></disk>
    <disk type='file' device='floppy'><source file='/c'/><target dev='fda'/></disk>
    <disk type='file' device='disk'><source file='/d'/><target dev='sda'/></disk>
    <disk type='file' device='cdrom'><target dev='hda'/></disk>
    <disk type='file' device='disk'><source file='/e'/><target dev='vdb'/></disk>
    <disk type='file' device='disk'><source file='/f'/><target dev='sdh' bus='sata'/></disk>
    <disk type='file' device='disk'><source file='/g'/><target dev='sdi'/></disk>
    <controller type='scsi' index='0' model='virtio-scsi'/>
  </devices>
</domain>
"""


def _run(tool: list[str], xml: Path) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    line = f"define {xml}; dumpxml disks; domblklist disks --details; domblkinfo disks --all; detach-disk disks hdc --print-xml"
    p = subprocess.run([*tool, "-c", "test:///default", line], capture_output=True, text=True, env=env, timeout=60,
                       check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


def test_disk_buses_addresses_controllers_and_order_are_libvirts(tmp_path: Path) -> None:
    xml = tmp_path / "disks.xml"
    xml.write_text(DISKS)
    expected = _run(["virsh"], xml)
    assert re.findall(r"<target dev='(\w+)'", expected[0])[:8] == [
        "fda",
        "sda",
        "hda",
        "sdb",
        "vdb",
        "hdc",
        "sdi",
        "sdh",
    ]
    assert "<controller type='sata' index='1'/>" in expected[0] and "<readonly/>" in expected[0]
    assert _run([sys.executable, "-m", "pyvirt.cli.main"], xml) == expected


def _with_controller(number: int) -> str:
    return ("<domain type='test'><name>far</name><memory>1024</memory><os><type>hvm</type></os><devices>"
            "<disk type='file' device='disk'><source file='/x.img'/><target dev='sda'/>"
            f"<address type='drive' controller='{number}' bus='0' target='0' unit='0'/></disk>"
            "</devices></domain>")  # fmt: skip


def test_a_drive_address_far_out_is_refused_not_looped_to() -> None:
    """libvirt adds every controller below the highest one a disk names and dies allocating a few million;
    pyvirt answers at once (the mutated-corpus comparison with libvirt hung here)."""
    import pyvirt
    from pyvirt.errors import ErrorCode

    with pyvirt.open("test:///default") as conn:
        with pytest.raises(pyvirt.Error) as err:
            conn.define_domain(_with_controller(2_000_000_000))
        assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert "scsi disk controller 2000000000 would need" in str(err.value)
        # past INT_MAX the number wraps negative in libvirt's comparison: no controller is added for it
        dom = conn.define_domain(_with_controller(2**32 - 1))
        assert "<controller type='scsi'" not in dom.xml_desc()
        dom.undefine()
        dom = conn.define_domain(_with_controller(2))
        assert dom.xml_desc().count("<controller type='scsi'") == 3
        dom.undefine()
