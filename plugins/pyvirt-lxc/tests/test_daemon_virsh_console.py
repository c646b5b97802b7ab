"""Debian's ``virsh console`` through pyvirtd, on a terminal, as a user runs it.

virsh refuses a console without a controlling TTY, puts the terminal in raw
mode, relays keystrokes to the guest's console stream and its output back,
and leaves when the user types its escape character, Ctrl-] (0x1d), with
the guest still running. Here virsh runs under a pseudo-terminal (Python's
``pty``), the daemon hosts an LXC container whose console answers each line.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import subprocess
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")


class Terminal:
    """A program on the slave side of a pseudo-terminal; what it writes is read from the master side."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()  # the child is a session leader with the pty as its controlling TTY
        if self.pid == 0:
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r} on the terminal; it showed {self.seen!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the program closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the terminal closed before {text!r}; it showed {self.seen!r}")
                self.seen += chunk

    def wait_raw(self, timeout: float = 30) -> None:
        """Until the program has put the terminal in raw mode: virsh flushes what was typed before (TCSAFLUSH)."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:  # the master reports the slave's settings
            assert time.monotonic() < deadline, f"the terminal never went raw; it showed {self.seen!r}"
            time.sleep(0.01)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self, timeout: float = 30) -> int:
        """The program's exit status, draining the terminal meanwhile (a full pty would block its last write)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.05)[0]:
                with contextlib.suppress(OSError):  # EIO once the program has closed the terminal
                    self.seen += os.read(self.fd, 4096)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"the program did not exit; the terminal showed {self.seen!r}")

    def close(self) -> None:
        os.close(self.fd)


def test_virsh_console_on_a_tty_talks_to_the_container_and_leaves_with_ctrl_bracket(
    lxc_root: Path, make_rootfs: Callable[..., Path], tmp_path: Path
) -> None:
    rootfs = make_rootfs(
        """\
        stty -echo 2>/dev/null
        while read line; do echo "container says: $line"; done
        """
    )
    xml = tmp_path / "c.xml"
    xml.write_text(
        f"""<domain type='lxc'><name>tty</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""
    )
    with PrivateDaemon(lxc_root) as daemon:
        uri = daemon.uri("lxc:///system")

        def virsh(*args: str) -> str:
            run = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)
            assert run.returncode == 0, run.stderr + daemon.log()
            return run.stdout.strip()

        virsh("create", str(xml))
        term = Terminal(["virsh", "-c", uri, "console", "tty"])
        try:
            term.expect(b"Connected to domain 'tty'")
            term.expect(b"Escape character is ^] (Ctrl + ])")
            term.wait_raw()
            # raw mode: Enter is a carriage return, which the container's terminal turns into a newline
            term.type(b"hello\r")
            term.expect(b"container says: hello")
            term.type(b"second line\r")
            term.expect(b"container says: second line")
            term.type(b"\x1d")  # Ctrl-]
            assert term.wait() == 0, term.seen
        finally:
            term.close()
        assert virsh("domstate", "tty") == "running"  # leaving the console leaves the guest alone
        # the console is free again: a second virsh attaches (one console client at a time, as libvirt)
        again = Terminal(["virsh", "-c", uri, "console", "tty"])
        try:
            again.expect(b"Escape character is ^] (Ctrl + ])")
            again.wait_raw()
            again.type(b"third\r")
            again.expect(b"container says: third")
            again.type(b"\x1d")
            assert again.wait() == 0, again.seen
        finally:
            again.close()
        virsh("destroy", "tty")
