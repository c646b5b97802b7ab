"""pyvirt's Xen configuration conversions beside libvirt 9.0's own Xen (libxl) driver, in a real Xen dom0.

Issue 16's benchmark: the whole ``tests/xlconfigdata`` corpus through
``domxml-from-native xen-xl``, pyvirt against libvirt 9.0 (Debian's
libvirt-daemon-driver-xen), plus the other directions and the legacy xm
format (``to-xl``, ``from-xm``, ``to-xm``) over libvirt's own corpora.
libvirt's libxl driver initialises only on a running Xen, so both run in the
nested Xen 4.17 dom0 of plugins/pyvirt-xen/tests/nested_xen.py (QEMU/TCG;
QEMU's CPU gets ``vme``, without which libvirtd's Xen driver cannot name
the host CPU and stops). bench_xen_convert_dom0.py does the dom0 half:

1. one process each, the whole corpus, ``--process-rounds`` rounds in
   turns: libvirt-python through libvirtd against ``pyvirt.open`` (the
   conversions themselves);
2. one command per file, ``--command-rounds`` rounds in turns, file by
   file: ``virsh -c xen:///system`` against ``pyvirsh -c
   'xen:///system?mode=direct'`` (what a user or a packaging script runs).

Medians per file and per round; a corpus row sums the per-file medians.
Everything in dom0 runs under TCG with each system call through Xen, so the
absolute times are TCG's; the ratios carry over. The load average is
printed before and after (this machine is shared). One command, from the
checkout: ``.venv/bin/python bench/bench_xen_convert.py`` (15 minutes or more
on an idle machine; ``--command-files 10`` for a shorter run).
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
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "plugins" / "pyvirt-xen" / "tests"
sys.path.insert(0, str(TESTS))
from conformance_xen import libvirt_tests  # noqa: E402
from nested_xen import DOM0_CACHE_FETCH, LIBVIRT_DOM0_CPU, run_in_dom0  # noqa: E402

DOM0_HALF = Path(__file__).resolve().parent / "bench_xen_convert_dom0.py"
# kind -> (corpus directory, input suffix, to native?, format)
KINDS = {
    "from-xl": ("xlconfigdata", ".cfg", False, "xen-xl"),
    "to-xl": ("xlconfigdata", ".xml", True, "xen-xl"),
    "from-xm": ("xmconfigdata", ".cfg", False, "xen-xm"),
    "to-xm": ("xmconfigdata", ".xml", True, "xen-xm"),
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def prepare(work: Path, args: argparse.Namespace) -> None:
    """The corpus (copied into the run's directory, dom0's /xen-results), the job list and the settings."""
    jobs = []
    source = libvirt_tests()
    for kind, (directory, suffix, to_native, fmt) in KINDS.items():
        target = work / "corpus" / directory
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        for path in sorted((source / directory).glob(f"*{suffix}")):
            shutil.copy(path, target / path.name)
            paths.append(f"/xen-results/corpus/{directory}/{path.name}")
        jobs.append({"kind": kind, "to_native": to_native, "format": fmt, "paths": paths})
    (work / "jobs.json").write_text(json.dumps(jobs))
    settings = {"process_rounds": args.process_rounds, "command_rounds": args.command_rounds,
                "command_kinds": args.command_kinds, "command_files": args.command_files}  # fmt: skip
    (work / "settings.json").write_text(json.dumps(settings))


def ratio(pyvirt: float, libvirt: float) -> str:
    return f"{pyvirt / libvirt:6.2f}x" if libvirt else "   n/a"


def agreement(first: dict[str, Any]) -> list[str]:
    """How the two drivers' results of the first round compare, file by file, per kind."""
    lib, pyv = first["libvirt"]["outputs"], first["pyvirt"]["outputs"]
    lines = []
    for kind, (directory, _suffix, _to, _fmt) in KINDS.items():
        paths = [p for p in lib if f"/{directory}/" in p and p.endswith(KINDS[kind][1])]
        same = sum(1 for p in paths if lib[p] is not None and lib[p] == pyv.get(p))
        both_refused = sum(1 for p in paths if lib[p] is None and pyv.get(p) is None)
        only = [Path(p).name for p in paths if (lib[p] is None) != (pyv.get(p) is None)]
        lines.append(f"  {kind}: {len(paths)} files, {same} identical outputs, {both_refused} refused by both"
                     + (f", refused by one only: {', '.join(only)}" if only else ""))  # fmt: skip
    return lines


