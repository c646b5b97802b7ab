"""virStorageVolUpload / virStorageVolDownload on a dir pool, in process (the daemon's tests cover the wire)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.errors import Error
from pyvirt.storage import StorageVolume

MIB = 1 << 20


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}") as c:
        yield c


@pytest.fixture
def volume(conn: pyvirt.Connection, tmp_path: Path) -> StorageVolume:
    (tmp_path / "images").mkdir()
    pool = conn.create_storage_pool(
        f"<pool type='dir'><name>images</name><target><path>{tmp_path / 'images'}</path></target></pool>"
    )
    return pool.create_volume(f"<volume><name>disk.raw</name><capacity>{4 * MIB}</capacity></volume>")


def test_upload_then_download_round_trips_the_bytes(volume: StorageVolume) -> None:
    data = os.urandom(3 * MIB + 12345)
    assert volume.upload(io.BytesIO(data)) == len(data)
    # upload returns only once the data is in the file: no wait, no flush needed to see it
    assert Path(volume.path()).read_bytes()[: len(data)] == data
    out = io.BytesIO()
    assert volume.download(out) == 4 * MIB  # the whole volume: the upload does not truncate it
    assert out.getvalue()[: len(data)] == data
    assert out.getvalue()[len(data) :] == bytes(4 * MIB - len(data))


def test_offset_and_length_select_the_range(volume: StorageVolume) -> None:
    volume.upload(io.BytesIO(b"x" * 100), offset=MIB)
    out = io.BytesIO()
    assert volume.download(out, offset=MIB - 10, length=30) == 30
    assert out.getvalue() == bytes(10) + b"x" * 20
    assert Path(volume.path()).stat().st_size == 4 * MIB  # written in place


def test_uploading_more_than_length_is_refused_after_writing_length(volume: StorageVolume) -> None:
    with pytest.raises(Error) as err:
        volume.upload(io.BytesIO(b"y" * 5000), offset=0, length=1000)
    assert err.value.message == "cannot write to stream: No space left on device"  # libvirt's fd stream
    assert Path(volume.path()).read_bytes()[:1001] == b"y" * 1000 + b"\0"


def test_the_sparse_flag_is_refused_with_libvirts_error(volume: StorageVolume) -> None:
    for call in (lambda: volume.upload(io.BytesIO(b""), flags=1), lambda: volume.download(io.BytesIO(), flags=1)):
        with pytest.raises(Error) as err:
            call()
        assert err.value.code == ErrorCode.INVALID_ARG
        assert "unsupported flags (0x1) in function storageVol" in err.value.message


def test_a_qcow2_volume_streams_as_its_file(conn: pyvirt.Connection, volume: StorageVolume) -> None:
    pool = conn.lookup_storage_pool_by_name("images")
    qcow = pool.create_volume(
        f"<volume><name>d.qcow2</name><capacity>{MIB}</capacity><target><format type='qcow2'/></target></volume>"
    )
    out = io.BytesIO()
    qcow.download(out)
    assert out.getvalue() == Path(qcow.path()).read_bytes()
    assert out.getvalue()[:4] == b"QFI\xfb"
    subprocess.run(["qemu-img", "check", "-q", qcow.path()], check=True)


def test_read_only_connections_refuse_both(tmp_path: Path, volume: StorageVolume) -> None:
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}", read_only=True) as ro:
        vol = ro.lookup_storage_pool_by_name("images").lookup_volume_by_name("disk.raw")
        for call, api in ((lambda: vol.upload(io.BytesIO(b"z")), "virStorageVolUpload"),
                          (lambda: vol.download(io.BytesIO()), "virStorageVolDownload")):  # fmt: skip
            with pytest.raises(Error) as err:
                call()
            assert err.value.code == ErrorCode.OPERATION_DENIED
            assert err.value.message == f"operation forbidden: read only access prevents {api}"
