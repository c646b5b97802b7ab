"""Monitoring and tuning hooks of the test driver, answering as libvirt 9.0's test driver does.

libvirt's test driver has no guest behind a domain, so several of these
answers are made up but fixed in its source; they are reproduced here (each
cites its function) because they are libvirt's behaviour: scripts and tests
written against ``virsh -c test:///default`` read exactly these values.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DomainObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain import BlkioDevice, BlkioTune, Domain, NumaTune
    from pyvirt.conf.domain_devices import Disk, Interface

__all__ = ["TuningHooks"]

# virDomainDiskErrorCode: NONE 0, UNSPEC 1, NO_SPACE 2; LAST 3
_DISK_ERROR_LAST = 3
# virDomainControlState and virDomainControlErrorReason
_CONTROL_OK, _CONTROL_JOB, _CONTROL_OCCUPIED, _CONTROL_ERROR = range(4)
_ERROR_REASON_NONE = 0
_LIVE, _CONFIG = 1, 2  # VIR_DOMAIN_AFFECT_*
_STRING_OKAY = 4  # VIR_TYPED_PARAM_STRING_OKAY

# VIR_DOMAIN_BLKIO_*: the weight, then each per-device string with the BlkioDevice field it sets, in
# virDomainGetBlkioParametersAssignFromDef's order; iops are unsigned ints, bytes/s unsigned long longs
_BLKIO_WEIGHT = "weight"
_BLKIO_DEVICE_FIELDS = (
    ("device_weight", "weight", 32),
    ("device_read_iops_sec", "read_iops_sec", 32),
    ("device_write_iops_sec", "write_iops_sec", 32),
    ("device_read_bytes_sec", "read_bytes_sec", 64),
    ("device_write_bytes_sec", "write_bytes_sec", 64),
)
_BLKIO_ACCEPTED = {_BLKIO_WEIGHT: TypedParamType.UINT, **{n: TypedParamType.STRING for n, _, _ in _BLKIO_DEVICE_FIELDS}}
# VIR_DOMAIN_MEMORY_*, in testDomainGetMemoryParameters' order, and VIR_DOMAIN_MEMORY_PARAM_UNLIMITED
_MEMORY_FIELDS = ("hard_limit", "soft_limit", "swap_hard_limit")
_MEMORY_ACCEPTED = dict.fromkeys(_MEMORY_FIELDS, TypedParamType.ULLONG)
UNLIMITED = 9007199254740991
# VIR_DOMAIN_NUMA_*, and virDomainNumatuneMemMode by number
_NUMA_MODE, _NUMA_NODESET = "numa_mode", "numa_nodeset"
_NUMA_ACCEPTED = {_NUMA_MODE: TypedParamType.INT, _NUMA_NODESET: TypedParamType.STRING}
NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")
# virPerfEvent, in libvirt's order (the order of the answers and of <perf> in the XML)
PERF_EVENTS = (
    "cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses", "branch_instructions",
    "branch_misses", "bus_cycles", "stalled_cycles_frontend", "stalled_cycles_backend", "ref_cpu_cycles",
    "cpu_clock", "task_clock", "page_faults", "context_switches", "cpu_migrations", "page_faults_min",
    "page_faults_maj", "alignment_faults", "emulation_faults",
)  # fmt: skip
_PERF_ACCEPTED = dict.fromkeys(PERF_EVENTS, TypedParamType.BOOLEAN)
# virDomainLifecycle and virDomainLifecycleAction as the XML names them
LIFECYCLE_TYPES = ("poweroff", "reboot", "crash")
LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart")
_PROCESS_SIGNAL_LAST = 65  # VIR_DOMAIN_PROCESS_SIGNAL_LAST
_PASSWORD_ENCRYPTED = 1  # VIR_DOMAIN_PASSWORD_ENCRYPTED
_TOTAL_CPUTIME = 48772617035  # TEST_TOTAL_CPUTIME
# VIR_DOMAIN_BLOCK_IOTUNE_*, in testDomainGetBlockIoTune's order (virDomainDiskDefFormatIotune's, too)
_IOTUNE_FIELDS = (
    "total_bytes_sec", "read_bytes_sec", "write_bytes_sec", "total_iops_sec", "read_iops_sec", "write_iops_sec",
    "total_bytes_sec_max", "read_bytes_sec_max", "write_bytes_sec_max", "total_iops_sec_max", "read_iops_sec_max",
    "write_iops_sec_max", "size_iops_sec", "group_name", "total_bytes_sec_max_length", "read_bytes_sec_max_length",
    "write_bytes_sec_max_length", "total_iops_sec_max_length", "read_iops_sec_max_length",
    "write_iops_sec_max_length",
)  # fmt: skip
_IOTUNE_GROUP = "group_name"
_IOTUNE_ACCEPTED = {f: TypedParamType.STRING if f == _IOTUNE_GROUP else TypedParamType.ULLONG for f in _IOTUNE_FIELDS}
_IOTUNE_MAX = 1000000000000000  # TEST_BLOCK_IOTUNE_MAX


class TuningHooks:
    """Mixed into the test connection; ``self.state`` comes from it, the definition helpers from GuestHooks."""

    state: TestState

    if TYPE_CHECKING:

        def _one_def(self, obj: DomainObj, flags: int) -> tuple[Domain, bool]: ...

        def _one_def_to_change(self, obj: DomainObj, flags: int) -> Domain: ...

        def _defs(self, obj: DomainObj, flags: int) -> tuple[Domain | None, Domain | None]: ...

    def _running(self, dom: DomainRef) -> DomainObj:
        """virDomainObjCheckActive after the lookup."""
        obj = self.state.find(dom)
        if not obj.active:
            raise _errors.OperationInvalidError(
                ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
            )
        return obj

    # ------------------------------------------------------------------ disk errors, control interface
    @hookimpl
    def domain_get_disk_errors(self, dom: DomainRef, flags: int) -> list[tuple[str, int]]:
        """testDomainGetDiskErrors: every disk is in error, by position: unspecified, no space, unspecified..."""
        check_flags(flags, 0, "testDomainGetDiskErrors")
        live = self._running(dom).live
        disks = live.devices.disks if live.devices is not None else []
        return [(disk.target_dev or "", i % (_DISK_ERROR_LAST - 1) + 1) for i, disk in enumerate(disks)]

    @hookimpl
    def domain_get_control_info(self, dom: DomainRef, flags: int) -> tuple[int, int, int]:
        """testDomainGetControlInfo: the state is read off the guest clock's seconds (set with domtime), so a
        test can reach each state: below 10000 a job for that many ms, below 30000 occupied, below 60000 an
        error whose reason is seconds % 4 (none, unknown, monitor, internal), and ok otherwise (the clock
        starts at 627319920)."""
        check_flags(flags, 0, "testDomainGetControlInfo")
        seconds = self._running(dom).guest_time[0]
        if 0 < seconds < 10000:
            return (_CONTROL_JOB, 0, seconds)
        if 10000 <= seconds < 30000:
            return (_CONTROL_OCCUPIED, 0, seconds - 10000)
        if 30000 <= seconds < 60000:
            return (_CONTROL_ERROR, seconds % 4, seconds - 30000)
        return (_CONTROL_OK, _ERROR_REASON_NONE, 0)

    # ------------------------------------------------------------------ CPU time
    @hookimpl
    def domain_get_cpu_stats(self, dom: DomainRef, start_cpu: int, ncpus: int, flags: int) -> list[list[TypedParam]]:
        """testDomainGetCPUStats: made-up but fixed times (TEST_TOTAL_CPUTIME split evenly over the host's
        cores, plus the CPU's number; vCPU time 1234567890 ns less), over ``nodeInfo.cores`` host CPUs."""
        check_flags(flags, _STRING_OKAY, "testDomainGetCPUStats")
        with self.state.lock:
            self._running(dom)
            total_cpus = self.state.node_info.cores
        ull = TypedParamType.ULLONG
        if start_cpu == -1:  # testDomainGetDomainTotalCpuStats
            return [[TypedParam("cpu_time", ull, _TOTAL_CPUTIME), TypedParam("user_time", ull, 5540000000),
                     TypedParam("system_time", ull, 6460000000)]]  # fmt: skip
        if ncpus == 0:  # the number of host CPUs
            return [[] for _ in range(total_cpus)]
        if start_cpu >= total_cpus:
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"start_cpu {start_cpu} larger than maximum of {total_cpus - 1}"
            )
        percpu = _TOTAL_CPUTIME // total_cpus
        return [
            [TypedParam("cpu_time", ull, percpu + i), TypedParam("vcpu_time", ull, percpu + i - 1234567890)]
            for i in range(start_cpu, min(total_cpus, start_cpu + ncpus))
        ]

    # ------------------------------------------------------------------ block I/O tunables
    @hookimpl
    def domain_get_blkio_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """testDomainGetBlkioParameters: the weight (0 when unset) and each per-device list as a string."""
        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetBlkioParameters")
        with self.state.lock:
            tune = self._one_def(self.state.find(dom), flags)[0].blkiotune
            devices = (tune.devices or []) if tune is not None else []
            out = [TypedParam(_BLKIO_WEIGHT, TypedParamType.UINT, (tune.weight or 0) if tune is not None else 0)]
            for name, attr, _bits in _BLKIO_DEVICE_FIELDS:
                pairs = [f"{d.path},{getattr(d, attr)}" for d in devices if getattr(d, attr)]
                out.append(TypedParam(name, TypedParamType.STRING, ",".join(pairs)))
        return out

    @hookimpl
    def domain_set_blkio_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        """testDomainSetBlkioParameters (virDomainDriverSetupPersistentDefBlkioParams): each parameter in turn.

        A device list that does not parse is reported, yet the others, before
        and after it, are still applied, as libvirt's loop does (it records the
        failure and continues); the last failure is the one the caller sees.
        """
        check_flags(flags, _LIVE | _CONFIG, "testDomainSetBlkioParameters")
        check_typed_params(params, _BLKIO_ACCEPTED)  # before the lookup, in libvirt's order
        failure: _errors.Error | None = None
        with self.state.lock:
            d = self._one_def_to_change(self.state.find(dom), flags)
            tune = _blkio_of(d)
            for p in params:
                if p.field == _BLKIO_WEIGHT:
                    tune.weight = int(p.value) or None
                    continue
                attr, bits = next((a, b) for n, a, b in _BLKIO_DEVICE_FIELDS if n == p.field)
                try:
                    parsed = _parse_blkio_devices(str(p.value), p.field, bits)
                except _errors.Error as exc:
                    failure = exc
                    continue
                _merge_blkio_devices(tune, parsed, attr)
            d.blkiotune = tune if tune.weight is not None or tune.devices else None
        if failure is not None:
            raise failure

    # ------------------------------------------------------------------ memory limits
    @hookimpl
    def domain_get_memory_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """testDomainGetMemoryParameters: hard, soft and swap limits in KiB, unset ones as UNLIMITED."""
        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetMemoryParameters")
        with self.state.lock:
            limits = _memory_limits(self._one_def(self.state.find(dom), flags)[0])
        return [TypedParam(name, TypedParamType.ULLONG, limits[name]) for name in _MEMORY_FIELDS]

    @hookimpl
    def domain_set_memory_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        """testDomainSetMemoryParameters: the hard limit may not pass the swap hard limit.

        As libvirt's test driver, the check compares against the running
        definition's limits whichever definition changes (it reads vm->def).
        """
        check_flags(flags, _LIVE | _CONFIG, "testDomainSetMemoryParameters")
        check_typed_params(params, _MEMORY_ACCEPTED)
        wanted = {p.field: int(p.value) for p in params}
        with self.state.lock:
            obj = self.state.find(dom)
            d = self._one_def_to_change(obj, flags)
            if "hard_limit" in wanted or "swap_hard_limit" in wanted:
                running = _memory_limits(obj.live)
                hard = wanted.get("hard_limit", running["hard_limit"])
                swap = wanted.get("swap_hard_limit", running["swap_hard_limit"])
                if hard > swap:
                    raise _errors.InvalidArgumentError(
                        ErrorCode.INVALID_ARG,
                        "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
                    )
            from pyvirt.conf.domain import MemTuneLimits
            from pyvirt.conf.domain_devices import Memory

            tune = d.memtune or MemTuneLimits()
            for name in _MEMORY_FIELDS:
                if name in wanted:  # virMemoryLimitIsSet: UNLIMITED and above are no limit, never formatted
                    setattr(tune, name, Memory(kib=wanted[name]) if wanted[name] < UNLIMITED else None)
            unset = all(getattr(tune, n) is None for n in (*_MEMORY_FIELDS, "min_guarantee"))
            d.memtune = None if unset else tune

    # ------------------------------------------------------------------ a disk's I/O throttling
    @hookimpl
    def domain_get_block_io_tune(self, dom: DomainRef, disk: str, flags: int) -> list[TypedParam]:
        """testDomainGetBlockIoTune: the disk's ``<iotune>`` values, 0 (or an empty group) where unset."""
        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetBlockIoTune")
        with self.state.lock:
            found = _disk_by_name(self._one_def(self.state.find(dom), flags & ~_STRING_OKAY)[0], disk)
            if found is None:
                raise _errors.InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"disk '{disk}' was not found in the domain config"
                )
            values = _iotune_values(found.iotune)
        return [
            TypedParam(f, _IOTUNE_ACCEPTED[f], values.get(f, "" if f == _IOTUNE_GROUP else 0)) for f in _IOTUNE_FIELDS
        ]

    @hookimpl
    def domain_set_block_io_tune(self, dom: DomainRef, disk: str, params: list[TypedParam], flags: int) -> None:
        """testDomainSetBlockIoTune: values up to TEST_BLOCK_IOTUNE_MAX; total excludes read/write; and, as its
        check reads, no value above its ``_max`` (so a limit needs its maximum given too)."""
        check_flags(flags, _LIVE | _CONFIG, "testDomainSetBlockIoTune")
        check_typed_params(params, _IOTUNE_ACCEPTED)
        with self.state.lock:
            found = _disk_by_name(self._one_def_to_change(self.state.find(dom), flags), disk)
            if found is None:
                raise _errors.InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"missing persistent configuration for disk '{disk}'"
                )
            info: dict[str, int | str] = dict(_iotune_values(found.iotune))
            for p in params:
                if p.field != _IOTUNE_GROUP and int(p.value) > _IOTUNE_MAX:
                    raise _errors.InvalidArgumentError(
                        ErrorCode.ARGUMENT_UNSUPPORTED,
                        f"block I/O throttle limit value must be no more than {_IOTUNE_MAX}",
                    )
                info[p.field] = str(p.value) if p.field == _IOTUNE_GROUP else int(p.value)
            number = {f: int(v) for f, v in info.items() if f != _IOTUNE_GROUP}
            for kind in ("bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"):
                if number.get(f"total_{kind}") and (number.get(f"read_{kind}") or number.get(f"write_{kind}")):
                    raise _errors.InvalidArgumentError(
                        ErrorCode.INVALID_ARG, f"total and read/write of {kind} cannot be set at the same time"
                    )
            for field in _IOTUNE_FIELDS[:6]:
                if number.get(field, 0) > number.get(f"{field}_max", 0):
                    raise _errors.InvalidArgumentError(
                        ErrorCode.INVALID_ARG, f"{field} cannot be set higher than {field}_max "
                    )
            found.iotune = _iotune_xml(info)

    # ------------------------------------------------------------------ NUMA memory policy
    @hookimpl
    def domain_get_numa_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """testDomainGetNumaParameters: the memory mode (strict unless one is set) and its node set."""
        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetNumaParameters")
        with self.state.lock:
            nt = self._one_def(self.state.find(dom), flags)[0].numatune
        mode, nodeset = 0, ""
        if nt is not None and _numa_specified(nt):
            mode = NUMA_MODES.index(nt.memory_mode) if nt.memory_mode in NUMA_MODES else 0
            # virDomainNumatuneFormatNodeset: an automatic placement has no set of its own (numad's is not kept)
            nodeset = nt.memory_nodeset or "" if nt.memory_placement != "auto" else ""
        return [
            TypedParam(_NUMA_MODE, TypedParamType.INT, mode),
            TypedParam(_NUMA_NODESET, TypedParamType.STRING, nodeset),
        ]

    @hookimpl
    def domain_set_numa_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        """testDomainSetNumaParameters then virDomainNumatuneSet (placement left to it)."""
        check_flags(flags, _LIVE | _CONFIG, "testDomainSetNumaParameters")
        check_typed_params(params, _NUMA_ACCEPTED)
        mode, nodeset = -1, None
        with self.state.lock:
            obj = self.state.find(dom)
            live = self._one_def(obj, flags)[1]
            for p in params:
                if p.field == _NUMA_MODE:
                    mode = int(p.value)
                    if not 0 <= mode < len(NUMA_MODES):
                        raise _errors.InvalidArgumentError(
                            ErrorCode.INVALID_ARG, f"unsupported numatune mode: '{mode}'"
                        )
                else:
                    nodeset = _nodeset(str(p.value))
            d = self._one_def_to_change(obj, flags)
            nt = d.numatune
            specified = nt is not None and _numa_specified(nt)
            if (
                live
                and mode != -1
                and nt is not None
                and specified
                and (nt.memory_mode or "strict") != NUMA_MODES[mode]
            ):
                raise _errors.OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, "can't change numatune mode for running domain"
                )
            static = d.vcpu is None or d.vcpu.placement != "auto"  # the vCPUs' placement: static by default
            _numatune_set(d, mode, nodeset, placement_static=static)

    # ------------------------------------------------------------------ perf events
    @hookimpl
    def domain_get_perf_events(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """testDomainGetPerfEvents: every event, enabled only where the definition says yes."""
        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetPerfEvents")
        with self.state.lock:
            d = self._one_def(self.state.find(dom), flags)[0]
            enabled = {e.name for e in d.perf or [] if e.enabled}
        return [TypedParam(name, TypedParamType.BOOLEAN, name in enabled) for name in PERF_EVENTS]

    @hookimpl
    def domain_set_perf_events(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        """testDomainSetPerfEvents: each event named is set yes or no (and then written in ``<perf>``)."""
        from pyvirt.conf.domain import PerfEvent

        check_flags(flags, _LIVE | _CONFIG, "testDomainSetPerfEvents")
        check_typed_params(params, _PERF_ACCEPTED)
        with self.state.lock:
            d = self._one_def_to_change(self.state.find(dom), flags)
            state = {e.name: e.enabled for e in d.perf or [] if e.name in _PERF_ACCEPTED}
            state.update((p.field, bool(p.value)) for p in params)
            d.perf = [PerfEvent(name=n, enabled=state[n]) for n in PERF_EVENTS if state.get(n) is not None] or None

    # ------------------------------------------------------------------ a NIC's bandwidth
    @hookimpl
    def domain_get_interface_parameters(self, dom: DomainRef, device: str, flags: int) -> list[TypedParam]:
        """testDomainGetInterfaceParameters: the NIC's inbound and outbound rates, 0 where unset."""
        from pyvirt.conf.bandwidth_params import as_params

        check_flags(flags, _LIVE | _CONFIG | _STRING_OKAY, "testDomainGetInterfaceParameters")
        with self.state.lock:
            return as_params(_net_find(self._one_def(self.state.find(dom), flags)[0], device).bandwidth)

    @hookimpl
    def domain_set_interface_parameters(
        self, dom: DomainRef, device: str, params: list[TypedParam], flags: int
    ) -> None:
        """testDomainSetInterfaceParameters: the change merged into the chosen definition as libvirt merges it
        (pyvirt.conf.bandwidth_params, shared with the QEMU driver's persistent definition)."""
        from pyvirt.conf.bandwidth_params import merged_definition, parse_change

        check_flags(flags, _LIVE | _CONFIG, "testDomainSetInterfaceParameters")
        change = parse_change(params)
        with self.state.lock:
            nic = _net_find(self._one_def_to_change(self.state.find(dom), flags), device)
            nic.bandwidth = merged_definition(nic.bandwidth, change)

    # ------------------------------------------------------------------ guest controls
    @hookimpl
    def domain_set_lifecycle_action(self, dom: DomainRef, type: int, action: int, flags: int) -> None:
        """testDomainSetLifecycleAction: virDomainDefLifecycleActionAllowed, then the chosen definitions."""
        check_flags(flags, _LIVE | _CONFIG, "testDomainSetLifecycleAction")
        if type in (0, 1) and action in (4, 5):  # poweroff and reboot cannot dump core
            raise _errors.NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"Lifecycle event '{LIFECYCLE_TYPES[type]}' doesn't support '{LIFECYCLE_ACTIONS[action]}' action",
            )
        with self.state.lock:
            for d in self._defs(self.state.find(dom), flags):
                if d is not None:
                    setattr(d, f"on_{LIFECYCLE_TYPES[type]}", LIFECYCLE_ACTIONS[action])

    @hookimpl
    def domain_send_process_signal(self, dom: DomainRef, pid_value: int, signum: int, flags: int) -> None:
        """testDomainSendProcessSignal: pid 1 and a known signal are accepted (and nothing is sent), running or not."""
        check_flags(flags, 0, "testDomainSendProcessSignal")
        if pid_value != 1:
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "only sending a signal to pid 1 is supported")
        if not 0 <= signum < _PROCESS_SIGNAL_LAST:  # an unsigned int in C, printed with %d
            shown = signum % 2**32 - (2**32 if signum % 2**32 >= 2**31 else 0)
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"signum value {shown} is out of range")
        self.state.find(dom)

    @hookimpl
    def domain_set_user_password(self, dom: DomainRef, user: str, password: str, flags: int) -> None:
        """testDomainSetUserPassword: a running domain accepts any password (there is no guest to change)."""
        check_flags(flags, _PASSWORD_ENCRYPTED, "testDomainSetUserPassword")
        with self.state.lock:
            self._running(dom)

    @hookimpl
    def domain_get_launch_security_info(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """testDomainGetLaunchSecurityInfo: no flag at all, not even the STRING_OKAY libvirt's library adds to
        every call, so on libvirt's test driver every caller gets "unsupported flags (0x4)"; else no parameter."""
        check_flags(flags, 0, "testDomainGetLaunchSecurityInfo")
        return []


def _net_find(d: Domain, device: str) -> Interface:
    """virDomainNetFind: by MAC address when ``device`` reads as one, else by host device name."""
    nics = d.devices.interfaces if d.devices is not None else []
    mac = _mac_bytes(device)
    for nic in nics:
        if nic.target_dev == device if mac is None else (nic.mac is not None and _mac_bytes(nic.mac) == mac):
            return nic
    raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"'{device}' is not a known interface")


