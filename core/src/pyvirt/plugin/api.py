"""The table of the driver API: one row per hook, what libvirt calls it, and who may call it.

This is the one place that says, for every hypervisor and secondary hook:

- ``api``: the libvirt public API it implements (what errors name, as
  libvirt's ``__FUNCTION__`` does), and ``plain_api``, the older variant
  virsh calls when no flags are given (``virDomainDestroy`` beside
  ``virDomainDestroyFlags``), named instead when the call has no flags;
- ``access``: whether a read-only connection may make the call. libvirt
  refuses, on a read-only connection, every API that changes anything or
  reveals secrets (``virCheckReadOnlyGoto`` in ``src/libvirt-*.c``), and a few
  only for some arguments (the secure flag of the XML getters, the guest
  agent as source of ``virDomainInterfaceAddresses``);
- ``since``: the contract version that added the hook.

The typed facade (:mod:`pyvirt.plugin.facade`) enforces ``access`` on every
call, whichever way it comes (public objects, ``conn.calls``, pyvirsh), and
a test keeps this table, the hook specs and the facade in step. The daemon's
dispatch can grow from the same rows (RPC procedure numbers, argument types).
"""

from __future__ import annotations

from _collections_abc import Mapping

from pyvirt.errors import ErrorCode, ErrorDomain, OperationDeniedError
from pyvirt.util.int_enum import plain_enum

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from typing import Any, NamedTuple

    _EnumBody = enum.Enum
else:
    from pyvirt.util.named_tuple import NamedTuple

    _EnumBody = object

__all__ = ["ACCESS_DIFFERS_FROM_ACL", "API", "Access", "HookApi", "api_name", "read_only_denial"]


class Access(_EnumBody):
    """What a read-only connection may do with a hook (an Enum to mypy; at run time built without the
    ``enum`` module, which every client run would load for it: ``pyvirt.util.int_enum``)."""

    READ = "read"
    """Allowed: it neither changes state nor reveals secrets."""
    WRITE = "write"
    """Refused: "read only access prevents <api>" (libvirt's virCheckReadOnlyGoto)."""
    SECURE_FLAG = "secure-flag"
    """Refused with the XML getters' SECURE flag (1) only: "<api> with secure flag"."""
    AGENT_SOURCE = "agent-source"
    """Refused when the guest agent (source 1) is asked: it runs a command inside the guest."""
    GUEST_FLAG = "guest-flag"
    """Refused with VIR_DOMAIN_VCPU_GUEST (8) only: the count then comes from the guest agent."""


if not TYPE_CHECKING:
    Access = plain_enum(Access)


class HookApi(NamedTuple):
    """One row of the table (a NamedTuple: a hundred rows are built at every import)."""

    hook: str
    api: str
    access: Access
    since: str
    plain_api: str | None = None
    # the arguments that must all be empty for ``plain_api`` to be the one called
    plain_args: tuple[str, ...] = ("flags",)

    @property
    def error_domain(self) -> ErrorDomain:
        """The error domain libvirt reports the hook's API errors in (its file's VIR_FROM_THIS)."""
        return _ERROR_DOMAINS.get(self.hook.partition("_")[0], ErrorDomain.DOMAIN)


_ERROR_DOMAINS = {
    "snapshot": ErrorDomain.DOMAIN_SNAPSHOT,
    "checkpoint": ErrorDomain.DOMAIN_CHECKPOINT,
    "network": ErrorDomain.NETWORK,
    "pool": ErrorDomain.STORAGE,
    "volume": ErrorDomain.STORAGE,
    "secret": ErrorDomain.SECRET,
    "nodedev": ErrorDomain.NODEDEV,
    "interface": ErrorDomain.INTERFACE,
    "nwfilter": ErrorDomain.NWFILTER,
}

R, W = Access.READ, Access.WRITE

