"""Starting and stopping one QEMU process, and watching it.

Start: labels through the security stack, QEMU spawned through ``Command``
(daemonized so guests outlive the process that started them, pidfile, no
capabilities unless a rawio disk needs CAP_SYS_RAWIO, the security stack's
process label), ``-S``, QMP connected, then ``cont``. Any failure kills the
process and gives every label back: a failed start leaves nothing behind.
A start killed mid-way cannot clean up after itself, so its progress is
recorded (``on_starting``) for whoever finds it abandoned (see ``state``).

The process is watched through a pidfd in a thread that blocks in poll; it
never polls waitpid on a timer.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import Domain, required_capabilities
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, OperationFailedError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.security.stack import SecurityStack
from pyvirt.util.caps import parse_capability, read_process_caps
from pyvirt.util.command import Command
from pyvirt.util.filecaps import require_capabilities_after_exec
from pyvirt_qemu.chardev_files import close_chardev_fds, listen_unix, open_chardev_fds
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.command_line import build_command_line, emulator_for
from pyvirt_qemu.command_line_devices import DeviceArgs
from pyvirt_qemu.cpu_affinity import emulator_cpus, pin_vcpus
from pyvirt_qemu.fd_groups import FdGroup, open_disk_fds
from pyvirt_qemu.graphics import GraphicsConfig, prepare_graphics, set_passwords
from pyvirt_qemu.host_devices import vhost_scsi_fd_key, vhost_scsi_fds
from pyvirt_qemu.master_key import guest_private_dir, remove_master_key, write_master_key
from pyvirt_qemu.memory_backends import HugetlbfsMount, prepare_hugepage_dirs, remove_hugepage_dirs
from pyvirt_qemu.monitor import Monitor
from pyvirt_qemu.network_disks import NbdTls
from pyvirt_qemu.pci_addresses import is_q35
from pyvirt_qemu.qemu_secrets import GuestSecrets
from pyvirt_qemu.startup_policy import check_startup_policies, drop_missing_disks
from pyvirt_qemu.swtpm import start_swtpm, stop_swtpm
from pyvirt_qemu.tap import TUN_PATH, VHOST_PATH, close_taps, open_taps
from pyvirt_qemu.tpm_passthrough import open_tpm_passthrough
from pyvirt_qemu.transient_disks import check_transient_start, create_transient_overlays, remove_transient_overlays
from pyvirt_qemu.vdpa import open_vdpa_fds, vdpa_fd_key
from pyvirt_qemu.vsock import open_vhost_vsock

__all__ = ["QemuProcess", "owned_alone", "pidfd_exited", "set_owned_alone", "shared_monitor_path", "start_process"]

# Run directories whose driver state this process owns alone (pyvirtd's, see ``QemuState``): no other
# process of ours talks to their guests, so they get no second (shared) QMP monitor, and their monitor
# connection takes no owner lock.
_OWNED_ALONE: set[str] = set()


def set_owned_alone(paths: DriverPaths, alone: bool) -> None:
    """Record whether this process owns the driver state under ``paths`` alone."""
    if alone:
        _OWNED_ALONE.add(paths.run)
    else:
        _OWNED_ALONE.discard(paths.run)


def owned_alone(paths: DriverPaths) -> bool:
    return paths.run in _OWNED_ALONE


@dataclass
class QemuProcess:
    """A running QEMU: pid, pidfd, monitor, and who asked it to stop (for the stop reason).

    A connection that goes away while the guest keeps running must leave no
    thread or descriptor behind (a long-lived program opens many): ``release``
    wakes the watcher through its own pipe, joins it, and closes the pidfd and
    the monitor.
    """

    name: str
    pid: int
    pidfd: int
    monitor: Monitor
    stop_reason: str | None = None
    exited: threading.Event = field(default_factory=threading.Event)
    cleaned: threading.Event = field(default_factory=threading.Event)  # set once the driver has cleaned up
    opened: list[tuple[str, str]] = field(default_factory=list)  # (guest MAC, device path) per fd handed over
    hugepage_dirs: list[str] = field(default_factory=list)  # removed once QEMU is gone
    _watcher: threading.Thread | None = None
    _wake: tuple[int, int] | None = None  # pipe that ends the watcher without an exit
    _fd_lock: threading.Lock = field(default_factory=threading.Lock)

    def alive(self) -> bool:
        return not self.exited.is_set()

    def watch(self, on_exit: Callable[[QemuProcess], None]) -> None:
        """Call ``on_exit`` from a thread of its own once QEMU exits; ``release`` ends the watch without it.

        The watcher closes its wake pipe itself when it ends, whichever way: a
        QEMU that exits is never released, and in a resident daemon two
        descriptors per guest run would pile up.
        """
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC)
        self._wake = (wake_r, wake_w)

        def run() -> None:
            try:
                poller = select.poll()
                poller.register(self.pidfd, select.POLLIN)
                poller.register(wake_r, select.POLLIN)
                ready = {fd for fd, _ in poller.poll()}  # blocks until the process exits or we are released
            finally:
                self._close_wake()
            if self.pidfd not in ready:
                return
            self.exited.set()
            self._close_pidfd()
            on_exit(self)

        self._watcher = threading.Thread(target=run, name=f"watch-{self.name}", daemon=True)
        self._watcher.start()

    def _close_pidfd(self) -> None:
        with self._fd_lock:
            if self.pidfd >= 0:
                with contextlib.suppress(OSError):
                    os.close(self.pidfd)
                self.pidfd = -1

    def _close_wake(self) -> None:
        """Close the watcher's wake pipe once (whoever comes first: the watcher ending, or ``release``)."""
        with self._fd_lock:
            wake, self._wake = self._wake, None
        for fd in wake or ():
            with contextlib.suppress(OSError):
                os.close(fd)

    def release(self) -> None:
        """Stop watching and talking to a QEMU that keeps running (idempotent): our connection ends, not it."""
        watcher = self._watcher
        with self._fd_lock:  # (the watcher closes the pipe under this lock: never a write to a reused number)
            if self._wake is not None:
                with contextlib.suppress(OSError):
                    os.write(self._wake[1], b"x")
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(30)
        self._close_wake()
        self.monitor.close()
        self._close_pidfd()

    def kill(self, grace: float = 10.0, *, until: threading.Event | None = None) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns once the process is gone.

        ``until`` (``cleaned``, which the watcher sets after the exit and its
        cleanup): a watched process's killer then sleeps once, until that event,
        instead of waking at the exit only to sleep again on the cleanup while
        it contends with the watcher for the GIL. A destroy's reply waits for
        both anyway; on a loaded host each extra wake-up is a scheduling delay.
        """
        self._signal(signal.SIGTERM)
        if not self._wait_exit(grace, until):
            self._signal(signal.SIGKILL)  # (a no-op once the process is gone: the watcher closed the pidfd)
            self._wait_exit(30, until)

    def _wait_exit(self, timeout: float, until: threading.Event | None = None) -> bool:
        """Whether QEMU is gone within ``timeout``: the watcher says so (or has set ``until``, which follows
        the exit), or (not watched yet) its pidfd."""
        if self._watcher is not None:
            return (until or self.exited).wait(timeout)
        with self._fd_lock:
            fd = self.pidfd
        if fd >= 0 and pidfd_exited(fd, timeout):
            self.exited.set()
        return self.exited.is_set() or fd < 0

    def _signal(self, sig: int) -> None:
        with self._fd_lock, contextlib.suppress(ProcessLookupError, OSError):
            if self.pidfd >= 0:  # closed once the process is gone: never a signal to a recycled pid
                signal.pidfd_send_signal(self.pidfd, sig)


def _check_memlock_raisable(name: str) -> None:
    """``<locked/>`` needs QEMU's RLIMIT_MEMLOCK unlimited; say so before anything starts if that cannot be."""
    if resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] == resource.RLIM_INFINITY:
        return
    if parse_capability("CAP_SYS_RESOURCE") not in read_process_caps().effective:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED,
            f"cannot lock the memory of domain '{name}': raising the locked-memory limit of its QEMU process needs "
            "CAP_SYS_RESOURCE, which this process does not have",
        )


