"""``pyvirsh numatune``: show or change a domain's NUMA memory policy, as virsh's cmdNumatune.

``--mode`` takes a mode's name or its number (virsh passes numbers it has no
name for, for newer servers); printing names the mode, ``(null)`` for a
number virsh has no name for, as its printf shows.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import IMPACT_OPTS, fetch_params, impact_flags
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

MODES = ("strict", "preferred", "interleave", "restrictive")  # virDomainNumatuneMemMode


def _mode(text: str) -> int:
    """virDomainNumatuneMemModeTypeFromString, else virStrToLong_i in base 0 (``0x2``, ``010``)."""
    if text in MODES:
        return MODES.index(text)
    import re

    match = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if match is not None:
        digits = match[2]
        base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") and len(digits) > 1 else 10
        value = int(digits, base) * (-1 if match[1] == "-" else 1)
        if -(2**31) <= value < 2**31:
            return value
    raise CommandError(f"Invalid mode: {text}")


@command(
    "numatune", "Get or set numa parameters",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("mode", "NUMA mode, one of strict, preferred and interleave \nor a number from the virDomainNumatuneMemMode "
        "enum"),
    Opt("nodeset", "NUMA node selections to set"),
    *IMPACT_OPTS,
    description="Get or set the current numa parameters for a guest domain.\n"
                "    To get the numa parameters use following command: \n\n"
                "    virsh # numatune <domain>",
)  # fmt: skip
def cmd_numatune(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType, format_typed_value

    flags = impact_flags(o)
    dom = get_domain(s, o["domain"])
    params: list[TypedParam] = []
    for name in ("nodeset", "mode"):  # virsh's order
        if o[name] == "":  # vshCommandOptStringReq refuses an empty value
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    if o["nodeset"] is not None:
        params.append(TypedParam("numa_nodeset", TypedParamType.STRING, o["nodeset"]))
    if o["mode"] is not None:
        params.append(TypedParam("numa_mode", TypedParamType.INT, _mode(o["mode"])))
    if params:
        try:
            dom.set_numa_parameters(params, flags)
        except Error as exc:
            raise CommandError("Unable to change numa parameters", exc.message) from None
        return
    for p in fetch_params("numa", flags, dom.numa_parameters, library_checks=False):
        if p.type == TypedParamType.INT and p.field == "numa_mode":
            value = MODES[int(p.value)] if 0 <= int(p.value) < len(MODES) else "(null)"
        else:
            value = format_typed_value(p)
        s.out(f"{p.field:<15}: {value}")
