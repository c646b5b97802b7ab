"""``pyvirsh memtune``: show or change a domain's memory limits, as virsh's cmdMemtune.

Sizes are scaled integers in KiB by default (``1G``, ``512M``); a negative
one means unlimited. Printing shows ``unlimited`` for
VIR_DOMAIN_MEMORY_PARAM_UNLIMITED and every other value as virsh does.
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

UNLIMITED = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED
_LLONG_MAX = 2**63 - 1
# option -> VIR_DOMAIN_MEMORY_* field, in the order virsh adds them
_LIMIT_OPTS = (
    ("hard-limit", "hard_limit"),
    ("soft-limit", "soft_limit"),
    ("swap-hard-limit", "swap_hard_limit"),
    ("min-guarantee", "min_guarantee"),
)


def _kib(name: str, text: str) -> int:
    """virshMemtuneGetSize: a number (any suffix scales it, KiB without one), negative for unlimited."""
    import re

    from pyvirt.conf.units import unit_factor

    first = f"Unable to parse integer parameter {name}"
    match = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)  # virStrToLong_ll: the number, the rest is the suffix
    if match is None or not -(2**63) <= int(match[1]) <= _LLONG_MAX:
        raise CommandError(first)
    value, suffix = int(match[1]), text[match.end() :]
    if value < 0:
        return UNLIMITED
    try:
        if suffix != suffix.strip():  # virScaleInteger takes the suffix as it is; unit_factor would trim it
            raise ValueError(suffix)
        scale = unit_factor(suffix) if suffix else 1024
    except ValueError:
        raise CommandError(first, f"invalid argument: unknown suffix '{suffix}'") from None
    if value and value > _LLONG_MAX // scale:  # virScaleInteger's limit, LLONG_MAX bytes
        raise CommandError(first, f"numerical overflow: value too large: {value}{suffix}")
    return (value * scale + 1023) // 1024


@command(
    "memtune", "Get or set memory parameters",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("hard-limit", "Max memory, as scaled integer (default KiB)", kind="intstring"),
    Opt("soft-limit", "Memory during contention, as scaled integer (default KiB)", kind="intstring"),
    Opt("swap-hard-limit", "Max memory plus swap, as scaled integer (default KiB)", kind="intstring"),
    Opt("min-guarantee", "Min guaranteed memory, as scaled integer (default KiB)", kind="intstring"),
    *IMPACT_OPTS,
    description="Get or set the current memory parameters for a guest domain.\n"
                "    To get the memory parameters use following command: \n\n"
                "    virsh # memtune <domain>",
)  # fmt: skip
def cmd_memtune(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType, format_typed_value

    flags = impact_flags(o)
    dom = get_domain(s, o["domain"])
    params = [
        TypedParam(field, TypedParamType.ULLONG, _kib(opt, o[opt])) for opt, field in _LIMIT_OPTS if o[opt] is not None
    ]
    if params:
        try:
            dom.set_memory_parameters(params, flags)
        except Error as exc:
            raise CommandError("Unable to change memory parameters", exc.message) from None
        return
    for p in fetch_params("memory", flags, dom.memory_parameters):
        unlimited = p.type == TypedParamType.ULLONG and p.value == UNLIMITED
        s.out(f"{p.field:<15}: {'unlimited' if unlimited else format_typed_value(p)}")
