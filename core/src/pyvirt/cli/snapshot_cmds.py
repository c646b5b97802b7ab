"""Snapshot commands: snapshot-create-as, -list, -current, -revert, -delete, -dumpxml."""

from __future__ import annotations

import time

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.table import print_table
from pyvirt.cli.xml_fields import read_fields
from pyvirt.cli.xml_text import escape_xml
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error, ErrorCode

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from pyvirt.domain import Domain, Snapshot
else:
    from pyvirt.util.named_tuple import NamedTuple

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
SNAPNAME = Opt("snapshotname", "snapshot name", positional=True, kind="optstring")
# virsh's VSH_OT_STRING name, shown as "[--snapshotname <string>]" though it may come by position
# virDomainSnapshotCreateFlags, RevertFlags, DeleteFlags and XMLFlags (pyvirt.flags names them; a short run
# does not load it: test_flag_literals checks each value)
_CREATE_REDEFINE = 1 << 0  # VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
_CREATE_CURRENT = 1 << 1  # VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
_CREATE_NO_METADATA = 1 << 2  # VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
_CREATE_HALT = 1 << 3  # VIR_DOMAIN_SNAPSHOT_CREATE_HALT
_CREATE_DISK_ONLY = 1 << 4  # VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
_CREATE_REUSE_EXT = 1 << 5  # VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT
_CREATE_QUIESCE = 1 << 6  # VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
_CREATE_ATOMIC = 1 << 7  # VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
_CREATE_LIVE = 1 << 8  # VIR_DOMAIN_SNAPSHOT_CREATE_LIVE
_CREATE_VALIDATE = 1 << 9  # VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE
_REVERT_RUNNING = 1 << 0  # VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
_REVERT_PAUSED = 1 << 1  # VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
_REVERT_FORCE = 1 << 2  # VIR_DOMAIN_SNAPSHOT_REVERT_FORCE
_REVERT_RESET_NVRAM = 1 << 3  # VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM
_DELETE_CHILDREN = 1 << 0  # VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
_DELETE_METADATA_ONLY = 1 << 1  # VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
_DELETE_CHILDREN_ONLY = 1 << 2  # VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
_XML_SECURE = 1 << 0  # VIR_DOMAIN_SNAPSHOT_XML_SECURE
_LIST_ROOTS = _LIST_DESCENDANTS = 1 << 0  # VIR_DOMAIN_SNAPSHOT_LIST_ROOTS, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS
_LIST_METADATA = 1 << 1  # VIR_DOMAIN_SNAPSHOT_LIST_METADATA
_LIST_LEAVES = 1 << 2  # VIR_DOMAIN_SNAPSHOT_LIST_LEAVES
_LIST_NO_LEAVES = 1 << 3  # VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES
_LIST_NO_METADATA = 1 << 4  # VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA
_LIST_INACTIVE = 1 << 5  # VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE
_LIST_ACTIVE = 1 << 6  # VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE
_LIST_DISK_ONLY = 1 << 7  # VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY
_LIST_INTERNAL = 1 << 8  # VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL
_LIST_EXTERNAL = 1 << 9  # VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL
_LIST_TOPOLOGICAL = 1 << 10  # VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL
# snapshot-create's options and the flag each sets
_CREATE_OPTIONS = (("redefine", _CREATE_REDEFINE), ("current", _CREATE_CURRENT), ("no-metadata", _CREATE_NO_METADATA),
                   ("halt", _CREATE_HALT), ("disk-only", _CREATE_DISK_ONLY), ("reuse-external", _CREATE_REUSE_EXT),
                   ("quiesce", _CREATE_QUIESCE), ("atomic", _CREATE_ATOMIC), ("live", _CREATE_LIVE),
                   ("validate", _CREATE_VALIDATE))  # fmt: skip
SNAPNAME_OPT = Opt("snapshotname", "snapshot name", positional=True, kind="optstring")


class _Summary(NamedTuple):
    """What the listing commands read of a snapshot's XML, the fields virsh reads with XPath."""

    creation_time: int
    state: str
    parent: str | None
    memory_snapshot: str | None
    external_disk: bool  # a ``<disk snapshot='external'>`` among the snapshot's disks


