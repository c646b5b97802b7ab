"""What keeps a guest from migrating: devices bound to this host, and disks the destination cannot see.

libvirt's qemuMigrationSrcIsAllowed (host devices other than USB, snapshots,
whose metadata would stay behind) and qemuMigrationSrcIsSafe (a writable
disk image on a local filesystem: the destination would open another file of
the same name, or none), checked in Begin, before anything happens.
"""

from __future__ import annotations

import os

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.errors import ErrorCode, ErrorDomain, NotSupportedError, OperationInvalidError, make_error
from pyvirt.local_driver.paths import DriverPaths
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.moment_domain import migratable_xml, moment_domain
from pyvirt_qemu.save_image_xml import check_abi_stability
from pyvirt_qemu.snapshots import SnapshotStore
from pyvirt_qemu.state import DomainObj

__all__ = ["begin_xml", "check_allowed", "check_safe"]


def check_allowed(paths: DriverPaths, obj: DomainObj) -> None:
    """libvirt's qemuMigrationSrcIsAllowed, for what this driver can run: host-local devices stay here."""
    dom = obj.live
    for hostdev in dom.devices.hostdevs if dom.devices is not None else []:
        if hostdev.mode == "capabilities":
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    "cannot migrate a domain with <hostdev mode='capabilities'>",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
        if hostdev.type != "usb":
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    f"cannot migrate a domain with <hostdev mode='subsystem' type='{hostdev.type}'>",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
    for disk in dom.devices.disks if dom.devices is not None else []:
        if disk.transient:  # (its overlay is this host's and goes when the guest stops here)
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "migration with transient disk is not supported",
                                        domain=ErrorDomain.QEMU)  # fmt: skip
    count = len(SnapshotStore(paths, obj.name).names())
    if count:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"cannot migrate domain with {count} snapshots",
                                    domain=ErrorDomain.QEMU)  # fmt: skip


# Filesystems libvirt's virFileIsSharedFS counts as shared (mountinfo's names for its statfs magics)
_SHARED_FS = frozenset({
    "nfs", "nfs4", "gfs", "gfs2", "ocfs2", "afs", "smbfs", "smb3", "cifs", "ceph", "gpfs", "fuse.quobyte", "acfs",
    "fuse.glusterfs",
})  # fmt: skip


def _filesystem_type(path: str) -> str:
    """The type of the filesystem holding ``path`` (its longest mount point in /proc/self/mountinfo)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            mount = fields[4].replace("\\040", " ")
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, fields[sep + 1]
    return kind


def check_safe(dom: Domain) -> None:
    """libvirt's qemuMigrationSrcIsSafe: a writable disk on a host-local filesystem would not be seen by the
    destination (and QEMU 4.0+ drops its caches, so the cache mode does not matter); ``--unsafe`` overrides."""
    for disk in dom.devices.disks if dom.devices is not None else []:
        path = disk.source_file
        if disk.readonly or not path or disk.type not in (None, "file"):
            continue
        if _filesystem_type(path) not in _SHARED_FS:
            raise make_error(ErrorCode.MIGRATE_UNSAFE, "Migration without shared storage is unsafe",
                             domain=ErrorDomain.QEMU)  # fmt: skip


def begin_xml(live: Domain, given: str | None, paths: DriverPaths) -> str:
    """qemuMigrationSrcBeginXML: the domain XML a migration sends. Without the caller's XML, the migratable
    copy of the live definition; with it, that XML read as a definition, checked against the guest as
    qemuDomainMigratableDefCheckABIStability does (both sides' migratable copies, virDomainDefCheckABIStability's
    words) and formatted migratable as well, so the destination gets what libvirt would send."""
    if not given:
        return migratable_xml(live, paths, 0)
    new = apply_defaults(parse_domain(given), paths.cache, new_domain=False, channel_dir=paths.lib)
    check_abi_stability(moment_domain(live, paths), moment_domain(new, paths, running=False))
    return migratable_xml(new, paths, 0, running=False)
