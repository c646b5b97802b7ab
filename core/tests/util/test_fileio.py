"""Every whole-file read is bounded as libvirt's virFileReadAll: at most the limit, checked while reading.

st_size means nothing for /dev/zero, a FIFO or a file growing under the
reader, so the size is never asked for: the reader stops one byte past the
limit and refuses the file with EOVERFLOW, having held no more than that.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.util.fileio import MAX_XML_FILE, read_capped, read_limited, read_text_capped

TOO_LARGE = os.strerror(errno.EOVERFLOW)


def test_a_file_at_the_limit_is_read_whole_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_capped(str(path), 100) == b"x" * 100
    with pytest.raises(pyvirt.SystemCallError) as err:
        read_capped(str(path), 99)
    assert err.value.errno == errno.EOVERFLOW
    assert err.value.message == f"Failed to read file '{path}': {TOO_LARGE}"


def test_missing_file_is_libvirts_open_error(tmp_path: Path) -> None:
    with pytest.raises(pyvirt.SystemCallError) as err:
        read_capped(str(tmp_path / "nope"))
    assert err.value.message == f"Failed to open file '{tmp_path / 'nope'}': No such file or directory"


def test_dev_zero_and_a_fed_fifo_stop_at_the_limit(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(pyvirt.SystemCallError):
        read_capped("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        fd = os.open(fifo, os.O_WRONLY)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    with pytest.raises(pyvirt.SystemCallError) as err:
        read_capped(str(fifo))
    writer.join(5)
    assert err.value.errno == errno.EOVERFLOW and not writer.is_alive()
    assert time.monotonic() - t0 < 2


def test_read_limited_keeps_oserror_for_callers_that_handle_it(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(200 * 1024 * 1024)
    with open(sparse, "rb") as f, pytest.raises(OSError) as err:
        read_limited(f, str(sparse))
    assert err.value.errno == errno.EOVERFLOW and err.value.filename == str(sparse)
    with open("/dev/null", "rb") as f:
        assert read_limited(f, "/dev/null", MAX_XML_FILE) == b""


def test_text_keeps_bytes_that_are_not_utf8_for_the_xml_parser(tmp_path: Path) -> None:
    path = tmp_path / "latin1.xml"
    path.write_bytes(b"<a>caf\xe9</a>")
    text = read_text_capped(str(path))
    assert text == "<a>caf\udce9</a>"
    assert text.encode("utf-8", "surrogateescape") == path.read_bytes()


def test_the_test_drivers_fixture_file_is_bounded() -> None:
    t0 = time.monotonic()
    with pytest.raises(pyvirt.Error):
        pyvirt.open("test:///dev/zero")
    assert time.monotonic() - t0 < 2
