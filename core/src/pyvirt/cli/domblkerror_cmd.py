"""``pyvirsh domblkerror``: the running domain's disks in error, as virsh's cmdDomBlkError prints them.

One line per disk, ``<target>: <error>`` in virsh's words
(virshDomainIOErrorToString), or "No errors found": what tells an operator
why a guest stopped with "paused (ioerror)" and whether the disk is full.
"""

from __future__ import annotations

from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# virDomainDiskErrorCode -> virsh's words (virshDomainIOError in virsh-domain-monitor.c)
_ERRORS = ("no error", "unspecified error", "no space")


@command(
    "domblkerror",
    "Show errors on block devices",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    description="Show block device errors",
)  # fmt: skip
def cmd_domblkerror(s: Session, o: dict[str, Any]) -> None:
    errors = get_domain(s, o["domain"]).disk_errors()
    if not errors:
        s.out("No errors found")
    for disk, error in errors.items():
        s.out(f"{disk}: {_ERRORS[error] if 0 <= error < len(_ERRORS) else 'unknown error'}")
