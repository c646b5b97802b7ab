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

import contextlib
import fcntl
import logging
import os
import struct
from dataclasses import dataclass

from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationFailedError, SystemCallError
from pyvirt_qemu.bypass_cache import CacheBypassingWriter, read_direct

__all__ = ["HEADER", "ImageWriter", "SaveHeader", "drop_if_partial", "finish_image", "read_image", "start_image"]

_log = logging.getLogger("pyvirt.qemu")

MAGIC = b"LibvirtQemudSave"
PARTIAL = b"LibvirtQemudPart"
VERSION = 2
HEADER = struct.Struct("=16s5I14I")  # 92 bytes, as sizeof(virQEMUSaveHeader)
_SWAPPED = struct.Struct(">16s5I14I" if struct.pack("=I", 1) == struct.pack("<I", 1) else "<16s5I14I")
# libvirt pads the data by 64 KiB so that save-image-define can store a larger XML in place
_PAD = 64 * 1024
_MAX_XML = 10 * 1024 * 1024  # libvirt's limit on any XML document it reads


def _direct_opener(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_DIRECT)


@dataclass(frozen=True)
class SaveHeader:
    xml: str
    was_running: bool
    data_offset: int


def _header(xml: str, was_running: bool) -> bytes:
    """The header with the partial magic, then the XML and its padding: what precedes QEMU's stream."""
    data = xml.encode() + b"\0"
    data += b"\0" * _PAD
    return HEADER.pack(PARTIAL, VERSION, len(data), int(was_running), 0, 0, *([0] * 14)) + data


def start_image(path: str, xml: str, was_running: bool) -> int:
    """Create the image with the partial magic and the XML; return an fd positioned for QEMU's stream."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError as exc:  # (qemuSaveImageCreate's words, as the cache-bypassing open says them)
        raise SystemCallError(exc.errno or 0, f"Failed to create file '{path}'") from exc
    try:
        os.write(fd, _header(xml, was_running))
    except OSError as exc:
        os.close(fd)
        raise SystemCallError(exc.errno or 0, f"failed to write save image header to '{path}'") from exc
    return fd


class ImageWriter:
    """A save image being written (libvirt's qemuSaveImageCreate): the header now, QEMU's stream into
    :attr:`fd`, the complete magic at :meth:`finish`.

    With ``bypass_cache`` (VIR_DOMAIN_SAVE_BYPASS_CACHE) the file is opened
    ``O_DIRECT`` and header and stream both go through a
    :class:`~pyvirt_qemu.bypass_cache.CacheBypassingWriter`, as libvirt sends
    both through its iohelper: a saved guest's memory does not push the
    host's cache out. The magic is written afterwards through the cache, as
    libvirt reopens the file for it.
    """

    def __init__(self, path: str, xml: str, was_running: bool, bypass_cache: bool) -> None:
        self._path = path
        self._copy: CacheBypassingWriter | None = None
        if not bypass_cache:
            self._file = self.fd = start_image(path, xml, was_running)
            return
        try:
            self._file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_DIRECT, 0o600)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to create file '{path}'") from exc
        try:
            self._copy = CacheBypassingWriter(self._file, path)
            self.fd = self._copy.fd
            header = memoryview(_header(xml, was_running))
            while header:  # (the copy drains the pipe meanwhile)
                header = header[os.write(self.fd, header) :]
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError):
                raise SystemCallError(exc.errno or 0, f"failed to write save image header to '{path}'") from exc
            raise

    def finish(self) -> None:
        """QEMU's stream is complete: wait for the copy, then sync and flip the magic (:func:`finish_image`)."""
        if self._copy is not None:
            copying, self._copy = self._copy, None
            self.fd = -1
            copying.close()
            flags = fcntl.fcntl(self._file, fcntl.F_GETFL)
            fcntl.fcntl(self._file, fcntl.F_SETFL, flags & ~os.O_DIRECT)  # a 16-byte write cannot go direct
        try:
            finish_image(self._file)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Unable to write {self._path}") from exc

    def close(self) -> None:
        """Let go of the file (and the copy, which a failed save's QEMU has let go of too): no error, the
        caller reports the save's own."""
        if self._copy is not None:
            copying, self._copy = self._copy, None
            with contextlib.suppress(Error):
                copying.close(timeout=10.0)
        if self._file >= 0:
            os.close(self._file)
            self._file = -1


def finish_image(fd: int) -> None:
    """Sync the stream, then flip the magic: only now is the image restorable."""
    os.fsync(fd)
    os.pwrite(fd, MAGIC, 0)
    os.fsync(fd)


def drop_if_partial(path: str, direct: bool = False) -> None:
    """Remove ``path`` if it is an image whose save never completed (the partial magic): one a daemon's death
    cut short. libvirt's start from a managed save does so and boots afresh (qemuSaveImageOpen with
    ``unlink_corrupt``), where an image damaged otherwise fails the start. ``direct``: look with ``O_DIRECT``
    (a start with ``--bypass-cache`` puts no part of the image in the host's cache)."""
    try:
        with open(path, "rb", buffering=0, opener=_direct_opener if direct else None) as f:
            magic = read_direct(f.fileno(), len(PARTIAL)) if direct else f.read(len(PARTIAL))
            if magic != PARTIAL:
                return
    except OSError:
        return  # (none, or unreadable: the start reports it)
    _log.warning("Ignoring incomplete managed state %s", path)
    try:
        os.unlink(path)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot remove corrupt file: {path}") from exc


def _failed(message: str) -> OperationFailedError:
    return OperationFailedError(ErrorCode.OPERATION_FAILED, message)


def read_image(path: str, direct: bool = False) -> SaveHeader:
    """Header and XML of an image written by pyvirt or libvirt, checked as libvirt checks them.
    ``direct``: read with ``O_DIRECT`` (a restore with ``--bypass-cache`` puts no part of the image in the
    host's cache)."""
    try:
        with open(path, "rb", buffering=0, opener=_direct_opener if direct else None) as f:
            fd = f.fileno()
            raw = read_direct(fd, HEADER.size) if direct else f.read(HEADER.size)
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
            data = read_direct(fd, HEADER.size + data_len)[HEADER.size :] if direct else f.read(data_len)
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
