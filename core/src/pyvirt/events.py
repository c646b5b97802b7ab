"""Domain, network and pool events: libvirt's event/detail numbers, one record per kind, delivery in order.

Drivers report events to the ``EventSink`` they got at open; the connection
delivers them to every registered callback, in the order they happened, on
the thread that caused them (the test driver and in-process drivers) or on
the driver's event thread.

Lifecycle events (domain and network) have their own registration; every
other kind goes through one generic path (``register_typed``/``emit``),
named as virsh names it (:data:`DOMAIN_EVENT_IDS`, :data:`EVENT_KINDS`), so
that a new kind needs a record and an emitter only. Each record carries the
arguments of libvirt's callback for that event id, in libvirt's order.
"""

from __future__ import annotations

import _thread  # its locks are threading's, without threading's imports (functools, collections...: ~15M instructions)
import itertools
from _collections_abc import Callable  # collections.abc imports all of collections

# Every in-process connection loads this module (the sink), so it is built without ``typing`` and ``enum``:
# the numbering tables by pyvirt.util.int_enum, the records by pyvirt.util.named_tuple (each says why).
# Every record is made when first read (DeferredNamedTuple): a run that delivers no event (most pyvirsh
# lines) made twelve of them at import, and the sink's methods read theirs with a from-import of this
# module. The records' field types (DomainRef, TypedParam...) are annotations only: the modules behind
# them are not imported here (pyvirt.plugin.typed_params alone is a million instructions).
# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from typing import Any
    from typing import NamedTuple as _DeferredRecord

    from pyvirt.plugin.records import DomainRef, NetworkRef, PoolRef
    from pyvirt.plugin.typed_params import TypedParam

    _IntEnumBody = enum.IntEnum
else:
    from pyvirt.util.int_enum import IntEnumBody as _IntEnumBody  # the class statement makes the table
    from pyvirt.util.named_tuple import DeferredNamedTuple as _DeferredRecord
    from pyvirt.util.named_tuple import build_on_first_use

    Any = object  # only in the run-time values of the callback aliases below; mypy reads typing's

__all__ = [
    "DOMAIN_EVENT_IDS",
    "EVENT_KINDS",
    "AgentLifecycleEvent",
    "BalloonChangeEvent",
    "BlockJob2Event",
    "BlockJobEvent",
    "BlockThresholdEvent",
    "ControlErrorEvent",
    "DeviceAddedEvent",
    "DeviceRemovalFailedEvent",
    "DeviceRemovedEvent",
    "DiskChangeEvent",
    "DomainEvent",
    "EventSink",
    "GraphicsAddress",
    "GraphicsEvent",
    "IOErrorEvent",
    "IOErrorReasonEvent",
    "JobCompletedEvent",
    "LifecycleEvent",
    "MemoryDeviceSizeChangeEvent",
    "MemoryFailureEvent",
    "MetadataChangeEvent",
    "MigrationIterationEvent",
    "NetworkEvent",
    "NetworkLifecycleEvent",
    "PMSuspendDiskEvent",
    "PMSuspendEvent",
    "PMWakeupEvent",
    "PoolEvent",
    "PoolLifecycleEvent",
    "PoolRefreshEvent",
    "QemuMonitorEvent",
    "RebootEvent",
    "RtcChangeEvent",
    "TrayChangeEvent",
    "TunableEvent",
    "TypedEvent",
    "WatchdogEvent",
    "detail_text",
    "event_text",
    "network_event_text",
    "pool_event_text",
]


class DomainEvent(_IntEnumBody):
    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


class Defined(_IntEnumBody):
    ADDED = 0
    UPDATED = 1
    RENAMED = 2
    FROM_SNAPSHOT = 3


class Undefined(_IntEnumBody):
    REMOVED = 0
    RENAMED = 1


class Started(_IntEnumBody):
    BOOTED = 0
    MIGRATED = 1
    RESTORED = 2
    FROM_SNAPSHOT = 3
    WAKEUP = 4


class Suspended(_IntEnumBody):
    PAUSED = 0
    MIGRATED = 1
    IOERROR = 2
    WATCHDOG = 3
    RESTORED = 4
    FROM_SNAPSHOT = 5
    API_ERROR = 6
    POSTCOPY = 7
    POSTCOPY_FAILED = 8


class Resumed(_IntEnumBody):
    UNPAUSED = 0
    MIGRATED = 1
    FROM_SNAPSHOT = 2
    POSTCOPY = 3
    POSTCOPY_FAILED = 4


