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

from pyvirt import events
from pyvirt.errors import Error
from pyvirt.events import (
    DOMAIN_EVENT_IDS,
    EventSink,
    LifecycleEvent,
    NetworkLifecycleEvent,
    PoolLifecycleEvent,
    PoolRefreshEvent,
    TypedEvent,
)
from pyvirt.plugin.records import PoolRef
from pyvirt.remote.calls import (
    domain_ref,
    network_ref,
    typed_param_from_wire,
    typed_param_to_wire,
    uuid_text,
    wire_domain,
)

if TYPE_CHECKING:
    from pyvirt.remote.driver import RemoteConnection

__all__ = [
    "DOMAIN_WIRE",
    "EVENT_ID_LIFECYCLE",
    "TYPED",
    "TYPED_BY_PROC",
    "RemoteEventSink",
    "deliver",
    "domain_event_from_wire",
    "domain_event_to_wire",
]

EVENT_ID_LIFECYCLE = 0  # VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_NETWORK_EVENT_ID_LIFECYCLE
_DOMAIN_REGISTER = ("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY")
_POOL_REGISTER = ("CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY", "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY")

# How each domain event travels on libvirt's wire when registered with CALLBACK_REGISTER_ANY (the
# messages libvirtd sends for each event id, remote_protocol.x): the message's procedure, the record it
# is, and its shape. Three shapes, as the .x file grew: ``nested`` (callbackID, (dom, fields...)),
# ``pm`` (callbackID, reason, (dom,)) for the power-management ones, and ``flat`` (callbackID, dom,
# fields...) for the events added after the callback messages were introduced.
DOMAIN_WIRE: dict[str, tuple[str, str, str]] = {
    "reboot": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_REBOOT", "RebootEvent", "nested"),
    "rtc-change": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_RTC_CHANGE", "RtcChangeEvent", "nested"),
    "watchdog": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_WATCHDOG", "WatchdogEvent", "nested"),
    "io-error": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR", "IOErrorEvent", "nested"),
    "graphics": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_GRAPHICS", "GraphicsEvent", "nested"),
    "io-error-reason": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON", "IOErrorReasonEvent", "nested"),
    "control-error": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_CONTROL_ERROR", "ControlErrorEvent", "nested"),
    "block-job": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BLOCK_JOB", "BlockJobEvent", "nested"),
    "disk-change": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DISK_CHANGE", "DiskChangeEvent", "nested"),
    "tray-change": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TRAY_CHANGE", "TrayChangeEvent", "nested"),
    "pm-wakeup": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_PMWAKEUP", "PMWakeupEvent", "pm"),
    "pm-suspend": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_PMSUSPEND", "PMSuspendEvent", "pm"),
    "balloon-change": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE", "BalloonChangeEvent", "nested"),
    "pm-suspend-disk": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK", "PMSuspendDiskEvent", "pm"),
    "device-removed": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED", "DeviceRemovedEvent", "nested"),
    "block-job-2": ("REMOTE_PROC_DOMAIN_EVENT_BLOCK_JOB_2", "BlockJob2Event", "flat"),
    "tunable": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_TUNABLE", "TunableEvent", "flat"),
    "agent-lifecycle": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE", "AgentLifecycleEvent", "flat"),
    "device-added": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_ADDED", "DeviceAddedEvent", "flat"),
    "migration-iteration": (
        "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION", "MigrationIterationEvent", "flat",
    ),
    "job-completed": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_JOB_COMPLETED", "JobCompletedEvent", "flat"),
    "device-removal-failed": (
        "REMOTE_PROC_DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED", "DeviceRemovalFailedEvent", "flat",
    ),
    "metadata-change": ("REMOTE_PROC_DOMAIN_EVENT_CALLBACK_METADATA_CHANGE", "MetadataChangeEvent", "flat"),
    "block-threshold": ("REMOTE_PROC_DOMAIN_EVENT_BLOCK_THRESHOLD", "BlockThresholdEvent", "flat"),
    "memory-failure": ("REMOTE_PROC_DOMAIN_EVENT_MEMORY_FAILURE", "MemoryFailureEvent", "flat"),
    "memory-device-size-change": (
        "REMOTE_PROC_DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE", "MemoryDeviceSizeChangeEvent", "flat",
    ),
}  # fmt: skip
# The two fields whose wire form is not the record's: typed parameter lists, and graphics' addresses.
_PARAMS_KINDS = frozenset(("tunable", "job-completed"))


