"""The QEMU driver's domains for one set of paths: definitions on disk, running guests, events.

Every connection of a process to the same URI shares one ``QemuState``. It
loads persistent definitions from the config directory and finds running
guests again from their status files (reconnecting to QMP, re-reserving
their security labels); guests that died meanwhile are cleaned up: labels
restored, status removed, transient ones forgotten.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import Error, ErrorCode, ErrorDomain, OperationFailedError
from pyvirt.events import DomainEvent, Resumed, Shutdown, Stopped, Suspended
from pyvirt.local_driver.domain_table import DomainObj as BaseDomainObj
from pyvirt.local_driver.domain_table import DomainTable
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import Status, read_status, remove_status, write_status
from pyvirt.security.stack import SecurityStack
from pyvirt.util.audit import AuditGuest, AuditLevel, Auditor
from pyvirt_qemu.graphics import GraphicsConfig
from pyvirt_qemu.guest_agent import agent_channel
from pyvirt_qemu.hotplug import DeletedDevices
from pyvirt_qemu.master_key import guest_private_dir, remove_master_key
from pyvirt_qemu.memory_backends import HugetlbfsMount, remove_hugepage_dirs
from pyvirt_qemu.monitor import Monitor
from pyvirt_qemu.process import QemuProcess, shared_monitor_path
from pyvirt_qemu.swtpm import stop_swtpm
from pyvirt_qemu.volume_disks import apply_volume_paths, volume_paths

__all__ = ["DomainObj", "QemuState"]


@dataclass
class DomainObj(BaseDomainObj):
    process: QemuProcess | None = None
    # QMP events our own commands will cause (stop -> STOP, cont -> RESUME): already accounted for.
    expected: dict[str, int] = field(default_factory=dict)
    deleted: DeletedDevices = field(default_factory=DeletedDevices)  # DEVICE_DELETED, for detach
    agent_open: bool = False  # the guest has the guest-agent port open (VSERPORT_CHANGE)
    fake_reboot: bool = False  # an ACPI reboot: the guest's power-off restarts it instead of ending QEMU

    def expect(self, event: str) -> None:
        self.expected[event] = self.expected.get(event, 0) + 1


class QemuState(DomainTable[DomainObj]):
    def __init__(self, paths: DriverPaths, security: SecurityStack, qemu_uid: int, qemu_gid: int = 0) -> None:
        super().__init__(paths, ErrorDomain.QEMU, DomainObj)
        self.security = security
        self.qemu_uid, self.qemu_gid = qemu_uid, qemu_gid
        self.graphics_cfg = GraphicsConfig()  # qemu.conf's display settings (set by the driver)
        self.hugepage_mounts: list[HugetlbfsMount] | None = None  # qemu.conf's hugetlbfs_mount (None: /proc/mounts)
        self.auditor = Auditor(AuditLevel.IF_AVAILABLE)
        self._load()

    def audit_guest(self, obj: DomainObj, pid: int) -> AuditGuest:
        return AuditGuest(obj.live.type or "kvm", obj.name, obj.uuid, pid)

    def audit_start(self, obj: DomainObj, pid: int, success: bool) -> None:
        """libvirt's start records: every disk, NIC, memory and vCPUs, labels, then the start itself."""
        g, dom = self.audit_guest(obj, pid), obj.live
        if dom.devices is not None:
            for disk in dom.devices.disks:
                self.auditor.disk(g, None, disk.source_path, "start", success)
            for nic in dom.devices.interfaces:
                self.auditor.net(g, None, nic.mac, "start", success)
        for mac, path in obj.process.opened if obj.process is not None else []:
            self.auditor.net_device_open(g, mac, path, success)
        if dom.memory is not None:
            self.auditor.memory(g, 0, dom.memory.kib, "start", success)
        if dom.vcpu is not None:
            self.auditor.vcpu(g, 0, dom.vcpu.count or 1, "start", success)
        for sl in dom.seclabels or []:
            self.auditor.security_label(g, sl.model, sl.label, sl.imagelabel, success)
        self.auditor.start(g, "booted", success)

    # ------------------------------------------------------------------ disk
    def save_status(self, obj: DomainObj) -> None:
        assert obj.process is not None
        write_status(
            self.paths.status_xml(obj.name),
            Status(
                obj.state,
                obj.reason,
                obj.process.pid,
                obj.id,
                format_domain(obj.live, 1, domain_id=obj.id),
                {
                    "monitor": {
                        "path": self.paths.monitor(obj.name),
                        "shared": shared_monitor_path(self.paths, obj.name),
                    },
                    **({"volumes": paths} if (paths := volume_paths(obj.live)) else {}),
                    **(
                        {"memory": {"hugepage-dirs": json.dumps(obj.process.hugepage_dirs)}}
                        if obj.process.hugepage_dirs
                        else {}
                    ),
                },
            ),
        )

    def _load(self) -> None:
        self.load_configs()
        for path in sorted(glob.glob(os.path.join(self.paths.run, "*.xml"))):
            with contextlib.suppress(Error, OSError):
                self._reconnect(path)

    def _reconnect(self, status_path: str) -> None:
        st = read_status(status_path)
        live = parse_domain(st.domain_xml, live=True)
        apply_volume_paths(live, st.runtime.get("volumes", {}))
        hugepage_dirs: list[str] = json.loads(st.runtime.get("memory", {}).get("hugepage-dirs", "[]"))
        existing = self.domains.get(live.uuid or "")
        obj = existing or DomainObj(live=live, persistent=False)
        if existing is not None:
            obj.config, obj.live = existing.live, live
        if not _is_our_qemu(st.pid, obj.name):
            # Died while nobody watched: give the labels back, forget the runtime state.
            with contextlib.suppress(Error):
                self.security.restore_all_label(live)
            with contextlib.suppress(Error):
                self.security.release_label(live)
            remove_hugepage_dirs(hugepage_dirs)
            remove_status(status_path)
            if existing is not None:
                obj.live, obj.config = existing.config or existing.live, None
                obj.state, obj.reason = DomainState.SHUTOFF, ShutoffReason.CRASHED
            return
        self.security.reserve_label(live, st.pid)
        monitor = Monitor(obj.name, on_event=lambda ev, data: self.on_qmp_event(obj, ev, data),
                          on_eof=lambda: None)  # fmt: skip
        monitor_path = st.runtime.get("monitor", {}).get("path", "")
        try:
            if Monitor.held_by_another(monitor_path):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, "the monitor is held by another process")
            # a free monitor greets at once; a held one never does (its client keeps it)
            monitor.connect(monitor_path, timeout=1)
        except Error:
            # Another process is talking to this QEMU (QMP takes one client): show what its status file says;
            # commands fail with libvirt's "cannot acquire state change lock" until that process lets go.
            monitor.held_elsewhere = True
            shared = st.runtime.get("monitor", {}).get("shared")
            if shared:
                monitor.shared = (shared, f"{shared}.lock")
        pidfd = os.pidfd_open(st.pid)
        obj.process = QemuProcess(obj.name, st.pid, pidfd, monitor, hugepage_dirs=hugepage_dirs)
        obj.id = st.id
        self.next_id = itertools.count(max(st.id + 1, next(self.next_id)))
        if monitor.held_elsewhere:
            obj.state, obj.reason = st.state, st.reason
        else:
            status = monitor.execute("query-status")
            running = bool(status.get("running")) if isinstance(status, dict) else True
            obj.state = DomainState.RUNNING if running else DomainState.PAUSED
            obj.reason = st.reason if obj.state == st.state else 0
        self.add(obj)
        obj.process.watch(lambda proc: self.on_exit(obj, proc))

    # ------------------------------------------------------------------ runtime events
    def on_qmp_event(self, obj: DomainObj, event: str, data: dict[str, Any]) -> None:
        if event == "VSERPORT_CHANGE":
            channel = agent_channel(obj.live)
            if channel is not None and channel.alias is not None and data.get("id") == channel.alias.name:
                obj.agent_open = bool(data.get("open"))
            return
        if event == "DEVICE_DELETED" and data.get("device"):
            obj.deleted.notify(str(data["device"]))  # without the lock: a detach waits for this while holding it
            return
        with obj.lock:
            if obj.process is None:
                return
            if obj.expected.get(event, 0) > 0:
                obj.expected[event] -= 1
                return
            if event == "SHUTDOWN" and obj.process.stop_reason == "destroyed":
                return  # our own SIGTERM: destroy reports STOPPED DESTROYED only
            if event == "GUEST_PANICKED":
                obj.state, obj.reason = DomainState.CRASHED, 1  # VIR_DOMAIN_CRASHED_PANICKED
                self.emit(obj, DomainEvent.CRASHED, 0)  # VIR_DOMAIN_EVENT_CRASHED_PANICKED
                # QEMU was told to pause on a panic (set-action): <on_crash> decides what follows
                proc = obj.process
                action = obj.live.on_crash or "destroy"
                if action == "destroy":
                    proc.stop_reason = "panicked"
                    threading.Thread(target=proc.kill, daemon=True).start()
                elif action == "restart":
                    obj.state, obj.reason = DomainState.RUNNING, RunningReason.BOOTED
                    threading.Thread(target=_restart_guest, args=(proc,), daemon=True).start()
            elif event == "STOP" and obj.state == DomainState.RUNNING:
                # not ours (we expect our own stops): a KVM internal error, another monitor client, ...
                # libvirt reports these as paused for an unknown reason
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.UNKNOWN
                self.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
            elif event == "RESUME" and obj.state == DomainState.PAUSED:
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
                self.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)
            elif event == "SHUTDOWN" and (obj.fake_reboot or (data.get("guest") and obj.live.on_poweroff == "restart")):
                # libvirt's ACPI reboot, or <on_poweroff>restart: the guest powered off, QEMU (-no-shutdown)
                # waits; start it again
                obj.fake_reboot = False
                proc = obj.process
                threading.Thread(target=_restart_guest, args=(proc,), daemon=True).start()
            elif event == "SHUTDOWN":
                guest = bool(data.get("guest"))
                obj.state, obj.reason = DomainState.SHUTDOWN, 1
                self.emit(obj, DomainEvent.SHUTDOWN, Shutdown.GUEST if guest else Shutdown.HOST)
                obj.process.stop_reason = obj.process.stop_reason or "shutdown"
                proc = obj.process
                threading.Thread(target=proc.kill, daemon=True).start()  # -no-shutdown: we end QEMU ourselves
            if obj.process is not None and obj.process.alive():
                with contextlib.suppress(Exception):
                    self.save_status(obj)

    def on_exit(self, obj: DomainObj, proc: QemuProcess) -> None:
        """The QEMU process is gone: labels back, status removed, stopped event with the reason."""
        with obj.lock:
            if obj.process is not proc:
                return
            proc.monitor.close()
            reason = proc.stop_reason or "crashed"
            detail = {"destroyed": Stopped.DESTROYED, "shutdown": Stopped.SHUTDOWN, "saved": Stopped.SAVED,
                      "from_snapshot": Stopped.FROM_SNAPSHOT, "panicked": Stopped.CRASHED}.get(reason, Stopped.FAILED)  # fmt: skip
            shutoff = {
                "destroyed": ShutoffReason.DESTROYED, "shutdown": ShutoffReason.SHUTDOWN, "saved": ShutoffReason.SAVED,
                "from_snapshot": ShutoffReason.FROM_SNAPSHOT,
            }.get(reason, ShutoffReason.CRASHED)  # fmt: skip
            with contextlib.suppress(Error):
                self.security.restore_all_label(obj.live)
            with contextlib.suppress(Error):
                self.security.release_label(obj.live)
            remove_status(self.paths.status_xml(obj.name))
            shared = shared_monitor_path(self.paths, obj.name)
            monitor_path = self.paths.monitor(obj.name)
            for stale in (
                monitor_path,
                f"{monitor_path}.owner",
                self.paths.pidfile(obj.name),
                shared,
                f"{shared}.lock",
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
            remove_master_key(guest_private_dir(self.paths.lib, obj.name))
            stop_swtpm(self.paths, obj.name)
            remove_hugepage_dirs(proc.hugepage_dirs)
            ref = obj.ref()
            self.auditor.stop(self.audit_guest(obj, proc.pid), reason if reason != "crashed" else "failed")
            obj.process = None
            obj.id = -1
            obj.state, obj.reason = DomainState.SHUTOFF, shutoff
            if obj.config is not None:
                obj.live, obj.config = obj.config, None
            with self.lock:
                if not obj.persistent:
                    self.remove(obj)
            proc.cleaned.set()
            for sink in list(self.sinks):
                sink.lifecycle(ref, DomainEvent.STOPPED, detail)


def _restart_guest(proc: QemuProcess) -> None:
    with contextlib.suppress(Exception):
        proc.monitor.execute("system_reset")
        proc.monitor.execute("cont")


def _is_our_qemu(pid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return f"guest={name},debug-threads=on".encode() in args
