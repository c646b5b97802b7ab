"""QMP for a process that does not hold a guest's monitor: the guest's second, shared monitor.

QEMU serves one client per QMP monitor, and the process that started (or
first reconnected to) a guest keeps the main one for its events. Every guest
therefore also gets a second QMP monitor (added to the command line at
start, not part of the libvirt-compatible line ``domxml-to-native`` shows).
Another process reaches it one command at a time: it takes the guest's
shared-monitor lock file (so processes queue instead of colliding), connects,
negotiates, runs the command, and leaves. Events on this connection are not
its business; the holder of the main monitor acts on them.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from typing import Any

from pyvirt.errors import ErrorCode, ErrorDomain, OperationFailedError
from pyvirt.util.unix_socket import connect_unix

__all__ = ["shared_execute"]


def _fail(name: str, detail: str) -> OperationFailedError:
    return OperationFailedError(ErrorCode.OPERATION_FAILED, f"QEMU shared monitor of '{name}': {detail}",
                                domain=ErrorDomain.QEMU)  # fmt: skip


class _Conn:
    def __init__(self, sock: socket.socket, name: str, deadline: float) -> None:
        self.sock, self.name, self.deadline, self.buf = sock, name, deadline, b""

    def message(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT,
                                           f"QEMU monitor of '{self.name}' did not answer in time",
                                           domain=ErrorDomain.QEMU)  # fmt: skip
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise _fail(self.name, "connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return dict(json.loads(line))

    def reply(self) -> dict[str, Any]:
        while True:
            msg = self.message()
            if "return" in msg or "error" in msg:
                return msg  # events in between belong to the main monitor's holder


def shared_execute(name: str, path: str, lock_path: str, command: str, arguments: dict[str, Any] | None,
                   timeout: float) -> Any:  # fmt: skip
    """Run one QMP command on the shared monitor at ``path``; raises like the main monitor does."""
    deadline = time.monotonic() + timeout
    with open(lock_path, "a+b") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationFailedError(
                        ErrorCode.OPERATION_TIMEOUT,
                        f"cannot acquire state change lock: the QEMU monitor of '{name}' is busy",
                        domain=ErrorDomain.QEMU,
                    ) from None  # fmt: skip
                time.sleep(0.01)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                connect_unix(sock, path)
            except OSError as exc:
                raise _fail(name, os.strerror(exc.errno or 0)) from exc
            conn = _Conn(sock, name, deadline)
            if "QMP" not in conn.message():
                raise _fail(name, "no QMP greeting")
            sock.sendall(b'{"execute": "qmp_capabilities"}\n')
            conn.reply()
            message: dict[str, Any] = {"execute": command}
            if arguments:
                message["arguments"] = arguments
            sock.sendall(json.dumps(message).encode() + b"\n")
            answer = conn.reply()
    if "error" in answer:
        desc = answer["error"].get("desc", "unknown error")
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"QEMU '{command}' failed: {desc}",
                                   domain=ErrorDomain.QEMU)  # fmt: skip
    return answer["return"]