def start_process(
    dom: Domain,
    paths: DriverPaths,
    security: SecurityStack,
    on_event: Callable[[str, dict[str, Any]], None],
    on_eof: Callable[[], None],
    qemu_uid: int,
    incoming_fd: int | None = None,
    qemu_gid: int = 0,
    graphics_cfg: GraphicsConfig | None = None,
    domain_id: int = -1,
    hugepage_mounts: list[HugetlbfsMount] | None = None,
    on_starting: Callable[[int, bool, list[str]], None] | None = None,
    incoming: str | None = None,
    chardev_tls: ChardevTls | None = None,
    nbd_tls: NbdTls | None = None,
    fd_groups: dict[str, FdGroup] | None = None,
) -> QemuProcess:
    """Spawn QEMU paused (``-S``) and connected; ``incoming_fd`` makes it load a migration stream from that fd,
    ``incoming`` (``defer``) makes it wait for one (``migrate-incoming``).

    ``on_starting(pid, labelled, hugepage_dirs)`` records the start's progress before each step that leaves
    something behind (first side effect, labels, the process itself), so that whoever finds this start
    abandoned (its process killed) knows what to undo: the caller writes libvirt's "starting up" status.
    """
    record = on_starting or (lambda pid, labelled, dirs: None)
    name = dom.name or ""
    shared_monitor = not owned_alone(paths)
    # QEMU runs as the guest's DAC label (a static <seclabel>, else qemu.conf's): what it opens is given to that
    qemu_uid, qemu_gid = security.process_ids(dom, (qemu_uid, qemu_gid))
    paths.ensure()
    monitor_path = paths.monitor(name)
    pidfile = paths.pidfile(name)
    for stale in (monitor_path, pidfile):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    private_dir = guest_private_dir(paths.lib, name)
    graphics_cfg = graphics_cfg or GraphicsConfig()
    prepare_graphics(dom, graphics_cfg, private_dir)  # listen addresses and ports, into the live XML
    # a missing image its startupPolicy lets go: out of the live definition before anything is built from it
    check_startup_policies(dom)
    drop_missing_disks(dom, cold_boot=incoming_fd is None and incoming is None)
    check_transient_start(dom)
    # refuse bad XML before any side effect (tap, label, key, process)
    memory: dict[str, Any] = {"domain_id": domain_id, "hugepage_mounts": hugepage_mounts,
                              "memory_backing_dir": os.path.join(paths.lib, "ram"),
                              "chardev_tls": chardev_tls,  # qemu.conf's TLS for TCP character devices
                              "nbd_tls": nbd_tls,  # and for NBD disks
                              # this start's master key (no secret driver reachable yet: secrets are refused)
                              "secrets": GuestSecrets()}  # fmt: skip
    first = build_command_line(dom, monitor_path, fds=_placeholder_fds(dom), lib_dir=private_dir,
                               graphics_cfg=graphics_cfg, **memory)  # fmt: skip
    if first.mem_lock:
        _check_memlock_raisable(name)
    caps = required_capabilities(dom)
    if caps and qemu_uid != 0:
        require_capabilities_after_exec(emulator_for(dom), qemu_uid, caps, f"domain '{name}' (rawio='yes' device)")
    record(0, False, first.hugepage_dirs)
    taps = open_taps(dom.devices.interfaces if dom.devices else [])
    chardevs: dict[str, int] = {}
    try:
        prepare_hugepage_dirs(first.hugepage_dirs, qemu_uid, qemu_gid)
        # the private dir also holds channel sockets
        write_master_key(private_dir, qemu_uid, qemu_gid, memory["secrets"].master_key)
        chardevs |= open_chardev_fds(dom, qemu_uid, qemu_gid)
        chardevs["monitor"] = listen_unix(monitor_path, 0, 0)  # ours alone: QEMU gets the listening fd
        if shared_monitor:
            chardevs["monitor-shared"] = listen_unix(shared_monitor_path(paths, name), 0, 0)
        tpm = start_swtpm(dom, paths, qemu_uid, qemu_gid)
        if tpm is not None:
            chardevs["tpm0"] = tpm
        chardevs |= open_tpm_passthrough(dom)  # the host's TPM and its cancel file, as fd sets
        if dom.devices is not None and dom.devices.vsock is not None:  # QEMU gets the fd, its CID already set
            chardevs["vsock"] = open_vhost_vsock(dom.devices.vsock)
        chardevs |= vhost_scsi_fds(dom)  # a vhost-scsi host device's fd of /dev/vhost-scsi
        chardevs |= open_vdpa_fds(dom)  # a vDPA NIC's device
        chardevs |= open_disk_fds(dom, fd_groups or {})  # disks on descriptors a client associated (fdgroup)
    except BaseException:
        close_taps(taps)
        close_chardev_fds(chardevs)
        stop_swtpm(paths, name)
        remove_master_key(private_dir)
        remove_hugepage_dirs(first.hugepage_dirs)
        _remove_monitor_sockets(paths, name)
        raise
    fds = {f"tap{i}": t.fd for i, t in taps.items()} | {f"vhost{i}": t.vhost_fd for i, t in taps.items() if t.vhost_fd}
    fds |= chardevs
    opened = [(t.mac, TUN_PATH) for t in taps.values()] + [(t.mac, VHOST_PATH) for t in taps.values() if t.vhost_fd]
    try:
        # an incoming migration: "defer" waits for migrate-incoming (libvirt's way); a saved image comes on a fd
        source = f"fd:{incoming_fd}" if incoming_fd is not None else incoming
        qcmd = build_command_line(dom, monitor_path, fds=fds, lib_dir=private_dir, graphics_cfg=graphics_cfg,
                                  incoming=source, **memory)  # fmt: skip
        if shared_monitor:  # a second QMP monitor for our other processes (see shared_monitor); not libvirt's
            qcmd.args += ["-chardev", f"socket,id=charmonitor-shared,fd={fds['monitor-shared']},server=on,wait=off",
                          "-mon", "chardev=charmonitor-shared,id=monitor-shared,mode=control"]  # fmt: skip
        if incoming_fd is not None:
            fds["incoming"] = incoming_fd
        security.gen_label(dom)
    except BaseException:
        close_taps(taps)
        close_chardev_fds(chardevs)
        stop_swtpm(paths, name)
        remove_master_key(private_dir)
        remove_hugepage_dirs(first.hugepage_dirs)
        _remove_monitor_sockets(paths, name)
        raise
    labelled = False
    log_offset = 0
    proc: QemuProcess | None = None
    try:
        security.set_all_label(dom)
        labelled = True
        record(0, True, first.hugepage_dirs)
        cmd = Command(qcmd.argv).pass_env_common().set_env("HOME", paths.lib)
        for key, value in qcmd.env.items():
            cmd.set_env(key, value)
        for fd in fds.values():
            cmd.pass_fd(fd)
        cmd.set_stdout(paths.logfile(name), append=True).set_stderr(paths.logfile(name), append=True)
        cmd.set_pidfile(pidfile).daemonize().set_umask(0o007)
        if qcmd.mem_lock:  # <memoryBacking><locked/>: QEMU mlocks all guest RAM
            cmd.set_rlimit("memlock", resource.RLIM_INFINITY)
        security.set_process_label(dom, cmd)
        pinned = emulator_cpus(dom)
        if pinned is not None:  # every thread QEMU creates inherits it (emulatorpin, else <vcpu cpuset>)
            cmd.add_pre_exec_hook("CPU affinity", lambda: os.sched_setaffinity(0, pinned))
        cmd.set_capabilities(sorted(caps)) if caps else cmd.clear_capabilities()
        with open(paths.logfile(name), "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}: starting up\n{cmd.to_args_text()}\n")
            log_offset = log.tell()
        try:
            pid = cmd.run_async()
        finally:
            close_taps(taps)  # QEMU holds its own copies now; ours would keep the taps alive after it exits
            close_chardev_fds(chardevs)
        # The Command holds a pidfd of its own for the daemonized QEMU, closed when the object goes; a start
        # that fails below keeps this frame alive in its traceback for as long as the error is kept, and with
        # it every local: drop it now and open the one pidfd this process keeps.
        del cmd
        pidfd = os.pidfd_open(pid)
        security.hand_over_labels(dom, pid)  # QEMU keeps the remembered labels now, not this process
        monitor = Monitor(name, on_event=on_event, on_eof=on_eof)
        monitor.claim_owner = shared_monitor
        proc = QemuProcess(name, pid, pidfd, monitor, opened=opened, hugepage_dirs=qcmd.hugepage_dirs)
        record(pid, True, qcmd.hugepage_dirs)
        monitor.connect(monitor_path, timeout=30, alive=lambda: not pidfd_exited(pidfd, 0))
        set_passwords(dom, graphics_cfg, monitor)
        balloon = dom.devices.memballoon if dom.devices is not None else None
        if balloon is not None and balloon.model not in (None, "none") and dom.current_memory is not None:
            monitor.execute("balloon", {"value": dom.current_memory.kib * 1024})  # libvirt's <currentMemory>
        # the driver acts on panics itself (<on_crash>); a guest reboot ends the guest for <on_reboot>destroy
        actions: dict[str, str] = {"panic": "pause"}
        if dom.on_reboot == "destroy":
            actions["reboot"] = "shutdown"
        monitor.execute("set-action", actions)
        pin_vcpus(dom, monitor)
        # (the guest has not run an instruction yet; a disk sharing its image is plugged in now)
        create_transient_overlays(
            dom, monitor, lambda disk: DeviceArgs(dom, {}, None, False, is_q35(dom)).disk_device_props(disk)
        )
        return proc
    except Exception as exc:
        close_taps(taps)
        close_chardev_fds(chardevs)
        exited_early = proc is not None and pidfd_exited(proc.pidfd, 0)
        if proc is not None:
            proc.monitor.close()
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(proc.pidfd, signal.SIGKILL)
            _wait_gone(proc.pid)
            proc._close_pidfd()
        if labelled:
            with contextlib.suppress(Error):
                security.restore_all_label(dom)
        with contextlib.suppress(Error):
            security.release_label(dom)
        for stale in (monitor_path, pidfile):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        remove_master_key(private_dir)
        stop_swtpm(paths, name)
        remove_hugepage_dirs(first.hugepage_dirs)
        remove_transient_overlays(dom)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(shared_monitor_path(paths, name))
        tail = log_tail(paths.logfile(name), log_offset) if log_offset else ""
        if exited_early and tail:
            # QEMU refused the configuration: its own words are the useful error, as in libvirt
            raise InternalError(
                ErrorCode.INTERNAL_ERROR, f"process exited while connecting to monitor: {tail}", domain=ErrorDomain.QEMU
            ) from exc
        if isinstance(exc, Error):
            raise
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"failed to start QEMU for '{name}': {exc}" + (f": {tail}" if tail else ""),
            domain=ErrorDomain.QEMU,
        ) from exc  # fmt: skip


