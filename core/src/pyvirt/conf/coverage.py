"""What a model does not map: refused if libvirt knows it, ignored (as libvirt does) otherwise.

libvirt silently ignores elements and attributes it does not know. pyvirt
must not silently drop ones libvirt *does* know but pyvirt's models do not
map yet, or ``define`` + ``dumpxml`` would lose configuration. The names
libvirt knows come from its own RNG schemas (Debian's libvirt0); they are
read only when an unmapped name is met. Without the schemas every unmapped
name is treated as known (refused), the safe side.
"""

from __future__ import annotations

import os

from lxml import etree

from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["ExpectedTree", "check_unmapped"]

_RNG = "{http://relaxng.org/ns/structure/1.0}"


class ExpectedTree:
    """Attributes and children a model maps at one element; ``None`` child = handled elsewhere.

    A plain class rather than a dataclass: this module is on the path of
    every command that reads XML, and ``dataclasses`` would be imported for
    this class alone.
    """

    __slots__ = ("attrs", "children", "open", "open_children")

    def __init__(self, *, open: bool = False, open_children: bool = False) -> None:
        self.attrs: set[str] = set()
        self.children: dict[str, ExpectedTree | None] = {}
        self.open = open  # anything goes (custom parsers)
        self.open_children = open_children  # children kept verbatim (raw content); attributes still checked

    def __repr__(self) -> str:
        return f"ExpectedTree(attrs={self.attrs!r}, children={self.children!r}, open={self.open!r})"

    def child(self, tag: str) -> ExpectedTree:
        node = self.children.get(tag)
        if node is None:
            node = ExpectedTree()
            self.children[tag] = node
        return node


# (element names, attribute names) of libvirt's schemas, read once; a list rather than functools.cache: every
# XML-reading pyvirsh command imports this module, and functools (with collections) cost it two million
# instructions for a function that only runs when a document has a name no model maps
_NAMES: list[tuple[frozenset[str], frozenset[str]] | None] = []


def _libvirt_names() -> tuple[frozenset[str], frozenset[str]] | None:
    if not _NAMES:
        _NAMES.append(_read_libvirt_names())
    return _NAMES[0]


def _read_libvirt_names() -> tuple[frozenset[str], frozenset[str]] | None:
    import glob  # only when an unmapped name is met

    from pyvirt.conf.schema import SCHEMA_DIR

    files = glob.glob(os.path.join(SCHEMA_DIR, "*.rng"))
    if not files:
        return None
    elements: set[str] = set()
    attributes: set[str] = set()
    for path in files:
        for node in etree.parse(path).iter(f"{_RNG}element", f"{_RNG}attribute"):
            name = node.get("name")
            if name:
                (elements if node.tag == f"{_RNG}element" else attributes).add(name.split(":")[-1])
    return frozenset(elements), frozenset(attributes)


def _known(name: str, kind: int) -> bool:
    names = _libvirt_names()
    return True if names is None else name.rsplit("}", maxsplit=1)[-1] in names[kind]


def check_unmapped(elem: etree._Element, tree: ExpectedTree, where: str) -> None:
    """Raise CONFIG_UNSUPPORTED for the first libvirt-known name ``tree`` does not map."""
    if tree.open:
        return
    for key in elem.attrib:
        name = str(key)
        if name not in tree.attrs and not name.startswith("{http://www.w3.org/") and _known(name, 1):
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"attribute '{name}' of <{where}> is not supported by pyvirt yet"
            )
    if tree.open_children:
        return
    for child in elem.iterchildren("*"):
        tag = str(child.tag)
        if tag in tree.children:
            sub = tree.children[tag]
            if sub is not None:
                check_unmapped(child, sub, f"{where}/{tag}")
        elif _known(tag, 0):
            local = tag.rsplit("}", maxsplit=1)[-1]
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"<{local}> in <{where}> is not supported by pyvirt yet"
            )
