"""``<domainbackup>``: libvirt 9.0's src/conf/backup_conf.c for the QEMU driver (parse, align, format).

The description a caller hands to backup-begin is parsed once, checked the
way virDomainBackupDefParseXML checks it (the RNG first, then what the
schema cannot say), then completed against the running domain
(virDomainBackupAlignDisks): every disk of the domain gets an entry, the ones
named keep what was asked, and with no disk named every disk with media
that is not read-only is backed up, into ``<image>.<suffix>`` beside its
image. The same document, filled in, is what backup-dumpxml prints
(virDomainBackupDefFormat, not the internal status form).

Push mode names each disk's ``<target>``; pull mode names a ``<scratch>``
file that QEMU fills with the disk's old data as the guest overwrites it,
and a ``<server>`` where QEMU's NBD server listens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, InvalidArgumentError, NotSupportedError, XMLError
from pyvirt_qemu.block_nodes import has_media

__all__ = ["BackupDef", "BackupDisk", "BackupServer", "BackupTls", "align_disks", "format_backup", "parse_backup"]


@dataclass
class BackupDisk:
    """One ``<disk>`` of a ``<domainbackup>``: backup yes/no, and for yes its store (file or block device)."""

    name: str
    backup: bool = True
    path: str | None = None
    kind: str = "file"  # the store's type: file or block
    fmt: str | None = None
    backupmode: str | None = None
    incremental: str | None = None
    exportname: str | None = None
    exportbitmap: str | None = None
    index: int | None = None
    stored: bool = False  # whether the description gave (or alignment assigned) a store


@dataclass
class BackupServer:
    """``<server>`` of a pull backup (virStorageNetHostDef): where QEMU's NBD server listens."""

    transport: str = "tcp"
    name: str | None = None
    port: int = 0
    socket: str | None = None
    tls: bool | None = None


@dataclass(frozen=True)
class BackupTls:
    """qemu.conf's ``backup_tls_x509_*`` (libvirt's fallbacks to the ``default_tls_x509_*`` keys applied): where
    the NBD server of a ``tls='yes'`` pull backup finds its certificates, and whether it checks the client's."""

    cert_dir: str = "/etc/pki/qemu"
    verify: bool = True
    secret_uuid: str | None = None  # the server key's passphrase, a libvirt secret of usage 'tls'


@dataclass
class BackupDef:
    """virDomainBackupDef: the mode, the checkpoint an incremental backup starts from, the server and the disks."""

    mode: str = "push"
    incremental: str | None = None
    server: BackupServer | None = None
    disks: list[BackupDisk] = field(default_factory=list)

    @property
    def pull(self) -> bool:
        return self.mode == "pull"


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def _yes_no(elem: etree._Element, attr: str) -> bool | None:
    """virXMLPropTristateBool (the schema has already limited the value to yes/no)."""
    value = elem.get(attr)
    return None if value is None else value == "yes"


def _server(elem: etree._Element) -> BackupServer:
    """virDomainStorageNetworkParseHost, then the backup's own limits on the transport."""
    server = BackupServer(transport=elem.get("transport", "tcp"))
    if server.transport not in ("tcp", "unix", "rdma"):
        raise _unsupported(f"unknown protocol transport type '{server.transport}'")
    server.socket = elem.get("socket")
    if server.transport == "unix" and server.socket is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing socket for unix transport")
    if server.transport != "unix" and server.socket is not None:
        raise XMLError(ErrorCode.XML_ERROR, f"transport '{elem.get('transport')}' does not support socket attribute")
    if server.transport != "unix":
        server.name = elem.get("name")
        if server.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing name for host")
        port = elem.get("port")
        if port is not None:
            if not port.isdigit():  # virStringParsePort
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"failed to parse port number '{port}'")
            if int(port) > 65535:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"port '{port}' out of range")
            server.port = int(port)
    if server.transport == "rdma":
        raise _unsupported("transport rdma is not supported for <server>")
    if server.transport == "unix" and not (server.socket or "").startswith("/"):
        raise XMLError(ErrorCode.XML_ERROR, f"backup socket path '{server.socket}' must be absolute")
    server.tls = _yes_no(elem, "tls")
    return server


def _disk(elem: etree._Element, push: bool) -> BackupDisk:
    """virDomainBackupDiskDefParseXML (not internal)."""
    name = elem.get("name")
    if not name:
        raise XMLError(ErrorCode.XML_ERROR, "missing name from disk backup element")
    bd = BackupDisk(name, backup=_yes_no(elem, "backup") is not False)
    if not bd.backup:  # nothing else is read for a disk left out
        return bd
    if not push:
        bd.exportname, bd.exportbitmap = elem.get("exportname"), elem.get("exportbitmap")
    bd.backupmode, bd.incremental = elem.get("backupmode"), elem.get("incremental")
    kind = elem.get("type")
    bd.kind = kind or "file"
    if bd.kind not in ("file", "block"):
        raise XMLError(ErrorCode.XML_ERROR, f"unsupported disk backup type '{kind}'")
    driver = elem.find("driver")
    bd.fmt = driver.get("type") if driver is not None else None
    store = elem.find("target" if push else "scratch")
    bd.stored = True  # (virDomainStorageSourceParseBase: a store exists, with or without a path)
    if store is not None:
        bd.path = store.get("file" if bd.kind == "file" else "dev")
    return bd


