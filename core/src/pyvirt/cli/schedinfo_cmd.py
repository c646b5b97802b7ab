"""``pyvirsh schedinfo``: show or set a domain's scheduler parameters, as virsh's cmdSchedinfo does.

The parameters to set come from ``--set name=value`` (also positional),
then ``--cap`` and ``--weight``; each takes the type the driver reported for
that name (virTypedParamsAddFromString), so ``weight=-1`` is an unsigned
int's maximum as in virsh. Without ``--current``/``--live``/``--config``
the old API pair (virDomainGetSchedulerParameters/Set...) is used, with
them the Flags pair, exactly as virsh chooses, since drivers answer the
two differently (libvirt's test driver refuses every Flags query).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error
from pyvirt.plugin.typed_params import TypedParam, format_typed_value, typed_param_from_string

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_AFFECT_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
_AFFECT_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG


def _line(s: Session, label: str, value: str) -> None:
    s.out(f"{label:<15}: {value}")


def _updates(o: dict[str, Any], current: list[TypedParam]) -> list[TypedParam]:
    """virsh's cmdSchedInfoUpdate: ``--set`` items, then ``--cap``, then ``--weight``, typed as reported."""
    sets = o["set"] or []
    wanted: list[tuple[str, str]] = []
    for item in [sets] if isinstance(sets, str) else sets:
        field, eq, value = item.partition("=")
        if not eq:
            raise CommandError("Invalid syntax for --set, expecting name=value")
        wanted.append((field, value))
    wanted += [(name, o[name]) for name in ("cap", "weight") if o[name] is not None]
    types = {p.field: p.type for p in current}
    out = []
    for field, value in wanted:
        if field not in types:
            raise CommandError(f"invalid scheduler option: {field}")
        out.append(typed_param_from_string(field, types[field], value))
    return out


@command(
    "schedinfo", "show/set scheduler parameters",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("weight", "weight for XEN_CREDIT", kind="intstring"),  # read as the parameter's type, as virsh reads it
    Opt("cap", "cap for XEN_CREDIT", kind="intstring"),
    Opt("current", "get/set current scheduler info", flag=True),
    Opt("config", "get/set value to be used on next boot", flag=True),
    Opt("live", "get/set value from running domain", flag=True),
    Opt("set", "parameter=value", positional=True, kind="list"),
    description="Show/Set scheduler parameters",
)  # fmt: skip
def cmd_schedinfo(s: Session, o: dict[str, Any]) -> None:
    current, config, live = o["current"], o["config"], o["live"]
    for other in ("live", "config"):
        if current and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    flags = (_AFFECT_CONFIG if config else 0) | (_AFFECT_LIVE if live else 0)
    # both --live and --config cannot be queried at once: read the current state then
    query = 0 if config and live else flags
    with_flags = bool(flags or current)
    dom = get_domain(s, o["domain"])
    try:
        scheduler, nparams = dom.scheduler_type()
    except Error as exc:
        _line(s, "Scheduler", "Unknown")
        raise CommandError(exc.message) from None
    _line(s, "Scheduler", scheduler)
    if not nparams:
        return
    params = dom.scheduler_parameters(query if with_flags else None)[:nparams]
    updates = _updates(o, params)
    if updates:
        dom.set_scheduler_parameters(updates, flags if with_flags else 0)
        params = dom.scheduler_parameters(query if with_flags else None)[:nparams]
    elif live and config:
        raise CommandError("cannot query both live and config at once")
    for param in params:
        _line(s, param.field, format_typed_value(param))