class Stopped(_IntEnumBody):
    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    MIGRATED = 3
    SAVED = 4
    FAILED = 5
    FROM_SNAPSHOT = 6


class Shutdown(_IntEnumBody):
    FINISHED = 0
    GUEST = 1
    HOST = 2


_EVENT_TEXT = (
    "Defined",
    "Undefined",
    "Started",
    "Suspended",
    "Resumed",
    "Stopped",
    "Shutdown",
    "PMSuspended",
    "Crashed",
)
# virsh's words for each event's details, by event number (DomainEvent's order: its members are made when
# first read, and a table keyed by them made nine at import)
_DETAIL_TEXT: tuple[tuple[str, ...], ...] = (
    ("Added", "Updated", "Renamed", "Snapshot"),
    ("Removed", "Renamed"),
    ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    ("Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error", "Post-copy",
     "Post-copy Error"),
    ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"),
    ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"),
    ("Finished", "Finished after guest request", "Finished after host request"),
    ("Memory", "Disk"),
    ("Panicked", "Crashloaded"),
)  # fmt: skip


def event_text(event: int) -> str:
    return _EVENT_TEXT[event] if 0 <= event < len(_EVENT_TEXT) else "unknown"


def detail_text(event: int, detail: int) -> str:
    words = _DETAIL_TEXT[event] if 0 <= event < len(_DETAIL_TEXT) else ()
    return words[detail] if 0 <= detail < len(words) else "unknown"


class NetworkEvent(_IntEnumBody):
    """virNetworkEventLifecycleType (their detail is always 0)."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    STOPPED = 3


_NETWORK_EVENT_TEXT = ("Defined", "Undefined", "Started", "Stopped")


def network_event_text(event: int) -> str:
    return _NETWORK_EVENT_TEXT[event] if 0 <= event < len(_NETWORK_EVENT_TEXT) else "unknown"


class NetworkLifecycleEvent(_DeferredRecord):
    network: NetworkRef
    event: int
    detail: int


class LifecycleEvent(_DeferredRecord):
    domain: DomainRef
    event: int
    detail: int


class RebootEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_REBOOT: the guest reset (a reboot inside it, or ``virDomainReboot``)."""

    domain: DomainRef


class DeviceRemovedEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED: the hypervisor let go of a device (``alias``) after a detach."""

    domain: DomainRef
    alias: str


class AgentLifecycleEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE: state 1 connected / 2 disconnected; reason 0 unknown,
    1 domain started, 2 channel event."""

    domain: DomainRef
    state: int
    reason: int


class BlockJobEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_BLOCK_JOB: a block job of ``type`` (virDomainBlockJobType: 2 copy) on the disk
    whose image is ``disk`` (a path) reached ``status`` (virConnectDomainEventBlockJobStatus: 0 completed,
    1 failed, 2 canceled, 3 ready)."""

    domain: DomainRef
    disk: str
    type: int
    status: int


class BlockJob2Event(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2: as :class:`BlockJobEvent`, with ``disk`` the disk's target (``vda``),
    which stays meaningful for network disks and after a pivot changed the path."""

    domain: DomainRef
    disk: str
    type: int
    status: int


class TunableEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_TUNABLE: tunables of the running domain changed (``cputune.emulatorpin``, ...),
    with their new values."""

    domain: DomainRef
    params: list[TypedParam]


class PoolEvent(_IntEnumBody):
    """virStoragePoolEventLifecycleType (their detail is always 0)."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    STOPPED = 3
    CREATED = 4
    DELETED = 5


_POOL_EVENT_TEXT = ("Defined", "Undefined", "Started", "Stopped", "Created", "Deleted")


def pool_event_text(event: int) -> str:
    return _POOL_EVENT_TEXT[event] if 0 <= event < len(_POOL_EVENT_TEXT) else "unknown"


class PoolLifecycleEvent(_DeferredRecord):
    pool: PoolRef
    event: int
    detail: int


class PoolRefreshEvent(_DeferredRecord):
    """VIR_STORAGE_POOL_EVENT_ID_REFRESH: the pool was refreshed (``virStoragePoolRefresh``)."""

    pool: PoolRef


# ---------------------------------------------------------------- the other domain events
# Each carries the arguments of libvirt's callback of that event id, in libvirt's order.


class RtcChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_RTC_CHANGE: the guest set its clock; ``offset`` is its new offset from the host's
    UTC in seconds."""

    domain: DomainRef
    offset: int


class WatchdogEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_WATCHDOG: the guest's watchdog fired; ``action`` is virDomainEventWatchdogAction
    (0 none, 1 pause, 2 reset, 3 poweroff, 4 shutdown, 5 debug, 6 inject-nmi)."""

    domain: DomainRef
    action: int


class IOErrorEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_IO_ERROR: a disk I/O error; ``action`` is virDomainEventIOErrorAction
    (0 none, 1 pause, 2 report)."""

    domain: DomainRef
    src_path: str
    dev_alias: str
    action: int


class IOErrorReasonEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON: as :class:`IOErrorEvent`, with the reason (``enospc``, ...)."""

    domain: DomainRef
    src_path: str
    dev_alias: str
    action: int
    reason: str


class GraphicsAddress(_DeferredRecord):
    """virDomainEventGraphicsAddress: ``family`` 0 IPv4, 1 IPv6, 2 unix; ``node`` and ``service`` as text."""

    family: int
    node: str
    service: str


class GraphicsEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_GRAPHICS: a VNC/SPICE client's ``phase`` (0 connect, 1 initialize, 2 disconnect),
    the two ends, the auth scheme and the client's identities as (type, name) pairs."""

    domain: DomainRef
    phase: int
    local: GraphicsAddress
    remote: GraphicsAddress
    auth_scheme: str
    subject: list[tuple[str, str]]


class ControlErrorEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_CONTROL_ERROR: the driver lost control of the guest (its monitor broke)."""

    domain: DomainRef


class DiskChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_DISK_CHANGE: a disk's source changed (``reason`` 0 changed, 1 dropped because
    missing at start); either path may be None (no medium)."""

    domain: DomainRef
    old_src: str | None
    new_src: str | None
    dev_alias: str
    reason: int


class TrayChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_TRAY_CHANGE: a removable disk's tray ``reason`` 0 opened, 1 closed."""

    domain: DomainRef
    dev_alias: str
    reason: int


class PMWakeupEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_PMWAKEUP: the guest woke from a power-management suspend (``reason`` always 0)."""

    domain: DomainRef
    reason: int = 0


class PMSuspendEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_PMSUSPEND: the guest suspended itself to memory (``reason`` always 0)."""

    domain: DomainRef
    reason: int = 0


class PMSuspendDiskEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK: the guest suspended itself to disk (``reason`` always 0)."""

    domain: DomainRef
    reason: int = 0


class BalloonChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE: the balloon's ``actual`` size changed, in KiB."""

    domain: DomainRef
    actual: int


class DeviceAddedEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_DEVICE_ADDED: a device (``alias``) was hot-plugged."""

    domain: DomainRef
    alias: str


class MigrationIterationEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION: a migration began pass ``iteration`` over guest memory."""

    domain: DomainRef
    iteration: int


class JobCompletedEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_JOB_COMPLETED: an async job (migration, save, dump...) ended; its statistics as
    virDomainGetJobStats' typed parameters."""

    domain: DomainRef
    params: list[TypedParam]


class DeviceRemovalFailedEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED: the guest refused to let go of a device (``alias``)."""

    domain: DomainRef
    alias: str


class MetadataChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_METADATA_CHANGE: ``type`` 0 description, 1 title, 2 element (``nsuri`` its
    namespace, None for the other two)."""

    domain: DomainRef
    type: int
    nsuri: str | None


class BlockThresholdEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD: writes to disk ``dev`` (image ``path``) passed ``threshold``
    bytes, by ``excess``."""

    domain: DomainRef
    dev: str
    path: str | None
    threshold: int
    excess: int


class MemoryFailureEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE: a hardware memory error; ``recipient`` 0 hypervisor, 1 guest;
    ``action`` 0 ignore, 1 inject, 2 fatal, 3 reset; ``flags`` 1 action required, 2 recursive."""

    domain: DomainRef
    recipient: int
    action: int
    flags: int


class MemoryDeviceSizeChangeEvent(_DeferredRecord):
    """VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE: a virtio-mem device's plugged ``size`` (KiB) changed."""

    domain: DomainRef
    alias: str
    size: int


class QemuMonitorEvent(_DeferredRecord):
    """libvirt-qemu's monitor event (virConnectDomainQemuMonitorEventCallback): any QMP event of a guest, by
    QEMU's ``event`` name, its timestamp (``seconds`` -1 when QEMU sent none) and its ``data`` member as
    compact JSON (``details``; None when the event had no data)."""

    domain: DomainRef
    event: str
    seconds: int
    micros: int
    details: str | None


