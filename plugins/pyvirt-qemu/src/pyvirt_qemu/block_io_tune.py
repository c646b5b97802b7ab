"""blkdeviotune on QEMU guests: libvirt 9.0's qemuDomainGetBlockIoTune / qemuDomainSetBlockIoTune.

A running guest's throttling lives in QEMU (``block_set_io_throttle`` on the
disk's device, read back with ``query-block``), so the live answer is QEMU's,
not the XML's; the persistent definition keeps ``<iotune>``. A change names
only some fields: the others are inherited family by family (bytes, iops,
their maxima, size, group, max lengths) from the disk, or from the group the
change names, as qemuDomainSetBlockIoTuneDefaults does; every disk of that
group then carries the same values.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, unescape

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, NotSupportedError
from pyvirt.flags import DomainModificationImpact, TypedParameterFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.disk_iotune import disk_qom_path
from pyvirt_qemu.guest_stats import find_disk
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess

__all__ = ["BlockIoTuneHooks"]

_AFFECT = DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG
_STRING_OKAY = TypedParameterFlags.OKAY  # VIR_TYPED_PARAM_STRING_OKAY
_MAX = 1_000_000_000_000_000  # QEMU_BLOCK_IOTUNE_MAX
_GROUP = "group_name"
_RW = ("total", "read", "write")
# virDomainBlockIoTuneInfo in libvirt's order (the typed parameters, the XML) -> QMP's name
_BASE = {"total_bytes_sec": "bps", "read_bytes_sec": "bps_rd", "write_bytes_sec": "bps_wr",
         "total_iops_sec": "iops", "read_iops_sec": "iops_rd", "write_iops_sec": "iops_wr"}  # fmt: skip
_QMP = (
    _BASE
    | {f"{f}_max": f"{q}_max" for f, q in _BASE.items()}
    | {"size_iops_sec": "iops_size", "group_name": "group"}
    | {f"{f}_max_length": f"{q}_max_length" for f, q in _BASE.items()}
)
_FIELDS = list(_QMP)
_TYPES = {f: TypedParamType.STRING if f == _GROUP else TypedParamType.ULLONG for f in _FIELDS}
# qemuBlockIoTuneSetFlags: the families a change inherits as a whole
_FAMILY = (
    {f: ("length_" + f.split("_")[1] if f.endswith("_length") else f.split("_", 1)[1]) for f in _BASE}
    | {f"{f}_max": f.split("_", 1)[1] + "_max" for f in _BASE}
    | {"size_iops_sec": "size", _GROUP: "group"}
    | {f"{f}_max_length": "length_" + f.split("_")[1] for f in _BASE}
)

Info = dict[str, Any]


def _values(disk: Disk) -> Info:
    """The disk's ``<iotune>`` (kept as XML text) as numbers, the group as a string or None."""
    out: Info = {f: 0 for f in _FIELDS} | {_GROUP: None}
    for name, text in re.findall(r"<(\w+)>([^<]*)</\1>", disk.iotune or ""):
        if name == _GROUP:
            out[name] = unescape(text.strip(), {"&quot;": '"', "&apos;": "'"})
        elif name in _QMP:
            out[name] = int(text.strip() or 0)
    return out


def _xml(info: Info) -> str | None:
    """virDomainDiskDefFormatIotune: the set values in libvirt's order."""
    parts = []
    for name in _FIELDS:
        if info.get(name):
            value = info[name]
            shown = escape(value, {"'": "&apos;", '"': "&quot;"}) if name == _GROUP else str(value)
            parts.append(f"<{name}>{shown}</{name}>")
    return "".join(parts) or None


def _disk(d: Domain, path: str, missing: str) -> Disk:
    found = find_disk(d, path)
    if found is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, missing)
    disk = found[1]
    if disk.type == "vhostuser":
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "a block I/O throttling is not supported for vhostuser disk"
        )
    return disk


def parse_change(params: list[TypedParam]) -> tuple[Info, set[str]]:
    """The given fields and the families they touch; libvirt's range and total-vs-split refusals."""
    check_typed_params(params, _TYPES)
    given: Info = {}
    for p in params:
        if p.field != _GROUP and int(p.value) > _MAX:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED,
                                       f"block I/O throttle limit value must be no more than {_MAX}")  # fmt: skip
        given[p.field] = str(p.value) if p.field == _GROUP else int(p.value)
    for kind in ("bytes_sec", "iops_sec", "bytes_sec_max", "iops_sec_max"):
        if given.get(f"total_{kind}") and (given.get(f"read_{kind}") or given.get(f"write_{kind}")):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"total and read/write of {kind} cannot be set at the same time")  # fmt: skip
    return given, {_FAMILY[f] for f in given}


def _group_source(d: Domain, disk: Disk, group: str | None) -> Info:
    """qemuDomainFindGroupBlockIoTune: a change naming another disk's group inherits that group's values."""
    own = _values(disk)
    if group is None or own[_GROUP] == group:
        return own
    for other in d.devices.disks if d.devices is not None else []:
        values = _values(other)
        if values[_GROUP] == group:
            return values
    return own


def merged(d: Domain, disk: Disk, given: Info, families: set[str]) -> Info:
    """qemuDomainSetBlockIoTuneDefaults + qemuDomainCheckBlockIoTuneReset on one definition."""
    info: Info = {f: 0 for f in _FIELDS} | {_GROUP: None} | given
    old = _group_source(d, disk, given.get(_GROUP))
    for f in _FIELDS:
        if _FAMILY[f].startswith("length_"):
            base = f.removesuffix("_max_length")
            if _FAMILY[f] not in families:
                info[f] = old[f]
            elif old[f] and not info[f]:  # clearing a length QEMU defaults to 1 while the family has a limit
                info[f] = 1 if (info[base] or info[f"{base}_max"]) else 0
        elif _FAMILY[f] not in families:
            info[f] = old[f]
    if not any(info[f] for f in _FIELDS if f != _GROUP):
        if info[_GROUP] is not None and info[_GROUP] != _values(disk)[_GROUP]:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "creating a new group/updating existing with all tune parameters zero is not supported")  # fmt: skip
        info[_GROUP] = None  # all zero: no throttling, out of any group
    return info


