"""``pyvirsh migrate-compcache``: get, and with ``--size`` first set, a domain's migration compression cache
(virsh's cmdMigrateCompCache).

The size is in bytes, read as virsh's vshCommandOptULongLong reads it
(base 10, no negative numbers); the answer is printed the way
vshPrettyCapacity scales it: "Compression cache: 64.000 MiB", without a
newline of its own (virsh's vshPrint has none; the empty line every
command ends with finishes it).
"""

from __future__ import annotations

import re

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_ULLONG_MAX = 2**64 - 1


def _ullong(name: str, raw: str) -> int:
    """virStrToLong_ullp: C's strtoull in base 10 over the whole text, a minus sign refused."""
    match = re.fullmatch(r"[ \t\n\v\f\r]*\+?(\d+)", raw)
    if match is None or int(match[1]) > _ULLONG_MAX:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return int(match[1])


def pretty_capacity(value: int) -> str:
    """vshPrettyCapacity, printed with virsh's "%.3lf %s"."""
    for unit, shift in (("B", 0), ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40)):
        if value < 1 << (shift + 10):
            return f"{value / (1 << shift):.3f} {unit}"
    return f"{value / (1 << 50):.3f} PiB"


@command(
    "migrate-compcache", "get/set compression cache size",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("size", "requested size of the cache (in bytes) used for compression", kind="intstring"),
    description="Get/set size of the cache (in bytes) used for compressing repeatedly transferred memory pages "
                "during live migration.",
)  # fmt: skip
def cmd_migrate_compcache(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    if o.get("size") is not None:
        dom.migrate_set_compression_cache(_ullong("size", o["size"]))
    size = dom.migrate_get_compression_cache()
    s.out_raw(f"Compression cache: {pretty_capacity(size)}")  # no newline: the command's trailer ends the line
