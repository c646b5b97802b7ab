"""domfsinfo, domfsfreeze, domfsthaw, domfstrim: virsh 9.0's cmdDomFS* line for line.

Each failure is told as virsh tells it: its own line ("Unable to freeze
filesystems") before libvirt's message; the counts are printed as extra
lines, which ``-q`` drops.
"""

from __future__ import annotations

from pyvirt.cli.domain_stats_cmds import DOMAIN
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.cli.framework import Handler
    from pyvirt.domain import Domain

__all__: list[str] = []

_ULLONG_MAX = 2**64 - 1


@command(
    "domfsinfo", "Get information of domain's mounted filesystems.",
    DOMAIN,
    description="Get information of domain's mounted filesystems.",
)  # fmt: skip
def cmd_domfsinfo(s: Session, o: dict[str, Any]) -> None:
    """cmdDomFSInfo: a table of mount point, file system name, type and the guest disks under it."""
    from pyvirt.cli.table import print_table

    dom = get_domain(s, o["domain"])
    try:
        infos = dom.fs_info()
    except Error as exc:
        raise CommandError("Unable to get filesystem information", exc.message) from None
    if not infos:
        s.extra_raw("No filesystems are mounted in the domain")
        return
    rows = [[i.mountpoint, i.name, i.fstype, ",".join(i.dev_aliases)] for i in infos]
    print_table(s, ["Mountpoint", "Name", "Type", "Target"], rows)


# cmdDomFSFreeze and cmdDomFSThaw differ only in words and call: command, summary, the option's help,
# the call, the verb of virsh's failure line and the word of its count line
_FREEZE_THAW: tuple[tuple[str, str, str, Callable[[Domain, list[str]], int], str, str], ...] = (
    ("domfsfreeze", "Freeze domain's mounted filesystems.", "mountpoint path to be frozen",
     lambda d, m: d.fs_freeze(m), "freeze", "Froze"),
    ("domfsthaw", "Thaw domain's mounted filesystems.", "mountpoint path to be thawed",
     lambda d, m: d.fs_thaw(m), "thaw", "Thawed"),
)  # fmt: skip


def _freeze_thaw_handler(call: Callable[[Domain, list[str]], int], verb: str, done: str) -> Handler:
    """cmdDomFSFreeze/Thaw: every mount point given (none: all), and how many the guest agent reported."""

    def run(s: Session, o: dict[str, Any]) -> None:
        dom = get_domain(s, o["domain"])
        try:
            count = call(dom, o["mountpoint"] or [])
        except Error as exc:
            raise CommandError(f"Unable to {verb} filesystems", exc.message) from None
        s.extra(f"{done} {count} filesystem(s)")

    return run


for _name, _summary, _help, _call, _verb, _done in _FREEZE_THAW:
    command(_name, _summary, DOMAIN, Opt("mountpoint", _help, positional=True, kind="list"), description=_summary)(
        _freeze_thaw_handler(_call, _verb, _done)
    )


@command(
    "domfstrim", "Invoke fstrim on domain's mounted filesystems.",
    DOMAIN,
    Opt("minimum", "Just a hint to ignore contiguous free ranges smaller than this (Bytes)", positional=True,
        kind="intstring"),
    Opt("mountpoint", "which mount point to trim", positional=True, kind="optstring"),
    description="Invoke fstrim on domain's mounted filesystems.",
)  # fmt: skip
def cmd_domfstrim(s: Session, o: dict[str, Any]) -> None:
    """cmdDomFSTrim: --minimum as virsh's vshCommandOptULongLong reads it, then the one mount point (or all)."""
    dom = get_domain(s, o["domain"])
    raw = o["minimum"]
    minimum = 0
    if raw is not None:
        text = raw.lstrip(" \t\n\v\f\r")
        digits = text[1:] if text[:1] == "+" else text  # virStrToLong_ullp: no minus sign
        if not (digits.isascii() and digits.isdigit()) or int(digits) > _ULLONG_MAX:
            raise CommandError(f"Numeric value '{raw}' for <minimum> option is malformed or out of range")
        minimum = int(digits)
    mountpoint = o["mountpoint"]
    if mountpoint == "":
        raise CommandError("Failed to get option 'mountpoint': Option argument is empty")
    try:
        dom.fs_trim(mountpoint, minimum)
    except Error as exc:
        raise CommandError("Unable to invoke fstrim", exc.message) from None
