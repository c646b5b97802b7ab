"""``pyvirsh domiftune``: show or change a NIC's bandwidth limits, as virsh's cmdDomIftune.

``--inbound``/``--outbound`` take ``average[,peak[,burst[,floor]]]`` (kB/s,
kB for bursts; empty fields are 0); the averages (or the inbound floor) are
mandatory once a peak or burst is given, and an outbound floor is refused,
all in virsh's words before the driver is asked.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import IMPACT_OPTS, fetch_params, impact_flags
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.typed_params import TypedParam

__all__: list[str] = []

_UINT_MAX = 2**32 - 1
_FIELDS = ("average", "peak", "burst", "floor")


def _rate(text: str) -> dict[str, int]:
    """virshParseRateStr: up to four comma-separated unsigned numbers (virStrToLong_ullp, nothing after)."""
    import re

    tokens = text.split(",")
    if len(tokens) > 4:
        raise CommandError(f"Rate string '{text}' has too many fields")
    rate = dict.fromkeys(_FIELDS, 0)
    for name, token in zip(_FIELDS, tokens, strict=False):
        if token == "":
            continue
        match = re.fullmatch(r"[ \t\n\v\f\r]*\+?([0-9]+)", token)
        if match is None or int(match[1]) > 2**64 - 1:
            raise CommandError(f"field '{name}' is malformed")
        rate[name] = int(match[1])
    return rate


def _params(o: dict[str, Any]) -> list[TypedParam]:
    """cmdDomIftune's checks and parameters: each average always, the other fields when not 0."""
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

    params: list[TypedParam] = []
    for direction in ("inbound", "outbound"):
        if o[direction] is None:
            continue
        rate = _rate(o[direction])
        if max(rate["average"], rate["peak"], rate["burst"]) > _UINT_MAX:
            raise CommandError(f"{direction} rate larger than maximum {_UINT_MAX}")
        if direction == "inbound" and not rate["average"] and (rate["burst"] or rate["peak"]) and not rate["floor"]:
            raise CommandError("either inbound average or floor is mandatory")
        if direction == "outbound":
            if not rate["average"] and (rate["burst"] or rate["peak"]):
                raise CommandError("outbound average is mandatory")
            if rate["floor"]:
                raise CommandError("outbound floor is unsupported yet")
        for name in _FIELDS if direction == "inbound" else _FIELDS[:3]:
            if name == "average" or rate[name]:
                # virTypedParamsAddUInt takes an unsigned int: a larger floor wraps, as in C
                params.append(TypedParam(f"{direction}.{name}", TypedParamType.UINT, rate[name] & _UINT_MAX))
    return params


@command(
    "domiftune", "get/set parameters of a virtual interface",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("interface", "interface device (MAC Address)", required=True, positional=True),
    Opt("inbound", "control domain's incoming traffics"),
    Opt("outbound", "control domain's outgoing traffics"),
    *IMPACT_OPTS,
    description="Get/set parameters of a domain's virtual interface.",
)  # fmt: skip
def cmd_domiftune(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import format_typed_value

    flags = impact_flags(o)
    dom = get_domain(s, o["domain"])
    for name in ("interface", "inbound", "outbound"):  # vshCommandOptStringReq
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    device = o["interface"]
    params = _params(o)
    if params:
        try:
            dom.set_interface_parameters(device, params, flags)
        except Error as exc:
            raise CommandError("Unable to set interface parameters", exc.message) from None
        return
    got = fetch_params("interface", flags, lambda f: dom.interface_parameters(device, f), library_checks=False)
    for p in got:
        s.out(f"{p.field:<15}: {format_typed_value(p)}")
