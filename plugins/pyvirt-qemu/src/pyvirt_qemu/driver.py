"""Entry point of the ``qemu`` driver and its connection object (hooks delegate to state/process)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import termios
import threading
import time
import tty
from collections.abc import Callable
from typing import Any, ClassVar

import pyvirt
from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.conf.domain_devices import Chardev, ChardevSource, Disk, Interface, MemoryDevice
from pyvirt.conf.metadata import get_metadata, parse_element, set_metadata
from pyvirt.conf.snapshot import check_snapshot_name, format_snapshot, parse_snapshot
from pyvirt.conf.snapshot_align import align_disks, check_snapshot_def
from pyvirt.conf.snapshot_list import list_snapshot_names, snapshot_node
from pyvirt.conf.vcpu_states import online_count
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
)
from pyvirt.events import Defined, DomainEvent, EventSink, Resumed, Started, Suspended, Undefined
from pyvirt.flags import (
    DomainAbortJobFlags,
    DomainBlockCommitFlags,
    DomainBlockCopyFlags,
    DomainBlockJobAbortFlags,
    DomainBlockJobInfoFlags,
    DomainBlockJobSetSpeedFlags,
    DomainBlockPullFlags,
    DomainBlockRebaseFlags,
    DomainConsoleFlags,
    DomainCreateFlags,
    DomainDefineFlags,
    DomainDestroyFlags,
    DomainDeviceModifyFlags,
    DomainGetHostnameFlags,
    DomainModificationImpact,
    DomainRebootFlags,
    DomainSaveImageXMLFlags,
    DomainSaveRestoreFlags,
    DomainSetTimeFlags,
    DomainShutdownFlags,
    DomainSnapshotCreateFlags,
    DomainSnapshotDeleteFlags,
    DomainSnapshotXMLFlags,
    DomainUndefineFlags,
    DomainVcpuFlags,
    DomainXMLFlags,
    TypedParameterFlags,
)
from pyvirt.local_driver.domain_jobs import AsyncJob, DomainJobs, Job
from pyvirt.local_driver.host_memory import HostMemoryHooks
from pyvirt.local_driver.interface_addresses import interface_addresses
from pyvirt.local_driver.network_nics import (
    network_uri,
    release_network_ports,
    resolve_network_nic,
    resolve_network_nics,
)
from pyvirt.local_driver.nwfilter_nics import bind_nic_filters, unbind_nic_filters
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.local_driver.status_file import remove_status
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import (
    BlockInfo,
    BlockStats,
    DomainInfo,
    DomainRef,
    InterfaceAddresses,
    InterfaceStats,
    IOThreadInfo,
    NodeInfo,
    SecurityLabel,
    SecurityModel,
    SnapshotRef,
    VcpuInfo,
)
from pyvirt.plugin.typed_params import TypedParam, TypedParamType
from pyvirt.security.dac import parse_dac_label
from pyvirt.security.stack import load_security_stack
from pyvirt.uri import URI
from pyvirt.util.args_text import render_args_text
from pyvirt.util.command import Command
from pyvirt.util.host_topology import node_info
from pyvirt_qemu import (
    block_chain,
    block_jobs,
    block_resize,
    dump,
    guest_stats,
    migration,
    migration_speed,
    migration_tuning,
    qemu_passthrough,
)
from pyvirt_qemu.autostart import QemuStateHooks
from pyvirt_qemu.backup import BackupHooks
from pyvirt_qemu.block_io_tune import BlockIoTuneHooks
from pyvirt_qemu.block_threshold import threshold_node
from pyvirt_qemu.bypass_cache import CacheBypassingReader
from pyvirt_qemu.checkpoints import CheckpointHooks, undefine_checkpoints
from pyvirt_qemu.command_line import build_command_line, emulator_for
from pyvirt_qemu.command_line_devices import DeviceArgs
from pyvirt_qemu.control_info import ControlInfoHooks
from pyvirt_qemu.cpu_affinity import pin_emulator_threads
from pyvirt_qemu.cpu_compare import CpuCompareHooks
from pyvirt_qemu.disk_iotune import disk_qom_path, throttle_args
from pyvirt_qemu.domain_capabilities import domain_capabilities_xml
from pyvirt_qemu.domain_defaults import apply_defaults, assign_added_device_addresses
from pyvirt_qemu.domain_logs import remove_logs
from pyvirt_qemu.domain_rename import rename_domain
from pyvirt_qemu.domain_validation import check_cpu_model
from pyvirt_qemu.driver_config import load_qemu_settings
from pyvirt_qemu.emulator_caps import emulator_caps
from pyvirt_qemu.fd_groups import FdAssociateHooks, groups_of
from pyvirt_qemu.fd_groups import release_connection as release_fd_groups
from pyvirt_qemu.file_job_recovery import end_file_job, record_file_job
from pyvirt_qemu.firmware import prepare_nvram, resolve_firmware
from pyvirt_qemu.graphics import prepare_graphics
from pyvirt_qemu.guest_agent import GuestAgent, agent_channel
from pyvirt_qemu.guest_agent_cmds import GuestAgentHooks
from pyvirt_qemu.guest_fs_info import GuestFSInfoHooks
from pyvirt_qemu.host_capabilities import capabilities_xml, installed_emulators
from pyvirt_qemu.host_cpu_model import guest_cpu_for_host_model
from pyvirt_qemu.host_validate import QemuHostChecks
from pyvirt_qemu.hotplug import attach_live, check_update, detach_live, find_device, parse_device, update_live
from pyvirt_qemu.hotplug_filters import change_nic_filter, filter_changed
from pyvirt_qemu.interface_tune import InterfaceTuneHooks, change_nic_bandwidth
from pyvirt_qemu.iothread_changes import IOThreadChangeHooks
from pyvirt_qemu.lifecycle_change import LifecycleActionHooks
from pyvirt_qemu.master_key import guest_private_dir
from pyvirt_qemu.memory_backends import hotplug_memory, hugetlbfs_mounts, prepare_hugepage_dirs, remove_hugepage_dirs
from pyvirt_qemu.memory_balloon import MemoryBalloonHooks, setup_balloon
from pyvirt_qemu.migration_compression import MigrationCompressionHooks
from pyvirt_qemu.migration_jobs import file_job_completed
from pyvirt_qemu.moment_domain import migratable_xml
from pyvirt_qemu.monitor import Monitor
from pyvirt_qemu.pci_addresses import is_q35
from pyvirt_qemu.pci_hotplug import reserve_next_pci_address
from pyvirt_qemu.process import QemuProcess, start_process
from pyvirt_qemu.save_image import ImageWriter, drop_if_partial, read_image
from pyvirt_qemu.screenshot import ScreenshotHooks
from pyvirt_qemu.snapshot_memory import check_disk_only, create_with_memory
from pyvirt_qemu.snapshots import SnapshotStore
from pyvirt_qemu.state import DomainObj, QemuState
from pyvirt_qemu.stats import collect as collect_stats
from pyvirt_qemu.swtpm import remove_tpm_state
from pyvirt_qemu.vcpus import VcpuHooks, plugs_vcpus_at_start, start_vcpus
from pyvirt_qemu.volume_disks import resolve_volume_disk, resolve_volume_disks, storage_uri

__all__ = ["QemuConnection", "QemuDriver"]

SNAPSHOT_CREATE_HALT = DomainSnapshotCreateFlags.HALT
SNAPSHOT_CREATE_DISK_ONLY = DomainSnapshotCreateFlags.DISK_ONLY
SNAPSHOT_DELETE_METADATA_ONLY = DomainSnapshotDeleteFlags.METADATA_ONLY
ABORT_JOB_POSTCOPY = DomainAbortJobFlags.POSTCOPY
_VCPU_FLAGS = DomainVcpuFlags.LIVE | DomainVcpuFlags.CONFIG | DomainVcpuFlags.MAXIMUM | DomainVcpuFlags.GUEST

_states: dict[str, QemuState] = {}
_states_lock = threading.Lock()


def _wait_migration(monitor: Monitor, jobs: DomainJobs, timeout: float = 600.0) -> dict[str, Any]:
    """Until QEMU's outgoing migration (our save or dump) ends; QEMU only reports it through query-migrate or
    events. A migration cancelled on a client's request (``domjobabort``) fails as libvirt's does, naming the
    async job. Returns QEMU's last answer, whose figures are the completed job's statistics."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info: dict[str, Any] = monitor.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status == "cancelled" and jobs.abort_requested:
            raise jobs.aborted_error()
        if status in ("failed", "cancelled"):
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"job '{jobs.async_job.label}' failed: {info.get('error-desc', status)}",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        time.sleep(0.02)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "domain save did not finish", domain=ErrorDomain.QEMU)


