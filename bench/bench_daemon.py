"""pyvirtd beside libvirtd 9.0 (Debian's), same machine, same run: what a user of the daemon feels.

  1. RPC throughput on the test driver: lookupByName + info pairs per second, from Debian's
     python3-libvirt (the same client on both sides), one client process and eight at once.
  2. Real virsh, ``list --all`` on test:///default through each daemon (interleaved runs, medians).
  3. ``list --all`` on qemu:///system: pyvirsh through pyvirtd against virsh through libvirtd.
  4. start / destroy of a firmware-only KVM guest (TCG without /dev/kvm): ``pyvirsh`` through
     pyvirtd against ``virsh`` through libvirtd, whole commands as a user runs them.
  5. idle RSS of each daemon with 20 guests running.

libvirtd is a private instance (bench/private_libvirtd.py) under a prompt child reaper, with
only its QEMU driver, guests as root without a security driver; pyvirtd is a private
``--root`` instance on the same terms. Ratios are pyvirt / libvirt; targets from issue 19.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from private_libvirtd import start_libvirtd, stop_libvirtd

from pyvirt.daemon.instance import PrivateDaemon

SYSTEM_PYTHON = "/usr/bin/python3"
PYVIRSH = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or "pyvirsh"
GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""

# One client process: lookup + info pairs for ``seconds``; prints the pair count.
CLIENT = r"""
import sys, time, libvirt
conn = libvirt.open(sys.argv[1])
seconds = float(sys.argv[2])
conn.lookupByName("test").info()
n = 0
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    for _ in range(50):
        conn.lookupByName("test").info()
    n += 50
