"""The LXC driver's domains for one set of paths: definitions, running containers, events.

Every connection of a process to the same URI shares one ``LxcState``. It
loads persistent definitions and finds running containers again from their
status files (the controller's pid, checked against its command line, and
the init's); containers that ended while nobody watched are cleaned up:
cgroups removed, labels restored, status removed, transient ones forgotten.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.domain_state import DomainState, ShutoffReason
from pyvirt.errors import Error, ErrorDomain
from pyvirt.events import DomainEvent, Stopped
from pyvirt.local_driver.domain_jobs import DomainJobs
from pyvirt.local_driver.domain_table import DomainObj as BaseDomainObj
from pyvirt.local_driver.domain_table import DomainTable
from pyvirt.local_driver.names import definition_files
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import Status, read_status, remove_status, write_status
from pyvirt.security.stack import SecurityStack
from pyvirt.util.audit import AuditGuest, AuditLevel, Auditor
from pyvirt_lxc.cgroups import ContainerCgroup
from pyvirt_lxc.controller import read_exit_file
from pyvirt_lxc.process import ContainerProcess, hold_records, release_records, remove_run_files
from pyvirt_lxc.spec import ContainerSpec
from pyvirt_lxc.veth import delete_host_ends

__all__ = ["DomainObj", "LxcState"]

_STOPPED = {"destroyed": (Stopped.DESTROYED, ShutoffReason.DESTROYED),
            "shutdown": (Stopped.SHUTDOWN, ShutoffReason.SHUTDOWN),
            "crashed": (Stopped.CRASHED, ShutoffReason.CRASHED),
            "failed": (Stopped.FAILED, ShutoffReason.FAILED)}  # fmt: skip


@dataclass
class DomainObj(BaseDomainObj):
    process: ContainerProcess | None = None
    reboot_pending: bool = False
    # libvirt's per-domain jobs: what serializes starts, stops and changes (``lock`` guards data only)
    job: DomainJobs = field(default_factory=DomainJobs)


class LxcState(DomainTable[DomainObj]):
    def __init__(self, paths: DriverPaths, security: SecurityStack, securebits_lock: bool) -> None:
        super().__init__(paths, ErrorDomain.LXC, DomainObj)
        self.security = security
        self.securebits_lock = securebits_lock
        self.auditor = Auditor(AuditLevel.IF_AVAILABLE)
        # set by the driver: starts a container again after a reboot's init exit
        self.restart_hook: Callable[[DomainObj], None] | None = None
        # Readable once close() starts: every watcher thread selects on it beside its pidfd, so the
        # last connection's close ends them all (each open would otherwise leave a thread and a pidfd).
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)
        self._watchers: set[threading.Thread] = set()
        self._watchers_lock = threading.Lock()
        self.closing = False
        try:
            self.load_configs()
            for _name, path in definition_files(self.paths.run):  # dotfiles too: a guest may be called ".x"
                with contextlib.suppress(Error, OSError, ValueError):
                    self._reconnect(path)
        except BaseException:
            self.close()  # an open that fails (a broken definition) keeps nothing either
            raise

    def audit_guest(self, obj: DomainObj, pid: int) -> AuditGuest:
        return AuditGuest("lxc", obj.name, obj.uuid, pid)

    def remove(self, obj: DomainObj) -> None:
        """Out of the table: whoever still waits for one of its jobs fails with libvirt's "no domain"."""
        super().remove(obj)
        obj.job.mark_removed(obj.uuid, obj.name)

    def save_status(self, obj: DomainObj) -> None:
        proc = obj.process
        assert proc is not None
        write_status(
            self.paths.status_xml(obj.name),
            Status(obj.state, obj.reason, proc.controller_pid, obj.id, format_domain(obj.live, 1, domain_id=obj.id),
                   {"init": {"pid": str(proc.init_pid)}}),
        )  # fmt: skip

    # ------------------------------------------------------------------ watching containers
    def watch(self, obj: DomainObj, proc: ContainerProcess) -> None:
        """Clean up after ``proc`` (and tell the connections) once its controller exits."""

        def on_exit(p: ContainerProcess) -> None:
            try:
                self.on_exit(obj, p)
            finally:
                with self._watchers_lock:
                    self._watchers.discard(threading.current_thread())

        with self._watchers_lock:
            self._watchers.add(proc.watch(on_exit, self._stop_r))

    def close(self) -> None:
        """The last connection of this process is gone: stop watching, release every descriptor.

        Containers keep running (their controllers own them). A container
        that ends after this is cleaned up by whichever process next opens
        the driver, from its status file and exit record.
        """
        self.closing = True
        self.restart_hook = None
        os.write(self._stop_w, b"x")  # never read: it stays readable for every watcher, late ones too
        while True:
            with self._watchers_lock:
                others = [t for t in self._watchers if t is not threading.current_thread()]
                self._watchers.difference_update(others)
            if not others:
                break
            for thread in others:
                thread.join()
        # a watcher closing the last connection from an event callback is past its select already
        os.close(self._stop_w)
        os.close(self._stop_r)
        self.auditor.close()

    # ------------------------------------------------------------------ finding containers again
    def _reconnect(self, status_path: str) -> None:
        st = read_status(status_path)
        live = parse_domain(st.domain_xml, live=True)
        existing = self.domains.get(live.uuid or "")
        obj = existing or DomainObj(live=live, persistent=False)
        if existing is not None:
            obj.config, obj.live = existing.live, live
        name = obj.name
        spec_file = os.path.join(self.paths.run, f"{name}.spec")
        if not _is_our_controller(st.pid, spec_file):
            self._clean_up_after(obj, existing is not None, st.pid, status_path)
            return
        with open(spec_file, "rb") as f:
            spec = ContainerSpec.loads(f.read())
        self.security.reserve_label(live, int(st.runtime.get("init", {}).get("pid", "0")))
        pidfd = os.pidfd_open(st.pid)
        try:
            hold = hold_records(self.paths.run, name)
        except BaseException:
            os.close(pidfd)
            raise
        proc = ContainerProcess(name, st.pid, int(st.runtime["init"]["pid"]), pidfd, ContainerCgroup(name), spec,
                                hold=hold)  # fmt: skip
        obj.process, obj.id = proc, st.id
        self.next_id = itertools.count(max(st.id + 1, next(self.next_id)))
        obj.state, obj.reason = st.state, st.reason
        self.add(obj)
        self.watch(obj, proc)

    def _clean_up_after(self, obj: DomainObj, persistent: bool, controller_pid: int, status_path: str) -> None:
        """A container that ended while no process watched it: everything of it goes, its end is reported.

        The reason is the one a watching process would have given (the
        controller's exit record; none at all means the controller itself was
        killed: a crash), so ``domstate --reason`` does not depend on who was
        looking when it happened.
        """
        name = obj.name
        reason = read_exit_file(os.path.join(self.paths.run, f"{name}.exit"))[0]
        spec: ContainerSpec | None = None
        with contextlib.suppress(Exception), open(os.path.join(self.paths.run, f"{name}.spec"), "rb") as f:
            spec = ContainerSpec.loads(f.read())
        cgroup = ContainerCgroup(name)
        with contextlib.suppress(Error, OSError):
            cgroup.kill_all()  # the init outlives a killed controller
        cgroup.remove()
        if spec is not None:
            with contextlib.suppress(Error, OSError):
                delete_host_ends(spec.nics)
        remove_run_files(self.paths.run, name)
        release_records(self.paths.run, name)  # unless a process still watching needs them
        with contextlib.suppress(Error):
            self.security.restore_all_label(obj.live)
        with contextlib.suppress(Error):
            self.security.release_label(obj.live)
        self.auditor.stop(self.audit_guest(obj, controller_pid), "failed" if reason == "crashed" else reason)
        remove_status(status_path)
        if persistent:
            obj.live, obj.config = obj.config or obj.live, None
            obj.state, obj.reason = DomainState.SHUTOFF, _STOPPED.get(reason, _STOPPED["crashed"])[1]

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
            reboot = obj.reboot_pending and reason == "shutdown" and not self.closing
            obj.reboot_pending = False
            with self.lock:
                if not obj.persistent and not reboot:
                    self.remove(obj)
            proc.cleaned.set()
            if not reboot:
                for sink in list(self.sinks):
                    sink.lifecycle(ref, DomainEvent.STOPPED, detail)
        hook = self.restart_hook
        if reboot and hook is not None:
            hook(obj)


def _is_our_controller(pid: int, spec_file: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return any(b"pyvirt_lxc.controller" in a for a in args) and spec_file.encode() in args