def _summary(snap: Snapshot) -> _Summary:
    """The fields of one snapshot's XML that snapshot-list and snapshot-info print.

    Read with :func:`~pyvirt.cli.xml_fields.read_fields`, not the snapshot
    model: listing must not load lxml and the model classes (the listing of a
    domain without snapshots did, for nothing).
    """
    fields = read_fields(
        snap.xml_desc(), ("creationTime", "state", "parent/name", "memory@snapshot", "disks/disk@snapshot")
    )
    created = fields["creationTime"][0].strip() if fields["creationTime"] else ""
    return _Summary(
        creation_time=int(created) if created.isdigit() else 0,  # no time (or none readable): the epoch, as before
        state=fields["state"][0] if fields["state"] else "",
        parent=fields["parent/name"][0] if fields["parent/name"] else None,
        memory_snapshot=fields["memory@snapshot"][0] if fields["memory@snapshot"] else None,
        external_disk="external" in fields["disks/disk@snapshot"],
    )


def _snapshot(s: Session, d: Domain, name: str | None, current: bool) -> Snapshot:
    try:
        if name:
            return d.snapshot_lookup_by_name(name)
        if current:
            return d.snapshot_current()
    except Error as exc:
        raise CommandError(exc.message) from None
    raise CommandError("--snapshotname or --current is required")


def _memspec(spec: str) -> str:
    """virshParseSnapshotMemspec: ``[file=]name[,snapshot=type]`` as a ``<memory/>`` line."""
    from pyvirt.cli.checkpoint_cmds import _split_commas

    snapshot = file = None
    for part in _split_commas(spec) if spec else []:
        if snapshot is None and part.startswith("snapshot="):
            snapshot = part.removeprefix("snapshot=")
        elif file is None and part.startswith("file="):
            file = part.removeprefix("file=")
        elif file is None and part.startswith("/"):
            file = part
        else:
            raise CommandError(f"unable to parse memspec: {spec}")
    line = "<memory"
    line += f" snapshot='{escape_xml(snapshot)}'" if snapshot is not None else ""
    line += f" file='{escape_xml(file)}'" if file is not None else ""
    return line + "/>\n"


def _diskspec(spec: str) -> str:
    """virshParseSnapshotDiskspec: ``disk[,snapshot=type][,driver=type][,stype=type][,file=name]`` as a ``<disk>``.

    As virsh, only the disk name and the file are escaped; the other words
    go into the document as given, for libvirt's parser to judge.
    """
    from pyvirt.cli.checkpoint_cmds import _split_commas

    if not spec:  # vshStringToArray gives no name for "": virsh writes a bare "/>", for libvirt to refuse
        return "    />\n"
    parts = _split_commas(spec)
    found: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or key not in ("snapshot", "driver", "stype", "file") or key in found:
            raise CommandError(f"unable to parse diskspec: {spec}")
        found[key] = value
    text = f"    <disk name='{escape_xml(parts[0])}'"
    text += f" snapshot='{found['snapshot']}'" if "snapshot" in found else ""
    stype = found.get("stype")
    if stype is not None:
        if stype not in ("block", "file"):
            raise CommandError(f"Unknown storage type: '{stype}'", f"unable to parse diskspec: {spec}")
        text += f" type='{stype}'"
    if "driver" not in found and "file" not in found:
        return text + "/>\n"
    text += ">\n"
    if "driver" in found:
        text += f"      <driver type='{found['driver']}'/>\n"
    if "file" in found:
        text += f"      <source {'dev' if stype == 'block' else 'file'}='{escape_xml(found['file'])}'/>\n"
    return text + "    </disk>\n"