# fmt: off
_ROWS: tuple[HookApi, ...] = (
    # ------------------------------------------------------------ connection and host
    HookApi("connect_open", "virConnectOpen", R, "1.0"),
    HookApi("connect_close", "virConnectClose", R, "1.0"),
    HookApi("connect_get_type", "virConnectGetType", R, "1.0"),
    HookApi("connect_get_version", "virConnectGetVersion", R, "1.0"),
    HookApi("connect_get_hostname", "virConnectGetHostname", R, "1.0"),
    HookApi("connect_get_capabilities", "virConnectGetCapabilities", R, "1.0"),
    # libvirt refuses it on read-only connections: the probe may run the emulator
    HookApi("connect_get_domain_capabilities", "virConnectGetDomainCapabilities", W, "1.1"),
    HookApi("connect_domain_xml_to_native", "virConnectDomainXMLToNative", W, "1.0"),
    HookApi("connect_domain_xml_from_native", "virConnectDomainXMLFromNative", W, "1.2"),
    HookApi("node_get_info", "virNodeGetInfo", R, "1.0"),
    HookApi("node_get_security_model", "virNodeGetSecurityModel", R, "1.0"),
    HookApi("node_get_cpu_map", "virNodeGetCPUMap", R, "1.11"),
    # host facts virsh's maxvcpus, freecell, nodecpustats and sysinfo show (contract 1.15)
    HookApi("connect_get_max_vcpus", "virConnectGetMaxVcpus", R, "1.15"),
    HookApi("connect_get_sysinfo", "virConnectGetSysinfo", R, "1.15"),
    HookApi("node_get_free_memory", "virNodeGetFreeMemory", R, "1.15"),
    HookApi("node_get_cells_free_memory", "virNodeGetCellsFreeMemory", R, "1.15"),
    HookApi("node_get_cpu_stats", "virNodeGetCPUStats", R, "1.15"),
    HookApi("node_get_free_pages", "virNodeGetFreePages", R, "1.15"),
    # the host's memory: statistics, huge page pools, KSM tunables (contract 1.16)
    HookApi("node_get_memory_stats", "virNodeGetMemoryStats", R, "1.16"),
    HookApi("node_alloc_pages", "virNodeAllocPages", W, "1.16"),
    HookApi("node_get_memory_parameters", "virNodeGetMemoryParameters", R, "1.16"),
    HookApi("node_set_memory_parameters", "virNodeSetMemoryParameters", W, "1.16"),
    HookApi("connect_get_cpu_model_names", "virConnectGetCPUModelNames", R, "1.15"),
    # CPU comparison and baseline from libvirt's CPU map (contract 1.16); the hypervisor variants may run the
    # emulator, so libvirt's @acl is connect:write for them
    HookApi("connect_compare_cpu", "virConnectCompareCPU", R, "1.16"),
    HookApi("connect_baseline_cpu", "virConnectBaselineCPU", R, "1.16"),
    HookApi("connect_compare_hypervisor_cpu", "virConnectCompareHypervisorCPU", W, "1.16"),
    HookApi("connect_baseline_hypervisor_cpu", "virConnectBaselineHypervisorCPU", W, "1.16"),
    # client-side: the keepalive of a remote connection (libvirt checks no read-only flag)
    HookApi("connect_set_keep_alive", "virConnectSetKeepAlive", R, "1.10"),
    # ------------------------------------------------------------ domains
    HookApi("domain_list_all", "virConnectListAllDomains", R, "1.0"),
    HookApi("domain_lookup_by_name", "virDomainLookupByName", R, "1.0"),
    HookApi("domain_lookup_by_uuid", "virDomainLookupByUUID", R, "1.0"),
    HookApi("domain_lookup_by_id", "virDomainLookupByID", R, "1.0"),
    HookApi("domain_define_xml", "virDomainDefineXMLFlags", W, "1.0", "virDomainDefineXML"),
    HookApi("domain_undefine", "virDomainUndefineFlags", W, "1.0"),  # virsh calls the Flags variant even without flags
    HookApi("domain_create_xml", "virDomainCreateXML", W, "1.0"),
    HookApi("domain_create", "virDomainCreateWithFlags", W, "1.0", "virDomainCreate"),
    HookApi("domain_destroy", "virDomainDestroyFlags", W, "1.0", "virDomainDestroy"),
    HookApi("domain_shutdown", "virDomainShutdownFlags", W, "1.0", "virDomainShutdown"),
    HookApi("domain_reboot", "virDomainReboot", W, "1.0"),
    HookApi("domain_suspend", "virDomainSuspend", W, "1.0"),
    HookApi("domain_resume", "virDomainResume", W, "1.0"),
    HookApi("domain_save", "virDomainSaveFlags", W, "1.0", "virDomainSave", ("flags", "xml")),
    HookApi("domain_restore", "virDomainRestoreFlags", W, "1.0", "virDomainRestore", ("flags", "xml")),
    HookApi("domain_managed_save", "virDomainManagedSave", W, "1.0"),
    HookApi("domain_managed_save_remove", "virDomainManagedSaveRemove", W, "1.0"),
    HookApi("domain_get_info", "virDomainGetInfo", R, "1.0"),
    HookApi("domain_get_state", "virDomainGetState", R, "1.0"),
    HookApi("domain_get_xml_desc", "virDomainGetXMLDesc", Access.SECURE_FLAG, "1.0"),
    HookApi("domain_get_flags", "virDomainIsPersistent", R, "1.0"),
    HookApi("domain_get_os_type", "virDomainGetOSType", R, "1.6"),
    HookApi("domain_set_autostart", "virDomainSetAutostart", W, "1.0"),
    # memory and vCPUs of a defined or running domain
    HookApi("domain_set_memory", "virDomainSetMemoryFlags", W, "1.10", "virDomainSetMemory"),
    HookApi("domain_set_vcpus", "virDomainSetVcpusFlags", W, "1.10", "virDomainSetVcpus"),
    HookApi("domain_attach_device", "virDomainAttachDeviceFlags", W, "1.3", "virDomainAttachDevice"),
    HookApi("domain_detach_device", "virDomainDetachDeviceFlags", W, "1.3", "virDomainDetachDevice"),
    HookApi("domain_update_device", "virDomainUpdateDeviceFlags", W, "1.3"),
    HookApi("domain_get_stats", "virConnectGetAllDomainStats", R, "1.3"),
    HookApi("domain_interface_addresses", "virDomainInterfaceAddresses", Access.AGENT_SOURCE, "1.4"),
    HookApi("domain_get_security_label", "virDomainGetSecurityLabelList", R, "1.0"),
    HookApi("domain_open_console", "virDomainOpenConsole", W, "1.2"),
    HookApi("domain_get_scheduler_type", "virDomainGetSchedulerType", R, "1.7"),
    HookApi("domain_get_scheduler_parameters", "virDomainGetSchedulerParametersFlags", R, "1.7",
            "virDomainGetSchedulerParameters"),
    HookApi("domain_set_scheduler_parameters", "virDomainSetSchedulerParametersFlags", W, "1.7",
            "virDomainSetSchedulerParameters"),
    HookApi("domain_screenshot", "virDomainScreenshot", W, "1.7"),  # libvirt refuses it read-only
    HookApi("domain_abort_job", "virDomainAbortJobFlags", W, "1.8", "virDomainAbortJob"),
    # migration (libvirt refuses every phase read-only); the job's progress is a read
    HookApi("domain_migrate_begin", "virDomainMigrateBegin3Params", W, "1.10"),
    HookApi("domain_migrate_prepare", "virDomainMigratePrepare3Params", W, "1.10"),
    HookApi("domain_migrate_prepare_tunnel", "virDomainMigratePrepareTunnel3Params", W, "1.10"),
    HookApi("domain_migrate_perform", "virDomainMigratePerform3Params", W, "1.10"),
    HookApi("domain_migrate_finish", "virDomainMigrateFinish3Params", W, "1.10"),
    HookApi("domain_migrate_confirm", "virDomainMigrateConfirm3Params", W, "1.10"),
    HookApi("domain_get_job_stats", "virDomainGetJobStats", R, "1.10"),
    HookApi("domain_migrate_start_post_copy", "virDomainMigrateStartPostCopy", W, "1.12"),
    HookApi("domain_migrate_set_max_downtime", "virDomainMigrateSetMaxDowntime", W, "1.13"),
    # (the library lets read-only connections ask; libvirtd's ACL, domain:migrate, refuses them: so does pyvirtd)
    HookApi("domain_migrate_get_max_downtime", "virDomainMigrateGetMaxDowntime", R, "1.13"),
    # guest description and metadata, guest controls, vCPU and memory queries, device statistics (contract 1.11)
    HookApi("domain_get_metadata", "virDomainGetMetadata", R, "1.11"),
    HookApi("domain_set_metadata", "virDomainSetMetadata", W, "1.11"),
    HookApi("domain_rename", "virDomainRename", W, "1.11"),
    HookApi("domain_reset", "virDomainReset", W, "1.11"),
    HookApi("domain_inject_nmi", "virDomainInjectNMI", W, "1.11"),
    HookApi("domain_send_key", "virDomainSendKey", W, "1.11"),
    HookApi("domain_get_time", "virDomainGetTime", W, "1.11"),  # it may ask the guest agent
    HookApi("domain_set_time", "virDomainSetTime", W, "1.11"),
    HookApi("domain_get_hostname", "virDomainGetHostname", W, "1.11"),
    HookApi("domain_memory_stats", "virDomainMemoryStats", R, "1.11"),
    HookApi("domain_set_memory_stats_period", "virDomainSetMemoryStatsPeriod", W, "1.11"),
    # the guest agent's count (VIR_DOMAIN_VCPU_GUEST) is refused read-only, the others are reads
    HookApi("domain_get_vcpus_flags", "virDomainGetVcpusFlags", Access.GUEST_FLAG, "1.11"),
    HookApi("domain_get_vcpus", "virDomainGetVcpus", R, "1.11"),
    HookApi("domain_get_vcpu_pin_info", "virDomainGetVcpuPinInfo", R, "1.11"),
    HookApi("domain_pin_vcpu", "virDomainPinVcpuFlags", W, "1.11", "virDomainPinVcpu"),
    HookApi("domain_block_stats", "virDomainBlockStats", R, "1.11"),
    HookApi("domain_interface_stats", "virDomainInterfaceStats", R, "1.11"),
    HookApi("domain_get_block_info", "virDomainGetBlockInfo", R, "1.11"),
    # emulator thread pinning, every block counter a driver has (contract 1.12)
    HookApi("domain_get_emulator_pin_info", "virDomainGetEmulatorPinInfo", R, "1.12"),
    HookApi("domain_pin_emulator", "virDomainPinEmulator", W, "1.12"),
    HookApi("domain_block_stats_flags", "virDomainBlockStatsFlags", R, "1.12"),
    HookApi("domain_get_block_job_info", "virDomainGetBlockJobInfo", R, "1.12"),
    # block copy and control of a disk's block job (contract 1.13)
    HookApi("domain_block_copy", "virDomainBlockCopy", W, "1.13"),
    HookApi("domain_block_rebase", "virDomainBlockRebase", W, "1.13"),
    HookApi("domain_block_job_abort", "virDomainBlockJobAbort", W, "1.13"),
    HookApi("domain_block_job_set_speed", "virDomainBlockJobSetSpeed", W, "1.13"),
    HookApi("domain_block_pull", "virDomainBlockPull", W, "1.13"),
    HookApi("domain_block_commit", "virDomainBlockCommit", W, "1.13"),
    # a disk's write threshold (contract 1.14)
    HookApi("domain_set_block_threshold", "virDomainSetBlockThreshold", W, "1.14"),
    # QEMU-only block and migration tuning (contract 1.15): grow a disk; the migration bandwidth libvirt
    # records per domain (both getter and setter refused read-only: virDomainMigrateGetMaxSpeed checks it)
    HookApi("domain_block_resize", "virDomainBlockResize", W, "1.15"),
    HookApi("domain_migrate_set_max_speed", "virDomainMigrateSetMaxSpeed", W, "1.15"),
    HookApi("domain_migrate_get_max_speed", "virDomainMigrateGetMaxSpeed", W, "1.15"),
    # QEMU's migration compression cache and dirty-page rate (contract 1.16; the getter is a read for libvirt's
    # library, see ACCESS_DIFFERS_FROM_ACL)
    HookApi("domain_migrate_get_compression_cache", "virDomainMigrateGetCompressionCache", R, "1.16"),
    HookApi("domain_migrate_set_compression_cache", "virDomainMigrateSetCompressionCache", W, "1.16"),
    HookApi("domain_start_dirty_rate_calc", "virDomainStartDirtyRateCalc", W, "1.16"),
    # a running guest's disks copied out while it runs (contract 1.16): push-mode backup and its description
    HookApi("domain_backup_begin", "virDomainBackupBegin", W, "1.16"),
    HookApi("domain_backup_get_xml_desc", "virDomainBackupGetXMLDesc", R, "1.16"),
    # libvirt-qemu's pass-through to QEMU's monitor and guest agent (contract 1.15; refused read-only)
    HookApi("domain_qemu_monitor_command", "virDomainQemuMonitorCommand", W, "1.15"),
    HookApi("domain_qemu_agent_command", "virDomainQemuAgentCommand", W, "1.15"),
    # libvirt-lxc's namespaces of a running container (contract 1.16; refused read-only, virCheckReadOnlyGoto)
    HookApi("domain_lxc_open_namespace", "virDomainLxcOpenNamespace", W, "1.16"),
    # descriptors a client hands a domain under a name, for disks with <source fdgroup='NAME'/> (contract 1.16)
    HookApi("domain_fd_associate", "virDomainFDAssociate", W, "1.16"),
    # core dump (contract 1.14): virDomainCoreDump is the call with the raw format (0)
    HookApi("domain_core_dump", "virDomainCoreDumpWithFormat", W, "1.14", "virDomainCoreDump", ("dumpformat",)),
    # starting with descriptors handed to the guest (contract 1.15): libvirt's LXC driver gives them to the
    # container's init as fds 3, 4, ...; the test driver accepts and ignores them
    HookApi("domain_create_with_files", "virDomainCreateWithFiles", W, "1.15"),
    HookApi("domain_create_xml_with_files", "virDomainCreateXMLWithFiles", W, "1.15"),
    # the XML inside a save image (contract 1.15): read it, or replace it for the restore to come. libvirt 9.0
    # refuses the image's XML to a read-only connection outright, the managed image's only with the secure flag
    HookApi("domain_save_image_get_xml_desc", "virDomainSaveImageGetXMLDesc", W, "1.15"),
    HookApi("domain_save_image_define_xml", "virDomainSaveImageDefineXML", W, "1.15"),
    HookApi("domain_managed_save_get_xml_desc", "virDomainManagedSaveGetXMLDesc", Access.SECURE_FLAG, "1.15"),
    HookApi("domain_managed_save_define_xml", "virDomainManagedSaveDefineXML", W, "1.15"),
    # I/O threads (contract 1.15): libvirt's test driver keeps them in the definition (<iothreadids>, <iothreadpin>)
    HookApi("domain_get_iothread_info", "virDomainGetIOThreadInfo", R, "1.15"),
    HookApi("domain_pin_iothread", "virDomainPinIOThread", W, "1.15"),
    HookApi("domain_add_iothread", "virDomainAddIOThread", W, "1.15"),
    HookApi("domain_del_iothread", "virDomainDelIOThread", W, "1.15"),
    HookApi("domain_set_iothread_params", "virDomainSetIOThreadParams", W, "1.15"),
    # the guest's file systems (contract 1.15): libvirt refuses all four read-only (they reach into the guest)
    HookApi("domain_get_fs_info", "virDomainGetFSInfo", W, "1.15"),
    HookApi("domain_fs_freeze", "virDomainFSFreeze", W, "1.15"),
    HookApi("domain_fs_thaw", "virDomainFSThaw", W, "1.15"),
    HookApi("domain_fs_trim", "virDomainFSTrim", W, "1.15"),
    # monitoring and tuning a domain (contract 1.15): disk errors, the control interface
    HookApi("domain_get_disk_errors", "virDomainGetDiskErrors", R, "1.15"),
    HookApi("domain_get_control_info", "virDomainGetControlInfo", R, "1.15"),
    HookApi("domain_get_cpu_stats", "virDomainGetCPUStats", R, "1.15"),
    # block I/O and memory tunables (contract 1.15): cgroup limits, as typed parameters
    HookApi("domain_get_blkio_parameters", "virDomainGetBlkioParameters", R, "1.15"),
    HookApi("domain_set_blkio_parameters", "virDomainSetBlkioParameters", W, "1.15"),
    HookApi("domain_get_memory_parameters", "virDomainGetMemoryParameters", R, "1.15"),
    HookApi("domain_set_memory_parameters", "virDomainSetMemoryParameters", W, "1.15"),
    HookApi("domain_get_block_io_tune", "virDomainGetBlockIoTune", R, "1.15"),
    HookApi("domain_set_block_io_tune", "virDomainSetBlockIoTune", W, "1.15"),
    HookApi("domain_get_numa_parameters", "virDomainGetNumaParameters", R, "1.15"),
    HookApi("domain_set_numa_parameters", "virDomainSetNumaParameters", W, "1.15"),
    HookApi("domain_get_perf_events", "virDomainGetPerfEvents", R, "1.15"),
    HookApi("domain_set_perf_events", "virDomainSetPerfEvents", W, "1.15"),
    HookApi("domain_get_interface_parameters", "virDomainGetInterfaceParameters", R, "1.15"),
    HookApi("domain_set_interface_parameters", "virDomainSetInterfaceParameters", W, "1.15"),
    # guest controls (contract 1.15): lifecycle actions, a signal to a guest process, a user's password; the
    # launch security measurement is refused to read-only connections (virCheckReadOnlyGoto)
    HookApi("domain_set_lifecycle_action", "virDomainSetLifecycleAction", W, "1.15"),
    HookApi("domain_send_process_signal", "virDomainSendProcessSignal", W, "1.15"),
    HookApi("domain_set_user_password", "virDomainSetUserPassword", W, "1.15"),
    HookApi("domain_get_launch_security_info", "virDomainGetLaunchSecurityInfo", W, "1.15"),
    # the guest agent and power management (contract 1.16): libvirt's @acl for each is domain:write or stronger
    # (domain:pm_control for the two PM calls), so all are refused read-only
    HookApi("domain_get_guest_info", "virDomainGetGuestInfo", W, "1.16"),
    HookApi("domain_get_guest_vcpus", "virDomainGetGuestVcpus", W, "1.16"),
    HookApi("domain_set_guest_vcpus", "virDomainSetGuestVcpus", W, "1.16"),
    HookApi("domain_authorized_ssh_keys_get", "virDomainAuthorizedSSHKeysGet", W, "1.16"),
    HookApi("domain_authorized_ssh_keys_set", "virDomainAuthorizedSSHKeysSet", W, "1.16"),
    HookApi("domain_agent_set_response_timeout", "virDomainAgentSetResponseTimeout", W, "1.16"),
    HookApi("domain_pm_suspend_for_duration", "virDomainPMSuspendForDuration", W, "1.16"),
    HookApi("domain_pm_wakeup", "virDomainPMWakeup", W, "1.16"),
    # one vCPU or one device by its alias (contract 1.16)
    HookApi("domain_set_vcpu", "virDomainSetVcpu", W, "1.16"),
    HookApi("domain_detach_device_alias", "virDomainDetachDeviceAlias", W, "1.16"),
    # ------------------------------------------------------------ checkpoints
    HookApi("checkpoint_create_xml", "virDomainCheckpointCreateXML", W, "1.7"),
    HookApi("checkpoint_list_names", "virDomainListAllCheckpoints", R, "1.7"),
    HookApi("checkpoint_list_children", "virDomainCheckpointListAllChildren", R, "1.7"),
    HookApi("checkpoint_lookup_by_name", "virDomainCheckpointLookupByName", R, "1.7"),
    HookApi("checkpoint_get_xml_desc", "virDomainCheckpointGetXMLDesc", Access.SECURE_FLAG, "1.7"),
    HookApi("checkpoint_get_parent", "virDomainCheckpointGetParent", R, "1.7"),
    HookApi("checkpoint_delete", "virDomainCheckpointDelete", W, "1.7"),
    # ------------------------------------------------------------ snapshots
    HookApi("snapshot_create_xml", "virDomainSnapshotCreateXML", W, "1.0"),
    HookApi("snapshot_list_names", "virDomainListAllSnapshots", R, "1.0"),
    HookApi("snapshot_lookup_by_name", "virDomainSnapshotLookupByName", R, "1.0"),
    HookApi("snapshot_current", "virDomainSnapshotCurrent", R, "1.0"),
    HookApi("snapshot_get_xml_desc", "virDomainSnapshotGetXMLDesc", Access.SECURE_FLAG, "1.0"),
    HookApi("snapshot_get_parent", "virDomainSnapshotGetParent", R, "1.0"),
    HookApi("snapshot_revert", "virDomainRevertToSnapshot", W, "1.0"),
    HookApi("snapshot_delete", "virDomainSnapshotDelete", W, "1.0"),
    # ------------------------------------------------------------ networks
    HookApi("network_list_all", "virConnectListAllNetworks", R, "1.0"),
    HookApi("network_lookup_by_name", "virNetworkLookupByName", R, "1.0"),
    HookApi("network_lookup_by_uuid", "virNetworkLookupByUUID", R, "1.0"),
    HookApi("network_define_xml", "virNetworkDefineXMLFlags", W, "1.0", "virNetworkDefineXML"),
    HookApi("network_create_xml", "virNetworkCreateXMLFlags", W, "1.0", "virNetworkCreateXML"),
    HookApi("network_undefine", "virNetworkUndefine", W, "1.0"),
    HookApi("network_create", "virNetworkCreate", W, "1.0"),
    HookApi("network_destroy", "virNetworkDestroy", W, "1.0"),
    HookApi("network_get_xml_desc", "virNetworkGetXMLDesc", R, "1.0"),
    HookApi("network_get_flags", "virNetworkIsActive", R, "1.0"),
    HookApi("network_get_bridge_name", "virNetworkGetBridgeName", R, "1.0"),
    HookApi("network_get_dhcp_leases", "virNetworkGetDHCPLeases", R, "1.4"),
    HookApi("network_update", "virNetworkUpdate", W, "1.5"),
    HookApi("network_set_autostart", "virNetworkSetAutostart", W, "1.0"),
    HookApi("network_list_all_ports", "virNetworkListAllPorts", R, "1.16"),
    HookApi("network_port_lookup_by_uuid", "virNetworkPortLookupByUUID", R, "1.16"),
    HookApi("network_port_create_xml", "virNetworkPortCreateXML", W, "1.16"),
    HookApi("network_port_get_xml_desc", "virNetworkPortGetXMLDesc", R, "1.16"),
    HookApi("network_port_delete", "virNetworkPortDelete", W, "1.16"),
    # ------------------------------------------------------------ storage pools and volumes
    HookApi("pool_list_all", "virConnectListAllStoragePools", R, "1.0"),
    HookApi("pool_lookup_by_name", "virStoragePoolLookupByName", R, "1.0"),
    HookApi("pool_lookup_by_uuid", "virStoragePoolLookupByUUID", R, "1.0"),
    HookApi("pool_define_xml", "virStoragePoolDefineXML", W, "1.0"),
    HookApi("pool_create_xml", "virStoragePoolCreateXML", W, "1.0"),
    HookApi("pool_undefine", "virStoragePoolUndefine", W, "1.0"),
    HookApi("pool_create", "virStoragePoolCreate", W, "1.0"),
    HookApi("pool_destroy", "virStoragePoolDestroy", W, "1.0"),
    HookApi("pool_refresh", "virStoragePoolRefresh", W, "1.0"),
    HookApi("pool_build", "virStoragePoolBuild", W, "1.10"),
    HookApi("pool_delete", "virStoragePoolDelete", W, "1.10"),
    HookApi("pool_get_info", "virStoragePoolGetInfo", R, "1.0"),
    HookApi("pool_get_xml_desc", "virStoragePoolGetXMLDesc", R, "1.0"),
    HookApi("pool_get_flags", "virStoragePoolIsActive", R, "1.0"),
    HookApi("pool_set_autostart", "virStoragePoolSetAutostart", W, "1.0"),
    # libvirt refuses it read-only: discovery may scan the host's disks or query remote servers (contract 1.15)
    HookApi("pool_find_sources", "virConnectFindStoragePoolSources", W, "1.15"),
    HookApi("volume_list_all", "virStoragePoolListAllVolumes", R, "1.0"),
    HookApi("volume_lookup_by_name", "virStorageVolLookupByName", R, "1.0"),
    HookApi("volume_lookup_by_key", "virStorageVolLookupByKey", R, "1.0"),
    HookApi("volume_lookup_by_path", "virStorageVolLookupByPath", R, "1.0"),
    HookApi("volume_create_xml", "virStorageVolCreateXML", W, "1.0"),
    HookApi("volume_delete", "virStorageVolDelete", W, "1.0"),
    HookApi("volume_get_info", "virStorageVolGetInfo", R, "1.0"),
    HookApi("volume_get_xml_desc", "virStorageVolGetXMLDesc", R, "1.0"),
    HookApi("volume_get_path", "virStorageVolGetPath", R, "1.0"),
    HookApi("volume_upload", "virStorageVolUpload", W, "1.9"),
    HookApi("volume_download", "virStorageVolDownload", W, "1.9"),  # libvirt refuses it read-only too
    HookApi("volume_create_xml_from", "virStorageVolCreateXMLFrom", W, "1.11"),
    # no algorithm: virStorageVolWipe (libvirt's zero fill), the call drivers without patterns implement
    HookApi("volume_wipe", "virStorageVolWipePattern", W, "1.11", "virStorageVolWipe", ("algorithm",)),
    # resizing a volume, and what pool types the storage driver has (contract 1.16)
    HookApi("volume_resize", "virStorageVolResize", W, "1.16"),
    HookApi("pool_get_capabilities", "virConnectGetStoragePoolCapabilities", R, "1.16"),
    # ------------------------------------------------------------ secrets
    HookApi("secret_list_all", "virConnectListAllSecrets", R, "1.0"),
    HookApi("secret_lookup_by_uuid", "virSecretLookupByUUID", R, "1.0"),
    HookApi("secret_lookup_by_usage", "virSecretLookupByUsage", R, "1.0"),
    HookApi("secret_define_xml", "virSecretDefineXML", W, "1.0"),
    HookApi("secret_undefine", "virSecretUndefine", W, "1.0"),
    HookApi("secret_get_xml_desc", "virSecretGetXMLDesc", R, "1.0"),
    HookApi("secret_set_value", "virSecretSetValue", W, "1.0"),
    HookApi("secret_get_value", "virSecretGetValue", W, "1.0"),  # it reveals the secret
    # ------------------------------------------------------------ network filters (contract 1.16: the nwfilter driver)
    HookApi("nwfilter_list_all", "virConnectListAllNWFilters", R, "1.16"),
    HookApi("nwfilter_lookup_by_name", "virNWFilterLookupByName", R, "1.16"),
    HookApi("nwfilter_lookup_by_uuid", "virNWFilterLookupByUUID", R, "1.16"),
    HookApi("nwfilter_define_xml", "virNWFilterDefineXMLFlags", W, "1.16", plain_api="virNWFilterDefineXML"),
    HookApi("nwfilter_undefine", "virNWFilterUndefine", W, "1.16"),
    HookApi("nwfilter_get_xml_desc", "virNWFilterGetXMLDesc", R, "1.16"),
    HookApi("nwfilter_binding_list_all", "virConnectListAllNWFilterBindings", R, "1.16"),
    HookApi("nwfilter_binding_lookup_by_port_dev", "virNWFilterBindingLookupByPortDev", R, "1.16"),
    HookApi("nwfilter_binding_create_xml", "virNWFilterBindingCreateXML", W, "1.16"),
    HookApi("nwfilter_binding_delete", "virNWFilterBindingDelete", W, "1.16"),
    HookApi("nwfilter_binding_get_xml_desc", "virNWFilterBindingGetXMLDesc", R, "1.16"),
    # ------------------------------------------------------------ node devices and host interfaces
    HookApi("nodedev_list_all", "virConnectListAllNodeDevices", R, "1.0"),
    HookApi("nodedev_lookup_by_name", "virNodeDeviceLookupByName", R, "1.0"),
    HookApi("nodedev_get_xml_desc", "virNodeDeviceGetXMLDesc", R, "1.0"),
    HookApi("nodedev_get_parent", "virNodeDeviceGetParent", R, "1.0"),
    # creating and destroying host devices (contract 1.15): libvirt's test driver mocks vHBA creation
    HookApi("nodedev_create_xml", "virNodeDeviceCreateXML", W, "1.15"),
    HookApi("nodedev_destroy", "virNodeDeviceDestroy", W, "1.15"),
    HookApi("interface_list_all", "virConnectListAllInterfaces", R, "1.0"),
    HookApi("interface_lookup_by_name", "virInterfaceLookupByName", R, "1.0"),
    HookApi("interface_get_xml_desc", "virInterfaceGetXMLDesc", R, "1.0"),
    HookApi("interface_is_active", "virInterfaceIsActive", R, "1.0"),
    # defining, starting and stopping host interfaces, and the change transaction (contract 1.15)
    HookApi("interface_define_xml", "virInterfaceDefineXML", W, "1.15"),
    HookApi("interface_undefine", "virInterfaceUndefine", W, "1.15"),
    HookApi("interface_create", "virInterfaceCreate", W, "1.15"),
    HookApi("interface_destroy", "virInterfaceDestroy", W, "1.15"),
    HookApi("interface_change_begin", "virInterfaceChangeBegin", W, "1.15"),
    HookApi("interface_change_commit", "virInterfaceChangeCommit", W, "1.15"),
    HookApi("interface_change_rollback", "virInterfaceChangeRollback", W, "1.15"),
)
# fmt: on

