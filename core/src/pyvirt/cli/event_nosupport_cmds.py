"""``pyvirsh nodedev-event`` and ``secret-event``: virsh's checks and ``--list``, then libvirt's not-supported error.

No pyvirt driver emits node device or secret events yet (``pyvirt.events``
has no such kinds), so these commands do all virsh does before registering
(``--list``, the event name, ``--timeout``, the object named) and then fail
as virsh fails on a driver without virConnectNodeDeviceEventRegisterAny or
virConnectSecretEventRegisterAny, rather than waiting for events that can
never come.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.nosupport import not_supported
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_COMMON = (
    Opt("event", "which event type to wait for"),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"),
    Opt("list", "list valid event types", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
)


def check_timeout(o: dict[str, Any]) -> None:
    """vshCommandOptTimeoutToMs: seconds above 0 that fit in an int of milliseconds; checked before the object
    named is looked up, as virsh does.

    event_cmd's commands use it too; it lives here so that these commands need
    not import event_cmd (with threading and pyvirt.events)."""
    timeout = o["timeout"]
    if timeout is not None and (timeout <= 0 or timeout > 2147483647 // 1000):
        raise CommandError(f"Numeric value '{timeout}' for <timeout> option is malformed or out of range")


def _checks(s: Session, o: dict[str, Any], names: tuple[str, ...]) -> bool:
    """virsh's order: ``--list`` prints the names and succeeds; then the event name; then the timeout."""
    if o["list"]:
        for name in names:
            s.out(name)
        return True
    if o["event"] is None:
        raise CommandError("either --list or --event <type> is required")
    if o["event"] not in names:
        raise CommandError(f"unknown event type {o['event']}")
    check_timeout(o)
    return False


@command("nodedev-event", "Node Device Events", Opt("device", "filter by node device name"), *_COMMON,
         description="List event types, or wait for node device events to occur")  # fmt: skip
def cmd_nodedev_event(s: Session, o: dict[str, Any]) -> None:
    if _checks(s, o, ("lifecycle", "update")):
        return
    if o["device"] is not None:
        try:
            s.conn.lookup_node_device_by_name(o["device"])
        except Error as exc:
            raise CommandError(f"Could not find matching device '{o['device']}'", exc.message) from None
    s.conn  # noqa: B018 - virsh is connected before it registers
    raise CommandError(not_supported("virConnectNodeDeviceEventRegisterAny").message)


@command("secret-event", "Secret Events", Opt("secret", "filter by secret name or uuid"), *_COMMON,
         description="List event types, or wait for secret events to occur")  # fmt: skip
def cmd_secret_event(s: Session, o: dict[str, Any]) -> None:
    if _checks(s, o, ("lifecycle", "value-changed")):
        return
    s.conn  # noqa: B018 - virsh is connected before it registers
    raise CommandError(not_supported("virConnectSecretEventRegisterAny").message)