def _disk_by_name(d: Domain, name: str) -> Disk | None:
    from pyvirt.drivers.test.guest import _disk  # virDomainDiskByName: by target, else by source

    return _disk(d, name)


def _iotune_values(raw: str | None) -> dict[str, int | str]:
    """The ``<iotune>`` children the definition keeps as XML text, by name (group_name unescaped)."""
    import re
    from xml.sax.saxutils import unescape

    out: dict[str, int | str] = {}
    for name, text in re.findall(r"<(\w+)>([^<]*)</\1>", raw or ""):
        if name == _IOTUNE_GROUP:
            out[name] = unescape(text.strip(), {"&quot;": '"', "&apos;": "'"})
        elif name in _IOTUNE_ACCEPTED:
            out[name] = int(text.strip() or 0)
    return out


def _iotune_xml(values: dict[str, int | str]) -> str | None:
    """virDomainDiskDefFormatIotune: the set values in libvirt's order (zeros and no group left out)."""
    from xml.sax.saxutils import escape

    parts = []
    for name in _IOTUNE_FIELDS:
        value = values.get(name)
        if value:
            shown = escape(str(value), {"'": "&apos;", '"': "&quot;"}) if name == _IOTUNE_GROUP else str(value)
            parts.append(f"<{name}>{shown}</{name}>")
    return "".join(parts) or None


