"""What virsh's per-guest queries read from a running QEMU: vCPU threads, balloon, disk and NIC counters, disk sizes.

Each function is the measuring half of one libvirt qemu driver API; the
driver's hook finds the domain and holds the job. The sources are libvirt's:
vCPU placement from ``query-cpus-fast`` thread ids and ``/proc/PID/task/TID/stat``
(qemuDomainHelperGetVcpus), affinity from ``sched_getaffinity``; memory from
``query-balloon`` and the balloon's ``guest-stats`` property, then the QEMU
process's RSS (qemuDomainMemoryStatsInternal); disk counters from
``query-blockstats``; NIC counters from ``/proc/net/dev`` turned round to the
guest's side (virNetDevTapInterfaceStats); disk sizes from QEMU while it runs
and from the image files otherwise (qemuDomainGetBlockInfo).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Protocol

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk, Interface
from pyvirt.errors import Error, ErrorCode, InternalError, InvalidArgumentError, OperationInvalidError, SystemCallError
from pyvirt.plugin.records import BlockInfo, BlockStats, InterfaceStats, VcpuInfo
from pyvirt.plugin.typed_params import TypedParam, TypedParamType
from pyvirt_qemu.block_nodes import node_id
from pyvirt_qemu.device_aliases import disk_alias
from pyvirt_qemu.hotplug import top_nodes

__all__ = [
    "block_info",
    "block_job_info",
    "block_stats",
    "block_stats_counters",
    "cpus_of_map",
    "emulator_pin_map",
    "find_disk",
    "host_cpu_map",
    "interface_stats",
    "memory_stats",
    "online_host_cpus",
    "pin_vcpu_thread",
    "send_key_arguments",
    "set_emulatorpin",
    "set_stats_period",
    "set_vcpupin",
    "vcpu_info",
    "vcpu_pin_maps",
]

# virDomainMemoryStatTags
_SWAP_IN, _SWAP_OUT, _MAJOR, _MINOR, _UNUSED, _AVAILABLE, _ACTUAL, _RSS, _USABLE, _LAST_UPDATE = range(10)
_DISK_CACHES, _HUGETLB_PGALLOC, _HUGETLB_PGFAIL = 10, 11, 12
# qemuMonitorJSONGetMemoryStats: the balloon's statistic, libvirt's tag, the divisor to KiB; in libvirt's order
_BALLOON_STATS = (("stat-swap-in", _SWAP_IN, 1024), ("stat-swap-out", _SWAP_OUT, 1024),
                  ("stat-major-faults", _MAJOR, 1), ("stat-minor-faults", _MINOR, 1),
                  ("stat-free-memory", _UNUSED, 1024), ("stat-total-memory", _AVAILABLE, 1024),
                  ("stat-available-memory", _USABLE, 1024), ("last-update", _LAST_UPDATE, 1),
                  ("stat-disk-caches", _DISK_CACHES, 1024), ("stat-htlb-pgalloc", _HUGETLB_PGALLOC, 1),
                  ("stat-htlb-pgfail", _HUGETLB_PGFAIL, 1))  # fmt: skip
_VCPU_RUNNING = 1  # VIR_VCPU_RUNNING: what libvirt reports for every online vCPU


class _Executes(Protocol):
    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0) -> Any: ...


def _stat_fields(path: str) -> list[str]:
    """The fields of a /proc stat file after the command name (which may hold spaces and parentheses)."""
    with open(path, encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()


def online_host_cpus() -> set[int]:
    """virHostCPUGetAvailableCPUsBitmap: the host's online CPUs (what an unpinned vCPU may use)."""
    try:
        with open("/sys/devices/system/cpu/online", encoding="ascii") as f:
            return parse_bitmap(f.read().strip(), "online CPUs")
    except OSError:
        return set(range(os.cpu_count() or 1))


