"""Bounded file reads, as libvirt's ``virFileReadAll``.

Every file whose content pyvirt or pyvirsh loads whole (XML documents,
definitions, status files, configuration) goes through ``read_capped``: it
reads at most ``limit + 1`` bytes and refuses the file with EOVERFLOW
("Value too large for defined data type") once there is one byte more than
the limit. The size is checked while reading, never taken from ``st_size``:
``/dev/zero``, a FIFO or a file that grows under us report a size that means
nothing, and reading them "whole" is how ``pyvirsh define /dev/zero`` once
grew to 14 GB.
"""

from __future__ import annotations

import errno
import os

from pyvirt.errors import SystemCallError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["MAX_CONFIG_FILE", "MAX_XML_FILE", "read_capped", "read_limited", "read_text_capped"]

MAX_XML_FILE = 10 * 1024 * 1024
"""virsh's ``VSH_MAX_XML_FILE`` and libvirt's limit on XML it loads from disk (10 MiB)."""

MAX_CONFIG_FILE = 10 * 1024 * 1024
"""libvirt's limit on a configuration file such as ``libvirtd.conf`` (``virConfReadFile``'s ``MAX_CONFIG_FILE_SIZE``: 10 MiB)."""

_CHUNK = 64 * 1024


def read_limited(f: BinaryIO, path: str, limit: int = MAX_XML_FILE) -> bytes:
    """The rest of an open file, at most ``limit`` bytes; more is an ``OSError`` (EOVERFLOW) naming ``path``.

    For code that already handles ``OSError`` from ``open``: it reads
    ``limit + 1`` bytes at most, whatever the file is.
    """
    data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EOVERFLOW, os.strerror(errno.EOVERFLOW), path)
    return data


def read_capped(path: str, limit: int = MAX_XML_FILE) -> bytes:
    """The bytes of ``path``, refused as libvirt refuses them when there are more than ``limit``.

    Errors are libvirt's: "Failed to open file 'P': <strerror>" and
    "Failed to read file 'P': <strerror>" (SYSTEM_ERROR with the errno).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise SystemCallError(exc.errno or errno.EIO, f"Failed to open file '{path}'") from None
    try:
        parts: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except InterruptedError:
                continue
            except OSError as exc:
                raise SystemCallError(exc.errno or errno.EIO, f"Failed to read file '{path}'") from None
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise SystemCallError(errno.EOVERFLOW, f"Failed to read file '{path}'")
    return b"".join(parts)


def read_text_capped(path: str, limit: int = MAX_XML_FILE) -> str:
    """``read_capped`` decoded as UTF-8; bytes that are not UTF-8 are kept as surrogate escapes.

    libvirt hands a file's bytes to libxml2 untouched, which then reports
    "Input is not proper UTF-8, indicate encoding !" with the offending
    bytes. Decoding with ``surrogateescape`` keeps those bytes: pyvirt's XML
    parser (``pyvirt.conf.xmlparse``) encodes them back and libxml2 reports
    the same error at the same place, instead of a Python decode traceback.
    """
    return read_capped(path, limit).decode("utf-8", "surrogateescape")
