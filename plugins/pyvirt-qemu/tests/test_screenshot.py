"""virsh screenshot and set-user-password on a real QEMU guest (firmware only), beside libvirt 9.0.

The same virsh line runs through Debian's virsh against a private libvirtd,
through pyvirsh and through Debian's virsh against a private pyvirtd: the
screenshot's message (its MIME type: QEMU 7.2's screendump writes PNG, so
libvirt asks for PNG), the refusals (no such screen, a guest without video,
flags, an agent that is not connected) must print the same. A second story
reads the picture: a PNG of the size QEMU's own dump of the screen has.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import OperationInvalidError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def guest(name: str, virt_type: str, video: bool) -> str:
    devices = "<video><model type='vga'/></video>" if video else ""
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>{devices}
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<memballoon model='none'/></devices></domain>"""


_LINE = "; ".join([
    "define {shown}", "define {blind}", "screenshot scr {png}", "start scr", "start scrnv",
    "screenshot scr {png}", "screenshot scr {png} --screen 1", "screenshot scrnv {png}",
    "set-user-password scr root secret", "set-user-password scr root '$6$x$y' --encrypted",
    "destroy scr", "destroy scrnv", "set-user-password scr root secret",
    "undefine scr", "undefine scrnv",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    shown, blind = tmp_path / "scr.xml", tmp_path / "scrnv.xml"
    shown.write_text(guest("scr", virt_type, video=True))
    blind.write_text(guest("scrnv", virt_type, video=False))
    png = tmp_path / "shot.png"
    line = _LINE.format(shown=shown, blind=blind, png=png)
    cleanup = "destroy scr; destroy scrnv; undefine scr; undefine scrnv"
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", cleanup)
    assert f"Screenshot saved to {png}, with type of image/png" in theirs[0]
    for refusal in ("no screens to take screenshot from", "no such screen ID", "QEMU guest agent is not connected"):
        assert refusal in theirs[1]
    assert_prints_as(theirs, **ours)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")  # the last writer was pyvirtd's stream


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of an 8-bit RGB PNG, checked by inflating its pixels (one filter byte per row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 2)
    pos, idat = 8, b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


def test_the_screenshot_is_a_picture_of_the_screen(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    dom = conn.define_domain(guest("scr", virt_type, video=True))
    dom.create()
    try:
        mime, data = dom.screenshot(0)
        assert mime == "image/png"
        from pyvirt_qemu import driver as qemu_driver

        proc = next(s.by_name["scr"].process for s in qemu_driver._states.values() if "scr" in s.by_name)
        ppm = tmp_path / "screen.ppm"  # QEMU's default format: its header says the screen's size
        proc.monitor.execute("screendump", {"filename": str(ppm)})
        magic, width, height = ppm.read_bytes().split(maxsplit=3)[:3]
        assert magic == b"P6"
        assert _png_size(data) == (int(width), int(height))
        with pytest.raises(OperationInvalidError, match="no such screen ID"):
            dom.screenshot(1)
        private = qemu_root_private(conn, "scr")
        assert not [p for p in private.iterdir() if p.name.startswith("qemu.screendump.")]  # nothing left behind
    finally:
        dom.destroy()
        dom.undefine()


def qemu_root_private(conn: pyvirt.Connection, name: str) -> Path:
    from pyvirt_qemu import driver as qemu_driver
    from pyvirt_qemu.master_key import guest_private_dir

    state = next(s for s in qemu_driver._states.values() if name in s.by_name)
    return Path(guest_private_dir(state.paths.lib, name))