@command(
    "snapshot-create-as", "Create a snapshot from a set of args", DOMAIN,
    Opt("name", "name of snapshot", positional=True, kind="optstring"),
    Opt("description", "description of snapshot", positional=True, kind="optstring"),
    Opt("print-xml", "print XML document rather than create", flag=True),
    Opt("no-metadata", "take snapshot but create no metadata", flag=True),
    Opt("halt", "halt domain after snapshot is created", flag=True),
    Opt("disk-only", "capture disk state but not vm state", flag=True),
    Opt("reuse-external", "reuse any existing external files", flag=True),
    Opt("quiesce", "quiesce guest's file systems", flag=True),
    Opt("atomic", "require atomic operation", flag=True),
    Opt("live", "take a live snapshot", flag=True),
    Opt("validate", "validate the XML against the schema", flag=True),
    Opt("memspec", "memory attributes: [file=]name[,snapshot=type]"),
    Opt("diskspec", "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]",
        positional=True, kind="list"),
    description="Create a snapshot (disk and RAM) from arguments",
)  # fmt: skip
def cmd_snapshot_create_as(s: Session, o: dict[str, Any]) -> None:
    """cmdSnapshotCreateAs: the domain first (a wrong name fails even with --print-xml), then the document."""
    flags = sum(bit for name, bit in _CREATE_OPTIONS if name not in ("redefine", "current") and o[name])
    d = get_domain(s, o["domain"])
    for opt in ("name", "description", "memspec"):
        if o[opt] == "":  # vshCommandOptStringReq
            raise CommandError(f"Failed to get option '{opt}': Option argument is empty")
    xml = "<domainsnapshot>\n"
    if o["name"] is not None:
        xml += f"  <name>{escape_xml(o['name'])}</name>\n"
    if o["description"] is not None:
        xml += f"  <description>{escape_xml(o['description'])}</description>\n"
    if o["memspec"] is not None:
        xml += "  " + _memspec(o["memspec"])
    if o["diskspec"]:
        xml += "  <disks>\n" + "".join(_diskspec(spec) for spec in o["diskspec"]) + "  </disks>\n"
    xml += "</domainsnapshot>\n"
    if o["print-xml"]:
        s.out(xml)  # vshPrint("%s\n"): the document's own newline, then one more
        return
    snap = _create(s, d, xml, flags, fallback=True)
    s.extra_raw(f"Domain snapshot {snap.name} created")


def _create(s: Session, d: Domain, xml: str, flags: int, fallback: bool = False) -> Snapshot:
    """virshSnapshotCreate: virDomainSnapshotCreateXML with virsh's retries for older servers.

    With ``fallback`` (no source file), a server that does not support
    VALIDATE is asked again without it. A refused argument with HALT is
    retried without HALT and the guest destroyed afterwards, as virsh
    emulates --halt. A snapshot of a running guest's memory draws a bar on
    a terminal.
    """
    try:
        try:
            snap = _create_once(s, d, xml, flags)
        except Error as exc:
            if not (fallback and exc.code == ErrorCode.NO_SUPPORT):
                raise
            flags &= ~_CREATE_VALIDATE
            snap = _create_once(s, d, xml, flags)
    except Error as exc:
        if not (exc.code == ErrorCode.INVALID_ARG and flags & _CREATE_HALT):
            raise CommandError(exc.message) from None
        return _create_halt_emulated(s, d, xml, flags & ~_CREATE_HALT)
    return snap


def _create_halt_emulated(s: Session, d: Domain, xml: str, flags: int) -> Snapshot:
    """virsh's --halt for servers without HALT: snapshot, then destroy a persistent running guest."""
    try:
        if not d.is_persistent():
            raise CommandError("cannot halt after snapshot of transient domain")
        halt = d.is_active()
        snap = _create_once(s, d, xml, flags)
        if halt:
            d.destroy()
    except Error as exc:
        raise CommandError(exc.message) from None
    return snap


def _create_once(s: Session, d: Domain, xml: str, flags: int) -> Snapshot:
    """One virDomainSnapshotCreateXML; saving a running guest's memory draws a bar on a terminal."""
    from pyvirt.cli.progress import Progress, watch_job

    memory = not flags & (_CREATE_REDEFINE | _CREATE_DISK_ONLY) and d.is_active()  # the memory is saved
    if not memory:
        return d.snapshot_create(xml, flags)
    progress = Progress(s, "Snapshot")
    snap = watch_job(s, d, lambda: d.snapshot_create(xml, flags), progress)
    progress.finish()
    return snap


