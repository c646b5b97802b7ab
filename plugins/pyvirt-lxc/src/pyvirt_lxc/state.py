"""The LXC driver's domains for one set of paths: definitions, running containers, events.

Every connection of a process to the same URI shares one ``LxcState``. It
loads persistent definitions and finds running containers again from their
status files (the controller's pid, checked against its command line, and
the init's); containers that ended while nobody watched are cleaned up:
cgroups removed, labels restored, status removed, transient ones forgotten.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, ShutoffReason
from pyvirt.errors import Error, ErrorDomain
from pyvirt.events import DomainEvent, Stopped
from pyvirt.local_driver.domain_table import DomainObj as BaseDomainObj
from pyvirt.local_driver.domain_table import DomainTable
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import Status, read_status, remove_status, write_status
from pyvirt.security.stack import SecurityStack
from pyvirt.util.audit import AuditGuest, AuditLevel, Auditor
from pyvirt_lxc.cgroups import ContainerCgroup
from pyvirt_lxc.process import ContainerProcess
from pyvirt_lxc.spec import ContainerSpec

__all__ = ["DomainObj", "LxcState"]

_STOPPED = {"destroyed": (Stopped.DESTROYED, ShutoffReason.DESTROYED),
            "shutdown": (Stopped.SHUTDOWN, ShutoffReason.SHUTDOWN),
            "crashed": (Stopped.CRASHED, ShutoffReason.CRASHED),
            "failed": (Stopped.FAILED, ShutoffReason.FAILED)}  # fmt: skip


@dataclass
class DomainObj(BaseDomainObj):
    process: ContainerProcess | None = None
    reboot_pending: bool = False


class LxcState(DomainTable[DomainObj]):
    def __init__(self, paths: DriverPaths, security: SecurityStack, securebits_lock: bool) -> None:
        super().__init__(paths, ErrorDomain.LXC, DomainObj)
        self.security = security
        self.securebits_lock = securebits_lock
        self.auditor = Auditor(AuditLevel.IF_AVAILABLE)
        # set by the driver: starts a container again after a reboot's init exit
        self.restart_hook: Callable[[DomainObj], None] | None = None
        self.load_configs()
        for path in sorted(glob.glob(os.path.join(self.paths.run, "*.xml"))):
            with contextlib.suppress(Error, OSError, ValueError):
                self._reconnect(path)

    def audit_guest(self, obj: DomainObj, pid: int) -> AuditGuest:
        return AuditGuest("lxc", obj.name, obj.uuid, pid)

    def save_status(self, obj: DomainObj) -> None:
        proc = obj.process
        assert proc is not None
        write_status(
            self.paths.status_xml(obj.name),
            Status(obj.state, obj.reason, proc.controller_pid, obj.id, format_domain(obj.live, 1, domain_id=obj.id),
                   {"init": {"pid": str(proc.init_pid)}}),
        )  # fmt: skip

    def _reconnect(self, status_path: str) -> None:
        st = read_status(status_path)
        live = parse_domain(st.domain_xml, live=True)
        existing = self.domains.get(live.uuid or "")
        obj = existing or DomainObj(live=live, persistent=False)
        if existing is not None:
            obj.config, obj.live = existing.live, live
        name = obj.name
        spec_file = os.path.join(self.paths.run, f"{name}.spec")
        alive = _is_our_controller(st.pid, spec_file)
        spec = None
        if alive:
            with open(spec_file, "rb") as f:
                spec = ContainerSpec.loads(f.read())
        cgroup = ContainerCgroup(name)
        if spec is None:
            # Ended while nobody watched: whatever is left on the host goes, labels come back.
            with contextlib.suppress(Error, OSError):
                cgroup.kill_all()
            cgroup.remove()
            with contextlib.suppress(Error):
                self.security.restore_all_label(live)
            with contextlib.suppress(Error):
                self.security.release_label(live)
            self.auditor.stop(self.audit_guest(obj, st.pid), "shutdown")
            remove_status(status_path)
            for leftover in (spec_file, os.path.join(self.paths.run, f"{name}.exit"),
                             os.path.join(self.paths.run, f"{name}.console")):  # fmt: skip
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            if existing is not None:
                obj.live, obj.config = existing.config or existing.live, None
                obj.state, obj.reason = DomainState.SHUTOFF, ShutoffReason.UNKNOWN
            return
        self.security.reserve_label(live, int(st.runtime.get("init", {}).get("pid", "0")))
        proc = ContainerProcess(name, st.pid, int(st.runtime["init"]["pid"]), os.pidfd_open(st.pid), cgroup, spec)
        obj.process, obj.id = proc, st.id
        self.next_id = itertools.count(max(st.id + 1, next(self.next_id)))
        obj.state, obj.reason = st.state, st.reason
        self.add(obj)
        proc.watch(lambda p: self.on_exit(obj, p))

    def on_exit(self, obj: DomainObj, proc: ContainerProcess) -> None:
        """The controller is gone: host leftovers removed, labels back, status removed, stopped event."""
        with obj.lock:
            if obj.process is not proc:
                return
            reason = proc.exit_reason()
            proc.cleanup_host()
            with contextlib.suppress(Error):
                self.security.restore_all_label(obj.live)
            with contextlib.suppress(Error):
                self.security.release_label(obj.live)
            remove_status(self.paths.status_xml(obj.name))
            ref = obj.ref()
            self.auditor.stop(self.audit_guest(obj, proc.controller_pid), "failed" if reason == "crashed" else reason)
            detail, shutoff = _STOPPED.get(reason, _STOPPED["crashed"])
            obj.process, obj.id = None, -1
            obj.state, obj.reason = DomainState.SHUTOFF, shutoff
            if obj.config is not None:
                obj.live, obj.config = obj.config, None
            reboot = obj.reboot_pending and reason == "shutdown"
            obj.reboot_pending = False
            with self.lock:
                if not obj.persistent and not reboot:
                    self.remove(obj)
            proc.cleaned.set()
            if not reboot:
                for sink in list(self.sinks):
                    sink.lifecycle(ref, DomainEvent.STOPPED, detail)
        if reboot and self.restart_hook is not None:
            self.restart_hook(obj)


def _is_our_controller(pid: int, spec_file: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return any(b"pyvirt_lxc.controller" in a for a in args) and spec_file.encode() in args
