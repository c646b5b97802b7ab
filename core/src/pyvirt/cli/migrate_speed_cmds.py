"""``pyvirsh migrate-setspeed`` / ``migrate-getspeed``: a domain's migration bandwidth (MiB/s), as virsh's
cmdMigrateSetMaxSpeed / cmdMigrateGetMaxSpeed.

virsh looks the domain up first, then reads the bandwidth as C's strtoul
does (vshCommandOptULWrap): leading blanks and a sign are taken and a
negative number wraps (``-1`` is the largest unsigned long, which the
driver then refuses as too large). ``--postcopy`` addresses the post-copy
phase's limit.
"""

from __future__ import annotations

import re

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_POSTCOPY = 1  # VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY
_ULONG_MAX = 2**64 - 1


def _strtoul(name: str, raw: str) -> int:
    """virStrToLong_ul (base 10, the whole text): C's strtoul, whose negative numbers wrap around."""
    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)(\d+)", raw)
    if match is None or int(match[2]) > _ULONG_MAX:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    value = int(match[2])
    return (_ULONG_MAX + 1 - value) % (_ULONG_MAX + 1) if match[1] == "-" else value


@command(
    "migrate-setspeed", "Set the maximum migration bandwidth",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("bandwidth", "migration bandwidth limit in MiB/s", required=True, positional=True, kind="intstring"),
    Opt("postcopy", "set post-copy migration bandwidth", flag=True),
    description="Set the maximum migration bandwidth (in MiB/s) for a domain which is being migrated to another "
                "host.",
)  # fmt: skip
def cmd_migrate_setspeed(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    bandwidth = _strtoul("bandwidth", o["bandwidth"])
    dom.migrate_set_max_speed(bandwidth, _POSTCOPY if o.get("postcopy") else 0)


@command(
    "migrate-getspeed", "Get the maximum migration bandwidth",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("postcopy", "get post-copy migration bandwidth", flag=True),
    description="Get the maximum migration bandwidth (in MiB/s) for a domain.",
)  # fmt: skip
def cmd_migrate_getspeed(s: Session, o: dict[str, Any]) -> None:
    bandwidth = get_domain(s, o["domain"]).migrate_get_max_speed(_POSTCOPY if o.get("postcopy") else 0)
    s.out(str(bandwidth))
