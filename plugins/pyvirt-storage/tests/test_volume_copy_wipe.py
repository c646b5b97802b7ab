"""vol-clone, vol-create-from and vol-wipe on a dir pool: real files, checked byte by byte and with ``qemu-img``.

libvirt's rules (storageVolCreateXMLFrom, storageBackendVolWipeLocalFile):
the copy has at least the source's capacity, an allocation the XML leaves
out is the whole capacity, a name in use is refused; zeros are written over
the data (a sparse file is truncated and regrown), other patterns are
``scrub``'s, ``trim`` is refused. The last test drives it all through
pyvirtd with Debian's virsh, over libvirt's own RPC procedures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon

needs_qemu_img = pytest.mark.skipif(not shutil.which("qemu-img"), reason="qemu-img (Debian's qemu-utils) is missing")
MIB = 1 << 20


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}") as c:
        yield c


def _pool(conn: pyvirt.Connection, name: str, path: Path) -> pyvirt.StoragePool:
    pool = conn.define_storage_pool(f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>")
    pool.create(1)  # WITH_BUILD
    return pool


def _volume_xml(name: str, capacity: int | None = None, fmt: str = "raw") -> str:
    size = f"<capacity>{capacity}</capacity>" if capacity is not None else ""
    return f"<volume><name>{name}</name>{size}<target><format type='{fmt}'/></target></volume>"


def _with_data(path: Path) -> bytes:
    """Data at the start, a hole, data near the end: what a copy must reproduce exactly."""
    with path.open("r+b") as f:
        f.write(b"start of the disk" * 100)
        f.seek(3 * MIB + 5)
        f.write(b"\xff" * 4096 + b"the end")
    return path.read_bytes()


def test_raw_clone_is_a_byte_for_byte_copy_in_any_pool(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images, other = _pool(conn, "images", tmp_path / "images"), _pool(conn, "other", tmp_path / "other")
    source = images.create_volume(_volume_xml("base.img", 4 * MIB))
    data = _with_data(tmp_path / "images" / "base.img")
    # a smaller capacity than the source's is the source's (libvirt's rule); no allocation: all of it
    copy = images.create_volume_from(_volume_xml("copy.img", MIB), source)
    assert copy.name == "copy.img" and copy.path() == str(tmp_path / "images" / "copy.img")
    assert (tmp_path / "images" / "copy.img").read_bytes() == data
    assert copy.info().capacity == 4 * MIB and copy.info().allocation >= 4 * MIB
    # into another pool, bigger than the source, thin: the data, then zeros, holes where the source had zeros
    grown = other.create_volume_from(
        "<volume><name>grown.img</name><capacity>8388608</capacity><allocation>0</allocation></volume>", source
    )
    assert grown.pool_name == "other" and grown.info().capacity == 8 * MIB
    assert (tmp_path / "other" / "grown.img").read_bytes() == data + bytes(4 * MIB)
    assert grown.info().allocation < 2 * MIB
    with pytest.raises(pyvirt.Error) as err:
        images.create_volume_from(_volume_xml("copy.img"), source)
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert err.value.message == "internal error: storage volume name 'copy.img' already in use."
    with pytest.raises(pyvirt.Error) as err:  # REFLINK: this copy is always a real one, never a silent one
        images.create_volume_from(_volume_xml("cow.img"), source, 2)
    assert "unsupported flags (0x2) in function storageVolCreateXMLFrom" in err.value.message
    assert sorted(v.name for v in images.list_all_volumes()) == ["base.img", "copy.img"]


@needs_qemu_img
def test_a_clone_to_qcow2_is_converted_by_qemu_img(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images = _pool(conn, "images", tmp_path / "images")
    source = images.create_volume(_volume_xml("base.img", 4 * MIB))
    _with_data(tmp_path / "images" / "base.img")
    converted = images.create_volume_from(_volume_xml("disk.qcow2", fmt="qcow2"), source)
    path = tmp_path / "images" / "disk.qcow2"
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(path)], capture_output=True,
                                     text=True, check=True).stdout)  # fmt: skip
    assert info["format"] == "qcow2" and info["virtual-size"] == 4 * MIB
    same = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", str(tmp_path / "images" / "base.img"),
                           str(path)], capture_output=True, text=True, check=False)  # fmt: skip
    assert same.returncode == 0, same.stdout + same.stderr
    # and back: qcow2 to raw is a conversion too
    back = images.create_volume_from(_volume_xml("back.img"), converted)
    assert Path(back.path()).read_bytes() == (tmp_path / "images" / "base.img").read_bytes()


def test_wipe_writes_zeros_over_the_data(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images = _pool(conn, "images", tmp_path / "images")
    full = images.create_volume(_volume_xml("full.img", 4 * MIB))
    _with_data(tmp_path / "images" / "full.img")
    full.wipe()
    assert (tmp_path / "images" / "full.img").read_bytes() == bytes(4 * MIB)
    # a sparse file: truncated to nothing and grown back, still sparse
    sparse = images.create_volume("<volume><name>sparse.img</name><capacity>4194304</capacity>"
                                  "<allocation>0</allocation></volume>")  # fmt: skip
    _with_data(tmp_path / "images" / "sparse.img")
    sparse.wipe_pattern(0)
    assert (tmp_path / "images" / "sparse.img").read_bytes() == bytes(4 * MIB)
    assert sparse.info().allocation < MIB and sparse.info().capacity == 4 * MIB
    with pytest.raises(pyvirt.Error) as err:
        full.wipe_pattern(9)  # trim
    assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED and "'trim' algorithm not supported" in err.value.message
    with pytest.raises(pyvirt.Error) as err:
        full.wipe_pattern(10)
    assert err.value.code == ErrorCode.INVALID_ARG and "wiping algorithm 10 not supported" in err.value.message
    with pytest.raises(pyvirt.Error) as err:
        full.wipe(1)
    assert "unsupported flags (0x1) in function storageVolWipePattern" in err.value.message


@pytest.mark.skipif(not shutil.which("scrub"), reason="scrub (Debian's scrub) is missing")
def test_other_patterns_are_scrubs(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images = _pool(conn, "images", tmp_path / "images")
    vol = images.create_volume(_volume_xml("secret.img", MIB))
    path = tmp_path / "images" / "secret.img"
    path.write_bytes(b"secret!!" * (MIB // 8))
    vol.wipe_pattern(8)  # random: scrub -f -p random
    after = path.read_bytes()
    assert len(after) == MIB and b"secret!!" not in after and after != bytes(MIB)


@pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the client here")
def test_debian_virsh_clones_and_wipes_through_pyvirtd(tmp_path: Path) -> None:
    target = tmp_path / "pooldir"
    pool_xml, vol_xml = tmp_path / "pool.xml", tmp_path / "vol.xml"
    pool_xml.write_text(f"<pool type='dir'><name>p</name><target><path>{target}</path></target></pool>")
    vol_xml.write_text(_volume_xml("made.img"))
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("storage:///system")

        def virsh(*args: str) -> tuple[str, str]:
            run = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60,
                                 env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
            return run.stdout, run.stderr

        assert virsh("pool-create", str(pool_xml), "--build")[1] == ""
        assert virsh("vol-create-as", "p", "base.img", "1M")[1] == ""
        (target / "base.img").write_bytes(b"x" * MIB)
        assert virsh("vol-clone", "base.img", "copy.img", "--pool", "p") == (
            "Vol copy.img cloned from base.img\n\n",
            "",
        )
        assert (target / "copy.img").read_bytes() == b"x" * MIB
        out, err = virsh("vol-create-from", "p", str(vol_xml), "base.img", "--inputpool", "p")
        assert (out, err) == ("Vol made.img created from input vol base.img\n\n", "")
        assert virsh("vol-wipe", "copy.img", "--pool", "p") == ("Vol copy.img wiped\n\n", "")  # STORAGE_VOL_WIPE
        assert (target / "copy.img").read_bytes() == bytes(MIB)
        out, err = virsh("vol-wipe", "made.img", "--pool", "p", "--algorithm", "trim")  # STORAGE_VOL_WIPE_PATTERN
        assert (
            err == "error: Failed to wipe vol made.img\nerror: argument unsupported: 'trim' algorithm not supported\n"
        )
        # and pyvirt's own remote client: the same procedures, its generated stubs
        with pyvirt.open(uri) as remote:
            pool = remote.lookup_storage_pool_by_name("p")
            again = pool.create_volume_from(_volume_xml("again.img"), pool.lookup_volume_by_name("base.img"))
            assert (again.pool_name, Path(again.path()).read_bytes()) == ("p", b"x" * MIB)
            again.wipe()
            assert (target / "again.img").read_bytes() == bytes(MIB)
            with pytest.raises(pyvirt.Error) as err:
                again.wipe_pattern(9)
            assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
        assert virsh("pool-destroy", "p")[1] == ""
