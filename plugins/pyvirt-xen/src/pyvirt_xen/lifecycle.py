"""Running Xen guests through xl: start, destroy, shutdown, pause/unpause, and the state libvirt reports.

The driver's view of a running guest is kept as libvirt's libxl driver keeps
it (id, state, reason, the live definition, a status file in the run
directory) and is checked against the hypervisor's own list (``xl list``)
whenever a caller asks for state, info or the domain list. A guest that has
left the list since (it powered off, or xl's monitor destroyed it after a
crash) is recorded as shut off then, with its STOPPED event. On a Xen host
that check also runs whenever xenstore fires ``@releaseDomain``
(:mod:`pyvirt_xen.watch`), so the events come as the guests stop.

A start labels the guest's files through the security stack before xl
runs and a stop gives them back (:mod:`pyvirt_xen.labels`).

Errors use libvirt's codes and wording (``libxl_driver.c``), followed by
xl's reason for the failure.
"""

from __future__ import annotations

import contextlib
import os
import time

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import ErrorCode, OperationInvalidError
from pyvirt.events import DomainEvent, Resumed, Started, Stopped, Suspended
from pyvirt.flags import DomainCreateFlags, DomainRebootFlags, DomainShutdownFlags
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.local_driver.status_file import Status, atomic_write, read_status, write_status
from pyvirt.plugin.flags import check_flags
from pyvirt_xen.labels import find_monitor, hand_over, label_guest, unlabel_guest
from pyvirt_xen.state import XenState, audit_guest
from pyvirt_xen.to_native import domain_xml_to_xl
from pyvirt_xen.watch import ReleaseWatch
from pyvirt_xen.xl import XlDomain, require_xl, run_xl, xl_create, xl_list

__all__ = [
    "audit_start",
    "config_path",
    "destroy",
    "reboot",
    "reconnect",
    "record_stopped",
    "refresh",
    "resume",
    "shutdown",
    "start",
    "suspend",
    "watch_releases",
    "write_status_file",
]

START_PAUSED = DomainCreateFlags.START_PAUSED
SHUTDOWN_ACPI_POWER_BTN = DomainShutdownFlags.ACPI_POWER_BTN
SHUTDOWN_PARAVIRT = DomainShutdownFlags.PARAVIRT
REBOOT_PARAVIRT = DomainRebootFlags.PARAVIRT
# how long a guest whose xl monitor still runs may be missing from xl's list before it counts as stopped
REBOOT_GRACE = 60.0


def _check_active(obj: DomainObj) -> None:
    if not obj.active:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")


def config_path(state: XenState, name: str) -> str:
    """Where the xl.cfg of a running guest is kept (the run directory, beside its status file)."""
    return os.path.join(state.paths.run, f"{name}.cfg")


def write_status_file(state: XenState, obj: DomainObj) -> None:
    write_status(
        state.paths.status_xml(obj.name),
        Status(obj.state, obj.reason, 0, obj.id, format_domain(obj.live, 0, domain_id=obj.id)),
    )


_STOP_AUDIT = {ShutoffReason.SHUTDOWN: "shutdown", ShutoffReason.DESTROYED: "destroyed",
               ShutoffReason.CRASHED: "crashed", ShutoffReason.SAVED: "saved"}  # fmt: skip


def audit_start(state: XenState, obj: DomainObj, reason: str, success: bool) -> None:
    """virDomainAuditStart: the guest's disks, NICs, memory and vCPUs, then the start itself."""
    g, d = audit_guest(obj), obj.live
    if success:
        for disk in d.devices.disks if d.devices is not None else ():
            state.auditor.disk(g, None, disk.source_path, "start", True)
        for nic in d.devices.interfaces if d.devices is not None else ():
            state.auditor.net(g, None, nic.mac, "start", True)
        state.auditor.memory(g, 0, d.memory.kib if d.memory is not None else 0, "start", True)
        state.auditor.vcpu(g, 0, (d.vcpu.count or 1) if d.vcpu is not None else 1, "start", True)
    state.auditor.start(g, reason, success)


