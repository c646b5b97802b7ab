"""``event``, ``net-event`` and ``pool-event``: wait for domain, network or pool events and print them as virsh does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain, get_network, get_pool
from pyvirt.events import (
    AgentLifecycleEvent,
    BlockJob2Event,
    BlockJobEvent,
    DeviceRemovedEvent,
    LifecycleEvent,
    NetworkLifecycleEvent,
    PoolLifecycleEvent,
    PoolRefreshEvent,
    RebootEvent,
    TunableEvent,
    detail_text,
    event_text,
    network_event_text,
    pool_event_text,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT_NAMES = ("lifecycle",)
# virsh's names of the domain events pyvirt delivers, in libvirt's event id order
DOMAIN_EVENT_NAMES = ("lifecycle", "reboot", "block-job", "device-removed", "block-job-2", "tunable", "agent-lifecycle")
POOL_EVENT_NAMES = ("lifecycle", "refresh")
_AGENT_STATE = ("unknown", "connected", "disconnected")
_AGENT_REASON = ("unknown", "domain started", "channel event")
# virshDomainBlockJob and virshDomainBlockJobStatus
_BLOCK_JOB_TYPE = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup")
_BLOCK_JOB_STATUS = ("completed", "failed", "canceled", "ready")


def _word(words: tuple[str, ...], n: int) -> str:
    return words[n] if 0 <= n < len(words) else "unknown"


def _domain_line(ev: Any) -> str:
    """One event as virsh prints it (virshEventLifecyclePrint and its siblings)."""
    if isinstance(ev, LifecycleEvent):
        return f"event 'lifecycle' for domain '{ev.domain.name}': {event_text(ev.event)} {detail_text(ev.event, ev.detail)}"
    if isinstance(ev, RebootEvent):
        return f"event 'reboot' for domain '{ev.domain.name}'"
    if isinstance(ev, (BlockJobEvent, BlockJob2Event)):
        kind = "block-job" if isinstance(ev, BlockJobEvent) else "block-job-2"
        return (
            f"event '{kind}' for domain '{ev.domain.name}': {_word(_BLOCK_JOB_TYPE, ev.type)} for {ev.disk} "
            f"{_word(_BLOCK_JOB_STATUS, ev.status)}"
        )
    if isinstance(ev, TunableEvent):
        values = "".join(f"\n\t{p.field}: {_param_text(p.value)}" for p in ev.params)
        return f"event 'tunable' for domain '{ev.domain.name}':{values}"
    if isinstance(ev, DeviceRemovedEvent):
        return f"event 'device-removed' for domain '{ev.domain.name}': {ev.alias}"
    assert isinstance(ev, AgentLifecycleEvent)
    return (
        f"event 'agent-lifecycle' for domain '{ev.domain.name}': state: '{_word(_AGENT_STATE, ev.state)}' "
        f"reason: '{_word(_AGENT_REASON, ev.reason)}'"
    )


def _param_text(value: object) -> str:
    """virTypedParameterToString: numbers as C's %d/%llu/%g print them, booleans as 1/0, strings as they are."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
        for name in DOMAIN_EVENT_NAMES:
            s.out(name)
        return
    if not o["all"] and o["event"] is None:
        raise CommandError("one of --list, --all, or --event <type> is required")
    if o["event"] is not None and o["event"] not in DOMAIN_EVENT_NAMES:
        raise CommandError(f"unknown event type {o['event']}")
    dom = get_domain(s, o["domain"]) if o["domain"] else None
    names = DOMAIN_EVENT_NAMES if o["all"] else (o["event"],)
    conn = s.conn

    def register(cb: Callable[[Any], None]) -> list[int]:
        ids: list[int] = []
        try:
            for name in names:
                if name == "lifecycle":
                    ids.append(conn.register_domain_event(cb, dom))
                else:
                    ids.append(-conn.register_event(name, cb, dom.uuid if dom is not None else None))
        except BaseException:
            deregister(ids)
            raise
        return ids

    def deregister(ids: list[int]) -> None:
        for cid in ids:  # the generic path's ids are kept negated, to tell the two kinds apart
            conn.deregister_domain_event(cid) if cid > 0 else conn.deregister_event(-cid)

    _wait(s, o, register, deregister, _domain_line)


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

    conn = s.conn
    _wait(
        s, o, lambda cb: [conn.register_network_event(cb, net)], lambda ids: conn.deregister_network_event(ids[0]), line
    )


@command(
    "pool-event", "Storage Pool Events",
    Opt("pool", "filter by storage pool name or uuid"), Opt("event", "which event type to wait for"),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"), Opt("list", "list valid event types", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
    description="List event types, or wait for storage pool events to occur",
)  # fmt: skip
def cmd_pool_event(s: Session, o: dict[str, Any]) -> None:
    if o["list"]:
        for name in POOL_EVENT_NAMES:
            s.out(name)
        return
    if o["event"] is None:
        raise CommandError("either --list or --event <type> is required")
    if o["event"] not in POOL_EVENT_NAMES:
        raise CommandError(f"unknown event type {o['event']}")
    uuid = get_pool(s, o["pool"]).uuid if o["pool"] else None
    kind = "pool-lifecycle" if o["event"] == "lifecycle" else "pool-refresh"

    def line(ev: PoolLifecycleEvent | PoolRefreshEvent) -> str:
        if isinstance(ev, PoolRefreshEvent):
            return f"event 'refresh' for storage pool {ev.pool.name}"
        return f"event 'lifecycle' for storage pool {ev.pool.name}: {pool_event_text(ev.event)}"

    conn = s.conn
    _wait(s, o, lambda cb: [conn.register_event(kind, cb, uuid)], lambda ids: conn.deregister_event(ids[0]), line)


def _wait(s: Session, o: dict[str, Any], register: Callable[[Callable[[Any], None]], list[int]],
          deregister: Callable[[list[int]], None], line: Callable[[Any], str]) -> None:  # fmt: skip
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

    ids = register(on_event)
    timed_out = False
    try:
        if not done.wait(o["timeout"] if o["timeout"] is not None else None):
            s.out("event loop timed out")
            timed_out = True
    except KeyboardInterrupt:
        pass
    finally:
        deregister(ids)
    s.out(f"events received: {count}")
    if timed_out:
        raise CommandError()  # virsh's command fails (exit status 1) when the wait times out, without a message
