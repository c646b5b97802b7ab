"""Declarative XML <-> pydantic mapping, in the spirit of virtinst's xmlbuilder.

A model is a pydantic ``BaseModel`` whose fields carry one ``X`` marker each
(``Annotated[int | None, X("target/@dev")]``). Field order *is* libvirt's
canonical element order: formatting walks the fields and creates each path's
elements the first time a field needs them, so ``<target dev='vda' bus='virtio'/>``
comes out of two fields that share ``target``.

Path forms:

- ``@attr``            attribute of this element
- ``a/b/@attr``        attribute of a (first) descendant
- ``a`` / ``a/b``      text of a descendant element
- ``.``                this element's own text
- ``X(path, flag=True)``: bool from the presence of an empty element
- ``X(tag, model=M)``  one child element parsed as model M
- ``X(tag, model=M, many=True)``: every child element with that tag

Value conversion follows the field's type (``int``, ``str``, ``bool`` with
``yes``/``no`` or ``on``/``off`` words, ``Enum``). Anything the model does
not map is reported by the parser so callers can decide (libvirt ignores
unknown elements; elements libvirt knows but pyvirt does not model are
refused with CONFIG_UNSUPPORTED rather than silently dropped).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_args, get_origin

from lxml import etree
from pydantic import BaseModel, ConfigDict

from pyvirt.conf.coverage import ExpectedTree, check_unmapped
from pyvirt.errors import ErrorCode, XMLError

__all__ = ["X", "XmlModel", "format_model", "parse_model"]

M = TypeVar("M", bound="XmlModel")


@dataclass(frozen=True)
class X:
    """Where a field lives in the XML, and how its value is spelled."""

    path: str
    model: type[XmlModel] | None = None
    many: bool = False
    flag: bool = False
    words: tuple[str, str] = ("yes", "no")
    hex: bool = False  # format ints as 0x%04x-style (addresses)
    hex_width: int = 0
    raw: bool = False  # keep the element's children as serialised XML text (e.g. <metadata>)


class XmlModel(BaseModel):
    """Base of every XML-mapped model."""

    model_config = ConfigDict(validate_assignment=False, extra="forbid", arbitrary_types_allowed=True)

    TAG: ClassVar[str] = ""
    # True for models that read their element themselves (xml_parse_extra takes everything).
    XML_OPEN: ClassVar[bool] = False
    # Child element names libvirt knows but this model does not map: refused, not dropped.
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        """Hook for content the declarative fields cannot express (free-form children)."""

    def xml_format_extra(self, elem: etree._Element) -> None:
        """Counterpart of ``xml_parse_extra``; runs after the declared fields."""

    @classmethod
    def expected_tree(cls) -> ExpectedTree:
        """What this model maps, for the unmapped-name check (cached per class)."""
        cached = cls.__dict__.get("_expected_tree_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        root = ExpectedTree(open=cls.XML_OPEN)
        for _name, marker, _ann in cls.xml_fields():
            elems, attr = _split(marker.path)
            node = root
            for tag in elems[:-1]:
                node = node.child(tag)
            if marker.model is not None:
                node.children[elems[-1]] = None
                continue
            if marker.raw:
                (node.child(elems[-1]) if elems else node).open_children = True
                continue
            if elems:
                node = node.child(elems[-1])
            if attr is not None:
                node.attrs.add(attr)
        type.__setattr__(cls, "_expected_tree_cache", root)
        return root

    @classmethod
    def xml_fields(cls) -> list[tuple[str, X, Any]]:
        cached = cls.__dict__.get("_xml_fields_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        out: list[tuple[str, X, Any]] = []
        for name, info in cls.model_fields.items():
            marker = next((m for m in info.metadata if isinstance(m, X)), None)
            if marker is not None:
                out.append((name, marker, info.annotation))
        type.__setattr__(cls, "_xml_fields_cache", out)
        return out


def _base_type(annotation: Any) -> Any:
    """``int | None`` -> int; ``list[Foo]`` -> Foo."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else annotation
    if origin is list:
        return _base_type(get_args(annotation)[0])
    return annotation


def _split(path: str) -> tuple[list[str], str | None]:
    """'a/b/@c' -> (['a', 'b'], 'c'); 'a/b' -> (['a', 'b'], None); '.' -> ([], None)."""
    if path == ".":
        return [], None
    parts = path.split("/")
    attr = parts[-1][1:] if parts[-1].startswith("@") else None
    elems = parts[:-1] if attr is not None else parts
    return elems, attr


def _convert_in(raw: str, marker: X, typ: Any, where: str) -> Any:
    if typ is bool:
        yes, no = marker.words
        if raw == yes:
            return True
        if raw == no:
            return False
        raise XMLError(ErrorCode.XML_ERROR, f"invalid value '{raw}' for {where} (expected '{yes}' or '{no}')")
    if typ is int:
        try:
            return int(raw, 0) if raw.lower().startswith("0x") else int(raw)
        except ValueError:
            raise XMLError(ErrorCode.XML_ERROR, f"invalid integer value '{raw}' for {where}") from None
    if isinstance(typ, type) and issubclass(typ, BaseModel):
        raise TypeError(typ)
    if typ is str or typ is Any:
        return raw
    # Enum / Literal: let pydantic validate later
    return raw


