"""Unix sockets at paths longer than ``sun_path`` allows (108 bytes).

A guest's sockets live under its state directory, and an embedded driver's
root can be anywhere, so the full path easily passes the limit. Binding or
connecting through ``/proc/self/fd/<dir fd>/<name>`` names the same file in
a short string, without changing the process's working directory (which
other threads share).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

__all__ = ["bind_unix", "connect_unix", "short_path"]

_SUN_PATH_MAX = 107


@contextlib.contextmanager
def short_path(path: str) -> Iterator[str]:
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    dirfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{dirfd}/{os.path.basename(path)}"
    finally:
        os.close(dirfd)


def bind_unix(sock: socket.socket, path: str) -> None:
    with short_path(path) as short:
        sock.bind(short)


def connect_unix(sock: socket.socket, path: str) -> None:
    with short_path(path) as short:
        sock.connect(short)
