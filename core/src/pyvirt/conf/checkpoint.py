"""Domain checkpoint XML (``<domaincheckpoint>``), as libvirt's checkpoint_conf.c reads and writes it.

A checkpoint names the point from which a disk's dirty bitmap records
changed blocks (for incremental backups). The document holds the name, a
description, the parent checkpoint, the creation time, one ``<disk>`` per
disk of the domain (``checkpoint='bitmap'`` with the bitmap's name, or
``'no'``) and a copy of the domain definition at that moment.

libvirt validates the document against ``domaincheckpoint.rng`` before
reading it (virXMLParse with validation on); so does this module, with
libvirt's own schema file from Debian's libvirt0 and libxml2's words for
what is wrong, compiled once per process. Without the schema the rules it
adds to the shape (the name's pattern, the ``checkpoint`` values, unsigned
sizes) are checked here with the same error code. Elements libvirt knows but
this model does not map are refused by name, as everywhere in :mod:`pyvirt.conf`.
"""

from __future__ import annotations

import functools
import os
import re

from lxml import etree

from pyvirt.conf.common import document_to_string
from pyvirt.conf.schema import SCHEMA_DIR
from pyvirt.conf.xmlmodel import X, XmlModel, parse_model
from pyvirt.conf.xmlparse import find_one, parse_xml
from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated

__all__ = [
    "CHECKPOINT_TYPES",
    "Checkpoint",
    "CheckpointDisk",
    "format_checkpoint",
    "parse_checkpoint",
]

CHECKPOINT_TYPES = ("no", "bitmap")
"""``<disk checkpoint=...>`` values a document may carry (libvirt's "default" is never written)."""

# domaincheckpoint.rng's checkpointName: no leading '.', no '/' or newline anywhere
_NAME = re.compile(r"[a-zA-Z0-9_\-][a-zA-Z0-9_\-.]*\Z")


class CheckpointDisk(XmlModel):
    """One ``<disk>`` of ``<disks>``: the disk's target (or source path), what to do, and the bitmap."""

    name: Annotated[str | None, X("@name")] = None
    checkpoint: Annotated[str | None, X("@checkpoint")] = None
    bitmap: Annotated[str | None, X("@bitmap")] = None
    size: Annotated[int | None, X("@size")] = None


class _DomainCopy(XmlModel):
    """The ``<domain>`` inside a checkpoint document: read by the domain module, not here."""

    XML_OPEN = True


class Checkpoint(XmlModel):
    """``<domaincheckpoint>``; field order is libvirt's output order (virDomainCheckpointDefFormat)."""

    TAG = "domaincheckpoint"
    name: Annotated[str | None, X("name")] = None
    description: Annotated[str | None, X("description")] = None
    parent: Annotated[str | None, X("parent/name")] = None
    creation_time: Annotated[int | None, X("creationTime")] = None
    disks: Annotated[list[CheckpointDisk] | None, X("disks/disk", model=CheckpointDisk, many=True)] = None
    domain_copy: Annotated[_DomainCopy | None, X("domain", model=_DomainCopy)] = None
    domain_xml: str | None = None
    """The ``<domain>`` copy: the definition text as given (parsed) or formatted by the domain module."""


_SCHEMA = os.path.join(SCHEMA_DIR, "domaincheckpoint.rng")


@functools.cache
def _relaxng() -> etree.RelaxNG | None:
    """libvirt's checkpoint schema, or None when Debian's libvirt0 (which ships it) is absent."""
    if not os.path.exists(_SCHEMA):
        return None
    return etree.RelaxNG(etree.parse(_SCHEMA))


def _schema_error(*reasons: str) -> XMLError:
    """virXMLValidateAgainstSchema's error: the schema's path, then each of libxml2's complaints on a line."""
    lines = "".join(f"{r}\n" for r in reasons)
    return XMLError(ErrorCode.XML_INVALID_SCHEMA, f"Unable to validate doc against {_SCHEMA}\n{lines}")


def _validate(root: etree._Element) -> None:
    schema = _relaxng()
    if schema is not None and not schema.validate(root):
        raise _schema_error(*(e.message for e in schema.error_log))


def _check_schema_rules(chk: Checkpoint) -> None:
    """What domaincheckpoint.rng says beyond the shape the model maps."""
    for label, value in (("name", chk.name), ("parent name", chk.parent)):
        if value is not None and not _NAME.match(value):
            raise _schema_error(f"invalid checkpoint {label} '{value}'")
    if chk.creation_time is not None and chk.creation_time < 0:
        raise _schema_error(f"invalid creationTime '{chk.creation_time}'")
    if chk.disks is not None and not chk.disks:
        raise _schema_error("Expecting an element disk, got nothing")
    for disk in chk.disks or []:
        if not disk.name:
            raise _schema_error("Element disk failed to validate attributes")
        if disk.checkpoint is not None and disk.checkpoint not in CHECKPOINT_TYPES:
            raise _schema_error(f"invalid checkpoint type '{disk.checkpoint}' for disk '{disk.name}'")
        if disk.checkpoint == "no" and (disk.bitmap is not None or disk.size is not None):
            raise _schema_error(f"disk '{disk.name}' with checkpoint='no' cannot have a bitmap")
        if disk.size is not None and disk.size < 0:
            raise _schema_error(f"invalid size '{disk.size}' for disk '{disk.name}'")


def parse_checkpoint(xml: str | bytes, *, redefine: bool = False) -> Checkpoint:
    """Read a checkpoint document as libvirt's virDomainCheckpointDefParseString does.

    Without ``redefine`` (a new checkpoint) only the name, description and
    disks are taken: creation time, parent and domain copy are the driver's
    to fill in, and libvirt ignores them in the input. With ``redefine``
    (restoring a checkpoint's metadata) the name and creation time are
    required, and the parent and domain copy are kept (``domain_xml``).

    :raises XMLError: the document is not a valid ``<domaincheckpoint>``.
    """
    root = parse_xml(xml, Checkpoint.TAG, "domain_checkpoint")
    _validate(root)
    chk = parse_model(Checkpoint, root)
    _check_schema_rules(chk)
    domain_xml = None
    if redefine:
        if chk.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "a redefined checkpoint must have a name")
        if chk.creation_time is None:
            from pyvirt.errors import InternalError

            raise InternalError(ErrorCode.INTERNAL_ERROR, "missing creationTime from existing checkpoint")
        if chk.domain_copy is not None:
            node = find_one(root, "domain")
            if node is not None:
                domain_xml = etree.tostring(node, encoding="unicode", with_tail=False)
    else:
        chk.creation_time = None
        chk.parent = None
    chk.domain_copy = None
    chk.domain_xml = domain_xml
    return chk


def format_checkpoint(chk: Checkpoint) -> str:
    """The document, with its ``<domain>`` copy (already formatted) indented inside it, last."""
    text = document_to_string(chk)
    if not chk.domain_xml:
        return text
    inner = "".join("  " + line + "\n" for line in chk.domain_xml.rstrip("\n").split("\n"))
    if text.rstrip("\n").endswith("/>"):  # nothing but the copy: <domaincheckpoint/> opens up
        return f"<domaincheckpoint>\n{inner}</domaincheckpoint>\n"
    head, sep, tail = text.rpartition("</domaincheckpoint>")
    return head + inner + sep + tail
