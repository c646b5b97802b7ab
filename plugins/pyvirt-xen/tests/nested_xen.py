"""A real Xen hypervisor for the tests: Xen 4.17 booted by QEMU under TCG, with a dom0 that sees this checkout.

This host's KVM cannot run Xen, but QEMU's TCG can: QEMU's multiboot loader
starts Debian's Xen (the gunzipped ELF; the ``.gz`` hangs at "Booting from
ROM") with Debian's kernel as dom0 and a busybox initramfs. The initramfs
loads Xen's device modules, mounts the host's ``/`` read-only over virtio-9p
with the unpacked toolstack (``fetch-xen-dom0``'s ``xenroot``) overlaid on
it and a tmpfs on top, and changes root into that: inside, dom0 looks like
this host with xen-utils installed, so the checkout and its virtualenv run
there unchanged and nothing on the host is written. A third 9p share (the
test's own directory) carries the script to run in, and its results out.
xenstored, the dom0 record and xenconsoled (logging each guest's console to
a file the tests read) are started before the script. Measured here: dom0
reaches ``xl list`` about 10 s after QEMU starts; importing pyvirt in dom0
takes about 13 s more under TCG.
"""

from __future__ import annotations

import gzip
import subprocess
import time
from pathlib import Path

__all__ = ["DOM0_CACHE_FETCH", "Dom0Run", "newc_archive", "run_in_dom0"]

DOM0_CACHE_FETCH = Path(__file__).resolve().parents[1] / "tools" / "fetch-xen-dom0"
XL_BIN = "/usr/lib/xen-4.17/bin"

DOM0_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host /xenroot /res /up /new
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m || echo "dom0-init: insmod $m failed"; done
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $opts,ro host /host && mount -t 9p -o $opts,ro xenroot /xenroot && mount -t 9p -o $opts results /res \\
  || echo "dom0-init: 9p mount failed"
mount -t tmpfs tmpfs /up; mkdir /up/upper /up/work
mount -t overlay overlay -o lowerdir=/xenroot:/host,upperdir=/up/upper,workdir=/up/work /new \\
  || echo "dom0-init: overlay failed"
for d in proc sys dev run tmp xen-results; do mkdir -p /new/$d; done
mount -t proc proc /new/proc; mount -t sysfs sys /new/sys; mount -t devtmpfs dev /new/dev
mkdir -p /new/dev/pts; mount -t devpts devpts /new/dev/pts
mount -t tmpfs tmpfs /new/run; mount -t tmpfs tmpfs /new/tmp
mount -t xenfs xenfs /new/proc/xen
mount --bind /res /new/xen-results
chroot /new /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \\
  /bin/sh /xen-results/dom0-run
echo "dom0-init: run exited $?"
echo o > /proc/sysrq-trigger
sleep 60
"""

# started in the changed root: the toolstack's daemons as Debian's xencommons starts them, then the test
DOM0_RUN = f"""set -e
mkdir -p /run/xen /var/lib/xen /var/log/xen/console /var/lib/xenstored
{XL_BIN}/xenstored --pid-file=/run/xen/xenstored.pid
{XL_BIN}/xen-init-dom0
{XL_BIN}/xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
echo "dom0-run: toolstack up"
set +e
cd /xen-results
%s
echo $? > /xen-results/rc
"""


def newc_archive(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A gzipped cpio ("newc") archive, the initramfs format: path -> (content, mode); parents made as dirs."""
    entries: dict[str, tuple[bytes, int]] = {}
    for path, (data, mode) in sorted(files.items()):
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), (b"", 0o040755))
        entries[path] = (data, mode)
    out = bytearray()

    def add(name: str, data: bytes, mode: int, ino: int) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + encoded)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, (data, mode)) in enumerate(entries.items(), start=1):
        add(name, data, mode, ino)
    add("TRAILER!!!", b"", 0, 0)
    return gzip.compress(bytes(out), compresslevel=1)


def dom0_initramfs(cache: Path) -> bytes:
    order = (cache / "modules" / "order").read_text().split()
    files = {"init": (DOM0_INIT.encode(), 0o100755), "bin/busybox": ((cache / "busybox").read_bytes(), 0o100755),
             "modules/order": ("\n".join(order).encode(), 0o100644)}  # fmt: skip
    for mod in order:
        files[f"modules/{mod}"] = ((cache / "modules" / mod).read_bytes(), 0o100644)
    return newc_archive(files)


class Dom0Run:
    """What a dom0 run left: the console (Xen's and dom0's, over the serial line), the script's status."""

    def __init__(self, console: str, rc: int | None, seconds: float) -> None:
        self.console = console
        self.rc = rc
        self.seconds = seconds


def run_in_dom0(cache: Path, workdir: Path, command: str, timeout: float = 1800.0) -> Dom0Run:
    """Boot Xen + dom0 under QEMU/TCG, run the shell ``command`` in dom0 (cwd: ``workdir``, seen as
    ``/xen-results``), power off, and return the console and the command's exit status (None: it never ended).
    """
    (workdir / "dom0-run").write_text(DOM0_RUN % command)
    initrd = workdir / "dom0.cpio.gz"
    initrd.write_bytes(dom0_initramfs(cache))
    argv = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "qemu64,+rdrand", "-m", "1536",
            "-smp", "2", "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", str(cache / "xen"), "-append", "console=com1 dom0_mem=768M,max:768M noreboot",
            "-initrd", f"{cache / 'vmlinuz'} console=hvc0 quiet,{initrd}",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={cache / 'xenroot'},mount_tag=xenroot,security_model=none,readonly=on",
            "-virtfs", f"local,path={workdir},mount_tag=results,security_model=none"]  # fmt: skip
    started = time.monotonic()
    with open(workdir / "console.log", "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    rc_file = workdir / "rc"
    rc = int(rc_file.read_text()) if rc_file.exists() else None
    console = (workdir / "console.log").read_text(errors="replace")
    return Dom0Run(console, rc, time.monotonic() - started)


def in_dom0() -> bool:
    """True inside a Xen control domain (the tests under ``in_dom0/`` run only there)."""
    try:
        return "control_d" in Path("/proc/xen/capabilities").read_text()
    except OSError:
        return False


def guest_initramfs(busybox: Path) -> bytes:
    """The PV guest's whole system: says it is up on its console, then answers each line typed there with
    ``pyvirt-xen-guest: echo LINE``; ``/sbin/poweroff`` (what the kernel runs on a PV shutdown request)
    powers it off at once, and a PV reboot request (ctrl-alt-del to the kernel) restarts it at once."""
    init = b"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo 1 > /proc/sys/kernel/ctrl-alt-del
echo "pyvirt-xen-guest: up"
while :; do
  if read -r line; then echo "pyvirt-xen-guest: echo $line"; else /bin/busybox sleep 1; fi
done
"""
    poweroff = b"#!/bin/busybox sh\necho o > /proc/sysrq-trigger\n"
    return newc_archive({"init": (init, 0o100755), "bin/busybox": (busybox.read_bytes(), 0o100755),
                         "sbin/poweroff": (poweroff, 0o100755), "proc/.keep": (b"", 0o100644)})  # fmt: skip


if __name__ == "__main__":  # by hand: python nested_xen.py WORKDIR 'COMMAND'
    import sys

    fetched = subprocess.run([str(DOM0_CACHE_FETCH)], capture_output=True, text=True, check=True)
    run = run_in_dom0(Path(fetched.stdout.strip()), Path(sys.argv[1]), sys.argv[2])
    print(run.console)
    print(f"rc={run.rc} in {run.seconds:.0f} s")
    sys.exit(0 if run.rc == 0 else 1)
