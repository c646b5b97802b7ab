"""libvirt's QEMU save image: a fixed header, the domain XML, then QEMU's migration stream.

The layout is libvirt's own (``virQEMUSaveHeader`` in qemu_saveimage.h, version
2), so images move between pyvirt and libvirt on the same host: 16 bytes of
magic, five native-endian uint32 (version, data length, was-running,
compression, cookie offset) and fourteen unused uint32 -- 92 bytes -- then
``data_len`` bytes holding the NUL-terminated XML (and, in libvirt's images,
a NUL-terminated save cookie at ``cookieOffset``) padded with zeros, and from
there the bytes QEMU wrote for ``migrate``. While QEMU is still writing, the
magic reads ``LibvirtQemudPart``; it becomes ``LibvirtQemudSave`` only once
the stream is complete and synced, so a crash mid-save leaves an image that
restore refuses instead of a guest that resumes from half its memory.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError, SystemCallError

__all__ = ["HEADER", "SaveHeader", "finish_image", "read_image", "start_image"]

MAGIC = b"LibvirtQemudSave"
PARTIAL = b"LibvirtQemudPart"
VERSION = 2
HEADER = struct.Struct("=16s5I14I")  # 92 bytes, as sizeof(virQEMUSaveHeader)
_SWAPPED = struct.Struct(">16s5I14I" if struct.pack("=I", 1) == struct.pack("<I", 1) else "<16s5I14I")
# libvirt pads the data by 64 KiB so that save-image-define can store a larger XML in place
_PAD = 64 * 1024
_MAX_XML = 10 * 1024 * 1024  # libvirt's limit on any XML document it reads


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
        os.write(fd, HEADER.pack(PARTIAL, VERSION, len(data), int(was_running), 0, 0, *([0] * 14)))
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


def _failed(message: str) -> OperationFailedError:
    return OperationFailedError(ErrorCode.OPERATION_FAILED, message)


def read_image(path: str) -> SaveHeader:
    """Header and XML of an image written by pyvirt or libvirt, checked as libvirt checks them."""
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER.size)
            if len(raw) < HEADER.size:
                raise _failed("failed to read qemu header")
            fields = HEADER.unpack(raw)
            magic = fields[0]
            if magic != MAGIC:
                raise _failed("save image is incomplete" if magic == PARTIAL else "image magic is incorrect")
            if fields[1] > VERSION:  # written on a host of the other byte order
                fields = _SWAPPED.unpack(raw)
            _magic, version, data_len, was_running, compressed, cookie_offset, *_ = fields
            if version > VERSION:
                raise _failed(f"image version is not supported ({version} > {VERSION})")
            if data_len <= 0 or data_len >= 1 << 31:
                # libvirt reads the length as a signed int: 2**31 and more show as negative there
                signed = data_len - (1 << 32) if data_len >= 1 << 31 else data_len
                raise _failed(f"invalid header data length: {signed}")
            if data_len > _MAX_XML + _PAD:
                raise _failed(f"invalid header data length: {data_len}")
            xml_len = cookie_offset if version == 2 and cookie_offset else data_len
            if xml_len > data_len:
                raise _failed(f"invalid cookie offset: {xml_len}")
            if version == 2 and compressed:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "compressed save images are not supported yet")
            data = f.read(data_len)
            if len(data) < xml_len:
                raise _failed("failed to read domain XML")
            if len(data) < data_len:
                raise _failed("failed to read cookie")
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot read domain image '{path}'") from exc
    # libvirt's save cookie (its CPU definition, after the XML) is not needed: the XML names the CPU too
    try:
        xml = data[:xml_len].split(b"\0", 1)[0].decode()
    except UnicodeDecodeError:
        raise _failed("failed to read domain XML: it is not UTF-8") from None
    return SaveHeader(xml, bool(was_running), HEADER.size + data_len)
