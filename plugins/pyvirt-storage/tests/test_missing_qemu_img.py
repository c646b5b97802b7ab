"""Without qemu-img, creating a qcow2 volume says which program is missing and which package has it.

The story: on a fresh machine without ``qemu-utils``, ``vol-create-as ... --format qcow2``
failed with "cannot create volume '.../demo.qcow2': No such file or directory",
as if the pool's directory were missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode


def test_a_missing_qemu_img_is_named_with_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = tmp_path / "images"
    images.mkdir()
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}") as conn:
        pool = conn.create_storage_pool(f"<pool type='dir'><name>p</name><target><path>{images}</path></target></pool>")
        try:
            monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # nothing can be found
            with pytest.raises(pyvirt.Error) as e:
                pool.create_volume(
                    "<volume><name>demo.qcow2</name><capacity unit='M'>1</capacity>"
                    "<target><format type='qcow2'/></target></volume>"
                )
            assert e.value.code == ErrorCode.SYSTEM_ERROR
            assert e.value.message == (
                "Cannot find 'qemu-img' in path: No such file or directory (install the Debian package 'qemu-utils')"
            )
            assert list(images.iterdir()) == []  # the placeholder file is gone
        finally:
            pool.destroy()
