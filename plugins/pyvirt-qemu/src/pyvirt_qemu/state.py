"""The QEMU driver's domains for one set of paths: definitions on disk, running guests, events.

Every connection of a process to the same URI shares one ``QemuState``. It
loads persistent definitions from the config directory and finds running
guests again from their status files (reconnecting to QMP, re-reserving
their security labels); guests that died meanwhile are cleaned up: labels
restored, status and runtime files removed, transient ones forgotten, and
the others reported "shut off (crashed)" as libvirt does.

Operations on one domain are serialized by its jobs (``obj.job``, libvirt's
model, see ``pyvirt.local_driver.domain_jobs``); the domain's data lock
(``obj.lock``) is only held for short updates of its state, never across a
wait for QEMU. Several processes may share one set of paths (embedded mode,
or pyvirsh beside a program), so a start is a cross-process affair: its job
(async job "start") also holds ``run/NAME.lock`` (flock) for the whole start
and writes libvirt's "paused, starting up" status before its first side
effect, then again with the pid as soon as QEMU exists. Whoever takes the lock later and still finds "starting
up" knows the starter died mid-way: it kills the half-started QEMU and undoes
the start, as libvirt's reconnect kills a domain it finds mid-start. A
finished start is adopted (reconnected) instead, so a second start in another
process fails with "domain is already running" rather than launching a
second QEMU.

All of that cross-process care is for ``?mode=direct`` and embedded URIs
used by several processes at once. pyvirtd owns its paths alone, as
libvirtd's QEMU driver does (it holds ``run/driver.pid`` locked for its
life): the daemon's state takes that file exclusively and then drops the
care (no per-domain start lock, no monitor owner lock, no second monitor on
the guests it starts); every other process takes it shared, and is refused
with libvirt's "Failed to acquire pid file" while a daemon owns the paths.
A daemon that finds other processes on its paths at start shares them, as
they do, for its whole life.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import format_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import Error, ErrorCode, ErrorDomain, OperationFailedError, SystemCallError
from pyvirt.events import ControlErrorEvent, DomainEvent, Resumed, Shutdown, Stopped, Suspended
from pyvirt.local_driver.domain_jobs import AsyncJob, DomainJobs, file_lock, try_lock_file, unlock_file
from pyvirt.local_driver.domain_table import DomainObj as BaseDomainObj
from pyvirt.local_driver.domain_table import DomainTable
from pyvirt.local_driver.names import definition_files
from pyvirt.local_driver.network_nics import release_network_ports
from pyvirt.local_driver.nwfilter_nics import unbind_nic_filters
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import Status, read_status, remove_status, write_status
from pyvirt.security.stack import SecurityStack
from pyvirt.util.audit import AuditGuest, AuditLevel, Auditor
from pyvirt_qemu.backup_def import BackupTls
from pyvirt_qemu.block_chain import runtime as chain_runtime
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.checkpoints import CheckpointStore
from pyvirt_qemu.graphics import GraphicsConfig, parse_status_domain, status_domain_xml
from pyvirt_qemu.guest_agent import agent_channel
from pyvirt_qemu.hotplug import DeletedDevices
from pyvirt_qemu.master_key import guest_private_dir, remove_master_key
from pyvirt_qemu.memory_backends import HugetlbfsMount, remove_hugepage_dirs
from pyvirt_qemu.monitor import Monitor
from pyvirt_qemu.network_disks import NbdTls
from pyvirt_qemu.process import QemuProcess, pidfd_exited, set_owned_alone, shared_monitor_path
from pyvirt_qemu.qmp_events import on_guest_event
from pyvirt_qemu.snapshots import SnapshotStore
from pyvirt_qemu.swtpm import stop_swtpm
from pyvirt_qemu.transient_disks import remove_transient_overlays
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
    job: DomainJobs = field(default_factory=lambda: DomainJobs(error_domain=ErrorDomain.QEMU))
    # A start under way before its QEMU is adopted (``process`` is still None): the QEMU's pid once it
    # exists, and whether a destroy came meanwhile (the start then ends itself at its next step).
    starting_pid: int = 0
    start_destroyed: bool = False
    # An outgoing migration's ``<job>`` in the status file (async job and phase, libvirt's names), so that a
    # daemon that dies mid-migration is followed by one that finishes it (pyvirt_qemu.migration_recovery.recover).
    migration_job: dict[str, str] | None = None
    # block copies running, by disk target (pyvirt_qemu.block_jobs): QEMU's events end them
    block_jobs: dict[str, Any] = field(default_factory=dict)
    # <clock offset='variable'>'s adjustment when this QEMU (the pid) started: libvirt's adjustment0, what
    # QEMU's RTC_CHANGE offsets add to (pyvirt_qemu.qmp_events)
    rtc_adjustment0: tuple[int, int] | None = None
    # migrate-setspeed's MiB/s (libvirt's priv->migMaxBandwidth, kept in memory only as libvirt does): what a
    # migration without its own bandwidth runs at, and what QEMU gets back after a save (pyvirt_qemu.migration_speed)
    mig_max_bandwidth: int = (2**63 - 1) // (1 << 20)  # QEMU_DOMAIN_MIG_BANDWIDTH_MAX
    # guest-agent-timeout's seconds, or -2 block (libvirt's default), -1 default, 0 no wait: libvirt's
    # priv->agentTimeout, kept in the status file as its <agentTimeout> (pyvirt_qemu.guest_agent_cmds)
    agent_timeout: int = -2

    def expect(self, event: str) -> None:
        with self.lock:  # the event thread counts them down
            self.expected[event] = self.expected.get(event, 0) + 1


class QemuState(DomainTable[DomainObj]):
    def __init__(self, paths: DriverPaths, security: SecurityStack, qemu_uid: int, qemu_gid: int = 0,
                 network_uri: str = "network:///system") -> None:  # fmt: skip
        super().__init__(paths, ErrorDomain.QEMU, DomainObj)
        self.security = security
        self.qemu_uid, self.qemu_gid = qemu_uid, qemu_gid
        self.graphics_cfg = GraphicsConfig()  # qemu.conf's display settings (set by the driver)
        self.chardev_tls: ChardevTls | None = None  # qemu.conf's chardev_tls* settings (set by the driver)
        self.nbd_tls: NbdTls | None = None  # qemu.conf's nbd_tls* settings (set by the driver)
        self.backup_tls = BackupTls()  # qemu.conf's backup_tls_x509_* settings (set by the driver)
        self.hugepage_mounts: list[HugetlbfsMount] | None = None  # qemu.conf's hugetlbfs_mount (None: /proc/mounts)
        self.migration_keepalive = (5, 5)  # qemu.conf's keepalive_interval/_count: a p2p migration's connection
        self.auto_start_bypass_cache = False  # qemu.conf's auto_start_bypass_cache: the flag autostart starts with
        self.network_uri = network_uri  # the network driver of the same mode, where the NICs' ports are
        # the nwfilter driver of the same mode (same path and parameters), where the NICs' filter bindings are
        self.nwfilter_uri = "nwfilter" + network_uri.removeprefix("network")
        self.auditor = Auditor(AuditLevel.IF_AVAILABLE)
        self._owner_fd, self.owned_alone = _own_paths(paths)
        set_owned_alone(paths, self.owned_alone)
        try:
            self._load()
        except BaseException:
            self._release_paths()
            raise

    def _release_paths(self) -> None:
        """Let go of ``driver.pid``; the last process to leave removes it (nothing stays in the run directory)."""
        set_owned_alone(self.paths, False)
        fd, self._owner_fd = self._owner_fd, -1
        if fd < 0:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only when nobody else holds it
        except OSError:
            pass
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.paths.run, "driver.pid"))
        os.close(fd)  # (its flock goes with it)

    def remove(self, obj: DomainObj) -> None:
        """Out of the table: whoever still waits for one of its jobs fails with libvirt's "no domain". A
        transient guest's snapshot and checkpoint documents go with it (qemuDomainRemoveInactive)."""
        super().remove(obj)
        obj.job.mark_removed(obj.uuid, obj.name)
        if not obj.persistent:
            SnapshotStore(self.paths, obj.name).remove_all()
            CheckpointStore(self.paths, obj.name).remove_all()

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
        """Write the running guest's status file. Under the domain's data lock, and never once its QEMU is
        gone: the exit handler, which removes the file, waits for that lock after QEMU's exit is known,
        so a job that outlives its guest (a destroy killed it) cannot leave a status file behind."""
        with obj.lock:
            if obj.process is None or not obj.process.alive():
                return
            self._write_status(obj)

    def _write_status(self, obj: DomainObj) -> None:
        assert obj.process is not None
        write_status(
            self.paths.status_xml(obj.name),
            Status(
                obj.state,
                obj.reason,
                obj.process.pid,
                obj.id,
                status_domain_xml(obj.live, format_domain(obj.live, 1, domain_id=obj.id)),
                {
                    "monitor": self._monitor_runtime(obj.name),
                    "agentTimeout": {"": str(obj.agent_timeout)},
                    **({"blockjobs": chain_jobs} if (chain_jobs := chain_runtime(obj)) else {}),
                    **({"volumes": paths} if (paths := volume_paths(obj.live)) else {}),
                    **(
                        {"clock": {"adjustment0": str(obj.rtc_adjustment0[1])}}
                        if obj.rtc_adjustment0 is not None and obj.rtc_adjustment0[0] == obj.process.pid
                        else {}
                    ),
                    **(
                        {"memory": {"hugepage-dirs": json.dumps(obj.process.hugepage_dirs)}}
                        if obj.process.hugepage_dirs
                        else {}
                    ),
                    # libvirt's marker of a start under way (with the state "paused, starting up"), or of the
                    # phase an outgoing migration has reached
                    **(
                        {"job": {"type": "none", "async": "start"}}
                        if _is_starting_state(obj.state, obj.reason)
                        else {"job": obj.migration_job}
                        if obj.migration_job
                        else {}
                    ),
                },
            ),
        )

    def _monitor_runtime(self, name: str) -> dict[str, str]:
        """Where the guest's monitors are, for whoever reconnects: the shared one only where guests get it."""
        runtime = {"path": self.paths.monitor(name)}
        if not self.owned_alone:
            runtime["shared"] = shared_monitor_path(self.paths, name)
        return runtime

    def save_starting(self, live: Any, domain_id: int, pid: int, labelled: bool, hugepage_dirs: list[str]) -> None:
        """The status of a start under way: "paused, starting up", with the pid once QEMU exists.

        ``labelled`` says whether the start has labelled the guest's files yet:
        whoever cleans up an abandoned start gives labels back only then (a
        restore of labels never set would make the files root's).
        """
        runtime: dict[str, dict[str, str]] = {
            "monitor": self._monitor_runtime(live.name or ""),
            "job": {"type": "none", "async": "start"},
            "starting": {"labelled": "yes" if labelled else "no"},
        }
        if hugepage_dirs:
            runtime["memory"] = {"hugepage-dirs": json.dumps(hugepage_dirs)}
        obj = self.domains.get(live.uuid or "")
        if obj is not None:
            with obj.lock:
                if obj.start_destroyed and obj.job.async_job == AsyncJob.START:
                    # a destroy came: no further step (the caller undoes the earlier ones)
                    raise OperationFailedError(
                        ErrorCode.OPERATION_FAILED, "domain is no longer running", domain=ErrorDomain.QEMU
                    )
                obj.starting_pid = pid
        xml = format_domain(live, 1, domain_id=domain_id)
        write_status(self.paths.status_xml(live.name or ""),
                     Status(DomainState.PAUSED, PausedReason.STARTING_UP, pid, domain_id, xml, runtime))  # fmt: skip

    # ------------------------------------------------------------------ jobs
    @contextlib.contextmanager
    def start_job(self, obj: DomainObj) -> Iterator[None]:
        """libvirt's async job "start" (only destroy may run beside it), which also holds the domain's file
        lock for other processes on the same root; and the domain's current state on disk: what another
        process started is adopted, what another process abandoned mid-start is cleaned up, before the caller
        decides."""
        lock_file = None if self.owned_alone else self.paths.lockfile(obj.name)
        with obj.job.holding_async(AsyncJob.START, mask=frozenset(), lock_file=lock_file):
            with obj.lock:
                obj.starting_pid, obj.start_destroyed = 0, False
            if not self.owned_alone:  # (alone, nobody else can have started or abandoned it)
                self.refresh(obj)
            yield

    def destroy_start(self, obj: DomainObj, timeout: float = 30.0) -> bool:
        """A destroy that finds a start under way with no QEMU adopted yet: end that start, as libvirt's
        destroy kills a domain that is still starting (its id is set before QEMU runs).

        The start is marked destroyed (it fails at its next step with libvirt's
        "domain is no longer running" and undoes itself), its QEMU is killed if
        it exists already (its monitor may not answer yet), and the destroy
        waits for the start to end. Returns False when there is no such start,
        or when the start had finished anyway: the caller destroys as usual.
        """
        with obj.lock:
            if obj.process is not None or obj.job.async_job != AsyncJob.START:
                return False
            obj.start_destroyed = True
            pid = obj.starting_pid
        if pid:
            _kill_and_wait(pid)
        if not obj.job.wait_async_end(AsyncJob.START, timeout):
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT,
                f"cannot destroy domain '{obj.name}': its start did not end in {timeout:.0f} s",
                domain=ErrorDomain.QEMU,
            )
        with obj.lock:
            obj.start_destroyed, obj.starting_pid = False, 0  # that start is over: nothing later may see them
            if obj.active:
                return False  # it got past the point of no return before it saw the destroy
            obj.state, obj.reason = DomainState.SHUTOFF, ShutoffReason.DESTROYED
            ref = obj.ref()
        for sink in list(self.sinks):
            sink.lifecycle(ref, DomainEvent.STOPPED, Stopped.DESTROYED)
        return True

    @contextlib.contextmanager
    def _run_of(self, obj: DomainObj, pid: int) -> Iterator[bool]:
        """Under the domain's file lock: whether the status file still describes the run of QEMU ``pid``
        (or a start of ours that failed before QEMU existed). When a job of this process holds that lock,
        it is the start that ends here (its own failure), so the lock is not taken twice."""
        name = obj.name
        if self.owned_alone:  # nobody else cleans up after our guests, nor starts them again meanwhile
            yield True
            return
        ours = obj.job.holds_lock_file()
        with contextlib.ExitStack() as stack:
            if not ours:
                try:
                    stack.enter_context(file_lock(self.paths.lockfile(name)))
                except Error:
                    yield False  # a start elsewhere that long adopts or cleans up this run itself
                    return
            try:
                st = read_status(self.paths.status_xml(name))
            except (Error, OSError, ValueError):
                yield False
                return
            yield st.pid == pid or (st.pid == 0 and ours)

    def refresh(self, obj: DomainObj) -> None:
        """With the start lock held: adopt the guest another process has started since we loaded, or clean
        up after one that died (or was abandoned mid-start) meanwhile."""
        if obj.process is not None and obj.process.alive():
            return
        path = self.paths.status_xml(obj.name)
        if os.path.exists(path):
            self._reconnect(path, locked=True)

    def _load(self) -> None:
        self.load_configs()
        for _name, path in definition_files(self.paths.run):  # dotfiles too: a guest may be called ".x"
            with contextlib.suppress(Error, OSError, ValueError):
                self._reconnect(path, locked=False)

    def _reconnect(self, status_path: str, *, locked: bool) -> None:
        """Find the guest of one status file again. ``locked``: the caller holds this domain's start lock."""
        st = read_status(status_path)
        name = os.path.basename(status_path)[: -len(".xml")]
        private_dir = guest_private_dir(self.paths.lib, name)
        if self.owned_alone:
            locked = True  # nobody else on these paths: the lock would be ours at once
        if not locked and (_is_starting(st) or not _is_our_qemu(st.pid, name, private_dir)):
            # cleaning up is for the one process holding the domain's start lock
            fd = try_lock_file(self.paths.lockfile(name))
            if fd is None:
                return  # a start is under way in another process: it adopts or cleans up this run itself
            try:
                if os.path.exists(status_path):
                    self._reconnect(status_path, locked=True)  # the status may have moved on meanwhile
            finally:
                unlock_file(self.paths.lockfile(name), fd)
            return
        live = parse_status_domain(st.domain_xml)
        apply_volume_paths(live, st.runtime.get("volumes", {}))
        hugepage_dirs: list[str] = json.loads(st.runtime.get("memory", {}).get("hugepage-dirs", "[]"))
        existing = self.domains.get(live.uuid or "")
        obj = existing or DomainObj(live=live, persistent=False)
        if _is_starting(st):
            # we hold the lock and it still says "starting up": its starter died mid-way (libvirt's reconnect
            # kills such a domain too); the QEMU, if it exists yet, never ran the guest
            killed = self._abandoned_start(st, live, hugepage_dirs)
            if existing is not None:  # libvirt's reason for a domain it killed at reconnect: "daemon"
                existing.state = DomainState.SHUTOFF
                existing.reason = ShutoffReason.DAEMON if killed else ShutoffReason.UNKNOWN
            return
        if existing is not None:
            obj.config, obj.live = existing.live, live
        if not _is_our_qemu(st.pid, obj.name, private_dir):
            # Died while nobody watched: give the labels back, remove its runtime files, forget the runtime
            # state; libvirt reports such a guest as crashed
            with contextlib.suppress(Error):
                self.security.restore_all_label(live)
            with contextlib.suppress(Error):
                self.security.release_label(live)
            self.remove_runtime_files(obj.name, hugepage_dirs)
            remove_transient_overlays(live)
            release_network_ports(live, self.network_uri)
            unbind_nic_filters(live.devices.interfaces if live.devices else [], self.nwfilter_uri)
            if existing is not None:
                obj.live, obj.config = existing.config or existing.live, None
                obj.state, obj.reason = DomainState.SHUTOFF, ShutoffReason.CRASHED
            return
        pidfd = os.pidfd_open(st.pid)
        monitor = Monitor(obj.name, on_event=lambda ev, data: self.on_qmp_event(obj, ev, data),
                          on_eof=lambda: self.on_monitor_closed(obj))  # fmt: skip
        monitor.claim_owner = not self.owned_alone
        proc = QemuProcess(obj.name, st.pid, pidfd, monitor, hugepage_dirs=hugepage_dirs)
        try:
            self.security.reserve_label(live, st.pid)
            monitor_path = st.runtime.get("monitor", {}).get("path", "")
            try:
                if not self.owned_alone and Monitor.held_by_another(monitor_path):
                    raise OperationFailedError(ErrorCode.OPERATION_FAILED, "the monitor is held by another process")
                # a free monitor greets at once; a held one never does (its client keeps it)
                monitor.connect(monitor_path, timeout=1)
            except Error:
                # Another process is talking to this QEMU (QMP takes one client): show what its status file
                # says; commands fail with libvirt's "cannot acquire state change lock" until it lets go.
                monitor.held_elsewhere = True
                shared = st.runtime.get("monitor", {}).get("shared")
                if shared:
                    monitor.shared = (shared, f"{shared}.lock")
            if monitor.held_elsewhere:
                state, reason = st.state, st.reason
            else:
                status = monitor.execute("query-status")
                running = bool(status.get("running")) if isinstance(status, dict) else True
                state = DomainState.RUNNING if running else DomainState.PAUSED
                reason = st.reason if state == st.state else 0
        except BaseException:
            proc.release()  # no thread or descriptor outlives a failed reconnect
            raise
        obj.process = proc
        obj.id = st.id
        obj.state, obj.reason = state, reason
        if (adjustment0 := st.runtime.get("clock", {}).get("adjustment0")) is not None:
            obj.rtc_adjustment0 = (proc.pid, int(adjustment0))
        obj.agent_timeout = int(st.runtime.get("agentTimeout", {}).get("", "-2"))  # qemuDomainObjPrivateXMLParse
        channel = agent_channel(live)
        if channel is not None and channel.alias is not None and not monitor.held_elsewhere:
            # qemuProcessRefreshChannelVirtioState: whether the guest holds the agent's port open now (the
            # VSERPORT_CHANGE that said so went to the previous daemon)
            with contextlib.suppress(Error):
                for chardev in monitor.execute("query-chardev"):
                    if chardev.get("label") == f"char{channel.alias.name}":
                        obj.agent_open = bool(chardev.get("frontend-open"))
        vcpus_changed = False
        if not monitor.held_elsewhere and live.vcpu is not None:
            from pyvirt_qemu.vcpus import refresh_vcpu_states

            with contextlib.suppress(Error):  # (libvirt's reconnect reads them; a failed read keeps the file's)
                vcpus_changed = refresh_vcpu_states(proc, live)
        if not monitor.held_elsewhere and live.devices is not None and any(d.mirror for d in live.devices.disks):
            from pyvirt_qemu.block_jobs import recover

            recover(self, obj, monitor)  # block copies its status file shows
        if not monitor.held_elsewhere and st.runtime.get("blockjobs"):
            from pyvirt_qemu.block_chain import recover as recover_chain_jobs

            recover_chain_jobs(self, obj, monitor, st.runtime["blockjobs"])  # its pulls and commits
        self.next_id = itertools.count(max(st.id + 1, next(self.next_id)))
        self.add(obj)
        if vcpus_changed:
            self.save_status(obj)
        proc.watch(lambda p: self.on_exit(obj, p))

    def _abandoned_start(self, st: Status, live: Any, hugepage_dirs: list[str]) -> bool:
        """Undo a start whose process died mid-way: its QEMU (paused at -S, never ``cont``) and what it set up.
        Returns whether there was a QEMU to kill (the status names it, or else its pidfile, written before exec)."""
        name = live.name or ""
        private_dir = guest_private_dir(self.paths.lib, name)
        pid = st.pid or _pidfile_pid(self.paths.pidfile(name))
        killed = bool(pid) and _is_our_qemu(pid, name, private_dir)
        if killed:
            _kill_and_wait(pid)
        if st.runtime.get("starting", {}).get("labelled", "yes") == "yes":
            with contextlib.suppress(Error):
                self.security.restore_all_label(live)
        with contextlib.suppress(Error):
            self.security.release_label(live)
        self.remove_runtime_files(name, hugepage_dirs)
        remove_transient_overlays(live)
        release_network_ports(live, self.network_uri)
        unbind_nic_filters(live.devices.interfaces if live.devices else [], self.nwfilter_uri)
        return killed

    def remove_runtime_files(self, name: str, hugepage_dirs: list[str]) -> None:
        """Everything a run of the guest leaves in the run and lib directories (not its log), and its swtpm."""
        remove_status(self.paths.status_xml(name))
        shared = shared_monitor_path(self.paths, name)
        monitor_path = self.paths.monitor(name)
        for stale in (monitor_path, f"{monitor_path}.owner", self.paths.pidfile(name), shared, f"{shared}.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        remove_master_key(guest_private_dir(self.paths.lib, name))
        stop_swtpm(self.paths, name)
        remove_hugepage_dirs(hugepage_dirs)

    def close(self) -> None:
        """The last connection of this process went: stop watching its guests (they keep running), close
        their monitors and pidfds, and the audit socket, so that nothing of ours outlives the connection."""
        for obj in list(self.domains.values()):
            proc = obj.process
            if proc is not None:
                proc.release()
        self.auditor.close()
        self._release_paths()

    # ------------------------------------------------------------------ runtime events
    def on_monitor_closed(self, obj: DomainObj) -> None:
        """qemuProcessHandleMonitorError: the monitor of a guest that still runs broke (not QEMU's exit, not our
        own stop); the guest is out of the driver's control, which its control-error event tells clients."""
        proc = obj.process
        if proc is None or proc.monitor.failure is None or proc.stop_reason is not None or not proc.alive():
            return
        ref = obj.ref()
        for sink in list(self.sinks):
            sink.emit("control-error", ControlErrorEvent(ref))

    def _monitor_event(self, obj: DomainObj, event: str) -> None:
        """libvirt's qemuProcessHandleEvent: every QMP event of the guest's current QEMU, before its own handling,
        to the clients of virConnectDomainQemuMonitorEventRegister (their name filters are theirs)."""
        sinks = [sink for sink in list(self.sinks) if sink.wants("qemu-monitor")]
        if not sinks:
            return
        proc = obj.process
        found = _monitor_event_of(proc.monitor if proc is not None else None)
        if found is None:
            return
        ref = obj.ref()
        for sink in sinks:
            sink.qemu_monitor_event(ref, event, *found)

    def on_qmp_event(self, obj: DomainObj, event: str, data: dict[str, Any]) -> None:
        self._monitor_event(obj, event)
        if event == "VSERPORT_CHANGE":
            channel = agent_channel(obj.live)
            if channel is not None and channel.alias is not None and data.get("id") == channel.alias.name:
                opened = bool(data.get("open"))
                changed = opened != obj.agent_open
                obj.agent_open = opened
                if changed:  # libvirt's agent lifecycle event: connected 1 / disconnected 2, reason "channel" 2
                    ref = obj.ref()
                    for sink in list(self.sinks):
                        sink.agent_lifecycle(ref, 1 if opened else 2, 2)
            return
        if event.startswith("BLOCK_JOB_") and obj.block_jobs:
            from pyvirt_qemu.block_jobs import on_event

            if on_event(self, obj, event, data):
                return
        if event == "DEVICE_DELETED" and data.get("device"):
            alias = str(data["device"])
            obj.deleted.notify(alias)  # without the lock: a detach waits for this while holding it
            if alias.startswith("vcpu"):  # processDeviceDeletedEvent: qemuDomainRemoveVcpuAlias, and no event
                return
            ref = obj.ref()
            for sink in list(self.sinks):  # libvirt's device-removed event, with the device's alias
                sink.device_removed(ref, alias)
            return
        with obj.lock:
            if obj.process is None or not obj.process.monitor.dispatching_here():
                return  # (an event of a QEMU that is gone, delivered after the guest was started again)
            if obj.expected.get(event, 0) > 0:
                obj.expected[event] -= 1
                return
            if event == "SHUTDOWN" and obj.process.stop_reason in ("destroyed", "saved", "dumped"):
                # our own SIGTERM: destroy reports STOPPED DESTROYED only; a save STOPPED SAVED only, a dump
                # with --crash STOPPED CRASHED only (libvirt closes the monitor of a guest it stops before it
                # ends QEMU, so it never hears this one)
                return
            if event == "RESET":
                # a reboot inside the guest, virDomainReboot's system_reset, or the restart after an ACPI
                # reboot: libvirt's qemuProcessHandleReset reports each as a reboot event
                ref = obj.ref()
                for sink in list(self.sinks):
                    sink.reboot(ref)
            if on_guest_event(self, obj, event, data):
                pass  # RTC_CHANGE, WATCHDOG, BLOCK_IO_ERROR, tray, power management, balloon, ... (qmp_events)
            elif event == "GUEST_PANICKED":
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
        """The QEMU process is gone: labels back, status removed, stopped event with the reason.

        The domain's data lock is taken only to check and to record the
        outcome: giving labels back may wait for another process's file lock.
        """
        # QEMU is gone: its monitor, pidfd and wake pipe go now, whoever noticed (its watcher, or a start
        # that failed after the spawn and was never watched) and whether or not the domain still names it
        proc.release()
        with obj.lock:
            if obj.process is not proc:
                return
        reason = proc.stop_reason or "crashed"
        detail = {"destroyed": Stopped.DESTROYED, "shutdown": Stopped.SHUTDOWN, "saved": Stopped.SAVED,
                  "from_snapshot": Stopped.FROM_SNAPSHOT, "panicked": Stopped.CRASHED, "dumped": Stopped.CRASHED,
                  "migrated": Stopped.MIGRATED}.get(reason, Stopped.FAILED)  # fmt: skip
        shutoff = {
            "destroyed": ShutoffReason.DESTROYED, "shutdown": ShutoffReason.SHUTDOWN, "saved": ShutoffReason.SAVED,
            "from_snapshot": ShutoffReason.FROM_SNAPSHOT, "migrated": ShutoffReason.MIGRATED,
        }.get(reason, ShutoffReason.CRASHED)  # fmt: skip
        with self._run_of(obj, proc.pid) as ours:
            # only the one process that finds the status still naming this QEMU gives its labels back
            # and removes its files: another watcher may have done so, or started the guest again
            if ours:
                if obj.block_jobs:  # copies end with QEMU: their images get their labels back
                    from pyvirt_qemu.block_jobs import forget_all

                    forget_all(self, obj)
                with contextlib.suppress(Error):
                    self.security.restore_all_label(obj.live)
            with contextlib.suppress(Error):
                self.security.release_label(obj.live)
            if ours:
                self.remove_runtime_files(obj.name, proc.hugepage_dirs)
                remove_transient_overlays(obj.live)  # the guest's writes to its transient disks go
                release_network_ports(obj.live, self.network_uri)  # its NICs leave their networks' ports
                # and their taps' filter bindings go (virDomainConfNWFilterTeardown)
                unbind_nic_filters(obj.live.devices.interfaces if obj.live.devices else [], self.nwfilter_uri)
        with obj.lock:
            ref = obj.ref()
            # (virsh dump --crash: libvirt's record says "crashed"; a QEMU that died by itself is "failed")
            audited = {"crashed": "failed", "dumped": "crashed"}.get(reason, reason)
            self.auditor.stop(self.audit_guest(obj, proc.pid), audited)
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


def _monitor_event_of(monitor: Any) -> tuple[int, int, str | None] | None:
    """QEMU's timestamp and compact ``data`` JSON of the QMP event the monitor delivers now, as libvirt's
    qemuMonitorJSONIOProcessEvent reads them (seconds -1 and micros 0 without a timestamp, no details without
    data); None when the calling thread is not that monitor's dispatcher."""
    if monitor is None or not monitor.dispatching_here() or monitor.delivering is None:
        return None
    message = monitor.delivering
    stamp = message.get("timestamp")
    seconds, micros = -1, 0
    if isinstance(stamp, dict):
        seconds = int(stamp.get("seconds", -1))
        micros = int(stamp.get("microseconds", 0))
    details = None
    if "data" in message:
        import json

        details = json.dumps(message["data"], separators=(",", ":"), ensure_ascii=False)
    return seconds, micros, details


def _own_paths(paths: DriverPaths) -> tuple[int, bool]:
    """Lock ``run/driver.pid``: (its descriptor, whether this process owns the paths alone).

    pyvirtd takes it exclusively, with its pid in it, as libvirtd's QEMU driver
    takes its pid file (``virPidFileAcquire``); when other processes hold it
    already, the daemon shares the paths with them. Any other process takes it
    shared, and fails with libvirt's error while a daemon owns the paths: the
    daemon's guests are not prepared for a second process.
    """
    from pyvirt.local_driver.state_driver import in_daemon

    os.makedirs(paths.run, mode=0o755, exist_ok=True)
    path = os.path.join(paths.run, "driver.pid")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            alone = False
            if in_daemon():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    alone = True
                except BlockingIOError:
                    pass  # other processes use these paths: share them, as they do
            if not alone:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise SystemCallError(exc.errno or errno.EAGAIN, f"Failed to acquire pid file '{path}'") from None
            if _names(path, fd):
                if alone:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                return fd, alone
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the last process to leave removed it meanwhile: lock the file that is there now


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _restart_guest(proc: QemuProcess) -> None:
    with contextlib.suppress(Exception):
        proc.monitor.execute("system_reset")
        proc.monitor.execute("cont")


def _is_our_qemu(pid: int, name: str, private_dir: str) -> bool:
    """Whether ``pid`` is this guest's QEMU under these paths (the guest's name alone would match the
    same-named guest of another embedded root); a zombie's empty command line counts as gone."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return False
    key = ('"file":' + json.dumps(f"{private_dir}/master-key.aes")).encode()  # as the command line's JSON has it
    guest = f"guest={name.replace(',', ',,')},debug-threads=on".encode()
    return guest in raw.split(b"\0") and key in raw


def _is_starting_state(state: int, reason: int) -> bool:
    return state == DomainState.PAUSED and reason == PausedReason.STARTING_UP


def _is_starting(st: Status) -> bool:
    """libvirt's test for a domain found mid-start: paused, reason "starting up"."""
    return _is_starting_state(st.state, st.reason)


def _pidfile_pid(path: str) -> int:
    """The pid a QEMU wrote (before exec) into its pidfile; 0 without one."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def _kill_and_wait(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL through a pidfd (never a recycled pid) and wait until the process is gone."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        pidfd_exited(fd, timeout)
    finally:
        os.close(fd)
