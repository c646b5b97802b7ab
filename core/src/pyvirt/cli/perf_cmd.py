"""``pyvirsh perf``: show, enable or disable a domain's perf events, as virsh's cmdPerf.

``--enable``/``--disable`` take comma-separated event names (empty items
skipped); after a change the events changed are printed with their new
state, as virsh does (both listings are "extra" output: ``--quiet`` hides them).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import IMPACT_OPTS, impact_flags
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.typed_params import TypedParam

__all__: list[str] = []


def _print(s: Session, params: list[TypedParam]) -> None:
    """virshPrintPerfStatus."""
    from pyvirt.plugin.typed_params import TypedParamType

    for p in params:
        on = p.type == TypedParamType.BOOLEAN and bool(p.value)
        s.extra(f"{p.field:<15}: {'enabled' if on else 'disabled'}")


@command(
    "perf", "Get or set perf event",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("enable", "perf events which will be enabled"),
    Opt("disable", "perf events which will be disabled"),
    *IMPACT_OPTS,
    description="Get or set the current perf events for a guest domain.\n"
                "    To get the perf events list use following command: \n\n"
                "    virsh # perf <domain>",
)  # fmt: skip
def cmd_perf(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

    flags = impact_flags(o)
    for name in ("enable", "disable"):  # vshCommandOptStringReq, before the domain
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    dom = get_domain(s, o["domain"])
    params = [
        TypedParam(event, TypedParamType.BOOLEAN, state)
        for name, state in (("enable", True), ("disable", False))
        if o[name] is not None
        for event in o[name].split(",")
        if event
    ]
    if not params:
        try:
            current = dom.perf_events(flags)
        except Error as exc:
            raise CommandError("Unable to get perf events", exc.message) from None
        _print(s, current)
        return
    try:
        dom.set_perf_events(params, flags)
    except Error as exc:
        raise CommandError("Unable to enable/disable perf events", exc.message) from None
    _print(s, params)