def _wait_incoming(monitor: Monitor, timeout: float = 600.0) -> None:
    """Until QEMU has loaded the whole save image (it leaves the 'inmigrate' run state)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = monitor.execute("query-status").get("status")
        if status in ("paused", "prelaunch", "running"):
            return
        if status != "inmigrate":
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"restoring the save image failed: QEMU is in state '{status}'",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        time.sleep(0.02)
    raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "restore did not finish", domain=ErrorDomain.QEMU)


def _record_ptys(dom: Domain, monitor: Monitor) -> None:
    """Put the ptys QEMU allocated into the live XML (``<source path>``, console ``tty``), as libvirt shows them."""
    if dom.devices is None:
        return
    ptys = {
        c["label"]: c["filename"].removeprefix("pty:")
        for c in monitor.execute("query-chardev")
        if str(c.get("filename", "")).startswith("pty:")
    }
    devices = dom.devices
    chardevs = [*devices.serials, *devices.consoles[len(devices.serials) :]]
    for i, dev in enumerate(chardevs):
        path = ptys.get(f"charserial{i}")
        if path is not None and dev.type in (None, "pty"):
            dev.type, dev.sources = "pty", [ChardevSource(path=path)]
            if any(dev is c for c in devices.consoles):
                dev.tty = path
    for i, console in enumerate(devices.consoles[: len(devices.serials)]):
        path = ptys.get(f"charserial{i}")
        if path is not None and console.type in (None, "pty"):
            console.type, console.tty, console.sources = "pty", path, [ChardevSource(path=path)]


class QemuConnection(IOThreadChangeHooks, MemoryBalloonHooks, BlockIoTuneHooks, ScreenshotHooks, ControlInfoHooks,
                     LifecycleActionHooks, HostMemoryHooks, GuestAgentHooks, MigrationCompressionHooks, CpuCompareHooks,
                     GuestFSInfoHooks, BackupHooks, FdAssociateHooks, CheckpointHooks, VcpuHooks, InterfaceTuneHooks):  # fmt: skip
    # Hooks that only read the in-memory domain table (no lock, no file, no guest, no job): pyvirtd answers
    # them on its event loop without a worker's hand-off (``DriverCalls.never_blocks``). A test holds every
    # lock and job a domain has while calling them.
    pyvirt_never_blocks: ClassVar[frozenset[str]] = frozenset(
        {"domain_lookup_by_name", "domain_lookup_by_uuid", "domain_lookup_by_id"}
    )

    def __init__(self, uri: URI, state: QemuState, events: EventSink, key: str) -> None:
        self.uri = uri
        self.state = state
        self.events = events
        self._key = key
        state.sinks.append(events)

    # ------------------------------------------------------------------ connection
    @hookimpl
    def connect_close(self) -> None:
        release_fd_groups(self.state, self)  # (the descriptors this connection associated: libvirt's close callback)
        with _states_lock:
            self.state.sinks.remove(self.events)
            self.state.refs -= 1
            if self.state.refs == 0:
                _states.pop(self._key, None)
                # Guests keep running (they are not our children); our watchers and monitor connections end.
                self.state.close()

    @hookimpl
    def connect_get_type(self) -> str:
        return "QEMU"

    @hookimpl
    def connect_get_version(self) -> int:
        """The version of the default emulator, from its (cached) QMP probe; 0 when none is installed."""
        emulators = installed_emulators()
        return emulator_caps(emulators[0], self.state.paths.cache).version if emulators else 0

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        if native_format != "qemu-argv":
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported config type {native_format}")
        dom = apply_defaults(parse_domain(xml), self.state.paths.cache, channel_dir=self.state.paths.lib)
        self._firmware(dom)
        self._host_model_cpu(dom)
        resolve_volume_disks(dom, self.uri)
        lib_dir = guest_private_dir(self.state.paths.lib, dom.name or "")
        prepare_graphics(dom, self.state.graphics_cfg, lib_dir, allocate=False)
        qcmd = build_command_line(dom, self.state.paths.monitor(dom.name or ""), vnc_port=5900, standalone=True,
                                  lib_dir=lib_dir, graphics_cfg=self.state.graphics_cfg)  # fmt: skip
        cmd = Command(qcmd.argv).set_env("LC_ALL", "C").pass_env("PATH").set_env("HOME", self.state.paths.lib)
        for key, value in qcmd.env.items():
            cmd.set_env(key, value)
        return render_args_text(cmd.env, cmd.argv, one_line=True)

    @hookimpl
    def node_get_info(self) -> NodeInfo:
        return node_info()

    @hookimpl
    def connect_get_domain_capabilities(
        self, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, flags: int
    ) -> str:
        check_flags(flags, 0, "qemuConnectGetDomainCapabilities")
        return domain_capabilities_xml(self.state.paths.cache, emulator, arch, machine, virttype)

    @hookimpl
    def connect_get_capabilities(self) -> str:
        return capabilities_xml(self.state.paths.cache, self.state.security.models)

    @hookimpl
    def node_get_security_model(self) -> SecurityModel:
        return SecurityModel(self.state.security.model(), self.state.security.doi())

    # ------------------------------------------------------------------ lookups
    @hookimpl
    def domain_list_all(self) -> list[DomainRef]:
        return self.state.list_all()

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return self.state.lookup_by_name(name)

    @hookimpl
    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        return self.state.lookup_by_uuid(uuid)

    @hookimpl
    def domain_lookup_by_id(self, id: int) -> DomainRef:
        return self.state.lookup_by_id(id)

    # ------------------------------------------------------------------ definitions
    @hookimpl
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, DomainDefineFlags.VALIDATE, "qemuDomainDefineXMLFlags")
        dom = apply_defaults(parse_domain(xml), self.state.paths.cache, channel_dir=self.state.paths.lib)
        with self.state.lock:
            # no job, as in libvirt (a define never waits for a save or a start); the data lock orders it
            # with a start or a stop swapping the running and persistent definitions
            existing = self.state.domains.get(dom.uuid or "")
            with existing.lock if existing is not None else contextlib.nullcontext():
                obj, added = self.state.add_definition(dom, live=False)
                obj.persistent = True
                self.state.save_config(dom)
        self.state.emit(obj, DomainEvent.DEFINED, Defined.ADDED if added else Defined.UPDATED)
        return obj.ref()

    def _nvram_of(self, obj: DomainObj) -> str | None:
        dom = obj.config or obj.live
        if dom.os is not None and dom.os.nvram is not None and dom.os.nvram.path:
            return dom.os.nvram.path
        if dom.os is not None and (dom.os.firmware == "efi" or (dom.os.loader and dom.os.loader.type == "pflash")):
            return os.path.join(self.state.paths.nvram_dir, f"{obj.name}_VARS.fd")
        return None

    @hookimpl
    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        check_flags(
            flags,
            DomainUndefineFlags.MANAGED_SAVE
            | DomainUndefineFlags.SNAPSHOTS_METADATA
            | DomainUndefineFlags.NVRAM
            | DomainUndefineFlags.KEEP_NVRAM
            | DomainUndefineFlags.KEEP_TPM
            | DomainUndefineFlags.CHECKPOINTS_METADATA,
            "qemuDomainUndefineFlags",
        )
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY), self.state.lock:
            if not obj.persistent:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot undefine transient domain")
            nvram = self._nvram_of(obj)
            if nvram is not None and os.path.exists(nvram):
                if flags & DomainUndefineFlags.NVRAM:  # VIR_DOMAIN_UNDEFINE_NVRAM
                    os.unlink(nvram)
                elif not flags & DomainUndefineFlags.KEEP_NVRAM:  # VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
                    raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot undefine domain with nvram")
            snapshots = SnapshotStore(self.state.paths, obj.name)
            count = len(snapshots.names())
            if (
                count and not obj.active and not flags & DomainUndefineFlags.SNAPSHOTS_METADATA
            ):  # VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, f"cannot delete inactive domain with {count} snapshots"
                )
            if count and flags & DomainUndefineFlags.SNAPSHOTS_METADATA:
                snapshots.remove_all()
            undefine_checkpoints(self.state.paths, obj, bool(flags & DomainUndefineFlags.CHECKPOINTS_METADATA))
            managed = self.state.paths.managed_save(obj.name)
            if os.path.exists(managed):
                if not flags & DomainUndefineFlags.MANAGED_SAVE:  # VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, "Refusing to undefine while domain managed save image exists"
                    )
                os.unlink(managed)
            if not flags & DomainUndefineFlags.KEEP_TPM and not obj.active:  # VIR_DOMAIN_UNDEFINE_KEEP_TPM
                remove_tpm_state(self.state.paths, obj.persistent_def())
            self.state.forget_definition(obj)

    # ------------------------------------------------------------------ lifecycle
    def _start(
        self,
        obj: DomainObj,
        paused: bool,
        image: str | None = None,
        run: bool | None = None,
        bypass_cache: bool = False,
        reset_nvram: bool = False,
        definition: Domain | None = None,
    ) -> None:
        """Boot the domain, or with ``image`` resume it from a save image (``run``: override was-running;
        ``bypass_cache``: read the image with ``O_DIRECT``, VIR_DOMAIN_SAVE_BYPASS_CACHE; ``reset_nvram``:
        the UEFI variable store written again from its template first, VIR_DOMAIN_START_RESET_NVRAM;
        ``definition``: what runs instead of the domain's own, the managed save image's XML).

        The caller holds the domain's start job (``state.start_job``), whose
        cross-process part has adopted a guest another process started
        meanwhile (this start is then refused) or cleaned up one it
        abandoned mid-start.
        """
        if obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is already running")
        live = (obj.live if definition is None else definition).model_copy(deep=True)
        self._firmware(live, reset_nvram)
        self._host_model_cpu(live)
        resolve_volume_disks(live, self.uri)
        resolve_network_nics(live, self.uri, ports=True)  # each NIC on a network gets its port (portid)
        new_nvram = prepare_nvram(live, reset=reset_nvram)
        try:
            self._launch(obj, live, paused, image, run, bypass_cache)
        except BaseException:
            release_network_ports(live, network_uri(self.uri))
            if new_nvram is not None:  # a failed first start leaves no varstore behind
                with contextlib.suppress(OSError):
                    os.unlink(new_nvram)
            raise

    def _firmware(self, live: Domain, reset_nvram: bool = False) -> None:
        assert live.os is not None and live.os.type is not None
        machine = live.os.type.machine or "pc"
        if live.os.firmware == "efi":
            caps = emulator_caps(emulator_for(live), self.state.paths.cache)
            machine = next((m.name for m in caps.machines if machine in (m.name, m.alias)), machine)
        resolve_firmware(live, machine, self.state.paths.nvram_dir, reset_nvram)

    def _host_model_cpu(self, live: Domain) -> None:
        """Turn ``<cpu mode='host-model'>`` into the named model and features this host offers; refuse a named
        model the emulator lacks when the guest forbids a fallback (qemuProcessUpdateGuestCPU)."""
        cpu = live.cpu
        if cpu is None or cpu.mode not in (None, "custom", "host-model"):
            return
        caps = emulator_caps(emulator_for(live), self.state.paths.cache, tcg=live.type != "kvm")
        if cpu.mode != "host-model":
            check_cpu_model(live, caps)
            return
        host = caps.cpu_host_model()
        if host is None:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"CPU mode 'host-model' for {caps.arch} {live.type} domain on {os.uname().machine} host "
                "is not supported by hypervisor",
            )
        live.cpu = guest_cpu_for_host_model(cpu, host)

    def _launch(
        self, obj: DomainObj, live: Domain, paused: bool, image: str | None, run: bool | None, bypass_cache: bool
    ) -> None:
        st = self.state
        incoming: int | None = None
        reader: CacheBypassingReader | None = None  # (libvirt's iohelper between the image and QEMU)
        domain_id = next(st.next_id)  # before start: it names the guest's huge page directories, as in libvirt
        header = None
        if image is not None:
            header = read_image(image, direct=bypass_cache)
            if bypass_cache:
                reader = CacheBypassingReader(image, header.data_offset)
                incoming = reader.fd
            else:
                incoming = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
                os.lseek(incoming, header.data_offset, os.SEEK_SET)
        sources = _local_sources(live)  # what the disks' startupPolicy may let go (disk-change events)
        # vCPUs plugged at start must exist before the image's state loads: QEMU then waits (libvirt's -incoming
        # defer) and gets the image's descriptor once they are plugged (start_vcpus)
        deferred = os.dup(incoming) if incoming is not None and plugs_vcpus_at_start(live) else None
        try:
            proc = start_process(
                live, st.paths, st.security,
                on_event=lambda ev, data: st.on_qmp_event(obj, ev, data), on_eof=lambda: st.on_monitor_closed(obj),
                qemu_uid=st.qemu_uid, qemu_gid=st.qemu_gid, graphics_cfg=st.graphics_cfg,
                incoming_fd=incoming if deferred is None else None, incoming=None if deferred is None else "defer",
                chardev_tls=st.chardev_tls, nbd_tls=st.nbd_tls,
                domain_id=domain_id, hugepage_mounts=st.hugepage_mounts,
                on_starting=lambda pid, labelled, dirs: st.save_starting(live, domain_id, pid, labelled, dirs),
                fd_groups=groups_of(st, live.uuid or ""),
            )  # fmt: skip
        except Exception:
            if deferred is not None:
                os.close(deferred)
            remove_status(st.paths.status_xml(obj.name))  # start_process undid the rest of this start
            st.audit_start(DomainObj(live=live), -1, False)
            if reader is not None:
                with contextlib.suppress(Error):
                    reader.close()
            raise
        finally:
            if reader is not None:
                reader.hand_over()  # (QEMU has its copy)
            elif incoming is not None:
                os.close(incoming)
        restored = header is not None
        if header is not None:
            paused = not (header.was_running if run is None else run)
        try:
            with obj.lock:
                # (a restore or create of a defined domain: add_definition kept its persistent definition)
                obj.config = (obj.config or obj.live) if obj.persistent else None
                obj.live, obj.process, obj.id = live, proc, domain_id
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.STARTING_UP
            st.save_status(obj)
            start_vcpus(proc, live, deferred)  # <vcpus>' hotpluggable online vCPUs, plugged before anything runs
            # the taps exist and QEMU's CPUs have not run: each NIC's <filterref> becomes a binding on its tap
            # (virDomainConfNWFilterInstantiate); a failure ends the start, and on_exit deletes those made
            bind_nic_filters(live, live.devices.interfaces if live.devices else [], st.nwfilter_uri)
            if restored:
                _wait_incoming(proc.monitor)
                if reader is not None:
                    reader.close()  # (QEMU has read the stream to its end)
            _record_ptys(live, proc.monitor)
            setup_balloon(proc.monitor, live, refresh=not restored)  # qemuProcessSetupBalloon + RefreshBalloonState
            for disk in live.devices.disks if live.devices is not None else []:
                throttle = throttle_args(disk, disk_qom_path(disk))
                if throttle is not None:
                    proc.monitor.execute("block_set_io_throttle", throttle)
            if not paused:
                obj.expect("RESUME")
                proc.monitor.execute("cont")
                obj.state, obj.reason = (
                    DomainState.RUNNING,
                    RunningReason.RESTORED if restored else RunningReason.BOOTED,
                )
            else:  # libvirt 9.0 leaves a paused restore "paused (migrating)", the incoming migration's reason
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.MIGRATION if restored else PausedReason.USER
            st.save_status(obj)
        except Exception as exc:
            destroyed = proc.stop_reason == "destroyed"
            proc.stop_reason = proc.stop_reason or "failed"  # (a destroy that ended this start keeps its reason)
            proc.kill(2)
            st.on_exit(obj, proc)  # (which closes the pidfd and the monitor: nobody watches this QEMU)
            if destroyed:
                # libvirt's qemuProcessStart: once a destroy has ended the domain, the start's next monitor
                # call fails in qemuDomainObjEnterMonitorAsync, not with the monitor's own hang-up
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, "domain is no longer running", domain=ErrorDomain.QEMU
                ) from exc
            raise
        proc.watch(lambda p: st.on_exit(obj, p))
        st.audit_start(obj, proc.pid, True)
        _missing_on_start(st, obj, sources)
        st.emit(obj, DomainEvent.STARTED, Started.RESTORED if restored else Started.BOOTED)
        if paused:
            st.emit(obj, DomainEvent.SUSPENDED, Suspended.RESTORED if restored else Suspended.PAUSED)

    def _save(self, obj: DomainObj, path: str, flags: int, xml: str | None = None) -> None:
        """Within the async job "domain save": pause, stream QEMU's state into a libvirt-format image, end QEMU.

        Queries, ``destroy`` and an abort may run meanwhile (libvirt's default
        mask): the domain's data lock is never held while QEMU writes. ``xml``
        (save --xml) is what the image records instead of the running
        definition, checked once the guest is paused, as qemuDomainSaveInternal
        does: a refused one leaves it "running (save canceled)".
        """
        proc = self._still_running(obj)
        was_running = obj.state == DomainState.RUNNING
        if flags & DomainSaveRestoreFlags.RUNNING:
            was_running = True
        elif flags & DomainSaveRestoreFlags.PAUSED:
            was_running = False
        image: ImageWriter | None = None
        paused_here = False
        before = (obj.state, obj.reason)
        try:
            record_file_job(self.state, obj, AsyncJob.SAVE)  # (what a daemon that follows a killed one recovers)
            if obj.state == DomainState.RUNNING:
                obj.expect("STOP")
                proc.monitor.execute("stop")
                paused_here = True
            with obj.lock:  # what queries show meanwhile, as libvirt: "paused (saving)"
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.SAVE
            self.state.save_status(obj)
            if paused_here:  # libvirt's qemuProcessHandleStop reports the pause for the save as a plain pause
                self.state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
            recorded = obj.live if xml is None else self._save_definition(obj, xml)
            image = ImageWriter(path, format_domain(recorded), was_running,
                                bool(flags & DomainSaveRestoreFlags.BYPASS_CACHE))  # fmt: skip
            info = self.migrate_to_file(obj, proc, image.fd)
            image.finish()
            file_job_completed(self.state, obj, AsyncJob.SAVE, info)
        except BaseException:
            if image is not None:
                image.close()
                with contextlib.suppress(OSError):
                    os.unlink(path)
            after = before
            if paused_here and proc.alive():
                obj.expect("RESUME")
                with contextlib.suppress(Error):
                    proc.monitor.execute("cont")
                    after = (DomainState.RUNNING, RunningReason.SAVE_CANCELED)  # libvirt's "running (save canceled)"
            with obj.lock:
                resumed = obj.process is proc and proc.alive()  # (not when a destroy has ended it meanwhile)
                if resumed:
                    obj.state, obj.reason = after
            if resumed and after[0] == DomainState.RUNNING:  # qemuProcessHandleResume: resumed (unpaused)
                self.state.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)
            end_file_job(self.state, obj)
            raise
        image.close()
        proc.stop_reason = "saved"
        proc.kill(grace=3.0)
        proc.cleaned.wait(30)

    def _save_definition(self, obj: DomainObj, xml: str) -> Domain:
        """save --xml: the user's definition in place of the running one, if its guest ABI is the same."""
        from pyvirt_qemu.save_image_xml import replacement_definition

        with obj.lock:
            running = obj.live.model_copy(deep=True)
        return replacement_definition(running, xml, self.state.paths.cache, self.state.paths.lib)

    @staticmethod
    def migrate_to_file(obj: DomainObj, proc: QemuProcess, fd: int) -> dict[str, Any]:
        """QEMU's migration stream into ``fd``, within the domain's async job (libvirt's qemuMigrationSrcToFile,
        which save, managedsave and a dump that is not memory-only share); ``domjobabort`` cancels it.
        Returns QEMU's last query-migrate answer (status "completed"). QEMU's bandwidth limit is lifted
        meanwhile (:func:`~pyvirt_qemu.migration_speed.unthrottled`)."""
        proc.monitor.pass_fd(fd, "pyvirt-save")
        # QEMU's MIGRATION_PASS, libvirt's migration-iteration event (libvirt turns it on for every QEMU)
        proc.monitor.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
        with migration_speed.unthrottled(obj, proc.monitor):
            proc.monitor.execute("migrate", {"uri": "fd:pyvirt-save"})
            obj.job.on_abort(lambda: proc.monitor.execute("migrate_cancel"))
            try:
                info = _wait_migration(proc.monitor, obj.job)
            finally:
                obj.job.on_abort(None)
        proc.monitor.sync_events()  # each pass's migration-iteration event goes out before the job's end
        return info

    @hookimpl
    def domain_core_dump(self, dom: DomainRef, to: str, dumpformat: int, flags: int) -> None:
        dump.core_dump(self, dom, to, dumpformat, flags)

    @hookimpl
    def domain_save(self, dom: DomainRef, path: str, xml: str | None, flags: int) -> None:
        check_flags(
            flags,
            DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
            "qemuDomainSaveFlags",
        )
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding_async(AsyncJob.SAVE):
            self._save(obj, os.path.abspath(path), flags, xml)

    @hookimpl
    def domain_restore(self, path: str, xml: str | None, flags: int) -> DomainRef:
        check_flags(
            flags,
            DomainSaveRestoreFlags.BYPASS_CACHE
            | DomainSaveRestoreFlags.RUNNING
            | DomainSaveRestoreFlags.PAUSED
            | DomainSaveRestoreFlags.RESET_NVRAM,
            "qemuDomainRestoreFlags",
        )
        header = read_image(path, direct=bool(flags & DomainSaveRestoreFlags.BYPASS_CACHE))
        dom = apply_defaults(parse_domain(header.xml))
        if xml is not None:  # qemuSaveImageUpdateDef: the user's XML runs, if its guest ABI is the image's
            from pyvirt_qemu.save_image_xml import replacement_definition

            dom = replacement_definition(dom, xml, self.state.paths.cache, self.state.paths.lib)
        with self.state.lock:
            obj, added = self.state.add_definition(dom, live=True)
        run = (
            True if flags & DomainSaveRestoreFlags.RUNNING else False if flags & DomainSaveRestoreFlags.PAUSED else None
        )
        bypass_cache = bool(flags & DomainSaveRestoreFlags.BYPASS_CACHE)
        try:
            with self.state.start_job(obj):
                self._start(obj, paused=False, image=path, run=run, bypass_cache=bypass_cache,
                            reset_nvram=bool(flags & DomainSaveRestoreFlags.RESET_NVRAM))  # fmt: skip
        except Exception:
            self.state.undo_add_definition(obj, added)
            raise
        return obj.ref()

    @hookimpl
    def domain_managed_save(self, dom: DomainRef, flags: int) -> None:
        check_flags(
            flags,
            DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
            "qemuDomainManagedSave",
        )
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        if not obj.persistent:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot do managed save for transient domain")
        with obj.job.holding_async(AsyncJob.SAVE):
            self._save(obj, self.state.paths.managed_save(obj.name), flags)

    @hookimpl
    def domain_abort_job(self, dom: DomainRef, flags: int) -> None:
        """libvirt's qemuDomainAbortJobFlags: a save (managed or not) is cancelled through ``migrate_cancel``;
        its caller then fails with OPERATION_ABORTED and the guest runs again ("running (save canceled)").

        ``--postcopy`` interrupts an outgoing migration in post-copy instead (QEMU's ``migrate-pause``).
        """
        check_flags(flags, ABORT_JOB_POSTCOPY, "qemuDomainAbortJobFlags")
        obj = self.state.find(dom)
        if not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        if flags & ABORT_JOB_POSTCOPY:  # break the stream of a migration in post-copy
            migration.pause_post_copy(self, obj)
            return
        obj.job.abort()

    # ------------------------------------------------------------------ migration (see pyvirt_qemu.migration)
    @hookimpl
    def domain_migrate_begin(self, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
        return migration.begin(self, dom, params, flags)

    @hookimpl
    def domain_migrate_prepare(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
        return migration.prepare(self, params, cookie, flags)

    @hookimpl
    def domain_migrate_prepare_tunnel(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
        return migration.prepare_tunnel(self, params, cookie, flags)

    @hookimpl
    def domain_migrate_perform(
        self, dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
    ) -> bytes:
        return migration.perform(self, dom, dconnuri, params, cookie, flags)

    @hookimpl
    def domain_migrate_finish(
        self, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> tuple[DomainRef, bytes]:
        return migration.finish(self, params, cookie, flags, cancelled)

    @hookimpl
    def domain_migrate_confirm(
        self, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> None:
        migration.confirm(self, dom, params, cookie, flags, cancelled)

    @hookimpl
    def domain_get_job_stats(self, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]]:
        return (
            dump.job_stats(self, dom, flags)
            or self.backup_job_stats(dom, flags)
            or migration.job_stats(self, dom, flags)
        )

    @hookimpl
    def domain_migrate_start_post_copy(self, dom: DomainRef, flags: int) -> None:
        migration.start_post_copy(self, dom, flags)

    @hookimpl
    def domain_migrate_set_max_downtime(self, dom: DomainRef, downtime: int, flags: int) -> None:
        migration_tuning.set_max_downtime(self, dom, downtime, flags)

    @hookimpl
    def domain_migrate_get_max_downtime(self, dom: DomainRef, flags: int) -> int:
        return migration_tuning.get_max_downtime(self, dom, flags)

    @hookimpl
    def domain_migrate_set_max_speed(self, dom: DomainRef, bandwidth: int, flags: int) -> None:
        migration_speed.set_max_speed(self, dom, bandwidth, flags)

    @hookimpl
    def domain_migrate_get_max_speed(self, dom: DomainRef, flags: int) -> int:
        return migration_speed.get_max_speed(self, dom, flags)

    @hookimpl
    def domain_managed_save_remove(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "qemuDomainManagedSaveRemove")
        obj = self.state.find(dom)
        try:
            os.unlink(self.state.paths.managed_save(obj.name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to remove managed save file '{exc.filename}'") from exc

    # ------------------------------------------------------------------ the XML inside save images
    @hookimpl
    def domain_save_image_get_xml_desc(self, path: str, flags: int) -> str:
        from pyvirt_qemu.save_image_xml import image_xml_desc

        check_flags(flags, DomainSaveImageXMLFlags.SECURE, "qemuDomainSaveImageGetXMLDesc")
        return image_xml_desc(path, flags, self.state.paths.cache, self.state.paths.lib)

    @hookimpl
    def domain_save_image_define_xml(self, path: str, xml: str, flags: int) -> None:
        from pyvirt_qemu.save_image_xml import define_image_xml

        check_flags(flags, DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
                    "qemuDomainSaveImageDefineXML")  # fmt: skip
        define_image_xml(path, xml, flags, self.state.paths.cache, self.state.paths.lib)

    def _managed_image(self, dom: DomainRef) -> str:
        """The domain's managed save image (qemuDomainManagedSavePath), which must exist."""
        path = self.state.paths.managed_save(self.state.find(dom).name)
        if not os.path.exists(path):
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain does not have managed save image")
        return path

    @hookimpl
    def domain_managed_save_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        from pyvirt_qemu.save_image_xml import image_xml_desc

        check_flags(flags, DomainSaveImageXMLFlags.SECURE, "qemuDomainManagedSaveGetXMLDesc")
        return image_xml_desc(self._managed_image(dom), flags, self.state.paths.cache, self.state.paths.lib)

    @hookimpl
    def domain_managed_save_define_xml(self, dom: DomainRef, xml: str | None, flags: int) -> None:
        """qemuDomainManagedSaveDefineXML: qemuDomainSaveImageDefineXML on the managed image. libvirt's remote
        protocol lets ``xml`` be NULL, which its QEMU driver then compares as a string (a crash, not a feature):
        here it is refused as an invalid argument instead."""
        from pyvirt_qemu.save_image_xml import define_image_xml

        path = self._managed_image(dom)
        check_flags(flags, DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED,
                    "qemuDomainSaveImageDefineXML")  # fmt: skip
        if xml is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "dxml in qemuDomainManagedSaveDefineXML must not be NULL")
        define_image_xml(path, xml, flags, self.state.paths.cache, self.state.paths.lib)

    @hookimpl
    def domain_create_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(
            flags,
            DomainCreateFlags.START_PAUSED
            | DomainCreateFlags.START_AUTODESTROY
            | DomainCreateFlags.START_BYPASS_CACHE
            | DomainCreateFlags.START_RESET_NVRAM,
            "qemuDomainCreateXML",
        )
        dom = apply_defaults(parse_domain(xml), self.state.paths.cache, channel_dir=self.state.paths.lib)
        with self.state.lock:
            obj, added = self.state.add_definition(dom, live=True)
        try:
            with self.state.start_job(obj):
                self._start(obj, paused=bool(flags & DomainCreateFlags.START_PAUSED),
                            reset_nvram=bool(flags & DomainCreateFlags.START_RESET_NVRAM))  # fmt: skip
        except Exception:
            self.state.undo_add_definition(obj, added)
            raise
        return obj.ref()

    @hookimpl
    def domain_create(self, dom: DomainRef, flags: int) -> None:
        check_flags(
            flags,
            DomainCreateFlags.START_PAUSED
            | DomainCreateFlags.START_AUTODESTROY
            | DomainCreateFlags.START_BYPASS_CACHE
            | DomainCreateFlags.START_FORCE_BOOT
            | DomainCreateFlags.START_RESET_NVRAM,
            "qemuDomainCreateWithFlags",
        )
        obj = self.state.find(dom)
        reset_nvram = bool(flags & DomainCreateFlags.START_RESET_NVRAM)  # a restore of the managed save too
        with self.state.start_job(obj):
            managed = self.state.paths.managed_save(obj.name)
            # a managed save that never completed (the daemon died) is dropped: a fresh boot
            drop_if_partial(managed, direct=bool(flags & DomainCreateFlags.START_BYPASS_CACHE))
            if os.path.exists(managed) and not flags & DomainCreateFlags.START_FORCE_BOOT:  # boot afresh instead
                self._start(
                    obj,
                    paused=False,
                    image=managed,
                    definition=self._managed_definition(
                        obj, managed, bool(flags & DomainCreateFlags.START_BYPASS_CACHE)
                    ),
                    run=False if flags & DomainCreateFlags.START_PAUSED else None,
                    bypass_cache=bool(flags & DomainCreateFlags.START_BYPASS_CACHE),
                    reset_nvram=reset_nvram,
                )
                os.unlink(managed)  # the guest runs from it now; a second start must boot fresh
            else:
                self._start(obj, paused=bool(flags & DomainCreateFlags.START_PAUSED), reset_nvram=reset_nvram)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(managed)

    @staticmethod
    def _managed_definition(obj: DomainObj, image: str, direct: bool) -> Domain:
        """The definition a start from the managed save runs: the image's own (``managedsave-define`` may have
        changed it), which must be this domain's, as libvirt's qemuDomainObjRestore checks before
        virDomainObjAssignDef; the persistent definition stays the domain's next one."""
        dom = apply_defaults(parse_domain(read_image(image, direct=direct).xml))
        if dom.name != obj.name or dom.uuid != obj.uuid:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED,
                f"cannot restore domain '{obj.name}' uuid {obj.uuid} from a file which belongs to domain "
                f"'{dom.name}' uuid {dom.uuid}",
                domain=ErrorDomain.QEMU,
            )
        return dom

    def _running(self, dom: DomainRef) -> DomainObj:
        obj = self.state.find(dom)
        if not obj.active or obj.process is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        return obj

    @hookimpl
    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, DomainDestroyFlags.GRACEFUL | DomainDestroyFlags.REMOVE_LOGS, "qemuDomainDestroyFlags")
        obj = self.state.find(dom)
        if self.state.destroy_start(obj):  # a start with no QEMU adopted yet: ended, as libvirt's destroy ends it
            if flags & DomainDestroyFlags.REMOVE_LOGS:
                remove_logs(self.state.paths.log, obj.name)
            return
        with obj.lock:
            proc = obj.process
            if proc is None or not obj.active or proc.stop_reason == "destroyed":  # (another destroy has it)
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
                )
            proc.stop_reason = "destroyed"
        # libvirt's qemuProcessBeginStopJob: kill first, so that whatever job talks to QEMU now (a save, a
        # detach waiting for the guest) fails at once and lets go; then the destroy job, which may begin
        # beside any async job
        obj.deleted.interrupt()
        # woken once, when the watcher has cleaned up after the exit (not at the exit, then again after it)
        proc.kill(grace=10.0 if flags & DomainDestroyFlags.GRACEFUL else 3.0, until=proc.cleaned)
        try:
            with obj.job.holding(Job.DESTROY):
                proc.cleaned.wait(30)  # the watcher thread cleans up right after the exit
        except NotFoundError:
            # a transient guest whose cleanup after the exit (this destroy's outcome) removed it before this
            # thread, woken late on a busy host, began its job: destroyed all the same, as libvirt reports it
            if not proc.cleaned.wait(30):
                raise
        if flags & DomainDestroyFlags.REMOVE_LOGS:  # after the stop, as qemuDomainDestroyFlags does
            remove_logs(self.state.paths.log, obj.name)

    @hookimpl
    def domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        """ACPI power button or the guest agent (flags 1, 2); by default the agent when it listens, else ACPI."""
        check_flags(
            flags, DomainShutdownFlags.ACPI_POWER_BTN | DomainShutdownFlags.GUEST_AGENT, "qemuDomainShutdownFlags"
        )
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            if self._by_agent(obj, flags, "powerdown"):
                return
            self._monitor_call(obj, proc, "system_powerdown")

    @hookimpl
    def domain_reboot(self, dom: DomainRef, flags: int) -> None:
        """Like shutdown, but the guest comes back: an agent reboot, or ACPI power-off then reset and go."""
        check_flags(flags, DomainRebootFlags.ACPI_POWER_BTN | DomainRebootFlags.GUEST_AGENT, "qemuDomainReboot")
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            if self._by_agent(obj, flags, "reboot"):
                return
            with obj.lock:
                obj.fake_reboot = True
            self._monitor_call(obj, proc, "system_powerdown")

    @hookimpl
    def domain_get_metadata(self, dom: DomainRef, type: int, uri: str | None, flags: int) -> str:
        """qemuDomainGetMetadata: the title, description or an element of the definition ``flags`` names."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG, "qemuDomainGetMetadata")
        obj = self.state.find(dom)
        if flags & DomainModificationImpact.LIVE and flags & DomainModificationImpact.CONFIG:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
            )
        live, _config = self._affect(obj, flags, "transient domains do not have any persistent config")
        with obj.lock:
            return get_metadata(obj.live if live else obj.persistent_def(), type, uri)

    @hookimpl
    def domain_set_metadata(
        self, dom: DomainRef, type: int, metadata: str | None, key: str | None, uri: str | None, flags: int
    ) -> None:
        """qemuDomainSetMetadata: the running definition (then the status file) and/or the persistent one (its file)."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG, "qemuDomainSetMetadata")
        element = parse_element(type, metadata, key, uri)
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            if live:
                set_metadata(obj.live, type, metadata, uri, element)
                self.state.save_status(obj)
            if config:
                persistent = obj.persistent_def()
                set_metadata(persistent, type, metadata, uri, element)
                self.state.save_config(persistent)
        # qemuDomainSetMetadata's metadata-change event, with the namespace as the caller gave it
        from pyvirt.events import MetadataChangeEvent

        ev = MetadataChangeEvent(obj.ref(), type, uri)
        for sink in list(self.state.sinks):
            sink.emit("metadata-change", ev)

    @hookimpl
    def domain_reset(self, dom: DomainRef, flags: int) -> None:
        """qemuDomainReset: QMP system_reset at once, no guest cooperation.

        QEMU's RESET event is then reported as a reboot event, as for any reset;
        a pending fake reboot is forgotten, and a crashed guest QEMU keeps
        paused shows as paused (crashed), as libvirt shows it.
        """
        check_flags(flags, 0, "qemuDomainReset")
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            self._monitor_call(obj, proc, "system_reset")
            with obj.lock:
                obj.fake_reboot = False
                if obj.state == DomainState.CRASHED:
                    obj.state, obj.reason = DomainState.PAUSED, PausedReason.CRASHED
            self.state.save_status(obj)

    @hookimpl
    def domain_inject_nmi(self, dom: DomainRef, flags: int) -> None:
        """qemuDomainInjectNMI: QMP inject-nmi (QEMU delivers it to every vCPU of an x86 guest)."""
        check_flags(flags, 0, "qemuDomainInjectNMI")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            self._monitor_call(obj, proc, "inject-nmi")

    @hookimpl
    def domain_set_block_threshold(self, dom: DomainRef, dev: str, threshold: int, flags: int) -> None:
        """qemuDomainSetBlockThreshold: QMP block-set-write-threshold on the image's storage node."""
        check_flags(flags, 0, "qemuDomainSetBlockThreshold")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            node = threshold_node(obj, dev)
            proc.monitor.execute("block-set-write-threshold", {"node-name": node, "write-threshold": threshold})

    @hookimpl
    def domain_block_resize(self, dom: DomainRef, disk: str, size: int, flags: int) -> None:
        block_resize.block_resize(self, dom, disk, size, flags)

    # ------------------------------------------------------------------ libvirt-qemu pass-through (contract 1.15)
    @hookimpl
    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        return qemu_passthrough.monitor_command(self, dom, cmd, flags)

    @hookimpl
    def domain_qemu_agent_command(self, dom: DomainRef, cmd: str, timeout: int, flags: int) -> str:
        return qemu_passthrough.agent_command(self, dom, cmd, timeout, flags)

    # ------------------------------------------------------------------ guest queries (contract 1.11)
    @hookimpl
    def domain_get_vcpus_flags(self, dom: DomainRef, flags: int) -> int:
        """qemuDomainGetVcpusFlags: counts from the definition, or with GUEST the guest agent's online vCPUs."""
        check_flags(flags, _VCPU_FLAGS, "qemuDomainGetVcpusFlags")
        obj = self.state.find(dom)
        d = self._one_def(obj, flags)
        if flags & DomainVcpuFlags.GUEST:
            if not obj.active:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "vCPU count provided by the guest agent can only "
                                           "be requested for live domains")  # fmt: skip
            cpus = self._agent(obj).execute("guest-get-vcpus")
            return len(cpus) if flags & DomainVcpuFlags.MAXIMUM else sum(1 for c in cpus if c.get("online"))
        count = d.vcpu.count or 1 if d.vcpu is not None else 1
        return count if flags & DomainVcpuFlags.MAXIMUM else (d.vcpu.current or count if d.vcpu is not None else count)

    @hookimpl
    def domain_get_vcpus(self, dom: DomainRef, maxinfo: int, maplen: int) -> list[VcpuInfo]:
        """qemuDomainGetVcpus: each vCPU thread QEMU reports, measured in /proc."""
        obj = self.state.find(dom)
        proc = obj.process
        if not obj.active or proc is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        "cannot retrieve vcpu information for inactive domain")  # fmt: skip
        return guest_stats.vcpu_info(proc.pid, proc.monitor, maxinfo, maplen)

    @hookimpl
    def domain_get_vcpu_pin_info(self, dom: DomainRef, ncpumaps: int, maplen: int, flags: int) -> list[bytes]:
        """qemuDomainGetVcpuPinInfo: the pinning the running or persistent definition asks for."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG, "qemuDomainGetVcpuPinInfo")
        obj = self.state.find(dom)
        with obj.lock:
            return guest_stats.vcpu_pin_maps(self._one_def(obj, flags), ncpumaps, maplen)

    @hookimpl
    def domain_pin_vcpu(self, dom: DomainRef, vcpu: int, cpumap: bytes, flags: int) -> None:
        """qemuDomainPinVcpuFlags: the vCPU thread's affinity and the running definition, and/or the persistent one."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG, "qemuDomainPinVcpuFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if persistent is not None and persistent.vcpu is not None and vcpu >= (persistent.vcpu.count or 1):
                count = persistent.vcpu.current or persistent.vcpu.count or 1
                raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                           f"vcpu {vcpu} is out of range of persistent cpu count {count}")  # fmt: skip
            cpus = guest_stats.cpus_of_map(cpumap)
            if not cpus:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Empty cpu list for pinning")
            if live:
                proc = self._still_running(obj)
                guest_stats.pin_vcpu_thread(proc.pid, proc.monitor, obj.live, vcpu, cpus)
                with obj.lock:
                    guest_stats.set_vcpupin(obj.live, vcpu, cpus)
                self.state.save_status(obj)
            if persistent is not None:
                guest_stats.set_vcpupin(persistent, vcpu, cpus)
                self.state.save_config(persistent)

    @hookimpl
    def domain_get_emulator_pin_info(self, dom: DomainRef, maplen: int, flags: int) -> bytes:
        """qemuDomainGetEmulatorPinInfo: the pinning the running or persistent definition asks for."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG,
                    "qemuDomainGetEmulatorPinInfo")  # fmt: skip
        obj = self.state.find(dom)
        with obj.lock:
            return guest_stats.emulator_pin_map(self._one_def(obj, flags), maplen)

    @hookimpl
    def domain_pin_emulator(self, dom: DomainRef, cpumap: bytes, flags: int) -> None:
        """qemuDomainPinEmulator: the emulator threads' affinity and the running definition, and/or the persistent one."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG, "qemuDomainPinEmulator")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            cpus = guest_stats.cpus_of_map(cpumap)
            if not cpus:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Empty cpu list for pinning")
            if live:
                proc = self._still_running(obj)
                pin_emulator_threads(proc.pid, proc.monitor, cpus)
                with obj.lock:
                    guest_stats.set_emulatorpin(obj.live, cpus)
                    pinned = obj.live.cputune.emulatorpin if obj.live.cputune is not None else None
                self.state.save_status(obj)
                # libvirt's tunable event, with the new pinning as virBitmapFormat writes it
                ref = obj.ref()
                for sink in list(self.state.sinks):
                    sink.tunable(ref, [TypedParam("cputune.emulatorpin", TypedParamType.STRING, pinned or "")])
            if config:
                persistent = obj.persistent_def()
                guest_stats.set_emulatorpin(persistent, cpus)
                self.state.save_config(persistent)

    @hookimpl
    def node_get_cpu_map(self, flags: int) -> tuple[int, bytes, int]:
        """virHostCPUGetMap: the host's present CPUs and which of them are online."""
        check_flags(flags, 0, "virHostCPUGetMap")
        return guest_stats.host_cpu_map()

    @hookimpl
    def domain_memory_stats(self, dom: DomainRef, max_stats: int, flags: int) -> list[tuple[int, int]]:
        """qemuDomainMemoryStats: the balloon's numbers, then QEMU's resident size."""
        check_flags(flags, 0, "qemuDomainMemoryStats")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            return guest_stats.memory_stats(obj.live, proc.monitor, proc.pid, max_stats)

    @hookimpl
    def domain_set_memory_stats_period(self, dom: DomainRef, period: int, flags: int) -> None:
        """qemuDomainSetMemoryStatsPeriod: QOM guest-stats-polling-interval now, and/or the persistent definition."""
        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG,
                    "qemuDomainSetMemoryStatsPeriod")  # fmt: skip
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            if live:
                proc = self._still_running(obj)
                guest_stats.set_stats_period(obj.live, proc.monitor, period)
                self.state.save_status(obj)
            if config:
                persistent = obj.persistent_def()
                guest_stats.set_stats_period(persistent, None, period)
                self.state.save_config(persistent)

    @hookimpl
    def domain_block_stats(self, dom: DomainRef, path: str) -> BlockStats:
        """qemuDomainBlockStats of one disk, from query-blockstats."""
        if not path:  # libvirt sums every disk; virsh always names one
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "summary statistics are not supported yet")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            return guest_stats.block_stats(obj.live, proc.monitor, path)

    @hookimpl
    def domain_block_stats_flags(self, dom: DomainRef, path: str, flags: int) -> list[TypedParam]:
        """qemuDomainBlockStatsFlags: query-blockstats' eight counters (no string values, so STRING_OKAY is moot)."""
        check_flags(flags, TypedParameterFlags.OKAY, "qemuDomainBlockStatsFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            return guest_stats.block_stats_counters(obj.live, proc.monitor, path)

    @hookimpl
    def domain_get_block_job_info(self, dom: DomainRef, path: str, flags: int) -> tuple[int, int, int, int]:
        """qemuDomainGetBlockJobInfo: the disk's job from query-block-jobs (a storage migration's mirror)."""
        check_flags(flags, DomainBlockJobInfoFlags.BYTES, "qemuDomainGetBlockJobInfo")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            copies = {target: job.name for target, job in obj.block_jobs.items()}
            in_bytes = bool(flags & DomainBlockJobInfoFlags.BYTES)
            info = guest_stats.block_job_info(obj.live, proc.monitor, path, in_bytes, copies)
            job = obj.block_jobs.get(self._job_disk(obj, path).target_dev or "")
            if info[0] and isinstance(job, block_chain.ChainJob):  # libvirt's own type: QEMU says commit for both
                return (job.job_type, *info[1:])
            return info

    @hookimpl
    def domain_block_copy(self, dom: DomainRef, path: str, destxml: str, params: list[TypedParam], flags: int) -> None:
        """qemuDomainBlockCopy: ``blockdev-mirror`` of the disk to the image ``destxml`` describes."""
        check_flags(flags, DomainBlockCopyFlags.SHALLOW | DomainBlockCopyFlags.REUSE_EXT
                    | DomainBlockCopyFlags.TRANSIENT_JOB | DomainBlockCopyFlags.SYNCHRONOUS_WRITES,
                    "qemuDomainBlockCopy")  # fmt: skip
        request = block_jobs.request_from_xml(destxml, params, flags)
        self._block_copy(dom, path, request, bool(flags & DomainBlockCopyFlags.TRANSIENT_JOB))

    @hookimpl
    def domain_block_rebase(self, dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int) -> None:
        """qemuDomainBlockRebase: with COPY, a block copy to the file ``base``; without, a pull down to ``base``."""
        check_flags(flags, DomainBlockRebaseFlags.SHALLOW | DomainBlockRebaseFlags.REUSE_EXT
                    | DomainBlockRebaseFlags.COPY | DomainBlockRebaseFlags.COPY_RAW | DomainBlockRebaseFlags.RELATIVE
                    | DomainBlockRebaseFlags.COPY_DEV | DomainBlockRebaseFlags.BANDWIDTH_BYTES,
                    "qemuDomainBlockRebase")  # fmt: skip
        if not flags & DomainBlockRebaseFlags.COPY:
            # qemuDomainBlockPullCommon reads only RELATIVE and the bytes flag (BlockPull's value too); the copy
            # flags are ignored there, as in libvirt
            self._block_pull(dom, path, base, bandwidth, flags)
            return
        self._block_copy(dom, path, block_jobs.request_from_rebase(base, bandwidth, flags), False)

    @hookimpl
    def domain_block_pull(self, dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
        """qemuDomainBlockPull: ``block-stream`` of the whole chain into the disk's top image."""
        check_flags(flags, DomainBlockPullFlags.BYTES, "qemuDomainBlockPull")
        self._block_pull(dom, path, None, bandwidth, flags)

    def _block_pull(self, dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int) -> None:
        speed = block_jobs.speed_bytes(bandwidth, bool(flags & DomainBlockPullFlags.BYTES))
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            disk = self._job_disk(obj, path)
            block_chain.start_pull(self.state, obj, proc.monitor, disk, base, speed,
                                   bool(flags & DomainBlockRebaseFlags.RELATIVE))  # fmt: skip

    @hookimpl
    def domain_block_commit(self, dom: DomainRef, path: str, base: str | None, top: str | None, bandwidth: int,
                            flags: int) -> None:  # fmt: skip
        """qemuDomainBlockCommit: ``block-commit`` from ``top`` into ``base`` (ACTIVE: of the running image)."""
        check_flags(flags, DomainBlockCommitFlags.SHALLOW | DomainBlockCommitFlags.ACTIVE
                    | DomainBlockCommitFlags.RELATIVE | DomainBlockCommitFlags.DELETE
                    | DomainBlockCommitFlags.BANDWIDTH_BYTES, "qemuDomainBlockCommit")  # fmt: skip
        speed = block_jobs.speed_bytes(bandwidth, bool(flags & DomainBlockCommitFlags.BANDWIDTH_BYTES))
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            disk = self._job_disk(obj, path)
            block_chain.start_commit(self.state, obj, proc.monitor, disk, base, top, speed,
                                     shallow=bool(flags & DomainBlockCommitFlags.SHALLOW),
                                     active=bool(flags & DomainBlockCommitFlags.ACTIVE),
                                     relative=bool(flags & DomainBlockCommitFlags.RELATIVE),
                                     delete=bool(flags & DomainBlockCommitFlags.DELETE))  # fmt: skip

    def _block_copy(self, dom: DomainRef, path: str, request: block_jobs.CopyRequest, transient_job: bool) -> None:
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            disk = self._job_disk(obj, path)
            if request.kind == "volume":  # through the storage driver, as a volume disk at start
                with pyvirt.open(storage_uri(self.uri)) as storage:
                    block_jobs.translate_volume(request, storage)
            block_jobs.start_copy(self.state, obj, proc.monitor, disk, request, transient_job)

    @staticmethod
    def _job_disk(obj: DomainObj, path: str) -> Disk:
        found = guest_stats.find_disk(obj.live, path)
        if found is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk '{path}' not found in domain")
        return found[1]

    @hookimpl
    def domain_block_job_abort(self, dom: DomainRef, path: str, flags: int) -> None:
        """qemuDomainBlockJobAbort: cancel or (PIVOT) complete the disk's copy; ASYNC returns once asked."""
        check_flags(flags, DomainBlockJobAbortFlags.ASYNC | DomainBlockJobAbortFlags.PIVOT, "qemuDomainBlockJobAbort")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            disk = self._job_disk(obj, path)
            block_jobs.abort(self.state, obj, proc.monitor, disk, bool(flags & DomainBlockJobAbortFlags.PIVOT),
                             not flags & DomainBlockJobAbortFlags.ASYNC)  # fmt: skip

    @hookimpl
    def domain_block_job_set_speed(self, dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
        """qemuDomainBlockJobSetSpeed: the job's limit, given in MiB/s unless BYTES."""
        check_flags(flags, DomainBlockJobSetSpeedFlags.BYTES, "qemuDomainBlockJobSetSpeed")
        bandwidth = block_jobs.speed_bytes(bandwidth, bool(flags & DomainBlockJobSetSpeedFlags.BYTES))
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            block_jobs.set_speed(obj, proc.monitor, self._job_disk(obj, path), bandwidth)

    @hookimpl
    def domain_interface_stats(self, dom: DomainRef, device: str) -> InterfaceStats:
        """qemuDomainInterfaceStats: the tap's counters as the guest sees them."""
        obj = self._running(dom)
        return guest_stats.interface_stats(obj.live, device)

    @hookimpl
    def domain_get_block_info(self, dom: DomainRef, path: str, flags: int) -> BlockInfo:
        """qemuDomainGetBlockInfo: sizes from QEMU while running, from the image file otherwise."""
        check_flags(flags, 0, "qemuDomainGetBlockInfo")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = obj.process
            return guest_stats.block_info(obj.live, proc.monitor if proc is not None and obj.active else None, path)

    @hookimpl
    def domain_send_key(self, dom: DomainRef, codeset: int, holdtime: int, keycodes: list[int], flags: int) -> None:
        """qemuDomainSendKey: QMP send-key with the codes in QEMU's QNUM set, translated before any lookup."""
        check_flags(flags, 0, "qemuDomainSendKey")
        arguments = guest_stats.send_key_arguments(codeset, holdtime, keycodes)
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            proc.monitor.execute("send-key", arguments)

    @hookimpl
    def domain_get_time(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        """qemuDomainGetTime: the guest agent's clock (guest-get-time, nanoseconds since the epoch)."""
        check_flags(flags, 0, "qemuDomainGetTime")
        obj = self._running(dom)
        ns = int(self._agent(obj).execute("guest-get-time"))
        return ns // 1_000_000_000, ns % 1_000_000_000

    @hookimpl
    def domain_get_iothread_info(self, dom: DomainRef, flags: int) -> list[IOThreadInfo]:
        """qemuDomainGetIOThreadInfo: the persistent definition's threads when CONFIG is asked (or the domain is
        off), else the running QEMU's (query-iothreads) with the kernel's affinity of each thread."""
        from pyvirt_qemu.iothread_info import config_iothreads, live_iothreads

        check_flags(flags, DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG,
                    "qemuDomainGetIOThreadInfo")  # fmt: skip
        obj = self.state.find(dom)
        _live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
        if config:  # virDomainObjGetDefs gave the persistent definition
            with obj.lock:
                return config_iothreads(obj.persistent_def())
        with obj.job.holding(Job.QUERY):
            if not obj.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot list IOThreads for an inactive domain")
            proc = self._still_running(obj)
            return live_iothreads(proc.monitor.execute("query-iothreads"))

    @hookimpl
    def domain_fs_freeze(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        """qemuDomainFSFreeze: the domain running, then the agent (guest-fsfreeze-freeze, or -freeze-list for
        some mount points); the guest's count of file systems it froze."""
        check_flags(flags, 0, "qemuDomainFSFreeze")
        obj = self._running(dom)
        agent = self._agent(obj)
        if mountpoints:
            return int(agent.execute("guest-fsfreeze-freeze-list", {"mountpoints": list(mountpoints)}))
        return int(agent.execute("guest-fsfreeze-freeze"))

    @hookimpl
    def domain_fs_thaw(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        """qemuDomainFSThaw: the agent thaws all or nothing (guest-fsfreeze-thaw), so mount points are refused
        before the domain is looked up."""
        check_flags(flags, 0, "qemuDomainFSThaw")
        if mountpoints:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "specifying mountpoints is not supported")
        obj = self._running(dom)
        return int(self._agent(obj).execute("guest-fsfreeze-thaw"))

    @hookimpl
    def domain_fs_trim(self, dom: DomainRef, mountpoint: str | None, minimum: int, flags: int) -> None:
        """qemuDomainFSTrim: guest-fstrim over every file system (libvirt 9.0 takes no mount point), the agent
        checked before the domain's state as libvirt orders them."""
        check_flags(flags, 0, "qemuDomainFSTrim")
        if mountpoint is not None:
            raise InvalidArgumentError(
                ErrorCode.ARGUMENT_UNSUPPORTED, "Specifying mount point is not supported for now"
            )
        obj = self.state.find(dom)
        self._agent(obj).execute("guest-fstrim", {"minimum": minimum})

    @hookimpl
    def domain_set_time(self, dom: DomainRef, seconds: int, nseconds: int, flags: int) -> None:
        """qemuDomainSetTime: guest-set-time (no time: the guest reads its RTC), then QEMU stops catching up ticks."""
        check_flags(flags, DomainSetTimeFlags.SYNC, "qemuDomainSetTime")
        obj = self._running(dom)
        arguments: dict[str, Any] = {}
        if not flags & DomainSetTimeFlags.SYNC:
            if seconds > (2**63 - 1 - nseconds) // 1_000_000_000:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Time '{seconds}' is too big for guest agent")
            arguments["time"] = seconds * 1_000_000_000 + nseconds
        self._agent(obj).execute("guest-set-time", arguments)
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            os_type = obj.live.os.type if obj.live.os is not None else None
            if (os_type.arch if os_type is not None else None) in (None, "i686", "x86_64"):
                # the RTC's lost ticks would otherwise be replayed on top of the time just set
                proc.monitor.execute("rtc-reset-reinjection")

    @hookimpl
    def domain_get_hostname(self, dom: DomainRef, flags: int) -> str:
        """qemuDomainGetHostname: from the guest agent (the default) or the DHCP leases of the guest's networks."""
        check_flags(flags, DomainGetHostnameFlags.LEASE | DomainGetHostnameFlags.AGENT, "qemuDomainGetHostname")
        if flags & DomainGetHostnameFlags.LEASE and flags & DomainGetHostnameFlags.AGENT:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and "
                                       "'VIR_DOMAIN_GET_HOSTNAME_AGENT' are mutually exclusive", verbatim=True)  # fmt: skip
        obj = self._running(dom)
        hostname = None
        if flags & DomainGetHostnameFlags.LEASE:
            hostname = self._lease_hostname(obj)
        else:
            with contextlib.suppress(Error):  # libvirt ignores the agent's failure and says no hostname was found
                hostname = self._agent(obj).execute("guest-get-host-name").get("host-name")
            if hostname is None:
                self._agent(obj)  # but not an agent that is missing or not connected
        if not hostname:
            raise NotFoundError(ErrorCode.NO_HOSTNAME, f"no hostname found for domain {obj.name}",
                                domain=ErrorDomain.QEMU)  # fmt: skip
        return str(hostname)

    def _lease_hostname(self, obj: DomainObj) -> str | None:
        """qemuDomainGetHostnameLease: the first host name a lease of one of the guest's networks carries."""
        nics = [n for n in (obj.live.devices.interfaces if obj.live.devices is not None else []) if n.type == "network"]
        if not nics:
            return None
        with pyvirt.open(network_uri(self.uri)) as networks:
            for nic in nics:
                leases = networks.lookup_network_by_name(nic.source_network or "").dhcp_leases(nic.mac)
                for lease in leases:
                    if lease.hostname:
                        return lease.hostname
        return None

    @hookimpl
    def domain_rename(self, dom: DomainRef, new_name: str, flags: int) -> None:
        """qemuDomainRename: an inactive persistent domain's config file (and autostart link, snapshots) move."""
        check_flags(flags, 0, "qemuDomainRename")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            old_ref = obj.ref()
            with self.state.lock:
                rename_domain(self.state, obj, new_name)
        for sink in list(self.state.sinks):
            sink.lifecycle(old_ref, DomainEvent.UNDEFINED, Undefined.RENAMED)
        self.state.emit(obj, DomainEvent.DEFINED, Defined.RENAMED)

    @staticmethod
    def _by_agent(obj: DomainObj, flags: int, mode: str) -> bool:
        """Ask the guest agent when the flags require it, or allow it and it is there; False: use ACPI.

        ``flags``: shutdown's or reboot's, whose ACPI_POWER_BTN and GUEST_AGENT bits are the same.
        """
        wanted = bool(flags & DomainShutdownFlags.GUEST_AGENT) or (
            flags == 0 and obj.agent_open and agent_channel(obj.live) is not None
        )
        if not wanted:
            return False
        try:
            GuestAgent(obj.live, obj.agent_open).shutdown(mode)
        except Error:
            if flags & DomainShutdownFlags.ACPI_POWER_BTN or flags == 0:
                return False  # ACPI allowed as the fallback
            raise
        return True

    @staticmethod
    def _monitor_call(obj: DomainObj, proc: QemuProcess, command: str) -> None:
        """One state-changing QMP command; QEMU ending under it is libvirt's "domain is no longer running"."""
        try:
            proc.monitor.execute(command)
        except Error:
            if proc.alive() and obj.process is proc and not proc.exited.wait(0.5):
                raise
            with obj.lock:
                obj.expected.pop({"stop": "STOP", "cont": "RESUME"}.get(command, ""), None)
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, "domain is no longer running", domain=ErrorDomain.QEMU
            ) from None

    @hookimpl
    def domain_suspend(self, dom: DomainRef) -> None:
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding(Job.SUSPEND):
            proc = self._still_running(obj)
            if obj.state == DomainState.PAUSED:
                return
            obj.expect("STOP")
            self._monitor_call(obj, proc, "stop")
            with obj.lock:
                changed = obj.state != DomainState.PAUSED  # the STOP event may have done it already
                if changed:
                    obj.state, obj.reason = DomainState.PAUSED, PausedReason.USER
            if changed:
                self.state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
            self.state.save_status(obj)

    @hookimpl
    def domain_resume(self, dom: DomainRef) -> None:
        obj = self.state.find(dom)  # checked once the job is ours: a start may be under way
        with obj.job.holding(Job.MODIFY):
            proc = self._still_running(obj)
            if obj.state == DomainState.RUNNING:
                return
            obj.expect("RESUME")
            self._monitor_call(obj, proc, "cont")
            with obj.lock:
                changed = obj.state != DomainState.RUNNING
                if changed:
                    obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
            if changed:
                self.state.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)
            self.state.save_status(obj)

    # ------------------------------------------------------------------ devices
    @hookimpl
    def domain_attach_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        check_flags(flags, DomainDeviceModifyFlags.LIVE | DomainDeviceModifyFlags.CONFIG, "qemuDomainAttachDeviceFlags")
        dev = parse_device(xml)
        if isinstance(dev, MemoryDevice):
            self._attach_memory(dom, dev, flags)
            return
        if isinstance(dev, Interface) and not dev.mac:
            dev.mac = "52:54:00:{:02x}:{:02x}:{:02x}".format(*os.urandom(3))
        obj = self.state.find(dom)
        what = f"target {dev.target_dev}" if isinstance(dev, Disk) else f"interface with MAC {dev.mac}"
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags)
            persistent = obj.persistent_def()
            for target, check in ((obj.live, live), (persistent, config)):
                if check and find_device(target, dev) >= 0:
                    raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"{what} already exists")
            if live:
                assert obj.process is not None
                g = self.state.audit_guest(obj, obj.process.pid)
                live_dev = dev.model_copy(deep=True)
                if isinstance(live_dev, Disk) and live_dev.type == "volume":
                    with pyvirt.open(storage_uri(self.uri)) as storage:
                        resolve_volume_disk(storage, live_dev)
                if isinstance(live_dev, Interface) and live_dev.type == "network":
                    with pyvirt.open(network_uri(self.uri)) as networks:
                        resolve_network_nic(networks, live_dev, obj.live)  # and its port of the network
                try:
                    opened = attach_live(obj.live, live_dev, obj.process.monitor, nwfilter_uri=self.state.nwfilter_uri,
                                         fd_groups=groups_of(self.state, obj.live.uuid or ""))  # fmt: skip
                except Error:
                    if isinstance(live_dev, Interface):
                        release_network_ports(obj.live, network_uri(self.uri), [live_dev])
                    self._audit_attach(g, dev, [], False)
                    raise
                self._audit_attach(g, dev, opened, True)
                self.state.save_status(obj)
                self._device_added(obj, live_dev.alias.name if live_dev.alias is not None else None)
            if config:
                assert persistent.devices is not None
                before = persistent.devices.model_copy(deep=True)
                if isinstance(dev, Disk):
                    persistent.devices.disks = [*persistent.devices.disks, dev.model_copy(deep=True)]
                else:
                    persistent.devices.interfaces = [*persistent.devices.interfaces, dev.model_copy(deep=True)]
                try:
                    assign_added_device_addresses(persistent, self.state.paths.cache)
                except Error:
                    persistent.devices = before  # (nothing half-applied)
                    raise
                self.state.save_config(persistent)

    def _device_added(self, obj: DomainObj, alias: str | None) -> None:
        """qemuDomainAttachDeviceLive's device-added event, naming the plugged device by its alias."""
        if not alias:
            return
        from pyvirt.events import DeviceAddedEvent

        ev = DeviceAddedEvent(obj.ref(), alias)
        for sink in list(self.state.sinks):
            sink.emit("device-added", ev)

    def _attach_memory(self, dom: DomainRef, dev: MemoryDevice, flags: int) -> None:
        """Plug a DIMM/NVDIMM/virtio-mem/virtio-pmem into a running guest (object-add, device_add), and/or
        add it to the definition; the guest's ``<memory>`` grows by its size either way, as in libvirt."""
        obj = self.state.find(dom)
        size = dev.target_size.kib if dev.target_size is not None else 0
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags)
            persistent = obj.persistent_def()
            if live:
                proc, target = obj.process, obj.live
                assert proc is not None and target.devices is not None and target.memory is not None
                live_dev = dev.model_copy(deep=True)
                reserve_next_pci_address(target, live_dev) if live_dev.model in ("virtio-mem", "virtio-pmem") else None
                plug, dirs = hotplug_memory(target, live_dev, self.state.hugepage_mounts or hugetlbfs_mounts(),
                                            obj.id, os.path.join(self.state.paths.lib, "ram"))  # fmt: skip
                prepare_hugepage_dirs(dirs, self.state.qemu_uid, self.state.qemu_gid)
                added: list[str] = []
                g = self.state.audit_guest(obj, proc.pid)
                old = target.memory.kib
                try:
                    for arg in plug.objects:
                        if arg.startswith("{"):
                            props = json.loads(arg)
                            proc.monitor.execute("object-add", props)
                            added.append(str(props["id"]))
                    address = DeviceArgs(target, {}, None, False, is_q35(target)).address_props(live_dev.address)
                    proc.monitor.execute("device_add", plug.props | address)
                except Error:
                    for name in reversed(added):
                        with contextlib.suppress(Error):
                            proc.monitor.execute("object-del", {"id": name})
                    remove_hugepage_dirs([d for d in dirs if d not in proc.hugepage_dirs])
                    self.state.auditor.memory(g, old, old + size, "update", False)
                    raise
                proc.hugepage_dirs = [*proc.hugepage_dirs, *(d for d in dirs if d not in proc.hugepage_dirs)]
                target.devices.memories = [*target.devices.memories, live_dev]
                target.memory.kib = old + size
                self.state.auditor.memory(g, old, old + size, "update", True)
                self.state.save_status(obj)
                # libvirt names a plugged memory device by its backend object's id ("mem" + its alias)
                self._device_added(obj, f"mem{live_dev.alias.name}" if live_dev.alias and live_dev.alias.name else None)
            if config:
                assert persistent.devices is not None and persistent.memory is not None
                persistent.devices.memories = [*persistent.devices.memories, dev.model_copy(deep=True)]
                persistent.memory.kib += size
                self.state.save_config(persistent)

    def _audit_attach(self, g: Any, dev: Disk | Interface, opened: list[tuple[str, str]], ok: bool) -> None:
        if isinstance(dev, Disk):
            self.state.auditor.disk(g, None, dev.source_path, "attach", ok)
            return
        for mac, path in opened:
            self.state.auditor.net_device_open(g, mac, path, ok)
        self.state.auditor.net(g, None, dev.mac, "attach", ok)

    @hookimpl
    def domain_detach_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        check_flags(flags, DomainDeviceModifyFlags.LIVE | DomainDeviceModifyFlags.CONFIG, "qemuDomainDetachDeviceFlags")
        dev = parse_device(xml)
        if isinstance(dev, MemoryDevice):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "detaching memory devices is not supported yet")
        obj = self.state.find(dom)
        what = f"no target device {dev.target_dev}" if isinstance(dev, Disk) else f"no device matching MAC {dev.mac}"
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags)
            persistent = obj.persistent_def()
            positions = {
                name: find_device(target, dev) for name, target in (("live", obj.live), ("config", persistent))
            }
            if (live and positions["live"] < 0) or (config and positions["config"] < 0):
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, what)
            if live:
                assert obj.process is not None and obj.live.devices is not None
                items: list[Any] = obj.live.devices.disks if isinstance(dev, Disk) else obj.live.devices.interfaces
                gone = items[positions["live"]]

                def audit_removal() -> None:
                    assert obj.process is not None
                    g = self.state.audit_guest(obj, obj.process.pid)
                    if isinstance(gone, Disk):
                        self.state.auditor.disk(g, gone.source_path, None, "detach", True)
                    else:
                        self.state.auditor.net(g, gone.mac, None, "detach", True)
                        release_network_ports(obj.live, network_uri(self.uri), [gone])  # its port of the network
                        unbind_nic_filters([gone], self.state.nwfilter_uri)  # and its tap's filter binding

                def later(finish: Callable[[], None]) -> Callable[[], None]:
                    def run() -> None:  # on a thread of its own, once the guest has let go
                        # a modify job, as libvirt's processDeviceDeletedEvent: it talks to QEMU (blockdev-del)
                        with contextlib.suppress(Error), obj.job.holding(Job.MODIFY):
                            if obj.process is None or not obj.process.alive():
                                return
                            # the filter binding and the network port go before the NIC leaves the live
                            # definition (libvirt's qemuDomainRemoveNetDevice): a client that sees the NIC gone
                            # must not still find its binding
                            audit_removal()
                            finish()
                            self.state.save_status(obj)

                    return run

                if detach_live(obj.live, positions["live"], type(dev), obj.process.monitor, obj.deleted, later):
                    audit_removal()
                self.state.save_status(obj)
            if config:
                assert persistent.devices is not None
                drop = positions["config"]
                if isinstance(dev, Disk):
                    persistent.devices.disks = [d for i, d in enumerate(persistent.devices.disks) if i != drop]
                else:
                    persistent.devices.interfaces = [
                        n for i, n in enumerate(persistent.devices.interfaces) if i != drop
                    ]
                self.state.save_config(persistent)

    @hookimpl
    def domain_update_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        check_flags(
            flags,
            DomainDeviceModifyFlags.LIVE | DomainDeviceModifyFlags.CONFIG | DomainDeviceModifyFlags.FORCE,
            "qemuDomainUpdateDeviceFlags",
        )
        new = parse_device(xml)
        if isinstance(new, MemoryDevice):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "updating memory devices is not supported yet")
        obj = self.state.find(dom)
        what = f"target {new.target_dev}" if isinstance(new, Disk) else f"MAC {new.mac}"
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags & (DomainDeviceModifyFlags.LIVE | DomainDeviceModifyFlags.CONFIG))
            persistent = obj.persistent_def()
            positions = {
                name: find_device(target, new) for name, target in (("live", obj.live), ("config", persistent))
            }
            for name, wanted in (("live", live), ("config", config)):
                if wanted and positions[name] < 0:
                    raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"no device with {what}")
            if live:
                assert obj.process is not None and obj.live.devices is not None
                items: list[Any] = obj.live.devices.disks if isinstance(new, Disk) else obj.live.devices.interfaces
                check_update(items[positions["live"]], new)
                if isinstance(new, Interface) and filter_changed(items[positions["live"]], new):
                    change_nic_filter(obj.live, items[positions["live"]], new, self.state.nwfilter_uri)
                if isinstance(new, Interface):
                    change_nic_bandwidth(items[positions["live"]], new)
                update_live(obj.live, positions["live"], new, obj.process.monitor)
                self.state.save_status(obj)
            if config:
                assert persistent.devices is not None
                if isinstance(new, Disk):
                    old_disk = persistent.devices.disks[positions["config"]]
                    check_update(old_disk, new)
                    old_disk.source_file, old_disk.source_dev = new.source_file, new.source_dev
                    old_disk.driver_type = new.driver_type or old_disk.driver_type
                else:
                    old_nic = persistent.devices.interfaces[positions["config"]]
                    check_update(old_nic, new)
                    old_nic.link_state = new.link_state
                    old_nic.filterref = new.filterref  # (the whole definition is the new one, in libvirt)
                    old_nic.bandwidth = new.bandwidth
                self.state.save_config(persistent)

    # ------------------------------------------------------------------ snapshots
    def _store(self, ref: DomainRef) -> tuple[DomainObj, SnapshotStore]:
        obj = self.state.find(ref)
        return obj, SnapshotStore(self.state.paths, obj.name)

    @hookimpl
    def snapshot_create_xml(self, dom: DomainRef, xml: str, flags: int) -> SnapshotRef:
        """Internal snapshots (qcow2); with a running guest its memory too. HALT stops the guest afterwards."""
        check_flags(flags, SNAPSHOT_CREATE_HALT | SNAPSHOT_CREATE_DISK_ONLY, "qemuDomainSnapshotCreateXML")
        snap = parse_snapshot(xml)
        # virDomainSnapshotDefParse's checks: with VIR_DOMAIN_SNAPSHOT_PARSE_OFFLINE for a disk-only snapshot or
        # a guest that does not run, as qemuSnapshotCreateXML parses it
        offline = bool(flags & SNAPSHOT_CREATE_DISK_ONLY) or not self.state.find(dom).active
        check_snapshot_def(snap, offline=offline)
        snap.name = snap.name or str(int(time.time()))
        check_snapshot_name(snap.name)  # before QEMU's monitor, qemu-img or the filesystem sees it
        if snap.memory_snapshot == "external":  # (a disk-only or offline one was refused by the checks above)
            return create_with_memory(self, dom, snap, flags)
        external = bool(flags & SNAPSHOT_CREATE_DISK_ONLY) or any(d.snapshot == "external" for d in snap.disks or [])
        if external:
            return self._external_snapshot(dom, snap)
        if snap.memory_snapshot not in (None, "internal", "no") or (snap.disks and any(
                d.snapshot not in (None, "internal") for d in snap.disks)):  # fmt: skip
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "mixing internal and external snapshots")
        obj, store = self._store(dom)
        # virDomainSnapshotAlignDisks's refusals (a disk the guest lacks, one named twice, one that must be
        # internal); the internal snapshot itself covers every writable disk, as QEMU's snapshot-save does
        align_disks(snap.model_copy(deep=True), obj.live, "internal", True)
        with obj.job.holding_async(AsyncJob.SNAPSHOT):
            proc = obj.process
            if proc is not None:
                running = obj.state == DomainState.RUNNING
                state = "running" if running else "paused"
                if running:  # QEMU stops the guest while it saves and resumes it after
                    obj.expect("STOP")
                    obj.expect("RESUME")
                store.create(snap, obj.live, state, proc.monitor, obj.persistent_def() if obj.persistent else None)
            else:
                store.create(snap, obj.live, "shutoff", None)
            if flags & SNAPSHOT_CREATE_HALT and proc is not None:
                proc.stop_reason = "from_snapshot"
                proc.kill(grace=3.0)
                proc.cleaned.wait(30)
        return SnapshotRef(dom, snap.name)

    def _external_snapshot(self, dom: DomainRef, snap: Any) -> SnapshotRef:
        obj, store = self._store(dom)
        with obj.job.holding_async(AsyncJob.SNAPSHOT):
            if snap.memory_snapshot not in (None, "no"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a disk-only snapshot cannot hold memory")
            persistent = obj.persistent_def() if obj.persistent else obj.live.model_copy(deep=True)
            proc = obj.process
            # qemuSnapshotCreateAlignDisks: every disk with its mode, external by default, names generated
            align_disks(snap, obj.live if proc is not None else persistent, "external", True)
            check_disk_only(snap, proc is not None)
            store.create_external(snap, persistent, obj.live if proc is not None else None,
                                  proc.monitor if proc is not None else None, inactive=obj.persistent)  # fmt: skip
            if obj.persistent:
                self.state.save_config(persistent)
            if proc is not None:
                self.state.save_status(obj)
        return SnapshotRef(dom, snap.name)

    @hookimpl
    def snapshot_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        """qemuDomainListAllSnapshots: the walk and filters libvirt's drivers share, over the stored documents."""
        store = self._store(dom)[1]
        nodes = [snapshot_node(store.load(name)) for name in store.names()]  # oldest first, as the walk wants
        return list_snapshot_names(nodes, flags, "qemuDomainListAllSnapshots")

    @hookimpl
    def snapshot_lookup_by_name(self, dom: DomainRef, name: str) -> SnapshotRef:
        self._store(dom)[1].load(name)
        return SnapshotRef(dom, name)

    @hookimpl
    def snapshot_current(self, dom: DomainRef) -> SnapshotRef:
        current = self._store(dom)[1].current()
        if current is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN_SNAPSHOT, "the domain does not have a current snapshot",
                                domain=ErrorDomain.DOMAIN_SNAPSHOT)  # fmt: skip
        return SnapshotRef(dom, current)

    @hookimpl
    def snapshot_get_xml_desc(self, snap: SnapshotRef, flags: int) -> str:
        check_flags(flags, DomainSnapshotXMLFlags.SECURE, "qemuDomainSnapshotGetXMLDesc")
        store = self._store(snap.domain)[1]
        doc = store.load(snap.name)
        inactive = DomainXMLFlags.INACTIVE | (DomainXMLFlags.SECURE if flags & DomainSnapshotXMLFlags.SECURE else 0)
        doc.domain_xml = format_domain(store.domain_of(doc), inactive)
        if doc.inactive_domain_xml:  # a running persistent guest's next-boot definition (<inactiveDomain>)
            doc.inactive_domain_xml = format_domain(parse_domain(doc.inactive_domain_xml), inactive)
        doc.active = None
        return format_snapshot(doc)

    @hookimpl
    def snapshot_get_parent(self, snap: SnapshotRef) -> SnapshotRef:
        doc = self._store(snap.domain)[1].load(snap.name)
        if not doc.parent:
            raise NotFoundError(ErrorCode.NO_DOMAIN_SNAPSHOT, f"snapshot '{snap.name}' does not have a parent",
                                domain=ErrorDomain.DOMAIN_SNAPSHOT)  # fmt: skip
        return SnapshotRef(snap.domain, doc.parent)

    @hookimpl
    def snapshot_revert(self, snap: SnapshotRef, flags: int) -> None:
        """Back to the snapshot: a stopped snapshot stops the guest; a running or paused one (re)starts it."""
        check_flags(flags, 0, "qemuDomainRevertToSnapshot")
        obj, store = self._store(snap.domain)
        doc = store.load(snap.name)
        if any(d.snapshot == "external" for d in doc.disks or []):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "revert to external snapshot not supported yet")
        # libvirt reverts within the async job "start": only a destroy may run beside it
        with self.state.start_job(obj):
            self._revert(obj, store, snap.name, doc.state)
        store.set_current(snap.name)

    def _revert(self, obj: DomainObj, store: SnapshotStore, name: str, state: str | None) -> None:
        if state not in ("running", "paused"):
            proc = obj.process
            if proc is not None:
                proc.stop_reason = "from_snapshot"
                proc.kill(grace=3.0)
                proc.cleaned.wait(30)
            store.load_into(name, obj.live, None)
            return
        if obj.process is None:
            self._start(obj, paused=True)
        proc = obj.process
        assert proc is not None
        if obj.state == DomainState.RUNNING:  # QEMU stops it to load, and resumes it after
            obj.expect("STOP")
            obj.expect("RESUME")
        store.load_into(name, obj.live, proc.monitor)
        running = bool(proc.monitor.execute("query-status").get("running"))
        new: tuple[int, int]
        if state == "running":
            if not running:
                obj.expect("RESUME")
                proc.monitor.execute("cont")
            new = DomainState.RUNNING, RunningReason.FROM_SNAPSHOT
        else:
            if running:
                obj.expect("STOP")
                proc.monitor.execute("stop")
            new = DomainState.PAUSED, PausedReason.FROM_SNAPSHOT
        with obj.lock:
            obj.state, obj.reason = new
        self.state.save_status(obj)

    @hookimpl
    def snapshot_delete(self, snap: SnapshotRef, flags: int) -> None:
        check_flags(flags, SNAPSHOT_DELETE_METADATA_ONLY, "qemuDomainSnapshotDelete")
        obj, store = self._store(snap.domain)
        with obj.job.holding_async(AsyncJob.SNAPSHOT):  # as libvirt 9.0 deletes them
            store.delete(snap.name, obj.live, obj.process.monitor if obj.process is not None else None,
                         metadata_only=bool(flags & SNAPSHOT_DELETE_METADATA_ONLY))  # fmt: skip

    @hookimpl
    def domain_open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> int:
        """The host end of the guest's console pty, in raw mode like libvirt's console streams."""
        check_flags(flags, DomainConsoleFlags.FORCE | DomainConsoleFlags.SAFE, "qemuDomainOpenConsole")
        obj = self._running(dom)
        devices = obj.live.devices
        named: list[tuple[str, Chardev]] = []
        if devices is not None:
            named += [(f"console{i}", c) for i, c in enumerate(devices.consoles)]
            named += [(f"serial{i}", c) for i, c in enumerate(devices.serials)]
        found = named[0][1] if named and dev_name is None else next((c for n, c in named if n == dev_name), None)
        if found is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"cannot find character device {dev_name}")
        path = found.tty or (found.sources[0].path if found.sources else None)
        if found.type != "pty" or not path:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"character device {dev_name or 'console0'} is not using a PTY"
            )
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Unable to open console {path}") from exc
        tty.setraw(fd, termios.TCSANOW)
        return fd

    # ------------------------------------------------------------------ queries
    @hookimpl
    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        obj = self.state.find(dom)
        d = obj.live
        assert d.memory is not None and d.current_memory is not None and d.vcpu is not None
        cpu_ns = 0
        proc = obj.process  # once: a destroy may end it meanwhile
        if proc is not None:
            with contextlib.suppress(OSError), open(f"/proc/{proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                cpu_ns = (int(fields[11]) + int(fields[12])) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))
        # nrVirtCpu: the online vCPUs (virDomainDefGetVcpus), which hot-plug changes
        return DomainInfo(obj.state, d.memory.kib, d.current_memory.kib, online_count(d), cpu_ns)

    @hookimpl
    def domain_get_stats(self, dom: DomainRef, stats: int, flags: int) -> list[tuple[str, int | str]]:
        check_flags(flags, 0, "qemuConnectGetAllDomainStats")
        obj = self.state.find(dom)
        # no job, and no lock while QEMU answers: qemu.qmp matches replies to commands, so these queries may
        # run beside any job (libvirt takes a query job here, which waits behind a modify job)
        with obj.lock:
            proc, live, state, reason = obj.process, obj.live, int(obj.state), int(obj.reason)
        return collect_stats(live, state, reason, proc.pid if proc is not None else None,
                             proc.monitor if proc is not None else None, stats)  # fmt: skip

    @hookimpl
    def domain_interface_addresses(self, dom: DomainRef, source: int, flags: int) -> list[InterfaceAddresses]:
        check_flags(flags, 0, "qemuDomainInterfaceAddresses")
        obj = self.state.find(dom)
        if not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)

        def ask_agent() -> Any:
            return GuestAgent(obj.live, obj.agent_open).execute("guest-network-get-interfaces")

        return interface_addresses(obj.live, source, self.uri, ask_agent)

    @hookimpl
    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        obj = self.state.find(dom)
        return (obj.state, obj.reason)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        check_flags(
            flags,
            DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU | DomainXMLFlags.MIGRATABLE,
            "qemuDomainGetXMLDesc",
        )
        obj = self.state.find(dom)
        defn = obj.persistent_def() if flags & DomainXMLFlags.INACTIVE else obj.live
        if flags & DomainXMLFlags.MIGRATABLE:  # qemuDomainFormatXML: the copy, of the probed live def if running
            return migratable_xml(defn, self.state.paths, flags, obj.active and defn is obj.live)
        return format_domain(defn, flags, domain_id=obj.id)

    @hookimpl
    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        obj = self.state.find(dom)
        return {"persistent": obj.persistent, "active": obj.active, "autostart": obj.autostart,
                "managed_save": os.path.exists(self.state.paths.managed_save(obj.name)), "has_snapshot": bool(SnapshotStore(self.state.paths, obj.name).names()), "updated": obj.config is not None}  # fmt: skip

    @hookimpl
    def domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        self.state.set_autostart(self.state.find(dom), autostart)

    @hookimpl
    def domain_get_security_label(self, dom: DomainRef) -> list[SecurityLabel]:
        obj = self.state.find(dom)
        if obj.process is None:
            return [SecurityLabel("", False)]
        return self.state.security.process_labels(obj.live, obj.process.pid)


