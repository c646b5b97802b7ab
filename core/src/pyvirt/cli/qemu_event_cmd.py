"""``qemu-monitor-event``: wait for a guest's QMP events (libvirt-qemu) and print them as virsh does."""

from __future__ import annotations

from pyvirt.cli.event_nosupport_cmds import check_timeout
from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.qemu_monitor_events import REGISTER_NOCASE, REGISTER_REGEX

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _details(details: str | None, pretty: bool) -> str:
    """virshEventQemuPrint's details: NULLSTR, or with --pretty the JSON re-indented as libvirt's writer does
    (its pretty text ends in a newline of its own); text that is not JSON stays as it came."""
    if details is None:
        return "<null>"
    if not pretty:
        return details
    import json

    from pyvirt.cli.qemu_cmds import yajl_format

    try:
        value = json.loads(details)
    except ValueError:
        return details
    return yajl_format(value, True) + "\n"


@command(
    "qemu-monitor-event", "QEMU Monitor Events",
    Opt("domain", "filter by domain name, id or uuid", positional=True, kind="optstring"),
    Opt("event", "filter by event name"), Opt("pretty", "pretty-print any JSON output", flag=True),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"),
    Opt("regex", "treat event as a regex rather than literal filter", flag=True),
    Opt("no-case", "treat event case-insensitively", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
    description="Listen for QEMU Monitor Events",
)  # fmt: skip
def cmd_qemu_monitor_event(s: Session, o: dict[str, Any]) -> None:
    """cmdQemuMonitorEvent: the timeout checked first, then the domain; the registration filters by name."""
    from pyvirt.cli.event_cmd import _wait  # (threading and pyvirt.events: only when the command runs)

    flags = (REGISTER_REGEX if o["regex"] else 0) | (REGISTER_NOCASE if o["no-case"] else 0)
    check_timeout(o)
    dom = get_domain(s, o["domain"]) if o["domain"] else None
    conn = s.conn

    def line(ev: Any) -> str:
        details = _details(ev.details, o["pretty"])
        if o["timestamp"]:  # (_wait puts the time in front; QEMU's own time is then left out, as virsh does)
            return f"event {ev.event} for domain '{ev.domain.name}': {details}"
        return f"event {ev.event} at {ev.seconds}.{ev.micros:06d} for domain '{ev.domain.name}': {details}"

    def register(cb: Callable[[Any], None]) -> list[int]:
        return [conn.register_qemu_monitor_event(cb, dom, o["event"], flags)]

    _wait(s, o, register, lambda ids: conn.deregister_qemu_monitor_event(ids[0]), line)