def _fields_from_wire(kind: str, fields: tuple[Any, ...]) -> tuple[Any, ...]:
    if kind in _PARAMS_KINDS:
        return ([typed_param_from_wire(p) for p in fields[0]],)
    if kind == "graphics":
        phase, local, remote, auth, subject = fields
        address = events.GraphicsAddress
        return (phase, address(*local), address(*remote), auth, [tuple(i) for i in subject])
    return fields


def _fields_to_wire(kind: str, fields: tuple[Any, ...]) -> tuple[Any, ...]:
    if kind in _PARAMS_KINDS:
        return ([typed_param_to_wire(p) for p in fields[0]],)
    if kind == "graphics":
        phase, local, remote, auth, subject = fields
        return (phase, tuple(local), tuple(remote), auth, [tuple(i) for i in subject])
    return fields


def domain_event_from_wire(kind: str, value: Any) -> TypedEvent:
    """A decoded CALLBACK_REGISTER_ANY message of ``kind`` as its record (its callback id dropped)."""
    _, record_name, shape = DOMAIN_WIRE[kind]
    record = getattr(events, record_name)
    if shape == "nested":
        dom, *rest = value[1]
        return record(domain_ref(dom), *_fields_from_wire(kind, tuple(rest)))  # type: ignore[no-any-return]
    if shape == "pm":
        return record(domain_ref(value[2][0]), value[1])  # type: ignore[no-any-return]
    return record(domain_ref(value[1]), *_fields_from_wire(kind, tuple(value[2:])))  # type: ignore[no-any-return]


def domain_event_to_wire(kind: str, callback_id: int, ev: Any) -> tuple[Any, ...]:
    """A domain event's record as the message libvirtd sends a CALLBACK_REGISTER_ANY client."""
    shape = DOMAIN_WIRE[kind][2]
    dom = wire_domain(ev[0])
    if shape == "nested":
        return (callback_id, (dom, *_fields_to_wire(kind, tuple(ev[1:]))))
    if shape == "pm":
        return (callback_id, ev[1], (dom,))
    return (callback_id, dom, *_fields_to_wire(kind, tuple(ev[1:])))


def _domain_typed(kind: str) -> tuple[str, str, int, Callable[[Any], TypedEvent]]:
    return (*_DOMAIN_REGISTER, DOMAIN_EVENT_IDS.index(kind), lambda v: domain_event_from_wire(kind, v))


# The generic path's kinds: how the server is asked for them (libvirt's event ids), and the record
# each message becomes.
TYPED: dict[str, tuple[str, str, int, Callable[[Any], TypedEvent]]] = {
    **{kind: _domain_typed(kind) for kind in DOMAIN_WIRE},
    "pool-lifecycle": (
        *_POOL_REGISTER,
        0,
        lambda v: PoolLifecycleEvent(PoolRef(v[1][0], uuid_text(v[1][1])), v[2], v[3]),
    ),
    "pool-refresh": (*_POOL_REGISTER, 1, lambda v: PoolRefreshEvent(PoolRef(v[1][0], uuid_text(v[1][1])))),
}
TYPED_BY_PROC = {
    **{proc: kind for kind, (proc, _, _) in DOMAIN_WIRE.items()},
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
        # (libvirt-qemu's monitor events come through the QEMU program, registered like the generic path's)
        self._typed_ids: dict[str, set[int]] = {kind: set() for kind in (*TYPED, "qemu-monitor")}

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
