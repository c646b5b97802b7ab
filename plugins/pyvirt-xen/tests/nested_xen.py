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
a file the tests read) are started before the script. Measured on this
2-vCPU machine shared with other work (load 5 to 8): Xen starts dom0's
kernel after 10 s, dom0's init runs at 20 s, the toolstack is up at 32 s
(``Dom0Run.timing`` prints each phase); Python with pytest and pyvirt then
needs one to two minutes to start in dom0, and every ``xl`` call a second or
more: everything in dom0 runs under TCG, each system call through Xen.
"""

from __future__ import annotations

import gzip
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["DOM0_CACHE_FETCH", "DOM0_CPU", "LIBVIRT_DOM0_CPU", "Dom0Run", "newc_archive", "run_in_dom0"]

DOM0_CACHE_FETCH = Path(__file__).resolve().parents[1] / "tools" / "fetch-xen-dom0"
XL_BIN = "/usr/lib/xen-4.17/bin"
# bootscrub=0: Xen scrubs free memory in the idle loop while dom0 boots, which under TCG takes the
# host CPU the booting dom0 needs (the memory was never used: QEMU hands it over zeroed)
XEN_CMDLINE = "console=com1 dom0_mem=768M,max:768M noreboot bootscrub=0"
# QEMU's CPU for Xen, as issue 16 measured it (``-cpu max`` crashes dom0 under TCG)
DOM0_CPU = "qemu64,+rdrand"
# libvirt's libxl driver names the host CPU from Xen's feature words (xl info's hw_caps) with its CPU map, and
# stops at start when no model fits ("Cannot find suitable CPU model for given data"). Every model there
# needs sep, which Xen clears on an AMD CPU (qemu64's vendor; sysenter does not work in long mode there),
# and most need vme, which QEMU 7.2's TCG does not emulate: as an Intel CPU, qemu64 keeps sep and fits
# libvirt's Opteron_G1 (a host CPU's vendor is not compared: Xen's words carry none)
LIBVIRT_DOM0_CPU = DOM0_CPU + ",vendor=GenuineIntel"

DOM0_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host /xenroot /res /up /new
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "dom0-init: kernel up"
# the backends' modules load beside the rest of the boot (a module takes about a second under TCG); the tests
# that hotplug wait for them (in_dom0/dom0_guest.py)
later=" xen-blkback.ko loop.ko xen-netback.ko llc.ko stp.ko bridge.ko "
for m in $(cat /modules/order); do
  case "$later" in *" $m "*) ;; *) insmod /modules/$m || echo "dom0-init: insmod $m failed" ;; esac
done
(for m in $later; do insmod /modules/$m || echo "dom0-init: insmod $m failed"; done) &
echo "dom0-init: modules loaded"
# the read-only shares are cached in dom0 (cache=loose): every Python import stats dozens of paths, and an
# uncached lookup is a 9p round trip through TCG; the results share stays uncached, the host reads it
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $opts,ro,cache=loose host /host && mount -t 9p -o $opts,ro,cache=loose xenroot /xenroot \\
  && mount -t 9p -o $opts results /res || echo "dom0-init: 9p mount failed"
mount -t tmpfs tmpfs /up; mkdir /up/upper /up/work
mount -t overlay overlay -o lowerdir=/xenroot:/host,upperdir=/up/upper,workdir=/up/work /new \\
  || echo "dom0-init: overlay failed"
for d in proc sys dev run tmp xen-results; do mkdir -p /new/$d; done
mount -t proc proc /new/proc; mount -t sysfs sys /new/sys; mount -t devtmpfs dev /new/dev
mkdir -p /new/dev/pts; mount -t devpts devpts /new/dev/pts
# dom0 gets a /tmp of its own; the host's stays reachable at /.host-tmp for a checkout that lives there
mkdir -p /new/.host-tmp; mount --bind /new/tmp /new/.host-tmp
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
echo "dom0-run: command done"
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
    """What a dom0 run left: the console (Xen's and dom0's, over the serial line), the script's status, and
    when each phase began (seconds after QEMU started, from the console's markers) to say where time goes."""

    def __init__(self, console: str, rc: int | None, seconds: float, phases: dict[str, float]) -> None:
        self.console = console
        self.rc = rc
        self.seconds = seconds
        self.phases = phases

    def timing(self) -> str:
        """``xen 0.4 s, dom0 kernel 6.1 s, ...``: when each phase began, then the total."""
        marks = ", ".join(f"{name} {at:.1f} s" for name, at in self.phases.items())
        return f"{marks}{', ' if marks else ''}powered off {self.seconds:.1f} s"


# console lines that open a phase of a run, and the phase's name in Dom0Run.phases
PHASE_MARKERS = {
    "(XEN) Xen version": "xen",
    "about to get started": "dom0 kernel",
    "dom0-init: kernel up": "dom0 init",
    "dom0-init: modules loaded": "9p and overlay",
    "dom0-run: toolstack up": "toolstack up",
    "dom0-run: command done": "command done",
}


def _host_tmp_links() -> str:
    """Shell lines that make a checkout or virtualenv under the host's /tmp (a CI clone, say) reachable at the
    same path in dom0, whose /tmp is a fresh tmpfs: a symbolic link into /.host-tmp per top directory."""
    tops = set()
    for path in (Path(__file__).resolve().parents[3], Path(sys.prefix).resolve()):
        if path.is_relative_to("/tmp") and path != Path("/tmp"):
            tops.add(path.relative_to("/tmp").parts[0])
    return "".join(f"ln -s {shlex.quote('/.host-tmp/' + top)} {shlex.quote('/tmp/' + top)}\n" for top in sorted(tops))


def run_in_dom0(cache: Path, workdir: Path, command: str, timeout: float = 1800.0, cpu: str = DOM0_CPU) -> Dom0Run:
    """Boot Xen + dom0 under QEMU/TCG, run the shell ``command`` in dom0 (cwd: ``workdir``, seen as
    ``/xen-results``), power off, and return the console and the command's exit status (None: it never ended).
    ``cpu`` is QEMU's ``-cpu`` (:data:`LIBVIRT_DOM0_CPU` where libvirt's own Xen driver must start).

    Each console line is written to ``workdir/console.log`` with the seconds since QEMU started, as it comes.
    """
    (workdir / "dom0-run").write_text(DOM0_RUN % (_host_tmp_links() + command))
    initrd = workdir / "dom0.cpio.gz"
    initrd.write_bytes(dom0_initramfs(cache))
    argv = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", cpu, "-m", "1536",
            "-smp", "2", "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", str(cache / "xen"), "-append", XEN_CMDLINE,
            "-initrd", f"{cache / 'vmlinuz'} console=hvc0 quiet,{initrd}",
            "-virtfs", "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={cache / 'xenroot'},mount_tag=xenroot,security_model=none,readonly=on",
            "-virtfs", f"local,path={workdir},mount_tag=results,security_model=none"]  # fmt: skip
    started = time.monotonic()
    phases: dict[str, float] = {}
    lines: list[str] = []
    with open(workdir / "console.log", "w") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        timer = threading.Timer(timeout, proc.kill)  # a hung guest: stop reading at the deadline
        timer.start()
        try:
            for raw in proc.stdout:
                at = time.monotonic() - started
                line = raw.decode(errors="replace").rstrip("\r\n")
                lines.append(line)
                log.write(f"[{at:7.1f}] {line}\n")
                log.flush()
                for marker, phase in PHASE_MARKERS.items():
                    if marker in line:
                        phases.setdefault(phase, at)
        finally:
            timer.cancel()
            proc.kill()
            proc.wait()
    rc_file = workdir / "rc"
    rc = int(rc_file.read_text()) if rc_file.exists() else None
    return Dom0Run("\n".join(lines), rc, time.monotonic() - started, phases)


