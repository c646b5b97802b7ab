"""libvirt's QEMU save image: a fixed header, the domain XML, then QEMU's migration stream.

The layout is libvirt's own (virQEMUSaveHeader, version 2), so images move
between pyvirt and libvirt on the same host: 16 bytes of magic, twenty
native-endian uint32 (version, XML length, was-running, compression,
cookie offset, fifteen unused), the NUL-padded XML, and from there the bytes
QEMU wrote for ``migrate``. While QEMU is still writing, the magic reads
``LibvirtQemudPart``; it becomes ``LibvirtQemudSave`` only once the stream
is complete and synced, so a crash mid-save leaves an image that restore
refuses instead of a guest that resumes from half its memory.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from pyvirt.errors import (
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    SystemCallError,
)

__all__ = ["HEADER", "SaveHeader", "finish_image", "read_image", "start_image"]

MAGIC = b"LibvirtQemudSave"
PARTIAL = b"LibvirtQemudPart"
VERSION = 2
HEADER = struct.Struct("=16s20I")
_PAD = 1024  # room for a changed XML on a later save-image-define, as libvirt leaves


@dataclass(frozen=True)
class SaveHeader:
    xml: str
    was_running: bool
    data_offset: int


def start_image(path: str, xml: str, was_running: bool) -> int:
    """Create the image with the partial magic and the XML; return an fd positioned for QEMU's stream."""
    data = xml.encode() + b"\0"
    data += b"\0" * _PAD
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, HEADER.pack(PARTIAL, VERSION, len(data), int(was_running), 0, 0, *([0] * 15)))
        os.write(fd, data)
    except OSError as exc:
        os.close(fd)
        raise SystemCallError(exc.errno or 0, f"failed to write save image header to '{path}'") from exc
    return fd


def finish_image(fd: int) -> None:
    """Sync the stream, then flip the magic: only now is the image restorable."""
    os.fsync(fd)
    os.pwrite(fd, MAGIC, 0)
    os.fsync(fd)


def read_image(path: str) -> SaveHeader:
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER.size)
            if len(raw) < HEADER.size:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "failed to read qemu header")
            magic, version, data_len, was_running, compressed, _cookie, *_ = HEADER.unpack(raw)
            if magic == PARTIAL:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, "save image is incomplete")
            if magic != MAGIC:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "image magic is incorrect")
            if version != VERSION:
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"image version is not supported ({version} > {VERSION})"
                )
            if compressed:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "compressed save images are not supported yet")
            if data_len <= 0 or data_len > 10 * 1024 * 1024:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "invalid XML length")
            xml = f.read(data_len).split(b"\0", 1)[0].decode()
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot read domain image '{path}'") from exc
    return SaveHeader(xml, bool(was_running), HEADER.size + data_len)
