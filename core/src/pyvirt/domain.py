"""``Domain``, ``Snapshot``, ``Checkpoint``: handles on one guest, like virDomainPtr and its moments.

A handle carries name, UUID and the id it had when looked up: -1 after a
destroy or save, looked up again when next read after calls that start it or
may stop it (no round trip to a daemon for a caller that never reads it).
Every method goes to the connection's driver; write methods are refused on
read-only connections.
"""

from __future__ import annotations

import os
from _collections_abc import Iterable

from pyvirt.errors import NotSupportedError
from pyvirt.list_filters import matches_flag_groups
from pyvirt.plugin import records  # its classes are built when first read: records.X at run time

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection
    from pyvirt.flags import (
        ConnectGetAllDomainStatsFlags,
        DomainAbortJobFlags,
        DomainAuthorizedSSHKeysSetFlags,
        DomainBackupBeginFlags,
        DomainBlockCommitFlags,
        DomainBlockCopyFlags,
        DomainBlockJobAbortFlags,
        DomainBlockJobInfoFlags,
        DomainBlockJobSetSpeedFlags,
        DomainBlockPullFlags,
        DomainBlockRebaseFlags,
        DomainBlockResizeFlags,
        DomainCheckpointCreateFlags,
        DomainCheckpointDeleteFlags,
        DomainCheckpointListFlags,
        DomainCheckpointXMLFlags,
        DomainConsoleFlags,
        DomainCoreDumpFlags,
        DomainCreateFlags,
        DomainDestroyFlags,
        DomainDeviceModifyFlags,
        DomainDirtyRateCalcFlags,
        DomainFDAssociateFlags,
        DomainGetHostnameFlags,
        DomainGetJobStatsFlags,
        DomainMemoryModFlags,
        DomainMigrateMaxSpeedFlags,
        DomainModificationImpact,
        DomainQemuMonitorCommandFlags,
        DomainRebootFlags,
        DomainSaveImageXMLFlags,
        DomainSaveRestoreFlags,
        DomainSetTimeFlags,
        DomainSetUserPasswordFlags,
        DomainShutdownFlags,
        DomainSnapshotCreateFlags,
        DomainSnapshotDeleteFlags,
        DomainSnapshotListFlags,
        DomainSnapshotRevertFlags,
        DomainSnapshotXMLFlags,
        DomainUndefineFlags,
        DomainVcpuFlags,
        DomainXMLFlags,
        TypedParameterFlags,
    )
    from pyvirt.plugin.facade import DriverCalls  # a connection's calls need not load it (pyvirt.plugin.facade_base)
    from pyvirt.plugin.records import (
        BlockInfo,
        BlockStats,
        CheckpointRef,
        DomainInfo,
        DomainRef,
        InterfaceAddresses,
        InterfaceStats,
        SecurityLabel,
        SnapshotRef,
        VcpuInfo,
    )
    from pyvirt.plugin.typed_params import TypedParam

__all__ = ["Checkpoint", "Domain", "Snapshot", "domain_matches"]

# virConnectListAllDomains' filter bits. pyvirt.flags.ConnectListAllDomainsFlags names them, but this module
# is on every client run and pyvirt.flags is not: test_flag_literals checks each value against that class.
_ACTIVE = 1 << 0  # VIR_CONNECT_LIST_DOMAINS_ACTIVE
_INACTIVE = 1 << 1  # VIR_CONNECT_LIST_DOMAINS_INACTIVE
_PERSISTENT = 1 << 2  # VIR_CONNECT_LIST_DOMAINS_PERSISTENT
_TRANSIENT = 1 << 3  # VIR_CONNECT_LIST_DOMAINS_TRANSIENT
_RUNNING = 1 << 4  # VIR_CONNECT_LIST_DOMAINS_RUNNING
_PAUSED = 1 << 5  # VIR_CONNECT_LIST_DOMAINS_PAUSED
_SHUTOFF = 1 << 6  # VIR_CONNECT_LIST_DOMAINS_SHUTOFF
_OTHER = 1 << 7  # VIR_CONNECT_LIST_DOMAINS_OTHER
_MANAGEDSAVE = 1 << 8  # VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE
_NO_MANAGEDSAVE = 1 << 9  # VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE
_AUTOSTART = 1 << 10  # VIR_CONNECT_LIST_DOMAINS_AUTOSTART
_NO_AUTOSTART = 1 << 11  # VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART
_HAS_SNAPSHOT = 1 << 12  # VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT
_NO_SNAPSHOT = 1 << 13  # VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT
_HAS_CHECKPOINT = 1 << 14  # VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT
_NO_CHECKPOINT = 1 << 15  # VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT
_MEM_MAXIMUM = 1 << 2  # VIR_DOMAIN_MEM_MAXIMUM
_DUMP_CRASH = 1 << 0  # VIR_DUMP_CRASH
_AFFECT_LIVE, _AFFECT_CONFIG = 1, 2  # VIR_DOMAIN_AFFECT_*

# The groups besides active/inactive and the run states, answered by the driver's domain_get_flags.
_DOMAIN_GROUPS = (
    (_PERSISTENT, _TRANSIENT, "persistent"), (_MANAGEDSAVE, _NO_MANAGEDSAVE, "managed_save"),
    (_AUTOSTART, _NO_AUTOSTART, "autostart"), (_HAS_SNAPSHOT, _NO_SNAPSHOT, "has_snapshot"),
)  # fmt: skip
_GROUP_BITS = sum(yes | no for yes, no, _ in _DOMAIN_GROUPS)
_STATE_BITS = _RUNNING | _PAUSED | _SHUTOFF | _OTHER
# virDomainState's numbers (pyvirt.domain_state.DomainState): importing its enums cost a short run that never
# reads a state (destroy, start) 1.3 million instructions
_STATE_RUNNING = 1  # VIR_DOMAIN_RUNNING
_STATE_PAUSED = 3  # VIR_DOMAIN_PAUSED
_STATE_SHUTOFF = 5  # VIR_DOMAIN_SHUTOFF


def domain_matches(calls: DriverCalls, ref: DomainRef, flags: int) -> bool:
    """virConnectListAllDomains' filter groups: each group present must match."""
    if not flags:
        return True
    active = ref.id != -1
    if flags & (_ACTIVE | _INACTIVE) and not ((flags & _ACTIVE and active) or (flags & _INACTIVE and not active)):
        return False
    info = calls.domain_get_flags(dom=ref) if flags & _GROUP_BITS else {}
    if flags & _STATE_BITS:
        state = calls.domain_get_state(dom=ref)[0]
        ok = (
            (flags & _RUNNING and state == _STATE_RUNNING)
            or (flags & _PAUSED and state == _STATE_PAUSED)
            or (flags & _SHUTOFF and state == _STATE_SHUTOFF)
            or (flags & _OTHER and state not in (_STATE_RUNNING, _STATE_PAUSED, _STATE_SHUTOFF))
        )
        if not ok:
            return False
    if flags & (_HAS_CHECKPOINT | _NO_CHECKPOINT) and not _checkpoints_match(calls, ref, flags):
        return False
    return matches_flag_groups(flags, info, _DOMAIN_GROUPS)


def _checkpoints_match(calls: DriverCalls, ref: DomainRef, flags: int) -> bool:
    """libvirt's checkpoint filter group: asked only when named, since it lists each domain's checkpoints.

    A driver without checkpoints has none, as libvirt's domain list (whose checkpoint list is empty there) says.
    """
    try:
        has = bool(calls.checkpoint_list_names(dom=ref, flags=0))
    except NotSupportedError:
        has = False
    return bool(flags & _HAS_CHECKPOINT and has) or bool(flags & _NO_CHECKPOINT and not has)


