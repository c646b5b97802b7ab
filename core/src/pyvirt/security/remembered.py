"""Remembered labels in extended attributes, interoperable with libvirt on the same host.

For security driver NAME, libvirt keeps on each labelled file (security_util.c):

- ``trusted.libvirt.security.NAME``: the label the file had before the first guest took it
  (DAC: ``+uid:+gid``),
- ``trusted.libvirt.security.ref_NAME``: how many guests currently use it (decimal),
- ``trusted.libvirt.security.timestamp_NAME``: the host boot time (decimal seconds) when that
  was written; a different boot time means the attributes are stale (the host rebooted with
  guests running) and are purged rather than trusted.

A start killed between labelling and its rollback (kill -9, OOM, a power cut of the
management process but not of the host) leaves a reference nobody will ever give back, and
with it every later start that wants a different owner fails with "already in use". So next
to libvirt's attributes pyvirt keeps ``trusted.pyvirt.security.owners_NAME``: one line per
reference it took, ``DOMAIN PID START`` (the domain's UUID, the process keeping the reference
alive -- the starting process, then the guest's own process once it runs -- and that
process's start time in clock ticks, so a reused pid is not taken for the owner). A
reference whose owner process is gone is dropped before the count is used; references
without an owner line (libvirt's, or an older pyvirt's) are left to libvirt's rules.

Changes are serialised between processes (libvirt's daemons included) with an fcntl
write lock on byte 1 of the file, as libvirt's metadata lock does.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import math
import os
import stat
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, InternalError, SystemCallError

__all__ = [
    "Owner",
    "hand_over_label",
    "host_boot_time",
    "metadata_lock",
    "owners_of",
    "recall_label",
    "remember_label",
]

_PREFIX = "trusted.libvirt.security."
_OWNERS = "trusted.pyvirt.security.owners_"
_UNSUPPORTED = (errno.ENOTSUP, errno.ENOSYS, errno.EOPNOTSUPP)
_UTMP = "/var/run/utmp"
_UTMP_RECORD = 384  # sizeof(struct utmpx) on Linux with glibc (x86_64, aarch64)
_UTMP_BOOT_TIME = 2
_UTMP_TV_OFFSET = 340  # ut_tv (int32 seconds, int32 microseconds) inside a record


def _utmp_boot_time() -> int | None:
    """The BOOT_TIME record of utmp, which libvirt prefers (getutxid) when the host keeps one."""
    try:
        with open(_UTMP, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return None
    for off in range(0, len(data) - _UTMP_RECORD + 1, _UTMP_RECORD):
        if struct.unpack_from("=h", data, off)[0] == _UTMP_BOOT_TIME:
            seconds = int(struct.unpack_from("=i", data, off + _UTMP_TV_OFFSET)[0])
            return seconds or None
    return None


def host_boot_time() -> int:
    """The host's boot time, seconds since the epoch, as libvirt's virHostGetBootTime finds it.

    utmp's BOOT_TIME record when the host keeps one (exact, the same in every process). Without
    it libvirt computes ``llround(whole seconds of the clock - /proc/uptime)``, which moves by a
    second from one process to the next (the clock's fraction is dropped, the uptime's kept);
    its most frequent value is the whole second below the true boot time, which is what this
    returns every time. Stamps within a second of it are taken for this boot (``_stamp_valid``).
    """
    boot = _utmp_boot_time()
    if boot is not None:
        return boot
    with open("/proc/uptime", encoding="ascii") as f:
        up = float(f.read().split()[0])
    return math.floor(time.time() - up)


@functools.cache
def _boot_stamp() -> str:
    # computed once per process, like libvirt's virOnce
    return str(host_boot_time())


def _stamp_valid(value: str | None) -> bool:
    """Written during this boot? libvirt's procfs fallback wobbles by a second between processes
    (whole seconds of the clock minus a fractional uptime), so a stamp one second off is this boot
    too; any earlier boot is minutes away at least."""
    if value is None:
        return False
    try:
        return abs(int(value) - int(_boot_stamp())) <= 1
    except ValueError:
        return False


def _get(path: str, name: str) -> str | None:
    try:
        return os.getxattr(path, name).decode()
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise


def _purge(path: str, driver: str) -> None:
    for name in (_PREFIX + driver, f"{_PREFIX}ref_{driver}", f"{_PREFIX}timestamp_{driver}", _OWNERS + driver):
        with contextlib.suppress(OSError):
            os.removexattr(path, name)


# ---------------------------------------------------------------------------- owners
def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] == b"Z":
        return None  # a zombie has finished with its files already
    return int(fields[19])


@dataclass(frozen=True)
class Owner:
    """The process that keeps one reference of a domain alive."""

    domain: str
    pid: int
    start: int

    @classmethod
    def this_process(cls, domain: str) -> Owner:
        pid = os.getpid()
        return cls(domain, pid, _start_time(pid) or 0)

    @classmethod
    def process(cls, domain: str, pid: int) -> Owner:
        return cls(domain, pid, _start_time(pid) or 0)

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start

    def text(self) -> str:
        return f"{self.domain} {self.pid} {self.start}"


def owners_of(path: str, driver: str) -> list[Owner]:
    """The owner lines pyvirt keeps next to libvirt's refcount (malformed lines are ignored)."""
    value = _get(path, _OWNERS + driver)
    out: list[Owner] = []
    for line in (value or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            out.append(Owner(parts[0], int(parts[1]), int(parts[2])))
    return out


def _set_owners(path: str, driver: str, owners: list[Owner]) -> None:
    if owners:
        os.setxattr(path, _OWNERS + driver, "".join(o.text() + "\n" for o in owners).encode())
    else:
        with contextlib.suppress(OSError):
            os.removexattr(path, _OWNERS + driver)


def _drop_dead_owners(path: str, driver: str, refs: int) -> int:
    """Forget the references of owners that died without giving them back; the new count."""
    owners = owners_of(path, driver)
    alive = [o for o in owners if o.alive()]
    if len(alive) == len(owners):
        return refs
    refs = max(refs - (len(owners) - len(alive)), 0)
    _set_owners(path, driver, alive)
    if refs:
        os.setxattr(path, f"{_PREFIX}ref_{driver}", str(refs).encode())
    else:
        # the original label stays: the dead owner's label on the file is not the one to give back
        with contextlib.suppress(OSError):
            os.removexattr(path, f"{_PREFIX}ref_{driver}")
    return refs


# ---------------------------------------------------------------------------- references
def _refcount(path: str, driver: str) -> int:
    """Current refcount, after purging attributes from a previous boot (0 when absent)."""
    value = _get(path, f"{_PREFIX}ref_{driver}")
    if value is None:
        return 0
    if not _stamp_valid(_get(path, f"{_PREFIX}timestamp_{driver}")):
        _purge(path, driver)
        return 0
    try:
        refs = int(value)
    except ValueError:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"malformed refcount {value} on {path}") from None
    if refs < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"malformed refcount {value} on {path}")
    return refs


