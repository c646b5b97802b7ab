"""``pyvirsh dom-fd-associate``: hand the domain descriptors under a name, as virsh 9.0's cmdDomFdAssociate.

The descriptors are pyvirsh's own (the shell opened them: ``3<image``);
virDomainFDAssociate sends them to the driver, which keeps duplicates for the
disks whose source says ``fdgroup='NAME'`` until this connection closes. So
the association lasts as long as the virsh session that made it (an
interactive session, or a script of several commands).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_RESTORE, _WRITABLE = 1, 2  # VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_*


def _pass_fds(raw: str) -> list[int]:
    """virshFetchPassFdsList: comma-separated C ints."""
    fds = []
    for item in raw.split(","):
        digits = item.lstrip(" \t\n\v\f\r")
        body = digits[1:] if digits[:1] in ("+", "-") else digits
        if not body.isdigit() or not body.isascii() or not -(2**31) <= int(digits) < 2**31:
            raise CommandError(f"Unable to parse FD number '{item}'")
        fds.append(int(digits))
    return fds


@command(
    "dom-fd-associate", "associate a FD with a domain",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("name", "name of the FD group", required=True, positional=True),
    Opt("pass-fds", "file descriptors N,M,... to associate", required=True, positional=True),
    Opt("seclabel-writable", "use seclabels allowing writes", flag=True),
    Opt("seclabel-restore", "try to restore security label after use if possible", flag=True),
    description="associate a FD with a domain",
)  # fmt: skip
def cmd_dom_fd_associate(s: Session, o: dict[str, Any]) -> None:
    flags = (_WRITABLE if o.get("seclabel-writable") else 0) | (_RESTORE if o.get("seclabel-restore") else 0)
    dom = get_domain(s, o["domain"])
    fds = _pass_fds(o["pass-fds"])
    dom.fd_associate(o["name"], fds, flags)
