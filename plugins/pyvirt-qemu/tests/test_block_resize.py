"""``blockresize`` and ``migrate-setspeed`` / ``migrate-getspeed`` against libvirt 9.0's QEMU driver.

A user grows a running guest's disks: a raw file by target name, then by
its path on the host, and a qcow2 image by a byte count that is not a whole
sector (libvirt rounds qcow2 sizes up to 512 bytes); the raw file really
grows on the host and the qcow2's virtual size too. The refusals come in
libvirt's words: a disk the guest has not, an empty CD-ROM, a guest that does
not run. The same line sets and reads the migration bandwidth: libvirt's
maximum before anyone sets it, a value kept while the guest is shut off and
still there once it runs, the post-copy limit read from QEMU, virsh's
wrapping of ``-1`` and the driver's ceiling.

The line runs three ways: Debian's virsh against a private libvirtd 9.0,
pyvirsh against pyvirtd, and Debian's virsh against pyvirtd (the RPC
procedures DOMAIN_BLOCK_RESIZE, DOMAIN_MIGRATE_SET/GET_MAX_SPEED). Each run
starts from fresh image files at the same paths, so the outputs must match
byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts_resize",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Host = _hosts().Host

GUEST = """<domain type='{virt}'><name>rs</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disks}/raw.img'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disks}/image.qcow2'/>
<target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
</devices></domain>"""

LINE = ("define {xml}; migrate-getspeed rs; migrate-setspeed rs 100; migrate-getspeed rs; "
        "migrate-setspeed rs 5 --postcopy; start rs; migrate-getspeed rs; migrate-getspeed rs --postcopy; "
        "migrate-setspeed rs 50 --postcopy; migrate-getspeed rs --postcopy; migrate-setspeed rs 64; "
        "migrate-getspeed rs; migrate-setspeed rs -1; migrate-setspeed rs 8796093022208; "
        "migrate-setspeed rs 8796093022207; migrate-getspeed rs; migrate-setspeed rs 1x; "
        "blockresize rs vda 2M; blockresize rs vdb 1572865B; blockresize rs {disks}/raw.img 3M; "
        "blockresize rs vdz 1M; blockresize rs hdc 1M; blockresize rs vda 1X; "
        "destroy rs; blockresize rs vda 4M; migrate-getspeed rs; migrate-getspeed rs --postcopy; "
        "migrate-setspeed rs 9; migrate-getspeed rs; migrate-setspeed nosuch 1; blockresize nosuch vda 1M; "
        "undefine rs")  # fmt: skip


def _run(argv: list[str]) -> tuple[str, str, int]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=dict(os.environ, LC_ALL="C"),
                          check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _fresh_images(disks: Path) -> None:
    """A 1 MiB raw file and a 1 MiB qcow2 image, new for each run (the line grows them)."""
    if disks.exists():
        shutil.rmtree(disks)
    disks.mkdir()
    with (disks / "raw.img").open("wb") as f:
        f.truncate(1 << 20)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disks / "image.qcow2"), "1M"], check=True)


def _virtual_size(image: Path) -> int:
    done = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(image)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return int(json.loads(done.stdout)["virtual-size"])


def test_blockresize_and_migration_speed_as_libvirt(
    tmp_path: Path, virt_type: str, request: pytest.FixtureRequest
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run pyvirtd's qemu:///system and libvirtd")
    if shutil.which("qemu-img") is None:
        pytest.skip("needs qemu-img (qemu-utils)")
    uri = request.getfixturevalue("shared_libvirtd")  # after the root check: libvirtd needs root too
    disks = tmp_path / "disks"
    xml = tmp_path / "rs.xml"
    xml.write_text(GUEST.format(virt=virt_type, disks=disks))
    line = LINE.format(xml=xml, disks=disks)
    _fresh_images(disks)
    theirs = _run(["virsh", "-c", uri, line])
    grown = ((disks / "raw.img").stat().st_size, _virtual_size(disks / "image.qcow2"))
    host = Host(tmp_path / "pyvirt").start()
    try:
        _fresh_images(disks)
        ours = _run([sys.executable, "-m", "pyvirt.cli.main", "-c", host.uri, line])
        # the raw file grew on the host (3 MiB by its path last); the qcow2 to whole sectors: 1572865 -> 1573376
        assert ((disks / "raw.img").stat().st_size, _virtual_size(disks / "image.qcow2")) == (3 << 20, 1573376)
        _fresh_images(disks)
        wire = _run(["virsh", "-c", host.uri, line])  # Debian's virsh through pyvirtd's RPC procedures
        assert ((disks / "raw.img").stat().st_size, _virtual_size(disks / "image.qcow2")) == (3 << 20, 1573376)
    finally:
        _run(["virsh", "-c", host.uri, "destroy rs; undefine rs"])
        host.close()
    assert grown == (3 << 20, 1573376), (grown, theirs)
    # what libvirt 9.0 answered: its maximum first, 100 kept across the start, QEMU's post-copy 0 then 50, 64
    # set while running, the ceiling taken, kept after the guest stopped, 9 set while shut off
    numbers = ["8796093022207", "100", "100", "0", "50", "64", "8796093022207", "8796093022207", "9"]
    assert re.findall(r"^\d+$", theirs[0], re.M) == numbers, theirs
    assert "Block device 'vda' is resized" in theirs[0], theirs
    assert "disk 'vdz' was not found in the domain config" in theirs[1], theirs
    for name, got in (("pyvirsh", ours), ("virsh via pyvirtd", wire)):
        assert got[0] == theirs[0], (name, got, theirs)
        assert got[1] == theirs[1], (name, got, theirs)
        assert got[2] == theirs[2], (name, got, theirs)