def record_stopped(state: XenState, obj: DomainObj, reason: int) -> None:
    """The guest is gone: shut off, its files' labels given back, its runtime files removed, a transient one
    forgotten.

    Several processes may follow one guest (each finds it from its status
    file); the one that removes the status file is the one that gives the
    labels back. A second restore would find nothing remembered and fall
    back to root's ownership, as libvirt's DAC driver does.
    """
    state.auditor.stop(audit_guest(obj), _STOP_AUDIT.get(ShutoffReason(reason), "unknown"))
    try:
        os.unlink(state.paths.status_xml(obj.name))
    except FileNotFoundError:
        pass  # another process recorded this stop, labels included
    else:
        unlabel_guest(state, obj.live)
    obj.id, obj.state, obj.reason = -1, DomainState.SHUTOFF, reason
    state.missing.pop(obj.uuid, None)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(config_path(state, obj.name))
    if obj.config is not None:
        obj.live, obj.config = obj.config, None
    if not obj.persistent:
        state.remove(obj)


def start(state: XenState, obj: DomainObj, flags: int) -> None:
    """``xl create`` of the xl.cfg generated from the persistent definition; running (or paused) after."""
    check_flags(flags, START_PAUSED, "libxlDomainCreateWithFlags")
    with obj.lock:
        if obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "Domain is already running")
        persistent = obj.live  # (the persistent definition, or what a create of a defined domain runs)
        xml = format_domain(persistent, 2)
        live = parse_domain(xml)  # the running copy, changed by live updates and labels, not the definition
        require_xl()
        cfg = config_path(state, obj.name)
        atomic_write(cfg, domain_xml_to_xl(xml).encode(), 0o600)
        try:
            label_guest(state, live)
        except BaseException:
            os.unlink(cfg)
            audit_start(state, obj, "booted", False)
            raise
        try:
            domid = xl_create(cfg, obj.name, paused=bool(flags & START_PAUSED))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(cfg)
            unlabel_guest(state, live)
            audit_start(state, obj, "booted", False)
            raise
        if obj.persistent:
            obj.config = obj.config or persistent  # (add_definition kept a defined one's)
        obj.live = live
        hand_over(state, live, cfg)
        obj.id = domid
        if flags & START_PAUSED:
            obj.state, obj.reason = DomainState.PAUSED, PausedReason.USER
        else:
            obj.state, obj.reason = DomainState.RUNNING, RunningReason.BOOTED
        write_status_file(state, obj)
        audit_start(state, obj, "booted", True)
    watch_releases(state)
    state.emit(obj, DomainEvent.STARTED, Started.BOOTED)
    if flags & START_PAUSED:
        state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)


def destroy(state: XenState, obj: DomainObj, flags: int) -> None:
    check_flags(flags, 0, "libxlDomainDestroyFlags")
    with obj.lock:
        _check_active(obj)
        run_xl("destroy", str(obj.id), failure=f"Failed to destroy domain '{obj.id}'")
        record_stopped(state, obj, ShutoffReason.DESTROYED)
    state.emit(obj, DomainEvent.STOPPED, Stopped.DESTROYED)


def shutdown(state: XenState, obj: DomainObj, flags: int) -> None:
    """Ask the guest to power off: PV control (xenstore), ACPI power button as libvirt's fallback for HVM.

    Returns once asked, as libvirt does; the guest leaving ``xl list`` later
    is noticed by :func:`refresh`.
    """
    check_flags(flags, SHUTDOWN_ACPI_POWER_BTN | SHUTDOWN_PARAVIRT, "libxlDomainShutdownFlags")
    flags = flags or (SHUTDOWN_ACPI_POWER_BTN | SHUTDOWN_PARAVIRT)
    with obj.lock:
        _check_active(obj)
        failure = f"Failed to shutdown domain '{obj.id}' with libxenlight"
        if flags & SHUTDOWN_PARAVIRT:
            # -F: xl falls back to the ACPI power button when the guest has no PV control, as libvirt does
            run_xl("shutdown", *(["-F"] if flags & SHUTDOWN_ACPI_POWER_BTN else []), str(obj.id), failure=failure)
        else:
            run_xl("trigger", str(obj.id), "power", failure=failure)


def reboot(state: XenState, obj: DomainObj, flags: int) -> None:
    """Ask the guest to reboot (PV control); xl's monitor rebuilds it under a new id, seen by :func:`refresh`."""
    check_flags(flags, REBOOT_PARAVIRT, "libxlDomainReboot")
    with obj.lock:
        _check_active(obj)
        run_xl("reboot", str(obj.id), failure=f"Failed to reboot domain '{obj.id}' with libxenlight")


def suspend(state: XenState, obj: DomainObj) -> None:
    with obj.lock:
        _check_active(obj)
        if obj.state == DomainState.PAUSED:
            return
        run_xl("pause", str(obj.id), failure=f"Failed to suspend domain '{obj.id}' with libxenlight")
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.USER
        write_status_file(state, obj)
    state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)


