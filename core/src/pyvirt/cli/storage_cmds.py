"""Storage commands: pool-* and vol-*."""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import VOL, VOL_POOL, get_pool, get_volume
from pyvirt.cli.table import print_table
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error
from pyvirt.list_filters import (
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    LIST_NO_AUTOSTART,
    LIST_PERSISTENT,
    LIST_TRANSIENT,
)

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    from pyvirt.storage import StoragePool, StorageVolume

POOL = Opt("pool", "pool name or uuid", required=True, positional=True)
# pyvirt.flags names these; a short run does not load it (test_flag_literals checks each value)
_XML_INACTIVE = 1 << 0  # VIR_STORAGE_XML_INACTIVE
_PREALLOC_METADATA = 1 << 0  # VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
_VOL_CREATE_VALIDATE = 1 << 2  # VIR_STORAGE_VOL_CREATE_VALIDATE
_DELETE_WITH_SNAPSHOTS = 1 << 1  # VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS
_SPARSE_STREAM = 1 << 0  # VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM, VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM
POOL_STATES = {0: "inactive", 1: "building", 2: "running", 3: "degraded", 4: "inaccessible"}
VOL_TYPES = {0: "file", 1: "block", 2: "dir", 3: "network", 4: "netdir", 5: "ploop"}


def _yn(v: bool) -> str:
    return "yes" if v else "no"


def _bytes_text(value: int) -> str:
    """A size as virsh prints it (``1.50 GiB``); pyvirt.conf.units loads ``re``, so only a size printed pays."""
    from pyvirt.conf.units import format_bytes_virsh

    return format_bytes_virsh(value)


@command(
    "pool-list", "list pools",
    Opt("inactive", "list inactive pools", flag=True), Opt("all", "list inactive & active pools", flag=True),
    Opt("transient", "list transient pools", flag=True), Opt("persistent", "list persistent pools", flag=True),
    Opt("autostart", "list pools with autostart enabled", flag=True),
    Opt("no-autostart", "list pools with autostart disabled", flag=True),
    Opt("type", "only list pool of specified type(s) (if supported)"),
    Opt("details", "display extended details for pools", flag=True),
    Opt("uuid", "list UUID of active pools only", flag=True), Opt("name", "list name of active pools only", flag=True),
)  # fmt: skip
def cmd_pool_list(s: Session, o: dict[str, Any]) -> None:
    flags = 0 if o["all"] else (LIST_INACTIVE if o["inactive"] else LIST_ACTIVE)
    flags |= (LIST_PERSISTENT if o["persistent"] else 0) | (LIST_TRANSIENT if o["transient"] else 0)
    flags |= (LIST_AUTOSTART if o["autostart"] else 0) | (LIST_NO_AUTOSTART if o["no-autostart"] else 0)
    for other in ("uuid", "name"):  # VSH_EXCLUSIVE_OPTIONS, before --type is read
        if o["details"] and o[other]:
            raise CommandError(f"Options --details and --{other} are mutually exclusive")
    if o["type"] is not None:
        if not o["type"]:  # vshCommandOptStringReq
            raise CommandError("Failed to get option 'type': Option argument is empty")
        flags |= _pool_type_flags(o["type"])
    pools = s.conn.list_all_storage_pools(flags)
    if o["name"] or o["uuid"]:
        for p in pools:
            if o["uuid"] and o["name"]:
                s.out(f"{p.uuid}  {p.name}")
            elif o["uuid"]:
                s.out(p.uuid)
            else:
                s.out(f"{p.name:<20}")
        return
    headers = ["Name", "State", "Autostart"]
    if o["details"]:
        headers += ["Persistent", "Capacity", "Allocation", "Available"]
    rows = []
    for p in pools:
        info = p.info()
        state = POOL_STATES.get(info.state, "unknown") if o["details"] else ("active" if info.state else "inactive")
        row = [p.name, state, _yn(p.autostart)]
        if o["details"]:
            active = info.state == 2
            row += [_yn(p.is_persistent())] + [
                _bytes_text(v) if active else "-" for v in (info.capacity, info.allocation, info.available)
            ]
        rows.append(row)
    print_table(s, headers, rows)


