"""Disk target names (``sda``, ``hdb``, ``fda``) and their indexes, as libvirt's virDiskNameToIndex/virIndexToDiskName."""

from __future__ import annotations

__all__ = ["disk_name_to_index", "index_to_disk_name"]

_PREFIXES = ("fd", "hd", "vd", "sd", "xvd", "ubd")


def disk_name_to_index(name: str) -> int:
    """The 0-based index of ``sdb`` (1) or ``sdaa`` (26); -1 for a name libvirt would not read."""
    rest = next((name[len(p) :] for p in _PREFIXES if name.startswith(p)), None)
    if rest is None:
        return -1
    idx, i = 0, 0
    while i < len(rest) and i < 7 and "a" <= rest[i] <= "z":
        idx = (idx + (1 if i else 0)) * 26 + ord(rest[i]) - ord("a")
        i += 1
    tail = rest[i:]
    if i == 0 or (tail and not (tail.isascii() and tail.isdigit())):
        return -1
    return idx


def index_to_disk_name(idx: int, prefix: str) -> str:
    letters = ""
    offset = idx
    while offset >= 0:
        letters = chr(ord("a") + offset % 26) + letters
        offset = offset // 26 - 1
    return prefix + letters