def _cpumap(cpus: set[int], maplen: int) -> bytes:
    out = bytearray(maplen)
    for cpu in cpus:
        if cpu < maplen * 8:
            out[cpu // 8] |= 1 << (cpu % 8)
    return bytes(out)


def _max_vcpus(dom: Domain) -> int:
    return dom.vcpu.count or 1 if dom.vcpu is not None else 1


def vcpu_pin_maps(dom: Domain, ncpumaps: int, maplen: int) -> list[bytes]:
    """virDomainDefGetVcpuPinInfoHelper: each vCPU's ``<vcpupin>``, else ``<vcpu cpuset>``, else the online CPUs.

    libvirt answers for every vCPU up to the maximum, online or not.
    """
    pins = {p.vcpu: p.cpuset for p in (dom.cputune.vcpupins or []) if p.cpuset} if dom.cputune is not None else {}
    common = dom.vcpu.cpuset if dom.vcpu is not None and dom.vcpu.cpuset else None
    host = online_host_cpus()
    maps = []
    for i in range(min(ncpumaps, _max_vcpus(dom))):
        text = pins.get(i) or common
        maps.append(_cpumap(parse_bitmap(text, "vcpupin cpuset") if text else host, maplen))
    return maps


def vcpu_info(pid: int, monitor: _Executes, maxinfo: int, maplen: int) -> list[VcpuInfo]:
    """qemuDomainHelperGetVcpus: each online vCPU's thread: its CPU time, last CPU and affinity.

    The threads are those QEMU reports now (``query-cpus-fast``), so vCPUs
    plugged or unplugged since the start are counted as the guest has them.
    """
    if maxinfo == 0:
        return []
    threads = sorted((int(c["cpu-index"]), int(c["thread-id"])) for c in monitor.execute("query-cpus-fast"))
    if not threads or any(tid == pid for _i, tid in threads):
        # TCG without MTTCG runs every vCPU on one thread (QEMU's main one): libvirt has no vCPU pids then
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cpu affinity is not supported")
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    out = []
    for index, tid in threads[:maxinfo]:
        try:
            fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
            cpus = os.sched_getaffinity(tid)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, "cannot get vCPU placement & pCPU time") from exc
        # utime and stime are fields 14 and 15 of stat(5), the last CPU field 39: after the name, 11, 12 and 36
        cpu_time = (int(fields[11]) + int(fields[12])) * tick
        out.append(VcpuInfo(index, _VCPU_RUNNING, cpu_time, int(fields[36]), _cpumap(cpus, maplen)))
    return out


