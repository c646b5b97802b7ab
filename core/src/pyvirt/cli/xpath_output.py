"""``--xpath``/``--wrap`` on XML-printing commands, printed the way virsh prints them.

virsh evaluates the expression against the document root and accepts only
node sets: elements are dumped with double-quoted attributes, attributes as
`` name="value"``, text nodes as their text. A non-node result is an internal
error; an expression libxml cannot parse is reported on stderr and prints
nothing, which is what virsh 9.0 does.
"""

from __future__ import annotations

from pyvirt.cli.framework import XPATH_OPTS, Session
from pyvirt.errors import ErrorCode, InternalError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["XPATH_OPTS", "print_xml"]


def _dump(item: Any) -> str:
    from lxml import etree  # only --xpath needs lxml; plain dumps print the driver's text

    if isinstance(item, etree._Element):
        return etree.tostring(item, encoding="unicode", with_tail=False, pretty_print=True).rstrip("\n")
    if getattr(item, "is_attribute", False):
        return f' {item.attrname}="{item}"'
    return str(item)


def print_xml(s: Session, xml: str, o: dict[str, Any], newline: bool = False) -> None:
    """The document, or with ``--xpath`` the nodes it selects (``--wrap``: under one ``<nodes>``).

    ``newline``: the command prints the document with ``"%s\n"`` (capabilities) rather than ``"%s"``.
    """
    expr = o.get("xpath")
    if not expr:
        s.out(xml) if newline else s.out_raw(xml)
        return
    from lxml import etree

    # libvirt parses without blank text, so dumps are re-indented from column 0
    root = etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True))
    try:
        result = root.xpath(expr)
    except etree.XPathError:
        s.error_raw("XPath error : Invalid expression\n")
        s.out_raw("")
        return
    if not isinstance(result, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Incorrect xpath '{expr}'")
    elements = [item for item in result if isinstance(item, etree._Element)]
    if o.get("wrap") and len(elements) == len(result):
        wrapper = etree.Element("nodes")
        import copy

        wrapper.extend(copy.deepcopy(item) for item in elements)
        s.out(_dump(wrapper))
        return
    if o.get("wrap"):
        body = "".join(f"  {_dump(item)}\n" for item in result)
        s.out(f"<nodes>\n{body}</nodes>")
        return
    for item in result:
        s.out(_dump(item))
