"""What libvirt checks and fills in a new snapshot definition before a driver takes it.

Two steps, as libvirt's ``snapshot_conf.c`` has them, shared by every driver:

- :func:`check_snapshot_def` is the part of virDomainSnapshotDefParse (and
  virDomainSnapshotDiskDefParseXML) that goes beyond the XML's shape: the
  memory and disk snapshot modes, the memory file, the disks' types, image
  formats and absolute paths. A document that names a mode libvirt does not
  know is refused with libvirt's words, never stored.
- :func:`align_disks` is virDomainSnapshotAlignDisks: the snapshot's disks
  made one per domain disk, in the domain's order, each with its mode (asked,
  the domain disk's own, or the driver's default), and the file names of
  external snapshots generated from the image name and the snapshot name.
"""

from __future__ import annotations

import os
import stat

from pyvirt.conf.snapshot import SnapshotDisk
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, NotSupportedError, XMLError

TYPE_CHECKING = False  # not typing's: snapshot-create-as on test:/// would load typing for it (see xmlmodel.py)
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.domain_devices import Disk
    from pyvirt.conf.snapshot import Snapshot

__all__ = ["align_disks", "check_snapshot_def"]

# virDomainSnapshotLocation without "default": the attribute may not name the default (VIR_XML_PROP_NONZERO)
_LOCATIONS = ("no", "internal", "external", "manual")
# virStorageType without "none", as libvirt 9.0 spells them
_STORAGE_TYPES = ("file", "block", "dir", "network", "volume", "nvme", "vhostuser")
# virStorageFileFormat without "none"
_FORMATS = ("raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop",
            "cow", "qcow", "qcow2", "qed", "vmdk")  # fmt: skip
_OFFLINE_STATES = ("shutoff", "disk-snapshot")


def _xml_error(message: str) -> XMLError:
    return XMLError(ErrorCode.XML_ERROR, message, domain=ErrorDomain.DOMAIN_SNAPSHOT)


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message, domain=ErrorDomain.DOMAIN_SNAPSHOT)


def _enum(value: str, allowed: tuple[str, ...], attribute: str, element: str) -> str:
    """virXMLPropEnumDefault with VIR_XML_PROP_NONZERO: a value outside the enum, or its zero, is refused."""
    if value not in allowed:
        raise XMLError(
            ErrorCode.XML_ERROR, f"Invalid value for attribute '{attribute}' in element '{element}': '{value}'.",
            domain=ErrorDomain.XML,
        )  # fmt: skip
    return value


def check_snapshot_def(snap: Snapshot, *, redefine: bool = False, offline: bool = False) -> None:
    """virDomainSnapshotDefParse's checks of ``<memory>`` and ``<disks>``, with its defaults filled in.

    :param redefine: the document is a snapshot given back (VIR_DOMAIN_SNAPSHOT_PARSE_REDEFINE): its
        state says whether it was taken offline, and a missing memory mode follows from that.
    :param offline: the domain is not running (VIR_DOMAIN_SNAPSHOT_PARSE_OFFLINE, the QEMU driver's):
        no memory can be saved.
    """
    if redefine:
        offline = snap.state in _OFFLINE_STATES
    if snap.memory_snapshot is not None:
        _enum(snap.memory_snapshot, _LOCATIONS, "snapshot", "memory")
        if snap.memory_snapshot == "manual":
            raise _xml_error("'manual' memory snapshot mode not supported")
    if snap.memory_snapshot is None:
        if snap.memory_file:
            snap.memory_snapshot = "external"
        elif redefine:
            snap.memory_snapshot = "no" if offline else "internal"
    if snap.memory_file and snap.memory_snapshot != "external":
        raise _xml_error(f"memory filename '{snap.memory_file}' requires external snapshot")
    if not snap.memory_file and snap.memory_snapshot == "external":
        raise _xml_error("external memory snapshots require a filename")
    if offline and snap.memory_snapshot not in (None, "no"):
        raise _xml_error("memory state cannot be saved with offline or disk-only snapshot")
    if snap.memory_file and not snap.memory_file.startswith("/"):
        raise _xml_error(f"memory snapshot file path ({snap.memory_file}) must be absolute")
    for disk in snap.disks or []:
        _check_disk(disk)


def _check_disk(disk: SnapshotDisk) -> None:
    """virDomainSnapshotDiskDefParseXML: one ``<disk>`` of the snapshot."""
    if disk.name is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "missing name from disk snapshot element",
                            domain=ErrorDomain.DOMAIN_SNAPSHOT)  # fmt: skip
    if disk.snapshot is not None:
        _enum(disk.snapshot, _LOCATIONS, "snapshot", "disk")
    kind = _enum(disk.type, _STORAGE_TYPES, "type", "disk") if disk.type is not None else "file"
    if kind in ("volume", "dir"):
        raise _xml_error(f"unsupported disk snapshot type '{kind}'")
    if disk.driver_type is not None and disk.driver_type not in _FORMATS:
        raise _unsupported(f"unknown disk snapshot driver '{disk.driver_type}'")
    path = disk.source_dev if kind == "block" else disk.source_file
    if path is not None and kind in ("file", "block") and not path.startswith("/"):
        raise _xml_error(f"disk snapshot image path '{path}' must be absolute")
    if path or disk.driver_type:
        disk.type = kind  # formatted whenever the disk names an image (virDomainSnapshotDiskDefFormat)
        if disk.snapshot is None:
            disk.snapshot = "external"


