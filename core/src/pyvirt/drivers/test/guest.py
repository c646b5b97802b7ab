"""Guest hooks of the test driver: metadata, rename, memory and vCPUs, guest controls, device statistics.

Each answers as libvirt 9.0's test driver does (src/test/test_driver.c), so
that virsh and libvirt-python scripts written against ``test:///default``
see the same values here: the made-up but fixed guest clock (627319920 s),
``<name>host`` as host name, memory statistics derived from the balloon
size, vCPUs running on the last host CPU, disk and NIC counters derived
from the wall clock, and a disk of 1 TiB. Which definition a call reads or
changes follows libvirt's virDomainObjGetOneDef/virDomainObjGetDefs:
``flags`` 0 means the running definition of a running domain, else the
persistent one; a running domain's persistent definition is split off the
first time only the live one changes.
"""

from __future__ import annotations

import time

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DomainObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.events import Defined as DefinedDetail
from pyvirt.events import DomainEvent, EventSink, Undefined
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import BlockInfo, BlockStats, DomainRef, InterfaceStats, VcpuInfo

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.domain_devices import Disk

# libvirt's flag bits by libvirt's names, not pyvirt.flags' enums: importing an enum builds its class, and
# this module is imported by every test:/// connection (test_flag_literals checks each value)
_VIR_DOMAIN_AFFECT_CONFIG = 2
_VIR_DOMAIN_AFFECT_LIVE = 1
_VIR_DOMAIN_MEM_MAXIMUM = 4
_VIR_DOMAIN_TIME_SYNC = 1
_VIR_DOMAIN_VCPU_MAXIMUM = 4

__all__ = ["GuestHooks"]

LIVE, CONFIG = _VIR_DOMAIN_AFFECT_LIVE, _VIR_DOMAIN_AFFECT_CONFIG
VCPU_MAXIMUM = _VIR_DOMAIN_VCPU_MAXIMUM
MEM_MAXIMUM = _VIR_DOMAIN_MEM_MAXIMUM
# virDomainMemoryStatTags, in the order testDomainMemoryStats reports them
(STAT_SWAP_IN, STAT_SWAP_OUT, STAT_MAJOR_FAULT, STAT_MINOR_FAULT, STAT_UNUSED, STAT_AVAILABLE, STAT_ACTUAL_BALLOON,
 STAT_RSS, STAT_USABLE, STAT_LAST_UPDATE, STAT_DISK_CACHES, STAT_HUGETLB_PGALLOC, STAT_HUGETLB_PGFAIL) = range(13)  # fmt: skip
GUEST_TIME = 627319920  # the test driver's fixed guest clock (testDomainObjPrivateAlloc)
_DISK_CAPACITY, _DISK_ALLOCATION = 1099506450432, 1099511627776  # testDomainGetBlockInfo's sizes
_VCPU_RUNNING = 1  # VIR_VCPU_RUNNING


def _not_running() -> _errors.OperationInvalidError:
    return _errors.OperationInvalidError(
        ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
    )


def _max_vcpus(d: Domain) -> int:
    return d.vcpu.count or 1 if d.vcpu is not None else 1


def _vcpus(d: Domain) -> int:
    return (d.vcpu.current or d.vcpu.count or 1) if d.vcpu is not None else 1


def _set_vcpus(d: Domain, count: int, *, maximum: bool) -> None:
    """virDomainDefSetVcpus (the first ``count`` vCPUs by id online, the rest offline, whatever ``<vcpus>``
    said) / virDomainDefSetVcpusMax (entries cut off or added offline, states otherwise kept)."""
    from pyvirt.conf.domain import Vcpu, VcpuEntry
    from pyvirt.conf.vcpu_states import store_vcpu_states, vcpu_states

    if d.vcpu is None:
        d.vcpu = Vcpu(placement="static", count=1)
    states = vcpu_states(d)
    if maximum:
        states = states[:count] + [VcpuEntry(id=i, enabled=False) for i in range(len(states), count)]
    else:
        for i, entry in enumerate(states):
            entry.enabled = i < count
    store_vcpu_states(d, states, individual=bool(d.vcpus))


