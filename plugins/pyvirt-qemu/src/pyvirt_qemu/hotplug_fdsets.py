"""A disk plugged on descriptors a client associated (``<source fdgroup='NAME'/>``): QEMU gets them over QMP.

Why: at start the group's descriptors ride on QEMU's command line
(``-add-fd``, pyvirt_qemu.fd_groups); a running QEMU receives them on its
monitor socket instead (SCM_RIGHTS with ``add-fd``), all in one descriptor
set, and the disk's storage node then opens ``/dev/fdset/N``. libvirt 9.0
prepares the duplicates on hot-plug too (qemuDomainPrepareStorageSourceFDs)
but sends no ``add-fd`` before its ``blockdev-add``; libvirt 9.1 passes them
(qemuFDPassTransferMonitor from qemuBlockStorageSourceAttachApply) and its
detach removes the set: that is what this module does. Each descriptor's
opaque is the storage node's name and its index, as on the command line, so
a detach finds the set of a disk plugged at start or later alike (libvirt's
qemuHotplugRemoveFDSet looks sets up the same way).
"""

from __future__ import annotations

import contextlib
import os
import re

from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import Error
from pyvirt_qemu.fd_groups import FdGroup, group_of
from pyvirt_qemu.monitor import Monitor

__all__ = ["pass_disk_fds", "remove_disk_fdsets"]


def _storage_node(disk: Disk) -> str:
    return f"libvirt-{disk.source_index}-storage"


def pass_disk_fds(monitor: Monitor, disk: Disk, groups: dict[str, FdGroup]) -> int | None:
    """Give QEMU the descriptors of the group the disk's source names, in one new set; its number, or None for
    a disk without ``fdgroup``. A failure part way removes the set: QEMU is left as it was.

    :raises Error: INVALID_ARG, libvirt's words, when no group of that name is associated; QEMU's refusal.
    """
    group = group_of(disk, groups)
    if group is None:
        return None
    fdset: int | None = None
    try:
        for i, fd in enumerate(group.fds):
            # a duplicate of our own: the connection that associated the group may close (and the group's
            # descriptors with it) while this one is on its way
            copy = os.dup(fd)
            try:
                fdset = monitor.add_fd(copy, fdset, f"{_storage_node(disk)}{i}")
            finally:
                os.close(copy)
    except BaseException:
        if fdset is not None:
            with contextlib.suppress(Error):
                monitor.execute("remove-fd", {"fdset-id": fdset})
        raise
    return fdset


def remove_disk_fdsets(monitor: Monitor, disk: Disk) -> None:
    """The disk's nodes are gone: drop the descriptor sets QEMU holds for it (``remove-fd``), found by the
    opaque of their descriptors; nothing for a disk without ``fdgroup``."""
    if disk.source_fdgroup is None:
        return
    mine = re.compile(re.escape(_storage_node(disk)) + r"\d+")
    for fdset in monitor.execute("query-fdsets"):
        if any(mine.fullmatch(str(fd.get("opaque", ""))) for fd in fdset.get("fds", [])):
            monitor.execute("remove-fd", {"fdset-id": fdset["fdset-id"]})
