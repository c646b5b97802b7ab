"""The few Linux system calls Python 3.11's ``os`` module lacks, through ctypes.

``os.unshare``/``os.setns`` arrive only in Python 3.12; ``mount``,
``umount2``, ``pivot_root`` and ``sethostname`` have no binding at all (the
``socket`` module's ``sethostname`` would cost its import in the container's
start path). Each wrapper raises ``OSError`` with the call's errno.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "MNT_DETACH",
    "MS_BIND",
    "MS_NODEV",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "MS_REMOUNT",
    "MS_SLAVE",
    "interface_up",
    "mount",
    "pivot_root",
    "set_child_subreaper",
    "sethostname",
    "setns",
    "umount2",
    "unshare",
]  # fmt: skip

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 2

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str, path: str | None = None) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    ret = _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3])
    _check(ret, f"mount {fstype or 'bind'} on {target}", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    machine = os.uname().machine
    number = _SYS_PIVOT_ROOT.get(machine)
    if number is None:
        raise OSError(38, f"pivot_root: unknown system call number on {machine}")
    _check(_libc.syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()), "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def interface_up(name: str) -> None:
    """Set IFF_UP on a network interface of the caller's namespace (``lo`` in a new one).

    An ioctl on a socket made through libc: the ``socket`` module cannot be
    imported once the container has pivoted away from the host's stdlib, and
    importing it earlier would slow every controller start.
    """
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    fd = _libc.socket(ctypes.c_int(2), ctypes.c_int(2 | 0o2000000), ctypes.c_int(0))  # AF_INET, SOCK_DGRAM|CLOEXEC
    if fd < 0:
        _check(-1, "socket")
    try:
        req = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(fd, siocgifflags, req))[1] | iff_up
        fcntl.ioctl(fd, siocsifflags, struct.pack("16sH14x", name.encode(), flags))
    finally:
        os.close(fd)


def set_child_subreaper() -> None:
    """Orphaned descendants are reparented to this process (PR_SET_CHILD_SUBREAPER) instead of PID 1."""
    _check(_libc.prctl(ctypes.c_int(36), ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
           "prctl(PR_SET_CHILD_SUBREAPER)")  # fmt: skip
