"""Two "hosts" on one machine without namespaces: two ``pyvirtd --root DIR`` instances, for migration tests.

Also what the migration tests share beside the hosts: the TCG Linux guest
that counts on its serial console (its initramfs, its ticks), the firmware
guest, the lifecycle events of one daemon, and the host setting post-copy
needs; each test file loads this module by path (the suite imports test
files by path, not from sys.path) instead of loading one another.

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

import importlib.util
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon

__all__ = [
    "COUNTER_INIT", "FIRMWARE_GUEST", "PYVIRSH", "DomainEvents", "Host", "TwoHosts", "counter_guest", "guest_linux",
    "migrating", "newc", "qemu_pids", "slow_guest_xml", "ticks", "two_hosts", "unprivileged_userfaultfd", "wait_for",
]  # fmt: skip

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]


def _load_linux_guest() -> object:
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_test_linux_guest",
                                                  Path(__file__).parent / "test_linux_guest.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_linux = _load_linux_guest()
guest_linux = _linux.guest_linux  # type: ignore[attr-defined]  # the fixture: Debian's kernel and busybox
newc = _linux.newc  # type: ignore[attr-defined]

# the guest every live-migration story watches: it counts on its console, with its uptime, ten times a second
COUNTER_INIT = b"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs dev /dev
echo PYVIRT-BOOT > /dev/ttyS0
n=0
while :; do
  echo "TICK $n $(cut -d' ' -f1 /proc/uptime)" > /dev/ttyS0
  n=$((n+1))
  usleep 100000
done
"""

FIRMWARE_GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><serial type='pty'/></devices></domain>"""


def ticks(log: Path) -> list[tuple[int, float]]:
    """The counter's (number, uptime) lines so far."""
    return [(int(n), float(up)) for n, up in re.findall(r"TICK (\d+) ([\d.]+)", log.read_text(errors="replace"))]


def counter_guest(guest_linux: Path, tmp_path: Path, console: Path, init: bytes = COUNTER_INIT,
                  devices: str = "") -> str:  # fmt: skip
    """The counting guest's XML (named "counter"); its initramfs is written beside it. ``init`` replaces the
    counter's init script, ``devices`` adds device elements."""
    exe, folder = stat.S_IFREG | 0o755, stat.S_IFDIR | 0o755
    initrd = tmp_path / "counter.cpio"
    dirs = [(d, folder, b"") for d in ("bin", "proc", "dev")]
    initrd.write_bytes(newc([*dirs, ("bin/busybox", exe, (guest_linux / "busybox").read_bytes()),
                             ("init", exe, init)]))  # fmt: skip
    return f"""<domain type='qemu'><name>counter</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{guest_linux / "vmlinuz"}</kernel><initrd>{initrd}</initrd>
<cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features><devices>{devices}
<serial type='file'><source path='{console}' append='on'/></serial></devices></domain>"""


def migrating(dom: pyvirt.Domain) -> bool:
    """Whether the domain's outgoing migration has begun sending (a bounded job with data processed)."""
    kind, params = dom.job_stats()
    return kind == 1 and any(p.field == "data_processed" and int(p.value) > 0 for p in params)


class DomainEvents:
    """The lifecycle events of one host's daemon, as (event, detail), in order."""

    def __init__(self, uri: str) -> None:
        self.conn = pyvirt.open(uri)
        self.seen: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self.conn.register_domain_event(self._add)

    def _add(self, ev: object) -> None:
        with self._lock:
            self.seen.append((ev.event, ev.detail))  # type: ignore[attr-defined]

    def has(self, *expected: tuple[int, int]) -> bool:
        """Whether ``expected`` came, in this order (other events may come between)."""
        with self._lock:
            it = iter(self.seen)
            return all(any(got == want for got in it) for want in expected)

    def close(self) -> None:
        self.conn.close()


_UFFD = Path("/proc/sys/vm/unprivileged_userfaultfd")


@pytest.fixture
def unprivileged_userfaultfd() -> Iterator[None]:
    """libvirt's postcopy-migration.sysctl for the test's duration: the destination's QEMU (no capabilities)
    may then use userfaultfd, without which QEMU refuses ``postcopy-ram`` ("Postcopy is not supported")."""
    try:
        old = _UFFD.read_text()
        _UFFD.write_text("1\n")
    except OSError as exc:
        pytest.skip(f"cannot allow unprivileged userfaultfd ({exc}); post-copy needs vm.unprivileged_userfaultfd=1")
    try:
        yield
    finally:
        _UFFD.write_text(old)


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

    def close(self) -> None:
        """Stop the daemon and kill whatever QEMU is left under the root, so a failed test leaks nothing."""
        self.daemon.stop()
        for pid in qemu_pids(self.root):
            _kill(pid)


class TwoHosts:
    def __init__(self, base: Path) -> None:
        self.a = Host(base / "A")
        self.b = Host(base / "B")

    def close(self) -> None:
        self.a.close()
        self.b.close()


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
