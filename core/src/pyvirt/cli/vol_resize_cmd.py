"""``pyvirsh vol-resize``: change a volume's capacity, as virsh 9.0's cmdVolResize.

virsh looks the volume up first, then reads the size: a leading minus is
allowed only with ``--shrink`` and makes the size a decrease (DELTA), so
``-1G --shrink`` and ``1G --delta --shrink`` are the same request. The size
is virshVolSize's (a bare number is bytes), and the line virsh prints names
the size as it was written, without its minus.
"""

from __future__ import annotations

import re

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import VOL, VOL_POOL, get_volume
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_ALLOCATE = 1  # VIR_STORAGE_VOL_RESIZE_ALLOCATE
_DELTA = 2  # VIR_STORAGE_VOL_RESIZE_DELTA
_SHRINK = 4  # VIR_STORAGE_VOL_RESIZE_SHRINK
_ULLONG_MAX = 2**64 - 1
_C_SPACE = " \t\n\v\f\r"


def _vol_size(text: str) -> int:
    """virshVolSize: virStrToLong_ullp (no minus sign) then virScaleInteger (unit default bytes, ULLONG_MAX)."""
    from pyvirt.conf.units import unit_factor

    match = re.match(f"[{_C_SPACE}]*\\+?([0-9]+)", text)
    if match is None or int(match[1]) > _ULLONG_MAX:
        raise CommandError(f"Malformed size {text}")
    value, suffix = int(match[1]), text[match.end() :]
    try:
        factor = unit_factor(suffix) if suffix else 1
    except ValueError:
        raise CommandError(f"Malformed size {text}", f"invalid argument: unknown suffix '{suffix}'") from None
    if value and value > _ULLONG_MAX // factor:
        raise CommandError(f"Malformed size {text}", f"numerical overflow: value too large: {value}{suffix}")
    return value * factor


@command(
    "vol-resize", "resize a vol",
    VOL,
    Opt("capacity", "new capacity for the vol, as scaled integer (default bytes)", required=True, positional=True),
    VOL_POOL,
    Opt("allocate", "allocate the new capacity, rather than leaving it sparse", flag=True),
    Opt("delta", "use capacity as a delta to current size, rather than the new size", flag=True),
    Opt("shrink", "allow the resize to shrink the volume", flag=True),
    description="Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\n"
                "See blockresize for live resizing.",
)  # fmt: skip
def cmd_vol_resize(s: Session, o: dict[str, Any]) -> None:
    delta = bool(o["delta"])
    flags = (_ALLOCATE if o["allocate"] else 0) | (_SHRINK if o["shrink"] else 0)
    vol = get_volume(s, o["vol"], o["pool"])
    text = o["capacity"]
    if text == "":
        raise CommandError("Failed to get option 'capacity': Option argument is empty")
    text = text.lstrip(_C_SPACE)  # virSkipSpaces
    if text.startswith("-"):
        # the API takes only a positive size; virsh allows a negative one as a shrinking delta
        if not o["shrink"]:
            raise CommandError("negative size requires --shrink")
        text, delta = text[1:], True
    if delta:
        flags |= _DELTA
    capacity = _vol_size(text)
    name = vol.name
    try:
        vol.resize(capacity, flags)
    except Error as exc:
        how = "by" if delta else "to"
        raise CommandError(f"Failed to change size of volume '{name}' {how} {text}", exc.message) from None
    s.extra(f"Size of volume '{name}' successfully changed {'by' if delta else 'to'} {text}")