def print_report(r: dict[str, Any]) -> None:
    print(f"libvirt: {r.get('virsh_version', '').replace(chr(10), '; ')}")
    print(f"libvirtd with the libxl driver answered {r['libvirtd_start']:.1f} s after its start in dom0")
    rounds = r["one_process"]
    if rounds:
        print(f"\n1. one process each, whole corpus, median of {len(rounds)} rounds in turns "
              "(libvirt-python through libvirtd / pyvirt.open in one Python)")  # fmt: skip
        print(f"{'':24}{'libvirt 9.0':>14}{'pyvirt':>14}   ratio")
        for kind in KINDS:
            lib = statistics.median(x["libvirt"]["kinds"][kind]["seconds"] for x in rounds)
            pyv = statistics.median(x["pyvirt"]["kinds"][kind]["seconds"] for x in rounds)
            files = rounds[0]["libvirt"]["kinds"][kind]["files"]
            print(f"  {kind + f' ({files} files)':22}{lib * 1e3:11.0f} ms{pyv * 1e3:11.0f} ms  {ratio(pyv, lib)}")
        for label, key in (("open + all conversions", "total"), ("whole process (with interpreter start)", "wall")):
            lib = statistics.median(x["libvirt"][key] for x in rounds)
            pyv = statistics.median(x["pyvirt"][key] for x in rounds)
            print(f"  {label}: libvirt {lib:.2f} s, pyvirt {pyv:.2f} s, {ratio(pyv, lib).strip()}")
        print("  results compared (first round):")
        print("\n".join(agreement(rounds[0])))
    if r["commands"]:
        print("\n2. one command per file, in turns file by file; a corpus is the sum of per-file medians")
        print(f"{'':24}{'virsh':>14}{'pyvirsh':>14}   ratio   per command (median)")
        for kind, files in r["commands"].items():
            done = {p: t for p, t in files.items() if "virsh" in t and "pyvirsh" in t}
            lib = [statistics.median(t["virsh"]["seconds"]) for t in done.values()]
            pyv = [statistics.median(t["pyvirsh"]["seconds"]) for t in done.values()]
            runs = min(len(t["pyvirsh"]["seconds"]) for t in done.values())
            same_rc = sum(1 for t in done.values() if t["virsh"]["rc"] == t["pyvirsh"]["rc"])
            print(f"  {kind + f' ({len(done)} files)':22}{sum(lib):12.1f} s{sum(pyv):12.1f} s  "
                  f"{ratio(sum(pyv), sum(lib))}   virsh {statistics.median(lib) * 1e3:.0f} ms, "
                  f"pyvirsh {statistics.median(pyv) * 1e3:.0f} ms; {runs} run(s) per file, "
                  f"same exit status on {same_rc}")  # fmt: skip
    if r.get("libvirtd_errors"):
        print(f"\nlibvirtd's last log lines (warnings and errors):\n{r['libvirtd_errors']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--process-rounds", type=int, default=3)
    parser.add_argument("--command-rounds", type=int, default=1)
    parser.add_argument("--command-kinds", nargs="*", default=["from-xl"], choices=list(KINDS))
    parser.add_argument("--command-files", type=int, default=10_000, help="the first N files of each kind")
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds before the nested run is stopped")
    parser.add_argument("--keep", type=Path, help="leave the run's files (console, logs, convert.json) here")
    args = parser.parse_args()
    print(f"before: {load()}")
    fetched = subprocess.run([str(DOM0_CACHE_FETCH)], capture_output=True, text=True, check=True, timeout=900)
    cache = Path(fetched.stdout.strip())
    # under /var/tmp: dom0 has its own /tmp, and the run's directory must be the host's
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-xen-convert-", dir="/var/tmp") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prepare(work, args)
        command = f"{sys.executable} {DOM0_HALF} > /xen-results/dom0.log 2>&1"
        run = run_in_dom0(cache, work, command, timeout=args.timeout, cpu=LIBVIRT_DOM0_CPU)
        print(f"nested Xen 4.17 under QEMU/TCG: {run.timing()}")
        print(f"after: {load()}")
        result = work / "convert.json"
        if not result.exists():
            log = (work / "dom0.log").read_text(errors="replace") if (work / "dom0.log").exists() else ""
            print(f"the nested run measured nothing (rc {run.rc}):\n{log}\n{run.console[-2000:]}")
            return 1
        report = json.loads(result.read_text())
        if "libvirt_error" in report:
            print(f"libvirt 9.0's Xen driver cannot run in this dom0, so no comparison:\n{report['libvirt_error']}")
            return 1
        print_report(report)
        if run.rc != 0:
            log = (work / "dom0.log").read_text(errors="replace") if (work / "dom0.log").exists() else ""
            print(f"\nthe run ended early (rc {run.rc}; the figures above are what it measured):\n{log[-3000:]}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
