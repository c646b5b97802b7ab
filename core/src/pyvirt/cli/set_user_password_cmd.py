"""``pyvirsh set-user-password``: set a guest user's password through the guest agent (virsh's cmdSetUserPassword).

The user and password are read before the domain is looked up; success is
reported as virsh's "extra" output (``--quiet`` hides it) with no newline of
its own.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_PASSWORD_ENCRYPTED = 1  # VIR_DOMAIN_PASSWORD_ENCRYPTED


@command(
    "set-user-password", "set the user password inside the domain",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("user", "the username", required=True, positional=True),
    Opt("password", "the new password", required=True, positional=True),
    Opt("encrypted", "the password is already encrypted", flag=True),
    description="changes the password of the specified user inside the domain",
)  # fmt: skip
def cmd_set_user_password(s: Session, o: dict[str, Any]) -> None:
    for name in ("user", "password"):  # vshCommandOptStringReq
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    dom = get_domain(s, o["domain"])
    dom.set_user_password(o["user"], o["password"], _PASSWORD_ENCRYPTED if o["encrypted"] else 0)
    s.extra_raw(f"Password set successfully for {o['user']} in {dom.name}")