@command(
    "snapshot-create", "Create a snapshot from XML", DOMAIN,
    Opt("xmlfile", "domain snapshot XML", positional=True, kind="optstring"),
    Opt("redefine", "redefine metadata for existing snapshot", flag=True),
    Opt("current", "with redefine, set current snapshot", flag=True),
    Opt("no-metadata", "take snapshot but create no metadata", flag=True),
    Opt("halt", "halt domain after snapshot is created", flag=True),
    Opt("disk-only", "capture disk state but not vm state", flag=True),
    Opt("reuse-external", "reuse any existing external files", flag=True),
    Opt("quiesce", "quiesce guest's file systems", flag=True),
    Opt("atomic", "require atomic operation", flag=True),
    Opt("live", "take a live snapshot", flag=True),
    Opt("validate", "validate the XML against the schema", flag=True),
)  # fmt: skip
def cmd_snapshot_create(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    flags = sum(bit for name, bit in _CREATE_OPTIONS if o[name])
    d = get_domain(s, o["domain"])
    xml = read_file(o["xmlfile"]) if o["xmlfile"] is not None else "<domainsnapshot/>"
    snap = _create(s, d, xml, flags, fallback=o["xmlfile"] is None)
    if o["xmlfile"] is not None:
        s.extra_raw(f"Domain snapshot {snap.name} created from '{o['xmlfile']}'")
    else:
        s.extra_raw(f"Domain snapshot {snap.name} created")


# virsh's filter options for snapshot-list, each refused with --tree, and the virDomainSnapshotListFlags bit it sets
_LIST_FILTERS = (("leaves", _LIST_LEAVES), ("no-leaves", _LIST_NO_LEAVES), ("inactive", _LIST_INACTIVE),
                 ("active", _LIST_ACTIVE), ("disk-only", _LIST_DISK_ONLY), ("internal", _LIST_INTERNAL),
                 ("external", _LIST_EXTERNAL))  # fmt: skip
_LIST_STATUS_LOCATION = _LIST_INACTIVE | _LIST_ACTIVE | _LIST_DISK_ONLY | _LIST_INTERNAL | _LIST_EXTERNAL


@command(
    "snapshot-list", "List snapshots for a domain", DOMAIN,
    Opt("parent", "add a column showing parent snapshot", flag=True),
    Opt("roots", "list only snapshots without parents", flag=True),
    Opt("leaves", "list only snapshots without children", flag=True),
    Opt("no-leaves", "list only snapshots that are not leaves (with children)", flag=True),
    Opt("metadata", "list only snapshots that have metadata that would prevent undefine", flag=True),
    Opt("no-metadata", "list only snapshots that have no metadata managed by libvirt", flag=True),
    Opt("inactive", "filter by snapshots taken while inactive", flag=True),
    Opt("active", "filter by snapshots taken while active (full system snapshots)", flag=True),
    Opt("disk-only", "filter by disk-only snapshots", flag=True),
    Opt("internal", "filter by internal snapshots", flag=True),
    Opt("external", "filter by external snapshots", flag=True),
    Opt("tree", "list snapshots in a tree", flag=True),
    Opt("from", "limit list to children of given snapshot", positional=True, kind="optstring"),
    Opt("current", "limit list to children of current snapshot", flag=True),
    Opt("descendants", "with --from, list all descendants", flag=True),
    Opt("name", "list snapshot names only", flag=True),
    Opt("topological", "sort list topologically rather than by name", flag=True),
)  # fmt: skip
def cmd_snapshot_list(s: Session, o: dict[str, Any]) -> None:
    """cmdSnapshotList: virsh's checks in its order, the listing flags, then the table, names or tree."""
    from_given = o["from"] is not None
    for a, b in (("tree", "name"), ("parent", "roots"), ("parent", "tree"), ("roots", "tree"), ("roots", "from"),
                 ("roots", "current")):  # fmt: skip
        if o[a] and (from_given if b == "from" else o[b]):
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    flags = 0
    for opt, bit in _LIST_FILTERS:
        if o[opt]:
            if o["tree"]:
                raise CommandError(f"--{opt} and --tree are mutually exclusive")
            flags |= bit
    flags |= (_LIST_TOPOLOGICAL if o["topological"] else 0) | (_LIST_ROOTS if o["roots"] else 0)
    flags |= (_LIST_METADATA if o["metadata"] else 0) | (_LIST_NO_METADATA if o["no-metadata"] else 0)
    if o["descendants"]:
        if not from_given and not o["current"]:
            raise CommandError("--descendants requires either --from or --current")
        flags |= _LIST_DESCENDANTS
    d = get_domain(s, o["domain"])
    start = None
    if from_given or o["current"]:
        if o["from"] == "":
            raise CommandError("Failed to get option 'from': Option argument is empty")  # vshCommandOptStringReq
        if o["current"] and from_given:
            raise CommandError("--from and --current are mutually exclusive")
        start = _snapshot(s, d, o["from"], o["current"]).name
    try:
        names, docs = _collect(d, start, flags, o["tree"])
    except Error as exc:
        raise CommandError(exc.message) from None
    if o["tree"]:
        from pyvirt.cli.tree import print_forest

        print_forest(s, names, [None if n == start else docs[n].parent or None for n in names])
        return
    if o["name"]:
        for n in names:
            s.out(n)
        return
    headers = ["Name", "Creation Time", "State"] + (["Parent"] if o["parent"] else [])
    rows = []
    for n in names:
        doc = docs[n]
        when = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(doc.creation_time))
        row = [n, when, doc.state]
        if o["parent"]:
            row.append(doc.parent or "")
        rows.append(row)
    print_table(s, headers, rows)


