"""``pyvirsh nodedev-info``: a node device's name, parent and state lines, as virsh prints them.

pyvirt's node device hooks give the name and parent only; virsh, on a
libvirt driver without virNodeDeviceIsActive, IsPersistent and GetAutostart,
prints "yes", "yes" and "no autostart" (it tests the -1 those calls return
as true and does not report their error), and pyvirt's devices are all
active ones the host has, so those are the lines printed here.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.nosupport import not_supported
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []


def _valid_wwn(text: str) -> bool:
    """virValidateWWN: 16 hex digits, after an optional ``0x``."""
    import string

    digits = text[2:] if text[:2].lower() == "0x" else text
    return len(digits) == 16 and all(c in string.hexdigits for c in digits)


@command("nodedev-info", "node device information",
         Opt("device", "device name or wwn pair in 'wwnn,wwpn' format", required=True, positional=True),
         description="Returns basic information about the node device")  # fmt: skip
def cmd_nodedev_info(s: Session, o: dict[str, Any]) -> None:
    """vshFindNodeDevice (a name, or a ``wwnn,wwpn`` pair), then virsh's five lines."""
    value = o["device"]
    if "," in value:
        pair = value.split(",")
        if len(pair) != 2:
            raise CommandError(f"Malformed device value '{value}'")
        for wwn in pair:
            if not _valid_wwn(wwn):
                raise CommandError(f"internal error: Malformed wwn: {wwn}")
        raise CommandError(
            f"Could not find matching device '{value}'", not_supported("virNodeDeviceLookupSCSIHostByWWN").message
        )
    try:
        dev = s.conn.lookup_node_device_by_name(value)
    except Error as exc:
        raise CommandError(f"Could not find matching device '{value}'", exc.message) from None
    s.out(f"{'Name:':<15} {dev.name}")
    s.out(f"{'Parent:':<15} {dev.parent() or ''}")
    s.out(f"{'Active:':<15} yes")
    s.out(f"{'Persistent:':<15} yes")
    s.out(f"{'Autostart:':<15} no autostart")
