"""XML equality the way libvirt's own tests mean it: whitespace and attribute order do not matter.

Used by the conformance tests of core and of every driver that compares its
output with libvirt's test data (C14N 2.0 after dropping blank text).
"""

from __future__ import annotations

from lxml import etree

__all__ = ["canonical"]


def canonical(text: str | bytes) -> str:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(text.encode() if isinstance(text, str) else text, parser)
    for el in root.iter():
        if el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    out: bytes = etree.tostring(root, method="c14n2", strip_text=True)  # type: ignore[call-overload]
    return out.decode()