if TYPE_CHECKING:
    TypedEvent = (
        PoolRefreshEvent | RebootEvent | DeviceRemovedEvent | AgentLifecycleEvent | PoolLifecycleEvent
        | BlockJobEvent | BlockJob2Event | TunableEvent | RtcChangeEvent | WatchdogEvent | IOErrorEvent
        | IOErrorReasonEvent | GraphicsEvent | ControlErrorEvent | DiskChangeEvent | TrayChangeEvent
        | PMWakeupEvent | PMSuspendEvent | PMSuspendDiskEvent | BalloonChangeEvent | DeviceAddedEvent
        | MigrationIterationEvent | JobCompletedEvent | DeviceRemovalFailedEvent | MetadataChangeEvent
        | BlockThresholdEvent | MemoryFailureEvent | MemoryDeviceSizeChangeEvent | QemuMonitorEvent
    )  # fmt: skip
else:
    TypedEvent = tuple  # every record is one; the union above is for type checkers

#: virsh's names of libvirt's domain event ids (VIR_DOMAIN_EVENT_ID_*, 0..26 in libvirt 9.0), in id order:
#: the kind names of the generic path and of ``pyvirsh event``.
DOMAIN_EVENT_IDS = (
    "lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics", "io-error-reason", "control-error",
    "block-job", "disk-change", "tray-change", "pm-wakeup", "pm-suspend", "balloon-change", "pm-suspend-disk",
    "device-removed", "block-job-2", "tunable", "agent-lifecycle", "device-added", "migration-iteration",
    "job-completed", "device-removal-failed", "metadata-change", "block-threshold", "memory-failure",
    "memory-device-size-change",
)  # fmt: skip
#: The kinds of the generic path: every domain event but lifecycle (which has its own), and the pool events.
#: The object a callback may filter on is the record's first field (a domain or a pool, matched by UUID).
#: ``qemu-monitor`` is libvirt-qemu's (virConnectDomainQemuMonitorEventRegister), which has no event id.
EVENT_KINDS: tuple[str, ...] = (*DOMAIN_EVENT_IDS[1:], "pool-lifecycle", "pool-refresh", "qemu-monitor")

if TYPE_CHECKING:  # the records are not in the module's namespace until first read: aliases for mypy only
    Callback = Callable[[LifecycleEvent], None]
    NetworkCallback = Callable[[NetworkLifecycleEvent], None]
    TypedCallback = Callable[[Any], None]