class QemuDriver(QemuStateHooks, QemuHostChecks, HypervisorDriver):
    """The object behind the ``qemu`` entry point."""

    # 1.15: no new hook, but core 1.15's pyvirt.conf.snapshot_align (libvirt's snapshot checks and disk alignment);
    # 1.14: a disk's write threshold; 1.13: block copy, block job abort/pivot/speed; 1.12: emulator pinning, every block
    # counter; 1.11: reset, NMI and metadata; 1.10: live migration (the five phases) and job statistics;
    # 1.16: the host memory hooks (pyvirt.local_driver.host_memory); the guest agent, power management and
    # detach-by-alias hooks (pyvirt_qemu.guest_agent_cmds)
    pyvirt_contract = "1.16"
    name = "qemu"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "qemu" or uri.server:
            return None
        paths = paths_for_uri(uri, "qemu")
        key = paths.config
        with _states_lock:
            state = _states.get(key)
            if state is None:
                conf = load_qemu_settings(paths.settings_file("qemu.conf"))
                uid, gid = parse_dac_label(f"{conf.user}:{conf.group}")
                security = load_security_stack(
                    conf.security_config(dac_user=uid, dac_group=gid, dynamic_ownership=conf.dynamic_ownership)
                )
                state = QemuState(paths, security, qemu_uid=uid, qemu_gid=gid, network_uri=network_uri(uri))
                state.graphics_cfg = conf.graphics()
                state.chardev_tls = conf.chardev_tls_config()
                state.nbd_tls = conf.nbd_tls_config()
                state.backup_tls = conf.backup_tls_config()
                state.migration_keepalive = (conf.keepalive_interval, conf.keepalive_count)
                state.auto_start_bypass_cache = conf.auto_start_bypass_cache
                if conf.hugetlbfs_mount:
                    state.hugepage_mounts = hugetlbfs_mounts(conf.hugetlbfs_mount)
                _states[key] = state
            state.refs += 1
        return QemuConnection(uri, state, events, key)


