"""The save image header, byte for byte as libvirt 9.0's virQEMUSaveHeader (qemu_saveimage.h).

The images a real libvirtd writes and reads are in test_libvirt_interop.py; these build
headers by hand for the cases a running libvirt does not produce on demand (another byte
order, another version, damaged files) and check libvirt's wording for each refusal.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from pyvirt_qemu.save_image import HEADER, finish_image, read_image, start_image

from pyvirt.errors import Error, ErrorCode

XML = "<domain type='kvm'><name>fmt</name></domain>"
COOKIE = "<cookie><cpu mode='custom'/></cookie>"


def libvirt_image(path: Path, order: str = "<", version: int = 2, was_running: int = 1, cookie: bool = True) -> int:
    """What libvirt's virQEMUSaveDataWrite lays out: header, XML\\0, cookie\\0, 64 KiB of zeros, stream."""
    xml = XML.encode() + b"\0"
    extra = COOKIE.encode() + b"\0" if cookie else b""
    data = xml + extra + b"\0" * 65536
    header = struct.pack(f"{order}16s5I14I", b"LibvirtQemudSave", version, len(data), was_running, 0,
                         len(xml) if cookie else 0, *([0] * 14))  # fmt: skip
    path.write_bytes(header + data + b"QEVM")
    return len(header) + len(data)


def test_the_header_is_libvirts_92_bytes() -> None:
    assert HEADER.size == 92  # 16 bytes of magic, 5 uint32, 14 unused uint32


@pytest.mark.parametrize("order", ["<", ">"], ids=["this-byte-order", "other-byte-order"])
def test_a_libvirt_image_with_its_cookie_is_read(tmp_path: Path, order: str) -> None:
    image = tmp_path / "lv.save"
    offset = libvirt_image(image, order)
    header = read_image(str(image))
    assert (header.xml, header.was_running, header.data_offset) == (XML, True, offset)
    assert image.read_bytes()[header.data_offset :] == b"QEVM"


def test_a_version_1_image_has_no_cookie(tmp_path: Path) -> None:
    image = tmp_path / "v1.save"
    libvirt_image(image, version=1, was_running=0, cookie=False)
    header = read_image(str(image))
    assert header.xml == XML and not header.was_running


def test_pyvirts_image_puts_the_xml_where_libvirt_reads_it(tmp_path: Path) -> None:
    image = tmp_path / "pv.save"
    fd = start_image(str(image), XML, was_running=False)
    os.write(fd, b"QEVM")
    finish_image(fd)
    os.close(fd)
    raw = image.read_bytes()
    magic, version, data_len, was_running, compressed, cookie = struct.unpack_from("=16s5I", raw)
    assert (magic, version, was_running, compressed, cookie) == (b"LibvirtQemudSave", 2, 0, 0, 0)
    assert raw[92 : 92 + len(XML) + 1] == XML.encode() + b"\0"
    assert data_len == len(XML) + 1 + 64 * 1024  # libvirt's room for a larger XML later
    assert raw[92 + data_len :] == b"QEVM"
    assert read_image(str(image)).data_offset == 92 + data_len


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[:50], "failed to read qemu header"),
        (lambda raw: b"LibvirtQemudPart" + raw[16:], "save image is incomplete"),
        (lambda raw: b"NotAQemuSaveFile" + raw[16:], "image magic is incorrect"),
        # libvirt retries a too-new version byte-swapped and reports the swapped number, as here
        (lambda raw: raw[:16] + struct.pack("<I", 3) + raw[20:], "image version is not supported (50331648 > 2)"),
        (lambda raw: raw[:20] + struct.pack("<I", 0) + raw[24:], "invalid header data length: 0"),
        (lambda raw: raw[:100], "failed to read domain XML"),
    ],
)
def test_damaged_images_are_refused_in_libvirts_words(tmp_path: Path, damage: object, message: str) -> None:
    image = tmp_path / "bad.save"
    libvirt_image(image)
    assert callable(damage)
    image.write_bytes(damage(image.read_bytes()))
    with pytest.raises(Error) as err:
        read_image(str(image))
    assert err.value.code == ErrorCode.OPERATION_FAILED and err.value.message.endswith(message)
