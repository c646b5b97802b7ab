"""Domain snapshot XML (``<domainsnapshot>``)."""

from typing import Annotated

from pyvirt.conf.common import document_to_string, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, XMLError

__all__ = ["Snapshot", "format_snapshot", "parse_snapshot"]


class SnapshotDisk(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    snapshot: Annotated[str | None, X("@snapshot")] = None
    type: Annotated[str | None, X("@type")] = None
    driver_type: Annotated[str | None, X("driver/@type")] = None
    source_file: Annotated[str | None, X("source/@file")] = None


class _DomainCopy(XmlModel):
    """The ``<domain>`` inside a snapshot document: read by the domain module, not here."""

    XML_OPEN = True


class Snapshot(XmlModel):
    TAG = "domainsnapshot"
    name: Annotated[str | None, X("name")] = None
    description: Annotated[str | None, X("description")] = None
    state: Annotated[str | None, X("state")] = None
    parent: Annotated[str | None, X("parent/name")] = None
    creation_time: Annotated[int | None, X("creationTime")] = None
    memory_snapshot: Annotated[str | None, X("memory/@snapshot")] = None
    memory_file: Annotated[str | None, X("memory/@file")] = None
    disks: Annotated[list[SnapshotDisk] | None, X("disks/disk", model=SnapshotDisk, many=True)] = None
    domain_copy: Annotated[_DomainCopy | None, X("domain", model=_DomainCopy)] = None
    domain_xml: str | None = None  # the <domain> copy, formatted by the domain module
    active: Annotated[int | None, X("active")] = None


def parse_snapshot(xml: str | bytes) -> Snapshot:
    snap = parse_document(Snapshot, xml, "domainsnapshot")
    snap.domain_copy = None
    if snap.name is not None and "/" in snap.name:
        raise XMLError(ErrorCode.INVALID_DOMAIN_SNAPSHOT, f"invalid snapshot name '{snap.name}': contains '/'")
    return snap


def format_snapshot(snap: Snapshot) -> str:
    """The snapshot document with its ``<domain>`` copy indented inside it."""
    text = document_to_string(snap)
    if not snap.domain_xml:
        return text
    inner = "".join("  " + line + "\n" for line in snap.domain_xml.rstrip("\n").split("\n"))
    head, sep, tail = text.rpartition("</domainsnapshot>")
    marker = "  <active>" if "  <active>" in head else None
    if marker:
        before, _, after = head.rpartition(marker)
        return before + inner + marker + after + sep + tail
    return head + inner + sep + tail