def resume(state: XenState, obj: DomainObj) -> None:
    with obj.lock:
        _check_active(obj)
        if obj.state != DomainState.PAUSED:
            return
        run_xl("unpause", str(obj.id), failure=f"Failed to resume domain '{obj.id}' with libxenlight")
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
        write_status_file(state, obj)
    state.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)


def _monitor_alive(state: XenState, obj: DomainObj) -> bool:
    """The ``xl create``/``xl restore`` process left to watch the guest still runs (its argv names our xl.cfg)."""
    return find_monitor(config_path(state, obj.name)) is not None


def _apply(state: XenState, obj: DomainObj, seen: XlDomain | None) -> bool:
    """Record what ``xl list`` says of one running guest; True when it has stopped (event to emit).

    A guest listed as shut down or dying is on its way out (xl's monitor
    applies ``on_poweroff``/``on_crash``): it is reported in libvirt's
    "being shut down" state until it leaves the list. A guest listed under
    its name with another id was restarted by xl's monitor (a reboot): it
    keeps running under the new id. Between xl's destroy and its re-create
    the name is missing from the list; so a missing guest whose xl monitor
    still runs is not over yet (being rebuilt, or its monitor finishing):
    it is checked again later (``state.unsettled``), for up to
    :data:`REBOOT_GRACE` seconds, rather than reported stopped.
    """
    if seen is not None and seen.id != obj.id and not seen.shut_down:
        # xl's monitor applied on_reboot/on_crash 'restart': the same guest, rebuilt under a new id
        obj.id, obj.state, obj.reason = seen.id, DomainState.RUNNING, RunningReason.BOOTED
        state.missing.pop(obj.uuid, None)
        write_status_file(state, obj)
        return False
    if seen is None:
        since = state.missing.setdefault(obj.uuid, time.monotonic())
        if time.monotonic() - since < REBOOT_GRACE and _monitor_alive(state, obj):
            state.unsettled = True
            return False
    if seen is None or seen.id != obj.id:
        record_stopped(
            state, obj, ShutoffReason.CRASHED if obj.state == DomainState.CRASHED else ShutoffReason.SHUTDOWN
        )
        return True
    if seen.crashed:
        obj.state, obj.reason = DomainState.CRASHED, 0
    elif seen.shut_down:
        obj.state, obj.reason = DomainState.SHUTDOWN, 0
    elif seen.paused and obj.state != DomainState.PAUSED:
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.UNKNOWN
    elif not seen.paused and obj.state == DomainState.PAUSED:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
    return False


def refresh(state: XenState, objs: list[DomainObj]) -> dict[str, XlDomain]:
    """Bring the running guests among ``objs`` in line with ``xl list`` (one xl run for all of them).

    Returns what ``xl list`` showed, by name (empty when none of ``objs`` runs: then xl is not run).
    """
    running = [o for o in objs if o.active]
    if not running:
        return {}
    seen = {d.name: d for d in xl_list()}
    stopped = []
    for obj in running:
        with obj.lock:
            if obj.active and _apply(state, obj, seen.get(obj.name)):
                stopped.append(obj)
    for obj in stopped:
        state.emit(
            obj, DomainEvent.STOPPED, Stopped.SHUTDOWN if obj.reason == ShutoffReason.SHUTDOWN else Stopped.CRASHED
        )
    return seen


def reconnect(state: XenState) -> None:
    """Guests started by an earlier process: their status files, checked against ``xl list``.

    Without status files nothing runs ``xl``, so a host without Xen (converting
    configurations only) never needs it.
    """
    found = []
    for entry in sorted(os.listdir(state.paths.run)):
        if not entry.endswith(".xml"):
            continue
        st = read_status(os.path.join(state.paths.run, entry))
        live = parse_domain(st.domain_xml)
        obj = state.domains.get(live.uuid or "")
        if obj is None:
            obj = state.new_obj(live, persistent=False)
            state.add(obj)
        else:
            obj.config, obj.live = obj.live, live
        obj.id, obj.state, obj.reason = st.id, st.state, st.reason
        found.append(obj)
    refresh(state, found)
    if any(o.active for o in found):
        watch_releases(state)


def watch_releases(state: XenState) -> None:
    """Learn of stopped guests from xenstore from now on (idempotent; see :mod:`pyvirt_xen.watch`)."""
    if state.release_watch is None:

        def check() -> bool:
            state.unsettled = False
            refresh(state, list(state.domains.values()))
            return state.unsettled

        state.release_watch = ReleaseWatch(check)
    state.release_watch.start()
