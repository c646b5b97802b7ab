"""``<iotune>`` of a disk -> QMP ``block_set_io_throttle``, applied when the guest starts (as libvirt does).

libvirt puts no throttling on the command line: it sets it on each device
over QMP before the guest runs, which also lets ``blkdeviotune`` change it
later. QEMU wants the six base limits every time; absent ones are 0 (none).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["check_iotune", "disk_qom_path", "throttle_args"]

_BASE = {"total_bytes_sec": "bps", "read_bytes_sec": "bps_rd", "write_bytes_sec": "bps_wr",
         "total_iops_sec": "iops", "read_iops_sec": "iops_rd", "write_iops_sec": "iops_wr"}  # fmt: skip
_OPTIONAL = {f"{k}_max": f"{v}_max" for k, v in _BASE.items()} | {
    f"{k}_max_length": f"{v}_max_length" for k, v in _BASE.items()} | {"size_iops_sec": "iops_size"}  # fmt: skip


def _values(disk: Disk) -> dict[str, str]:
    if not disk.iotune:
        return {}
    root = etree.fromstring(f"<iotune>{disk.iotune}</iotune>")
    return {str(child.tag): (child.text or "").strip() for child in root if isinstance(child.tag, str)}


def check_iotune(disk: Disk) -> None:
    """libvirt's refusals: a total limit together with its read/write split."""
    values = _values(disk)
    for kind in ("bytes_sec", "iops_sec"):
        for suffix in ("", "_max"):
            total = values.get(f"total_{kind}{suffix}", "0") not in ("", "0")
            split = any(values.get(f"{rw}_{kind}{suffix}", "0") not in ("", "0") for rw in ("read", "write"))
            if total and split:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        f"total and read/write {kind}{suffix} cannot be set at the same time")  # fmt: skip
    unknown = set(values) - set(_BASE) - set(_OPTIONAL) - {"group_name"}
    if unknown:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown iotune setting '{sorted(unknown)[0]}'")


def disk_qom_path(disk: Disk) -> str:
    """Where QMP finds a disk's block backend: virtio-blk keeps it on its inner virtio device."""
    alias = disk.alias.name if disk.alias is not None and disk.alias.name else ""
    return f"/machine/peripheral/{alias}/virtio-backend" if disk.target_bus == "virtio" else alias


def throttle_args(disk: Disk, device_id: str) -> dict[str, Any] | None:
    """The arguments of block_set_io_throttle for this disk, or None when it has no ``<iotune>``."""
    values = _values(disk)
    if not values:
        return None
    check_iotune(disk)
    args: dict[str, Any] = {"id": device_id}
    args.update({qmp: int(values.get(xml) or 0) for xml, qmp in _BASE.items()})
    args.update({qmp: int(values[xml]) for xml, qmp in _OPTIONAL.items() if values.get(xml)})
    if values.get("group_name"):
        args["group"] = values["group_name"]
    return args
