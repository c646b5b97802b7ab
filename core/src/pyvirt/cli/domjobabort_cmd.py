"""``pyvirsh domjobabort``: cancel a guest's running save or snapshot, as virsh's cmdDomjobabort does.

virsh calls the older virDomainAbortJob unless ``--postcopy`` is given, so
the error a driver without jobs gives names that API (libvirt's test driver:
"this function is not supported by the connection driver: virDomainAbortJob");
the driver's own error is printed as it is, with nothing before it.
"""

from __future__ import annotations

from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

ABORT_JOB_POSTCOPY = 1  # VIR_DOMAIN_ABORT_JOB_POSTCOPY


@command(
    "domjobabort", "abort active domain job",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("postcopy", "interrupt post-copy migration", flag=True),
    description="Aborts the currently running domain job",
)  # fmt: skip
def cmd_domjobabort(s: Session, o: dict[str, Any]) -> None:
    get_domain(s, o["domain"]).abort_job(ABORT_JOB_POSTCOPY if o["postcopy"] else 0)
