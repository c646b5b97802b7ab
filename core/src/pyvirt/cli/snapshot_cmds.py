"""Snapshot commands: snapshot-create-as, -list, -current, -revert, -delete, -dumpxml."""

from __future__ import annotations

import time
from typing import Any
from xml.sax.saxutils import escape

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.table import print_table
from pyvirt.conf.snapshot import parse_snapshot
from pyvirt.domain import Domain, Snapshot
from pyvirt.errors import Error

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
SNAPNAME = Opt("snapshotname", "snapshot name", positional=True)


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
    xml = "<domainsnapshot>\n"
    if o["name"]:
        xml += f"  <name>{escape(o['name'])}</name>\n"
    if o["description"]:
        xml += f"  <description>{escape(o['description'])}</description>\n"
    xml += "</domainsnapshot>\n"
    if o["print-xml"]:
        s.out(xml.rstrip("\n"))
        return
    d = get_domain(s, o["domain"])
    flags = (8 if o["halt"] else 0) | (16 if o["disk-only"] else 0) | (64 if o["atomic"] else 0)
    flags |= 128 if o["live"] else 0
    try:
        snap = d.snapshot_create(xml, flags & ~128)
    except Error as exc:
        raise CommandError(exc.message) from None
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
    docs = {sn.name: parse_snapshot(sn.xml_desc()) for sn in snaps}
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
        when = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(doc.creation_time or 0))
        row = [n, when, doc.state or ""]
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
    s.out_raw(snap.name if o["name"] else snap.xml_desc(1 if o["security-info"] else 0))


@command("snapshot-dumpxml", "Dump XML for a domain snapshot", DOMAIN, Opt("snapshotname", "snapshot name", required=True, positional=True),
         Opt("security-info", "include security sensitive information in XML dump", flag=True))  # fmt: skip
def cmd_snapshot_dumpxml(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    s.out_raw(_snapshot(s, d, o["snapshotname"], False).xml_desc(1 if o["security-info"] else 0))


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
        snap.revert((1 if o["running"] else 0) | (2 if o["paused"] else 0) | (4 if o["force"] else 0))
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
    flags = (1 if o["children"] else 0) | (2 if o["metadata"] else 0) | (4 if o["children-only"] else 0)
    try:
        snap.delete(flags)
    except Error as exc:
        raise CommandError(f"Failed to delete snapshot {snap.name}", exc.message) from None
    if o["children-only"]:
        s.extra(f"Domain snapshot {snap.name} children deleted")
    else:
        s.extra(f"Domain snapshot {snap.name} deleted")
