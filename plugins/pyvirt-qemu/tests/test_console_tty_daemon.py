"""start --console on a real terminal, through pyvirtd, to a QEMU guest's serial console; Ctrl+] detaches.

The guest is SeaBIOS alone with its output on the serial port
(``<bios useserial='yes' rebootTimeout='-1'/>``): finding nothing to boot, it
says so on the serial line and stops there, so the console has the guest's
own words to show and then nothing more. pyvirsh and Debian's virsh run on a
pseudo-terminal (python's pty) against the same pyvirtd: each prints virsh's
banner, relays what the guest writes, leaves at Ctrl+] with status 0 and the
same last line, and the guest keeps running. (What SeaBIOS wrote before the
console was attached is not relayed; the screens are compared from the
banner and at their end.)
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

BANNER = b"Connected to domain 'sercon'\r\nEscape character is ^] (Ctrl + ])\r\n"
GUEST_SAYS = b"No bootable device.\r\n"
POLKIT = (
    b"Authorization not available. Check if polkit service is running or see debug message for more information.\r\n"
)


@pytest.fixture
def daemon(qemu_root: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(qemu_root) as d:
        yield d


def _on_terminal(argv: list[str], timeout: float = 60) -> tuple[bytes, int, bool]:
    """Run ``argv`` on a pty; once the banner and the guest's words showed, type Ctrl+]. Returns what the
    terminal showed, the exit status, and whether the escape was typed."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, dict(os.environ, LC_ALL="C"))
    shown, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not typed and BANNER in shown and GUEST_SAYS in shown.partition(BANNER)[2]:
                os.write(fd, b"\x1d")
                typed = True
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        else:
            os.kill(pid, 9)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return shown.replace(POLKIT, b""), os.waitstatus_to_exitcode(status), typed


@pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the reference")
def test_start_console_through_pyvirtd_like_virsh(daemon: PrivateDaemon, virt_type: str, tmp_path: Path) -> None:
    uri = daemon.uri("qemu:///system")
    xml = tmp_path / "sercon.xml"
    xml.write_text(f"""<domain type='{virt_type}'><name>sercon</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type><bios useserial='yes' rebootTimeout='-1'/></os>
<devices><serial type='pty'/></devices></domain>""")
    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    defined = subprocess.run([pyvirsh, "-c", uri, "define", str(xml)], capture_output=True, timeout=60, check=False)
    assert defined.returncode == 0, defined
    ends = []
    try:
        for argv in ([pyvirsh], ["virsh"]):
            shown, status, typed = _on_terminal([*argv, "-c", uri, "start sercon --console"])
            assert typed, f"{argv[0]}: no banner or guest output: {shown!r}"
            assert shown.startswith(b"Domain 'sercon' started\r\n" + BANNER), shown[:300]
            assert status == 0, shown[-300:]
            ends.append(shown.rpartition(GUEST_SAYS)[2])  # what each tool prints after the guest's last line
            running = subprocess.run([pyvirsh, "-c", uri, "domstate sercon; destroy sercon"], capture_output=True,
                                     text=True, timeout=60, check=False)  # fmt: skip
            assert running.stdout.startswith("running\n"), running  # detaching left the guest running
    finally:
        subprocess.run([pyvirsh, "-c", uri, "destroy sercon; undefine sercon"], capture_output=True, timeout=60,
                       check=False)  # fmt: skip
    assert ends[0] == ends[1]