def _rss_kib(pid: int) -> int | None:
    """virProcessGetStatInfo's RSS: pages resident (stat(5) field 24), in KiB."""
    try:
        return int(_stat_fields(f"/proc/{pid}/stat")[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


def memory_stats(dom: Domain, monitor: _Executes, pid: int, max_stats: int) -> list[tuple[int, int]]:
    """qemuDomainMemoryStatsInternal: the balloon's size and the guest's own statistics, then QEMU's RSS.

    The guest statistics exist once a balloon driver in the guest reported
    them (its polling period set: ``<stats period>``, ``dommemstat
    --period``); before that QEMU refuses, and libvirt leaves them out.
    """
    stats: list[tuple[int, int]] = []
    balloon = dom.devices.memballoon if dom.devices is not None else None
    if balloon is not None and balloon.model not in (None, "none"):
        with contextlib.suppress(Exception):  # no balloon in QEMU after all: libvirt reports what it has
            stats.append((_ACTUAL, int(monitor.execute("query-balloon")["actual"]) // 1024))
        guest: dict[str, Any] = {}
        with contextlib.suppress(Exception):  # "guest hasn't updated any stats yet"
            guest = monitor.execute("qom-get", {"path": balloon_path(dom), "property": "guest-stats"})
        values = dict(guest.get("stats", {}))
        if "last-update" in guest:
            values["last-update"] = guest["last-update"]
        for key, tag, divisor in _BALLOON_STATS:
            value = values.get(key)
            # -1 (QEMU sends it as 2**64 - 1): never collected, no point in passing it on
            if isinstance(value, int) and 0 <= value < 2**64 - 1:
                stats.append((tag, value // divisor))
        if len(stats) >= max_stats:
            return stats[:max_stats]
    rss = _rss_kib(pid)
    if rss is not None:
        stats.append((_RSS, rss))
    return stats[:max_stats]


def balloon_path(dom: Domain) -> str:
    """The QOM path of the balloon device (its ``guest-stats`` properties are aliased on the PCI proxy)."""
    balloon = dom.devices.memballoon if dom.devices is not None else None
    alias = balloon.alias.name if balloon is not None and balloon.alias is not None and balloon.alias.name else None
    return f"/machine/peripheral/{alias or 'balloon0'}"


def find_disk(dom: Domain, path: str) -> tuple[int, Disk] | None:
    """virDomainDiskByName: a disk by its target name, else by its source path; with its position."""
    disks = list(enumerate(dom.devices.disks if dom.devices is not None else []))
    for i, disk in disks:
        if disk.target_dev == path:
            return i, disk
    for i, disk in disks:
        if path and path in (disk.source_file, disk.source_dev, disk.source_dir):
            return i, disk
    return None


def _disk_stats(monitor: _Executes, position: int, disk: Disk) -> dict[str, Any]:
    """query-blockstats' entry of the disk's top node (after a snapshot: the overlay), as ``domstats`` reads it."""
    tops = top_nodes(monitor)  # type: ignore[arg-type]
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else disk_alias(disk)
    top = tops.get(alias, f"libvirt-{node_id(position, disk)}-format")
    for entry in monitor.execute("query-blockstats"):
        if entry.get("node-name") == top or device_matches(entry, alias):
            return entry  # type: ignore[no-any-return]
    raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot find statistics for device '{alias}'")


def device_matches(entry: dict[str, Any], alias: str) -> bool:
    qdev = str(entry.get("qdev", ""))
    return bool(qdev) and (qdev == alias or qdev.startswith(f"/machine/peripheral/{alias}/"))


def block_stats(dom: Domain, monitor: _Executes, path: str) -> BlockStats:
    """qemuDomainBlockStats for one disk: requests and bytes; QEMU keeps no error count (-1, as libvirt says)."""
    found = find_disk(dom, path)
    if found is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid path: {path}")
    st = _disk_stats(monitor, *found).get("stats", {})
    return BlockStats(int(st.get("rd_operations", 0)), int(st.get("rd_bytes", 0)), int(st.get("wr_operations", 0)),
                      int(st.get("wr_bytes", 0)), -1)  # fmt: skip


# qemuDomainBlockStatsFlags' order: libvirt's field name <- query-blockstats' member
_BLOCK_COUNTERS = (("wr_bytes", "wr_bytes"), ("wr_operations", "wr_operations"), ("rd_bytes", "rd_bytes"),
                   ("rd_operations", "rd_operations"), ("flush_operations", "flush_operations"),
                   ("wr_total_times", "wr_total_time_ns"), ("rd_total_times", "rd_total_time_ns"),
                   ("flush_total_times", "flush_total_time_ns"))  # fmt: skip


def block_stats_counters(dom: Domain, monitor: _Executes, path: str) -> list[TypedParam]:
    """qemuDomainBlockStatsFlags: QEMU's eight counters of one disk, or summed over every disk for ``""``."""
    if path:
        found = find_disk(dom, path)
        if found is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid path: {path}")
        disks = [found]
    else:
        disks = list(enumerate(dom.devices.disks if dom.devices is not None else []))
    totals = dict.fromkeys((name for name, _ in _BLOCK_COUNTERS), 0)
    for position, disk in disks:
        st = _disk_stats(monitor, position, disk).get("stats", {})
        for name, member in _BLOCK_COUNTERS:
            totals[name] += int(st.get(member, 0))
    return [TypedParam(name, TypedParamType.LLONG, value) for name, value in totals.items()]


# QEMU's block job types -> virDomainBlockJobType
_JOB_TYPES = {"stream": 1, "mirror": 2, "commit": 3, "backup": 5}


def block_job_info(
    dom: Domain, monitor: _Executes, path: str, in_bytes: bool, copies: dict[str, str] | None = None
) -> tuple[int, int, int, int]:
    """qemuDomainGetBlockJobInfo: the disk's job, as qemuBlockJobInfoTranslate.

    A disk's job is a block copy (``copies``: job name by disk target, see
    :mod:`pyvirt_qemu.block_jobs`) or a storage migration's mirror (libvirt's
    ``drive-<alias>`` name); ``(0, 0, 0, 0)`` when the disk has none. A copy
    QEMU has ended but whose end is not processed yet reads as just begun
    (0 of 1), as libvirt fakes it, so that pollers do not take it as done.
    """
    from pyvirt_qemu.migration_storage import export_name

    found = find_disk(dom, path)
    if found is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk '{path}' not found in domain")
    copy = (copies or {}).get(found[1].target_dev or "")
    name = copy or export_name(found[1])
    job = next((j for j in monitor.execute("query-block-jobs") if j.get("device") == name), None)
    if job is None and copy is not None:
        return (_JOB_TYPES["mirror"], 0, 0, 1)
    if job is None or job.get("type") not in _JOB_TYPES:
        return (0, 0, 0, 0)
    cur, end, ready = int(job.get("offset", 0)), int(job.get("len", 0)), job.get("ready")
    if cur == end == 0 and ready is not None:  # not started yet: never "complete" before QEMU says ready
        end, cur = 1, int(bool(ready))
    if ready is False and cur == end > 0:  # all copied but not ready: pollers must not read it as done
        cur -= 1
    bandwidth = int(job.get("speed", 0))
    if bandwidth and not in_bytes:
        bandwidth = -(-bandwidth // (1 << 20))  # VIR_DIV_UP to MiB/s
    return (_JOB_TYPES[job["type"]], bandwidth, cur, end)


def find_interface(dom: Domain, device: str) -> Interface:
    """virDomainNetFind: by MAC address when ``device`` reads as one, else by host-side device name."""
    nics = dom.devices.interfaces if dom.devices is not None else []
    parts = device.split(":")
    is_mac = len(parts) == 6 and all(len(p) in (1, 2) and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)
    for nic in nics:
        if is_mac:
            if nic.mac and [int(p, 16) for p in nic.mac.split(":")] == [int(p, 16) for p in parts]:
                return nic
        elif nic.target_dev == device:
            return nic
    raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"'{device}' is not a known interface")


def interface_stats(dom: Domain, device: str) -> InterfaceStats:
    """virNetDevTapInterfaceStats: the tap's line of /proc/net/dev, rx and tx swapped to the guest's side.

    What the tap sends, the guest receives: libvirt swaps for every NIC type
    whose host end is not the guest's own view (all but direct/macvtap ones).
    """
    nic = find_interface(dom, device)
    ifname = nic.target_dev or ""
    with open("/proc/net/dev", encoding="ascii") as f:
        lines = f.read().splitlines()[2:]
    for line in lines:
        name, _, rest = line.partition(":")
        if name.strip() != ifname:
            continue
        v = [int(x) for x in rest.split()]
        rx, tx = (v[0], v[1], v[2], v[3]), (v[8], v[9], v[10], v[11])
        if nic.type != "direct":
            rx, tx = tx, rx
        return InterfaceStats(*rx, *tx)
    raise InternalError(ErrorCode.INTERNAL_ERROR, "/proc/net/dev: Interface not found")


def _file_sizes(disk: Disk) -> tuple[int, int, int]:
    """qemuStorageLimitsRefresh for a stopped guest: (capacity, allocation, physical) from the image itself."""
    path = disk.source_file or disk.source_dev or ""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot open file '{path}'") from exc
    try:
        st = os.fstat(fd)
        physical = os.lseek(fd, 0, os.SEEK_END) if disk.source_dev else st.st_size
        allocation = physical if disk.source_dev else st.st_blocks * 512
        os.lseek(fd, 0, os.SEEK_SET)
        header = os.read(fd, 32)
    finally:
        os.close(fd)
    capacity = physical
    if len(header) == 32 and header[:4] == b"QFI\xfb":  # a qcow2 image: the guest sees its virtual size
        capacity = int.from_bytes(header[24:32], "big")
    return capacity, allocation, physical


def block_info(dom: Domain, monitor: _Executes | None, path: str) -> BlockInfo:
    """qemuDomainGetBlockInfo: sizes from QEMU while the guest runs (``monitor``), from the files otherwise."""
    found = find_disk(dom, path)
    if found is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid path {path} not assigned to domain")
    position, disk = found
    if not (disk.source_file or disk.source_dev or disk.source_dir or disk.source_name):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk '{path}' does not currently have a source assigned")
    if monitor is None:
        return BlockInfo(*_file_sizes(disk))
    entry = _disk_stats(monitor, position, disk)
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else disk_alias(disk)
    top = top_nodes(monitor).get(alias, "")  # type: ignore[arg-type]
    image: dict[str, Any] = {}
    for node in monitor.execute("query-named-block-nodes"):
        if node.get("node-name") == top:
            image = node.get("image", {})
    capacity, physical = int(image.get("virtual-size", 0)), int(image.get("actual-size", 0))
    highest = entry.get("stats", {}).get("wr_highest_offset")
    qcow2_file = disk.type == "file" and disk.driver_type == "qcow2"
    allocation = physical if highest is None or qcow2_file else int(highest)
    if physical == 0 or allocation in (0, physical):
        # a sparse file: libvirt then gives the file's size as physical (and QEMU's allocation if none was written)
        allocation = allocation or physical
        with contextlib.suppress(OSError):
            physical = _file_sizes(disk)[2]
    return BlockInfo(capacity, allocation, physical)


def send_key_arguments(codeset: int, holdtime: int, keycodes: list[int]) -> dict[str, Any]:
    """qemuDomainSendKey's QMP send-key arguments: every code turned into QEMU's QNUM codeset first."""
    from pyvirt.util.keycodes import CODESET_NAMES, translate

    qnum = CODESET_NAMES.index("qnum")
    keys = []
    for code in keycodes:
        value = code if codeset == qnum else translate(codeset, qnum, code)
        if value is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot translate keycode {code} of "
                                f"{CODESET_NAMES[codeset]} codeset to qnum keycode")  # fmt: skip
        keys.append({"type": "number", "data": value})
    arguments: dict[str, Any] = {"keys": keys}
    if holdtime:
        arguments["hold-time"] = holdtime
    return arguments


def host_cpu_map() -> tuple[int, bytes, int]:
    """virHostCPUGetMap: as many CPUs as the host has present, with a bit set for each online one."""
    try:
        with open("/sys/devices/system/cpu/present", encoding="ascii") as f:
            count = max(parse_bitmap(f.read().strip(), "present CPUs")) + 1
    except (OSError, ValueError):
        count = os.cpu_count() or 1
    online = {cpu for cpu in online_host_cpus() if cpu < count}
    return count, _cpumap(online, (count + 7) // 8), len(online)


def cpus_of_map(cpumap: bytes) -> set[int]:
    """The host CPUs a libvirt byte map names (CPU ``n`` is bit ``n % 8`` of byte ``n // 8``)."""
    return {i for i in range(len(cpumap) * 8) if cpumap[i // 8] & (1 << (i % 8))}


def emulator_pin_map(dom: Domain, maplen: int) -> bytes:
    """qemuDomainGetEmulatorPinInfo: ``<emulatorpin>``, else ``<vcpu cpuset>``, else the online host CPUs."""
    tune = dom.cputune.emulatorpin if dom.cputune is not None else None
    text = tune or (dom.vcpu.cpuset if dom.vcpu is not None else None)
    return _cpumap(parse_bitmap(text, "emulatorpin cpuset") if text else online_host_cpus(), maplen)


def set_emulatorpin(dom: Domain, cpus: set[int]) -> None:
    """Record the emulator's pinning as ``<cputune><emulatorpin>``."""
    from pyvirt.conf.bitmap import format_bitmap
    from pyvirt.conf.domain import CpuTune

    if dom.cputune is None:
        dom.cputune = CpuTune()
    dom.cputune.emulatorpin = format_bitmap(cpus)


def set_vcpupin(dom: Domain, vcpu: int, cpus: set[int]) -> None:
    """Record a vCPU's pinning as ``<cputune><vcpupin>``, the vCPUs in order, as libvirt formats them."""
    from pyvirt.conf.bitmap import format_bitmap
    from pyvirt.conf.domain import CpuTune, VcpuPin

    if dom.cputune is None:
        dom.cputune = CpuTune()
    pins = [p for p in (dom.cputune.vcpupins or []) if p.vcpu != vcpu]
    pins.append(VcpuPin(vcpu=vcpu, cpuset=format_bitmap(cpus)))
    dom.cputune.vcpupins = sorted(pins, key=lambda p: p.vcpu or 0)


def pin_vcpu_thread(pid: int, monitor: _Executes, dom: Domain, vcpu: int, cpus: set[int]) -> None:
    """qemuDomainPinVcpuLive's affinity half: ``sched_setaffinity`` on the vCPU's thread (no cgroups here)."""
    current = dom.vcpu.current or _max_vcpus(dom) if dom.vcpu is not None else 1
    threads = {int(c["cpu-index"]): int(c["thread-id"]) for c in monitor.execute("query-cpus-fast")}
    if not threads or pid in threads.values():
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cpu affinity is not supported")
    if vcpu >= _max_vcpus(dom):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"vcpu {vcpu} is out of range of live cpu count {current}")
    tid = threads.get(vcpu)
    if tid is None:
        return  # an offline vCPU: the pinning applies when it comes online
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot set CPU affinity on process {tid}") from exc


def set_stats_period(dom: Domain, monitor: _Executes | None, period: int) -> None:
    """The balloon's ``<stats period>``, and with a ``monitor`` QEMU's polling interval (seconds, 0: off)."""
    balloon = dom.devices.memballoon if dom.devices is not None else None
    if balloon is None or balloon.model in (None, "none"):
        raise InternalError(ErrorCode.INTERNAL_ERROR,
                            "No memory balloon device configured, can not set the collection period")  # fmt: skip
    if period < 0:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "invalid value for collection period")
    if monitor is not None:
        try:
            monitor.execute("qom-set", {"path": balloon_path(dom), "property": "guest-stats-polling-interval",
                                        "value": period})  # fmt: skip
        except Error:  # QEMU's reason is not libvirt's words: libvirt reports this instead
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        "unable to set balloon driver collection period") from None  # fmt: skip
    balloon.stats_period = period
