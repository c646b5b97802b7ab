"""Screenshot hook of the test driver: a real PNG image, drawn when asked, streamed from a pipe.

libvirt's test driver answers virDomainScreenshot with ``image/png`` and the
contents of a PNG file it installs. pyvirt ships no binary files, so the
test driver draws its screen instead: a grey test card (bars of eight grey
levels inside a white frame), 8-bit greyscale, encoded with zlib by the
small PNG writer below (signature, IHDR, one IDAT, IEND, each chunk with
its CRC-32, PNG specification section 5). Any PNG reader opens it.

The image reaches the caller as a readable descriptor, as a real driver's
screen dump (a file QEMU wrote) does; the daemon relays it as the call's
stream. A pipe rather than a memfd: the daemon watches the descriptor with
epoll, which refuses regular files.
"""

from __future__ import annotations

from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import TestState
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef

__all__ = ["MIME_TYPE", "ScreenshotHooks", "draw_test_card", "encode_png_gray"]

MIME_TYPE = "image/png"
WIDTH, HEIGHT = 640, 480
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# struct, zlib and the stream pipe are imported where a screenshot needs them: this module is imported by every
# test:/// connection (its hooks are mixed into the connection), a screenshot is rare.


def _chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png_gray(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit greyscale PNG of ``rows`` (``height`` rows of ``width`` bytes, one byte per pixel)."""
    if len(rows) != height or any(len(row) != width for row in rows):
        raise ValueError(f"expected {height} rows of {width} pixels")
    import struct
    import zlib

    # IHDR: width, height, bit depth 8, colour type 0 (greyscale), deflate, adaptive filtering, no interlace
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) before every scanline
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def draw_test_card(width: int = WIDTH, height: int = HEIGHT) -> list[bytes]:
    """The test driver's screen: eight grey bars, black to white, in a white frame 8 pixels wide."""
    border = 8
    inside = max(width - 2 * border, 1)
    inner = bytes(
        255 if x < border or x >= width - border else (x - border) * 8 // inside * 255 // 7 for x in range(width)
    )
    frame = bytes([255]) * width
    return [frame if y < border or y >= height - border else inner for y in range(height)]


class ScreenshotHooks:
    """Mixed into the test connection; ``self.state`` comes from it."""

    state: TestState
    _png: bytes | None = None

    @hookimpl
    def domain_screenshot(self, dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
        check_flags(flags, 0, "testDomainScreenshot")
        self.state.find(dom)
        png = ScreenshotHooks._png
        if png is None:  # the same picture every time: drawn once per process
            png = ScreenshotHooks._png = encode_png_gray(WIDTH, HEIGHT, draw_test_card())
        from pyvirt.util.stream_pipe import readable_pipe

        return (MIME_TYPE, readable_pipe(png, thread_name="pyvirt-screenshot"))
