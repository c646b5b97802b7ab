"""Files and listening sockets of a guest's character devices, opened by the driver and handed to QEMU.

A serial log file opened here needs no write access for QEMU's user to its
directory, and a listening socket created here exists (with its owner set)
before the guest starts, so a client can never race QEMU's own bind. The
fds are passed at exec and closed in this process right after.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, OperationFailedError
from pyvirt.util.unix_socket import bind_unix
from pyvirt_qemu.command_line_devices import chardev_fds_wanted

__all__ = ["close_chardev_fds", "listen_unix", "open_chardev_fds"]


def listen_unix(path: str, uid: int, gid: int) -> int:
    """A listening unix socket at ``path`` (a stale socket there is replaced), owned by uid:gid."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)  # a stale socket from an earlier run of the guest
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        bind_unix(sock, path)
        os.chown(path, uid, gid)
        sock.listen(1)
    except OSError:
        sock.close()
        raise
    return sock.detach()


def open_chardev_fds(dom: Domain, uid: int, gid: int) -> dict[str, int]:
    """Open every file and listening socket the command line will name as an fd; all or none."""
    opened: dict[str, int] = {}
    try:
        for key, kind, dev in chardev_fds_wanted(dom):
            src = dev.sources[0] if dev.sources else None
            # a log file (<log file= append=>) is opened like a file source: appended to, or emptied first
            path = getattr(dev, "log_file", None) if kind == "log" else (src.path if src is not None else None)
            append = getattr(dev, "log_append", None) if kind == "log" else (src.append if src is not None else None)
            assert path is not None
            try:
                if kind == "listen":
                    opened[key] = listen_unix(path, uid, gid)
                else:
                    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
                    opened[key] = os.open(path, flags, 0o600)
            except OSError as exc:
                raise OperationFailedError(
                    ErrorCode.SYSTEM_ERROR, f"Unable to open '{path}' for a character device: {exc.strerror}",
                    verbatim=False,
                ) from exc  # fmt: skip
    except BaseException:
        close_chardev_fds(opened)
        raise
    return opened


def close_chardev_fds(fds: dict[str, int]) -> None:
    """Close and forget them: the numbers are reused at once, a second close would hit someone else's fd."""
    for fd in fds.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    fds.clear()
