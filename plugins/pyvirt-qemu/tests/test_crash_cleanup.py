"""A QEMU killed behind the driver's back: reported "shut off (crashed)", and nothing of its run is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyvirt
from pyvirt import DomainEvent, DomainState
from pyvirt.domain_state import ShutoffReason
from pyvirt.events import Stopped
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.uri import parse_uri

PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")


def run_dir(root: Path) -> Path:
    """The qemu driver's run directory under an embedded root (wherever the layout puts it)."""
    return Path(paths_for_uri(parse_uri(f"qemu:///embed?root={root}"), "qemu").run)


def guest(virt_type: str, name: str) -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>"""


def pyvirsh(root: Path, *args: str) -> str:
    return subprocess.run([PYVIRSH, "-c", f"qemu:///embed?root={root}", *args], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()  # fmt: skip


def kill_and_reap(pid: int) -> None:
    """SIGKILL, then wait until the process is gone (our init reaps late: a zombie has no command line)."""
    fd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.close(fd)


def leftovers(root: Path, name: str) -> list[str]:
    """What a run of guest ``name`` may leave: run-directory files and its private directory (master key)."""
    left = sorted(p.name for p in run_dir(root).iterdir() if p.name.startswith(f"{name}."))
    return left + [str(p) for p in root.rglob(f"domain-{name}")] + [str(p) for p in root.rglob("master-key.aes")]


def test_a_crash_nobody_watched_is_found_and_cleaned_by_the_next_process(qemu_root: Path, virt_type: str) -> None:
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        conn.define_domain(guest(virt_type, "crashy"))
    pyvirsh(qemu_root, "start", "crashy")  # its process is gone: nobody watches this QEMU now
    pid = int((run_dir(qemu_root) / "crashy.pid").read_text())
    assert leftovers(qemu_root, "crashy")  # (a running guest has its files, so the check below means something)
    kill_and_reap(pid)
    assert pyvirsh(qemu_root, "domstate", "crashy", "--reason") == "shut off (crashed)"
    assert leftovers(qemu_root, "crashy") == []
    # a later process knows nothing of the crash any more (as libvirt after a restart), and the guest starts
    assert pyvirsh(qemu_root, "domstate", "crashy") == "shut off"
    pyvirsh(qemu_root, "start", "crashy")
    assert pyvirsh(qemu_root, "domstate", "crashy") == "running"
    pyvirsh(qemu_root, "destroy", "crashy")
    assert leftovers(qemu_root, "crashy") == []


def test_a_crash_seen_by_the_watching_process_is_cleaned_at_once(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str
) -> None:
    seen: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: seen.append((ev.event, ev.detail)))
    dom = conn.define_domain(guest(virt_type, "watched"))
    dom.create()
    pid = int((run_dir(qemu_root) / "watched.pid").read_text())
    kill_and_reap(pid)
    deadline = time.monotonic() + 10
    while (DomainEvent.STOPPED, Stopped.FAILED) not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    # libvirt's words for a QEMU that died unexpectedly: event STOPPED/FAILED, state shut off (crashed)
    assert (DomainEvent.STOPPED, Stopped.FAILED) in seen
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)
    assert leftovers(qemu_root, "watched") == []
