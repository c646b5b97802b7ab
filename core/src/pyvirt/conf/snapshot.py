"""Domain snapshot XML (``<domainsnapshot>``)."""

from __future__ import annotations

from pyvirt.conf.common import document_to_string, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing only for type checkers: every snapshot-* line on test:/// would load it (xmlmodel.py)
if TYPE_CHECKING:
    from typing import Annotated

__all__ = ["SNAPSHOT_NAME_MAX_BYTES", "Snapshot", "check_snapshot_name", "format_snapshot", "parse_snapshot"]

# A snapshot's metadata lives in ``NAME.xml`` (libvirt's layout, and ours), and a file name is at most
# NAME_MAX (255) bytes on every Linux filesystem: a longer name can never be stored, so it is refused
# before anything (QEMU's monitor, qemu-img, the filesystem) sees it.
SNAPSHOT_NAME_MAX_BYTES = 255 - len(".xml")


class SnapshotDisk(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    snapshot: Annotated[str | None, X("@snapshot")] = None
    type: Annotated[str | None, X("@type")] = None
    driver_type: Annotated[str | None, X("driver/@type")] = None
    source_file: Annotated[str | None, X("source/@file")] = None
    source_dev: Annotated[str | None, X("source/@dev")] = None

    @property
    def path(self) -> str | None:
        """The new image's path (libvirt's ``src->path``): the file, or the block device."""
        return self.source_dev if self.type == "block" else self.source_file


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
    inactive_copy: Annotated[_DomainCopy | None, X("inactiveDomain", model=_DomainCopy)] = None
    # a running persistent guest's definition for its next boot, as a <domain> document: written after the
    # <domain> copy as <inactiveDomain> (virDomainDefFormatInternalSetRootName)
    inactive_domain_xml: str | None = None
    active: Annotated[int | None, X("active")] = None


def parse_snapshot(xml: str | bytes) -> Snapshot:
    snap = parse_document(Snapshot, xml, "domain_snapshot")  # libvirt's name for the document
    snap.domain_copy = snap.inactive_copy = None
    return snap


def check_snapshot_name(name: str) -> None:
    """Refuse a name that cannot name the snapshot's metadata file, as libvirt's qemu driver does.

    libvirt (qemuSnapshotCreateXMLValidateDef) refuses '/' and a leading '.'
    with VIR_ERR_XML_DETAIL; it has no length rule of its own and fails later,
    in the filesystem, after QEMU has already taken the snapshot. Here the
    length is checked first, so a huge name never reaches QEMU's monitor (a
    multi-megabyte tag wedges it) nor the filesystem. Long names are cut in
    the message: echoing megabytes back helps nobody.
    """
    shown = name if len(name) <= 64 else f"{name[:64]}..."
    if len(name.encode("utf-8", "surrogatepass")) > SNAPSHOT_NAME_MAX_BYTES:
        raise XMLError(
            ErrorCode.XML_DETAIL,
            f"invalid snapshot name '{shown}': name can't be longer than {SNAPSHOT_NAME_MAX_BYTES} bytes",
        )
    if "/" in name:
        raise XMLError(ErrorCode.XML_DETAIL, f"invalid snapshot name '{shown}': name can't contain '/'")
    if name.startswith("."):
        raise XMLError(ErrorCode.XML_DETAIL, f"invalid snapshot name '{shown}': name can't start with '.'")


def format_snapshot(snap: Snapshot) -> str:
    """The snapshot document with its ``<domain>`` copy (and ``<inactiveDomain>``) indented inside it."""
    text = document_to_string(snap)
    if not snap.domain_xml and not snap.inactive_domain_xml:
        return text

    def indented(xml: str) -> str:
        return "".join("  " + line + "\n" for line in xml.rstrip("\n").split("\n"))

    inner = indented(snap.domain_xml) if snap.domain_xml else ""
    if snap.inactive_domain_xml:
        opened = snap.inactive_domain_xml.rstrip("\n").replace("<domain", "<inactiveDomain", 1)
        head, _, tail = opened.rpartition("</domain>")
        inner += indented(head + "</inactiveDomain>" + tail)
    head, sep, tail = text.rpartition("</domainsnapshot>")
    marker = "  <active>" if "  <active>" in head else None
    if marker:
        before, _, after = head.rpartition(marker)
        return before + inner + marker + after + sep + tail
    return head + inner + sep + tail
