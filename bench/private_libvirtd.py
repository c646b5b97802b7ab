"""A private libvirtd (Debian's libvirt 9.0): one driver loaded, its own sockets, state and mount namespace.

Used by the benchmarks (bench_qemu.py, bench_lxc.py) and by the tests that check pyvirt's files
against libvirt's own (plugins/pyvirt-qemu/tests/test_save_interop.py).

The mount namespace hides what would stop libvirt 9.0 here without touching the host: the
empty cgroup2 at /sys/fs/cgroup/unified (LXC cannot start containers with it), and for QEMU a
missing ``libvirt-qemu`` account (Debian's libvirt-daemon-system creates it; a private copy of
/etc/passwd adds it) and a qemu.conf running guests as root without a security driver, the same
terms pyvirt's side runs on. libvirt's state directories (/run/libvirt, /var/lib/libvirt,
/var/log/libvirt, /var/cache/libvirt) are bind mounts of directories under ``work``, so two
private daemons (or a host libvirtd) never share a socket, pidfile or status file, and the
caller can read what the daemon wrote (``work/lib/qemu/save/NAME.save`` is its managed save).

libvirtd runs under a small reaper (PR_SET_CHILD_SUBREAPER): the QEMU processes and virtlogd it
daemonizes become the reaper's children, which reaps them at once. Without it they are
re-parented to PID 1, which reaps late on this host, and libvirtd waits on the zombie of every
guest it destroys (kill(pid, 0) succeeds on a zombie) until its 15 s timeout. When libvirtd
exits the reaper ends what it left (virtlogd, guests never destroyed) and exits last.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["DRIVER_DIRS", "LIBVIRTD", "STATE_DIRS", "libvirt_state", "start_libvirtd", "stop_libvirtd"]

LIBVIRTD = "/usr/sbin/libvirtd"
DRIVER_DIRS = (
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver",
    "/usr/lib/aarch64-linux-gnu/libvirt/connection-driver",
)
STATE_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")

# Run as ``python -c _REAPER argv...``: a subreaper that runs argv, forwards SIGTERM/SIGINT to it,
# reaps every orphan meanwhile, and once argv's process has exited ends and reaps the rest.
_REAPER = r"""
import contextlib, ctypes, os, signal, sys, time
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: " + os.strerror(ctypes.get_errno()))
main = os.fork()
if main == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def forward(signum, frame):
    with contextlib.suppress(ProcessLookupError):
        os.kill(main, signal.SIGTERM)
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
while True:
    pid, status = os.wait()
    if pid == main:
        code = os.waitstatus_to_exitcode(status)
        break
def children():
    me, out = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                out.append(int(entry))
    return out
for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
    for pid in children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.05)
        except ChildProcessError:
            sys.exit(code)
sys.exit(code)
"""


def start_libvirtd(work: Path, driver: str, utmp: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start it under ``work``; returns the process (the reaper) and the URI that reaches it.

    A ``work`` used before starts the daemon again on the state it left (definitions, snapshot
    metadata, ...), as a restarted host daemon would.

    ``utmp``: a file the daemon reads as /var/run/utmp (libvirt takes the host's boot time
    from its BOOT_TIME record), on a private /run.
    """
    drivers = work / "drivers"
    drivers.mkdir(exist_ok=True)
    so = next(
        Path(d) / f"libvirt_driver_{driver}.so"
        for d in DRIVER_DIRS
        if (Path(d) / f"libvirt_driver_{driver}.so").exists()
    )
    if not (drivers / so.name).is_symlink():
        (drivers / so.name).symlink_to(so)
    sock = work / "sock"
    sock.mkdir(exist_ok=True)
    for stale in sock.iterdir():  # a previous run's sockets: waiting for one must wait for the new daemon
        stale.unlink()
    conf = work / "libvirtd.conf"
    conf.write_text(f'unix_sock_dir = "{sock}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n')
    setup = ["umount /sys/fs/cgroup/unified 2>/dev/null"]
    if utmp is not None:
        setup.append(f"mount -t tmpfs -o mode=0755 tmpfs /run && cp {utmp} /run/utmp")
    for target in STATE_DIRS:
        private = work / "state" / target.strip("/").replace("/", "-")
        private.mkdir(parents=True, exist_ok=True)
        setup.append(f"mkdir -p {target} && mount --bind {private} {target}")
    if driver == "qemu":
        etc = work / "etc-libvirt"
        shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True)
        (etc / "qemu.conf").write_text('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n')
        passwd, group = work / "passwd", work / "group"
        passwd.write_text(
            Path("/etc/passwd").read_text() + "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n"
        )
        group.write_text(Path("/etc/group").read_text() + "libvirt-qemu:x:64055:\n")
        setup += [f"mount --bind {etc} /etc/libvirt", f"mount --bind {passwd} /etc/passwd",
                  f"mount --bind {group} /etc/group",
                  f"/usr/sbin/virtlogd -d -p {work}/virtlogd.pid"]  # fmt: skip
    if driver == "nwfilter":  # it writes filters to /etc/libvirt/nwfilter: a private copy, never the host's
        etc = work / "etc-libvirt"
        shutil.copytree("/etc/libvirt", etc, dirs_exist_ok=True)
        setup.append(f"mount --bind {etc} /etc/libvirt")
    script = "; ".join([*setup, f"exec {LIBVIRTD} --config {conf} --pid-file {work}/libvirtd.pid"])
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
    with open(work / "libvirtd.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", _REAPER, *argv],
                                env={**os.environ, "LIBVIRT_DRIVER_DIR": str(drivers)},
                                stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    deadline = time.monotonic() + 30
    while not (sock / "libvirt-sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_libvirtd(proc)
            raise RuntimeError("libvirtd did not start: " + (work / "libvirtd.log").read_text()[-2000:])
        time.sleep(0.05)
    return proc, f"{driver}:///system?socket={sock}/libvirt-sock"


def libvirt_state(work: Path, path: str) -> Path:
    """Where a file libvirtd sees at ``path`` (under one of its state directories) is from outside."""
    for target in STATE_DIRS:
        if path == target or path.startswith(target + "/"):
            return work / "state" / target.strip("/").replace("/", "-") / path[len(target) :].lstrip("/")
    raise ValueError(f"{path} is not in a private libvirt state directory")


def stop_libvirtd(proc: subprocess.Popen[bytes]) -> None:
    """Stop libvirtd; its reaper then ends virtlogd and any guest left running, and exits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