def remember_label(path: str, driver: str, label: str, owner: str | None = None) -> int | None:
    """Count one more user of ``path``; store ``label`` if it is the first. None: no xattrs here.

    ``owner`` (the domain's UUID) records this process as the one keeping the new reference,
    so that a later start can tell the reference was left behind by a dead start.
    """
    try:
        refs = _refcount(path, driver)
        kept = False
        if refs:
            refs = _drop_dead_owners(path, driver, refs)
            kept = refs == 0  # every user died: what they remembered is still the original label
        refs += 1
        if refs == 1:
            if not (kept and _get(path, _PREFIX + driver) is not None):
                os.setxattr(path, _PREFIX + driver, label.encode())
            os.setxattr(path, f"{_PREFIX}timestamp_{driver}", _boot_stamp().encode())
            _set_owners(path, driver, [])
        os.setxattr(path, f"{_PREFIX}ref_{driver}", str(refs).encode())
        if owner is not None:
            _set_owners(path, driver, [*owners_of(path, driver), Owner.this_process(owner)])
        return refs
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return None
        raise SystemCallError(exc.errno or 0, f"Unable to set XATTR on {path}") from exc


def recall_label(path: str, driver: str, owner: str | None = None) -> tuple[int, str | None] | None:
    """Count one user fewer. (remaining users, original label when it was the last); None: nothing remembered."""
    try:
        refs = _refcount(path, driver)
        if refs == 0:
            return None
        refs -= 1
        if refs > 0:
            os.setxattr(path, f"{_PREFIX}ref_{driver}", str(refs).encode())
            if owner is not None:
                owners = owners_of(path, driver)
                mine = next((i for i, o in enumerate(owners) if o.domain == owner), None)
                if mine is not None:
                    del owners[mine]
                    _set_owners(path, driver, owners)
            return refs, None
        label = _get(path, _PREFIX + driver)
        _purge(path, driver)
        return 0, label
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return None
        raise SystemCallError(exc.errno or 0, f"Unable to get XATTR on {path}") from exc


def hand_over_label(path: str, driver: str, owner: str, pid: int) -> None:
    """The guest's process ``pid`` now keeps the references this process took for domain ``owner``."""
    try:
        owners = owners_of(path, driver)
        me = Owner.this_process(owner)
        if me not in owners:
            return
        _set_owners(path, driver, [Owner.process(owner, pid) if o == me else o for o in owners])
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return
        raise SystemCallError(exc.errno or 0, f"Unable to set XATTR on {path}") from exc


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