def in_dom0() -> bool:
    """True inside a Xen control domain (the tests under ``in_dom0/`` run only there)."""
    try:
        return "control_d" in Path("/proc/xen/capabilities").read_text()
    except OSError:
        return False


def guest_initramfs(cache: Path) -> bytes:
    """The PV guest's whole system: loads the block and NIC frontends (``guest-modules/``), says it is up on its
    console, then answers each line typed there with
    ``pyvirt-xen-guest: echo LINE``, except ``run: COMMAND``, which it runs, answering ``pyvirt-xen-guest:
    ran: OUTPUT`` on one line (what the guest sees of a hotplugged disk or NIC); ``/sbin/poweroff`` (what the
    kernel runs on a PV shutdown request) powers it off at once, and a PV reboot request (ctrl-alt-del to the
    kernel) restarts it at once."""
    init = b"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /modules/order); do insmod /modules/$m; done
echo 1 > /proc/sys/kernel/ctrl-alt-del
echo "pyvirt-xen-guest: up"
while :; do
  if read -r line; then
    case "$line" in
      run:*) echo "pyvirt-xen-guest: ran: $(eval "${line#run:}" 2>&1 | /bin/busybox tr '\\n' ' ')" ;;
      *) echo "pyvirt-xen-guest: echo $line" ;;
    esac
  else sleep 1; fi
done
"""
    poweroff = b"#!/bin/busybox sh\necho o > /proc/sysrq-trigger\n"
    order = (cache / "guest-modules" / "order").read_text().split()
    files = {"init": (init, 0o100755), "bin/busybox": ((cache / "busybox").read_bytes(), 0o100755),
             "sbin/poweroff": (poweroff, 0o100755), "proc/.keep": (b"", 0o100644), "sys/.keep": (b"", 0o100644),
             "modules/order": ("\n".join(order).encode(), 0o100644)}  # fmt: skip
    for mod in order:
        files[f"modules/{mod}"] = ((cache / "guest-modules" / mod).read_bytes(), 0o100644)
    return newc_archive(files)


if __name__ == "__main__":  # by hand: python nested_xen.py WORKDIR 'COMMAND'
    import sys

    fetched = subprocess.run([str(DOM0_CACHE_FETCH)], capture_output=True, text=True, check=True)
    run = run_in_dom0(Path(fetched.stdout.strip()), Path(sys.argv[1]), sys.argv[2])
    print(run.console)
    print(f"rc={run.rc}: {run.timing()}")
    sys.exit(0 if run.rc == 0 else 1)