def _local_sources(live: Domain) -> dict[str, tuple[str, Disk]]:
    """Each disk's local image by target, before a start applies the startupPolicy (startup_policy)."""
    disks = live.devices.disks if live.devices is not None else []
    return {d.target_dev or "": (path, d) for d in disks if (path := d.source_file or d.source_dev or d.source_dir)}


def _missing_on_start(st: QemuState, obj: DomainObj, before: dict[str, tuple[str, Disk]]) -> None:
    """qemuDomainCheckRemoveOptionalDisk's disk-change events: a CD-ROM or floppy emptied because its image was
    missing ("changed", MISSING_ON_START), any other disk dropped ("dropped", DROP_MISSING_ON_START)."""
    from pyvirt.events import DiskChangeEvent
    from pyvirt_qemu.device_aliases import disk_alias

    now = {d.target_dev or "": d for d in (obj.live.devices.disks if obj.live.devices is not None else [])}
    for target, (path, old) in reversed(before.items()):  # libvirt looks at the last disk first
        disk = now.get(target)
        if disk is not None and (disk.source_file or disk.source_dev or disk.source_dir):
            continue
        gone = disk if disk is not None else old
        alias = gone.alias.name if gone.alias is not None and gone.alias.name else disk_alias(gone)
        ev = DiskChangeEvent(obj.ref(), path, None, alias, 0 if disk is not None else 1)
        for sink in list(st.sinks):
            sink.emit("disk-change", ev)