def _checked_params(params: Iterable[TypedParam], read_only: bool) -> list[TypedParam]:
    """Typed parameters checked as libvirt's public API checks them, unless the connection is read-only
    (refused first, as in libvirt).

    ``pyvirt.plugin.typed_params`` is imported by the few calls that take or
    check typed parameters only: a short command through pyvirtd paid it 1
    million instructions without using it.
    """
    items = list(params)
    if read_only:
        return items
    from pyvirt.plugin.typed_params import typed_param

    return [typed_param(p.field, p.type, p.value) for p in items]


class Domain:
    """One guest of a connection."""

    __slots__ = ("_conn", "_id_stale", "_ref")

    def __init__(self, conn: Connection, ref: DomainRef) -> None:
        self._conn = conn
        self._ref = ref
        self._id_stale = False

    def __repr__(self) -> str:
        return f"<pyvirt.Domain {self._ref.name} id={self._ref.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Domain) and other._ref.uuid == self._ref.uuid and other._conn is self._conn

    def __hash__(self) -> int:
        return hash(self._ref.uuid)

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def ref(self) -> DomainRef:
        if self._id_stale:
            self._lookup_id()
        return self._ref

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    @property
    def id(self) -> int:
        """The id when last looked up or started; -1 when not running."""
        if self._id_stale:
            self._lookup_id()
        return self._ref.id

    def _refresh(self) -> None:
        """After a call that may have changed the id (start, shutdown, reboot, a snapshot's revert).

        The id is looked up when it is next asked for, not now: libvirt's
        client keeps its handle as it is after such calls, and a ``pyvirsh
        start`` or a script that never reads the id must not pay a lookup
        (a round trip to the daemon) for it.
        """
        self._id_stale = True

    def _stopped(self) -> None:
        """After a call that succeeded only if the domain no longer runs (destroy, save): no id, no lookup."""
        self._ref = self._ref._replace(id=-1)
        self._id_stale = False

    def _lookup_id(self) -> None:
        self._id_stale = False
        try:
            self._ref = self._conn.calls.domain_lookup_by_uuid(uuid=self._ref.uuid)
        except Exception:  # gone (a transient domain that stopped), or the connection: not running, as known here
            self._ref = self._ref._replace(id=-1)

    # ------------------------------------------------------------------ queries
    def info(self) -> DomainInfo:
        return self._conn.calls.domain_get_info(dom=self._ref)

    def state(self) -> tuple[int, int]:
        """(state, reason) with libvirt's numbers; see ``pyvirt.domain_state``."""
        return self._conn.calls.domain_get_state(dom=self._ref)

    def os_type(self) -> str:
        """virDomainGetOSType: the driver's answer, else ``<os><type>`` of the definition."""
        calls = self._conn.calls
        if calls.implements("domain_get_os_type"):
            return calls.domain_get_os_type(dom=self._ref)
        from pyvirt.conf.domain import parse_domain  # only drivers without the hook pay for the parse

        os_conf = parse_domain(calls.domain_get_xml_desc(dom=self._ref, flags=0)).os
        os_type = os_conf.type if os_conf is not None else None
        return (os_type.name if os_type is not None else None) or "hvm"

    def xml_desc(self, flags: DomainXMLFlags | int = 0) -> str:
        return self._conn.calls.domain_get_xml_desc(dom=self._ref, flags=flags)

    def attach_device(self, xml: str, flags: DomainDeviceModifyFlags | int = 0) -> None:
        """Hotplug and/or persist a device; flags: AFFECT_LIVE 1, AFFECT_CONFIG 2 (0: the current state)."""
        self._conn.calls.domain_attach_device(dom=self._ref, xml=xml, flags=flags)

    def detach_device(self, xml: str, flags: DomainDeviceModifyFlags | int = 0) -> None:
        self._conn.calls.domain_detach_device(dom=self._ref, xml=xml, flags=flags)

    def update_device(self, xml: str, flags: DomainDeviceModifyFlags | int = 0) -> None:
        """Change a device in place: a CD-ROM's medium, a NIC's link state."""
        self._conn.calls.domain_update_device(dom=self._ref, xml=xml, flags=flags)

    def get_stats(self, stats: int = 0, flags: ConnectGetAllDomainStatsFlags | int = 0) -> list[tuple[str, int | str]]:
        """The domain's statistics as (field, value) pairs, virsh domstats' ``key=value`` lines."""
        return self._conn.calls.domain_get_stats(dom=self._ref, stats=stats, flags=flags)

    def interface_addresses(self, source: int = 0, flags: int = 0) -> list[InterfaceAddresses]:
        """Each NIC's addresses (``source``: 0 DHCP leases, 1 guest agent, 2 ARP); virDomainInterfaceAddresses."""
        return self._conn.calls.domain_interface_addresses(dom=self._ref, source=source, flags=flags)

    def open_console(self, dev_name: str | None = None, flags: DomainConsoleFlags | int = 0) -> int:
        """A file descriptor on the domain's console (the caller closes it); virDomainOpenConsole."""
        return self._conn.calls.domain_open_console(dom=self._ref, dev_name=dev_name, flags=flags)

    # ------------------------------------------------------------------ scheduler and screen
    def scheduler_type(self) -> tuple[str, int]:
        """The host scheduler's name and how many parameters it has; virDomainGetSchedulerType."""
        return self._conn.calls.domain_get_scheduler_type(dom=self._ref)

    def scheduler_parameters(self, flags: DomainModificationImpact | int | None = None) -> list[TypedParam]:
        """The scheduler's tunables with their libvirt types.

        ``flags`` None is virDomainGetSchedulerParameters; a number (0, AFFECT_LIVE 1,
        AFFECT_CONFIG 2) is virDomainGetSchedulerParametersFlags, which, as
        libvirt's public API does, also tells the driver the caller takes STRING
        values (VIR_TYPED_PARAM_STRING_OKAY): Python callers always do.
        """
        if flags is None:
            return self._conn.calls.domain_get_scheduler_parameters(dom=self._ref, flags=0)
        from pyvirt.plugin.typed_params import STRING_OKAY, check_live_or_config  # (see _checked_params)

        check_live_or_config(flags)
        return self._conn.calls.domain_get_scheduler_parameters(dom=self._ref, flags=flags | STRING_OKAY)

    def set_scheduler_parameters(self, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0) -> None:
        """Change scheduler tunables (virDomainSetSchedulerParameters, or ...Flags when ``flags`` is given).

        Each parameter is checked first as libvirt's public API checks it (a
        field name C can hold, a value of its type); a read-only connection is
        refused before that, as in libvirt.
        """
        items = _checked_params(params, self._conn.calls.read_only)
        self._conn.calls.domain_set_scheduler_parameters(dom=self._ref, params=items, flags=flags)

    def screenshot(self, screen: int = 0, flags: int = 0) -> tuple[str, bytes]:
        """``(mime_type, image)`` of one of the guest's screens (``screen`` 0: the first); virDomainScreenshot."""
        mime, fd = self._conn.calls.domain_screenshot(dom=self._ref, screen=screen, flags=flags)
        with os.fdopen(fd, "rb") as image:
            return mime, image.read()

    def is_active(self) -> bool:
        return bool(self._conn.calls.domain_get_flags(dom=self._ref)["active"])

    def is_persistent(self) -> bool:
        return bool(self._conn.calls.domain_get_flags(dom=self._ref)["persistent"])

    def is_updated(self) -> bool:
        return bool(self._conn.calls.domain_get_flags(dom=self._ref)["updated"])

    def has_managed_save(self) -> bool:
        return bool(self._conn.calls.domain_get_flags(dom=self._ref)["managed_save"])

    @property
    def autostart(self) -> bool:
        return bool(self._conn.calls.domain_get_flags(dom=self._ref)["autostart"])

    @autostart.setter
    def autostart(self, value: bool) -> None:
        self._conn.calls.domain_set_autostart(dom=self._ref, autostart=value)

    # ------------------------------------------------------------------ memory and vCPUs
    def set_memory(self, memory_kib: int, flags: DomainMemoryModFlags | int = 0) -> None:
        """The memory the guest may use, in KiB (virDomainSetMemoryFlags; virDomainSetMemory without flags)."""
        self._conn.calls.domain_set_memory(dom=self._ref, memory_kib=memory_kib, flags=flags)

    def set_max_memory(self, memory_kib: int, flags: DomainMemoryModFlags | int = 0) -> None:
        """The most memory the domain may be given, in KiB: set_memory with VIR_DOMAIN_MEM_MAXIMUM."""
        self._conn.calls.domain_set_memory(dom=self._ref, memory_kib=memory_kib, flags=flags | _MEM_MAXIMUM)

    def set_vcpus(self, count: int, flags: DomainVcpuFlags | int = 0) -> None:
        """The number of virtual CPUs (virDomainSetVcpusFlags; virDomainSetVcpus without flags)."""
        self._conn.calls.domain_set_vcpus(dom=self._ref, count=count, flags=flags)

    def vcpus_count(self, flags: DomainVcpuFlags | int = 0) -> int:
        """The vCPUs of the running or persistent definition, or their maximum (virDomainGetVcpusFlags)."""
        return self._conn.calls.domain_get_vcpus_flags(dom=self._ref, flags=flags)

    def vcpus(self, maxinfo: int, maplen: int) -> list[VcpuInfo]:
        """What each running vCPU does and the host CPUs it may use, ``maplen`` bytes each (virDomainGetVcpus)."""
        return self._conn.calls.domain_get_vcpus(dom=self._ref, maxinfo=maxinfo, maplen=maplen)

    def set_memory_stats_period(self, period: int, flags: DomainMemoryModFlags | int = 0) -> None:
        """Seconds between the balloon driver's statistics reports, 0 to stop them (virDomainSetMemoryStatsPeriod)."""
        self._conn.calls.domain_set_memory_stats_period(dom=self._ref, period=period, flags=flags)

    def pin_vcpu(self, vcpu: int, cpumap: bytes, flags: DomainModificationImpact | int = 0) -> None:
        """Let vCPU ``vcpu`` run only on the host CPUs of ``cpumap`` (virDomainPinVcpuFlags; virDomainPinVcpu
        without flags)."""
        self._conn.calls.domain_pin_vcpu(dom=self._ref, vcpu=vcpu, cpumap=cpumap, flags=flags)

    def vcpu_pin_info(self, ncpumaps: int, maplen: int, flags: DomainModificationImpact | int = 0) -> list[bytes]:
        """Each vCPU's pinning as a byte map of host CPUs (virDomainGetVcpuPinInfo)."""
        return self._conn.calls.domain_get_vcpu_pin_info(dom=self._ref, ncpumaps=ncpumaps, maplen=maplen, flags=flags)

    def memory_stats(self, max_stats: int = 13, flags: int = 0) -> list[tuple[int, int]]:
        """The balloon's statistics as (virDomainMemoryStatTags tag, value) pairs (virDomainMemoryStats).

        13 is VIR_DOMAIN_MEMORY_STAT_NR of libvirt 9.0, what virsh asks for.
        """
        return self._conn.calls.domain_memory_stats(dom=self._ref, max_stats=max_stats, flags=flags)

    def block_stats(self, path: str) -> BlockStats:
        """I/O counters of the disk with target or source ``path`` (virDomainBlockStats)."""
        return self._conn.calls.domain_block_stats(dom=self._ref, path=path)

    def block_stats_flags(self, path: str, flags: TypedParameterFlags | int = 0) -> list[TypedParam]:
        """Every I/O counter the driver keeps for disk ``path`` ("" sums all), named as libvirt's
        VIR_DOMAIN_BLOCK_STATS_* (virDomainBlockStatsFlags)."""
        return self._conn.calls.domain_block_stats_flags(dom=self._ref, path=path, flags=flags)

    def block_job_info(self, path: str, flags: DomainBlockJobInfoFlags | int = 0) -> tuple[int, int, int, int]:
        """The block job on disk ``path``: (virDomainBlockJobType, bandwidth, cur, end), all 0 without one
        (virDomainGetBlockJobInfo; flags 1, BANDWIDTH_BYTES: the bandwidth in bytes/s, else MiB/s)."""
        return self._conn.calls.domain_get_block_job_info(dom=self._ref, path=path, flags=flags)

    def block_copy(
        self, path: str, destxml: str, params: Iterable[TypedParam] = (), flags: DomainBlockCopyFlags | int = 0
    ) -> None:
        """Start copying disk ``path`` to the image ``destxml`` describes (a ``<disk>``); virDomainBlockCopy.

        The parameters (``bandwidth``, ``granularity``, ``buf-size``) are
        checked as libvirt's public API checks typed parameters, unless the
        connection is read-only (refused first, as in libvirt).
        """
        items = _checked_params(params, self._conn.calls.read_only)
        self._conn.calls.domain_block_copy(dom=self._ref, path=path, destxml=destxml, params=items, flags=flags)

    def block_rebase(
        self, path: str, base: str | None, bandwidth: int = 0, flags: DomainBlockRebaseFlags | int = 0
    ) -> None:
        """virDomainBlockRebase: with flag COPY, copy disk ``path`` to the file ``base`` (virsh's older blockcopy)."""
        self._conn.calls.domain_block_rebase(dom=self._ref, path=path, base=base, bandwidth=bandwidth, flags=flags)

    def set_block_threshold(self, dev: str, threshold: int, flags: int = 0) -> None:
        """One block-threshold event once the guest's writes to disk ``dev`` (or ``vda[N]``, one image of its
        chain) reach ``threshold`` bytes; 0 clears it (virDomainSetBlockThreshold)."""
        self._conn.calls.domain_set_block_threshold(dom=self._ref, dev=dev, threshold=threshold, flags=flags)

    def block_resize(self, disk: str, size: int, flags: DomainBlockResizeFlags | int = 0) -> None:
        """virDomainBlockResize: the image behind ``disk`` (target or source path) becomes ``size`` KiB, or
        bytes with VIR_DOMAIN_BLOCK_RESIZE_BYTES; the running guest sees the new capacity."""
        self._conn.calls.domain_block_resize(dom=self._ref, disk=disk, size=size, flags=flags)

    def migrate_set_max_speed(self, bandwidth: int, flags: DomainMigrateMaxSpeedFlags | int = 0) -> None:
        """virDomainMigrateSetMaxSpeed: the MiB/s this domain's migrations may use (POSTCOPY: the post-copy
        phase's)."""
        self._conn.calls.domain_migrate_set_max_speed(dom=self._ref, bandwidth=bandwidth, flags=flags)

    def migrate_get_max_speed(self, flags: DomainMigrateMaxSpeedFlags | int = 0) -> int:
        """virDomainMigrateGetMaxSpeed: that limit, in MiB/s."""
        return self._conn.calls.domain_migrate_get_max_speed(dom=self._ref, flags=flags)

    def migrate_get_compression_cache(self, flags: int = 0) -> int:
        """virDomainMigrateGetCompressionCache: the bytes of sent pages a live migration's XBZRLE compression
        keeps to send changed pages as deltas."""
        return self._conn.calls.domain_migrate_get_compression_cache(dom=self._ref, flags=flags)

    def migrate_set_compression_cache(self, size: int, flags: int = 0) -> None:
        """virDomainMigrateSetCompressionCache: resize that cache (bytes)."""
        self._conn.calls.domain_migrate_set_compression_cache(dom=self._ref, size=size, flags=flags)

    def start_dirty_rate_calc(self, seconds: int, flags: DomainDirtyRateCalcFlags | int = 0) -> None:
        """virDomainStartDirtyRateCalc: measure for ``seconds`` how fast the guest dirties memory; the result
        comes with the ``dirtyrate`` statistics group (:meth:`get_stats`)."""
        self._conn.calls.domain_start_dirty_rate_calc(dom=self._ref, seconds=seconds, flags=flags)

    def backup_begin(
        self, xml: str, checkpoint_xml: str | None = None, flags: DomainBackupBeginFlags | int = 0
    ) -> None:
        """virDomainBackupBegin: copy the running guest's disks as ``<domainbackup>`` ``xml`` says, as the
        domain's asynchronous backup job (watch it with :meth:`job_stats`, stop it with :meth:`abort_job`)."""
        self._conn.calls.domain_backup_begin(dom=self._ref, xml=xml, checkpoint_xml=checkpoint_xml, flags=flags)

    def backup_get_xml_desc(self, flags: int = 0) -> str:
        """virDomainBackupGetXMLDesc: the running backup job's ``<domainbackup>``."""
        return self._conn.calls.domain_backup_get_xml_desc(dom=self._ref, flags=flags)

    def qemu_monitor_command(self, cmd: str, flags: DomainQemuMonitorCommandFlags | int = 0) -> str:
        """virDomainQemuMonitorCommand (libvirt-qemu): ``cmd`` to QEMU's monitor as written (QMP JSON, or a human
        monitor line with HMP), QEMU's reply as text. The driver no longer vouches for the guest afterwards."""
        return self._conn.calls.domain_qemu_monitor_command(dom=self._ref, cmd=cmd, flags=flags)

    def qemu_agent_command(self, cmd: str, timeout: int = -1, flags: int = 0) -> str:
        """virDomainQemuAgentCommand (libvirt-qemu): ``cmd`` (JSON) to the guest agent, its reply as text;
        ``timeout`` in seconds, -2 blocks, -1 the default, 0 does not wait."""
        return self._conn.calls.domain_qemu_agent_command(dom=self._ref, cmd=cmd, timeout=timeout, flags=flags)

    def fd_associate(self, name: str, files: Iterable[int], flags: DomainFDAssociateFlags | int = 0) -> None:
        """virDomainFDAssociate: the domain keeps duplicates of ``files`` under ``name``, for disks whose source
        says ``fdgroup='NAME'``, until this connection closes. At least one descriptor (libvirt's check)."""
        fds = list(files)
        if not fds:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "nfds in virDomainFDAssociate must not be zero", verbatim=True
            )
        self._conn.calls.domain_fd_associate(dom=self._ref, name=name, files=fds, flags=flags)

    def lxc_open_namespace(self, flags: int = 0) -> list[int]:
        """virDomainLxcOpenNamespace (libvirt-lxc): descriptors of the running container init's namespaces
        (user, ipc, uts, net, pid, mnt: those the host has), for ``setns``; the caller closes them."""
        return self._conn.calls.domain_lxc_open_namespace(dom=self._ref, flags=flags)

    def block_job_abort(self, path: str, flags: DomainBlockJobAbortFlags | int = 0) -> None:
        """End disk ``path``'s block job; flag PIVOT switches the disk to a ready copy (virDomainBlockJobAbort)."""
        self._conn.calls.domain_block_job_abort(dom=self._ref, path=path, flags=flags)

    def block_job_set_speed(self, path: str, bandwidth: int, flags: DomainBlockJobSetSpeedFlags | int = 0) -> None:
        """Limit disk ``path``'s block job to ``bandwidth`` MiB/s (flag BYTES: bytes/s); virDomainBlockJobSetSpeed."""
        self._conn.calls.domain_block_job_set_speed(dom=self._ref, path=path, bandwidth=bandwidth, flags=flags)

    def block_pull(self, path: str, bandwidth: int = 0, flags: DomainBlockPullFlags | int = 0) -> None:
        """virDomainBlockPull: fill disk ``path``'s top image from its whole backing chain (a block job)."""
        self._conn.calls.domain_block_pull(dom=self._ref, path=path, bandwidth=bandwidth, flags=flags)

    def block_commit(
        self,
        path: str,
        base: str | None = None,
        top: str | None = None,
        bandwidth: int = 0,
        flags: DomainBlockCommitFlags | int = 0,
    ) -> None:
        """virDomainBlockCommit: merge the images from ``top`` down into ``base`` (a block job; ACTIVE for the
        disk's running image, which then waits for virDomainBlockJobAbort to pivot or keep the overlay)."""
        self._conn.calls.domain_block_commit(
            dom=self._ref, path=path, base=base, top=top, bandwidth=bandwidth, flags=flags
        )

    def pin_emulator(self, cpumap: bytes, flags: DomainModificationImpact | int = 0) -> None:
        """Let the emulator's threads (all but the vCPUs) run only on the host CPUs of ``cpumap`` (virDomainPinEmulator)."""
        self._conn.calls.domain_pin_emulator(dom=self._ref, cpumap=cpumap, flags=flags)

    def emulator_pin_info(self, maplen: int, flags: DomainModificationImpact | int = 0) -> bytes:
        """The emulator's pinning as a byte map of ``maplen`` bytes of host CPUs (virDomainGetEmulatorPinInfo)."""
        return self._conn.calls.domain_get_emulator_pin_info(dom=self._ref, maplen=maplen, flags=flags)

    def iothread_info(self, flags: DomainModificationImpact | int = 0) -> list[records.IOThreadInfo]:
        """The I/O threads and the host CPUs each may run on (virDomainGetIOThreadInfo), in definition order.

        LIVE with CONFIG is refused here, as libvirt's library refuses it before any driver.
        """
        if flags & _AFFECT_LIVE and flags & _AFFECT_CONFIG:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
                verbatim=True,
            )
        return self._conn.calls.domain_get_iothread_info(dom=self._ref, flags=flags)

    def pin_iothread(self, iothread_id: int, cpumap: bytes, flags: DomainModificationImpact | int = 0) -> None:
        """Let I/O thread ``iothread_id`` run only on the host CPUs of ``cpumap`` (virDomainPinIOThread)."""
        self._conn.calls.domain_pin_iothread(dom=self._ref, iothread_id=iothread_id, cpumap=cpumap, flags=flags)

    def add_iothread(self, iothread_id: int, flags: DomainModificationImpact | int = 0) -> None:
        """Add I/O thread ``iothread_id`` (virDomainAddIOThread)."""
        self._conn.calls.domain_add_iothread(dom=self._ref, iothread_id=iothread_id, flags=flags)

    def del_iothread(self, iothread_id: int, flags: DomainModificationImpact | int = 0) -> None:
        """Remove I/O thread ``iothread_id``, which no disk or controller may use (virDomainDelIOThread)."""
        if iothread_id == 0 and not self._conn.calls.read_only:  # libvirt's library checks it (after read-only)
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "iothread_id in virDomainDelIOThread must not be zero", verbatim=True
            )
        self._conn.calls.domain_del_iothread(dom=self._ref, iothread_id=iothread_id, flags=flags)

    def set_iothread_params(
        self, iothread_id: int, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0
    ) -> None:
        """Tune I/O thread ``iothread_id``'s polling and worker pool (virDomainSetIOThreadParams); the
        parameters are checked first as libvirt's public API checks them (see ``set_scheduler_parameters``)."""
        items = _checked_params(params, self._conn.calls.read_only)
        self._conn.calls.domain_set_iothread_params(dom=self._ref, iothread_id=iothread_id, params=items, flags=flags)

    def fs_info(self, flags: int = 0) -> list[records.FSInfo]:
        """The file systems mounted in the running guest and the disks they are on (virDomainGetFSInfo)."""
        return self._conn.calls.domain_get_fs_info(dom=self._ref, flags=flags)

    def fs_freeze(self, mountpoints: Iterable[str] = (), flags: int = 0) -> int:
        """Freeze the guest's file systems (all, or those of ``mountpoints``); how many froze (virDomainFSFreeze)."""
        return self._conn.calls.domain_fs_freeze(dom=self._ref, mountpoints=list(mountpoints), flags=flags)

    def fs_thaw(self, mountpoints: Iterable[str] = (), flags: int = 0) -> int:
        """Thaw the guest's file systems (all, or those of ``mountpoints``); how many thawed (virDomainFSThaw)."""
        return self._conn.calls.domain_fs_thaw(dom=self._ref, mountpoints=list(mountpoints), flags=flags)

    def fs_trim(self, mountpoint: str | None = None, minimum: int = 0, flags: int = 0) -> None:
        """Discard unused blocks of one mounted file system, or all (virDomainFSTrim)."""
        self._conn.calls.domain_fs_trim(dom=self._ref, mountpoint=mountpoint, minimum=minimum, flags=flags)

    def interface_stats(self, device: str) -> InterfaceStats:
        """Traffic counters of the NIC with host device name or MAC ``device`` (virDomainInterfaceStats)."""
        return self._conn.calls.domain_interface_stats(dom=self._ref, device=device)

    def block_info(self, path: str, flags: int = 0) -> BlockInfo:
        """Capacity, allocation and physical size of one disk (virDomainGetBlockInfo)."""
        return self._conn.calls.domain_get_block_info(dom=self._ref, path=path, flags=flags)

    def disk_errors(self, flags: int = 0) -> dict[str, int]:
        """The running domain's disks in error, target -> virDomainDiskErrorCode (1 unspecified, 2 no space), as
        libvirt-python's ``diskErrors`` (virDomainGetDiskErrors): why a guest paused on an I/O error."""
        return dict(self._conn.calls.domain_get_disk_errors(dom=self._ref, flags=flags))

    def control_info(self, flags: int = 0) -> tuple[int, int, int]:
        """(state, details, milliseconds in that state) of the driver's control channel to the running domain
        (virDomainGetControlInfo; state 0 ok, 1 job, 2 occupied, 3 error): whether a call would wait behind it."""
        return self._conn.calls.domain_get_control_info(dom=self._ref, flags=flags)

    def cpu_stats(
        self, start_cpu: int = -1, ncpus: int = 1, flags: TypedParameterFlags | int = 0
    ) -> list[list[TypedParam]]:
        """CPU time of the running domain (virDomainGetCPUStats): with ``start_cpu`` -1 its totals (one list),
        else one list per host CPU from ``start_cpu`` (at most ``ncpus``; an empty one for a CPU the domain may
        not use); ``ncpus`` 0 gives one empty list per host CPU, to count them. Checked as libvirt's library does."""
        from pyvirt.errors import ErrorCode, InvalidArgumentError
        from pyvirt.plugin.typed_params import STRING_OKAY  # (see _checked_params)

        if start_cpu == -1 and ncpus != 1:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "ncpus must be 1 when start_cpu is -1")
        if start_cpu < -1:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "start_cpu in virDomainGetCPUStats must be non-negative", verbatim=True
            )
        return self._conn.calls.domain_get_cpu_stats(
            dom=self._ref, start_cpu=start_cpu, ncpus=ncpus, flags=flags | STRING_OKAY
        )

    def blkio_parameters(self, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """The block I/O tunables (weight, per-device weights and throttles) with their libvirt types
        (virDomainGetBlkioParameters; STRING values accepted, as every Python caller takes them)."""
        from pyvirt.plugin.typed_params import STRING_OKAY, check_live_or_config  # (see _checked_params)

        check_live_or_config(flags)
        return self._conn.calls.domain_get_blkio_parameters(dom=self._ref, flags=flags | STRING_OKAY)

    def set_blkio_parameters(self, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0) -> None:
        """Change block I/O tunables (virDomainSetBlkioParameters); parameters checked as libvirt's API does."""
        items = _checked_params(params, self._conn.calls.read_only)
        self._conn.calls.domain_set_blkio_parameters(dom=self._ref, params=items, flags=flags)

    def memory_parameters(self, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """The memory limits in KiB, 9007199254740991 meaning unlimited (virDomainGetMemoryParameters)."""
        from pyvirt.plugin.typed_params import STRING_OKAY, check_live_or_config  # (see _checked_params)

        check_live_or_config(flags)
        return self._conn.calls.domain_get_memory_parameters(dom=self._ref, flags=flags | STRING_OKAY)

    def set_memory_parameters(self, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0) -> None:
        """Change memory limits (virDomainSetMemoryParameters); libvirt's API refuses an empty list."""
        items = _checked_params(params, self._conn.calls.read_only)
        if not items and not self._conn.calls.read_only:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "nparams in virDomainSetMemoryParameters must be greater than zero",
                verbatim=True,
            )
        self._conn.calls.domain_set_memory_parameters(dom=self._ref, params=items, flags=flags)

    def block_io_tune(self, disk: str, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """Disk ``disk``'s I/O throttling, libvirt's 20 fields (virDomainGetBlockIoTune)."""
        from pyvirt.plugin.typed_params import STRING_OKAY, check_live_or_config  # (see _checked_params)

        check_live_or_config(flags)
        return self._conn.calls.domain_get_block_io_tune(dom=self._ref, disk=disk, flags=flags | STRING_OKAY)

    def set_block_io_tune(
        self, disk: str, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0
    ) -> None:
        """Change disk ``disk``'s I/O throttling (virDomainSetBlockIoTune); an empty list is refused."""
        items = _checked_params(params, self._conn.calls.read_only)
        if not items and not self._conn.calls.read_only:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "nparams in virDomainSetBlockIoTune must be greater than zero", verbatim=True
            )
        self._conn.calls.domain_set_block_io_tune(dom=self._ref, disk=disk, params=items, flags=flags)

    def numa_parameters(self, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """The NUMA memory mode and node set (virDomainGetNumaParameters; the driver refuses LIVE with CONFIG)."""
        from pyvirt.plugin.typed_params import STRING_OKAY  # (see _checked_params)

        return self._conn.calls.domain_get_numa_parameters(dom=self._ref, flags=flags | STRING_OKAY)

    def set_numa_parameters(self, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0) -> None:
        """Change the NUMA memory mode or node set (virDomainSetNumaParameters); an empty list is refused."""
        items = _checked_params(params, self._conn.calls.read_only)
        if not items and not self._conn.calls.read_only:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "nparams in virDomainSetNumaParameters must be greater than zero", verbatim=True
            )
        self._conn.calls.domain_set_numa_parameters(dom=self._ref, params=items, flags=flags)

    def perf_events(self, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """Each perf event the driver knows, as a BOOLEAN: whether it is counted (virDomainGetPerfEvents)."""
        return self._conn.calls.domain_get_perf_events(dom=self._ref, flags=flags)

    def set_perf_events(self, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0) -> None:
        """Enable (True) or disable (False) perf events by name (virDomainSetPerfEvents); an empty list is refused."""
        items = _checked_params(params, self._conn.calls.read_only)
        if not items and not self._conn.calls.read_only:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "nparams in virDomainSetPerfEvents must be greater than zero", verbatim=True
            )
        self._conn.calls.domain_set_perf_events(dom=self._ref, params=items, flags=flags)

    def interface_parameters(self, device: str, flags: DomainModificationImpact | int = 0) -> list[TypedParam]:
        """NIC ``device``'s (host name or MAC) bandwidth limits (virDomainGetInterfaceParameters)."""
        from pyvirt.plugin.typed_params import STRING_OKAY  # (see _checked_params)

        return self._conn.calls.domain_get_interface_parameters(dom=self._ref, device=device, flags=flags | STRING_OKAY)

    def set_interface_parameters(
        self, device: str, params: Iterable[TypedParam], flags: DomainModificationImpact | int = 0
    ) -> None:
        """Change NIC ``device``'s bandwidth limits (virDomainSetInterfaceParameters); an empty list is refused."""
        items = _checked_params(params, self._conn.calls.read_only)
        if not items and not self._conn.calls.read_only:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "nparams in virDomainSetInterfaceParameters must be greater than zero",
                verbatim=True,
            )
        self._conn.calls.domain_set_interface_parameters(dom=self._ref, device=device, params=items, flags=flags)

    def set_lifecycle_action(self, type: int, action: int, flags: DomainModificationImpact | int = 0) -> None:
        """What the guest's power-off (type 0), reboot (1) or crash (2) does: destroy (0), restart (1),
        rename-restart (2), preserve (3), coredump-destroy (4), coredump-restart (5) (virDomainSetLifecycleAction).
        """
        from pyvirt.errors import ErrorCode, InvalidArgumentError

        if not self._conn.calls.read_only:  # libvirt refuses a read-only connection first (the facade does)
            if not 0 <= type < 3:  # VIR_DOMAIN_LIFECYCLE_LAST
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid lifecycle type '{type % 2**32}'")
            if not 0 <= action < 6:  # VIR_DOMAIN_LIFECYCLE_ACTION_LAST
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid lifecycle action '{action % 2**32}'")
        self._conn.calls.domain_set_lifecycle_action(dom=self._ref, type=type, action=action, flags=flags)

    def send_process_signal(self, pid_value: int, signum: int, flags: int = 0) -> None:
        """Send signal ``signum`` (a virDomainProcessSignal, Linux's numbers) to process ``pid_value`` of the
        guest (virDomainSendProcessSignal); pid 0 is refused, as libvirt refuses it before anything else."""
        if pid_value == 0:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "pid_value in virDomainSendProcessSignal must not be zero", verbatim=True
            )
        self._conn.calls.domain_send_process_signal(dom=self._ref, pid_value=pid_value, signum=signum, flags=flags)

    def set_user_password(self, user: str, password: str, flags: DomainSetUserPasswordFlags | int = 0) -> None:
        """Set ``user``'s password inside the running guest (virDomainSetUserPassword; ENCRYPTED: crypt()ed)."""
        self._conn.calls.domain_set_user_password(dom=self._ref, user=user, password=password, flags=flags)

    def launch_security_info(self, flags: int = 0) -> list[TypedParam]:
        """A confidential guest's launch measurement and policy (virDomainGetLaunchSecurityInfo); refused to
        read-only connections. As libvirt's library, it tells the driver strings are fine."""
        from pyvirt.plugin.typed_params import STRING_OKAY  # (see _checked_params)

        return self._conn.calls.domain_get_launch_security_info(dom=self._ref, flags=flags | STRING_OKAY)

    # ------------------------------------------------------------------ guest agent and power management
    def guest_info(self, types: int = 0, flags: int = 0) -> list[TypedParam]:
        """What the guest agent reports (virDomainGetGuestInfo): ``types`` is virDomainGuestInfoTypes bits,
        0 for every kind the agent supports; parameters named as libvirt's (``user.count``, ``os.id``...)."""
        return self._conn.calls.domain_get_guest_info(dom=self._ref, types=types, flags=flags)

    def guest_vcpus(self, flags: int = 0) -> list[TypedParam]:
        """The guest OS's vCPUs: ``vcpus``, ``online``, ``offlinable`` cpu lists (virDomainGetGuestVcpus)."""
        return self._conn.calls.domain_get_guest_vcpus(dom=self._ref, flags=flags)

    def set_guest_vcpus(self, cpumap: str, state: int, flags: int = 0) -> None:
        """Bring the vCPUs of ``cpumap`` (a cpu list) online (state 1) or offline (0) inside the guest
        (virDomainSetGuestVcpus)."""
        self._conn.calls.domain_set_guest_vcpus(dom=self._ref, cpumap=cpumap, state=state, flags=flags)

    def authorized_ssh_keys_get(self, user: str, flags: int = 0) -> list[str]:
        """``user``'s authorized SSH keys in the guest (virDomainAuthorizedSSHKeysGet)."""
        return self._conn.calls.domain_authorized_ssh_keys_get(dom=self._ref, user=user, flags=flags)

    def authorized_ssh_keys_set(
        self, user: str, keys: list[str], flags: DomainAuthorizedSSHKeysSetFlags | int = 0
    ) -> None:
        """Replace (no flag), extend (APPEND) or prune (REMOVE) ``user``'s authorized SSH keys in the guest
        (virDomainAuthorizedSSHKeysSet); the two flags exclude each other, checked here as libvirt's library
        checks them before any driver."""
        from pyvirt.flags import DomainAuthorizedSSHKeysSetFlags as _Ssh

        if flags & _Ssh.APPEND and flags & _Ssh.REMOVE:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND' and "
                "'VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE' are mutually exclusive",
                verbatim=True,
            )
        self._conn.calls.domain_authorized_ssh_keys_set(dom=self._ref, user=user, keys=list(keys), flags=flags)

    def agent_set_response_timeout(self, timeout: int, flags: int = 0) -> None:
        """How long to wait for the guest agent (virDomainAgentSetResponseTimeout): seconds, or -2 for ever,
        -1 the driver's default, 0 not at all."""
        self._conn.calls.domain_agent_set_response_timeout(dom=self._ref, timeout=timeout, flags=flags)

    def pm_suspend_for_duration(self, target: int, duration: int = 0, flags: int = 0) -> None:
        """Have the guest suspend itself (virDomainPMSuspendForDuration): target 0 mem, 1 disk, 2 hybrid."""
        self._conn.calls.domain_pm_suspend_for_duration(dom=self._ref, target=target, duration=duration,
                                                        flags=flags)  # fmt: skip

    def pm_wakeup(self, flags: int = 0) -> None:
        """Wake a guest suspended to memory (virDomainPMWakeup)."""
        self._conn.calls.domain_pm_wakeup(dom=self._ref, flags=flags)

    def set_vcpu(self, cpumap: str, state: int, flags: DomainModificationImpact | int = 0) -> None:
        """Enable (state 1) or disable (0) the vCPUs of ``cpumap`` by id (virDomainSetVcpu)."""
        self._conn.calls.domain_set_vcpu(dom=self._ref, cpumap=cpumap, state=state, flags=flags)

    def detach_device_alias(self, alias: str, flags: DomainDeviceModifyFlags | int = 0) -> None:
        """Detach the device whose ``<alias name>`` is ``alias`` (virDomainDetachDeviceAlias)."""
        self._conn.calls.domain_detach_device_alias(dom=self._ref, alias=alias, flags=flags)

    # ------------------------------------------------------------------ title, description, metadata
    def metadata(self, type: int, uri: str | None = None, flags: DomainModificationImpact | int = 0) -> str:
        """The description (type 0), title (1) or namespace ``uri``'s element (2) (virDomainGetMetadata)."""
        return self._conn.calls.domain_get_metadata(dom=self._ref, type=type, uri=uri, flags=flags)

    def set_metadata(
        self,
        type: int,
        metadata: str | None,
        key: str | None = None,
        uri: str | None = None,
        flags: DomainModificationImpact | int = 0,
    ) -> None:
        """Set or (None, "") remove the description, title or a namespace's element (virDomainSetMetadata)."""
        self._conn.calls.domain_set_metadata(dom=self._ref, type=type, metadata=metadata, key=key, uri=uri,
                                             flags=flags)  # fmt: skip

    def rename(self, new_name: str, flags: int = 0) -> None:
        """Rename the inactive persistent domain; this object then carries the new name (virDomainRename)."""
        self._conn.calls.domain_rename(dom=self._ref, new_name=new_name, flags=flags)
        self._ref = self._ref._replace(name=new_name)

    # ------------------------------------------------------------------ the guest
    def reset(self, flags: int = 0) -> None:
        """Reset the guest at once, without its cooperation (virDomainReset)."""
        self._conn.calls.domain_reset(dom=self._ref, flags=flags)

    def inject_nmi(self, flags: int = 0) -> None:
        """Send the guest a non-maskable interrupt (virDomainInjectNMI)."""
        self._conn.calls.domain_inject_nmi(dom=self._ref, flags=flags)

    def send_key(self, codeset: int, holdtime: int, keycodes: Iterable[int], flags: int = 0) -> None:
        """Press ``keycodes`` of ``codeset`` together for ``holdtime`` ms (virDomainSendKey)."""
        self._conn.calls.domain_send_key(dom=self._ref, codeset=codeset, holdtime=holdtime, keycodes=list(keycodes),
                                         flags=flags)  # fmt: skip

    def get_time(self, flags: int = 0) -> tuple[int, int]:
        """The guest's clock as (seconds, nanoseconds) since the epoch (virDomainGetTime)."""
        return self._conn.calls.domain_get_time(dom=self._ref, flags=flags)

    def set_time(self, seconds: int, nseconds: int = 0, flags: DomainSetTimeFlags | int = 0) -> None:
        """Set the guest's clock, or with SYNC (1) resynchronise it from its RTC (virDomainSetTime)."""
        self._conn.calls.domain_set_time(dom=self._ref, seconds=seconds, nseconds=nseconds, flags=flags)

    def hostname(self, flags: DomainGetHostnameFlags | int = 0) -> str:
        """The guest's host name (virDomainGetHostname)."""
        return self._conn.calls.domain_get_hostname(dom=self._ref, flags=flags)

    def security_labels(self) -> list[SecurityLabel]:
        return self._conn.calls.domain_get_security_label(dom=self._ref)

    # ------------------------------------------------------------------ lifecycle
    def create(self, flags: DomainCreateFlags | int = 0) -> None:
        """Start the defined domain."""
        self._conn.calls.domain_create(dom=self._ref, flags=flags)
        self._refresh()

    start = create

    def create_with_files(self, files: Iterable[int], flags: DomainCreateFlags | int = 0) -> None:
        """Start the defined domain handing it the open descriptors ``files`` (virDomainCreateWithFiles).

        The LXC driver makes them the container init's fds 3, 4, ... in this
        order (a socket-activated service's listening sockets, say); the
        descriptors stay the caller's, to close when it likes. Over pyvirtd
        they travel with the call (SCM_RIGHTS), so only a ``unix`` transport
        carries them.
        """
        self._conn.calls.domain_create_with_files(dom=self._ref, files=list(files), flags=flags)
        self._refresh()

    def destroy(self, flags: DomainDestroyFlags | int = 0) -> None:
        self._conn.calls.domain_destroy(dom=self._ref, flags=flags)
        self._stopped()

    def shutdown(self, flags: DomainShutdownFlags | int = 0) -> None:
        self._conn.calls.domain_shutdown(dom=self._ref, flags=flags)
        self._refresh()

    def reboot(self, flags: DomainRebootFlags | int = 0) -> None:
        self._conn.calls.domain_reboot(dom=self._ref, flags=flags)
        self._refresh()

    def suspend(self) -> None:
        self._conn.calls.domain_suspend(dom=self._ref)

    def resume(self) -> None:
        self._conn.calls.domain_resume(dom=self._ref)

    def undefine(self, flags: DomainUndefineFlags | int = 0) -> None:
        self._conn.calls.domain_undefine(dom=self._ref, flags=flags)

    def save(self, path: str, xml: str | None = None, flags: DomainSaveRestoreFlags | int = 0) -> None:
        self._conn.calls.domain_save(dom=self._ref, path=path, xml=xml, flags=flags)
        self._stopped()

    def managed_save(self, flags: DomainSaveRestoreFlags | int = 0) -> None:
        self._conn.calls.domain_managed_save(dom=self._ref, flags=flags)
        self._stopped()

    def core_dump(self, to: str, flags: DomainCoreDumpFlags | int = 0) -> None:
        """Write the guest's memory to file ``to`` for a debugger (virDomainCoreDump); flag CRASH stops the
        guest afterwards, RESET resets it, LIVE keeps it running meanwhile, MEMORY_ONLY writes an ELF file."""
        self.core_dump_with_format(to, 0, flags)

    def core_dump_with_format(self, to: str, dumpformat: int, flags: DomainCoreDumpFlags | int = 0) -> None:
        """virDomainCoreDumpWithFormat: as :meth:`core_dump`, in format ``dumpformat`` (libvirt's
        virDomainCoreDumpFormat: 0 raw/ELF, 1 kdump-zlib, 2 kdump-lzo, 3 kdump-snappy, 4 win-dmp; all but 0
        need MEMORY_ONLY)."""
        self._conn.calls.domain_core_dump(dom=self._ref, to=to, dumpformat=dumpformat, flags=flags)
        if flags & _DUMP_CRASH:  # the guest no longer runs
            self._stopped()

    def managed_save_remove(self, flags: int = 0) -> None:
        self._conn.calls.domain_managed_save_remove(dom=self._ref, flags=flags)

    def managed_save_xml_desc(self, flags: DomainSaveImageXMLFlags | int = 0) -> str:
        """The domain XML inside this domain's managed save image (virDomainManagedSaveGetXMLDesc): what the
        next start brings back."""
        return self._conn.calls.domain_managed_save_get_xml_desc(dom=self._ref, flags=flags)

    def managed_save_define_xml(self, xml: str | None, flags: DomainSaveRestoreFlags | int = 0) -> None:
        """Replace the domain XML inside this domain's managed save image (virDomainManagedSaveDefineXML);
        ``xml`` None keeps it and changes only the state flag RUNNING or PAUSED records."""
        self._conn.calls.domain_managed_save_define_xml(dom=self._ref, xml=xml, flags=flags)

    def abort_job(self, flags: DomainAbortJobFlags | int = 0) -> None:
        """Cancel the running save or snapshot (virDomainAbortJob); its caller fails with OPERATION_ABORTED."""
        self._conn.calls.domain_abort_job(dom=self._ref, flags=flags)

    # ------------------------------------------------------------------ snapshots
    def snapshot_create(self, xml: str, flags: DomainSnapshotCreateFlags | int = 0) -> Snapshot:
        ref = self._conn.calls.snapshot_create_xml(dom=self._ref, xml=xml, flags=flags)
        self._refresh()
        return Snapshot(self, ref)

    def list_snapshots(self, flags: DomainSnapshotListFlags | int = 0) -> list[Snapshot]:
        names = self._conn.calls.snapshot_list_names(dom=self._ref, flags=flags)
        return [Snapshot(self, records.SnapshotRef(self._ref, n)) for n in names]

    def snapshot_lookup_by_name(self, name: str) -> Snapshot:
        return Snapshot(self, self._conn.calls.snapshot_lookup_by_name(dom=self._ref, name=name))

    def snapshot_current(self) -> Snapshot:
        return Snapshot(self, self._conn.calls.snapshot_current(dom=self._ref))

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_create(self, xml: str, flags: DomainCheckpointCreateFlags | int = 0) -> Checkpoint:
        """Start a checkpoint from ``<domaincheckpoint>`` XML (flags: REDEFINE 1, QUIESCE 2)."""
        return Checkpoint(self, self._conn.calls.checkpoint_create_xml(dom=self._ref, xml=xml, flags=flags))

    def list_checkpoints(self, flags: DomainCheckpointListFlags | int = 0) -> list[Checkpoint]:
        """The domain's checkpoints (flags: ROOTS 1, TOPOLOGICAL 2, LEAVES 4, NO_LEAVES 8)."""
        names = self._conn.calls.checkpoint_list_names(dom=self._ref, flags=flags)
        return [Checkpoint(self, records.CheckpointRef(self._ref, n)) for n in names]

    def checkpoint_lookup_by_name(self, name: str, flags: int = 0) -> Checkpoint:
        return Checkpoint(self, self._conn.calls.checkpoint_lookup_by_name(dom=self._ref, name=name, flags=flags))

    # ------------------------------------------------------------------ migration (see pyvirt.migration)
    def migrate(
        self, dest: Connection, flags: int = 0, dname: str | None = None, uri: str | None = None, bandwidth: int = 0
    ) -> Domain:
        """virDomainMigrate: move the guest to ``dest``'s host; returns it there. ``flags``: ``MigrateFlag``."""
        from pyvirt.migration import PARAM_TYPES, MigrateParam
        from pyvirt.plugin.typed_params import TypedParam

        params = [
            TypedParam(field, PARAM_TYPES[field], value)
            for field, value in ((MigrateParam.DEST_NAME, dname), (MigrateParam.URI, uri))
            if value
        ]
        if bandwidth:
            params.append(TypedParam(MigrateParam.BANDWIDTH, PARAM_TYPES[MigrateParam.BANDWIDTH], bandwidth))
        return self.migrate3(dest, params, flags)

    def migrate3(self, dest: Connection, params: list[TypedParam], flags: int = 0) -> Domain:
        """virDomainMigrate3: the client drives libvirt's five phases between this connection and ``dest``.
        With PEER2PEER the source driver drives them itself, toward ``dest``'s URI."""
        from pyvirt.migration import MigrateFlag, check_migrate_flags, migrate_to_uri3, migrate_v3

        check_migrate_flags(flags, "virDomainMigrate3")
        if flags & MigrateFlag.PEER2PEER:
            migrate_to_uri3(self._conn.calls, self._ref, dest.uri, params, flags)
            name = next((str(p.value) for p in params if p.field == "destination_name"), self.name)
            return dest.lookup_domain_by_name(name)
        ref = migrate_v3(self._conn.calls, self._ref, dest.calls, params, flags)
        self._refresh()
        return Domain(dest, ref)

    def migrate_to_uri3(self, dconnuri: str, params: list[TypedParam] | None = None, flags: int = 0) -> None:
        """virDomainMigrateToURI3: peer-to-peer migration to the libvirt URI ``dconnuri`` (PEER2PEER needed)."""
        from pyvirt.migration import migrate_to_uri3

        migrate_to_uri3(self._conn.calls, self._ref, dconnuri, list(params or []), flags)
        self._refresh()

    def job_stats(self, flags: DomainGetJobStatsFlags | int = 0) -> tuple[int, list[TypedParam]]:
        """virDomainGetJobStats: (virDomainJobType, VIR_DOMAIN_JOB_* fields) of the running long job."""
        return self._conn.calls.domain_get_job_stats(dom=self._ref, flags=flags)

    def migrate_start_post_copy(self, flags: int = 0) -> None:
        """virDomainMigrateStartPostCopy: the running migration (started with POSTCOPY) goes on in post-copy."""
        self._conn.calls.domain_migrate_start_post_copy(dom=self._ref, flags=flags)

    def migrate_set_max_downtime(self, downtime: int, flags: int = 0) -> None:
        """virDomainMigrateSetMaxDowntime: the longest pause (ms) a live migration may take for its last pass."""
        self._conn.calls.domain_migrate_set_max_downtime(dom=self._ref, downtime=downtime, flags=flags)

    def migrate_get_max_downtime(self, flags: int = 0) -> int:
        """virDomainMigrateGetMaxDowntime: that limit, in milliseconds."""
        return self._conn.calls.domain_migrate_get_max_downtime(dom=self._ref, flags=flags)


