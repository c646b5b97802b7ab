"""Checkpoint commands: checkpoint-create-as, -list, -dumpxml, -delete (virsh-checkpoint.c's behaviour)."""

from __future__ import annotations

import time

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.table import print_table
from pyvirt.cli.xml_text import escape_xml
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.domain import Checkpoint, Domain
from pyvirt.errors import Error, ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
CHECKPOINT_NAME = Opt("checkpointname", "checkpoint name", positional=True, kind="optstring")
# virsh's VSH_OT_STRING: "[--checkpointname <string>]" in help, yet it may come by position
# virDomainCheckpointListFlags / DeleteFlags / XMLFlags / CreateFlags (pyvirt.flags has them; not loaded here)
_LIST_ROOTS = _LIST_DESCENDANTS = 1 << 0  # VIR_DOMAIN_CHECKPOINT_LIST_ROOTS, VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS
_LIST_TOPOLOGICAL = 1 << 1  # VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL
_LIST_LEAVES = 1 << 2  # VIR_DOMAIN_CHECKPOINT_LIST_LEAVES
_LIST_NO_LEAVES = 1 << 3  # VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES
_DELETE_CHILDREN = 1 << 0  # VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN
_DELETE_METADATA_ONLY = 1 << 1  # VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY
_DELETE_CHILDREN_ONLY = 1 << 2  # VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY
_XML_SECURE = 1 << 0  # VIR_DOMAIN_CHECKPOINT_XML_SECURE
_XML_NO_DOMAIN = 1 << 1  # VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN
_XML_SIZE = 1 << 2  # VIR_DOMAIN_CHECKPOINT_XML_SIZE
_CREATE_QUIESCE = 1 << 1  # VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE


def _split_commas(text: str) -> list[str]:
    """vshStringToArray: split on ',', where ',,' is a literal comma."""
    parts = [""]
    i = 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1 : i + 2] == ",":
                parts[-1] += ","
                i += 2
                continue
            parts.append("")
        else:
            parts[-1] += text[i]
        i += 1
    return parts


def _diskspec(spec: str) -> str:
    """One ``--diskspec disk[,checkpoint=type][,bitmap=name]`` as a ``<disk/>`` line."""
    parts = _split_commas(spec) if spec else []
    if not parts:
        raise CommandError(f"unable to parse diskspec: {spec}")
    checkpoint = bitmap = None
    for part in parts[1:]:
        if checkpoint is None and part.startswith("checkpoint="):
            checkpoint = part.removeprefix("checkpoint=")
        elif bitmap is None and part.startswith("bitmap="):
            bitmap = part.removeprefix("bitmap=")
        else:
            raise CommandError(f"unable to parse diskspec: {spec}")
    line = f"<disk name='{escape_xml(parts[0])}'"
    line += f" checkpoint='{checkpoint}'" if checkpoint is not None else ""
    line += f" bitmap='{bitmap}'" if bitmap is not None else ""
    return line + "/>\n"


@command(
    "checkpoint-create-as", "Create a checkpoint from a set of args", DOMAIN,
    Opt("name", "name of checkpoint", positional=True, kind="optstring"),
    Opt("description", "description of checkpoint", positional=True, kind="optstring"),
    Opt("print-xml", "print XML document rather than create", flag=True),
    Opt("quiesce", "quiesce guest's file systems", flag=True),
    Opt("diskspec", "disk attributes: disk[,checkpoint=type][,bitmap=name]", positional=True, kind="list"),
    description="Create a checkpoint from arguments for use in future incremental backups",
)  # fmt: skip
def cmd_checkpoint_create_as(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])  # virsh looks the domain up even to print the XML
    xml = "<domaincheckpoint>\n"
    if o["name"] is not None:
        xml += f"  <name>{escape_xml(o['name'])}</name>\n"
    if o["description"] is not None:
        xml += f"  <description>{escape_xml(o['description'])}</description>\n"
    specs = o["diskspec"]
    if specs:
        xml += "  <disks>\n"
        for spec in [specs] if isinstance(specs, str) else specs:
            xml += "    " + _diskspec(spec)
        xml += "  </disks>\n"
    xml += "</domaincheckpoint>\n"
    if o["print-xml"]:
        s.out(xml)
        return
    chk = dom.checkpoint_create(xml, _CREATE_QUIESCE if o["quiesce"] else 0)
    s.extra_raw(f"Domain checkpoint {chk.name} created")


def _lookup(dom: Domain, name: str | None, option: str) -> Checkpoint:
    """virshLookupCheckpoint: the option is required, a missing checkpoint is libvirt's error."""
    if not name:
        raise CommandError(f"--{option} is required")
    try:
        return dom.checkpoint_lookup_by_name(name)
    except Error as exc:
        raise CommandError(exc.message) from None


def _parent_name(chk: Checkpoint) -> str | None:
    """virshGetCheckpointParent: a root's "no parent" answer is not an error."""
    try:
        return chk.parent().name
    except Error as exc:
        if exc.code == ErrorCode.NO_DOMAIN_CHECKPOINT:
            return None
        raise CommandError(exc.message, "unable to determine if checkpoint has parent") from None


