"""Remembered labels in extended attributes, interoperable with libvirt on the same host.

For security driver NAME, libvirt keeps on each labelled file:

- ``trusted.libvirt.security.NAME``: the label the file had before the first guest took it,
- ``trusted.libvirt.security.ref_NAME``: how many guests currently use it,
- ``trusted.libvirt.security.timestamp_NAME``: the host boot time when that was written;
  a different boot time means the attributes are stale (the host rebooted with guests
  running) and are purged rather than trusted.

Changes are serialised between processes (libvirt's daemons included) with an fcntl
write lock on byte 1 of the file, as libvirt's metadata lock does.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import stat
import time
from collections.abc import Iterator

from pyvirt.errors import ErrorCode, InternalError, SystemCallError

__all__ = ["host_boot_time", "metadata_lock", "recall_label", "remember_label"]

_PREFIX = "trusted.libvirt.security."
_UNSUPPORTED = (errno.ENOTSUP, errno.ENOSYS, errno.EOPNOTSUPP)


def host_boot_time() -> int:
    """Boot time as libvirt computes it without utmp: now minus /proc/uptime, rounded."""
    with open("/proc/uptime", encoding="ascii") as f:
        up = float(f.read().split()[0])
    return round(time.time() - up)


@functools.cache
def _boot_stamp() -> str:
    # /proc/uptime and the wall clock drift apart by a few ms between calls; libvirt rounds to
    # whole seconds, and so do we, computing it once per process like libvirt's virOnce.
    return str(host_boot_time())


def _get(path: str, name: str) -> str | None:
    try:
        return os.getxattr(path, name).decode()
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise


def _purge(path: str, driver: str) -> None:
    for suffix in (driver, f"ref_{driver}", f"timestamp_{driver}"):
        with contextlib.suppress(OSError):
            os.removexattr(path, _PREFIX + suffix)


def _refcount(path: str, driver: str) -> int:
    """Current refcount, after purging attributes from a previous boot (0 when absent)."""
    value = _get(path, f"{_PREFIX}ref_{driver}")
    if value is None:
        return 0
    if _get(path, f"{_PREFIX}timestamp_{driver}") != _boot_stamp():
        _purge(path, driver)
        return 0
    try:
        return int(value)
    except ValueError:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"malformed refcount {value} on {path}") from None


def remember_label(path: str, driver: str, label: str) -> int | None:
    """Count one more user of ``path``; store ``label`` if it is the first. None: no xattrs here."""
    try:
        refs = _refcount(path, driver) + 1
        if refs == 1:
            os.setxattr(path, _PREFIX + driver, label.encode())
            os.setxattr(path, f"{_PREFIX}timestamp_{driver}", _boot_stamp().encode())
        os.setxattr(path, f"{_PREFIX}ref_{driver}", str(refs).encode())
        return refs
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return None
        raise SystemCallError(exc.errno or 0, f"Unable to set XATTR on {path}") from exc


def recall_label(path: str, driver: str) -> tuple[int, str | None] | None:
    """Count one user fewer. (remaining users, original label when it was the last); None: nothing remembered."""
    try:
        refs = _refcount(path, driver)
        if refs == 0:
            return None
        refs -= 1
        if refs > 0:
            os.setxattr(path, f"{_PREFIX}ref_{driver}", str(refs).encode())
            return refs, None
        label = _get(path, _PREFIX + driver)
        _purge(path, driver)
        return 0, label
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return None
        raise SystemCallError(exc.errno or 0, f"Unable to get XATTR on {path}") from exc


@contextlib.contextmanager
def metadata_lock(paths: list[str]) -> Iterator[None]:
    """Hold libvirt's metadata lock (write lock on byte 1) on every regular file / block device."""
    fds: list[int] = []
    try:
        for path in sorted(set(paths)):
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                continue  # read-only media: nothing to serialise with
            fds.append(fd)
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, 1)
        yield
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, 1)
            os.close(fd)
