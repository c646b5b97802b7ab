"""The test:/// driver's scheduler and screen, as libvirt's test driver answers them, through the public API."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import ErrorCode, InvalidArgumentError, NotFoundError
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

UINT = TypedParamType.UINT


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def test_fair_scheduler_with_one_unsigned_weight(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert dom.scheduler_type() == ("fair", 1)
    assert dom.scheduler_parameters() == [TypedParam("weight", UINT, 50)]


def test_the_flags_query_fails_for_every_caller_as_in_libvirt(conn: pyvirt.Connection) -> None:
    """libvirt's public API adds VIR_TYPED_PARAM_STRING_OKAY, which the test driver's Flags variant refuses."""
    dom = conn.lookup_domain_by_name("test")
    for flags, extra in ((0, 4), (1, 5), (2, 6)):
        with pytest.raises(InvalidArgumentError) as info:
            dom.scheduler_parameters(flags)
        assert (
            info.value.message == f"unsupported flags (0x{extra:x}) in function testDomainGetSchedulerParametersFlags"
        )
    with pytest.raises(InvalidArgumentError, match="mutually exclusive"):
        dom.scheduler_parameters(3)


def test_setting_checks_every_parameter_and_changes_nothing_reported(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    dom.set_scheduler_parameters([TypedParam("weight", UINT, 100)])
    # libvirt's test driver accepts the weight and keeps reporting 50 (it has nowhere to store it)
    assert dom.scheduler_parameters() == [TypedParam("weight", UINT, 50)]
    refused = [
        ([TypedParam("cap", UINT, 1)], ErrorCode.ARGUMENT_UNSUPPORTED, "parameter 'cap' not supported"),
        ([TypedParam("weight", TypedParamType.LLONG, 1)], ErrorCode.INVALID_ARG,
         "invalid type 'llong' for parameter 'weight', expected 'uint'"),
        ([TypedParam("weight", UINT, 1)] * 2, ErrorCode.INVALID_ARG, "parameter 'weight' occurs multiple times"),
    ]  # fmt: skip
    for params, code, words in refused:
        with pytest.raises(InvalidArgumentError) as info:
            dom.set_scheduler_parameters(params)
        assert info.value.code == code and words in info.value.message
    with pytest.raises(InvalidArgumentError, match=r"unsupported flags \(0x1\)"):
        dom.set_scheduler_parameters([TypedParam("weight", UINT, 1)], 1)
    with pytest.raises(InvalidArgumentError, match="invalid value -1 for uint parameter 'weight'"):
        dom.set_scheduler_parameters([TypedParam("weight", UINT, -1)])


def test_unknown_domain_is_libvirts_error(conn: pyvirt.Connection) -> None:
    ghost = DomainRef("ghost", "00000000-0000-0000-0000-000000000001")
    for call in (
        lambda: conn.calls.domain_get_scheduler_type(dom=ghost),
        lambda: conn.calls.domain_get_scheduler_parameters(dom=ghost, flags=0),
        lambda: conn.calls.domain_set_scheduler_parameters(dom=ghost, params=[TypedParam("weight", UINT, 1)], flags=0),
        lambda: conn.calls.domain_screenshot(dom=ghost, screen=0, flags=0),
    ):
        with pytest.raises(NotFoundError) as info:
            call()
        assert info.value.code == ErrorCode.NO_DOMAIN


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every chunk of a PNG file, each CRC checked (PNG specification, section 5.3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_screenshot_is_a_real_png_of_the_test_card(conn: pyvirt.Connection, tmp_path: Path) -> None:
    mime, image = conn.lookup_domain_by_name("test").screenshot()
    assert mime == "image/png"
    chunks = _png_chunks(image)
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (width, height, depth, colour, interlace) == (640, 480, 8, 0, 0)
    raw = zlib.decompress(chunks[1][1])
    rows = [raw[y * (width + 1) : (y + 1) * (width + 1)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type None on every scanline
    middle = rows[height // 2][1:]
    assert middle[0] == 255 and middle[-1] == 255  # the frame
    bars = sorted(set(middle[8:-8]))
    assert bars == [i * 255 // 7 for i in range(8)]  # eight grey levels, black to white
    if shutil.which("file"):  # libmagic reads the header on its own
        path = tmp_path / "screen.png"
        path.write_bytes(image)
        described = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True, check=True).stdout
        assert described.startswith("PNG image data, 640 x 480, 8-bit grayscale")


def test_screenshot_descriptor_is_owned_by_the_caller(conn: pyvirt.Connection) -> None:
    """The hook hands out a fresh pipe each time, ending in end-of-file; nothing stays open after reading."""
    dom = conn.lookup_domain_by_name("test")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        assert dom.screenshot()[1][:4] == b"\x89PNG"
    assert len(os.listdir("/proc/self/fd")) == before
    mime, fd = conn.calls.domain_screenshot(dom=dom.ref, screen=0, flags=0)
    assert mime == "image/png"
    try:
        data = b""
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    assert data == dom.screenshot()[1]
    with pytest.raises(InvalidArgumentError, match=r"unsupported flags \(0x1\) in function testDomainScreenshot"):
        dom.screenshot(0, 1)
