"""A disk's ``startupPolicy``: what a start does when the disk's image is missing on the host.

libvirt checks each disk's local source before it starts QEMU (qemuProcessPrepareHostStorage, last disk first):
a missing image fails the start unless the disk's policy lets it go (qemuDomainCheckDiskStartupPolicy).
``optional`` lets it go on every start; ``requisite`` (CD-ROMs and floppies only) only when the guest comes back
from a saved image or a migration, never on a cold boot; ``mandatory`` (and no policy) never. A CD-ROM or floppy
let go keeps its drive, empty, and loses the policy; any other disk is removed from the running guest. The
definition itself is untouched. Each disk let go is reported as libvirt's disk-change event once the guest
has started (the driver's ``_missing_on_start``).
"""

from __future__ import annotations

import errno
import os

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, SystemCallError, XMLError

__all__ = ["check_startup_policies", "drop_missing_disks"]

_LOCAL_TYPES = (None, "file", "block", "dir")


def _source(disk: Disk) -> str | None:
    return disk.source_file or disk.source_dev or disk.source_dir


def check_startup_policies(dom: Domain) -> None:
    """virDomainDiskDefValidateStartupPolicy, for every disk: a policy needs local storage (or a volume), and
    'requisite' a CD-ROM or floppy."""
    for disk in dom.devices.disks if dom.devices is not None else []:
        policy = disk.source_startup_policy
        if policy is None:
            continue
        if disk.type not in (*_LOCAL_TYPES, "volume"):
            raise XMLError(ErrorCode.XML_ERROR,
                           f"disk startupPolicy '{policy}' is not allowed for disk of '{disk.type}' type")  # fmt: skip
        if policy == "requisite" and disk.device not in ("cdrom", "floppy"):
            raise XMLError(ErrorCode.XML_ERROR, "disk startupPolicy 'requisite' is allowed only for cdrom or floppy")


def drop_missing_disks(dom: Domain, cold_boot: bool) -> list[str]:
    """Apply the policies to ``dom`` (the live definition of a start) in place; returns the targets let go.

    ``cold_boot``: a new start, not a restore or an incoming migration. A missing image whose policy does not
    let it go raises libvirt's error for the inaccessible file.
    """
    devices = dom.devices
    if devices is None:
        return []
    dropped: list[str] = []
    for disk in reversed(list(devices.disks)):
        path = _source(disk)
        if disk.type not in (*_LOCAL_TYPES, "volume") or not path or os.path.exists(path):
            continue
        policy = disk.source_startup_policy
        removable = disk.device in ("cdrom", "floppy")
        allowed = (policy == "optional" and (cold_boot or removable)) or (policy == "requisite" and not cold_boot)
        if not allowed:
            raise SystemCallError(errno.ENOENT, f"Cannot access storage file '{path}'")
        dropped.append(disk.target_dev or "")
        if removable:  # an empty drive; the old policy would be invalid for a new medium
            disk.source_file = disk.source_dev = disk.source_dir = None
            disk.source_startup_policy = None
        else:
            devices.disks.remove(disk)
    return dropped
