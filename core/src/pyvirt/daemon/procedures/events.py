"""Event registration: the client's callback ids, listeners on the shared connection, the messages sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyvirt.daemon.procedures.table import (
    _DOMAIN_EVENT_ID_LAST,
    _NETWORK_EVENT_ID_LAST,
    _POOL_EVENT_ID_LAST,
    _PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE,
    _PROC_NETWORK_EVENT_LIFECYCLE,
    HANDLERS,
    _wnet,
    _wpool,
)
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.errors import ErrorCode, InternalError
from pyvirt.remote._remote import (
    REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT,
    REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE,
    REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE,
    REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH,
)
from pyvirt.remote.calls import typed_param_to_wire, uuid_text, wire_domain

# libvirt's domain event ids delivered through the generic event path, with the kind pyvirt's
# drivers report them as and the message each becomes (remote_protocol.x's structs)
_DOMAIN_TYPED: dict[int, tuple[str, int, Callable[[int, Any], Any]]] = {
    1: ("reboot", REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT, lambda cid, ev: (cid, (wire_domain(ev.domain),))),
    8: (
        "block-job",
        REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB,
        lambda cid, ev: (cid, (wire_domain(ev.domain), ev.disk, ev.type, ev.status)),
    ),
    15: (
        "device-removed",
        REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
        lambda cid, ev: (cid, (wire_domain(ev.domain), ev.alias)),
    ),
    16: (
        "block-job-2",
        REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2,
        lambda cid, ev: (cid, wire_domain(ev.domain), ev.disk, ev.type, ev.status),
    ),
    17: (
        "tunable",
        REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE,
        lambda cid, ev: (cid, wire_domain(ev.domain), [typed_param_to_wire(p) for p in ev.params]),
    ),
    18: (
        "agent-lifecycle",
        REMOTE_PROC_DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE,
        lambda cid, ev: (cid, wire_domain(ev.domain), ev.state, ev.reason),
    ),
}
_POOL_TYPED: dict[int, tuple[str, int, Callable[[int, Any], Any]]] = {
    0: (
        "pool-lifecycle",
        REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE,
        lambda cid, ev: (cid, _wpool(ev.pool), ev.event, ev.detail),
    ),
    1: ("pool-refresh", REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH, lambda cid, ev: (cid, _wpool(ev.pool))),
}


def _listen_typed(
    ctx: ClientContext, callback_id: int, spec: tuple[str, int, Callable[[int, Any], Any]], uuid: str | None
) -> int:
    """Listen on the shared connection for one kind of event and send each as its message to this client."""
    kind, proc, message = spec
    shared = ctx.shared
    assert shared is not None

    def deliver(ev: Any) -> None:
        ctx.send_event(proc, message(callback_id, ev))

    return shared.listen(kind, deliver, uuid)


# ---------------------------------------------------------------- events
def _register_domain_event(ctx: ClientContext, a: Any) -> Any:
    event_id, dom = a
    if not 0 <= event_id < _DOMAIN_EVENT_ID_LAST:
        # libvirtd reports an out-of-range id as an internal error (remote_daemon_dispatch.c), not invalid argument.
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unsupported event ID {event_id}")
    shared = ctx.shared
    assert shared is not None
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback
    uuid = uuid_text(dom[1]) if dom is not None else None
    if event_id == 0:

        def deliver(ev: Any) -> None:
            msg = (callback_id, (wire_domain(ev.domain), ev.event, ev.detail))
            ctx.send_event(_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, msg)

        key = shared.listen_domain(deliver, uuid)
    elif event_id in _DOMAIN_TYPED:
        key = _listen_typed(ctx, callback_id, _DOMAIN_TYPED[event_id], uuid)
    else:
        key = 0  # an event no pyvirt driver raises yet: registered, never delivered (as libvirt for such drivers)
    with ctx.lock:
        ctx.callbacks[callback_id] = key
    return (callback_id,)


def _register_network_event(ctx: ClientContext, a: Any) -> Any:
    event_id, net = a
    if not 0 <= event_id < _NETWORK_EVENT_ID_LAST:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unsupported network event ID {event_id}")
    shared = ctx.shared
    assert shared is not None
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback

    def deliver(ev: Any) -> None:
        ctx.send_event(_PROC_NETWORK_EVENT_LIFECYCLE, (callback_id, _wnet(ev.network), ev.event, ev.detail))

    key = shared.listen_network(deliver, uuid_text(net[1]) if net is not None else None)
    with ctx.lock:
        ctx.callbacks[callback_id] = key
    return (callback_id,)


def _register_pool_event(ctx: ClientContext, a: Any) -> Any:
    event_id, pool = a
    if not 0 <= event_id < _POOL_EVENT_ID_LAST:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unsupported storage pool event ID {event_id}")
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback
    key = _listen_typed(ctx, callback_id, _POOL_TYPED[event_id], uuid_text(pool[1]) if pool is not None else None)
    with ctx.lock:
        ctx.callbacks[callback_id] = key
    return (callback_id,)


def _deregister_event(kind: str) -> Callable[[ClientContext, Any], Any]:
    """One deregistration handler per event kind: libvirtd names the kind in its error."""

    def deregister(ctx: ClientContext, a: Any) -> Any:
        with ctx.lock:
            key = ctx.callbacks.pop(a[0], None)
        if key is None:
            # libvirtd's wording and code (remote_daemon_dispatch.c): an internal error naming the kind.
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"{kind} event callback {a[0]} not registered")
        if key and ctx.shared is not None:
            ctx.shared.unlisten(key)

    return deregister


HANDLERS["REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY"] = _register_domain_event
HANDLERS["REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY"] = _register_network_event
HANDLERS["REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY"] = _register_pool_event
for _name, _kind in (("DOMAIN_EVENT_CALLBACK", "domain"), ("NETWORK_EVENT", "network"),
                     ("STORAGE_POOL_EVENT", "storage pool")):  # fmt: skip
    HANDLERS[f"REMOTE_PROC_CONNECT_{_name}_DEREGISTER_ANY"] = _deregister_event(_kind)
