"""Declarative XML <-> pydantic mapping, in the spirit of virtinst's xmlbuilder.

A model is a dataclass whose fields carry one ``X`` marker each
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

import copy
import dataclasses
import inspect
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar, dataclass_transform, get_args, get_origin

from lxml import etree

from pyvirt.conf.coverage import ExpectedTree, check_unmapped
from pyvirt.conf.units import strtoul
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
    # bool read as libvirt's STREQ(value, "yes"): the first word is True, any other word is no value at all
    only_yes: bool = False
    # bool read as libvirt's ignore_value(virXMLPropTristateBool(...)): a word that is neither is no value at all
    unknown_absent: bool = False
    verbatim: bool = False  # text kept with its surrounding whitespace, as libvirt keeps <description>


_MISSING = object()


class _SelfModel:
    """``X(path, model=SELF)``: the field's sub-model is the class it belongs to (recursive chains)."""


SELF: Any = _SelfModel


def _is_class_var(ann: Any) -> bool:
    """``ClassVar[...]``, written as a string (postponed annotations) or as the object, without ``str()`` of it.

    Formatting an ``Annotated[...]`` object costs tens of microseconds, and
    every field of every model class pays it on every pyvirsh start.
    """
    if isinstance(ann, str):
        return "ClassVar" in ann
    return ann is ClassVar or getattr(ann, "__origin__", None) is ClassVar


@dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field,))
class XmlModel:
    """Base of every XML-mapped model: typed, keyword-only records (dataclass semantics).

    Why not pydantic (nor even ``@dataclass``): the parser already converts
    and checks every value (``_convert_in`` and each document's rules), and
    class creation is paid on every ``pyvirsh`` start. pydantic spent about a
    millisecond per model class (110 ms for the hundred classes, seven times
    virsh's whole run); ``@dataclass`` code generation still cost 20 ms. The
    fields are read once per class from its annotations and one generic
    ``__init__`` serves every model.
    """

    _field_names: ClassVar[tuple[str, ...]] = ()
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _factories: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        factories: list[tuple[str, Any]] = []
        for klass in reversed(cls.__mro__):
            for name, ann in inspect.get_annotations(klass).items():
                if name in names or _is_class_var(ann):
                    continue
                names.append(name)
        for name in names:
            value = getattr(cls, name, _MISSING)
            if isinstance(value, dataclasses.Field):
                factories.append((name, value.default_factory))
                type.__setattr__(cls, name, None)
            elif value is _MISSING:
                type.__setattr__(cls, name, None)
        cls._field_names = tuple(names)
        cls._field_set = frozenset(names)
        cls._factories = tuple(factories)

    def __init__(self, **kwargs: Any) -> None:
        # Plain defaults live on the class; only given values and fresh mutable defaults are
        # stored per instance (a model has up to fifty fields and most are unset).
        if not kwargs.keys() <= self._field_set:
            unknown = ", ".join(sorted(kwargs.keys() - self._field_set))
            raise TypeError(f"{type(self).__name__} has no field(s) {unknown}")
        state = self.__dict__
        for name, factory in self._factories:
            if name not in kwargs:
                state[name] = factory()
        state.update(kwargs)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._field_names)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._field_names if getattr(self, n) is not None)
        return f"{type(self).__name__}({shown})"

    def model_copy(self: M, *, deep: bool = False) -> M:
        return copy.deepcopy(self) if deep else copy.copy(self)

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
        """(field, marker, type) in declaration order; resolved on first use, then cached."""
        cached = cls.__dict__.get("_xml_fields_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        hints = _annotations(cls)
        out: list[tuple[str, X, Any]] = []
        for name in cls._field_names:
            hint = hints[name]
            if get_origin(hint) is not Annotated:
                continue
            base, *meta = get_args(hint)
            marker = next((m for m in meta if isinstance(m, X)), None)
            if marker is not None:
                if marker.model is SELF:
                    marker = dataclasses.replace(marker, model=cls)
                out.append((name, marker, base))
        type.__setattr__(cls, "_xml_fields_cache", out)
        return out


def _annotations(cls: type) -> dict[str, Any]:
    """The class's field annotations, base classes first.

    Model modules do not use ``from __future__ import annotations``: their
    annotations are objects already, and reading them is free, where
    ``typing.get_type_hints`` would compile and evaluate hundreds of strings
    on every ``pyvirsh`` start. A module that does use string annotations
    still works, through ``get_type_hints``.
    """
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(inspect.get_annotations(klass))
    if any(isinstance(h, str) for h in hints.values()):
        return typing.get_type_hints(cls, include_extras=True)
    return hints


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
        if marker.only_yes:
            return True if raw == yes else None
        if raw == yes:
            return True
        if raw == no:
            return False
        if marker.unknown_absent:
            return None
        raise XMLError(ErrorCode.XML_ERROR, f"invalid value '{raw}' for {where} (expected '{yes}' or '{no}')")
    if typ is int:
        # C's strtol rules, not Python's int(): no "1_000", no non-ASCII digits, nothing past 64 bits
        parsed = strtoul(raw, 0 if raw.lower().startswith("0x") else 10)
        if parsed is None or parsed[1] >= 2**64 or (parsed[0] == "-" and parsed[1] > 2**63):
            raise XMLError(ErrorCode.XML_ERROR, f"invalid integer value '{raw}' for {where}")
        return -parsed[1] if parsed[0] == "-" else parsed[1]
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


def _find_below(children: dict[Any, etree._Element], names: tuple[str, ...]) -> etree._Element | None:
    """The element at ``names`` below an element whose first child of each tag is already known.

    Most fields are one step down (``name``, ``memory``, ``target/@dev``): a
    dictionary lookup instead of an lxml ``find`` call, the single largest
    cost of parsing a small domain.
    """
    cur = children.get(names[0])
    for n in names[1:]:
        if cur is None:
            return None
        cur = cur.find(n)
    return cur


_PlanItem = tuple[str, X, Any, tuple[str, ...], "str | None", str, str]


def _plan(cls: type[XmlModel]) -> list[_PlanItem]:
    """Per-class parse plan: (field, marker, type, path elements, attribute, kind, first element)."""
    cached = cls.__dict__.get("_parse_plan_cache")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    plan: list[_PlanItem] = []
    for name, marker, annotation in cls.xml_fields():
        elems, attr = _split(marker.path)
        if marker.model is not None:
            kind = "many" if marker.many else "one"
        elif marker.flag:
            kind = "flag"
        elif marker.raw:
            kind = "raw"
        else:
            kind = "value"
        plan.append((name, marker, _base_type(annotation), tuple(elems), attr, kind, elems[0] if elems else ""))
    type.__setattr__(cls, "_parse_plan_cache", plan)
    return plan


def _plan_index(cls: type[XmlModel]) -> tuple[list[_PlanItem], dict[str, list[_PlanItem]]]:
    """The plan split into fields of this element itself and fields under each child tag."""
    cached = cls.__dict__.get("_plan_index_cache")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    own: list[_PlanItem] = []
    by_child: dict[str, list[_PlanItem]] = {}
    for item in _plan(cls):
        if item[6]:
            by_child.setdefault(item[6], []).append(item)
        else:
            own.append(item)
    type.__setattr__(cls, "_plan_index_cache", (own, by_child))
    return own, by_child


def _items_for(cls: type[XmlModel], present: Iterable[Any]) -> list[_PlanItem]:
    own, by_child = _plan_index(cls)
    items = list(own)
    for tag in present:
        items.extend(by_child.get(tag, ()))
    return items


def parse_model(cls: type[M], elem: etree._Element, where: str = "") -> M:
    """Build ``cls`` from ``elem``; unknown-but-libvirt-known children raise."""
    where = where or str(elem.tag)
    values: dict[str, Any] = {}
    children: dict[Any, etree._Element] = {}
    for child in elem:
        children.setdefault(child.tag, child)  # the first of each tag, as find() returns it
    present = children.keys()
    for name, marker, typ, elems, attr, kind, _first in _items_for(cls, present):
        if kind == "many":
            assert marker.model is not None
            parent = _find_below(children, elems[:-1]) if len(elems) > 1 else elem
            if parent is not None:
                tag = elems[-1]
                values[name] = [parse_model(marker.model, c, f"{where}/{tag}") for c in parent.iterchildren(tag)]
            continue
        target = _find_below(children, elems) if elems else elem
        if kind == "one":
            assert marker.model is not None
            if target is not None:
                values[name] = parse_model(marker.model, target, f"{where}/{marker.path}")
            continue
        if kind == "flag":
            values[name] = target is not None
            continue
        if target is None:
            continue
        if kind == "raw":
            values[name] = "".join(
                etree.tostring(c, encoding="unicode", with_tail=False) for c in target.iterchildren("*")
            )
            continue
        if attr is not None:
            raw = target.get(attr)
            if raw is None or (raw == "" and typ is int):  # an empty number is none given (XPath reading)
                continue
        else:
            raw = (target.text or "") if marker.verbatim else (target.text or "").strip()
            if not raw and typ is not str:
                continue
        values[name] = _convert_in(raw, marker, typ, f"{where}/{marker.path}")
    cls.xml_parse_extra(elem, values)
    if cls.UNSUPPORTED:
        for tag in present:
            if tag in cls.UNSUPPORTED:
                from pyvirt.errors import NotSupportedError

                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, f"<{tag}> in <{where}> is not supported by pyvirt yet"
                )
    check_unmapped(elem, cls.expected_tree(), where)
    return cls(**values)


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
        for item in value if isinstance(value, (list, tuple)) else [value] if value is not None else []:
            yield from iter_models(item)