API: Mapping[str, HookApi] = {row.hook: row for row in _ROWS}
"""Every hypervisor and secondary hook by name."""

ACCESS_DIFFERS_FROM_ACL: Mapping[str, str] = {
    "domain_get_launch_security_info": "its @acl is domain:read, yet libvirt's library refuses read-only "
    "connections (virCheckReadOnlyGoto in virDomainGetLaunchSecurityInfo)",
    "domain_migrate_get_max_downtime": "libvirt's library lets read-only connections ask, yet its @acl is "
    "domain:migrate",
    "domain_migrate_get_compression_cache": "libvirt's library lets read-only connections ask "
    "(virDomainMigrateGetCompressionCache has no virCheckReadOnlyGoto), yet its @acl is domain:migrate",
}
"""The hooks whose ``access`` (libvirt's library rule, checked in the facade) is not what the @acl annotation
of their procedure in remote_protocol.x says (libvirtd's rule, which pyvirtd follows), and why. The tests that
compare the two tables read this one list, so a new disagreement must be named here with libvirt's reason."""

_SECURE = 1  # VIR_DOMAIN_XML_SECURE, VIR_DOMAIN_SNAPSHOT_XML_SECURE, VIR_DOMAIN_CHECKPOINT_XML_SECURE
_SOURCE_AGENT = 1  # VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
_VCPU_GUEST = 8  # VIR_DOMAIN_VCPU_GUEST


def api_name(row: HookApi, args: Mapping[str, Any]) -> str:
    """The API a call with ``args`` stands for: ``plain_api`` when none of its ``plain_args`` is given."""
    if row.plain_api is not None and not any(args.get(a) for a in row.plain_args):
        return row.plain_api
    return row.api


def read_only_denial(row: HookApi, args: Mapping[str, Any]) -> OperationDeniedError | None:
    """libvirt's error for making this call on a read-only connection, or None when it is allowed."""
    if row.access is Access.READ:
        return None
    if row.access is Access.SECURE_FLAG:
        if not args.get("flags", 0) & _SECURE:
            return None
        return OperationDeniedError(ErrorCode.OPERATION_DENIED, f"{row.api} with secure flag", domain=row.error_domain)
    if row.access is Access.AGENT_SOURCE and args.get("source") != _SOURCE_AGENT:
        return None
    if row.access is Access.GUEST_FLAG and not args.get("flags", 0) & _VCPU_GUEST:
        return None
    return OperationDeniedError(
        ErrorCode.OPERATION_DENIED, f"read only access prevents {api_name(row, args)}", domain=row.error_domain
    )
