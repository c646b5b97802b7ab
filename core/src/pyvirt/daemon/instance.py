"""A private pyvirtd (``--root DIR``) started and stopped by a program: tests, the demo, benchmarks.

The daemon runs as a child process with everything under DIR, so it touches
nothing of the host's instance; ``stop`` sends SIGTERM (guests keep running,
as with a real shutdown) and ``kill`` sends SIGKILL (what a crash looks like).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from pyvirt.daemon.sockets import daemon_paths

__all__ = ["PrivateDaemon"]


class PrivateDaemon:
    # argv put in front of the daemon's (``ip netns exec NS`` for a test host in its own network namespace)
    prefix: tuple[str, ...] = ()

    def __init__(self, root: str | os.PathLike[str], *args: str) -> None:
        self.root = Path(root)
        self.args = args
        self.paths = daemon_paths(root=str(self.root))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return self.paths.rw_socket

    @property
    def ro_socket(self) -> str:
        return self.paths.ro_socket

    @property
    def log_path(self) -> Path:
        return self.root / "pyvirtd.log"

    def uri(self, base: str = "test:///default", *, read_only: bool = False) -> str:
        """``base`` with the unix transport and this instance's socket (``test+unix:///default?socket=...``)."""
        scheme, rest = base.split("://", 1)
        sep = "&" if "?" in rest else "?"
        return f"{scheme}+unix://{rest}{sep}socket={self.ro_socket if read_only else self.socket}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tracebacks(self, context: int = 3) -> list[str]:
        """The distinct Python tracebacks in the log, each once, with the ``context`` lines logged before it.

        A test asserts there are none; when there is one, the excerpt is what
        a reader needs, where the log's tail (tens of kilobytes of a busy
        daemon, the same failure repeated by many clients) would bury or cut it.
        """
        lines = self.log().splitlines()
        seen: dict[str, str] = {}
        for i, line in enumerate(lines):
            if "Traceback (most recent call last)" not in line:
                continue
            end = i + 1
            while end < len(lines) and lines[end].startswith(" "):
                end += 1
            body = "\n".join(lines[i : end + 1])  # the frames and the exception's line
            seen.setdefault(body, "\n".join([*lines[max(0, i - context) : i], body]))
        return list(seen.values())

    def start(self, timeout: float = 60) -> PrivateDaemon:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "pyvirt.daemon", "--root", str(self.root), *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        # Listening, not merely present: a daemon killed with SIGKILL leaves its socket files behind, and a
        # client connecting to one before the new daemon has bound it is refused.
        while not _accepts(self.ro_socket):
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyvirtd exited with status {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"pyvirtd did not start within {timeout} s:\n{self.log()}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait: the daemon closes its clients and drivers and exits; guests stay."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL: what a crashed daemon leaves behind is what the next one must recover from."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> PrivateDaemon:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _accepts(path: str) -> bool:
    """True when something listens on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
    return True