class Snapshot:
    """One snapshot of a domain."""

    __slots__ = ("_dom", "_ref")

    def __init__(self, dom: Domain, ref: SnapshotRef) -> None:
        self._dom = dom
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.Snapshot {self._ref.name} of {self._dom.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def domain(self) -> Domain:
        return self._dom

    def xml_desc(self, flags: DomainSnapshotXMLFlags | int = 0) -> str:
        return self._dom.connection.calls.snapshot_get_xml_desc(snap=self._ref, flags=flags)

    def parent(self) -> Snapshot:
        return Snapshot(self._dom, self._dom.connection.calls.snapshot_get_parent(snap=self._ref))

    def revert(self, flags: DomainSnapshotRevertFlags | int = 0) -> None:
        self._dom.connection.calls.snapshot_revert(snap=self._ref, flags=flags)
        self._dom._refresh()

    def delete(self, flags: DomainSnapshotDeleteFlags | int = 0) -> None:
        self._dom.connection.calls.snapshot_delete(snap=self._ref, flags=flags)


class Checkpoint:
    """One checkpoint of a domain (the start of a dirty-block bitmap), like virDomainCheckpointPtr."""

    __slots__ = ("_dom", "_ref")

    def __init__(self, dom: Domain, ref: CheckpointRef) -> None:
        self._dom = dom
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.Checkpoint {self._ref.name} of {self._dom.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other._ref.name == self._ref.name and other._dom == self._dom

    def __hash__(self) -> int:
        return hash((self._ref.name, self._dom.uuid))

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def domain(self) -> Domain:
        return self._dom

    def xml_desc(self, flags: DomainCheckpointXMLFlags | int = 0) -> str:
        """The ``<domaincheckpoint>`` document (flags: SECURE 1, NO_DOMAIN 2, SIZE 4)."""
        return self._dom.connection.calls.checkpoint_get_xml_desc(chk=self._ref, flags=flags)

    def parent(self, flags: int = 0) -> Checkpoint:
        return Checkpoint(self._dom, self._dom.connection.calls.checkpoint_get_parent(chk=self._ref, flags=flags))

    def list_children(self, flags: DomainCheckpointListFlags | int = 0) -> list[Checkpoint]:
        """Checkpoints made after this one on its branch (flags: DESCENDANTS 1 for all of them)."""
        names = self._dom.connection.calls.checkpoint_list_children(chk=self._ref, flags=flags)
        return [Checkpoint(self._dom, records.CheckpointRef(self._ref.domain, n)) for n in names]

    def delete(self, flags: DomainCheckpointDeleteFlags | int = 0) -> None:
        """Stop tracking (flags: CHILDREN 1, METADATA_ONLY 2, CHILDREN_ONLY 4)."""
        self._dom.connection.calls.checkpoint_delete(chk=self._ref, flags=flags)
