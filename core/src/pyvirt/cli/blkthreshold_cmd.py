"""``pyvirsh domblkthreshold``: ask for a block-threshold event, as virsh's cmdDomblkthreshold does.

virsh reads the threshold as a scaled number (``1G``, ``512KiB``; bytes by
default) before it looks the domain up, and prints nothing on success:
scripts then wait for the event with ``event --event block-threshold``.
"""

from __future__ import annotations

from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []


@command(
    "domblkthreshold",
    "set the threshold for block-threshold event for a given block device or it's backing chain element",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("dev", "device to set threshold for", required=True, positional=True),
    Opt("threshold", "threshold as a scaled number (by default bytes)", required=True, positional=True,
        kind="scaled"),
    description="set threshold for block-threshold event for a block device",
)  # fmt: skip
def cmd_domblkthreshold(s: Session, o: dict[str, Any]) -> None:
    get_domain(s, o["domain"]).set_block_threshold(o["dev"], o["threshold"])