def _mac_bytes(text: str) -> bytes | None:
    """virMacAddrParse: six hex numbers of one or two digits between colons, or None."""
    parts = text.split(":")
    if len(parts) != 6 or not all(0 < len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return None
    return bytes(int(p, 16) for p in parts)


def _numa_specified(nt: NumaTune) -> bool:
    """numa->memory.specified: a ``<memory>`` element was given (or set)."""
    return bool(nt.memory_mode or nt.memory_nodeset or nt.memory_placement)


def _nodeset(text: str) -> set[int]:
    """virBitmapParse(VIR_DOMAIN_CPUMASK_LEN) as testDomainSetNumaParameters reports it, then the empty-set check."""
    from pyvirt.conf.bitmap import parse_bitmap

    try:
        nodes = parse_bitmap(text)
    except _errors.Error:
        raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"Failed to parse bitmap '{text}'") from None
    if not nodes:
        raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, f"Invalid nodeset of 'numatune': {text}")
    return nodes


def _numatune_set(d: Domain, mode: int, nodeset: set[int] | None, *, placement_static: bool) -> None:
    """virDomainNumatuneSet with no placement asked: a node set makes it static, none leaves the vCPUs' choice;
    a static placement needs a node set, an automatic one drops it. Nothing changes when it fails."""
    from pyvirt.conf.bitmap import format_bitmap
    from pyvirt.conf.domain import NumaTune

    if mode == -1 and nodeset is None:
        return
    nt = d.numatune.model_copy(deep=True) if d.numatune is not None else NumaTune()
    placement: str | None = None  # -1: keep what is there
    if not _numa_specified(nt):
        mode = 0 if mode == -1 else mode
        placement = "default"
    if mode != -1:
        nt.memory_mode = NUMA_MODES[mode]
    if nodeset is not None:
        nt.memory_nodeset = format_bitmap(nodeset)
        if placement is None:
            placement = "static"
    if placement == "default":
        placement = "static" if nt.memory_nodeset or placement_static else "auto"
    if placement == "static" and not nt.memory_nodeset:
        raise _errors.NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
        )
    if placement == "auto":
        nt.memory_nodeset = None
    if placement is not None:
        nt.memory_placement = placement
    if nt.memory_placement == "static" and nt.memory_nodeset:  # as the definition's formatter keeps it
        nt.memory_placement = None
    d.numatune = nt


