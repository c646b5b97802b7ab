"""Volume and pool modes on real files: never setuid, setgid or sticky, whatever the definition asks.

libvirt refuses a ``<mode>`` outside 0..0777 ("malformed octal mode"); before
that check, ``<mode>4777</mode>`` made a root-owned, setuid, world-writable
file and ``-1`` or ``7777`` gave 07777.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pyvirt_storage.dir_backend import DirBackend

import pyvirt
from pyvirt import ErrorCode
from pyvirt.conf.storage import Bytes, Permissions, Pool, PoolTarget, VolTarget, Volume

REFUSED = ["4777", "2777", "1777", "7777", "-1", "06755"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "embed"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return tmp_path / "images"


@pytest.fixture
def pool(root: Path, images: Path) -> Iterator[pyvirt.StoragePool]:
    with pyvirt.open(f"storage:///embed?root={root}") as conn:
        pool = conn.define_storage_pool(
            f"<pool type='dir'><name>perm</name><target><path>{images}</path></target></pool>"
        )
        pool.create(1)
        yield pool


def _vol(name: str, mode: str) -> str:
    return (f"<volume><name>{name}</name><capacity>1048576</capacity><target><format type='raw'/>"
            f"<permissions><mode>{mode}</mode></permissions></target></volume>")  # fmt: skip


@pytest.mark.parametrize("mode", REFUSED)
def test_special_bits_are_refused_and_nothing_is_created(pool: pyvirt.StoragePool, images: Path, mode: str) -> None:
    with pytest.raises(pyvirt.Error) as info:
        pool.create_volume(_vol("bad.img", mode))
    assert (info.value.code, info.value.message) == (ErrorCode.XML_ERROR, "XML error: malformed octal mode")
    assert list(images.iterdir()) == []


def test_the_mode_asked_for_is_the_mode_created(pool: pyvirt.StoragePool, images: Path) -> None:
    old = os.umask(0o077)  # the creator's umask does not narrow what the definition asked for
    try:
        vol = pool.create_volume(_vol("open.img", "0777"))
    finally:
        os.umask(old)
    st = (images / "open.img").stat()
    assert stat.S_IMODE(st.st_mode) == 0o777 and not st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert etree.fromstring(vol.xml_desc().encode()).findtext("target/permissions/mode") == "0777"


def test_a_setuid_file_already_there_is_reported_as_libvirt_reports_it(pool: pyvirt.StoragePool, images: Path) -> None:
    """libvirt shows only the permission bits; the dumped volume can be created again."""
    path = images / "found.img"
    path.write_bytes(b"\0" * 4096)
    os.chmod(path, 0o4755)
    pool.refresh()
    xml = pool.lookup_volume_by_name("found.img").xml_desc()
    assert etree.fromstring(xml.encode()).findtext("target/permissions/mode") == "0755"


def test_pool_directory_modes(root: Path, tmp_path: Path) -> None:
    with pyvirt.open(f"storage:///embed?root={root}") as conn:
        for i, mode in enumerate(REFUSED):
            with pytest.raises(pyvirt.Error, match="malformed octal mode"):
                conn.define_storage_pool(f"<pool type='dir'><name>d{i}</name><target><path>{tmp_path}/d{i}</path>"
                                         f"<permissions><mode>{mode}</mode></permissions></target></pool>")  # fmt: skip
        # a parent directory with setgid set: the new pool directory does not keep the inherited bit
        parent = tmp_path / "sgid"
        parent.mkdir()
        os.chmod(parent, 0o2775)
        pool = conn.define_storage_pool(f"<pool type='dir'><name>ok</name><target><path>{parent}/ok</path>"
                                        "<permissions><mode>0750</mode></permissions></target></pool>")  # fmt: skip
        pool.create(1)  # WITH_BUILD
        assert stat.S_IMODE((parent / "ok").stat().st_mode) == 0o750


def test_a_model_built_in_code_is_held_to_the_same_rule(images: Path) -> None:
    """The backend refuses on its own, whatever did (not) parse the definition."""
    images.mkdir()
    backend = DirBackend()
    pool = Pool(type="dir", name="p", target=PoolTarget(path=str(images)))
    for mode in ("4777", "7777", "-1"):
        vol = Volume(name="x.img", capacity=Bytes(value=4096), target=VolTarget(permissions=Permissions(mode=mode)))
        with pytest.raises(pyvirt.Error, match="malformed octal mode"):
            backend.create_volume(pool, vol, 0)
        assert not (images / "x.img").exists()


def test_pyvirsh_vol_create_refuses_setuid(root: Path, images: Path, tmp_path: Path) -> None:
    def pyvirsh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"storage:///embed?root={root}", *args],
                              capture_output=True, text=True, check=False, timeout=120)  # fmt: skip

    (tmp_path / "pool.xml").write_text(
        f"<pool type='dir'><name>cli</name><target><path>{images}</path></target></pool>"
    )
    assert pyvirsh("pool-define", str(tmp_path / "pool.xml")).returncode == 0
    assert pyvirsh("pool-start", "cli", "--build").returncode == 0
    (tmp_path / "vol.xml").write_text(_vol("suid.img", "4777"))
    done = pyvirsh("vol-create", "cli", str(tmp_path / "vol.xml"))
    assert done.returncode == 1
    assert "error: XML error: malformed octal mode" in done.stderr
    assert not (images / "suid.img").exists()
    (tmp_path / "vol.xml").write_text(_vol("fine.img", "0640"))
    assert pyvirsh("vol-create", "cli", str(tmp_path / "vol.xml")).returncode == 0
    assert stat.S_IMODE((images / "fine.img").stat().st_mode) == 0o640
