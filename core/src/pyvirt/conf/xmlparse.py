"""Hardened XML parsing: no DTDs or entities, no network, a size limit.

libvirt parses with libxml2 and expands entities; we refuse any DTD instead,
so an entity bomb or an external entity is an XML_ERROR before any expansion.
Syntax errors are reported as libvirt reports them (XML_DETAIL, with the
document name, line, libxml2's message and a caret under the column), since
lxml is libxml2 and the messages are the same.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from pyvirt.errors import ErrorCode, XMLError

__all__ = ["MAX_XML_BYTES", "parse_xml"]

_ROOT_TAG = re.compile(rb"<[A-Za-z_]")

MAX_XML_BYTES = 10 * 1024 * 1024
"""virsh refuses XML files above 10 MiB; so do we, before parsing."""


def parse_xml(data: str | bytes, root: str, url: str) -> etree._Element:
    """Parse one document whose root must be ``<root>``; ``url`` names it in errors."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_XML_BYTES:
        raise XMLError(
            ErrorCode.XML_ERROR, f"XML document is too large ({len(raw)} bytes, the limit is {MAX_XML_BYTES})"
        )
    root_start = _ROOT_TAG.search(raw)
    if b"<!DOCTYPE" in raw[: root_start.start() if root_start else len(raw)]:
        raise XMLError(ErrorCode.XML_ERROR, "DTD and entity declarations are not allowed in XML documents")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
        collect_ids=False,
    )
    try:
        doc = etree.fromstring(raw, parser, base_url=url)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, raw, url) from None
    tree = doc.getroottree()
    if getattr(tree.docinfo, "doctype", "") or tree.docinfo.internalDTD is not None:
        raise XMLError(ErrorCode.XML_ERROR, "DTD and entity declarations are not allowed in XML documents")
    if doc.tag != root:
        raise XMLError(ErrorCode.XML_ERROR, f"expecting root element of '{root}', not '{doc.tag}'")
    return doc


def _syntax_error(exc: etree.XMLSyntaxError, raw: bytes, url: str) -> XMLError:
    entries: list[Any] = list(exc.error_log)  # type: ignore[call-overload]
    entry = entries[-1] if entries else None
    line = int((entry.line if entry else exc.lineno) or 1)
    column = int((entry.column if entry else 0) or 0)
    message = (entry.message if entry else str(exc)).strip()
    if not raw.strip():
        return XMLError(ErrorCode.XML_DETAIL, f"({url}):1: Document is empty")
    lines = raw.decode(errors="replace").splitlines()
    context = lines[line - 1] if 0 < line <= len(lines) else ""
    pointer = "-" * max(column - 1, 0) + "^"
    return XMLError(ErrorCode.XML_DETAIL, f"({url}):{line}: {message}\n{context}\n{pointer}")
