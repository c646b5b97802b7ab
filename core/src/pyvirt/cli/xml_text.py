"""virBufferEscapeString: how virsh puts user text into the XML it builds on the client side.

The five XML specials become entities (quotes included, so the text is safe
in an attribute as well as in an element), and the control characters
below 0x20 other than tab, newline and carriage return are dropped, as
libvirt's forbidden-character table drops them. Commands that assemble a
document from their options (snapshot-create-as, checkpoint-create-as,
attach-disk, echo --xml) use this one function, so ``--print-xml`` shows
what virsh shows.

Not ``xml.sax.saxutils.escape``: it leaves quotes alone, and importing it
pulls in urllib, http.client and ssl, paid by every pyvirsh run.
"""

from __future__ import annotations

__all__ = ["escape_xml"]

_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}


def escape_xml(text: str) -> str:
    """``text`` with XML's specials as entities and the forbidden control characters left out."""
    return "".join(_ENTITIES.get(ch, ch) for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
