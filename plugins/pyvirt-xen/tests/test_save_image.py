"""libvirt's libxl save-image format, read without Xen: its header checks and libvirt's errors.

Saving and restoring real guests (through ``xl save``/``xl restore``) is
tested in the nested dom0 (``in_dom0/``); here what is decided before xl
runs: a file that is not an image, a truncated one, a newer version, and a
good image on a host without xl, which must leave nothing behind.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from pyvirt_xen.saves import LIBXL_SAVE_MAGIC

import pyvirt
from pyvirt.errors import Error, ErrorCode

PV = """<domain type='xen'>
  <name>pvsaved</name>
  <uuid>5ae1c3de-0c4e-4e1a-8f6b-3a4b5c6d7e8f</uuid>
  <memory>131072</memory>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel></os>
</domain>"""


def image(path: Path, xml: str = PV, version: int = 2, magic: bytes = LIBXL_SAVE_MAGIC) -> str:
    data = xml.encode() + b"\0"
    path.write_bytes(struct.pack("=16sII40x", magic, version, len(data)) + data + b"\x00stream")
    return str(path)


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"not an image at all, but long enough to hold a libvirt header of sixty-four bytes.....",
         ErrorCode.INVALID_ARG, "image magic is incorrect"),
        (b"libvirt-xml\n", ErrorCode.OPERATION_FAILED, "failed to read libxl header"),
    ],
)  # fmt: skip
def test_what_is_not_an_image_is_refused_as_libvirt_refuses_it(
    tmp_path: Path, content: bytes, code: ErrorCode, message: str
) -> None:
    (tmp_path / "img").write_bytes(content)
    with pyvirt.open(f"xen:///embed?root={tmp_path / 'root'}") as conn, pytest.raises(Error) as err:
        conn.restore_domain(str(tmp_path / "img"))
    assert err.value.code == code and message in err.value.message


def test_a_newer_image_version_and_a_short_xml_are_refused(tmp_path: Path) -> None:
    with pyvirt.open(f"xen:///embed?root={tmp_path / 'root'}") as conn:
        with pytest.raises(Error) as err:
            conn.restore_domain(image(tmp_path / "v3", version=3))
        assert err.value.message.endswith("image version is not supported (3 > 2)")
        path = tmp_path / "short"
        path.write_bytes(struct.pack("=16sII40x", LIBXL_SAVE_MAGIC, 2, 4096) + b"<domain")
        with pytest.raises(Error) as err:
            conn.restore_domain(str(path))
        assert err.value.message.endswith("failed to read XML")
        with pytest.raises(Error) as err:
            conn.restore_domain(image(tmp_path / "x", "<domain/>"), xml=PV)
        assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED


@pytest.mark.skipif(shutil.which("xl") is not None, reason="xl is installed here: restores are tested for real")
def test_a_good_image_without_xen_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pyvirt.open(f"xen:///embed?root={root}") as conn:
        with pytest.raises(Error) as err:
            conn.restore_domain(image(tmp_path / "good"))
        assert err.value.code == ErrorCode.SYSTEM_ERROR and "Cannot find 'xl' in path" in err.value.message
        assert conn.list_all_domains() == []
    assert os.listdir(root / "lib" / "libxl" / "save") == []  # the xl-format copy of the stream is gone
    assert os.listdir(root / "run" / "libxl") == []


def test_saving_a_shut_off_guest_is_refused(tmp_path: Path) -> None:
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as conn:
        dom = conn.define_domain(PV)
        with pytest.raises(Error) as err:
            dom.save(str(tmp_path / "img"))
    assert err.value.code == ErrorCode.OPERATION_INVALID
    assert not (tmp_path / "img").exists()