def _collect(d: Domain, start: str | None, flags: int, tree: bool) -> tuple[list[str], dict[str, _Summary]]:
    """virshSnapshotListCollect: the names to list (sorted by name unless TOPOLOGICAL) and their summaries.

    pyvirt has no virDomainSnapshotListAllChildren, so ``--from`` and
    ``--current`` are served as virsh serves them from a server without
    child listing: the global listing, cut down to the snapshot's children
    (all its descendants with DESCENDANTS) by each snapshot's parent; with
    --tree the snapshot itself joins the list, as the only root.
    A server that refuses the status and location filters (INVALID_ARG) is
    asked again without them and virsh filters on the snapshots' states.
    """
    global_flags = flags & ~_LIST_DESCENDANTS if start is not None else flags
    filter_fallback = roots = False
    try:
        try:
            snaps = d.list_snapshots(global_flags)
        except Error as exc:
            if not (exc.code == ErrorCode.INVALID_ARG and global_flags & _LIST_STATUS_LOCATION):
                raise
            filter_fallback = True
            snaps = d.list_snapshots(global_flags & ~_LIST_STATUS_LOCATION)
    except Error:
        snaps, filter_fallback, roots = _list_old_server(d, global_flags)
    docs = {sn.name: _summary(sn) for sn in snaps}
    names = list(docs)
    if filter_fallback:
        names = [n for n in names if _state_filter(docs[n], flags)]
    if roots:
        names = [n for n in names if not docs[n].parent]
    if start is not None:
        every = {sn.name: _summary(sn).parent for sn in d.list_snapshots()}
        below, todo = set(), [start]
        while todo:
            above = todo.pop()
            kids = [n for n, p in every.items() if p == above and n not in below]
            below.update(kids)
            if flags & _LIST_DESCENDANTS:
                todo.extend(kids)
        names = [n for n in names if n in below]
        if tree:
            names.append(start)
            docs[start] = _summary(d.snapshot_lookup_by_name(start))
    if not flags & _LIST_TOPOLOGICAL:
        names.sort()
    return names, docs


def _list_old_server(d: Domain, flags: int) -> tuple[list[Snapshot], bool, bool]:
    """virsh's listing for a server that refused the flags: drop what it can emulate, and say what to emulate.

    Both halves of the leaves or metadata pair cancel out; NO_METADATA
    alone is answered by counting the snapshots with metadata (all or none,
    on such servers); the status and location filters are applied by virsh
    afterwards; ROOTS, if refused too, by keeping the snapshots without a
    parent. Returns the snapshots, and whether the caller must filter on
    state and on roots.
    """
    if flags & _LIST_LEAVES and flags & _LIST_NO_LEAVES:
        flags &= ~(_LIST_LEAVES | _LIST_NO_LEAVES)
    if flags & _LIST_METADATA and flags & _LIST_NO_METADATA:
        flags &= ~(_LIST_METADATA | _LIST_NO_METADATA)
    if flags & _LIST_NO_METADATA:
        if d.list_snapshots(_LIST_METADATA):
            return [], False, False
        flags &= ~_LIST_NO_METADATA
    filter_fallback = bool(flags & _LIST_STATUS_LOCATION)
    flags &= ~_LIST_STATUS_LOCATION
    try:
        return d.list_snapshots(flags), filter_fallback, False
    except Error as exc:
        if not (exc.code == ErrorCode.INVALID_ARG and flags & _LIST_ROOTS):
            raise
    return d.list_snapshots(flags & ~_LIST_ROOTS), filter_fallback, True


