"""What a file in a pool holds: its format, virtual size and backing file, read from its header.

A pool refresh looks at every file in the directory, so the probe reads a
few hundred bytes itself instead of running ``qemu-img info`` (tens of
milliseconds each). The magic numbers are the formats' own (QCOW2, QED,
VMDK, VDI, ISO 9660); anything unrecognised is ``raw``, as libvirt reports it.
Only the storage driver trusts this answer: a guest's disk format still comes
from its ``<driver type>``, never from probing, so a raw guest cannot promote
its disk to qcow2 by writing a header.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

__all__ = ["ImageInfo", "probe_image"]

_QCOW2_MAGIC = b"QFI\xfb"
_QED_MAGIC = b"QED\x00"
_VMDK_MAGIC = b"KDMV"
_VDI_SIGNATURE = 0xBEDA107F
_ISO_OFFSET = 0x8001  # "CD001" of the first volume descriptor


@dataclass(frozen=True)
class ImageInfo:
    format: str
    capacity: int  # the guest-visible size
    allocation: int  # bytes the host really uses
    physical: int  # the file's size
    backing: str | None = None  # backing file, absolute
    backing_format: str | None = None
    compat: str | None = None  # qcow2: 0.10 or 1.1
    # qcow2 v3 only, as libvirt reports them: the features libvirt knows that the header sets
    features: tuple[str, ...] | None = None


def _qcow2_features(header: bytes, version: int) -> tuple[str, ...] | None:
    """qcow2GetFeatures: lazy refcounts (compatible bit 0) and extended L2 (incompatible bit 4), v3 only."""
    if version == 2:
        return None
    incompatible, compatible = struct.unpack_from(">QQ", header, 72)
    found = [name for name, on in (("lazy_refcounts", compatible & 1), ("extended_l2", incompatible & 16)) if on]
    return tuple(found)


def _qcow2(header: bytes, path: str) -> tuple[int, str | None, str | None, str]:
    version, backing_offset, backing_size = struct.unpack_from(">IQI", header, 4)
    size = struct.unpack_from(">Q", header, 24)[0]
    backing = None
    backing_format = None
    if backing_offset and backing_size:
        with open(path, "rb") as f:
            f.seek(backing_offset)
            backing = f.read(backing_size).decode(errors="replace")
        backing_format = _qcow2_backing_format(header, version, path)
    return size, backing, backing_format, "0.10" if version == 2 else "1.1"


def _qcow2_backing_format(header: bytes, version: int, path: str) -> str | None:
    """The backing format header extension (0xE2792ACA), after the fixed header."""
    header_length = 72 if version == 2 else struct.unpack_from(">I", header, 100)[0]
    with open(path, "rb") as f:
        f.seek(header_length)
        data = f.read(4096)
    offset = 0
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from(">II", data, offset)
        if kind == 0:
            break
        if kind == 0xE2792ACA:
            return data[offset + 8 : offset + 8 + length].decode(errors="replace")
        offset += 8 + (length + 7) // 8 * 8
    return None


def probe_image(path: str) -> ImageInfo:
    """The header's answer for ``path``; a file too short for any header is raw."""
    st = os.stat(path)
    with open(path, "rb") as f:
        header = f.read(512)
        f.seek(_ISO_OFFSET)
        iso = f.read(5)
    allocation = st.st_blocks * 512
    fmt, capacity, backing, backing_format, compat = "raw", st.st_size, None, None, None
    features = None
    if header[:4] == _QCOW2_MAGIC and len(header) >= 104:
        fmt = "qcow2"
        capacity, backing, backing_format, compat = _qcow2(header, path)
        features = _qcow2_features(header, struct.unpack_from(">I", header, 4)[0])
    elif header[:4] == _QED_MAGIC and len(header) >= 64:
        fmt = "qed"
        capacity = struct.unpack_from("<Q", header, 48)[0]
    elif header[:4] == _VMDK_MAGIC and len(header) >= 20:
        fmt = "vmdk"
        capacity = struct.unpack_from("<Q", header, 12)[0] * 512
    elif len(header) >= 0x180 and struct.unpack_from("<I", header, 0x40)[0] == _VDI_SIGNATURE:
        fmt = "vdi"
        capacity = struct.unpack_from("<Q", header, 0x170)[0]
    elif iso == b"CD001":
        fmt = "iso"
    if backing is not None and not os.path.isabs(backing):
        backing = os.path.join(os.path.dirname(path), backing)
    return ImageInfo(fmt, capacity, allocation, st.st_size, backing, backing_format, compat, features)