def _source_path(disk: Disk) -> str | None:
    """virDomainDiskGetSource: the domain disk's ``src->path`` for its type."""
    kind = disk.type or "file"
    if kind == "file":
        return disk.source_file
    if kind == "block":
        return disk.source_dev
    if kind == "dir":
        return disk.source_dir
    if kind == "network":
        return disk.source_name
    return None


def _is_empty(disk: Disk) -> bool:
    """virStorageSourceIsEmpty: a local disk without a path, a disk of type none, a network disk without protocol."""
    kind = disk.type or "file"
    if kind in ("file", "block", "dir"):
        return _source_path(disk) is None
    return kind == "none" or (kind == "network" and not disk.source_protocol)


def _domain_mode(disk: Disk) -> str | None:
    """The guest disk's snapshot mode after libvirt's post-parse: read-only disks (CD-ROMs always are) and
    vhost-user disks default to 'no' (virDomainDiskDefPostParse)."""
    if disk.snapshot is None and (disk.readonly or disk.device == "cdrom" or disk.type == "vhostuser"):
        return "no"
    return disk.snapshot


def _disk_by_name(disks: list[Disk], name: str) -> Disk | None:
    """virDomainDiskByName without ambiguity: a target name, or (leading '/') the one disk with that source."""
    if not name.startswith("/"):
        return next((d for d in disks if d.target_dev == name), None)
    found = [d for d in disks if _source_path(d) == name]
    return found[0] if len(found) == 1 else None


def align_disks(snap: Snapshot, domain: Domain, default: str, uniform_internal: bool) -> None:
    """virDomainSnapshotAlignDisks: one snapshot disk per domain disk, in the domain's order.

    :param domain: the definition the snapshot is of (its ``<domain>`` copy).
    :param default: the mode of a disk that asks for none and whose domain disk has none.
    :param uniform_internal: with ``default`` "internal", every disk must take part in the internal
        snapshot (hypervisors that cannot snapshot some disks internally and not others).
    """
    domdisks = list(domain.devices.disks) if domain.devices is not None else []
    asked = snap.disks or []
    if len(asked) > len(domdisks):
        raise _unsupported("too many disk snapshot requests for domain")
    require_match = uniform_internal and default == "internal"
    if not domdisks:  # a guest without disks: nothing to align
        return
    chosen: dict[str, SnapshotDisk] = {}
    for want in asked:
        assert want.name is not None  # check_snapshot_def refused a disk without one
        disk = _disk_by_name(domdisks, want.name)
        if disk is None or disk.target_dev is None:
            raise _unsupported(f"no disk named '{want.name}'")
        if disk.target_dev in chosen:
            raise _unsupported(f"disk '{want.name}' specified twice")
        chosen[disk.target_dev] = want
        mode = _domain_mode(disk)
        if want.snapshot is None:
            if mode is not None and (not require_match or mode == "no"):
                want.snapshot = mode
            else:
                want.snapshot = default
        elif require_match and want.snapshot != default and not (want.snapshot == "no" and mode == "no"):
            raise _unsupported(f"disk '{want.name}' must use snapshot mode '{default}'")
        if want.path and want.snapshot != "external":
            raise _unsupported(f"file '{want.path}' for disk '{want.name}' requires use of external snapshot mode")
        want.name = disk.target_dev
    aligned: list[SnapshotDisk] = []
    for disk in domdisks:
        if disk.target_dev in chosen:
            aligned.append(chosen[disk.target_dev])
            continue
        mode = "no" if _is_empty(disk) else _domain_mode(disk)  # empty drives are not snapshotted
        aligned.append(SnapshotDisk(name=disk.target_dev, snapshot=mode or default))
    snap.disks = aligned
    _assign_external_names(snap, domdisks)
    for want in aligned:
        if not want.path and not want.driver_type:
            want.type = None  # libvirt writes the type only beside an image


def _assign_external_names(snap: Snapshot, domdisks: list[Disk]) -> None:
    """virDomainSnapshotDefAssignExternalNames: ``IMAGE.SNAPSHOT`` (the image's suffix dropped) for each
    external disk that names no file, next to a domain image that is a regular file."""
    disks = snap.disks or []
    for i, disk in enumerate(disks):
        if disk.snapshot != "external" or disk.path:
            continue
        kind = disk.type or "file"
        if kind != "file":
            raise _unsupported(f"cannot generate external snapshot name for disk '{disk.name}' on a '{kind}' device")
        origin = _source_path(domdisks[i])
        if origin is None:
            raise _unsupported(f"cannot generate external snapshot name for disk '{disk.name}' without source")
        try:
            regular = stat.S_ISREG(os.stat(origin).st_mode)
        except OSError:
            regular = False
        if not regular:
            raise _unsupported(
                f"source for disk '{disk.name}' is not a regular file; refusing to generate external snapshot name"
            )
        dot = origin.rfind(".")
        stem = origin[:dot] if dot >= 0 and "/" not in origin[dot:] else origin
        disk.source_file, disk.type = f"{stem}.{snap.name}", "file"
        for other in disks[:i]:
            if other.path == disk.source_file:
                raise _unsupported(
                    f"cannot generate external snapshot name for disk '{disk.name}': collision with disk '{other.name}'"
                )
