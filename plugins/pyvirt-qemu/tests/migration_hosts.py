"""Two "hosts" on one machine without namespaces: two ``pyvirtd --root DIR`` instances, for migration tests.

Each daemon keeps everything under its own root (sockets in ``DIR/run/pyvirt``,
guests' state in ``DIR/run/qemu``, definitions in ``DIR/etc/qemu``), so to
each other they are two hosts; clients reach them as libvirt's clients reach
a host, with ``qemu+unix:///system?socket=DIR/run/pyvirt/pyvirt-sock``. They
share the machine's filesystem, which stands in for shared storage (a disk
image at the same path on both). Migration traffic goes over loopback only:
the tests ask the destination to listen on 127.0.0.1.

``two_hosts`` is the fixture; whatever QEMU a test leaves under either root
is killed afterwards, so a failing test leaks nothing into the next one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

__all__ = ["Host", "TwoHosts", "qemu_pids", "slow_guest_xml", "two_hosts", "wait_for"]

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]


class Host:
    """One pyvirtd --root instance: its daemon, URI and run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.daemon = PrivateDaemon(root)

    @property
    def uri(self) -> str:
        """``qemu+unix:///system?socket=ROOT/run/pyvirt/pyvirt-sock``, as the issue writes it."""
        return f"qemu+unix:///system?socket={self.daemon.socket}"

    @property
    def run_dir(self) -> Path:
        return self.root / "run" / "qemu"

    def start(self) -> Host:
        self.daemon.start()
        return self

    def restart(self) -> None:
        """A new daemon on the same root (after a kill): it finds the guests from their status files."""
        self.daemon = PrivateDaemon(self.root).start()

    def pyvirsh(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C")
        return subprocess.run([*PYVIRSH, "-c", self.uri, *argv], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)  # fmt: skip

    def status_files(self) -> list[str]:
        return sorted(p.name for p in self.run_dir.glob("*.xml")) if self.run_dir.exists() else []


class TwoHosts:
    def __init__(self, base: Path) -> None:
        self.a = Host(base / "A")
        self.b = Host(base / "B")

    def close(self) -> None:
        for host in (self.a, self.b):
            host.daemon.stop()
            for pid in qemu_pids(host.root):
                _kill(pid)


def qemu_pids(root: Path) -> list[int]:
    """The QEMU processes of guests under ``root`` (their command line names the root's private directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and f"{root}/".encode() in cmdline:
            found.append(int(entry))
    return found


def _kill(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def wait_for(cond: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def slow_guest_xml(virt_type: str, name: str, nvdimm: Path, mib: int = 64) -> str:
    """A firmware-only guest with ``mib`` MiB of random bytes in its memory (an NVDIMM backed by a file):
    QEMU cannot skip them as zero pages, so a bandwidth limit makes its migration last seconds."""
    with open(nvdimm, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    return f"""<domain type='{virt_type}'><name>{name}</name>
<maxMemory slots='2' unit='MiB'>4096</maxMemory><memory unit='MiB'>{64 + mib}</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu><devices>
<memory model='nvdimm'><source><path>{nvdimm}</path></source><target><size unit='MiB'>{mib}</size><node>0</node>
</target></memory></devices></domain>"""


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[TwoHosts]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run pyvirtd's qemu:///system and spawn QEMU")
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 (Debian's qemu-system-x86) is not installed")
    hosts = TwoHosts(tmp_path / "hosts")
    try:
        hosts.a.start()
        hosts.b.start()
        yield hosts
    finally:
        hosts.close()