class EventSink:
    """Where drivers report events; callbacks registered by the public API receive them."""

    def __init__(self) -> None:
        self._callbacks: dict[int, tuple[Callback, str | None]] = {}
        self._network_callbacks: dict[int, tuple[NetworkCallback, str | None]] = {}
        # the generic path: kind -> callback id -> (callback, object UUID or None)
        self._typed: dict[str, dict[int, tuple[TypedCallback, str | None]]] = {k: {} for k in EVENT_KINDS}
        self._ids = itertools.count(1)
        self._lock = _thread.RLock()

    def register(self, callback: Callable[[LifecycleEvent], None], domain_uuid: str | None = None) -> int:
        """Add a callback (optionally for one domain); returns its id."""
        with self._lock:
            cid = next(self._ids)
            self._callbacks[cid] = (callback, domain_uuid)
            return cid

    def register_network(
        self, callback: Callable[[NetworkLifecycleEvent], None], network_uuid: str | None = None
    ) -> int:
        """Add a network lifecycle callback (optionally for one network); returns its id."""
        with self._lock:
            cid = next(self._ids)
            self._network_callbacks[cid] = (callback, network_uuid)
            return cid

    def register_typed(self, kind: str, callback: Callable[[Any], None], uuid: str | None = None) -> int:
        """Add a callback for one kind of ``EVENT_KINDS`` (optionally for one domain or pool).

        One path for every event beyond the lifecycle ones, so that a new
        event needs a record and an emitter, not another pair of methods.
        """
        from pyvirt.errors import ErrorCode, InvalidArgumentError

        if kind not in self._typed:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported event type '{kind}'")
        with self._lock:
            cid = next(self._ids)
            self._typed[kind][cid] = (callback, uuid)
            return cid

    def deregister_typed(self, callback_id: int) -> None:
        with self._lock:
            for callbacks in self._typed.values():
                if callback_id in callbacks:
                    del callbacks[callback_id]
                    return
        self._drop({}, callback_id)  # not found: libvirt's error

    def wants(self, kind: str) -> bool:
        """Whether any callback waits for ``kind`` (drivers may skip building an event nobody wants)."""
        return bool(self._typed.get(kind))

    def emit(self, kind: str, event: TypedEvent) -> None:
        """Deliver a typed event to every callback of its kind whose filter matches, in registration order."""
        callbacks = self._typed.get(kind)
        if not callbacks:
            return
        with self._lock:
            targets = list(callbacks.values())
        subject = getattr(event[0], "uuid", None)
        for cb, uuid in targets:
            if uuid is None or uuid == subject:
                cb(event)

    def reboot(self, domain: DomainRef) -> None:
        from pyvirt.events import RebootEvent  # each record is made when first read (see the imports)

        self.emit("reboot", RebootEvent(domain))

    def qemu_monitor_event(self, domain: DomainRef, event: str, seconds: int, micros: int, details: str | None) -> None:
        from pyvirt.events import QemuMonitorEvent

        self.emit("qemu-monitor", QemuMonitorEvent(domain, event, int(seconds), int(micros), details))

    def device_removed(self, domain: DomainRef, alias: str) -> None:
        from pyvirt.events import DeviceRemovedEvent

        self.emit("device-removed", DeviceRemovedEvent(domain, alias))

    def agent_lifecycle(self, domain: DomainRef, state: int, reason: int) -> None:
        from pyvirt.events import AgentLifecycleEvent

        self.emit("agent-lifecycle", AgentLifecycleEvent(domain, int(state), int(reason)))

    def block_job(self, domain: DomainRef, path: str, target: str, job_type: int, status: int) -> None:
        """A block job's end or readiness, as both of libvirt's events: by image path and by target name."""
        from pyvirt.events import BlockJob2Event, BlockJobEvent

        self.emit("block-job", BlockJobEvent(domain, path, int(job_type), int(status)))
        self.emit("block-job-2", BlockJob2Event(domain, target, int(job_type), int(status)))

    def tunable(self, domain: DomainRef, params: list[TypedParam]) -> None:
        from pyvirt.events import TunableEvent

        self.emit("tunable", TunableEvent(domain, list(params)))

    def pool_lifecycle(self, pool: PoolRef, event: int, detail: int = 0) -> None:
        from pyvirt.events import PoolLifecycleEvent

        self.emit("pool-lifecycle", PoolLifecycleEvent(pool, int(event), int(detail)))

    def pool_refresh(self, pool: PoolRef) -> None:
        from pyvirt.events import PoolRefreshEvent

        self.emit("pool-refresh", PoolRefreshEvent(pool))

    def deregister(self, callback_id: int) -> None:
        self._drop(self._callbacks, callback_id)

    def deregister_network(self, callback_id: int) -> None:
        self._drop(self._network_callbacks, callback_id)

    def _drop(self, callbacks: dict[int, Any], callback_id: int) -> None:
        from pyvirt.errors import ErrorCode, InvalidArgumentError

        with self._lock:
            if callbacks.pop(callback_id, None) is None:
                raise InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"could not find event callback {callback_id} for deletion"
                )

    def network_lifecycle(self, network: NetworkRef, event: int, detail: int = 0) -> None:
        """Deliver a network lifecycle event to every matching callback, in registration order."""
        if not self._network_callbacks:
            return
        from pyvirt.events import NetworkLifecycleEvent

        ev = NetworkLifecycleEvent(network, int(event), int(detail))
        with self._lock:
            targets = list(self._network_callbacks.values())
        for cb, uuid in targets:
            if uuid is None or uuid == network.uuid:
                cb(ev)

    def lifecycle(self, domain: DomainRef, event: int, detail: int) -> None:
        """Deliver a lifecycle event to every matching callback, in registration order."""
        if not self._callbacks:
            return
        from pyvirt.events import LifecycleEvent

        ev = LifecycleEvent(domain, int(event), int(detail))
        with self._lock:
            targets = list(self._callbacks.values())
        for cb, uuid in targets:
            if uuid is None or uuid == domain.uuid:
                cb(ev)


if not TYPE_CHECKING:  # mypy reads the class statements above; a module __getattr__ would hide misspelled names
    __getattr__, __dir__ = build_on_first_use(globals())