def parse_backup(xml: str) -> BackupDef:
    """virDomainBackupDefParseString: validated against domainbackup.rng, then read."""
    from pyvirt.conf.schema import validate

    root = parse_xml(xml, "domainbackup", "domainbackup.xml")  # (the root checked there, in libvirt's words)
    validate(xml, "domainbackup")
    mode = root.get("mode")
    if mode is not None and mode not in ("push", "pull"):
        raise _unsupported(f"unknown backup mode '{mode}'")
    out = BackupDef(mode=mode or "push", incremental=root.findtext("incremental"))
    server = root.find("server")
    if server is not None:
        if not out.pull:
            raise _unsupported("use of <server> requires pull mode backup")
        out.server = _server(server)
    out.disks = [_disk(elem, not out.pull) for elem in root.findall("disks/*")]
    return out


def align_disks(bdef: BackupDef, dom: Domain, suffix: str) -> None:
    """virDomainBackupAlignDisks: the named disks checked and given stores, then every other disk of the domain
    (backed up only when none was named), and each disk's mode."""
    domdisks = {d.target_dev: d for d in (dom.devices.disks if dom.devices is not None else [])}
    if not domdisks:
        raise _unsupported("domain must have at least one disk to perform backup")
    seen: set[str] = set()
    for bd in bdef.disks:
        disk = domdisks.get(bd.name)
        if disk is None:
            raise _unsupported(f"no disk named '{bd.name}'")
        if bd.name in seen:
            raise _unsupported(f"disk '{bd.name}' specified twice")
        seen.add(bd.name)
        if bd.backupmode == "incremental" and not bd.incremental and not bdef.incremental:
            raise _unsupported(f"'incremental' backup mode of disk '{bd.name}' requires setting 'incremental' "
                               "field for disk or backup")  # fmt: skip
        if bd.backup:
            _assign_store(bd, disk, suffix)
    backup_all = not bdef.disks
    for target, disk in domdisks.items():
        if target in seen or target is None:
            continue
        bd = BackupDisk(target, backup=False)
        if backup_all and has_media(disk) and not disk.readonly:
            bd.backup = True
            _assign_store(bd, disk, suffix)
        bdef.disks.append(bd)
    for bd in bdef.disks:
        if bd.backupmode is None:
            bd.backupmode = "incremental" if (bdef.incremental or bd.incremental) else "full"
        if not bd.incremental and bd.backupmode == "incremental":
            bd.incremental = bdef.incremental


def _assign_store(bd: BackupDisk, disk: Disk, suffix: str) -> None:
    """virDomainBackupDefAssignStore: a disk without media cannot be backed up; a local image's backup (or
    scratch file) goes beside it unless a store was given."""
    if not has_media(disk):
        if bd.stored:
            raise _unsupported(f"disk '{bd.name}' has no media")
        return
    if not bd.stored:
        if disk.type in (None, "file") and disk.source_file:
            bd.kind, bd.path, bd.stored = "file", f"{disk.source_file}.{suffix}", True
        else:
            raise _unsupported(f"refusing to generate file name for disk '{bd.name}'")


def format_backup(bdef: BackupDef) -> str:
    """virDomainBackupDefFormat (not internal): the description as backup-dumpxml prints it."""
    root = etree.Element("domainbackup", mode=bdef.mode)
    if bdef.incremental:
        etree.SubElement(root, "incremental").text = bdef.incremental
    if bdef.server is not None:
        server = etree.SubElement(root, "server", transport=bdef.server.transport)
        if bdef.server.tls is not None:
            server.set("tls", "yes" if bdef.server.tls else "no")
        if bdef.server.name is not None:
            server.set("name", bdef.server.name)
        if bdef.server.port:
            server.set("port", str(bdef.server.port))
        if bdef.server.socket is not None:
            server.set("socket", bdef.server.socket)
    holder = etree.SubElement(root, "disks")
    for bd in bdef.disks:
        elem = etree.SubElement(holder, "disk", name=bd.name, backup="yes" if bd.backup else "no")
        if bd.backup and bd.stored:
            elem.set("type", bd.kind)
            for attr in ("backupmode", "incremental", "exportname", "exportbitmap"):
                value = getattr(bd, attr)
                if value:
                    elem.set(attr, value)
            if bd.index:
                elem.set("index", str(bd.index))
            if bd.fmt:
                etree.SubElement(elem, "driver", type=bd.fmt)
            store = etree.SubElement(elem, "scratch" if bdef.pull else "target")
            if bd.path is not None:
                store.set("file" if bd.kind == "file" else "dev", bd.path)
    if not len(holder):
        root.remove(holder)
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode").replace('"', "'") + "\n"
