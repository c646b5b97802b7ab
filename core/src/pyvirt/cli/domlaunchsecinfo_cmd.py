"""``pyvirsh domlaunchsecinfo``: a confidential guest's launch measurement, as virsh's cmdDomLaunchSecInfo."""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []


@command(
    "domlaunchsecinfo", "Get domain launch security info",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    description="Get the launch security parameters for a guest domain",
)  # fmt: skip
def cmd_domlaunchsecinfo(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.typed_params import format_typed_value

    dom = get_domain(s, o["domain"])
    try:
        params = dom.launch_security_info()
    except Error as exc:
        raise CommandError("Unable to get launch security parameters", exc.message) from None
    for p in params:
        s.out(f"{p.field:<15}: {format_typed_value(p)}")
