"""``pyvirsh host-validate [GROUP]``: PASS/WARN/FAIL per host check, with fixes."""

from __future__ import annotations

import sys

from pyvirt.cli.framework import CommandError, Opt, Session, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# by status value: the checks (pyvirt.util.host_validate, with dataclasses and enum) load when they run
_COLOURS = {"PASS": "\033[32m", "WARN": "\033[33m", "FAIL": "\033[31m"}


@command(
    "host-validate", "validate that the host can run guests",
    Opt("group", "check only this group (one per installed plugin, e.g. qemu, lxc; security, audit); default all",
        positional=True),
    Opt("json", "print results as JSON", flag=True),
    Opt("failures", "print only warnings and failures", flag=True),
    needs_connection=False,
    description="Check the host for what pyvirt's drivers need (like virt-host-validate), with a fix for every "
    "warning and failure",
)  # fmt: skip
def cmd_host_validate(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.util.host_validate import Status, check_groups, run_checks

    group = o["group"]
    known = check_groups()
    if group is not None and group not in known:
        raise CommandError(f"invalid argument: unknown check group '{group}' (known: {', '.join(known)})")
    results = list(run_checks([group] if group else None))
    if o["json"]:
        rows = [{"group": r.group, "check": r.description, "status": r.status.value, "detail": r.detail,
                 "fix": r.fix} for r in results]  # fmt: skip
        import json

        s.out(json.dumps(rows, indent=2))
    else:
        colour = s.stdout is sys.stdout and sys.stdout.isatty()
        width = max((len(r.group) + len(r.description) for r in results), default=40) + 12
        for r in results:
            if (o["failures"] or s.quiet) and r.status is Status.PASS:
                continue
            label = f"{r.group:>8}: Checking {r.description}"
            status = f"{_COLOURS[r.status.value]}{r.status.value}\033[0m" if colour else r.status.value
            s.out(f"{label:<{width}}: {status}")
            if r.detail:
                s.out(f"{'':>10}why: {r.detail}")
            if r.fix:
                s.out(f"{'':>10}fix: {r.fix}")
    if any(r.status is Status.FAIL for r in results):
        raise CommandError("host validation found failures")
