"""A private libvirtd 9.0 (Debian's) serving ``test:///default``, for testing the client against the real thing.

It runs in its own mount namespace with a fresh tmpfs on ``/run/libvirt``
(where libvirtd writes its identity token), reads only the config file the
test writes (sockets in the test's directory, no authentication), loads no
driver module (``LIBVIRT_DRIVER_DIR`` is an empty directory; the test driver
is built into libvirt itself), and is stopped and reaped by the fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

LIBVIRTD = "/usr/sbin/libvirtd"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-libvirt


@dataclass
class Libvirtd:
    proc: subprocess.Popen[bytes]
    work: Path

    @property
    def socket(self) -> str:
        return str(self.work / "sock" / "libvirt-sock")

    @property
    def socket_ro(self) -> str:
        return str(self.work / "sock" / "libvirt-sock-ro")

    def uri(self, read_only: bool = False, base: str = "test+unix:///default") -> str:
        return f"{base}?socket={self.socket_ro if read_only else self.socket}"

    def stop(self) -> None:
        stop_libvirtd(self)

    def log(self) -> str:
        return (self.work / "libvirtd.log").read_text(errors="replace")[-3000:]


QEMU_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"


def start_libvirtd(work: Path, extra_conf: str = "", driver: str = "test") -> Libvirtd:
    """``driver`` ``test`` (built in) or ``qemu``: the QEMU driver with its config, state and cache
    directories on tmpfs in the daemon's namespace, guests as root without a security driver."""
    if not os.path.exists(LIBVIRTD) or shutil.which("unshare") is None:
        pytest.skip("Debian's libvirtd 9.0 (libvirt-daemon) is not installed")
    if os.geteuid() != 0:
        pytest.skip("a private libvirtd needs root (its own mount namespace)")
    (work / "sock").mkdir(parents=True)
    (work / "drivers").mkdir()
    conf = work / "libvirtd.conf"
    conf.write_text(
        f'unix_sock_dir = "{work / "sock"}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        f'unix_sock_rw_perms = "0700"\n{extra_conf}'
    )
    setup = ["mount -t tmpfs tmpfs /run/libvirt"]
    if driver == "qemu":
        if not os.path.exists(QEMU_DRIVER):
            pytest.skip("Debian's libvirt-daemon-driver-qemu is not installed")
        (work / "drivers" / "libvirt_driver_qemu.so").symlink_to(QEMU_DRIVER)
        etc = work / "etc-libvirt"
        etc.mkdir()
        (etc / "qemu.conf").write_text('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n')
        # Debian's libvirt-daemon-system creates the libvirt-qemu account; only the daemon's copy gets it here
        passwd, group = work / "passwd", work / "group"
        passwd.write_text(Path("/etc/passwd").read_text() + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false\n")
        group.write_text(Path("/etc/group").read_text() + "libvirt-qemu:x:64055:\n")
        setup += [f"mount --bind {etc} /etc/libvirt", f"mount --bind {passwd} /etc/passwd",
                  f"mount --bind {group} /etc/group",
                  "mount -t tmpfs tmpfs /var/lib/libvirt", "mount -t tmpfs tmpfs /var/cache/libvirt"]  # fmt: skip
        for d in ("/var/lib/libvirt", "/var/cache/libvirt"):
            os.makedirs(d, exist_ok=True)
    script = " && ".join([*setup, f"exec {LIBVIRTD} --config {conf} --pid-file {work / 'pid'}"])
    os.makedirs("/run/libvirt", exist_ok=True)
    with open(work / "libvirtd.log", "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIBVIRT_DRIVER_DIR": str(work / "drivers")},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    daemon = Libvirtd(proc, work)
    deadline = time.monotonic() + 30
    while not os.path.exists(daemon.socket_ro):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_libvirtd(daemon)
            raise RuntimeError("libvirtd did not start: " + daemon.log())
        time.sleep(0.02)
    return daemon


def stop_libvirtd(daemon: Libvirtd) -> None:
    if daemon.proc.poll() is None:
        daemon.proc.terminate()
        try:
            daemon.proc.wait(15)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait()


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Libvirtd]:
    daemon = start_libvirtd(tmp_path_factory.mktemp("libvirtd"))
    yield daemon
    stop_libvirtd(daemon)


@pytest.fixture
def libvirtd_factory(tmp_path: Path) -> Iterator[Callable[..., Libvirtd]]:
    started: list[Libvirtd] = []

    def start(extra_conf: str = "", driver: str = "test") -> Libvirtd:
        daemon = start_libvirtd(tmp_path / f"libvirtd{len(started)}", extra_conf, driver)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        stop_libvirtd(daemon)


def system_python_libvirt(script: str, *args: str) -> str:
    """Run ``script`` with Debian's python3 and python3-libvirt (the C library's client), return its stdout."""
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip("Debian's python3 is not installed")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import libvirt"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("Debian's python3-libvirt is not installed")
    out = subprocess.run([SYSTEM_PYTHON, "-c", script, *args], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def system_libvirt() -> Callable[..., str]:
    """``system_python_libvirt``, for tests that compare with libvirt's own client."""
    return system_python_libvirt
