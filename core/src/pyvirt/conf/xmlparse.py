"""Hardened XML parsing: no DTDs or entities, no network, a size limit.

libvirt parses with libxml2 and expands entities; we refuse any DTD instead,
so an entity bomb or an external entity is an XML_ERROR before any expansion.
Syntax errors are reported as libvirt reports them (XML_DETAIL, with the
document name, line, libxml2's message and a caret under the column), since
lxml is libxml2 and the messages are the same.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_XML_BYTES", "find_all", "find_one", "find_text", "parse_xml"]

_NAME_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _root_start(raw: bytes) -> int:
    """Where the first start tag (``<`` and a name's first letter) begins, or -1: found by hand rather than
    with a pattern compiled anew by every XML-reading pyvirsh command (see units.py)."""
    pos = raw.find(b"<")
    while pos >= 0 and (pos + 1 >= len(raw) or raw[pos + 1] not in _NAME_START):
        pos = raw.find(b"<", pos + 1)
    return pos


MAX_XML_BYTES = 10 * 1024 * 1024
"""virsh refuses XML files above 10 MiB; so do we, before parsing."""


def _to_bytes(data: str | bytes) -> bytes:
    """UTF-8 bytes for libxml2; undecodable bytes a caller kept as surrogate escapes come back as they were.

    libvirt always parses as UTF-8, whatever encoding the document declares
    (virsh: "Input is not proper UTF-8, indicate encoding !" even for a latin-1
    file that says so); other lone surrogates are passed on as such, and
    libxml2 refuses them the same way.
    """
    if isinstance(data, bytes):
        return data
    try:
        return data.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return data.encode("utf-8", "surrogatepass")


def parse_xml(data: str | bytes, root: str, url: str) -> etree._Element:
    """Parse one document whose root must be ``<root>``; ``url`` names it in errors."""
    raw = _to_bytes(data)
    if len(raw) > MAX_XML_BYTES:
        raise XMLError(
            ErrorCode.XML_ERROR, f"XML document is too large ({len(raw)} bytes, the limit is {MAX_XML_BYTES})"
        )
    root_start = _root_start(raw)
    if b"<!DOCTYPE" in raw[: root_start if root_start >= 0 else len(raw)]:
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
        encoding="utf-8",
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
        # libxml2 has no line to show past the end of the input: libvirt prints "(null)" as the context
        if not raw:
            return XMLError(ErrorCode.XML_DETAIL, f"({url}):1: Document is empty\n(null)\n^")
        end = raw.count(b"\n") + 1
        return XMLError(ErrorCode.XML_DETAIL, f"({url}):{end}: Start tag expected, '<' not found\n(null)\n^")
    if entry is not None and entry.type_name == "ERR_INVALID_ENCODING":
        bad = _first_bad_utf8(raw)
        if bad is not None:
            # libxml2 2.9 (libvirt 9.0's) words it so and names the bytes; newer ones say
            # "Invalid bytes in character encoding" and are what lxml bundles.
            line = raw.count(b"\n", 0, bad) + 1
            column = bad - (raw.rfind(b"\n", 0, bad) + 1) + 1
            shown = " ".join(f"0x{b:02X}" for b in raw[bad : bad + 4])
            message = f"Input is not proper UTF-8, indicate encoding !\nBytes: {shown}"
    lines = raw.decode(errors="replace").splitlines()
    context = lines[line - 1] if 0 < line <= len(lines) else "(null)"  # past the end: libvirt prints a NULL
    pointer = "-" * max(column - 1, 0) + "^"
    return XMLError(ErrorCode.XML_DETAIL, f"({url}):{line}: {message}\n{context}\n{pointer}")


def _first_bad_utf8(raw: bytes) -> int | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


# Reading children by path without lxml's ElementPath. Why: every ``find``/``findall``/``findtext``/``iterfind``
# with a path tokenizes it with a regular expression, so the first one in a process imports :mod:`re` (and
# ``enum``) and compiles the tokenizer: about twenty million instructions, a tenth of a pyvirsh ``dumpxml`` on
# test:/// and half of what virsh's whole run costs. The models and the test driver only ever ask for child
# paths (``a/b``, ``{ns}a/{ns}b``, ``tag[@attr='value']``), which ``iterchildren(tag)`` answers in C.

_Step = tuple[str, "str | None", "str | None"]  # (tag, attribute, value) of one path step
_STEPS: dict[str, tuple[_Step, ...]] = {}


def _steps(path: str) -> tuple[_Step, ...]:
    """The steps of a child path, split on ``/`` outside ``{namespace}`` braces; cached per path.

    Anything but plain child steps with an optional ``[@attr='value']`` is refused: a caller that needs more of
    XPath has lxml's own ``find``, and a silent different answer would be worse than the import it saves.
    """
    cached = _STEPS.get(path)
    if cached is not None:
        return cached
    parts: list[str] = []
    start = depth = 0
    for pos, char in enumerate(path):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "/" and depth == 0:
            parts.append(path[start:pos])
            start = pos + 1
    parts.append(path[start:])
    steps: list[_Step] = []
    for part in parts:
        tag, attr, value = part, None, None
        if part.endswith("]") and "[@" in part:
            tag, _, cond = part[:-1].partition("[@")
            attr, _, quoted = cond.partition("=")
            if len(quoted) < 2 or quoted[0] not in "'\"" or quoted[-1] != quoted[0]:
                raise ValueError(f"unsupported path step {part!r} in {path!r}")
            value = quoted[1:-1]
        if not tag or tag in (".", "..", "*") or any(c in tag for c in "[]@*"):
            raise ValueError(f"unsupported path step {part!r} in {path!r}")
        steps.append((tag, attr, value))
    _STEPS[path] = result = tuple(steps)
    return result


def _walk(elems: list[etree._Element], steps: tuple[_Step, ...]) -> list[etree._Element]:
    for tag, attr, value in steps:
        elems = [c for e in elems for c in e.iterchildren(tag) if attr is None or c.get(attr) == value]
    return elems


def find_all(elem: etree._Element, path: str) -> list[etree._Element]:
    """Every element at ``path`` below ``elem``, in document order: ``elem.findall(path)`` without ElementPath."""
    steps = _steps(path)
    if len(steps) == 1 and steps[0][1] is None:
        return list(elem.iterchildren(steps[0][0]))
    return _walk([elem], steps)


def find_one(elem: etree._Element, path: str) -> etree._Element | None:
    """The first element at ``path`` below ``elem``, or None: ``elem.find(path)`` without ElementPath."""
    steps = _steps(path)
    if len(steps) == 1:
        tag, attr, value = steps[0]
        for found in elem.iterchildren(tag):
            if attr is None or found.get(attr) == value:
                return found
        return None
    found_all = _walk([elem], steps)
    return found_all[0] if found_all else None


def find_text(elem: etree._Element, path: str, default: str | None = None) -> str | None:
    """The text of the first element at ``path`` ("" when it has none), else ``default``: ``findtext``'s
    answer without ElementPath."""
    found = find_one(elem, path)
    if found is None:
        return default
    return found.text or ""
