"""Disk target names (``vda``, ``hdc``, ``sdaa``) as libvirt reads them, for every driver.

libvirt orders disks, gives them drive addresses and names their QEMU aliases
by the index of the target name (virDiskNameToIndex); the generic parser, the
test driver and the hypervisor plugins all need the same answer, so it lives
here, in the plugin-facing ``pyvirt.conf``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TypeVar

    T = TypeVar("T")

__all__ = ["DISK_PREFIXES", "disk_index", "insertion_order"]

# virDiskNameParse's prefixes, tried in this order ("sd" before "xvd": neither is a prefix of the other)
DISK_PREFIXES = ("fd", "hd", "vd", "sd", "xvd", "ubd")


def disk_index(name: str) -> int:
    """virDiskNameToIndex: 'vda' is 0, 'hdc' 2, 'vdz' 25, 'sdaa' 26; a trailing partition number ('sda1') is
    ignored. -1 for a name of no known form: no known prefix, no lower-case letter after it, or anything but
    ASCII digits after the letters."""
    letters = next((name[len(p) :] for p in DISK_PREFIXES if name.startswith(p)), None)
    if letters is None:
        return -1
    index, count = 0, 0
    for ch in letters:
        if not "a" <= ch <= "z":
            break
        index = (index + (1 if count else 0)) * 26 + ord(ch) - ord("a")
        count += 1
    rest = letters[count:]
    return index if count and all("0" <= ch <= "9" for ch in rest) else -1


def insertion_order(disks: Iterable[T], key: Callable[[T], tuple[str | None, str]]) -> list[T]:
    """virDomainDiskInsert, one disk after the other: a disk joins the disks of its bus (``key`` gives its bus
    and target name) before the first of them with a higher index, or after the last; a new bus goes last."""
    ordered: list[T] = []
    for disk in disks:
        bus, name = key(disk)
        at = -1
        for i in range(len(ordered) - 1, -1, -1):
            other_bus, other_name = key(ordered[i])
            if other_bus != bus:
                continue
            if disk_index(other_name) > disk_index(name):
                at = i
            elif at == -1:
                at = i + 1
        ordered.insert(len(ordered) if at == -1 else at, disk)
    return ordered
