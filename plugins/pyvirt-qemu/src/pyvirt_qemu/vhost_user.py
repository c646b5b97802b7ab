"""vhost-user devices: a device model in QEMU whose backend is another process, reached over a unix socket.

Three kinds come from libvirt's XML, and each is a ``-chardev socket`` named ``chr-vu-<alias>``
followed by the device that uses it:

- ``<disk type='vhostuser'>``: vhost-user-blk; QEMU connects to the socket the XML names (a storage
  daemon serving it, e.g. ``qemu-storage-daemon --export type=vhost-user-blk``).
- ``<video><driver name='vhostuser'/>``: vhost-user-gpu/-vga; libvirt starts the vhost-user-gpu helper
  and hands QEMU one end of a socket pair, so the chardev is an fd the driver passes
  (``vhost_user_video_fd_key``).
- ``<filesystem><driver type='virtiofs'/>``: vhost-user-fs; the daemon (virtiofsd) listens on
  ``<source socket=...>`` when it was started outside libvirt, otherwise on the socket libvirt
  gives the one it starts (``<alias>-fs.sock`` in the domain's private directory).

QEMU shares the guest's RAM with the backend process, so every kind needs shared memory, checked
with libvirt's rule and words (qemuValidateDomainDefVhostUserRequireSharedMemory).
"""

from __future__ import annotations

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk, Filesystem
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.memory_backends import numa_cells

__all__ = [
    "check_vhost_user_disk",
    "require_shared_memory",
    "vhost_user_chardev_alias",
    "vhost_user_disk_chardev",
    "vhost_user_fs_socket",
    "vhost_user_video_fd_key",
]


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def vhost_user_chardev_alias(alias: str) -> str:
    """qemuDomainGetVhostUserChrAlias: the chardev a vhost-user device names."""
    return f"chr-vu-{alias}"


def vhost_user_video_fd_key(alias: str) -> str:
    """The ``fds`` key of the socket to a video's vhost-user-gpu helper (libvirt's ``<alias>-vhost-user``)."""
    return f"{alias}-vhost-user"


def vhost_user_fs_socket(fs: Filesystem, lib_dir: str, alias: str) -> str:
    """The socket of a virtiofs filesystem: the one the XML names for a daemon started outside libvirt, else
    the one the daemon libvirt starts listens on (qemuDomainGetVHostUserFSSocketPath)."""
    return fs.source_socket or f"{lib_dir}/{alias}-fs.sock"


def require_shared_memory(dom: Domain, name: str, default_ram_id: str | None) -> None:
    """The backend process maps guest RAM: without NUMA cells the machine's RAM must be shared (which needs a
    RAM backend object, ``default_ram_id``); with them, every cell must be shared, by itself or by default."""
    cells = numa_cells(dom)
    access = dom.memory_backing.access_mode if dom.memory_backing is not None else None
    if not cells and not (default_ram_id and access == "shared"):
        raise _refuse(f"'{name}' requires shared memory")
    for cell in cells:
        if cell.mem_access == "private" or (cell.mem_access is None and access != "shared"):
            raise _refuse(f"'{name}' requires shared memory")


# virDomainDiskVhostUserValidate's refusals, in its order: (what is set, libvirt's message)
def _disk_refusals(disk: Disk) -> list[tuple[object, str]]:
    return [
        (disk.snapshot not in (None, "no"), "only snapshot=no is supported with vhostuser disk"),
        (disk.driver_cache not in (None, "default"), "cache is not supported with vhostuser disk"),
        (disk.driver_error_policy or disk.driver_rerror_policy, "error_policy is not supported with vhostuser disk"),
        (disk.driver_io, "io is not supported with vhostuser disk"),
        (disk.driver_ioeventfd is not None, "ioeventfd is not supported with vhostuser disk"),
        (disk.driver_copy_on_read, "copy_on_read is not supported with vhostuser disk"),
        (disk.driver_discard, "discard is not supported with vhostuser disk"),
        (disk.driver_iothread, "iothread is not supported with vhostuser disk"),
        (disk.driver_detect_zeroes, "detect_zeroes is not supported with vhostuser disk"),
        (disk.driver_metadata_cache_max_size, "metadata_cache is not supported with vhostuser disk"),
        (disk.iotune, "iotune is not supported with vhostuser disk"),
        (disk.backing is not None, "backingStore is not supported with vhostuser disk"),
        (disk.encryption_format or disk.source_encryption_format, "encryption is not supported with vhostuser disk"),
        (disk.readonly, "readonly is not supported with vhostuser disk"),
        (disk.shareable, "shareable is not supported with vhostuser disk"),
        (disk.transient, "transient is not supported with vhostuser disk"),
        (disk.serial, "serial is not supported with vhostuser disk"),
        (disk.wwn, "wwn is not supported with vhostuser disk"),
        (disk.vendor, "vendor is not supported with vhostuser disk"),
        (disk.product, "product is not supported with vhostuser disk"),
        (disk.auth or disk.source_auth, "auth is not supported with vhostuser disk"),
        (disk.geometry_cyls or disk.geometry_heads or disk.geometry_secs or disk.geometry_trans,
         "geometry is not supported with vhostuser disk"),
        (disk.blockio_logical or disk.blockio_physical, "blockio is not supported with vhostuser disk"),
    ]  # fmt: skip


def check_vhost_user_disk(disk: Disk) -> None:
    """virDomainDiskVhostUserValidate: a vhost-user-blk disk is virtio, and QEMU's block layer (which the
    backend replaces) has none of its settings."""
    if disk.target_bus != "virtio":
        raise _refuse("vhostuser disk supports only virtio bus")
    for is_set, message in _disk_refusals(disk):
        if is_set:
            raise _refuse(message)


def vhost_user_disk_chardev(disk: Disk, alias: str) -> list[str]:
    """The socket QEMU connects to, with the ``<reconnect>`` timeout the XML gives (qemuBuildChardevCommand)."""
    text = f"socket,id={vhost_user_chardev_alias(alias)},path={disk.source_unix_path}"
    reconnect = disk.source_reconnect
    if reconnect is not None and reconnect.enabled is not None:
        text += f",reconnect={reconnect.timeout or 0}" if reconnect.enabled else ",reconnect=0"
    return ["-chardev", text]
