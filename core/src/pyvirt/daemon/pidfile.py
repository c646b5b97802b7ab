"""The daemon's pid file, locked for the daemon's whole life (libvirt's virPidFileAcquirePath, with flock so that the lock belongs to the open file, not the process).

The lock, not the file's existence, says an instance is running: a file left
by a killed daemon is simply taken over, and a second daemon on the same
paths fails at once instead of fighting the first one for the sockets.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from pyvirt.errors import SystemCallError

__all__ = ["PidFile"]


class PidFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o755, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                raise SystemCallError(e.errno or 11, f"Failed to acquire pid file '{self.path}'") from None
            # Whoever held the lock before may have unlinked the file after we opened it: retry on the new one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = -1
