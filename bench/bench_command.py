"""Spawning /bin/true through Command vs subprocess.Popen, interleaved rounds.

Prints the per-spawn medians and the ratio Command/Popen (target <= 1.5).
Both sides do the same work: cleared environment, stdio on /dev/null,
other fds closed, wait for exit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from pyvirt.util.command import Command


def time_command(n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        Command(["/bin/true"]).run()
    return (time.perf_counter() - t0) / n


def time_command_caps(n: int) -> float:
    """The guest path: our own fork, uid/gid change keeping one capability."""
    t0 = time.perf_counter()
    for _ in range(n):
        Command(["/bin/true"]).set_uid(65534).set_gid(65534).set_groups([]).set_capabilities(["sys_rawio"]).run()
    return (time.perf_counter() - t0) / n


def time_popen_user(n: int) -> float:
    """Popen's closest equivalent (it cannot keep a capability across the uid change)."""
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.Popen(
            ["/bin/true"],
            env={},
            user=65534,
            group=65534,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).wait()
    return (time.perf_counter() - t0) / n


def time_popen(n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.Popen(
            ["/bin/true"], env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).wait()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--spawns", type=int, default=200)
    args = parser.parse_args()
    time_command(20)
    time_popen(20)
    cmd, pop = [], []
    for _ in range(args.rounds):
        cmd.append(time_command(args.spawns))
        pop.append(time_popen(args.spawns))
    c, p = statistics.median(cmd), statistics.median(pop)
    print(f"spawn /bin/true  Command: {c * 1e3:.3f} ms   subprocess.Popen: {p * 1e3:.3f} ms   ratio: {c / p:.2f}x")
    if os.geteuid() == 0:
        cc, pu = [], []
        for _ in range(args.rounds):
            cc.append(time_command_caps(args.spawns // 2))
            pu.append(time_popen_user(args.spawns // 2))
        c, p = statistics.median(cc), statistics.median(pu)
        print(
            f"spawn as uid 65534 keeping cap_sys_rawio  Command: {c * 1e3:.3f} ms   "
            f"Popen(user=, group=): {p * 1e3:.3f} ms   ratio: {c / p:.2f}x"
        )


if __name__ == "__main__":
    main()
