"""Serialise element trees the way libvirt writes XML.

Two-space indentation, attributes in single quotes, ``<x/>`` for empty
elements, and the five XML special characters escaped as libvirt's
``virBufferEscapeString`` escapes them. Some elements are always written
open/close even when empty (``<devices>``, a pool's ``<source>``), because
libvirt's formatters write them that way.
"""

from __future__ import annotations

from lxml import etree

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["to_string"]

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"}


def _escape(text: str) -> str:
    if not any(ch in text for ch in _ESCAPES):
        return text
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _qname(elem: etree._Element) -> tuple[str, str]:
    """Prefixed tag name, and xmlns declarations this element introduces."""
    tag = str(elem.tag)
    decls = ""
    parent = elem.getparent()
    parent_ns = parent.nsmap if parent is not None else {}
    for prefix, uri in elem.nsmap.items():
        if parent_ns.get(prefix) != uri:
            decls += f" xmlns:{prefix}='{_escape(uri)}'" if prefix else f" xmlns='{_escape(uri)}'"
    if tag.startswith("{"):
        local = tag.split("}", 1)[1]
        tag = f"{elem.prefix}:{local}" if elem.prefix else local
    return tag, decls


def _attr_name(elem: etree._Element, key: str) -> str:
    if key.startswith("{"):
        uri, local = key[1:].split("}", 1)
        prefix = next((p for p, u in elem.nsmap.items() if u == uri and p), None)
        return f"{prefix}:{local}" if prefix else local
    return key


def _multiline_text(elem: etree._Element) -> bool:
    """Text spanning lines inside a subtree: indenting its lines would change it (and grow on every round trip),
    so such a subtree is written by ``_write``, which keeps text as it is."""
    return any("\n" in (node.text or "") or "\n" in (node.tail or "") for node in elem.iterdescendants())


def _write_dumped(elem: etree._Element, depth: int, out: list[str]) -> None:
    """A subtree libvirt hands to libxml2's xmlNodeDump (``<metadata>``): libxml2's own spelling, i.e. double
    quotes and its escaping, indented from the element's level."""
    pad = "  " * depth
    text = etree.tostring(elem, encoding="unicode", pretty_print=True).rstrip("\n")
    out.extend(f"{pad}{line}\n" for line in text.split("\n"))


def _write(elem: etree._Element, depth: int, out: list[str], keep_open: frozenset[str], pair: frozenset[str]) -> None:
    pad = "  " * depth
    if depth == 1 and elem.tag == "metadata" and len(elem) and not _multiline_text(elem):
        _write_dumped(elem, depth, out)
        return
    tag, decls = _qname(elem)
    attrs = decls + "".join(f" {_attr_name(elem, str(k))}='{_escape(str(v))}'" for k, v in elem.attrib.items())
    children = [c for c in elem if isinstance(c.tag, str)]
    text = elem.text if elem.text and elem.text.strip() else None
    if not children and text is None:
        parent = elem.getparent()
        scoped = f"{parent.tag}/{tag}" if parent is not None else f"/{tag}"
        if tag in keep_open or scoped in keep_open:
            out.append(f"{pad}<{tag}{attrs}>\n{pad}</{tag}>\n")
        elif tag in pair:
            out.append(f"{pad}<{tag}{attrs}></{tag}>\n")
        else:
            out.append(f"{pad}<{tag}{attrs}/>\n")
        return
    if not children:
        out.append(f"{pad}<{tag}{attrs}>{_escape(text or '')}</{tag}>\n")
        return
    out.append(f"{pad}<{tag}{attrs}>\n")
    for child in children:
        _write(child, depth + 1, out, keep_open, pair)
    out.append(f"{pad}</{tag}>\n")


def to_string(elem: etree._Element, keep_open: Iterable[str] = (), empty_pair: Iterable[str] = ()) -> str:
    """The document text, ending with a newline like libvirt's formatters.

    ``keep_open`` tags (``x``; ``parent/x`` for an ``x`` only under ``parent``; ``/x`` for the root only) are
    written ``<x>`` newline ``</x>`` when empty, ``empty_pair`` tags ``<x></x>``.
    """
    out: list[str] = []
    _write(elem, 0, out, frozenset(keep_open), frozenset(empty_pair))
    return "".join(out)
