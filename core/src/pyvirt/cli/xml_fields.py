"""A few fields of a document a driver returned, read as virsh reads them with XPath (``string(/root/a/b)``).

Why not pyvirt's XML models: virsh's listing commands read two or three
elements of each object's XML (``snapshot-list`` the creation time, state
and parent of every snapshot), and building the whole model for that loads
lxml and the model classes, several times what virsh spends on the entire
command. The standard library's expat reads them in one pass. A document
type declaration, where entities would be declared, is refused, so nothing
is expanded; the documents come from the connection's driver, and anything
that needs more than these fields still goes through ``pyvirt.conf``.
"""

from __future__ import annotations

from pyvirt.errors import ErrorCode, XMLError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from _collections_abc import Sequence

__all__ = ["read_fields"]


def read_fields(xml: str, paths: Sequence[str]) -> dict[str, list[str]]:
    """Every value of each path below the root element, in document order.

    A path is element names joined by ``/`` (``parent/name``: the root's
    ``<parent>``'s ``<name>``), optionally ending in ``@attr`` for an
    attribute (``disks/disk@snapshot``, ``memory@snapshot``). An element's
    value is all the text inside it, as XPath's ``string()`` gives it. A
    path that matches nothing maps to an empty list.
    """
    from xml.parsers import expat

    elements: dict[tuple[str, ...], str] = {}  # element path -> the path as asked (for element values)
    attributes: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # element path -> (attribute, path as asked)
    for path in paths:
        where, _, attr = path.partition("@")
        key = tuple(where.split("/")) if where else ()
        if attr:
            attributes.setdefault(key, []).append((attr, path))
        else:
            elements[key] = path
    found: dict[str, list[str]] = {path: [] for path in paths}
    stack: list[str] = []  # the open elements, the root first
    gathering: list[tuple[int, list[str]]] = []  # (depth, text so far) of each matched element still open

    def start(tag: str, attrs: dict[str, str]) -> None:
        stack.append(tag)
        key = tuple(stack[1:])
        for attr, path in attributes.get(key, ()):
            if attr in attrs:
                found[path].append(attrs[attr])
        if key in elements:
            gathering.append((len(stack), []))

    def end(_tag: str) -> None:
        if gathering and gathering[-1][0] == len(stack):
            found[elements[tuple(stack[1:])]].append("".join(gathering.pop()[1]))
        stack.pop()

    def text(data: str) -> None:
        for _, parts in gathering:
            parts.append(data)

    def refuse_doctype(*_args: object) -> None:
        raise XMLError(ErrorCode.XML_ERROR, "document type declarations are not accepted")

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    parser.StartDoctypeDeclHandler = refuse_doctype
    try:
        parser.Parse(xml, True)
    except expat.ExpatError as exc:
        raise XMLError(ErrorCode.XML_ERROR, str(exc)) from None
    return found
