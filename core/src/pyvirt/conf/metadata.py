"""A domain's title, description and ``<metadata>`` elements, read and written as libvirt's conf layer does.

virDomainObjGetMetadata and virDomainDefSetMetadata (src/conf/domain_conf.c)
with libvirt's XML helpers (src/util/virxml.c): an element set under a
namespace takes that namespace with the given prefix on itself and on its
descendants that have none (virXMLInjectNamespace) and replaces every other
element of the namespace; an element read back loses the namespace and is
written formatted (virXMLExtractNamespaceXML, xmlNodeDump). Every driver
with definitions of its own uses these, so ``desc`` and ``metadata`` answer
alike whichever hypervisor runs the guest.
"""

from __future__ import annotations

from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, NotFoundError

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain

__all__ = [
    "METADATA_DESCRIPTION",
    "METADATA_ELEMENT",
    "METADATA_TITLE",
    "get_metadata",
    "parse_element",
    "set_metadata",
]

# virDomainMetadataType
METADATA_DESCRIPTION, METADATA_TITLE, METADATA_ELEMENT = 0, 1, 2


def _check_type(type: int) -> None:
    if not METADATA_DESCRIPTION <= type <= METADATA_ELEMENT:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown metadata type '{type}'")


def get_metadata(dom: Domain, type: int, uri: str | None) -> str:
    """virDomainObjGetMetadata on one definition: NO_DOMAIN_METADATA when there is none."""
    _check_type(type)
    found: str | None
    if type == METADATA_DESCRIPTION:
        found = dom.description
    elif type == METADATA_TITLE:
        found = dom.title
    else:
        found = _element_of(dom.metadata, uri or "") if dom.metadata else None
    if found is None:
        raise NotFoundError(ErrorCode.NO_DOMAIN_METADATA, "Requested metadata element is not present")
    return found


def parse_element(type: int, metadata: str | None, key: str | None, uri: str | None) -> str | None:
    """The element to store for type ELEMENT (parsed and namespaced once, before any definition changes)."""
    _check_type(type)
    if type != METADATA_ELEMENT or not metadata:
        return None
    return _namespaced(metadata, key or "", uri or "")


def set_metadata(dom: Domain, type: int, metadata: str | None, uri: str | None, element: str | None) -> None:
    """virDomainDefSetMetadata on one definition; ``element`` is :func:`parse_element`'s answer."""
    if type == METADATA_DESCRIPTION:
        dom.description = metadata or None
    elif type == METADATA_TITLE:
        dom.title = metadata or None
    else:
        dom.metadata = _replace_element(dom.metadata, uri or "", element)


def _namespaced(metadata: str, key: str, uri: str) -> str:
    """virXMLInjectNamespace: the element and its descendants without a namespace of their own move to ``uri``."""
    from lxml import etree

    try:
        root = etree.fromstring(metadata, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        from pyvirt.conf.xmlparse import _syntax_error  # libvirt's wording of a parse error, with the line shown

        raise _syntax_error(exc, metadata.encode(), "metadata_xml") from None
    if not _is_ncname(key):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "failed to validate prefix for a new XML namespace")
    out = etree.Element(f"{{{uri}}}{etree.QName(root).localname}", nsmap={key: uri})

    def copy(src: etree._Element, dst: etree._Element) -> None:
        dst.text = src.text
        for name, value in src.attrib.items():
            dst.set(name, value)
        for child in src.iterchildren("*"):
            qn = etree.QName(child)
            node = etree.SubElement(dst, f"{{{uri}}}{qn.localname}" if qn.namespace is None else child.tag)
            copy(child, node)
            node.tail = child.tail

    copy(root, out)
    return etree.tostring(out, encoding="unicode")


def _is_ncname(key: str) -> bool:
    """xmlValidateNCName: a name without a colon, as a namespace prefix must be."""
    import re

    return re.fullmatch(r"[A-Za-z_][\w.\-]*", key) is not None


def _element_of(metadata: str, uri: str) -> str | None:
    """virXMLExtractNamespaceXML: the first child element in namespace ``uri``, without that namespace.

    Its elements lose the namespace and its declaration, and the copy is
    written as libxml2's xmlNodeDump writes with formatting (lxml's
    pretty_print is that same call), without a final newline.
    """
    import copy

    from lxml import etree

    # bytes: lxml matches str input against a pattern (for an encoding declaration), which imports re
    holder = etree.fromstring(f"<metadata>{metadata}</metadata>".encode(), etree.XMLParser(resolve_entities=False))
    for child in holder.iterchildren("*"):
        if etree.QName(child).namespace != uri:
            continue
        node = copy.deepcopy(child)
        for el in node.iter("*"):
            if etree.QName(el).namespace == uri:
                el.tag = etree.QName(el).localname
        etree.cleanup_namespaces(node)
        return etree.tostring(node, encoding="unicode", pretty_print=True, with_tail=False).removesuffix("\n")
    return None


def _replace_element(metadata: str | None, uri: str, element: str | None) -> str | None:
    """virDomainDefSetMetadata for elements: drop every child of namespace ``uri``, then append ``element``."""
    from lxml import etree

    holder = etree.fromstring(
        f"<metadata>{metadata or ''}</metadata>".encode(), etree.XMLParser(resolve_entities=False)
    )
    for child in list(holder):
        if isinstance(child.tag, str) and etree.QName(child).namespace == uri:
            holder.remove(child)
    if element is not None:
        holder.append(etree.fromstring(element))
    return "".join(etree.tostring(c, encoding="unicode", with_tail=False) for c in holder if isinstance(c.tag, str))
