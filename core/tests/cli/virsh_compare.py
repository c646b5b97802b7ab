"""What the pyvirsh stories share: the reference virsh, pyvirsh run as a user runs it, and a pseudo-terminal.

Every comparison runs both tools the same way (``LC_ALL=C``, the line as one
argument, stdout, stderr and exit status kept apart), so a difference the
tests report is one a script would see. The terminal helper is what a person
sees: stdin, stdout and stderr on one pty, in order, with a hook that may
type into it as the output arrives.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
SKIP_WITHOUT_VIRSH = "Debian's virsh (libvirt-clients) is the reference"


def run_line(argv: list[str], line: str, uri: str = "test:///default", timeout: float = 60) -> tuple[str, str, int]:
    """One command line (``-c URI LINE``) on pipes: what a script reads."""
    done = subprocess.run([*argv, "-c", uri, line], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def on_pty(
    argv: list[str],
    env: Mapping[str, str],
    typing: Callable[[int, bytes], None] | None = None,
    timeout: float = 60,
    poll: float = 1.0,
    cwd: str | None = None,
) -> tuple[bytes, int]:
    """Run ``argv`` on a pty until it closes it; ``typing(fd, shown)`` may write keys before each wait.

    ``cwd``: where the child runs, so files an editor's shell line creates (``sed s/>d</``'s ``>d`` is a
    redirection) land in the test's directory, never in the checkout.

    Returns everything the terminal showed and the exit status.
    """
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        if cwd is not None:
            os.chdir(cwd)
        os.execvpe(argv[0], argv, dict(env))
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if typing is not None:
                typing(fd, shown)
            ready, _, _ = select.select([fd], [], [], poll)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return shown, os.waitstatus_to_exitcode(status)