def _convert_out(value: Any, marker: X) -> str:
    if isinstance(value, bool):
        return marker.words[0] if value else marker.words[1]
    if isinstance(value, int) and marker.hex:
        return f"0x{value:0{marker.hex_width}x}"
    if hasattr(value, "value") and not isinstance(value, (int, str)):
        return str(value.value)
    return str(value)


def _find(elem: etree._Element, names: list[str]) -> etree._Element | None:
    cur: etree._Element | None = elem
    for n in names:
        if cur is None:
            return None
        cur = cur.find(n)
    return cur


def parse_model(cls: type[M], elem: etree._Element, where: str = "") -> M:
    """Build ``cls`` from ``elem``; unknown-but-libvirt-known children raise."""
    where = where or elem.tag
    values: dict[str, Any] = {}
    for name, marker, annotation in cls.xml_fields():
        typ = _base_type(annotation)
        elems, attr = _split(marker.path)
        if marker.model is not None:
            if marker.many:
                parent = _find(elem, elems[:-1]) if len(elems) > 1 else elem
                if parent is None:
                    continue
                tag = elems[-1]
                values[name] = [parse_model(marker.model, c, f"{where}/{tag}") for c in parent.findall(tag)]
            else:
                child = _find(elem, elems)
                if child is not None:
                    values[name] = parse_model(marker.model, child, f"{where}/{marker.path}")
            continue
        if marker.flag:
            values[name] = _find(elem, elems) is not None
            continue
        if marker.raw:
            found = _find(elem, elems)
            if found is not None:
                values[name] = "".join(
                    etree.tostring(c, encoding="unicode", with_tail=False) for c in found if isinstance(c.tag, str)
                )
            continue
        target = _find(elem, elems)
        if target is None:
            continue
        if attr is not None:
            raw = target.get(attr)
            if raw is None:
                continue
        else:
            raw = (target.text or "").strip()
            if not raw and typ is not str:
                continue
        values[name] = _convert_in(raw, marker, typ, f"{where}/{marker.path}")
    cls.xml_parse_extra(elem, values)
    for child in elem:
        if isinstance(child.tag, str) and child.tag in cls.UNSUPPORTED:
            from pyvirt.errors import NotSupportedError

            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"<{child.tag}> in <{where}> is not supported by pyvirt yet"
            )
    check_unmapped(elem, cls.expected_tree(), where)
    try:
        return cls.model_validate(values)
    except Exception as exc:  # pydantic.ValidationError: name the element
        first: dict[str, Any] = getattr(exc, "errors", lambda: [{}])()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise XMLError(
            ErrorCode.XML_ERROR, f"invalid value in <{where}> for '{loc}': {first.get('msg', exc)}"
        ) from None


def _ensure(elem: etree._Element, names: list[str], created: dict[tuple[str, ...], etree._Element]) -> etree._Element:
    cur = elem
    key: tuple[str, ...] = ()
    for n in names:
        key = (*key, n)
        nxt = created.get(key)
        if nxt is None:
            nxt = etree.SubElement(cur, n)
            created[key] = nxt
        cur = nxt
    return cur


def format_model(model: XmlModel, elem: etree._Element) -> etree._Element:
    """Fill ``elem`` from ``model`` in field (= canonical) order."""
    created: dict[tuple[str, ...], etree._Element] = {}
    for name, marker, _annotation in type(model).xml_fields():
        value = getattr(model, name)
        if value is None:
            continue
        elems, attr = _split(marker.path)
        if marker.model is not None:
            items = value if marker.many else [value]
            parent = _ensure(elem, elems[:-1], created) if len(elems) > 1 else elem
            for item in items:
                child = etree.SubElement(parent, elems[-1])
                format_model(item, child)
            continue
        if marker.flag:
            if value:
                _ensure(elem, elems, created)
            continue
        if marker.raw:
            holder = _ensure(elem, elems, created)
            if value:
                for child in etree.fromstring(f"<r>{value}</r>", etree.XMLParser(resolve_entities=False)):
                    holder.append(child)
            continue
        target = _ensure(elem, elems, created)
        text = _convert_out(value, marker)
        if attr is not None:
            target.set(attr, text)
        else:
            target.text = text
    model.xml_format_extra(elem)
    return elem


def iter_models(model: XmlModel) -> Iterator[XmlModel]:
    """Every sub-model, depth first (used by conformance and field-coverage tests)."""
    yield model
    for name, marker, _ in type(model).xml_fields():
        if marker.model is None:
            continue
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value] if value is not None else []:
            yield from iter_models(item)
