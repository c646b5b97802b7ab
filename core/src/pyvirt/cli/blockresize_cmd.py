"""``pyvirsh blockresize``: resize a running guest's disk, as virsh's cmdBlockresize does.

virsh reads the size as a scaled number whose default unit is KiB (``10G``,
``512M``, ``1048576``) before it looks the domain up, and prefers the older
KiB interface: a size that is a whole number of KiB goes as KiB, any other
with VIR_DOMAIN_BLOCK_RESIZE_BYTES. On failure its own line ("Failed to
resize block device 'x'") comes before libvirt's error; on success its note
has no newline of its own (the per-command trailer ends it).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_RESIZE_BYTES = 1  # VIR_DOMAIN_BLOCK_RESIZE_BYTES


def _size(raw: str) -> int:
    """vshCommandOptScaledInt(..., 1024, ULLONG_MAX): digits and an optional unit; a bare number is KiB."""
    import re

    from pyvirt.conf.units import unit_factor

    first = f"Scaled numeric value '{raw}' for <size> option is malformed or out of range"
    match = re.fullmatch(r"(\d+)(.*)", raw)
    if match is None:
        raise CommandError(first)
    try:
        return int(match[1]) * (unit_factor(match[2]) if match[2] else 1024)
    except ValueError:  # virScaleInteger's own error follows virsh's line
        raise CommandError(first, f"invalid argument: unknown suffix '{match[2]}'") from None


@command(
    "blockresize", "Resize block device of domain.",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("path", "Fully-qualified path of block device", required=True, positional=True),
    Opt("size", "New size of the block device, as scaled integer (default KiB)", required=True, positional=True,
        kind="intstring"),
    description="Resize block device of domain.",
)  # fmt: skip
def cmd_blockresize(s: Session, o: dict[str, Any]) -> None:
    path = o["path"]
    size = _size(o["size"])
    flags = 0
    if size % 1024 == 0:
        size //= 1024
    else:
        flags |= _RESIZE_BYTES
    dom = get_domain(s, o["domain"])
    try:
        dom.block_resize(path, size, flags)
    except Error as exc:
        raise CommandError(f"Failed to resize block device '{path}'", exc.message) from None
    s.extra_raw(f"Block device '{path}' is resized")
