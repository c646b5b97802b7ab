"""``pyvirsh blkdeviotune``: show or change a disk's I/O throttling, as virsh's cmdBlkdeviotune.

Byte rates are scaled integers (``1M``, bytes by default), the other values
plain unsigned numbers; each option also answers to its old underscore name
(``--total_bytes_sec``). The values go in virsh's order: the six byte rates,
then the counts and durations, then the group.
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

# (option, help, scaled): in virsh's option order; the field is the option with "_" for "-"
_OPTS = (
    ("total-bytes-sec", "total throughput limit, as scaled integer (default bytes)", True),
    ("read-bytes-sec", "read throughput limit, as scaled integer (default bytes)", True),
    ("write-bytes-sec", "write throughput limit, as scaled integer (default bytes)", True),
    ("total-iops-sec", "total I/O operations limit per second", False),
    ("read-iops-sec", "read I/O operations limit per second", False),
    ("write-iops-sec", "write I/O operations limit per second", False),
    ("total-bytes-sec-max", "total max, as scaled integer (default bytes)", True),
    ("read-bytes-sec-max", "read max, as scaled integer (default bytes)", True),
    ("write-bytes-sec-max", "write max, as scaled integer (default bytes)", True),
    ("total-iops-sec-max", "total I/O operations max", False),
    ("read-iops-sec-max", "read I/O operations max", False),
    ("write-iops-sec-max", "write I/O operations max", False),
    ("size-iops-sec", "I/O size in bytes", False),
    ("group-name", "group name to share I/O quota between multiple drives", False),
    ("total-bytes-sec-max-length", "duration in seconds to allow total max bytes", False),
    ("read-bytes-sec-max-length", "duration in seconds to allow read max bytes", False),
    ("write-bytes-sec-max-length", "duration in seconds to allow write max bytes", False),
    ("total-iops-sec-max-length", "duration in seconds to allow total I/O operations max", False),
    ("read-iops-sec-max-length", "duration in seconds to allow read I/O operations max", False),
    ("write-iops-sec-max-length", "duration in seconds to allow write I/O operations max", False),
)
_ULLONG_MAX = 2**64 - 1


def _number(name: str, text: str, scaled: bool) -> int:
    """vshCommandOptScaledInt (scale 1) or vshCommandOptULongLong, then virsh's "Unable to parse" line."""
    import re

    from pyvirt.conf.units import unit_factor

    tail = "Unable to parse integer parameter"
    if not scaled:
        match = re.fullmatch(r"[ \t\n\v\f\r]*\+?([0-9]+)", text)
        if match is None or int(match[1]) > _ULLONG_MAX:
            raise CommandError(f"Numeric value '{text}' for <{name}> option is malformed or out of range", tail)
        return int(match[1])
    first = f"Scaled numeric value '{text}' for <{name}> option is malformed or out of range"
    match = re.match(r"[ \t\n\v\f\r]*\+?([0-9]+)", text)
    if match is None or int(match[1]) > _ULLONG_MAX:
        raise CommandError(first, tail)
    value, suffix = int(match[1]), text[match.end() :]
    try:
        if suffix != suffix.strip():
            raise ValueError(suffix)
        scale = unit_factor(suffix) if suffix else 1
    except ValueError:  # virScaleInteger's own error is the last one virsh prints
        raise CommandError(first, tail, f"invalid argument: unknown suffix '{suffix}'") from None
    if value and value > _ULLONG_MAX // scale:
        raise CommandError(first, tail, f"numerical overflow: value too large: {value}{suffix}")
    return value * scale


def _params(o: dict[str, Any]) -> list[TypedParam]:
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

    scaled = [(n, s) for n, _h, s in _OPTS if s]
    plain = [(n, s) for n, _h, s in _OPTS if not s and n != "group-name"]
    params = [
        TypedParam(name.replace("-", "_"), TypedParamType.ULLONG, _number(name, o[name], is_scaled))
        for name, is_scaled in scaled + plain
        if o[name] is not None
    ]
    if o["group-name"] is not None:
        if o["group-name"] == "":
            raise CommandError("Failed to get option 'group-name': Option argument is empty",
                               "Unable to parse group-name parameter")  # fmt: skip
        params.append(TypedParam("group_name", TypedParamType.STRING, o["group-name"]))
    return params


@command(
    "blkdeviotune", "Set or query a block device I/O tuning parameters.",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("device", "block device", required=True, positional=True),
    *(Opt(name, help, kind="string" if name == "group-name" else "intstring", aliases=(name.replace("-", "_"),))
      for name, help, _scaled in _OPTS),
    *IMPACT_OPTS,
    description="Set or query disk I/O parameters such as block throttling.",
)  # fmt: skip
def cmd_blkdeviotune(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import format_typed_value

    flags = impact_flags(o)
    dom = get_domain(s, o["domain"])
    if o["device"] == "":
        raise CommandError("Failed to get option 'device': Option argument is empty")
    params = _params(o)
    if params:
        try:
            dom.set_block_io_tune(o["device"], params, flags)
        except Error as exc:
            raise CommandError("Unable to change block I/O throttle", exc.message) from None
        return
    got = fetch_params("block I/O throttle", flags, lambda f: dom.block_io_tune(o["device"], f))
    for p in got:
        s.out(f"{p.field:<15}: {format_typed_value(p)}")