# virStoragePoolType's names, in libvirt's order, each with its VIR_CONNECT_LIST_STORAGE_POOLS_<TYPE> flag's name
_POOL_TYPES = (
    "dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd", "sheepdog", "gluster",
    "zfs", "vstorage",
)  # fmt: skip


def _pool_type_flags(text: str) -> int:
    """pool-list --type: a comma list (",," for a comma in a name, as vshStringToArray reads it) of pool types."""
    from pyvirt.flags import ConnectListAllStoragePoolsFlags

    names = [part.replace("\0", ",") for part in text.replace(",,", "\0").split(",")]
    flags = 0
    for name in names:
        if name not in _POOL_TYPES:
            raise CommandError(f"Invalid pool type '{name}'")
        flags |= ConnectListAllStoragePoolsFlags[name.upper().replace("-", "_")]
    return flags


@command("pool-info", "storage pool information", POOL, Opt("bytes", "Reture pool info in bytes", flag=True))
def cmd_pool_info(s: Session, o: dict[str, Any]) -> None:
    p = get_pool(s, o["pool"])
    info = p.info()
    s.out(f"{'Name:':<15} {p.name}")
    s.out(f"{'UUID:':<15} {p.uuid}")
    s.out(f"{'State:':<15} {POOL_STATES.get(info.state, 'unknown')}")
    s.out(f"{'Persistent:':<15} {_yn(p.is_persistent())}")
    s.out(f"{'Autostart:':<15} {_yn(p.autostart)}")
    if info.state in (2, 3):
        for label, value in (("Capacity:", info.capacity), ("Allocation:", info.allocation),
                             ("Available:", info.available)):  # fmt: skip
            s.out(f"{label:<15} {value if o['bytes'] else _bytes_text(value)}")


@command("pool-dumpxml", "pool information in XML", POOL, Opt("inactive", "show inactive defined XML", flag=True),
         *XPATH_OPTS)  # fmt: skip
def cmd_pool_dumpxml(s: Session, o: dict[str, Any]) -> None:
    print_xml(s, get_pool(s, o["pool"]).xml_desc(_XML_INACTIVE if o["inactive"] else 0), o)


@command("pool-define", "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
         Opt("file", "file containing an XML pool description", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True))  # fmt: skip
def cmd_pool_define(s: Session, o: dict[str, Any]) -> None:
    xml = read_file(o["file"])
    try:
        p = s.conn.define_storage_pool(xml)
    except Error as exc:
        raise CommandError(f"Failed to define pool from {o['file']}", exc.message) from None
    s.extra(f"Pool {p.name} defined from {o['file']}")


_BUILD_OPTS = (  # virsh's order (VIRSH_COMMON_OPT_POOL_BUILD, _NO_OVERWRITE, _OVERWRITE): help lists them so
    Opt("build", "build the pool as normal", flag=True),
    Opt("no-overwrite", "do not overwrite any existing data", flag=True),
    Opt("overwrite", "overwrite any existing data", flag=True),
)


def _build_flags(o: dict[str, Any]) -> int:
    """VIR_STORAGE_POOL_CREATE_WITH_BUILD (1), _OVERWRITE (2), _NO_OVERWRITE (4), as virsh maps its options."""
    if o["overwrite"] and o["no-overwrite"]:
        raise CommandError("Options --overwrite and --no-overwrite are mutually exclusive")
    return (1 if o["build"] else 0) | (2 if o["overwrite"] else 0) | (4 if o["no-overwrite"] else 0)


@command("pool-create", "create a pool from an XML file",
         Opt("file", "file containing an XML pool description", required=True, positional=True),
         *_BUILD_OPTS)  # fmt: skip