print(n)
"""


def throughput(uri: str, clients: int, seconds: float) -> float:
    procs = [
        subprocess.Popen([SYSTEM_PYTHON, "-c", CLIENT, uri, str(seconds)], stdout=subprocess.PIPE, text=True)
        for _ in range(clients)
    ]
    total = sum(int(p.communicate()[0]) for p in procs)
    return total / seconds


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def interleaved(a: list[str], b: list[str], rounds: int) -> tuple[float, float]:
    """Median wall time of two commands run in turn (this VM's speed drifts; turns keep it fair)."""
    ta, tb = [], []
    timed(a), timed(b)
    for _ in range(rounds):
        ta.append(timed(a))
        tb.append(timed(b))
    return statistics.median(ta), statistics.median(tb)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def daemon_pid(proc: subprocess.Popen[bytes], name: str) -> int:
    """The daemon's own pid (libvirtd runs under a reaper and ``unshare``)."""
    out = subprocess.run(["pgrep", "-n", "-f", name], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def report(rows: list[tuple[str, float, float, str, str]]) -> None:
    print(f"{'benchmark':58} {'pyvirt':>10} {'libvirt':>10} {'ratio':>7}  target")
    for name, mine, theirs, unit, target in rows:
        ratio = mine / theirs if theirs else float("nan")
        print(f"{name:58} {mine:10.3f} {theirs:10.3f} {ratio:6.2f}x  {target} ({unit})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    ap.add_argument("--rounds", type=int, default=21, help="runs of each command for the latency medians")
    ap.add_argument("--throughput-rounds", type=int, default=3, help="alternating throughput runs of each daemon")
    ap.add_argument("--guests", type=int, default=20, help="guests running for the RSS reading")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    load_before = os.getloadavg()
    rows: list[tuple[str, float, float, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
        work = Path(tmp)
        (work / "libvirt").mkdir()
        lv_proc, lv_qemu = start_libvirtd(work / "libvirt", "qemu")
        lv_sock = lv_qemu.split("socket=", 1)[1]
        pv = PrivateDaemon(work / "pyvirt").start()
        try:
            lv_test = f"test+unix:///default?socket={lv_sock}"
            pv_test = pv.uri("test:///default")
            lv_qemu_uri = f"qemu+unix:///system?socket={lv_sock}"
            pv_qemu_uri = pv.uri("qemu:///system")

            for n, target in ((1, ">= 1.0x"), (8, ">= 1.5x")):
                # Turns, as for the latencies: other work on this 2-vCPU VM comes and goes within seconds,
                # and one run of each side in a row measured that, not the daemons (0.45x to 1.6x apart).
                mine_runs, theirs_runs = [], []
                for _ in range(args.throughput_rounds):
                    mine_runs.append(throughput(pv_test, n, args.seconds))
                    theirs_runs.append(throughput(lv_test, n, args.seconds))
                mine, theirs = statistics.median(mine_runs), statistics.median(theirs_runs)
                rows.append((f"RPC lookup+info pairs/s, {n} client process(es)", mine, theirs, "pairs/s", target))

            a, b = interleaved(["virsh", "-c", pv_test, "list", "--all"], ["virsh", "-c", lv_test, "list", "--all"],
                               args.rounds)  # fmt: skip
            rows.append(("virsh list --all test:///default (s)", a, b, "s", "<= 1.2x"))
            a, b = interleaved([PYVIRSH, "-c", pv_qemu_uri, "list", "--all"],
                               ["virsh", "-c", lv_qemu_uri, "list", "--all"], args.rounds)  # fmt: skip
            rows.append(("pyvirsh vs virsh list --all qemu:///system (s)", a, b, "s", "<= 2.0x"))

            xml = work / "g.xml"
            xml.write_text(GUEST.format(virt=virt, name="benchg"))
            for uri, tool in ((pv_qemu_uri, PYVIRSH), (lv_qemu_uri, "virsh")):
                subprocess.run([tool, "-c", uri, "define", str(xml)], check=True, stdout=subprocess.DEVNULL)
                timed([tool, "-c", uri, "start", "benchg"])  # warm the capability caches once
                timed([tool, "-c", uri, "destroy", "benchg"])
            starts: dict[str, list[float]] = {"pv": [], "lv": []}
            stops: dict[str, list[float]] = {"pv": [], "lv": []}
            for _ in range(max(args.rounds // 3, 3)):
                for key, uri, tool in (("pv", pv_qemu_uri, PYVIRSH), ("lv", lv_qemu_uri, "virsh")):
                    starts[key].append(timed([tool, "-c", uri, "start", "benchg"]))
                    stops[key].append(timed([tool, "-c", uri, "destroy", "benchg"]))
            rows.append(("start a firmware-only guest (s)", statistics.median(starts["pv"]),
                         statistics.median(starts["lv"]), "s", "<= 0.35x"))  # fmt: skip
            rows.append(("destroy it (s)", statistics.median(stops["pv"]), statistics.median(stops["lv"]), "s",
                         "<= 0.2x"))  # fmt: skip

            for uri, tool in ((pv_qemu_uri, PYVIRSH), (lv_qemu_uri, "virsh")):
                for i in range(args.guests):
                    (work / f"r{i}.xml").write_text(GUEST.format(virt=virt, name=f"rss{i}"))
                    subprocess.run([tool, "-c", uri, "create", str(work / f"r{i}.xml")], check=True,
                                   stdout=subprocess.DEVNULL)  # fmt: skip
            time.sleep(2)
            assert pv.proc is not None
            mine_rss = rss_kib(pv.proc.pid) / 1024
            theirs_rss = rss_kib(daemon_pid(lv_proc, "/usr/sbin/libvirtd --config " + str(work / "libvirt"))) / 1024
            rows.append((f"daemon idle RSS with {args.guests} guests (MiB)", mine_rss, theirs_rss, "MiB", "report"))
            for uri, tool in ((pv_qemu_uri, PYVIRSH), (lv_qemu_uri, "virsh")):
                for i in range(args.guests):
                    subprocess.run([tool, "-c", uri, "destroy", f"rss{i}"], stdout=subprocess.DEVNULL, check=False)
        finally:
            pv.stop()
            stop_libvirtd(lv_proc)
    report(rows)
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *os.getloadavg()))  # fmt: skip
    if args.json:
        print(json.dumps([{"name": r[0], "pyvirt": r[1], "libvirt": r[2]} for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