@command(
    "checkpoint-list", "List checkpoints for a domain", DOMAIN,
    Opt("parent", "add a column showing parent checkpoint", flag=True),
    Opt("roots", "list only checkpoints without parents", flag=True),
    Opt("leaves", "list only checkpoints without children", flag=True),
    Opt("no-leaves", "list only checkpoints that are not leaves (with children)", flag=True),
    Opt("tree", "list checkpoints in a tree", flag=True),
    Opt("from", "limit list to children of given checkpoint"),
    Opt("descendants", "with --from, list all descendants", flag=True),
    Opt("name", "list checkpoint names only", flag=True),
    Opt("topological", "sort list topologically rather than by name", flag=True),
    description="Checkpoint List",
)  # fmt: skip
def cmd_checkpoint_list(s: Session, o: dict[str, Any]) -> None:
    tree, parent, roots, start_name = o["tree"], o["parent"], o["roots"], o["from"]
    for a, b in (("tree", "name"), ("parent", "roots"), ("parent", "tree"), ("roots", "tree"), ("roots", "from")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    flags = 0
    for option, bit in (("leaves", _LIST_LEAVES), ("no-leaves", _LIST_NO_LEAVES)):
        if o[option]:
            if tree:
                raise CommandError(f"--{option} and --tree are mutually exclusive")
            flags |= bit
    flags |= (_LIST_TOPOLOGICAL if o["topological"] else 0) | (_LIST_ROOTS if roots else 0)
    if o["descendants"]:
        if start_name is None:
            raise CommandError("--descendants requires --from")
        flags |= _LIST_DESCENDANTS
    dom = get_domain(s, o["domain"])
    start = _lookup(dom, start_name, "from") if start_name is not None else None
    try:
        found = start.list_children(flags) if start is not None else dom.list_checkpoints(flags)
    except Error as exc:
        raise CommandError("unexpected problem querying checkpoints", exc.message) from None
    parents: list[str | None] = [_parent_name(c) for c in found] if tree else [None] * len(found)
    if tree and start is not None:
        found.append(start)
        parents.append(None)
    entries = list(zip(found, parents, strict=True))
    if not flags & _LIST_TOPOLOGICAL:
        entries.sort(key=lambda e: e[0].name.lower())
    names = [c.name for c, _ in entries]
    if tree:
        from pyvirt.cli.tree import print_forest

        print_forest(s, names, [p for _, p in entries])
        return
    if o["name"]:
        for name in names:
            s.out(name)
        return
    from lxml import etree

    rows = []
    for chk, _ in entries:
        try:
            doc = etree.fromstring(chk.xml_desc().encode())
        except (Error, etree.XMLSyntaxError):
            continue  # virsh skips a checkpoint whose document it cannot read
        created = doc.findtext("creationTime")
        if created is None or not created.strip().lstrip("-").isdigit():
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(int(created)))
        row = [chk.name, when]
        if parent:
            row.append(doc.findtext("parent/name") or "")
        rows.append(row)
    print_table(s, ["Name", "Creation Time", *(["Parent"] if parent else [])], rows)


@command(
    "checkpoint-dumpxml", "Dump XML for a domain checkpoint", DOMAIN, CHECKPOINT_NAME,
    Opt("security-info", "include security sensitive information in XML dump", flag=True),
    Opt("no-domain", "exclude <domain> from XML", flag=True),
    Opt("size", "include backup size estimate in XML dump", flag=True),
    *XPATH_OPTS,
    description="Checkpoint Dump XML",
)  # fmt: skip
def cmd_checkpoint_dumpxml(s: Session, o: dict[str, Any]) -> None:
    flags = (_XML_SECURE if o["security-info"] else 0) | (_XML_NO_DOMAIN if o["no-domain"] else 0)
    flags |= _XML_SIZE if o["size"] else 0
    dom = get_domain(s, o["domain"])
    chk = _lookup(dom, o["checkpointname"], "checkpointname")
    print_xml(s, chk.xml_desc(flags), o)


@command(
    "checkpoint-delete", "Delete a domain checkpoint", DOMAIN, CHECKPOINT_NAME,
    Opt("children", "delete checkpoint and all children", flag=True),
    Opt("children-only", "delete children but not checkpoint", flag=True),
    Opt("metadata", "delete only libvirt metadata, leaving checkpoint contents behind", flag=True),
    description="Checkpoint Delete",
)  # fmt: skip
def cmd_checkpoint_delete(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    chk = _lookup(dom, o["checkpointname"], "checkpointname")
    flags = (_DELETE_CHILDREN if o["children"] else 0) | (_DELETE_CHILDREN_ONLY if o["children-only"] else 0)
    flags |= _DELETE_METADATA_ONLY if o["metadata"] else 0
    try:
        chk.delete(flags)
    except Error as exc:
        raise CommandError(f"Failed to delete checkpoint {chk.name}", exc.message) from None
    s.extra(f"Domain checkpoint {chk.name} {'children deleted' if flags & _DELETE_CHILDREN_ONLY else 'deleted'}")
