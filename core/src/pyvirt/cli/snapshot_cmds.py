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
SNAPNAME = Opt("snapshotname", "snapshot name", positional=True)
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
_DELETE_CHILDREN = 1 << 0  # VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
_DELETE_METADATA_ONLY = 1 << 1  # VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
_DELETE_CHILDREN_ONLY = 1 << 2  # VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY
_XML_SECURE = 1 << 0  # VIR_DOMAIN_SNAPSHOT_XML_SECURE
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


@command(
    "snapshot-create-as", "Create a snapshot from a set of args", DOMAIN,
    Opt("name", "name of snapshot", positional=True), Opt("description", "description of snapshot", positional=True),
    Opt("print-xml", "print XML document rather than create", flag=True),
    Opt("halt", "halt domain after snapshot is created", flag=True),
    Opt("disk-only", "capture disk state but not vm state", flag=True),
    Opt("atomic", "require atomic operation", flag=True),
    Opt("live", "take a live snapshot", flag=True),
)  # fmt: skip
def cmd_snapshot_create_as(s: Session, o: dict[str, Any]) -> None:
    """cmdSnapshotCreateAs: the domain first (a wrong name fails even with --print-xml), then the document."""
    d = get_domain(s, o["domain"])
    xml = "<domainsnapshot>\n"
    if o["name"]:
        xml += f"  <name>{escape_xml(o['name'])}</name>\n"
    if o["description"]:
        xml += f"  <description>{escape_xml(o['description'])}</description>\n"
    xml += "</domainsnapshot>\n"
    if o["print-xml"]:
        s.out(xml)  # vshPrint("%s\n"): the document's own newline, then one more
        return
    flags = (_CREATE_HALT if o["halt"] else 0) | (_CREATE_DISK_ONLY if o["disk-only"] else 0)
    flags |= (_CREATE_ATOMIC if o["atomic"] else 0) | (_CREATE_LIVE if o["live"] else 0)
    snap = _create(s, d, xml, flags)
    s.extra_raw(f"Domain snapshot {snap.name} created")


def _create(s: Session, d: Domain, xml: str, flags: int) -> Snapshot:
    """virDomainSnapshotCreateXML; a snapshot of a running guest's memory draws a bar on a terminal."""
    from pyvirt.cli.progress import Progress, watch_job

    memory = not flags & (_CREATE_REDEFINE | _CREATE_DISK_ONLY) and d.is_active()  # the memory is saved
    progress = Progress(s, "Snapshot") if memory else None
    try:
        if progress is None:
            return d.snapshot_create(xml, flags)
        snap = watch_job(s, d, lambda: d.snapshot_create(xml, flags), progress)
    except Error as exc:
        raise CommandError(exc.message) from None
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
    snap = _create(s, d, xml, flags)
    if o["xmlfile"] is not None:
        s.extra_raw(f"Domain snapshot {snap.name} created from '{o['xmlfile']}'")
    else:
        s.extra_raw(f"Domain snapshot {snap.name} created")


@command(
    "snapshot-list", "List snapshots for a domain", DOMAIN,
    Opt("parent", "add a column showing parent snapshot", flag=True),
    Opt("name", "list snapshot names only", flag=True),
    Opt("tree", "list snapshots in a tree", flag=True),
    Opt("roots", "list only snapshots without parents", flag=True),
    Opt("leaves", "list only snapshots without children", flag=True),
)  # fmt: skip
def cmd_snapshot_list(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    snaps = d.list_snapshots()
    docs = {sn.name: _summary(sn) for sn in snaps}
    names = list(docs)
    if o["roots"]:
        names = [n for n in names if not docs[n].parent]
    if o["leaves"]:
        parents = {docs[n].parent for n in docs}
        names = [n for n in names if n not in parents]
    names.sort()
    if o["tree"]:
        from pyvirt.cli.tree import print_forest

        print_forest(s, names, [docs[n].parent or None for n in names])
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


@command(
    "snapshot-current", "Get or set the current snapshot", DOMAIN,
    Opt("name", "list the name, rather than the full xml", flag=True),
    Opt("security-info", "include security sensitive information in XML dump", flag=True),
)  # fmt: skip
def cmd_snapshot_current(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    try:
        snap = d.snapshot_current()
    except Error as exc:
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
)  # fmt: skip
def cmd_snapshot_revert(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    snap = _snapshot(s, d, o["snapshotname"], o["current"])
    try:
        flags = (_REVERT_RUNNING if o["running"] else 0) | (_REVERT_PAUSED if o["paused"] else 0)
        snap.revert(flags | (_REVERT_FORCE if o["force"] else 0))
    except Error as exc:
        raise CommandError(exc.message) from None
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
