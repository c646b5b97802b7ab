"""pyvirsh's ESX driver beside libvirt 9.0's own (Debian's virsh), same simulated host, same run.

One vSphere simulator (govmomi's vcsim, the ``vcsim-libvirt`` build that
libvirt's SOAP client can read: plugins/pyvirt-esx/tests/build_vcsim.py) in
ESX mode on loopback, TLS with a certificate made for the run, the password
in libvirt's auth file for both tools. Each row runs the whole command as a
user would, the tools in turn (this machine's speed drifts; turns keep
it fair), and reports medians and pyvirt / libvirt:

  list --all, dominfo, dumpxml (of a VM defined through pyvirt, so that its
  VMX is real), start + destroy (one power cycle, both commands).

The ``list`` rows come from one loop that runs, in turn, pyvirsh, virsh,
the floor (the same listing through pyVmomi alone, no pyvirt: connect, find
the VMs, read name and power state, as ``govc ls`` would), pyvirsh without
its kept session, and a Python that only imports ``ssl`` and ``pyVmomi.vim``
(what any pyVmomi client pays before its first byte on the wire). Target
from issue 17: ``list --all`` <= 1.0x virsh's time. ``--list-only`` stops
after those rows.

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

# Below the floor: what any pyVmomi client pays before its first byte on the wire
IMPORTS = "import ssl, pyVmomi.vim"

Sample = tuple[float, float]  # (wall seconds, CPU seconds of the command: user + system)


def timed(argv: list[str], before: Callable[[], object] | None = None) -> Sample:
    """Wall time and the child's CPU time; the CPU time is the steadier one on a busy machine."""
    if before is not None:
        before()  # not timed
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
                          env={k: v for k, v in os.environ.items() if k != NO_BYTECODE})  # fmt: skip
    wall = time.perf_counter() - t
    if done.returncode != 0:  # a benchmark of a failing command measures nothing: say what it said
        raise SystemExit(f"bench_esx: {' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)


def plus(a: Sample, b: Sample) -> Sample:
    return a[0] + b[0], a[1] + b[1]


def interleaved(*measures: Callable[[], Sample], rounds: int) -> list[Sample]:
    """Median (wall, CPU) of each measurement, taken in turn round after round, after one warm-up each.

    Why in turn: this machine's speed drifts (other work, CPU frequency); a
    round runs every tool once, so a slow minute slows them all alike.
    """
    taken: list[list[Sample]] = [[] for _ in measures]
    for measure in measures:
        measure()
    for _ in range(rounds):
        for samples, measure in zip(taken, measures, strict=True):
            samples.append(measure())
    return [(statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)) for xs in taken]


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
    ap.add_argument("--list-only", action="store_true", help="only the list rows (pyvirsh, virsh, the floor)")
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
            return _run(sim, args.rounds, args.json, args.list_only)
        finally:
            running.close()


def _run(sim: Simulator, rounds: int, as_json: bool, list_only: bool) -> int:
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
    pyvirsh_list, virsh_list, floor, pyvirsh_fresh, imports = interleaved(
        *both("list", "--all"),
        lambda: timed([sys.executable, "-c", FLOOR, sim.host, str(sim.port), USER, PASSWORD]),
        # this host's kept session only is dropped before each of these runs (not timed)
        lambda: timed([PYVIRSH, "-c", uri, "list", "--all"],
                      before=SessionCache("esx", "https", sim.host, sim.port, USER).forget),
        lambda: timed([sys.executable, "-c", IMPORTS]),
        rounds=rounds,
    )  # fmt: skip
    rows.append(("list --all", pyvirsh_list, virsh_list, "<= 1.0x"))
    rows.append(("list: pyVmomi alone (the floor) vs virsh", floor, virsh_list, "-"))
    rows.append(("list --all vs the floor (pyVmomi alone)", pyvirsh_list, floor, "-"))
    rows.append(("list --all, a fresh login each run (no kept session)", pyvirsh_fresh, virsh_list, "-"))
    rows.append(("Python + pyVmomi + ssl imported, nothing run, vs virsh", imports, virsh_list, "-"))
    if not list_only:
        for name, command in (("dominfo", ("dominfo", "ha-host_VM0")),
                              ("dumpxml (VMX downloaded and converted)", ("dumpxml", GUEST))):  # fmt: skip
            mine, theirs = interleaved(*both(*command), rounds=rounds)
            rows.append((name, mine, theirs, "-"))
        mine, theirs = interleaved(cycle(PYVIRSH), cycle("virsh"), rounds=rounds)
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
