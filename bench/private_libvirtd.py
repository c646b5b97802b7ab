"""A private libvirtd for the benchmarks: one driver loaded, its own sockets, in its own mount namespace.

The mount namespace hides what would stop libvirt 9.0 here without touching
the host: the empty cgroup2 at /sys/fs/cgroup/unified (LXC cannot start
containers with it), and for QEMU a missing ``libvirt-qemu`` account (Debian's
libvirt-daemon-system creates it; the bench adds it to a private copy of
/etc/passwd) and a qemu.conf running guests as root without a security
driver, the same terms pyvirt's side runs on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["DRIVER_DIRS", "LIBVIRTD", "start_libvirtd", "stop_libvirtd"]

LIBVIRTD = "/usr/sbin/libvirtd"
DRIVER_DIRS = (
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver",
    "/usr/lib/aarch64-linux-gnu/libvirt/connection-driver",
)


def start_libvirtd(work: Path, driver: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start it under ``work``; returns the process and the URI that reaches it."""
    drivers = work / "drivers"
    drivers.mkdir()
    so = next(
        Path(d) / f"libvirt_driver_{driver}.so"
        for d in DRIVER_DIRS
        if (Path(d) / f"libvirt_driver_{driver}.so").exists()
    )
    (drivers / so.name).symlink_to(so)
    sock = work / "sock"
    sock.mkdir()
    conf = work / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{sock}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n')
    setup = ["umount /sys/fs/cgroup/unified 2>/dev/null"]
    if driver == "qemu":
        etc = work / "etc-libvirt"
        shutil.copytree("/etc/libvirt", etc)
        (etc / "qemu.conf").write_text('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n')
        passwd, group = work / "passwd", work / "group"
        passwd.write_text(
            Path("/etc/passwd").read_text() + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n"
        )
        group.write_text(Path("/etc/group").read_text() + "libvirt-qemu:x:64055:\n")
        cache = work / "cache"
        cache.mkdir()
        setup += [f"mount --bind {etc} /etc/libvirt", f"mount --bind {passwd} /etc/passwd",
                  f"mount --bind {group} /etc/group", "mkdir -p /var/cache/libvirt/qemu",
                  f"mount --bind {cache} /var/cache/libvirt/qemu",  # a cold capability cache
                  "/usr/sbin/virtlogd -d"]  # fmt: skip
    script = "; ".join([*setup, f"exec {LIBVIRTD} --config {conf}"])
    with open(work / "libvirtd.log", "wb") as log:
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                env={**os.environ, "LIBVIRT_DRIVER_DIR": str(drivers)},
                                stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    deadline = time.monotonic() + 20
    while not (sock / "libvirt-sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("libvirtd did not start: " + (work / "libvirtd.log").read_text()[-2000:])
        time.sleep(0.05)
    return proc, f"{driver}:///system?socket={sock}/libvirt-sock"


def stop_libvirtd(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)
    subprocess.run(["pkill", "-x", "virtlogd"], check=False)