def check_maxima(info: Info) -> None:
    """CHECK_MAX of qemuDomainSetBlockIoTune (live only, as there; its first branch is the one ever taken)."""
    for rw in _RW:
        for kind in ("bytes_sec", "iops_sec"):
            val, top = f"{rw}_{kind}", f"{rw}_{kind}_max"
            if info[top] and not info[val]:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"cannot reset '{val}' when '{top}' is set")
            if info[top] and info[top] < info[val]:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"value '{top}' cannot be smaller than '{val}'")


def store(d: Domain, disk: Disk, info: Info) -> None:
    """virDomainDiskSetBlockIOTune + qemuDomainSetGroupBlockIoTune: the disk and every disk of its group."""
    disk.iotune = _xml(info)
    if info[_GROUP] is None:
        return
    for other in d.devices.disks if d.devices is not None else []:
        if _values(other)[_GROUP] == info[_GROUP]:
            other.iotune = disk.iotune


def _qmp_device_matches(entry: dict[str, Any], disk: Disk) -> bool:
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else ""
    qdev = str(entry.get("qdev", ""))
    return bool(alias) and qdev in (disk_qom_path(disk), alias, f"/machine/peripheral/{alias}",
                                    f"/machine/peripheral/{alias}/virtio-backend")  # fmt: skip


def live_values(proc: QemuProcess, disk: Disk) -> Info:
    """qemuMonitorGetBlockIoThrottle: the device's ``inserted`` throttling in ``query-block``."""
    for entry in execute_checked(proc, "query-block"):
        if _qmp_device_matches(entry, disk):
            inserted = entry.get("inserted")
            if not isinstance(inserted, dict):
                break
            out: Info = {f: int(inserted.get(q) or 0) for f, q in _QMP.items() if f != _GROUP}
            out[_GROUP] = inserted.get("group")
            return out
    raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot find throttling info for device '{disk_qom_path(disk)}'")


def set_live(proc: QemuProcess, disk: Disk, info: Info) -> None:
    """qemuMonitorSetBlockIoThrottle: every limit; the group and the max lengths only when set ("S:"/"P:")."""
    args: dict[str, Any] = {"id": disk_qom_path(disk)}
    args.update({q: info[f] for f, q in _QMP.items() if f != _GROUP and (info[f] or not f.endswith("_length"))})
    if info[_GROUP] is not None:
        args["group"] = info[_GROUP]
    execute_checked(proc, "block_set_io_throttle", args)


def _is_empty(disk: Disk) -> bool:
    """virStorageSourceIsEmpty: a removable drive without media gets its throttling when media arrive."""
    return disk.device in ("cdrom", "floppy") and not (disk.source_file or disk.source_dev or disk.source_name)


def as_params(info: Info) -> list[TypedParam]:
    return [TypedParam(f, _TYPES[f], info[f] or "" if f == _GROUP else info[f]) for f in _FIELDS]


class BlockIoTuneHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_get_block_io_tune(self, dom: DomainRef, disk: str, flags: int) -> list[TypedParam]:
        """qemuDomainGetBlockIoTune: QEMU's values for a running guest, the definition's otherwise."""
        check_flags(flags, _AFFECT | _STRING_OKAY, "qemuDomainGetBlockIoTune")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            live, _config = self._affect(
                obj, flags & ~_STRING_OKAY, "transient domains do not have any persistent config"
            )
            if live:
                proc = self._still_running(obj)
                with obj.lock:
                    found = _disk(obj.live, disk, f"disk '{disk}' not found in domain").model_copy(deep=True)
                return as_params(live_values(proc, found))
            persistent = obj.persistent_def()
            return as_params(_values(_disk(persistent, disk, f"disk '{disk}' was not found in the domain config")))

    @hookimpl
    def domain_set_block_io_tune(self, dom: DomainRef, disk: str, params: list[TypedParam], flags: int) -> None:
        """qemuDomainSetBlockIoTune: the live guest first (QEMU, then the status), then the persistent file."""
        check_flags(flags, _AFFECT, "qemuDomainSetBlockIoTune")
        given, families = parse_change(params)
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            if live:
                proc = self._still_running(obj)
                with obj.lock:
                    current = obj.live.model_copy(deep=True)
                target = _disk(current, disk, f"disk '{disk}' not found in domain")
                info = merged(current, target, given, families)
                check_maxima(info)
                if not _is_empty(target):
                    set_live(proc, target, info)
                store(current, target, info)
                with obj.lock:
                    obj.live.devices = current.devices
                self.state.save_status(obj)
                # libvirt's tunable event: the disk as the caller named it, then the fields given, in their order
                event = [TypedParam("blkdeviotune.disk", TypedParamType.STRING, disk)]
                event += [TypedParam(f"blkdeviotune.{f}", _TYPES[f], v) for f, v in given.items()]
                ref = obj.ref()
                for sink in list(self.state.sinks):
                    sink.tunable(ref, event)
            if config:
                persistent = obj.persistent_def()
                target = _disk(persistent, disk, f"missing persistent configuration for disk '{disk}'")
                store(persistent, target, merged(persistent, target, given, families))
                self.state.save_config(persistent)
