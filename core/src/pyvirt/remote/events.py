"""Events over a remote connection: the server asked for them only while a local callback wants them.

Kept apart from :mod:`pyvirt.remote.driver` so that a connection that never
registers a callback (every short ``pyvirsh`` command but ``event``) imports
neither this module nor :mod:`pyvirt.events` with its enums and records: the
connection makes its sink on the first registration
(:meth:`pyvirt.remote.driver.RemoteConnection.event_sink`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyvirt.errors import Error
from pyvirt.events import (
    AgentLifecycleEvent,
    BlockJob2Event,
    BlockJobEvent,
    DeviceRemovedEvent,
    EventSink,
    LifecycleEvent,
    NetworkLifecycleEvent,
    PoolLifecycleEvent,
    PoolRefreshEvent,
    RebootEvent,
    TunableEvent,
    TypedEvent,
)
from pyvirt.plugin.records import PoolRef
from pyvirt.remote.calls import domain_ref, network_ref, typed_param_from_wire, uuid_text

if TYPE_CHECKING:
    from pyvirt.remote.driver import RemoteConnection

__all__ = ["EVENT_ID_LIFECYCLE", "TYPED", "TYPED_BY_PROC", "RemoteEventSink", "deliver"]

EVENT_ID_LIFECYCLE = 0  # VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_NETWORK_EVENT_ID_LIFECYCLE
_DOMAIN_REGISTER = ("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY")
_POOL_REGISTER = ("CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY", "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY")
# The generic path's kinds: how the server is asked for them (libvirt's event ids), the message that
# carries each (remote_protocol.x) and the record it becomes.
TYPED: dict[str, tuple[str, str, int, Callable[[Any], TypedEvent]]] = {
    "reboot": (*_DOMAIN_REGISTER, 1, lambda v: RebootEvent(domain_ref(v[1][0]))),
    "block-job": (*_DOMAIN_REGISTER, 8, lambda v: BlockJobEvent(domain_ref(v[1][0]), v[1][1], v[1][2], v[1][3])),
    "device-removed": (*_DOMAIN_REGISTER, 15, lambda v: DeviceRemovedEvent(domain_ref(v[1][0]), v[1][1])),
    "block-job-2": (*_DOMAIN_REGISTER, 16, lambda v: BlockJob2Event(domain_ref(v[1]), v[2], v[3], v[4])),
    "tunable": (
        *_DOMAIN_REGISTER,
        17,
        lambda v: TunableEvent(domain_ref(v[1]), [typed_param_from_wire(p) for p in v[2]]),
    ),
    "agent-lifecycle": (*_DOMAIN_REGISTER, 18, lambda v: AgentLifecycleEvent(domain_ref(v[1]), v[2], v[3])),
    "pool-lifecycle": (
        *_POOL_REGISTER,
        0,
        lambda v: PoolLifecycleEvent(PoolRef(v[1][0], uuid_text(v[1][1])), v[2], v[3]),
    ),
    "pool-refresh": (*_POOL_REGISTER, 1, lambda v: PoolRefreshEvent(PoolRef(v[1][0], uuid_text(v[1][1])))),
}
TYPED_BY_PROC = {
    "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT": "reboot",
    "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB": "block-job",
    "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED": "device-removed",
    "REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2": "block-job-2",
    "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE": "tunable",
    "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE": "agent-lifecycle",
    "REMOTE_PROC_STORAGE_POOL_EVENT_LIFECYCLE": "pool-lifecycle",
    "REMOTE_PROC_STORAGE_POOL_EVENT_REFRESH": "pool-refresh",
}


def deliver(
    sink: EventSink, proc_name: str, value: Any, callbacks: tuple[int | None, int | None, dict[str, int]]
) -> None:
    """One decoded event message to ``sink``, when it answers the callback this connection registered.

    ``callbacks``: the server's ids of this connection's domain lifecycle,
    network lifecycle and typed callbacks (another client's registration on
    the same connection id is not ours to deliver).
    """
    domain_callback, network_callback, typed = callbacks
    kind = TYPED_BY_PROC.get(proc_name)
    if kind is not None:
        if value[0] == typed.get(kind):
            sink.emit(kind, TYPED[kind][3](value))
    elif proc_name == "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE":
        callback_id, (dom, event, detail) = value
        if callback_id == domain_callback:
            sink.lifecycle(domain_ref(dom), event, detail)
    elif proc_name == "REMOTE_PROC_NETWORK_EVENT_LIFECYCLE":
        callback_id, net, event, detail = value
        if callback_id == network_callback:
            sink.network_lifecycle(network_ref(net), event, detail)


class RemoteEventSink(EventSink):
    """An ``EventSink`` that asks the server for events while at least one local callback wants them."""

    def __init__(self) -> None:
        super().__init__()
        self._conn: RemoteConnection | None = None
        self._domain_ids: set[int] = set()
        self._network_ids: set[int] = set()
        self._typed_ids: dict[str, set[int]] = {kind: set() for kind in TYPED}

    def attach(self, conn: RemoteConnection) -> None:
        self._conn = conn

    def register(self, callback: Callable[[LifecycleEvent], None], domain_uuid: str | None = None) -> int:
        cid = super().register(callback, domain_uuid)
        if self._conn is not None and not self._domain_ids:
            try:
                self._conn.want_domain_events(True)
            except Error:
                super().deregister(cid)
                raise
        self._domain_ids.add(cid)
        return cid

    def deregister(self, callback_id: int) -> None:
        super().deregister(callback_id)
        self._domain_ids.discard(callback_id)
        if self._conn is not None and not self._domain_ids and self._conn.client.is_alive:
            self._conn.want_domain_events(False)

    def register_network(
        self, callback: Callable[[NetworkLifecycleEvent], None], network_uuid: str | None = None
    ) -> int:
        cid = super().register_network(callback, network_uuid)
        if self._conn is not None and not self._network_ids:
            try:
                self._conn.want_network_events(True)
            except Error:
                super().deregister_network(cid)
                raise
        self._network_ids.add(cid)
        return cid

    def deregister_network(self, callback_id: int) -> None:
        super().deregister_network(callback_id)
        self._network_ids.discard(callback_id)
        if self._conn is not None and not self._network_ids and self._conn.client.is_alive:
            self._conn.want_network_events(False)

    def register_typed(self, kind: str, callback: Callable[[Any], None], uuid: str | None = None) -> int:
        cid = super().register_typed(kind, callback, uuid)
        if self._conn is not None and not self._typed_ids[kind]:
            try:
                self._conn.want_typed_events(kind, True)
            except Error:
                super().deregister_typed(cid)
                raise
        self._typed_ids[kind].add(cid)
        return cid

    def deregister_typed(self, callback_id: int) -> None:
        super().deregister_typed(callback_id)
        for kind, ids in self._typed_ids.items():
            if callback_id in ids:
                ids.discard(callback_id)
                if self._conn is not None and not ids and self._conn.client.is_alive:
                    self._conn.want_typed_events(kind, False)
