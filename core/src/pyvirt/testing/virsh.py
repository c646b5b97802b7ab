"""One virsh-like command line run as a script runs it, for comparing a driver with libvirt's.

A comparison is only fair when both tools see the same surroundings:
``LC_ALL=C`` (libvirt's messages are translated otherwise), no
``LIBVIRT_DEFAULT_URI`` from the caller's shell (the URI is always given), the
whole line as one argument, and stdout, stderr and the exit status kept apart.
Every distribution's tests that put pyvirsh beside Debian's virsh run lines
through :func:`run_line`, so a difference they report is one a user would see.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

__all__ = ["Output", "run_line", "script_env"]

Output = tuple[str, str, int]  # stdout, stderr, exit status


def script_env() -> dict[str, str]:
    """This process's environment as a script would pass it: C locale, no default URI."""
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return env


def run_line(tool: Sequence[str], uri: str, line: str, timeout: float = 120) -> Output:
    """``TOOL -c URI LINE`` (``tool`` is the program and any options before ``-c``) under :func:`script_env`."""
    done = subprocess.run([*tool, "-c", uri, line], capture_output=True, text=True, env=script_env(),
                          timeout=timeout, check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode
