"""pyvirsh's ESX driver beside libvirt 9.0's own (Debian's virsh), same simulated host, same run.

One vSphere simulator (govmomi's vcsim, the ``vcsim-libvirt`` build that
libvirt's SOAP client can read: plugins/pyvirt-esx/tests/build_vcsim.py) in
ESX mode on loopback, TLS with a certificate made for the run, the password
in libvirt's auth file for both tools. Each row runs the whole command as a
user would, the two tools in turn (this machine's speed drifts; turns keep
it fair), and reports medians and pyvirt / libvirt:

  list --all, dominfo, dumpxml (of a VM defined through pyvirt, so that its
  VMX is real), start + destroy (one power cycle, both commands);

plus the floor for ``list``: the same listing through pyVmomi alone, no
pyvirt (connect, find the VMs, read name and power state). Target from
issue 17: ``list --all`` <= 1.0x virsh's time.

pyvirsh keeps its vSphere login between runs (pyvirt_esx.session_cache, as
govc does; virsh logs in and out each time), so the rows measure the kept
session, as a user's second and later commands run; the row "a fresh login
each run" removes the kept sessions before each pyvirsh run (not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "plugins" / "pyvirt-esx" / "tests"
sys.path.insert(0, str(TESTS))
from build_vcsim import build  # noqa: E402
from pyvirt_esx.session_cache import SessionCache  # noqa: E402
from test_vsphere import domain_xml, prepare_directory  # noqa: E402
from vcsim import PASSWORD, USER, Simulator, start_simulator  # noqa: E402

import pyvirt  # noqa: E402

PYVIRSH = shutil.which("pyvirsh", path=os.path.dirname(sys.executable)) or "pyvirsh"
# The tools run as installed: Python may write its bytecode (a development shell's PYTHONDONTWRITEBYTECODE
# would make every pyvirsh run compile each module it imports; pip compiles them at installation)
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"
GUEST = "bench guest"

# The floor: list the VMs with pyVmomi alone, as ``govc ls`` would (one process, like the CLIs).
FLOOR = r"""
import ssl, sys
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()
si = SmartConnect(host=host, port=port, user=user, pwd=password, sslContext=ctx)
view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
for vm in view.view:
    print(vm.name, vm.runtime.powerState)
Disconnect(si)
"""


Sample = tuple[float, float]  # (wall seconds, CPU seconds of the command: user + system)


def timed(argv: list[str], before: Callable[[], object] | None = None) -> Sample:
    """Wall time and the child's CPU time; the CPU time is the steadier one on a busy machine."""
    if before is not None:
        before()  # not timed
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={k: v for k, v in os.environ.items() if k != NO_BYTECODE})  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)


def plus(a: Sample, b: Sample) -> Sample:
    return a[0] + b[0], a[1] + b[1]


def interleaved(a: Callable[[], Sample], b: Callable[[], Sample], rounds: int) -> tuple[Sample, Sample]:
    """Median (wall, CPU) of two measurements taken in turn, after one warm-up each."""
    ta: list[Sample] = []
    tb: list[Sample] = []
    a(), b()
    for _ in range(rounds):
        ta.append(a())
        tb.append(b())

    def medians(xs: list[Sample]) -> Sample:
        return statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)

    return medians(ta), medians(tb)


Row = tuple[str, Sample, Sample, str]


def report(rows: list[Row]) -> None:
    print(f"{'benchmark':52} {'pyvirt':>8} {'libvirt':>8} {'ratio':>7} | {'CPU: pyvirt':>11} {'libvirt':>8} "
          f"{'ratio':>7}  target")  # fmt: skip
    for name, mine, theirs, target in rows:
        wall = mine[0] / theirs[0] if theirs[0] else float("nan")
        cpu = mine[1] / theirs[1] if theirs[1] else float("nan")
        print(f"{name:52} {mine[0]:8.3f} {theirs[0]:8.3f} {wall:6.2f}x | {mine[1]:11.3f} {theirs[1]:8.3f} "
              f"{cpu:6.2f}x  {target}")  # fmt: skip
    print("(seconds, medians; wall time, then the CPU time of the command itself)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=11, help="runs of each command for the medians")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args()
    if shutil.which("virsh") is None:
        print("bench_esx: Debian's virsh (libvirt-clients) is the reference and is missing", file=sys.stderr)
        return 1
    try:
        binary = build("vcsim-libvirt")
    except RuntimeError as err:
        print(f"bench_esx: no vSphere simulator: {err}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-esx-") as tmp:
        auth = Path(tmp) / "auth.conf"
        auth.write_text(f"[credentials-sim]\nusername={USER}\npassword={PASSWORD}\n\n[auth-esx-127.0.0.1]\n"
                        "credentials=sim\n")  # fmt: skip
        os.environ["LIBVIRT_AUTH_FILE"] = str(auth)
        # the kept vSphere logins of this run (a new simulator port each run) go with the run's directory
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        running = start_simulator(Path(tmp), "esx", binary)
        sim: Simulator = next(running)
        try:
            return _run(sim, args.rounds, args.json)
        finally:
            running.close()


def _run(sim: Simulator, rounds: int, as_json: bool) -> int:
    uri = sim.uri()
    prepare_directory(sim, GUEST)
    with pyvirt.open(uri) as conn:
        conn.define_domain(domain_xml(GUEST))

    def both(*command: str) -> tuple[Callable[[], Sample], Callable[[], Sample]]:
        return (lambda: timed([PYVIRSH, "-c", uri, *command]), lambda: timed(["virsh", "-c", uri, *command]))

    def cycle(tool: str) -> Callable[[], Sample]:
        return lambda: plus(timed([tool, "-c", uri, "start", GUEST]), timed([tool, "-c", uri, "destroy", GUEST]))

    load_before = os.getloadavg()
    rows: list[Row] = []
    mine, theirs = interleaved(*both("list", "--all"), rounds)
    rows.append(("list --all", mine, theirs, "<= 1.0x"))
    forget = SessionCache("esx", "https", sim.host, sim.port, USER).forget  # this host's kept session only
    mine, theirs = interleaved(lambda: timed([PYVIRSH, "-c", uri, "list", "--all"], before=forget),
                               both("list", "--all")[1], rounds)  # fmt: skip
    rows.append(("list --all, a fresh login each run (no kept session)", mine, theirs, "-"))
    floor, theirs_again = interleaved(
        lambda: timed([sys.executable, "-c", FLOOR, sim.host, str(sim.port), USER, PASSWORD]),
        both("list", "--all")[1], rounds,
    )  # fmt: skip
    rows.append(("list: pyVmomi alone (the floor) vs virsh", floor, theirs_again, "-"))
    mine, theirs = interleaved(*both("dominfo", "ha-host_VM0"), rounds)
    rows.append(("dominfo", mine, theirs, "-"))
    mine, theirs = interleaved(*both("dumpxml", GUEST), rounds)
    rows.append(("dumpxml (VMX downloaded and converted)", mine, theirs, "-"))
    mine, theirs = interleaved(cycle(PYVIRSH), cycle("virsh"), rounds)
    rows.append(("start + destroy", mine, theirs, "-"))
    report(rows)
    load_after = os.getloadavg()
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *load_after))  # fmt: skip
    if as_json:
        print(json.dumps([{"name": r[0], "pyvirt": r[1][0], "libvirt": r[2][0], "pyvirt_cpu": r[1][1],
                           "libvirt_cpu": r[2][1]} for r in rows]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