def _cpumap(cpus: set[int], maplen: int) -> bytes:
    """virBitmapToDataBuf: host CPU n is bit n % 8 of byte n // 8, cut to ``maplen`` bytes."""
    buf = bytearray(maplen)
    for cpu in cpus:
        if cpu < maplen * 8:
            buf[cpu // 8] |= 1 << (cpu % 8)
    return bytes(buf)


class GuestHooks:
    """Mixed into the test connection; ``self.state`` and ``self.events`` come from it."""

    state: TestState
    events: EventSink

    # ------------------------------------------------------------------ which definition
    def _one_def(self, obj: DomainObj, flags: int) -> tuple[Domain, bool]:
        """virDomainObjGetOneDefState: the one definition ``flags`` names, and whether it is the live one."""
        if flags & LIVE and flags & CONFIG:
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
                verbatim=True,  # virReportInvalidArg: no "invalid argument: " before it
            )
        live, _config = self._impact(obj, flags)
        return (obj.live, True) if live else (obj.persistent_def(), False)

    def _one_def_to_change(self, obj: DomainObj, flags: int) -> Domain:
        """The one definition ``flags`` names, ready to change alone (its checks first, then the two kept apart)."""
        self._one_def(obj, flags)
        self._split(obj)
        return self._one_def(obj, flags)[0]

    @staticmethod
    def _split(obj: DomainObj) -> None:
        """Before the live definition of a running persistent domain changes alone: keep the persistent one."""
        if obj.active and obj.persistent and obj.config is None:
            obj.config = obj.live.model_copy(deep=True)

    @staticmethod
    def _impact(obj: DomainObj, flags: int) -> tuple[bool, bool]:
        """virDomainObjUpdateModificationImpact: (live, config) with 0 resolved by the domain's state."""
        live, config = bool(flags & LIVE), bool(flags & CONFIG)
        if not live and not config:
            live, config = obj.active, not obj.active
        if live and not obj.active:
            raise _not_running()
        if config and not obj.persistent:
            raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "transient domains do not have any persistent config",
                                        domain=ErrorDomain.DOMAIN)  # fmt: skip
        return live, config

    def _defs(self, obj: DomainObj, flags: int) -> tuple[Domain | None, Domain | None]:
        """virDomainObjGetDefs: the live and persistent definitions to change (None: leave it).

        The test driver keeps one definition while nothing made them differ; a
        change to the live one of a running persistent domain splits the
        persistent one off first, so it keeps its values.
        """
        live, config = self._impact(obj, flags)
        self._split(obj)
        if live and config:
            return obj.live, obj.persistent_def()
        return (obj.live if live else None), (obj.persistent_def() if config else None)

    # ------------------------------------------------------------------ title, description, metadata
    @hookimpl
    def domain_get_metadata(self, dom: DomainRef, type: int, uri: str | None, flags: int) -> str:
        check_flags(flags, LIVE | CONFIG, "testDomainGetMetadata")
        # imported here: pyvirt.conf.metadata makes three exception classes at import, on every test:/// open
        from pyvirt.conf.metadata import METADATA_ELEMENT, get_metadata

        with self.state.lock:
            obj = self.state.find(dom)
            if not 0 <= type <= METADATA_ELEMENT:
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown metadata type '{type}'")
            d, _live = self._one_def(obj, flags)
            return get_metadata(d, type, uri)

    @hookimpl
    def domain_set_metadata(self, dom: DomainRef, type: int, metadata: str | None, key: str | None, uri: str | None,
                            flags: int) -> None:  # fmt: skip
        check_flags(flags, LIVE | CONFIG, "testDomainSetMetadata")
        from pyvirt.conf.metadata import parse_element, set_metadata

        with self.state.lock:
            obj = self.state.find(dom)
            element = parse_element(type, metadata, key, uri)
            for d in self._defs(obj, flags):
                if d is not None:
                    set_metadata(d, type, metadata, uri, element)
            ref = obj.ref()
        # testDomainSetMetadata's metadata-change event, with the namespace as the caller gave it
        from pyvirt.events import MetadataChangeEvent

        self.events.emit("metadata-change", MetadataChangeEvent(ref, type, uri))

    @hookimpl
    def domain_rename(self, dom: DomainRef, new_name: str, flags: int) -> None:
        check_flags(flags, 0, "testDomainRename")
        with self.state.lock:
            obj = self.state.find(dom)
            if obj.active:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot rename active domain",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            if not obj.persistent:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot rename a transient domain",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            clash = self.state.domains_by_name.get(new_name)
            if clash is not None:  # virDomainObjListRename
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                            f"domain with name '{new_name}' already exists",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            if "/" in new_name:
                raise _errors.XMLError(ErrorCode.XML_ERROR, f"name {new_name} cannot contain '/'")
            old = obj.ref()
            self.state.remove_domain(obj)
            obj.live.name = new_name
            self.state.add_domain(obj)
        self.events.lifecycle(old, DomainEvent.UNDEFINED, Undefined.RENAMED)
        self.events.lifecycle(obj.ref(), DomainEvent.DEFINED, DefinedDetail.RENAMED)

    # ------------------------------------------------------------------ memory and vCPUs
    @hookimpl
    def domain_set_memory(self, dom: DomainRef, memory_kib: int, flags: int) -> None:
        """testDomainSetMemoryFlags: the balloon, or with MAXIMUM the initial size of an inactive definition."""
        from pyvirt.conf.domain_devices import Memory

        check_flags(flags, LIVE | CONFIG | MEM_MAXIMUM, "testDomainSetMemoryFlags")
        with self.state.lock:
            obj = self.state.find(dom)
            d, live = self._one_def(obj, flags)
            self._split(obj)  # what changes, live or persistent, changes alone
            d = obj.live if live else obj.persistent_def()
            if flags & MEM_MAXIMUM:
                if live:
                    raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                                "cannot resize the maximum memory on an active domain")  # fmt: skip
                if d.cpu is not None and d.cpu.numa:
                    raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "initial memory size of a domain with "
                                                "NUMA nodes cannot be modified with this API")  # fmt: skip
                if d.max_memory is not None and d.max_memory.kib and d.max_memory.kib < memory_kib:
                    raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot set initial memory size greater "
                                                "than the maximum memory size")  # fmt: skip
                d.memory = Memory(kib=memory_kib)
                if d.current_memory is not None and d.current_memory.kib > memory_kib:
                    d.current_memory = Memory(kib=memory_kib)
                return
            if memory_kib > (d.memory.kib if d.memory is not None else 0):
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
            d.current_memory = Memory(kib=memory_kib)

    @hookimpl
    def domain_set_vcpus(self, dom: DomainRef, count: int, flags: int) -> None:
        """testDomainSetVcpusFlags (virDomainSetVcpus is it with LIVE)."""
        check_flags(flags, LIVE | CONFIG | VCPU_MAXIMUM, "testDomainSetVcpusFlags")
        if not flags:
            flags = LIVE
        host_max = 32  # testConnectGetMaxVcpus
        if count > host_max:
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "requested cpu amount exceeds maximum supported amount "
                                       f"({count} > {host_max})")  # fmt: skip
        with self.state.lock:
            obj = self.state.find(dom)
            live, persistent = self._defs(obj, flags)
            if live is not None and _max_vcpus(live) < count:
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG,
                                           f"requested cpu amount exceeds maximum ({count} > {_max_vcpus(live)})")  # fmt: skip
            if persistent is not None and not flags & VCPU_MAXIMUM and _max_vcpus(persistent) < count:
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG,
                                           f"requested cpu amount exceeds maximum ({count} > {_max_vcpus(persistent)})")  # fmt: skip
            if live is not None:
                _set_vcpus(live, count, maximum=False)
            if persistent is not None:
                _set_vcpus(persistent, count, maximum=bool(flags & VCPU_MAXIMUM))

    @hookimpl
    def domain_get_vcpus_flags(self, dom: DomainRef, flags: int) -> int:
        check_flags(flags, LIVE | CONFIG | VCPU_MAXIMUM, "testDomainGetVcpusFlags")
        with self.state.lock:
            d, _live = self._one_def(self.state.find(dom), flags)
            return _max_vcpus(d) if flags & VCPU_MAXIMUM else _vcpus(d)

    def _host_cpus(self) -> set[int]:
        info = self.state.node_info
        return set(range(info.nodes * info.sockets * info.cores * info.threads))  # VIR_NODEINFO_MAXCPUS

    def _pins(self, d: Domain) -> tuple[dict[int, set[int]], set[int] | None]:
        """Each vCPU's own ``<vcpupin>`` set, and the ``<vcpu cpuset>`` every other vCPU inherits."""
        from pyvirt.conf.bitmap import parse_bitmap

        own = {p.vcpu: parse_bitmap(p.cpuset) for p in (d.cputune.vcpupins or []) if p.vcpu is not None and p.cpuset} \
            if d.cputune is not None else {}  # fmt: skip
        common = parse_bitmap(d.vcpu.cpuset) if d.vcpu is not None and d.vcpu.cpuset else None
        return own, common

    @hookimpl
    def domain_get_vcpus(self, dom: DomainRef, maxinfo: int, maplen: int) -> list[VcpuInfo]:
        """testDomainGetVcpus: the ids below the online count, whatever their state."""
        from pyvirt.conf.vcpu_states import vcpu_states

        with self.state.lock:
            obj = self.state.find(dom)
            if not obj.active:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot list vcpus for an inactive domain",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            d = obj.live
            own, common = self._pins(d)
            host = self._host_cpus()
            cpu_time = time.time_ns() // 1000 // 10  # g_get_real_time() / 10: a fake, increasing time
            out = []
            states = vcpu_states(d)
            for i in range(min(maxinfo, _vcpus(d))):
                if not states[i].enabled:  # testDomainGetVcpus leaves its entry zeroed: "offline", CPU 0, no map
                    out.append(VcpuInfo(0, 0, 0, 0, bytes(maplen)))
                    continue
                cpus = own.get(i) or common or host
                out.append(VcpuInfo(i, _VCPU_RUNNING, cpu_time, max(cpus), _cpumap(cpus, maplen)))
            return out

    @hookimpl
    def domain_get_vcpu_pin_info(self, dom: DomainRef, ncpumaps: int, maplen: int, flags: int) -> list[bytes]:
        check_flags(flags, LIVE | CONFIG, "testDomainGetVcpuPinInfo")
        with self.state.lock:
            d, _live = self._one_def(self.state.find(dom), flags)
            own, common = self._pins(d)
            host = self._host_cpus()
            return [_cpumap(own.get(i) or common or host, maplen) for i in range(min(ncpumaps, _max_vcpus(d)))]

    @hookimpl
    def domain_pin_vcpu(self, dom: DomainRef, vcpu: int, cpumap: bytes, flags: int) -> None:
        """testDomainPinVcpuFlags: the running definition's ``<vcpupin>`` only, no flags accepted."""
        from pyvirt.conf.bitmap import format_bitmap
        from pyvirt.conf.domain import CpuTune, VcpuPin

        check_flags(flags, 0, "testDomainPinVcpuFlags")
        with self.state.lock:
            obj = self.state.find(dom)
            if not obj.active:
                raise _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot pin vcpus on an inactive domain",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            self._split(obj)  # libvirt's test driver pins the live definition alone
            d = obj.live
            if not 0 <= vcpu < _vcpus(d):
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG,
                                           f"requested vcpu '{vcpu}' is not present in the domain")  # fmt: skip
            cpus = {i for i in range(len(cpumap) * 8) if cpumap[i // 8] & (1 << (i % 8))}
            if d.cputune is None:
                d.cputune = CpuTune()
            pins = [p for p in (d.cputune.vcpupins or []) if p.vcpu != vcpu]
            pins.append(VcpuPin(vcpu=vcpu, cpuset=format_bitmap(cpus)))
            d.cputune.vcpupins = sorted(pins, key=lambda p: p.vcpu or 0)

    @hookimpl
    def domain_get_emulator_pin_info(self, dom: DomainRef, maplen: int, flags: int) -> bytes:
        """testDomainGetEmulatorPinInfo: ``<emulatorpin>``, else ``<vcpu cpuset>``, else every host CPU."""
        from pyvirt.conf.bitmap import parse_bitmap

        check_flags(flags, LIVE | CONFIG, "testDomainGetEmulatorPinInfo")
        with self.state.lock:
            d, _live = self._one_def(self.state.find(dom), flags)
            if d.cputune is not None and d.cputune.emulatorpin:
                cpus = parse_bitmap(d.cputune.emulatorpin)
            elif d.vcpu is not None and d.vcpu.cpuset:
                cpus = parse_bitmap(d.vcpu.cpuset)
            else:
                cpus = self._host_cpus()
            return _cpumap(cpus, maplen)

    @hookimpl
    def domain_pin_emulator(self, dom: DomainRef, cpumap: bytes, flags: int) -> None:
        """testDomainPinEmulator: ``<cputune><emulatorpin>`` of the one definition ``flags`` names, nothing else."""
        from pyvirt.conf.bitmap import format_bitmap
        from pyvirt.conf.domain import CpuTune

        check_flags(flags, LIVE | CONFIG, "testDomainPinEmulator")
        with self.state.lock:
            d = self._one_def_to_change(self.state.find(dom), flags)
            cpus = {i for i in range(len(cpumap) * 8) if cpumap[i // 8] & (1 << (i % 8))}
            if not cpus:
                raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, "Empty cpu list for pinning")
            if d.cputune is None:
                d.cputune = CpuTune()
            d.cputune.emulatorpin = format_bitmap(cpus)

    @hookimpl
    def domain_set_memory_stats_period(self, dom: DomainRef, period: int, flags: int) -> None:
        """testDomainSetMemoryStatsPeriod: the balloon's ``<stats period>`` of the one definition flags name."""
        check_flags(flags, LIVE | CONFIG, "testDomainSetMemoryStatsPeriod")
        with self.state.lock:
            d = self._one_def_to_change(self.state.find(dom), flags)
            balloon = d.devices.memballoon if d.devices is not None else None
            if balloon is None or balloon.model == "none":
                raise _errors.InternalError(ErrorCode.INTERNAL_ERROR,
                                    "No memory balloon device configured, can not set the collection period")  # fmt: skip
            balloon.stats_period = period

    @hookimpl
    def domain_memory_stats(self, dom: DomainRef, max_stats: int, flags: int) -> list[tuple[int, int]]:
        check_flags(flags, 0, "testDomainMemoryStats")
        with self.state.lock:
            obj = self.state.find(dom)
            if not obj.active:
                raise _not_running()
            d = obj.live
            balloon = d.devices.memballoon if d.devices is not None else None
            if balloon is None or balloon.model == "none":
                return []
            cur = d.current_memory.kib if d.current_memory is not None else 0
        stats = [(STAT_ACTUAL_BALLOON, cur), (STAT_SWAP_IN, 0), (STAT_SWAP_OUT, 0), (STAT_MAJOR_FAULT, 0),
                 (STAT_MINOR_FAULT, 0), (STAT_UNUSED, cur // 2), (STAT_AVAILABLE, cur), (STAT_USABLE, cur // 2),
                 (STAT_LAST_UPDATE, GUEST_TIME), (STAT_DISK_CACHES, cur // 8), (STAT_HUGETLB_PGALLOC, 0),
                 (STAT_HUGETLB_PGFAIL, 0), (STAT_RSS, cur // 2)]  # fmt: skip
        return stats[:max_stats]

    # ------------------------------------------------------------------ the guest
    def _active(self, dom: DomainRef) -> DomainObj:
        obj = self.state.find(dom)
        if not obj.active:
            raise _not_running()
        return obj

    @hookimpl
    def domain_reset(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "testDomainReset")
        self._active(dom)

    @hookimpl
    def domain_inject_nmi(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "testDomainInjectNMI")
        self._active(dom)

    @hookimpl
    def domain_send_key(self, dom: DomainRef, codeset: int, holdtime: int, keycodes: list[int], flags: int) -> None:
        from pyvirt.util.keycodes import CODESET_NAMES, codes_of

        check_flags(flags, 0, "testDomainSendKey")
        self._active(dom)
        if not 0 <= codeset < len(CODESET_NAMES):
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"invalid codeset {codeset}")
        known = codes_of(codeset)
        for code in keycodes:
            if code not in known:
                raise _errors.InternalError(
                    ErrorCode.INTERNAL_ERROR, f"invalid keycode {code} of {CODESET_NAMES[codeset]} codeset"
                )

    @hookimpl
    def domain_get_time(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        check_flags(flags, 0, "testDomainGetTime")
        obj = self.state.find(dom)
        if obj.state != 1:  # VIR_DOMAIN_RUNNING: a paused guest's agent does not answer
            raise _not_running()
        return obj.guest_time

    @hookimpl
    def domain_set_time(self, dom: DomainRef, seconds: int, nseconds: int, flags: int) -> None:
        """testDomainSetTime: the next domtime reads what was set (SYNC keeps the seconds given, 0 from virsh)."""
        check_flags(flags, _VIR_DOMAIN_TIME_SYNC, "testDomainSetTime")
        with self.state.lock:
            self._active(dom).guest_time = (seconds, nseconds)

    @hookimpl
    def domain_get_hostname(self, dom: DomainRef, flags: int) -> str:
        check_flags(flags, 0, "testDomainGetHostname")
        obj = self._active(dom)
        return f"{obj.name}host"

    # ------------------------------------------------------------------ device statistics
    @hookimpl
    def domain_block_stats(self, dom: DomainRef, path: str) -> BlockStats:
        if not path:
            raise _errors.NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "summary statistics are not supported yet")
        obj = self._active(dom)
        if _disk(obj.live, path) is None:
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid path: {path}")
        base = time.time_ns() // 1000  # g_get_real_time(): no significance, just enough to mix it up
        return BlockStats(base // 10, base // 20, base // 30, base // 40, base // 2_000_000)

    @hookimpl
    def domain_interface_stats(self, dom: DomainRef, device: str) -> InterfaceStats:
        obj = self._active(dom)
        nics = obj.live.devices.interfaces if obj.live.devices is not None else []
        mac = device.lower() if _is_mac(device) else None
        if not any((n.mac or "").lower() == mac if mac else n.target_dev == device for n in nics):
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"'{device}' is not a known interface")
        base = time.time_ns() // 1000
        return InterfaceStats(base // 10, base // 100, base // 1_000_000, base // 2_000_000, base // 20, base // 110,
                              base // 3_000_000, base // 4_000_000)  # fmt: skip

    @hookimpl
    def domain_get_block_info(self, dom: DomainRef, path: str, flags: int) -> BlockInfo:
        check_flags(flags, 0, "testDomainGetBlockInfo")
        with self.state.lock:
            disk = _disk(self.state.find(dom).live, path)
        if disk is None:
            raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid path {path} not assigned to domain")
        if not (disk.source_file or disk.source_dev or disk.source_dir or disk.source_name):
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"disk '{path}' does not currently have a source assigned"
            )
        return BlockInfo(_DISK_CAPACITY, _DISK_ALLOCATION, _DISK_ALLOCATION)


def _disk(d: Domain, path: str) -> Disk | None:
    """virDomainDiskByName: by target name, else by source path."""
    disks = d.devices.disks if d.devices is not None else []
    for disk in disks:
        if disk.target_dev == path:
            return disk
    for disk in disks:
        if path and path in (disk.source_file, disk.source_dev, disk.source_dir):
            return disk
    return None


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(len(p) in (1, 2) and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)
