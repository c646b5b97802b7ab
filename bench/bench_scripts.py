"""The corpus of virsh scripts on test:///, Debian's virsh beside pyvirsh, interleaved round after round.

Issue 14's speed item: multi-command scripts run in at most 2.0x virsh's wall
time. The scripts are those of core/tests/cli/test_script_corpus.py (the
same commands the comparison tests check for identical output), each run
the two ways scripts feed virsh: joined by ``;`` into one argument, and as
lines on standard input. Every round runs each script once with each tool,
alternating which goes first, so load that comes and goes hits both alike.

Prints, per script and mode, the median wall time of each tool and the
ratio, then the median and the worst ratio over all of them. A script whose
reference run times out (Debian's virsh 9.0 sometimes never returns from
save/managedsave on test:///) is reported and left out of the summary.

    .venv/bin/python bench/bench_scripts.py --rounds 7
    .venv/bin/python bench/bench_scripts.py --rounds 1 --only dom-lifecycle net-lifecycle

pyvirsh runs as users install it: by default (``--install wheel``, see
bench/wheel_install.py) from wheels of the checkout installed, byte-compiled and
non-editable, into a fresh venv (``--python PATH`` picks its interpreter);
``--install editable`` runs the development venv's, byte-compiled. The output
names the install measured.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wheel_install import add_options, prepare

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "core" / "tests" / "cli" / "test_script_corpus.py"


def load_corpus() -> ModuleType:
    """The comparison tests' module, for its SCRIPTS table and the node.xml host it names."""
    if str(CORPUS.parent) not in sys.path:  # the module imports its neighbour virsh_compare, as pytest lets it
        sys.path.insert(0, str(CORPUS.parent))
    spec = importlib.util.spec_from_file_location("script_corpus", CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_once(tool: list[str], uri: str, lines: list[str], mode: str, timeout: float) -> float | None:
    """Wall seconds of one run of the script, or None when it did not finish in ``timeout``."""
    env = dict(os.environ, LC_ALL="C", COLUMNS="1000")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    # An installed pyvirt has its bytecode compiled; without it every run compiles each changed module again
    # (measured: a third of a snapshot script's time), so the warm-up runs may write the caches.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    args = [*tool, "-c", uri] + ([] if mode == "stdin" else ["; ".join(lines)])
    stdin = "\n".join(lines) + "\n" if mode == "stdin" else ""
    with tempfile.TemporaryDirectory() as work:  # files a script saves stay its own
        start = time.perf_counter()
        try:
            subprocess.run(args, input=stdin, capture_output=True, text=True, env=env, cwd=work, timeout=timeout,
                           check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--modes", nargs="+", default=["arg", "stdin"], choices=["arg", "stdin"])
    parser.add_argument("--only", nargs="*", help="script names (default: the whole corpus)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a run counts as hung")
    add_options(parser)
    args = parser.parse_args()
    install = prepare(args)
    print(install.describe(), flush=True)
    virsh = shutil.which("virsh")
    if virsh is None:
        sys.exit("needs Debian's virsh (libvirt-clients) as the reference")
    corpus = load_corpus()
    if install.kind == "editable":
        # as installed: every module's bytecode compiled (a checkout run with PYTHONDONTWRITEBYTECODE has stale caches)
        for src in [ROOT / "core" / "src", *sorted((ROOT / "plugins").glob("*/src"))]:
            compileall.compile_dir(str(src), quiet=1)
    names = args.only or sorted(corpus.SCRIPTS)
    cases = [(name, mode) for name in names for mode in args.modes]
    times: dict[tuple[str, str], dict[str, list[float]]] = {c: {"virsh": [], "pyvirsh": []} for c in cases}
    hung: set[tuple[str, str]] = set()
    # The console script users run, not ``python -m``: that puts the working directory (a fresh temporary one per
    # run here) first on sys.path, which keys pyvirt's entry-point index anew and rescans importlib.metadata every run.
    tools = {"virsh": [virsh], "pyvirsh": [install.script("pyvirsh")]}
    for name, mode in cases[:4]:  # warm the page cache and pyvirsh's bytecode before measuring
        kind, lines = corpus.SCRIPTS[name]
        uri = "test:///default" if kind == "default" else f"test://{corpus.NODE}"
        for tool in tools.values():
            run_once(tool, uri, lines, mode, args.timeout)
    for round_no in range(args.rounds):
        order = ["virsh", "pyvirsh"] if round_no % 2 == 0 else ["pyvirsh", "virsh"]
        for case in cases:
            if case in hung:
                continue
            kind, lines = corpus.SCRIPTS[case[0]]
            uri = "test:///default" if kind == "default" else f"test://{corpus.NODE}"
            for who in order:
                took = run_once(tools[who], uri, lines, case[1], args.timeout)
                if took is None:
                    hung.add(case)
                    print(f"{case[0]} ({case[1]}): {who} did not finish in {args.timeout:.0f} s, left out")
                    break
                times[case][who].append(took)
    ratios = []
    print(f"{'script':<28} {'mode':<6} {'virsh ms':>9} {'pyvirsh ms':>11} {'ratio':>6}")
    for case in cases:
        if case in hung:
            continue
        v, p = statistics.median(times[case]["virsh"]), statistics.median(times[case]["pyvirsh"])
        ratios.append((p / v, case))
        print(f"{case[0]:<28} {case[1]:<6} {v * 1e3:9.1f} {p * 1e3:11.1f} {p / v:6.2f}")
    if ratios:
        worst = max(ratios)
        print(f"\n{len(ratios)} runs of {args.rounds} round(s): median ratio {statistics.median(r for r, _ in ratios):.2f}x, "
              f"worst {worst[0]:.2f}x ({worst[1][0]}, {worst[1][1]}); target <= 2.0x")  # fmt: skip
    print(install.describe())


if __name__ == "__main__":
    main()
