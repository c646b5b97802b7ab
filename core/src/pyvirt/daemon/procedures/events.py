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
from pyvirt.events import DOMAIN_EVENT_IDS
from pyvirt.remote import _remote
from pyvirt.remote._remote import REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE, REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH
from pyvirt.remote.calls import uuid_text, wire_domain
from pyvirt.remote.events import DOMAIN_WIRE, domain_event_to_wire


# libvirt's domain event ids delivered through the generic event path, with the kind pyvirt's
# drivers report them as and the message each becomes (remote_protocol.x's structs, see DOMAIN_WIRE)
def _domain_spec(kind: str) -> tuple[str, int, Callable[[int, Any], Any]]:
    return kind, getattr(_remote, DOMAIN_WIRE[kind][0]), lambda cid, ev: domain_event_to_wire(kind, cid, ev)


_DOMAIN_TYPED: dict[int, tuple[str, int, Callable[[int, Any], Any]]] = {
    DOMAIN_EVENT_IDS.index(kind): _domain_spec(kind) for kind in DOMAIN_WIRE
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
    else:  # every id below _DOMAIN_EVENT_ID_LAST is lifecycle or in _DOMAIN_TYPED
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unsupported event ID {event_id}")
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
