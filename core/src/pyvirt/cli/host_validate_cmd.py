"""``pyvirsh host-validate [GROUP...]``: PASS/WARN/FAIL per host check, with fixes."""

from __future__ import annotations

import argparse
import json
import sys

from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.util.host_validate import CHECK_GROUPS, Status, run_checks

_COLOURS = {Status.PASS: "\033[32m", Status.WARN: "\033[33m", Status.FAIL: "\033[31m"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "groups",
        nargs="*",
        metavar="GROUP",
        help=f"check only these groups ({', '.join(CHECK_GROUPS)}); default all",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only warnings and failures")


def run(global_ns: argparse.Namespace, ns: argparse.Namespace) -> int:
    unknown = [g for g in ns.groups if g not in CHECK_GROUPS]
    if unknown:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"unknown check group '{unknown[0]}' (known: {', '.join(CHECK_GROUPS)})"
        )
    results = list(run_checks(ns.groups or None))
    if ns.json:
        json.dump(
            [
                {"group": r.group, "check": r.description, "status": r.status.value, "detail": r.detail, "fix": r.fix}
                for r in results
            ],
            sys.stdout,
            indent=2,
        )
        print()
    else:
        colour = sys.stdout.isatty()
        width = max((len(r.group) + len(r.description) for r in results), default=40) + 12
        for r in results:
            if (ns.quiet or global_ns.quiet) and r.status is Status.PASS:
                continue
            label = f"{r.group:>8}: Checking {r.description}"
            status = r.status.value
            if colour:
                status = f"{_COLOURS[r.status]}{status}\033[0m"
            print(f"{label:<{width}}: {status}")
            if r.detail:
                print(f"{'':>10}why: {r.detail}")
            if r.fix:
                print(f"{'':>10}fix: {r.fix}")
    return 1 if any(r.status is Status.FAIL for r in results) else 0
