"""QEMU's guest events (QMP) as libvirt's domain events, the way libvirt 9.0's qemu_process.c reports them.

One handler per QMP event: RTC_CHANGE, WATCHDOG, BLOCK_IO_ERROR,
DEVICE_TRAY_MOVED, SUSPEND, SUSPEND_DISK, WAKEUP, BALLOON_CHANGE,
MEMORY_FAILURE, MIGRATION_PASS, DEVICE_UNPLUG_GUEST_ERROR, ACPI_DEVICE_OST,
MEMORY_DEVICE_SIZE_CHANGE and the VNC and SPICE client events.
A handler that changes the guest's state (a watchdog or an I/O error that
pauses it, a power-management suspend or wake-up) does so as libvirt does
and reports the lifecycle event too, after the event of its own kind (the
order libvirt queues them in). Called with the domain's lock held, for a
QEMU that is the domain's current one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain_devices import Disk, Memory
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.events import (
    BalloonChangeEvent,
    DeviceRemovalFailedEvent,
    DomainEvent,
    GraphicsAddress,
    GraphicsEvent,
    IOErrorEvent,
    IOErrorReasonEvent,
    MemoryDeviceSizeChangeEvent,
    MemoryFailureEvent,
    MigrationIterationEvent,
    PMSuspendDiskEvent,
    PMSuspendEvent,
    PMWakeupEvent,
    RtcChangeEvent,
    Started,
    Suspended,
    TrayChangeEvent,
    WatchdogEvent,
)
from pyvirt.flags import DomainMemoryFailureFlags
from pyvirt_qemu.block_nodes import disk_blockdevs
from pyvirt_qemu.block_threshold import on_write_threshold
from pyvirt_qemu.dump import on_dump_completed

if TYPE_CHECKING:
    from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["QMP_EVENTS", "on_guest_event"]

# QEMU's words -> libvirt's numbers (qemu_monitor_json.c's tables)
_WATCHDOG_ACTIONS = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
_IO_ERROR_ACTIONS = {"ignore": 0, "stop": 1, "report": 2}  # VIR_DOMAIN_EVENT_IO_ERROR_NONE/PAUSE/REPORT
_MEMORY_FAILURE_RECIPIENTS = ("hypervisor", "guest")
_MEMORY_FAILURE_ACTIONS = ("ignore", "inject", "fatal", "reset")
_GRAPHICS_FAMILIES = {"ipv4": 0, "ipv6": 1, "unix": 2}
_TRAY_OPENED, _TRAY_CLOSED = 0, 1


def _emit(state: QemuState, obj: DomainObj, kind: str, ev: Any) -> None:
    for sink in list(state.sinks):
        sink.emit(kind, ev)


def _disks(obj: DomainObj) -> list[Disk]:
    return list(obj.live.devices.disks) if obj.live.devices is not None else []


def _disk_by_alias(obj: DomainObj, name: str) -> Disk | None:
    """qemuProcessFindDomainDiskByAliasOrQOM: the qdev id, or the last part of a QOM path, or a -drive id."""
    name = name.rsplit("/", 1)[-1].removeprefix("drive-")
    for disk in _disks(obj):
        if disk.alias is not None and disk.alias.name == name:
            return disk
    return None


def _disk_by_node(obj: DomainObj, node: str) -> Disk | None:
    for disk in _disks(obj):
        if any(n.get("node-name") == node for n in disk_blockdevs(disk)):
            return disk
    return None


def _pause(state: QemuState, obj: DomainObj, reason: int, detail: int) -> None:
    """A pause QEMU made by itself: the guest is paused for ``reason`` (QEMU's STOP that follows is then ours)."""
    if obj.state == DomainState.RUNNING:
        obj.state, obj.reason = DomainState.PAUSED, reason
        state.emit(obj, DomainEvent.SUSPENDED, detail)


def _rtc_change(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """qemuProcessHandleRTCChange. With ``<clock offset='variable'>`` QEMU's offset counts from the date the
    guest started with (-rtc base=), so the new offset from UTC is the adjustment at start plus QEMU's, and
    it becomes the live definition's adjustment (a restart or migration keeps the guest's time)."""
    offset = int(data.get("offset", 0))
    clock = obj.live.clock
    proc = obj.process
    if clock is not None and clock.offset == "variable" and proc is not None:
        if obj.rtc_adjustment0 is None or obj.rtc_adjustment0[0] != proc.pid:  # the first change of this run
            adjustment = clock.adjustment or "0"  # ("reset" started the guest at the host's time)
            obj.rtc_adjustment0 = (proc.pid, int(adjustment) if adjustment.lstrip("-").isdigit() else 0)
        offset += obj.rtc_adjustment0[1]
        clock.adjustment = str(offset)  # (the status file is written after every event)
    _emit(state, obj, "rtc-change", RtcChangeEvent(obj.ref(), offset))


def _watchdog(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    action = str(data.get("action", "none"))
    number = _WATCHDOG_ACTIONS.index(action) if action in _WATCHDOG_ACTIONS else 0
    _emit(state, obj, "watchdog", WatchdogEvent(obj.ref(), number))
    if number == 1:  # VIR_DOMAIN_EVENT_WATCHDOG_PAUSE
        _pause(state, obj, PausedReason.WATCHDOG, Suspended.WATCHDOG)


def _io_error(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """qemuProcessHandleIOError: both I/O error events, the disk named by its source and alias ("" if unknown)."""
    device, node = str(data.get("device") or ""), data.get("node-name")
    disk = _disk_by_alias(obj, device) if device else (_disk_by_node(obj, str(node)) if node else None)
    path = (disk.source_file or disk.source_dev or "") if disk is not None else ""
    alias = disk.alias.name if disk is not None and disk.alias is not None and disk.alias.name else ""
    action = _IO_ERROR_ACTIONS.get(str(data.get("action")), 0)
    # libvirt's reason: "enospc" when QEMU says the disk is full, otherwise the empty string
    reason = "enospc" if data.get("nospace") else ""
    ref = obj.ref()
    _emit(state, obj, "io-error", IOErrorEvent(ref, path, alias, action))
    _emit(state, obj, "io-error-reason", IOErrorReasonEvent(ref, path, alias, action, reason))
    if action == 1:
        _pause(state, obj, PausedReason.IOERROR, Suspended.IOERROR)


def _tray_moved(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    disk = _disk_by_alias(obj, str(data.get("id") or data.get("device") or ""))
    if disk is None or disk.alias is None or not disk.alias.name:
        return
    opened = bool(data.get("tray-open"))
    disk.target_tray = "open" if opened else None  # the live XML shows an open tray (libvirt: tray_status)
    _emit(
        state, obj, "tray-change", TrayChangeEvent(obj.ref(), disk.alias.name, _TRAY_OPENED if opened else _TRAY_CLOSED)
    )


def _suspend(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    _emit(state, obj, "pm-suspend", PMSuspendEvent(obj.ref()))
    if obj.state == DomainState.RUNNING:
        obj.state, obj.reason = DomainState.PMSUSPENDED, 0  # VIR_DOMAIN_PMSUSPENDED_UNKNOWN
        state.emit(obj, DomainEvent.PMSUSPENDED, 0)  # VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY


def _suspend_disk(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    _emit(state, obj, "pm-suspend-disk", PMSuspendDiskEvent(obj.ref()))
    if obj.state == DomainState.RUNNING:
        obj.state, obj.reason = DomainState.PMSUSPENDED, 0
        state.emit(obj, DomainEvent.PMSUSPENDED, 1)  # VIR_DOMAIN_EVENT_PMSUSPENDED_DISK


def _wakeup(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    _emit(state, obj, "pm-wakeup", PMWakeupEvent(obj.ref()))
    if obj.state == DomainState.PMSUSPENDED:  # not a guest the host paused: it stays so
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.WAKEUP
        state.emit(obj, DomainEvent.STARTED, Started.WAKEUP)


def _balloon_change(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """qemuProcessHandleBalloonChange: the event with the balloon's size, and the live ``<currentMemory>``
    with it, plus what virtio-mem devices have plugged (which QEMU's balloon size leaves out)."""
    actual = int(data.get("actual", 0)) // 1024  # QEMU says bytes, libvirt KiB
    _emit(state, obj, "balloon-change", BalloonChangeEvent(obj.ref(), actual))
    live = obj.live
    if live.current_memory is not None:
        mems = live.devices.memories if live.devices is not None else []
        plugged = sum(m.target_current.kib for m in mems if m.model == "virtio-mem" and m.target_current is not None)
        live.current_memory.kib = actual + plugged


def _memory_failure(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    recipient, action = str(data.get("recipient")), str(data.get("action"))
    flags_in = data.get("flags") or {}
    flags = (DomainMemoryFailureFlags.ACTION_REQUIRED if flags_in.get("action-required") else 0) | (
        DomainMemoryFailureFlags.RECURSIVE if flags_in.get("recursive") else 0
    )
    ev = MemoryFailureEvent(
        obj.ref(),
        _MEMORY_FAILURE_RECIPIENTS.index(recipient) if recipient in _MEMORY_FAILURE_RECIPIENTS else 0,
        _MEMORY_FAILURE_ACTIONS.index(action) if action in _MEMORY_FAILURE_ACTIONS else 0,
        flags,
    )
    _emit(state, obj, "memory-failure", ev)


def _migration_pass(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    _emit(state, obj, "migration-iteration", MigrationIterationEvent(obj.ref(), int(data.get("pass", 0))))


def _graphics(state: QemuState, obj: DomainObj, data: dict[str, Any], phase: int) -> None:
    """qemuMonitorJSONHandleGraphicsVNC/SPICE: the server and client ends, and the client's x509 or SASL name."""
    server, client = data.get("server") or {}, data.get("client") or {}

    def address(end: dict[str, Any]) -> GraphicsAddress:
        return GraphicsAddress(
            _GRAPHICS_FAMILIES.get(str(end.get("family")), 0),
            str(end.get("host", "")),
            str(end.get("service", end.get("port", ""))),  # (SPICE's events say port)
        )

    subject = [(kind, str(client[key])) for kind, key in (("x509dname", "x509_dname"), ("saslUsername", "sasl_username"))
               if client.get(key)]  # fmt: skip
    ev = GraphicsEvent(obj.ref(), phase, address(server), address(client), str(server.get("auth", "")), subject)
    _emit(state, obj, "graphics", ev)


def _unplug_refused(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """qemuProcessHandleDeviceUnplugErr: the guest refused to let go of a device (QEMU names it when it has
    an id, which every device libvirt or pyvirt adds has)."""
    if data.get("device"):
        _emit(state, obj, "device-removal-failed", DeviceRemovalFailedEvent(obj.ref(), str(data["device"])))


def _acpi_ost(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """qemuProcessHandleAcpiOstInfo: a DIMM the guest's ACPI _OST says it could not eject (an eject request,
    0x003, or its notification, 0x103, answered with a failure status)."""
    info = data.get("info") or {}
    source, status = int(info.get("source", 0)), int(info.get("status", 0))
    if (
        info.get("device")
        and info.get("slot-type") == "DIMM"
        and source in (0x003, 0x103)
        and (status == 0x01 or 0x80 <= status <= 0x83)
    ):
        _emit(state, obj, "device-removal-failed", DeviceRemovalFailedEvent(obj.ref(), str(info["device"])))


def _memory_device_size(state: QemuState, obj: DomainObj, data: dict[str, Any]) -> None:
    """processMemoryDeviceSizeChange: a virtio-mem device's plugged size, in KiB (rounded up), into the live
    XML's ``<current>`` and the balloon's ``<currentMemory>``, then the event."""
    alias = str(data.get("id") or "")
    mems = obj.live.devices.memories if obj.live.devices is not None else []
    mem = next((m for m in mems if m.alias is not None and m.alias.name == alias), None)
    if mem is None:
        return
    size = -(-int(data.get("size", 0)) // 1024)
    old = mem.target_current.kib if mem.target_current is not None else 0
    mem.target_current = Memory(kib=size)
    if obj.live.current_memory is not None:
        obj.live.current_memory.kib += size - old
    _emit(state, obj, "memory-device-size-change", MemoryDeviceSizeChangeEvent(obj.ref(), alias, size))


QMP_EVENTS: dict[str, Callable[[QemuState, DomainObj, dict[str, Any]], None]] = {
    "RTC_CHANGE": _rtc_change,
    "WATCHDOG": _watchdog,
    "BLOCK_IO_ERROR": _io_error,
    "DEVICE_TRAY_MOVED": _tray_moved,
    "SUSPEND": _suspend,
    "SUSPEND_DISK": _suspend_disk,
    "WAKEUP": _wakeup,
    "BALLOON_CHANGE": _balloon_change,
    "MEMORY_FAILURE": _memory_failure,
    "MIGRATION_PASS": _migration_pass,
    "BLOCK_WRITE_THRESHOLD": on_write_threshold,
    "DUMP_COMPLETED": on_dump_completed,  # a memory-only dump's end (no event of libvirt's own)
    "DEVICE_UNPLUG_GUEST_ERROR": _unplug_refused,
    "ACPI_DEVICE_OST": _acpi_ost,
    "MEMORY_DEVICE_SIZE_CHANGE": _memory_device_size,
    "VNC_CONNECTED": lambda state, obj, data: _graphics(state, obj, data, 0),
    "VNC_INITIALIZED": lambda state, obj, data: _graphics(state, obj, data, 1),
    "VNC_DISCONNECTED": lambda state, obj, data: _graphics(state, obj, data, 2),
    "SPICE_CONNECTED": lambda state, obj, data: _graphics(state, obj, data, 0),
    "SPICE_INITIALIZED": lambda state, obj, data: _graphics(state, obj, data, 1),
    "SPICE_DISCONNECTED": lambda state, obj, data: _graphics(state, obj, data, 2),
}


def on_guest_event(state: QemuState, obj: DomainObj, event: str, data: dict[str, Any]) -> bool:
    """Report one QMP event as libvirt's domain event(s); False when it is not one of these."""
    handler = QMP_EVENTS.get(event)
    if handler is None:
        return False
    handler(state, obj, data)
    return True
