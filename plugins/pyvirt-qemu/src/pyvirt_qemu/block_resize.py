"""Growing a running guest's disk: virDomainBlockResize, as libvirt 9.0's qemuDomainBlockResize.

QEMU resizes the image itself (QMP ``block_resize`` on the disk's top format
node): a raw file grows on the host, a qcow2's virtual size grows, and the
guest's device reports the new capacity at once. libvirt's checks come
first, in its order: the size in bytes (KiB unless the BYTES flag) must not
overflow, the domain must run, the disk must exist (by target or source
path, virDomainDiskByName), must not be a vhost-user disk, and must hold a
writable image. qcow2 and qed sizes are rounded up to whole 512-byte sectors,
as those formats require; a raw size QEMU cannot take is refused in QEMU's
words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, ErrorDomain, InvalidArgumentError, NotSupportedError, make_error
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.block_nodes import has_media, node_id
from pyvirt_qemu.device_aliases import disk_alias
from pyvirt_qemu.guest_stats import find_disk
from pyvirt_qemu.hotplug import top_nodes
from pyvirt_qemu.migration_jobs import running

if TYPE_CHECKING:
    from pyvirt.conf.domain_devices import Disk
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["RESIZE_BYTES", "block_resize"]

RESIZE_BYTES = 1  # VIR_DOMAIN_BLOCK_RESIZE_BYTES
_ULLONG_MAX = 2**64 - 1
_SECTORED = ("qcow2", "qed")  # formats sized in whole 512-byte sectors


def _drive_alias(disk: Disk) -> str:
    """qemuAliasDiskDriveFromDisk: SD cards are still addressed by their -drive (``drive-<alias>``)."""
    return f"drive-{_alias(disk)}"


def _alias(disk: Disk) -> str:
    return disk.alias.name if disk.alias is not None and disk.alias.name else disk_alias(disk)


def block_resize(conn: QemuConnection, dom: DomainRef, path: str, size: int, flags: int) -> None:
    """qemuDomainBlockResize: checks in libvirt's order, then QMP ``block_resize`` inside a MODIFY job."""
    check_flags(flags, RESIZE_BYTES, "qemuDomainBlockResize")
    if not flags & RESIZE_BYTES:
        if size > _ULLONG_MAX // 1024:
            raise make_error(ErrorCode.OVERFLOW, f"size must be less than {_ULLONG_MAX // 1024}",
                             domain=ErrorDomain.QEMU)  # fmt: skip
        size *= 1024
    obj = conn.state.find(dom)
    with obj.job.holding(Job.MODIFY):
        proc = running(obj)
        found = find_disk(obj.live, path)
        if found is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"disk '{path}' was not found in the domain config",
                                       domain=ErrorDomain.QEMU)  # fmt: skip
        position, disk = found
        if disk.type == "vhostuser":
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "block resize is not supported for vhostuser disk",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
        if disk.driver_type in _SECTORED:
            size = -(-size // 512) * 512
        if not has_media(disk) or disk.readonly:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    f"can't resize empty or readonly disk '{disk.target_dev}'",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
        args: dict[str, Any]
        if disk.target_bus == "sd":
            args = {"device": _drive_alias(disk), "size": size}
        else:
            # the disk's top node: after an external snapshot, the overlay QEMU now writes to
            node = top_nodes(proc.monitor).get(_alias(disk), f"libvirt-{node_id(position, disk)}-format")
            args = {"node-name": node, "size": size}
        proc.monitor.execute("block_resize", args)
