"""``event``: wait for domain events and print them as virsh does."""

from __future__ import annotations

import threading
import time
from typing import Any

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.events import LifecycleEvent, detail_text, event_text

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
    count = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_event(ev: LifecycleEvent) -> None:
        nonlocal count
        with lock:
            stamp = ""
            if o["timestamp"]:
                now = time.time()
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000: "
            s.out(f"{stamp}event 'lifecycle' for domain '{ev.domain.name}': "
                  f"{event_text(ev.event)} {detail_text(ev.event, ev.detail)}")  # fmt: skip
            s.stdout.flush()
            count += 1
            if not o["loop"]:
                done.set()

    cid = s.conn.register_domain_event(on_event, dom)
    try:
        if not done.wait(o["timeout"] if o["timeout"] is not None else None):
            s.out("event loop timed out")
    except KeyboardInterrupt:
        pass
    finally:
        s.conn.deregister_domain_event(cid)
    s.out(f"events received: {count}")
