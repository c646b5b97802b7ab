"""``pyvirsh domdirtyrate-calc``: start measuring a domain's memory dirty rate (virsh's cmdDomDirtyRateCalc).

The measurement runs in the hypervisor for ``--seconds`` (1 by default);
its result is read later with ``domstats --dirtyrate``. ``--mode`` picks
how the hypervisor counts dirtied pages.
"""

from __future__ import annotations

import re

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# virshDomainDirtyRateCalcMode -> VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING / _DIRTY_BITMAP / _DIRTY_RING
_MODES = {"page-sampling": 0, "dirty-bitmap": 1, "dirty-ring": 2}


def _int(name: str, raw: str) -> int:
    """virStrToLong_i in base 10 over the whole text (vshCommandOptInt)."""
    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?\d+)", raw)
    if match is None or not -(2**31) <= int(match[1]) < 2**31:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return int(match[1])


@command(
    "domdirtyrate-calc", "Calculate a vm's memory dirty rate",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("seconds", "calculate memory dirty rate within specified seconds, the supported value range from 1 to 60, "
                   "default to 1.", kind="intstring"),
    Opt("mode", "dirty page rate calculation mode, either of these 3 options 'page-sampling, dirty-bitmap, "
                "dirty-ring' can be specified."),
    description="Calculate memory dirty rate of a domain in order to decide whether it's proper to be migrated out "
                "or not.\nThe calculated dirty rate information is available by calling 'domstats --dirtyrate'.",
)  # fmt: skip
def cmd_domdirtyrate_calc(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    seconds = _int("seconds", o["seconds"]) if o.get("seconds") is not None else 1
    flags = 0
    mode = o.get("mode")
    if mode is not None:
        if mode == "":  # vshCommandOptStringReq
            raise CommandError("Failed to get option 'mode': Option argument is empty")
        if mode not in _MODES:
            raise CommandError(f"Unknown calculation mode '{mode}'")
        flags = _MODES[mode]
    dom.start_dirty_rate_calc(seconds, flags)
    s.extra_raw("Start to calculate domain's memory dirty rate successfully.\n")
