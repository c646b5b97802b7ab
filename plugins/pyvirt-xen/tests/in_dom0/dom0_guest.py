"""What the tests inside the nested dom0 share: the PV guest's XML, and ways to watch and talk to it.

The guest is Debian's kernel as a PV guest with the busybox initramfs of
``nested_xen.guest_initramfs``: it prints ``pyvirt-xen-guest: up`` on its
console (xenconsoled logs it to ``/var/log/xen/console/guest-NAME.log``),
answers each line typed there, runs ``run:COMMAND`` lines, and powers off
on a PV shutdown request.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pyvirt

__all__ = [
    "CONSOLE_LOGS",
    "INITRD",
    "KERNEL",
    "ask_guest",
    "console_ups",
    "guest_xml",
    "owner",
    "talk_to",
    "wait_for",
    "wait_for_backends",
    "wait_in_guest",
    "xl_names",
    "xs_read",
]

KERNEL = os.environ.get("PYVIRT_XEN_GUEST_KERNEL", "")
INITRD = os.environ.get("PYVIRT_XEN_GUEST_INITRD", "")
CONSOLE_LOGS = Path("/var/log/xen/console")


def guest_xml(name: str, kernel: str = KERNEL, memory_mib: int = 96, devices: str = "", extra: str = "") -> str:
    """A PV guest as small as the kernel boots in reliably (96 MiB; each MiB is built, scrubbed and saved under TCG)."""
    return f"""<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type>linux</type><kernel>{kernel}</kernel><initrd>{INITRD}</initrd><cmdline>console=hvc0 quiet</cmdline></os>
  <devices>{devices}</devices>{extra}
</domain>"""


def xl_names() -> list[str]:
    out = subprocess.run(["xl", "list"], capture_output=True, text=True, check=True).stdout
    return [line.rsplit(None, 5)[0] for line in out.splitlines()[1:] if line.strip()]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def console_ups(name: str) -> int:
    """How often the guest has said it is up (a reboot says it again; xenconsoled's log keeps both)."""
    log = CONSOLE_LOGS / f"guest-{name}.log"
    return log.read_text(errors="replace").count("pyvirt-xen-guest: up") if log.exists() else 0


def owner(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid


def _converse(dom: pyvirt.Domain, line: bytes, answered: re.Pattern[bytes]) -> bytes:
    """Type a line on the guest's console; everything read back until ``answered`` matches."""
    fd = dom.open_console()
    try:
        os.write(fd, line + b"\r")
        seen = b""
        deadline = time.monotonic() + 60
        while not answered.search(seen):
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                seen += os.read(fd, 4096)
        return seen
    finally:
        os.close(fd)


def talk_to(dom: pyvirt.Domain, words: bytes) -> None:
    """Type a line on the guest's console and wait for its answer."""
    _converse(dom, words, re.compile(re.escape(b"pyvirt-xen-guest: echo " + words)))


def ask_guest(dom: pyvirt.Domain, command: str) -> str:
    """Run a shell command in the guest (its init's ``run:`` line) and return what it printed, on one line."""
    seen = _converse(dom, f"run:{command}".encode(), re.compile(rb"pyvirt-xen-guest: ran: [^\n]*\n"))
    m = re.search(rb"pyvirt-xen-guest: ran: ([^\r\n]*)", seen)
    assert m is not None
    return m.group(1).decode(errors="replace").strip()


def wait_in_guest(dom: pyvirt.Domain, what: str, command: str, check: Callable[[str], bool]) -> None:
    """Ask the guest until its answer passes ``check`` (a hotplugged device takes a moment to show)."""
    answers: list[str] = []

    def asked() -> bool:
        answers.append(ask_guest(dom, command))
        return check(answers[-1])

    try:
        wait_for(what, asked, 60)
    except AssertionError as err:
        raise AssertionError(f"{err}; the guest's last answer to '{command}': {answers[-1:]}") from None


def wait_for_backends() -> None:
    """dom0 loads the network backend's modules while the tests start (``nested_xen.DOM0_INIT``)."""
    names = ("xen_blkback", "loop", "xen_netback", "bridge")
    wait_for("dom0's backend modules", lambda: all(Path("/sys/module", n).exists() for n in names), 120)


def xs_read(domid: int, key: str) -> str:
    """A value under the guest's xenstore directory, where libxl asks the guest to balloon or bring vCPUs up."""
    argv = ["xenstore-read", f"/local/domain/{domid}/{key}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else f"<{out.stderr.strip()}>"