def _state_filter(doc: _Summary, flags: int) -> bool:
    """virshSnapshotFilter: an old server's snapshot judged by its state (disk-only ones are external).

    virsh 9.0 sets every status and location bit before calling it, which
    lets every snapshot through; here a group the user left empty is set
    instead, so ``--inactive`` still lists only inactive snapshots.
    """
    status, location = _LIST_INACTIVE | _LIST_ACTIVE | _LIST_DISK_ONLY, _LIST_INTERNAL | _LIST_EXTERNAL
    flags |= (0 if flags & status else status) | (0 if flags & location else location)
    if doc.state == "disk-snapshot":
        return bool(flags & _LIST_DISK_ONLY and flags & _LIST_EXTERNAL)
    if not flags & _LIST_INTERNAL:
        return False
    if doc.state == "shutoff":
        return bool(flags & _LIST_INACTIVE)
    return bool(flags & _LIST_ACTIVE)


@command(
    "snapshot-current", "Get or set the current snapshot", DOMAIN,
    Opt("name", "list the name, rather than the full xml", flag=True),
    Opt("security-info", "include security sensitive information in XML dump", flag=True),
    Opt("snapshotname", "name of existing snapshot to make current", kind="optstring", positional=True),
)  # fmt: skip
def cmd_snapshot_current(s: Session, o: dict[str, Any]) -> None:
    """cmdSnapshotCurrent: with a name, the snapshot's own document is redefined with CURRENT.

    libvirt has no "set current" call: virsh hands the snapshot's secure XML
    back with REDEFINE|CURRENT (and DISK_ONLY for a disk-only snapshot).
    """
    if o["name"] and o["snapshotname"] is not None:
        raise CommandError("Options --name and --snapshotname are mutually exclusive")
    d = get_domain(s, o["domain"])
    if o["snapshotname"] is not None:
        if not o["snapshotname"]:  # vshCommandOptStringReq
            raise CommandError("Failed to get option 'snapshotname': Option argument is empty")
        try:
            xml = d.snapshot_lookup_by_name(o["snapshotname"]).xml_desc(_XML_SECURE)
            flags = _CREATE_REDEFINE | _CREATE_CURRENT
            d.snapshot_create(xml, flags | (_CREATE_DISK_ONLY if "<state>disk-snapshot</state>" in xml else 0))
        except Error as exc:
            raise CommandError(exc.message) from None
        s.extra_raw(f"Snapshot {o['snapshotname']} set as current")
        return
    try:
        snap = d.snapshot_current()
    except Error as exc:
        if exc.code == ErrorCode.NO_DOMAIN_SNAPSHOT:  # virsh asks virDomainHasCurrentSnapshot first
            raise CommandError(f"domain '{d.name}' has no current snapshot") from None
        raise CommandError(exc.message) from None
    s.out_raw(snap.name if o["name"] else snap.xml_desc(_XML_SECURE if o["security-info"] else 0))


@command("snapshot-dumpxml", "Dump XML for a domain snapshot", DOMAIN, Opt("snapshotname", "snapshot name", required=True, positional=True),
         Opt("security-info", "include security sensitive information in XML dump", flag=True), *XPATH_OPTS)  # fmt: skip