def pidfd_exited(pidfd: int, timeout: float) -> bool:
    """Whether the process behind ``pidfd`` has exited, waiting up to ``timeout`` seconds. poll, not
    select: a long-lived process's descriptors soon pass select's limit of 1024."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


def shared_monitor_path(paths: DriverPaths, name: str) -> str:
    return os.path.join(paths.run, f"{name}.shared.monitor")


def _remove_monitor_sockets(paths: DriverPaths, name: str) -> None:
    """The monitor sockets' files of a start that failed before QEMU ran (their fds are closed already)."""
    for stale in (paths.monitor(name), shared_monitor_path(paths, name)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)


def _placeholder_fds(dom: Domain) -> dict[str, int]:
    """Stand-in fd numbers so the command line can be validated before any tap exists."""
    nics = dom.devices.interfaces if dom.devices else []
    hostdevs = dom.devices.hostdevs if dom.devices else []
    return (
        {f"tap{i}": -1 for i, nic in enumerate(nics) if nic.type in ("bridge", "ethernet", "network")}
        | {vhost_scsi_fd_key(i): -1 for i, h in enumerate(hostdevs) if h.type == "scsi_host"}
        | {vdpa_fd_key(i): -1 for i, nic in enumerate(nics) if nic.type == "vdpa"}
    )


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(int(timeout * 1000))
    finally:
        os.close(fd)


def log_tail(path: str, offset: int = 0, lines: int = 5) -> str:
    """What QEMU wrote after ``offset`` (its own error, not our header), last lines only."""
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        return " ".join(line.strip() for line in f.readlines()[-lines:] if line.strip())
    return ""