def _memory_limits(d: Domain) -> dict[str, int]:
    tune = d.memtune
    out = {}
    for name in _MEMORY_FIELDS:
        limit = getattr(tune, name) if tune is not None else None
        out[name] = limit.kib if limit is not None else UNLIMITED
    return out


def _blkio_of(d: Domain) -> BlkioTune:
    from pyvirt.conf.domain import BlkioTune

    return d.blkiotune if d.blkiotune is not None else BlkioTune()


def _c_unsigned_prefix(text: str, bits: int) -> tuple[int, int] | None:
    """virStrToLong_uip / _ullp: strtoul(l) at the start of ``text`` (blanks, '+', digits), no minus sign,
    within the type; the value and where the number ended, or None."""
    i = len(text) - len(text.lstrip(" \t\n\v\f\r"))
    start = i
    if i < len(text) and text[i] in "+-":
        i += 1
    digits = i
    while i < len(text) and text[i].isdigit() and text[i].isascii():
        i += 1
    if i == digits or "-" in text[start:i]:
        return None
    value = int(text[digits:i])
    return (value, i) if value < 2**bits else None


def _parse_blkio_devices(text: str, field: str, bits: int) -> list[tuple[str, int]]:
    """virDomainDriverParseBlkioDeviceStr: ``path,value,path,value...`` in libvirt's words when it is not."""

    def unparsable() -> _errors.InvalidArgumentError:
        return _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"unable to parse blkio device '{field}' '{text}'")

    if text == "":
        return []
    if text.count(",") % 2 == 0:  # pairs: an odd number of commas
        raise unparsable()
    out: list[tuple[str, int]] = []
    pos = 0
    while True:
        comma = text.find(",", pos)
        if comma < 0:
            raise unparsable()
        path, rest = text[pos:comma], text[comma + 1 :]
        number = _c_unsigned_prefix(rest, bits)
        if number is None:
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"invalid value '{rest}' for parameter '{field}' of device '{path}'"
            )
        value, end = number
        out.append((path, value))
        if end == len(rest):
            return out
        if rest[end] != ",":
            raise unparsable()
        pos = comma + 1 + end + 1


def _merge_blkio_devices(tune: BlkioTune, parsed: list[tuple[str, int]], attr: str) -> None:
    """virDomainDriverMergeBlkioDevice: a listed device gets the value (0 clears it), a new one is added
    unless its value is 0. A device left with no value at all is dropped: libvirt keeps it but never shows it."""
    from pyvirt.conf.domain import BlkioDevice

    devices: list[BlkioDevice] = list(tune.devices or [])
    for path, value in parsed:
        found = next((d for d in devices if d.path == path), None)
        if found is not None:
            setattr(found, attr, value or None)
        elif value:
            added = BlkioDevice(path=path)
            setattr(added, attr, value)
            devices.append(added)
    kept = [d for d in devices if any(getattr(d, a) for _, a, _ in _BLKIO_DEVICE_FIELDS)]
    tune.devices = kept or None
