"""What the tunable commands (blkiotune, memtune) share with virsh: --config/--live/--current and the printing.

Imported only by those commands' modules, never at pyvirsh's start-up.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.plugin.typed_params import TypedParam

__all__ = ["IMPACT_OPTS", "fetch_params", "impact_flags", "parse_c_int"]

IMPACT_OPTS = (
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)
_AFFECT_LIVE, _AFFECT_CONFIG = 1, 2  # VIR_DOMAIN_AFFECT_*


def impact_flags(o: dict[str, Any]) -> int:
    """VSH_EXCLUSIVE_OPTIONS_VAR(current, live) and (current, config), then the flags, as virsh's tunables."""
    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    return (_AFFECT_CONFIG if o["config"] else 0) | (_AFFECT_LIVE if o["live"] else 0)


def fetch_params(
    what: str, flags: int, get: Callable[[int], list[TypedParam]], *, library_checks: bool = True
) -> list[TypedParam]:
    """virsh's two calls (how many, then which) as one: their failures keep virsh's two lines.

    libvirt's library refuses LIVE with CONFIG in the first call (``library_checks``: not for NUMA, whose
    driver does it in the second); a driver's own failure (a domain not running for --live) comes in the second.
    """
    from pyvirt.plugin.typed_params import check_live_or_config

    try:
        if library_checks:
            check_live_or_config(flags)
    except Error as exc:
        raise CommandError(f"Unable to get number of {what} parameters", exc.message) from None
    try:
        return get(flags)
    except Error as exc:
        raise CommandError(f"Unable to get {what} parameters", exc.message) from None


def parse_c_int(text: str, bits: int = 32) -> int | None:
    """virStrToLong_i / _ll with no trailing text: blanks, a sign, decimal digits, within the signed type."""
    import re

    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    if match is None:
        return None
    value = int(match[1])
    return value if -(2 ** (bits - 1)) <= value < 2 ** (bits - 1) else None
