"""``event`` and ``net-event``: wait for domain or network events and print them as virsh does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain, get_network
from pyvirt.events import LifecycleEvent, NetworkLifecycleEvent, detail_text, event_text, network_event_text

EVENT_NAMES = ("lifecycle",)


@command(
    "event", "Domain Events",
    Opt("domain", "filter by domain name, id or uuid", positional=True),
    Opt("event", "which event type to wait for"), Opt("all", "wait for all events instead of just one type", flag=True),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"), Opt("list", "list valid event types", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
)  # fmt: skip
def cmd_event(s: Session, o: dict[str, Any]) -> None:
    if o["list"]:
        for name in EVENT_NAMES:
            s.out(name)
        return
    if not o["all"] and o["event"] is None:
        raise CommandError("one of --list, --all, or --event <type> is required")
    if o["event"] is not None and o["event"] not in EVENT_NAMES:
        raise CommandError(f"unknown event type {o['event']}")
    dom = get_domain(s, o["domain"]) if o["domain"] else None

    def line(ev: LifecycleEvent) -> str:
        return f"event 'lifecycle' for domain '{ev.domain.name}': {event_text(ev.event)} {detail_text(ev.event, ev.detail)}"

    register = s.conn.register_domain_event
    _wait(s, o, lambda cb: register(cb, dom), s.conn.deregister_domain_event, line)


@command(
    "net-event", "Network Events",
    Opt("network", "filter by network name or uuid"), Opt("event", "which event type to wait for"),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"), Opt("list", "list valid event types", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
    description="List event types, or wait for network events to occur",
)  # fmt: skip
def cmd_net_event(s: Session, o: dict[str, Any]) -> None:
    if o["list"]:
        for name in EVENT_NAMES:
            s.out(name)
        return
    if o["event"] is None:
        raise CommandError("either --list or --event <type> is required")
    if o["event"] not in EVENT_NAMES:
        raise CommandError(f"unknown event type {o['event']}")
    net = get_network(s, o["network"]) if o["network"] else None

    def line(ev: NetworkLifecycleEvent) -> str:
        return f"event 'lifecycle' for network {ev.network.name}: {network_event_text(ev.event)}"

    register = s.conn.register_network_event
    _wait(s, o, lambda cb: register(cb, net), s.conn.deregister_network_event, line)


def _wait(s: Session, o: dict[str, Any], register: Callable[[Callable[[Any], None]], int],
          deregister: Callable[[int], None], line: Callable[[Any], str]) -> None:  # fmt: skip
    """Print events as they come (one, or all with --loop) until --timeout; then the count, as virsh does."""
    count = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_event(ev: Any) -> None:
        nonlocal count
        with lock:
            stamp = ""
            if o["timestamp"]:
                now = time.time()
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000: "
            s.out(stamp + line(ev))
            s.stdout.flush()
            count += 1
            if not o["loop"]:
                done.set()

    cid = register(on_event)
    timed_out = False
    try:
        if not done.wait(o["timeout"] if o["timeout"] is not None else None):
            s.out("event loop timed out")
            timed_out = True
    except KeyboardInterrupt:
        pass
    finally:
        deregister(cid)
    s.out(f"events received: {count}")
    if timed_out:
        raise CommandError()  # virsh's command fails (exit status 1) when the wait times out, without a message
