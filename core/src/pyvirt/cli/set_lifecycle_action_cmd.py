"""``pyvirsh set-lifecycle-action``: what a guest's power-off, reboot or crash does, as virsh's cmdSetLifecycleAction.

The type and action names are checked before the domain is looked up, in
virsh's words; a driver's refusal follows "Unable to change lifecycle action."
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import IMPACT_OPTS, impact_flags
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

TYPES = ("poweroff", "reboot", "crash")  # virshDomainLifecycle
ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart")


@command(
    "set-lifecycle-action", "change lifecycle actions",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("type", "lifecycle type to modify", required=True, positional=True),
    Opt("action", "lifecycle action to set", required=True, positional=True),
    *IMPACT_OPTS,
    description="Change lifecycle actions for the guest domain.",
)  # fmt: skip
def cmd_set_lifecycle_action(s: Session, o: dict[str, Any]) -> None:
    flags = impact_flags(o)
    for name in ("type", "action"):  # vshCommandOptStringReq
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    if o["type"] not in TYPES:
        raise CommandError(f"Invalid lifecycle type '{o['type']}'.")
    if o["action"] not in ACTIONS:
        raise CommandError(f"Invalid lifecycle action '{o['action']}'.")
    dom = get_domain(s, o["domain"])
    try:
        dom.set_lifecycle_action(TYPES.index(o["type"]), ACTIONS.index(o["action"]), flags)
    except Error as exc:
        raise CommandError("Unable to change lifecycle action.", exc.message) from None