def cmd_snapshot_dumpxml(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    print_xml(s, _snapshot(s, d, o["snapshotname"], False).xml_desc(_XML_SECURE if o["security-info"] else 0), o)


@command(
    "snapshot-revert", "Revert a domain to a snapshot", DOMAIN, SNAPNAME,
    Opt("current", "revert to current snapshot", flag=True),
    Opt("running", "after reverting, change state to running", flag=True),
    Opt("paused", "after reverting, change state to paused", flag=True),
    Opt("force", "try harder on risky reverts", flag=True),
    Opt("reset-nvram", "re-initialize NVRAM from its pristine template", flag=True),
)  # fmt: skip
def cmd_snapshot_revert(s: Session, o: dict[str, Any]) -> None:
    """cmdDomainSnapshotRevert: --force is only added when the first try says the revert is risky.

    virsh probes without FORCE so that ``--force`` still works against a
    server that reverts unsafely by default but rejects the flag.
    """
    flags = (_REVERT_RUNNING if o["running"] else 0) | (_REVERT_PAUSED if o["paused"] else 0)
    flags |= _REVERT_RESET_NVRAM if o["reset-nvram"] else 0
    d = get_domain(s, o["domain"])
    snap = _exclusive_snapshot(s, d, o)
    try:
        try:
            snap.revert(flags)
        except Error as exc:
            if not (o["force"] and exc.code == ErrorCode.SNAPSHOT_REVERT_RISKY):
                raise
            snap.revert(flags | _REVERT_FORCE)
    except Error as exc:
        raise CommandError(f"Failed to revert snapshot {snap.name}", exc.message) from None
    s.extra(f"Domain snapshot {snap.name} reverted")


@command(
    "snapshot-delete", "Delete a domain snapshot", DOMAIN, SNAPNAME,
    Opt("current", "delete current snapshot", flag=True),
    Opt("children", "delete snapshot and all children", flag=True),
    Opt("children-only", "delete children but not snapshot", flag=True),
    Opt("metadata", "delete only libvirt metadata, leaving snapshot contents behind", flag=True),
)  # fmt: skip
def cmd_snapshot_delete(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    snap = _snapshot(s, d, o["snapshotname"], o["current"])
    flags = (_DELETE_CHILDREN if o["children"] else 0) | (_DELETE_METADATA_ONLY if o["metadata"] else 0)
    flags |= _DELETE_CHILDREN_ONLY if o["children-only"] else 0
    try:
        snap.delete(flags)
    except Error as exc:
        raise CommandError(f"Failed to delete snapshot {snap.name}", exc.message) from None
    if o["children-only"]:
        s.extra(f"Domain snapshot {snap.name} children deleted")
    else:
        s.extra(f"Domain snapshot {snap.name} deleted")


def _exclusive_snapshot(s: Session, d: Domain, o: dict[str, Any]) -> Snapshot:
    """virshLookupSnapshot with ``exclusive``: a name and ``--current`` together are refused."""
    if o["current"] and o["snapshotname"]:
        raise CommandError("--snapshotname and --current are mutually exclusive")
    return _snapshot(s, d, o["snapshotname"], o["current"])


@command("snapshot-info", "snapshot information", DOMAIN, SNAPNAME_OPT,
         Opt("current", "info on current snapshot", flag=True))  # fmt: skip
def cmd_snapshot_info(s: Session, o: dict[str, Any]) -> None:
    """virsh's lines; children and descendants are counted from the snapshots' parents.

    pyvirt's API has no virDomainSnapshotNumChildren, IsCurrent or
    HasMetadata: the counts come from every snapshot's ``<parent>`` (what
    virsh itself falls back to for snapshot-list), "current" from the
    domain's current snapshot, and metadata is "yes" as every snapshot a
    driver here lists is one it keeps metadata for.
    """
    d = get_domain(s, o["domain"])
    snap = _exclusive_snapshot(s, d, o)
    s.out(f"{'Name:':<15} {snap.name}")
    s.out(f"{'Domain:':<15} {d.name}")
    try:
        current = d.snapshot_current().name == snap.name
    except Error:
        current = False  # no current snapshot: virsh's fallback also says "no"
    s.out(f"{'Current:':<15} {'yes' if current else 'no'}")
    doc = _summary(snap)
    s.out(f"{'State:':<15} {doc.state}")
    if doc.memory_snapshot is not None:
        external = doc.memory_snapshot == "external" or doc.external_disk
    else:
        external = doc.state == "disk-snapshot"
    s.out(f"{'Location:':<15} {'external' if external else 'internal'}")
    s.out(f"{'Parent:':<15} {doc.parent or '-'}")
    parents = {sn.name: _summary(sn).parent for sn in d.list_snapshots()}
    children = [n for n, p in parents.items() if p == snap.name]
    descendants, todo = set(children), list(children)
    while todo:
        above = todo.pop()
        below = [n for n, p in parents.items() if p == above and n not in descendants]
        descendants.update(below)
        todo.extend(below)
    s.out(f"{'Children:':<15} {len(children)}")
    s.out(f"{'Descendants:':<15} {len(descendants)}")
    s.out(f"{'Metadata:':<15} yes")


@command("snapshot-parent", "Get the name of the parent of a snapshot", DOMAIN, SNAPNAME_OPT,
         Opt("current", "find parent of current snapshot", flag=True))  # fmt: skip
def cmd_snapshot_parent(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    snap = _exclusive_snapshot(s, d, o)
    try:
        parent = snap.parent().name
    except Error as exc:
        if exc.code != ErrorCode.NO_DOMAIN_SNAPSHOT:
            raise CommandError(exc.message, "unable to determine if snapshot has parent") from None
        raise CommandError(f"snapshot '{snap.name}' has no parent") from None
    s.out_raw(parent)
