"""What the QEMU "beside libvirt 9.0" stories share: one virsh line run every way a user may run it.

The reference is Debian's virsh against a private libvirtd (``shared_libvirtd``).
The same line then runs through pyvirsh in this process (the embedded driver,
or pyvirt's RPC client against libvirtd) and through Debian's virsh as the
client of a private pyvirtd, whose RPC procedures are what old clients meet.
Every run keeps stdout, stderr and the exit status apart under ``LC_ALL=C``,
and :func:`assert_prints_as` compares each line of them and names the side that
differs, so a failure says which way of running the line a user would see
differ.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.daemon.instance import PrivateDaemon

__all__ = ["Output", "assert_prints_as", "embed_uri", "pyvirsh", "run_every_way", "virsh", "virsh_through_pyvirtd"]

Output = tuple[str, str, int]  # stdout, stderr, exit status


def embed_uri(root: Path) -> str:
    """The embedded QEMU driver the ``qemu_root`` fixture prepared."""
    return f"qemu:///embed?root={root}"


def virsh(uri: str, line: str) -> Output:
    """Debian's virsh, as a script runs it: the whole line as one argument."""
    done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def pyvirsh(uri: str, line: str) -> Output:
    """pyvirsh in this process, so an embedded driver (and its guests) outlive the line for later checks."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", uri, line])
    return out.getvalue(), err.getvalue(), rc


def virsh_through_pyvirtd(state: Path, line: str, cleanup: str) -> Output:
    """Debian's virsh as the client of a private pyvirtd under ``state``; ``cleanup`` (a virsh line) removes
    what the line left even when it failed half-way, before the daemon stops."""
    daemon = PrivateDaemon(state).start()
    try:
        return virsh(daemon.uri("qemu:///system"), line)
    finally:
        virsh(daemon.uri("qemu:///system"), cleanup)
        daemon.stop()


def run_every_way(line: str, libvirtd: str, root: Path, state: Path, cleanup: str) -> tuple[Output, dict[str, Output]]:
    """libvirtd's answer through Debian's virsh, then pyvirsh on the embedded driver under ``root`` and Debian's
    virsh through a pyvirtd under ``state`` (see :func:`virsh_through_pyvirtd`), named for
    :func:`assert_prints_as`."""
    theirs = virsh(libvirtd, line)
    ours = {
        "pyvirsh": pyvirsh(embed_uri(root), line),
        "virsh_through_pyvirtd": virsh_through_pyvirtd(state, line, cleanup),
    }
    return theirs, ours


def assert_prints_as(theirs: Output, **sides: Output) -> None:
    """Each side prints libvirt's lines on stdout and stderr and exits as it did; the side's name says which."""
    for name, got in sides.items():
        assert got[0].splitlines() == theirs[0].splitlines(), name
        assert got[1].splitlines() == theirs[1].splitlines(), name
        assert got[2] == theirs[2], name
