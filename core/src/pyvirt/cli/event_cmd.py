"""``event``, ``net-event`` and ``pool-event``: wait for domain, network or pool events and print them as virsh does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pyvirt.cli.event_nosupport_cmds import check_timeout
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain, get_network, get_pool
from pyvirt.errors import Error
from pyvirt.events import (
    DOMAIN_EVENT_IDS,
    NetworkLifecycleEvent,
    PoolLifecycleEvent,
    PoolRefreshEvent,
    detail_text,
    event_text,
    network_event_text,
    pool_event_text,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT_NAMES = ("lifecycle",)
# virsh's names of libvirt's domain events, in event id order (virshDomainEventCallbacks)
DOMAIN_EVENT_NAMES = DOMAIN_EVENT_IDS
POOL_EVENT_NAMES = ("lifecycle", "refresh")
# virsh's words for the numbers each callback gets (the VIR_ENUM_IMPLs of virsh-domain-event.c); a number
# outside a table prints as "unknown", or as "unsupported value" where virsh uses UNKNOWNSTR
_AGENT_STATE = ("unknown", "connected", "disconnected")
_AGENT_REASON = ("unknown", "domain started", "channel event")
_BLOCK_JOB_TYPE = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit", "Backup")
_BLOCK_JOB_STATUS = ("completed", "failed", "canceled", "ready")
_WATCHDOG = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
_IO_ERROR = ("none", "pause", "report")
_GRAPHICS_PHASE = ("connect", "initialize", "disconnect")
_GRAPHICS_FAMILY = ("IPv4", "IPv6", "unix")
_DISK_CHANGE = ("changed", "dropped")
_TRAY_CHANGE = ("opened", "closed")
_METADATA = ("description", "title", "element")
_MEMORY_FAILURE_RECIPIENT = ("hypervisor", "guest")
_MEMORY_FAILURE_ACTION = ("ignore", "inject", "fatal", "reset")
_UNSUPPORTED = "unsupported value"


def _word(words: tuple[str, ...], n: int, unknown: str = "unknown") -> str:
    return words[n] if 0 <= n < len(words) else unknown


def _nullstr(text: str | None) -> str:
    return "<null>" if text is None else text  # libvirt's NULLSTR


def _params(params: Any) -> str:
    return "".join(f"\n\t{p.field}: {_param_text(p.value)}" for p in params)


def _graphics(ev: Any) -> str:
    loc, rem = ev.local, ev.remote
    ids = "".join(f"\n\t{kind}={name}" for kind, name in ev.subject)
    return (
        f"{_word(_GRAPHICS_PHASE, ev.phase)} local[{_word(_GRAPHICS_FAMILY, loc.family)} {loc.node} {loc.service}] "
        f"remote[{_word(_GRAPHICS_FAMILY, rem.family)} {rem.node} {rem.service}] {ev.auth_scheme}{ids}"
    )


_ACTION_REQUIRED = 1  # VIR_DOMAIN_MEMORY_FAILURE_ACTION_REQUIRED
_RECURSIVE = 2  # VIR_DOMAIN_MEMORY_FAILURE_RECURSIVE


def _memory_failure(ev: Any) -> str:
    return (
        f"\nrecipient: {_word(_MEMORY_FAILURE_RECIPIENT, ev.recipient, _UNSUPPORTED)}"
        f"\naction: {_word(_MEMORY_FAILURE_ACTION, ev.action, _UNSUPPORTED)}"
        f"\nflags:\n\taction required: {int(bool(ev.flags & _ACTION_REQUIRED))}\n\trecursive: {int(bool(ev.flags & _RECURSIVE))}"
    )


# What follows "event 'KIND' for domain 'NAME'" in virsh's line for each kind (its virshEvent*Print);
# kinds absent here print nothing more (virshEventGenericPrint, and virshEventPMChangePrint that uses it).
_DETAILS: dict[str, Callable[[Any], str]] = {
    "lifecycle": lambda ev: f": {event_text(ev.event)} {detail_text(ev.event, ev.detail)}",
    "rtc-change": lambda ev: f": {ev.offset}",
    "watchdog": lambda ev: f": {_word(_WATCHDOG, ev.action)}",
    "io-error": lambda ev: f": {ev.src_path} ({ev.dev_alias}) {_word(_IO_ERROR, ev.action)}",
    "graphics": lambda ev: f": {_graphics(ev)}",
    "io-error-reason": lambda ev: f": {ev.src_path} ({ev.dev_alias}) {_word(_IO_ERROR, ev.action)} due to {ev.reason}",
    "block-job": lambda ev: f": {_word(_BLOCK_JOB_TYPE, ev.type)} for {ev.disk} {_word(_BLOCK_JOB_STATUS, ev.status)}",
    "disk-change": lambda ev: (
        f" disk {ev.dev_alias}: {_nullstr(ev.old_src)} -> {_nullstr(ev.new_src)}: {_word(_DISK_CHANGE, ev.reason)}"
    ),
    "tray-change": lambda ev: f" disk {ev.dev_alias}: {_word(_TRAY_CHANGE, ev.reason)}",
    "balloon-change": lambda ev: f": {ev.actual}KiB",
    "device-removed": lambda ev: f": {ev.alias}",
    "tunable": lambda ev: f":{_params(ev.params)}",
    "agent-lifecycle": lambda ev: (
        f": state: '{_word(_AGENT_STATE, ev.state, _UNSUPPORTED)}' "
        f"reason: '{_word(_AGENT_REASON, ev.reason, _UNSUPPORTED)}'"
    ),
    "device-added": lambda ev: f": {ev.alias}",
    "migration-iteration": lambda ev: f": iteration: '{ev.iteration}'",
    "job-completed": lambda ev: f":{_params(ev.params)}",
    "device-removal-failed": lambda ev: f": {ev.alias}",
    "metadata-change": lambda ev: f": type {_word(_METADATA, ev.type, _UNSUPPORTED)}, uri {_nullstr(ev.nsuri)}",
    "block-threshold": lambda ev: f": dev: {ev.dev}({_nullstr(ev.path)}) {ev.threshold} {ev.excess}",
    "memory-failure": lambda ev: f":{_memory_failure(ev)}",
    "memory-device-size-change": lambda ev: f":\nalias: {ev.alias}\nsize: {ev.size}",
}
_DETAILS["block-job-2"] = _DETAILS["block-job"]


def domain_event_line(kind: str, ev: Any) -> str:
    """One domain event as virsh prints it (without the final newline; some kinds take several lines)."""
    detail = _DETAILS.get(kind)
    return f"event '{kind}' for domain '{ev.domain.name}'" + (detail(ev) if detail is not None else "")


def _param_text(value: object) -> str:
    """virTypedParameterToString: numbers as C's %d/%llu/%g print them, booleans as 1/0, strings as they are."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@command(
    "event", "Domain Events",
    Opt("domain", "filter by domain name, id or uuid", positional=True, kind="optstring"),
    Opt("event", "which event type to wait for"), Opt("all", "wait for all events instead of just one type", flag=True),
    Opt("loop", "loop until timeout or interrupt, rather than one-shot", flag=True),
    Opt("timeout", "timeout seconds", kind="number"), Opt("list", "list valid event types", flag=True),
    Opt("timestamp", "show timestamp for each printed event", flag=True),
)  # fmt: skip
def cmd_event(s: Session, o: dict[str, Any]) -> None:
    for a, b in (("all", "event"), ("list", "all"), ("list", "event")):  # virsh's VSH_EXCLUSIVE_OPTIONS
        if o[a] and o[b] is not None and o[b] is not False:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    if o["list"]:
        for name in DOMAIN_EVENT_NAMES:
            s.out(name)
        return
    if not o["all"] and o["event"] is None:
        raise CommandError("one of --list, --all, or --event <type> is required")
    if o["event"] is not None and o["event"] not in DOMAIN_EVENT_NAMES:
        raise CommandError(f"unknown event type {o['event']}")
    check_timeout(o)
    dom = get_domain(s, o["domain"]) if o["domain"] else None
    names = DOMAIN_EVENT_NAMES if o["all"] else (o["event"],)
    conn = s.conn

    def register(cb: Callable[[Any], None]) -> list[int]:
        ids: list[int] = []
        try:
            for name in names:
                # each kind's callback knows its kind: virsh's line names it (block-job and block-job-2
                # share a record shape, the PM kinds and reboot print the kind alone)
                def on(ev: Any, name: str = name) -> None:
                    cb((name, ev))

                try:
                    if name == "lifecycle":
                        ids.append(conn.register_domain_event(on, dom))
                    else:
                        ids.append(-conn.register_event(name, on, dom.uuid if dom is not None else None))
                except Error:
                    # as virsh: with --all, only the first registration must succeed (an older server
                    # may not know the later event ids)
                    if not ids:
                        raise
        except BaseException:
            deregister(ids)
            raise
        return ids

    def deregister(ids: list[int]) -> None:
        for cid in ids:  # the generic path's ids are kept negated, to tell the two kinds apart
            conn.deregister_domain_event(cid) if cid > 0 else conn.deregister_event(-cid)

    _wait(s, o, register, deregister, lambda kind_ev: domain_event_line(*kind_ev))


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
    check_timeout(o)
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
    check_timeout(o)
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
    """Print events as they come (one, or all with --loop) until --timeout; then the count, as virsh does.

    As virsh, the command succeeds when at least one event came, however the wait ended.
    """
    count = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_event(ev: Any) -> None:
        nonlocal count
        with lock:
            if not o["loop"] and count:
                return  # one-shot: virsh prints the first event only, whatever else arrives before it stops
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
    try:
        if not done.wait(o["timeout"] if o["timeout"] is not None else None):
            s.out("event loop timed out")
    except KeyboardInterrupt:
        s.out("event loop interrupted")
    finally:
        deregister(ids)
    s.out(f"events received: {count}")
    if not count:
        raise CommandError()  # virsh's command fails (exit status 1) when no event came, without a message
