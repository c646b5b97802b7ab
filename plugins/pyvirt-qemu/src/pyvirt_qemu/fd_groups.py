"""virDomainFDAssociate for the QEMU driver: descriptors a client hands a domain under a name.

Why: a client may be able to open an image the daemon cannot (its own file,
a path only it reaches); it passes the open descriptors instead, and a disk
whose source says ``fdgroup='NAME'`` is to use them. libvirt 9.0 keeps each
group in the domain's private data (``priv->fds``, a virStorageSourceFDTuple
per name: duplicates of the descriptors, the WRITABLE and RESTORE label
flags) until the connection that associated it closes
(qemuDomainFDHashCloseConnect); a second group of the same name replaces the
first. This module is that table and the hook (qemuDomainFDAssociate).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, NamedTuple

from pyvirt.errors import ErrorCode, ErrorDomain, InvalidArgumentError, SystemCallError
from pyvirt.flags import DomainFDAssociateFlags
from pyvirt.local_driver.fd_owner import at_close, current_owner
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt_qemu.connection_base import QemuConnectionBase

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.domain_devices import Disk
    from pyvirt.plugin.records import DomainRef
    from pyvirt_qemu.state import QemuState

__all__ = [
    "FdAssociateHooks", "FdGroup", "disk_fd_key", "fdset_source_args", "fdset_storage_node", "group_of",
    "groups_of", "open_disk_fds",
    "release_connection",
]  # fmt: skip


class FdGroup(NamedTuple):
    """libvirt's virStorageSourceFDTuple: the driver's own duplicates and how to label the file."""

    fds: list[int]
    writable: bool  # VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE
    restore_label: bool  # VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_RESTORE
    owner: Hashable  # pyvirtd's client that associated it, or id() of this driver's connection


# per driver state: domain UUID -> group name -> group
_TABLES: weakref.WeakKeyDictionary[QemuState, dict[str, dict[str, FdGroup]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _close(group: FdGroup) -> None:
    for fd in group.fds:
        os.close(fd)


def groups_of(state: QemuState, uuid: str) -> dict[str, FdGroup]:
    """A copy of the domain's groups by name (what a disk's ``fdgroup`` is looked up in)."""
    with _LOCK:
        return dict(_TABLES.get(state, {}).get(uuid, {}))


def release_connection(state: QemuState, owner: object) -> None:
    """qemuDomainFDHashCloseConnect for a connection of this driver that closes (in-process callers)."""
    release_owner(state, id(owner))


def release_owner(state: QemuState, owner: Hashable) -> None:
    """qemuDomainFDHashCloseConnect: the groups ``owner`` associated go, their descriptors closed."""
    gone: list[FdGroup] = []
    with _LOCK:
        for groups in _TABLES.get(state, {}).values():
            for name in [n for n, g in groups.items() if g.owner == owner]:
                gone.append(groups.pop(name))
    for group in gone:
        _close(group)


def disk_fd_key(disk: Disk, index: int) -> str:
    """The key of a disk's ``index``-th descriptor among those QEMU is started with."""
    return f"storage-fd:{disk.target_dev}:{index}"


def group_of(disk: Disk, groups: dict[str, FdGroup]) -> FdGroup | None:
    """The associated group a disk's source names (None for a disk without ``fdgroup``).

    :raises Error: INVALID_ARG, libvirt's words, when no group of that name is associated.
    """
    if disk.source_fdgroup is None:
        return None
    group = groups.get(disk.source_fdgroup)
    if group is None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            f"file descriptor group '{disk.source_fdgroup}' was not associated with the domain",
            domain=ErrorDomain.QEMU,
        )
    return group


def open_disk_fds(dom: Domain, groups: dict[str, FdGroup]) -> dict[str, int]:
    """libvirt 9.0's qemuDomainPrepareStorageSourceFDs at start: a duplicate of each descriptor of the group a
    disk's source names, for QEMU (the caller closes them once QEMU has its copies).

    :raises Error: INVALID_ARG, libvirt's words, when no group of that name is associated.
    """
    out: dict[str, int] = {}
    try:
        for disk in dom.devices.disks if dom.devices is not None else []:
            group = group_of(disk, groups)
            if group is None:
                continue
            for i, fd in enumerate(group.fds):
                out[disk_fd_key(disk, i)] = os.dup(fd)
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out


def fdset_source_args(disk: Disk, fds: dict[str, int], fdset: int, source_args: list[str]) -> list[str]:
    """A disk whose image QEMU opens through a descriptor set: ``-add-fd`` per descriptor (opaque
    ``libvirt-N-storageI``), then its nodes with the storage node's file ``/dev/fdset/SET``; a writable image
    is opened read-write at once (``"read-only":false``, not auto-read-only: a passed descriptor cannot be
    reopened), as libvirt 9.0's command line for such a disk (qemuxml2argvdata/disk-source-fd)."""
    import json

    node = f"libvirt-{disk.source_index}-storage"
    out: list[str] = []
    i = 0
    while disk_fd_key(disk, i) in fds:
        out += ["-add-fd", f"set={fdset},fd={fds[disk_fd_key(disk, i)]},opaque={node}{i}"]
        i += 1
    for arg in source_args:
        props = json.loads(arg) if arg.startswith("{") else None
        if isinstance(props, dict) and props.get("node-name") == node:
            out.append(json.dumps(fdset_storage_node(disk, props, fdset), separators=(",", ":")))
        else:
            out.append(arg)
    return out


def fdset_storage_node(disk: Disk, props: dict[str, Any], fdset: int) -> dict[str, Any]:
    """The storage node ``props`` of a disk opened through descriptor set ``fdset``: its file is
    ``/dev/fdset/SET``, read-write at once unless the disk is read-only (a passed descriptor cannot be reopened)."""
    props = {**props, "filename": f"/dev/fdset/{fdset}"}
    if not disk.readonly:
        props = {("read-only" if k == "auto-read-only" else k): (False if k == "auto-read-only" else v)
                 for k, v in props.items()}  # fmt: skip
    return props


class FdAssociateHooks(QemuConnectionBase):
    """The hook, mixed into the QEMU driver's connection (which provides ``state``)."""

    @hookimpl
    def domain_fd_associate(self, dom: DomainRef, name: str, files: list[int], flags: int) -> None:
        """libvirt 9.0's qemuDomainFDAssociate: keep duplicates under ``name``, replacing a group so named."""
        check_flags(flags, DomainFDAssociateFlags.RESTORE | DomainFDAssociateFlags.WRITABLE, "qemuDomainFDAssociate")
        if not files:
            return
        self.state.find(dom)  # (NO_DOMAIN when it is gone)
        dups: list[int] = []
        try:
            for i, fd in enumerate(files):
                try:
                    dups.append(os.dup(fd))
                except OSError as e:
                    raise SystemCallError(
                        e.errno or 0, f"failed to duplicate passed fd with index '{i}'", domain=ErrorDomain.QEMU
                    ) from e
        except BaseException:
            for fd in dups:
                os.close(fd)
            raise
        owner = current_owner(id(self))
        writable, restore = bool(flags & DomainFDAssociateFlags.WRITABLE), bool(flags & DomainFDAssociateFlags.RESTORE)
        group = FdGroup(dups, writable, restore, owner)
        if owner != id(self):  # a pyvirtd client: its departure drops what it associated
            state = self.state
            at_close(owner, lambda: release_owner(state, owner))
        with _LOCK:
            old = _TABLES.setdefault(self.state, {}).setdefault(dom.uuid, {}).get(name)
            _TABLES[self.state][dom.uuid][name] = group
        if old is not None:
            _close(old)