def cmd_pool_create(s: Session, o: dict[str, Any]) -> None:
    flags = _build_flags(o)  # virsh refuses --overwrite with --no-overwrite before it reads the file
    xml = read_file(o["file"])
    try:
        p = s.conn.create_storage_pool(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to create pool from {o['file']}", exc.message) from None
    s.extra(f"Pool {p.name} created from {o['file']}")


def _pool_action(name: str, summary: str, method: str, verb: str, done: str, *extra: Opt) -> None:
    def handler(s: Session, o: dict[str, Any]) -> None:
        p = get_pool(s, o["pool"])
        try:
            getattr(p, method)(*([_build_flags(o)] if extra else []))
        except Error as exc:
            raise CommandError(f"Failed to {verb} pool {p.name}", exc.message) from None
        s.extra(f"Pool {p.name} {done}")

    command(name, summary, POOL, *extra)(handler)


_pool_action("pool-start", "start a (previously defined) inactive pool", "create", "start", "started", *_BUILD_OPTS)
_pool_action("pool-destroy", "destroy (stop) a pool", "destroy", "destroy", "destroyed")
_pool_action("pool-refresh", "refresh a pool", "refresh", "refresh", "refreshed")
_pool_action("pool-undefine", "undefine an inactive pool", "undefine", "undefine", "has been undefined")


@command("pool-autostart", "autostart a pool", POOL, Opt("disable", "disable autostarting", flag=True))
def cmd_pool_autostart(s: Session, o: dict[str, Any]) -> None:
    p = get_pool(s, o["pool"])
    try:
        p.autostart = not o["disable"]
    except Error as exc:
        raise CommandError(
            f"failed to {'un' if o['disable'] else ''}mark pool {p.name} as autostarted", exc.message
        ) from None
    s.extra(f"Pool {p.name} {'unmarked' if o['disable'] else 'marked'} as autostarted")


@command("vol-list", "list vols", POOL, Opt("details", "display extended details for volumes", flag=True))
def cmd_vol_list(s: Session, o: dict[str, Any]) -> None:
    p = get_pool(s, o["pool"])
    try:
        vols = p.list_all_volumes()
    except Error as exc:
        raise CommandError("Failed to list storage volumes", exc.message) from None
    rows = []
    for v in vols:
        row = [v.name, v.path()]
        if o["details"]:
            info = v.info()
            row += [
                VOL_TYPES.get(info.type, "unknown"),
                _bytes_text(info.capacity),
                _bytes_text(info.allocation),
            ]
        rows.append(row)
    headers = ["Name", "Path"] + (["Type", "Capacity", "Allocation"] if o["details"] else [])
    print_table(s, headers, rows)


@command(
    "vol-info",
    "storage vol information",
    VOL,
    VOL_POOL,
    Opt("bytes", "sizes are represented in bytes rather than pretty units", flag=True),
    Opt("physical", "return the physical size of the volume in allocation field", flag=True),
)
def cmd_vol_info(s: Session, o: dict[str, Any]) -> None:
    """virsh's layout: the name first (before the info call can fail), sizes in bytes with " bytes"."""
    v = get_volume(s, o["vol"], o["pool"])
    s.out(f"{'Name:':<15} {v.name}")
    if o["physical"]:  # virStorageVolGetInfoFlags: no hook carries it yet
        from pyvirt.cli.nosupport import not_supported

        raise CommandError(not_supported("virStorageVolGetInfoFlags").message)
    info = v.info()
    s.out(f"{'Type:':<15} {VOL_TYPES.get(info.type, 'unknown')}")
    for label, value in (("Capacity:", info.capacity), ("Allocation:", info.allocation)):
        s.out(f"{label:<15} {f'{value} bytes' if o['bytes'] else _bytes_text(value)}")


@command("vol-dumpxml", "vol information in XML", VOL, VOL_POOL, *XPATH_OPTS)
def cmd_vol_dumpxml(s: Session, o: dict[str, Any]) -> None:
    print_xml(s, get_volume(s, o["vol"], o["pool"]).xml_desc(), o)


@command("vol-path", "returns the volume path for a given volume name or key", VOL, VOL_POOL)
def cmd_vol_path(s: Session, o: dict[str, Any]) -> None:
    s.out(get_volume(s, o["vol"], o["pool"]).path())


def _size(text: str, what: str) -> int:
    """virshVolSize: a C unsigned number (no minus sign), then virScaleInteger's unit.

    A bad number is only "Malformed size"; a bad unit adds libvirt's own
    "unknown suffix" line, as virsh shows the error virScaleInteger left.
    """
    import re

    from pyvirt.conf.units import unit_factor

    match = re.match(r"[ \t\n\v\f\r]*\+?(\d+)", text)
    if match is None:
        raise CommandError(f"Malformed size {text}")
    suffix = text[match.end() :]
    try:
        return int(match[1]) * (unit_factor(suffix) if suffix else 1)
    except ValueError:
        raise CommandError(f"Malformed size {text}", f"invalid argument: unknown suffix '{suffix}'") from None


@command(
    "vol-create-as", "create a volume from a set of args", POOL,
    Opt("name", "name of the volume", required=True, positional=True),
    Opt("capacity", "size of the vol, as scaled integer (default bytes)", required=True, positional=True),
    Opt("allocation", "initial allocation size, as scaled integer (default bytes)"),
    Opt("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
    Opt("backing-vol", "the backing volume if taking a snapshot"),
    Opt("backing-vol-format", "format of backing volume if taking a snapshot"),
    Opt("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)", flag=True),
    Opt("print-xml", "print XML document, but don't define/create", flag=True),
)  # fmt: skip
def cmd_vol_create_as(s: Session, o: dict[str, Any]) -> None:
    cap = _size(o["capacity"], "capacity")
    xml = f"<volume>\n  <name>{o['name']}</name>\n  <capacity>{cap}</capacity>\n"
    if o["allocation"]:
        xml += f"  <allocation>{_size(o['allocation'], 'allocation')}</allocation>\n"
    if o["format"]:
        xml += f"  <target>\n    <format type='{o['format']}'/>\n  </target>\n"
    p = get_pool(s, o["pool"]) if o["backing-vol"] or not o["print-xml"] else None
    if o["backing-vol"]:
        assert p is not None
        xml += _backing_store(s, p, o["backing-vol"], o["backing-vol-format"])
    xml += "</volume>\n"
    if o["print-xml"]:
        s.out(xml.rstrip("\n"))
        return
    assert p is not None
    try:
        p.create_volume(xml, _PREALLOC_METADATA if o["prealloc-metadata"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to create vol {o['name']}", exc.message) from None
    s.extra(f"Vol {o['name']} created")


def _backing_store(s: Session, pool: StoragePool, name: str, fmt: str | None) -> str:
    """virsh's lookup of --backing-vol: a volume of this pool by name, else any volume by key or path."""
    lookups: list[Callable[[], StorageVolume]] = [
        lambda: pool.lookup_volume_by_name(name),
        lambda: s.conn.lookup_storage_volume_by_key(name),
        lambda: s.conn.lookup_storage_volume_by_path(name),
    ]
    for attempt in lookups:
        try:
            vol = attempt()
            break
        except Error:
            continue
    else:
        raise CommandError(f"failed to get vol '{name}'")
    if fmt is None:
        from lxml import etree  # only a backing volume without --backing-vol-format reads its XML

        found = etree.fromstring(vol.xml_desc().encode()).find("target/format")
        fmt = found.get("type") if found is not None else None
    return (f"  <backingStore>\n    <path>{vol.path()}</path>\n"
            + (f"    <format type='{fmt}'/>\n" if fmt else "") + "  </backingStore>\n")  # fmt: skip


@command("vol-create", "create a vol from an XML file", POOL,
         Opt("file", "file containing an XML vol description", required=True, positional=True),
         Opt("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)", flag=True),
         Opt("validate", "validate the XML against the schema", flag=True))  # fmt: skip
def cmd_vol_create(s: Session, o: dict[str, Any]) -> None:
    """virsh looks the pool up before it reads the file, so a missing pool is reported first."""
    flags = (_PREALLOC_METADATA if o["prealloc-metadata"] else 0) | (_VOL_CREATE_VALIDATE if o["validate"] else 0)
    p = get_pool(s, o["pool"])
    xml = read_file(o["file"])
    try:
        v = p.create_volume(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to create vol from {o['file']}", exc.message) from None
    s.extra(f"Vol {v.name} created from {o['file']}")


@command("vol-delete", "delete a vol", VOL, VOL_POOL,
         Opt("delete-snapshots", "delete snapshots associated with volume (must be supported by storage driver)",
             flag=True))  # fmt: skip
def cmd_vol_delete(s: Session, o: dict[str, Any]) -> None:
    """virsh names the volume as it was given (a path stays a path), in both outcomes."""
    v = get_volume(s, o["vol"], o["pool"])
    try:
        v.delete(_DELETE_WITH_SNAPSHOTS if o["delete-snapshots"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to delete vol {o['vol']}", exc.message) from None
    s.extra(f"Vol {o['vol']} deleted")


def _offset_length(o: dict[str, Any]) -> tuple[int, int]:
    """--offset and --length as virsh reads them (unsigned; a negative --length wraps, as ULongLongWrap does)."""
    offset, length = o["offset"] or 0, o["length"] or 0
    if not 0 <= offset < 2**64:
        raise CommandError(f"Numeric value '{offset}' for <offset> option is malformed or out of range")
    if -(2**63) <= length < 0:
        length += 2**64
    if not 0 <= length < 2**64:
        raise CommandError(f"Numeric value '{length}' for <length> option is malformed or out of range")
    return offset, length


def _stream_opts(way: str) -> tuple[Opt, ...]:
    return (
        Opt("pool", "pool name or uuid"),
        Opt("offset", f"volume offset to {way}", kind="number"),
        Opt("length", f"amount of data to {way.split(maxsplit=1)[0]}", kind="number"),
        Opt("sparse", "preserve sparseness of volume", flag=True),
    )


@command("vol-upload", "upload file contents to a volume", VOL,
         Opt("file", "file", required=True, positional=True), *_stream_opts("upload to"))  # fmt: skip
def cmd_vol_upload(s: Session, o: dict[str, Any]) -> None:
    offset, length = _offset_length(o)
    v = get_volume(s, o["vol"], o["pool"])
    try:
        source = open(o["file"], "rb")  # noqa: SIM115 - closed below, after the upload's outcome
    except OSError:
        raise CommandError(f"cannot read {o['file']}") from None
    import os

    from pyvirt.cli.progress import CountingReader, Progress

    progress = Progress(s, "Upload", sizes=True)  # a bar on a terminal only: virsh prints nothing here
    with source:
        size = os.fstat(source.fileno()).st_size
        reader = CountingReader(source, progress, min(size, length) if length else size)
        try:
            from typing import cast  # the upload's own cost, not every storage command's

            v.upload(cast("BinaryIO", reader), offset, length, _SPARSE_STREAM if o["sparse"] else 0)
        except Error as exc:
            # virsh names the step that failed: opening the stream (nothing read yet), or its finish
            step = "close volume" if source.tell() else "upload to volume"
            if progress.mode == "bar" and reader.count:
                s.error_raw("\n")
            raise CommandError(f"cannot {step} {o['vol']}", exc.message) from None
    progress.finish()


@command("vol-download", "download volume contents to a file", VOL,
         Opt("file", "file", required=True, positional=True), *_stream_opts("download from"))  # fmt: skip
def cmd_vol_download(s: Session, o: dict[str, Any]) -> None:
    import os

    offset, length = _offset_length(o)
    v = get_volume(s, o["vol"], o["pool"])
    path, created = o["file"], True
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        created = False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        except OSError:
            raise CommandError(f"cannot create {path}") from None
    except OSError:
        raise CommandError(f"cannot create {path}") from None
    from pyvirt.cli.progress import CountingWriter, Progress

    progress = Progress(s, "Download", sizes=True)  # a bar on a terminal only: virsh prints nothing here
    writer = None
    try:
        total = 0
        if progress.enabled:
            total = length or max(v.info().capacity - offset, 0)
        with os.fdopen(fd, "wb") as dest:
            writer = CountingWriter(dest, progress, total)
            from typing import cast  # the download's own cost, not every storage command's

            v.download(cast("BinaryIO", writer), offset, length, _SPARSE_STREAM if o["sparse"] else 0)
    except (Error, OSError) as exc:
        if created:  # virsh removes the file it created for a download that failed
            import contextlib

            with contextlib.suppress(OSError):
                os.unlink(path)
        if progress.mode == "bar" and writer is not None and writer.count:
            s.error_raw("\n")
        lines = (exc.message,) if isinstance(exc, Error) else ()
        raise CommandError(f"cannot download from volume {o['vol']}", *lines) from None
    progress.finish()
