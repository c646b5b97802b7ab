"""Declarative XML <-> typed-model mapping, in the spirit of virtinst's xmlbuilder.

A model is a class of keyword-only fields, each carrying one ``X`` marker
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

Model modules use ``from __future__ import annotations``: a class statement
then stores its annotations as strings, and a class's markers are evaluated
the first time that class parses or formats XML (see ``_own_fields``),
so a short ``pyvirsh`` run pays only for the handful of classes its document
uses, not for all hundred and sixty model classes.

Value conversion follows the field's type (``int``, ``str``, ``bool`` with
``yes``/``no`` or ``on``/``off`` words, ``Enum``). Anything the model does
not map is reported by the parser so callers can decide (libvirt ignores
unknown elements; elements libvirt knows but pyvirt does not model are
refused with CONFIG_UNSUPPORTED rather than silently dropped).
"""

from __future__ import annotations

import builtins
import sys

from lxml import etree

from pyvirt.conf.coverage import ExpectedTree, check_unmapped
from pyvirt.conf.units import strtoul
from pyvirt.errors import ErrorCode, XMLError

# Neither typing nor collections.abc at run time: typing (with the contextlib and warnings it imports) cost every
# pyvirsh command that reads XML about 16 million instructions (virsh's whole dominfo is 44 million), and lxml is
# loaded without it (pyvirt.util.lxml_import). The annotations are strings; type checkers read these imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, ClassVar, TypeVar, dataclass_transform

    M = TypeVar("M", bound="XmlModel")
else:

    def dataclass_transform(
        *,
        eq_default: bool = True,
        order_default: bool = False,
        kw_only_default: bool = False,
        field_specifiers: tuple[object, ...] = (),
    ) -> Callable[[type], type]:
        """What ``typing.dataclass_transform`` does at run time (PEP 681): record its arguments on the class."""

        def mark(cls: type) -> type:
            cls.__dataclass_transform__ = {  # type: ignore[attr-defined]
                "eq_default": eq_default,
                "order_default": order_default,
                "kw_only_default": kw_only_default,
                "field_specifiers": field_specifiers,
                "kwargs": {},
            }
            return cls

        return mark


__all__ = ["X", "XmlModel", "field", "format_model", "parse_model"]


class X:
    """Where a field lives in the XML, and how its value is spelled.

    A plain class with slots, not a frozen dataclass: markers are made
    whenever a model class's fields are first read, and the dataclass module
    plus its generated ``__init__`` (one ``object.__setattr__`` per option)
    cost a short ``pyvirsh`` run more than the parse they serve.
    """

    __slots__ = (
        "flag",
        "hex",
        "hex_width",
        "many",
        "model",
        "only_yes",
        "path",
        "raw",
        "unknown_absent",
        "verbatim",
        "words",
    )

    def __init__(
        self,
        path: str,
        model: type[XmlModel] | None = None,
        many: bool = False,
        flag: bool = False,
        words: tuple[str, str] = ("yes", "no"),
        hex: bool = False,  # format ints as 0x%04x-style (addresses)
        hex_width: int = 0,
        raw: bool = False,  # keep the element's children as serialised XML text (e.g. <metadata>)
        # bool read as libvirt's STREQ(value, "yes"): the first word is True, any other word is no value at all
        only_yes: bool = False,
        # bool read as libvirt's ignore_value(virXMLPropTristateBool(...)): a word that is neither is no value
        unknown_absent: bool = False,
        verbatim: bool = False,  # text kept with its surrounding whitespace, as libvirt keeps <description>
    ) -> None:
        self.path = path
        self.model = model
        self.many = many
        self.flag = flag
        self.words = words
        self.hex = hex
        self.hex_width = hex_width
        self.raw = raw
        self.only_yes = only_yes
        self.unknown_absent = unknown_absent
        self.verbatim = verbatim

    def _options(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, X):
            return NotImplemented
        return self._options() == other._options()

    def __hash__(self) -> int:
        return hash(self._options())

    def __repr__(self) -> str:
        defaults = X("")
        shown = [
            f"{n}={getattr(self, n)!r}"
            for n in self.__slots__
            if n != "path" and getattr(self, n) != getattr(defaults, n)
        ]
        return f"X({', '.join([repr(self.path), *shown])})"

    def with_model(self, model: type[XmlModel]) -> X:
        """This marker with its sub-model set (``SELF`` resolved to the class that declares the field)."""
        out = X(self.path)
        for name in self.__slots__:
            setattr(out, name, getattr(self, name))
        out.model = model
        return out


class _Factory:
    """What :func:`field` leaves on the class until ``XmlModel.__init_subclass__`` collects it."""

    __slots__ = ("default_factory",)

    def __init__(self, default_factory: Callable[[], Any]) -> None:
        self.default_factory = default_factory


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is made fresh for each instance: ``tags: list[str] = field(default_factory=list)``.

    The models' own field specifier (declared to type checkers through
    ``dataclass_transform``), so that model modules need not import
    ``dataclasses`` for ``dataclasses.field``.
    """
    return _Factory(default_factory)


_MISSING = object()


class _SelfModel:
    """``X(path, model=SELF)``: the field's sub-model is the class it belongs to (recursive chains)."""


SELF: Any = _SelfModel


def _is_class_var(ann: Any) -> bool:
    """``ClassVar[...]``, written as a string (postponed annotations) or as the object, without ``str()`` of it.

    Formatting an ``Annotated[...]`` object costs tens of microseconds, and
    every field of every model class would pay it on every pyvirsh start.
    """
    if isinstance(ann, str):
        return "ClassVar" in ann
    # an evaluated annotation: its module imported typing, so ClassVar is typing's (not imported here for it)
    typing = sys.modules.get("typing")
    class_var = getattr(typing, "ClassVar", _MISSING)
    return ann is class_var or getattr(ann, "__origin__", None) is class_var


@dataclass_transform(kw_only_default=True, field_specifiers=(field,))
class XmlModel:
    """Base of every XML-mapped model: typed, keyword-only records (dataclass semantics).

    Why not pydantic (nor even ``@dataclass``): the parser already converts
    and checks every value (``_convert_in`` and each document's rules), and
    class creation is paid on every ``pyvirsh`` start. pydantic spent about a
    millisecond per model class (110 ms for the hundred classes, seven times
    virsh's whole run); ``@dataclass`` code generation still cost 20 ms. The
    fields are read once per class from its annotations and one generic
    ``__init__`` serves every model. Class creation reads only the field
    names (the annotations are still strings); the markers are evaluated by
    :meth:`xml_fields` when the class is first used.
    """

    _field_names: ClassVar[tuple[str, ...]] = ()
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _factories: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[str, None] = {}  # insertion-ordered, and membership in O(1): Disk has over a hundred fields
        factories: list[tuple[str, Any]] = []
        for klass in reversed(cls.__mro__):
            if klass is XmlModel or klass is object:
                continue  # this base declares class variables only; object none (a tenth of each class's cost)
            # The class's own dictionary, not inspect.get_annotations: this runs for every model class at
            # import, and a class statement (3.11) always leaves its annotations there.
            for name, ann in klass.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
                if name in names:
                    continue
                if type(ann) is str:  # the usual (postponed) case, tested here rather than by a call per field
                    if "ClassVar" not in ann:
                        names[name] = None
                elif not _is_class_var(ann):
                    names[name] = None
        for name in names:
            value = getattr(cls, name, _MISSING)
            if isinstance(value, _Factory):
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
        """A copy of this model; ``deep``: of its sub-models, lists and dicts too (what ``copy.copy`` and
        ``copy.deepcopy`` give, shared references included).

        Made here rather than by the copy module: every ``dumpxml`` formats a
        deep copy, and importing ``copy`` (with weakref) plus deepcopy's
        generic ``__reduce_ex__`` walk cost it about eight million
        instructions. Values of other types still go to ``copy.deepcopy``.
        """
        if not deep:
            new = object.__new__(type(self))
            new.__dict__.update(self.__dict__)
            return new
        return _deep_copy(self, {})  # type: ignore[no-any-return]

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
        for _name, path, has_model, raw in _light_fields(cls):
            elems, attr = _split(path)
            node = root
            for tag in elems[:-1]:
                node = node.child(tag)
            if has_model:
                node.children[elems[-1]] = None
                continue
            if raw:
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
        """(field, marker, value type) in declaration order; resolved on first use, then cached.

        The value type is what one XML value converts to: ``int`` for an
        ``int | None`` field, ``Disk`` for a ``list[Disk]`` one.
        """
        cached = cls.__dict__.get("_xml_fields_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        hints: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        for klass in reversed(cls.__mro__):
            if klass is not object:
                hints.update(_own_fields(klass))
        out: list[tuple[str, X, Any]] = []
        for name in cls._field_names:
            found = hints.get(name)
            if found is None:
                continue
            base, meta = found
            marker = next((m for m in meta if isinstance(m, X)), None)
            if marker is not None:
                if marker.model is SELF:
                    marker = marker.with_model(cls)
                out.append((name, marker, base))
        type.__setattr__(cls, "_xml_fields_cache", out)
        return out


# Immutable values a deep copy returns as they are (exact types: a subclass may hold mutable state).
_ATOMIC = frozenset({str, int, float, bool, bytes, type(None)})


def _deep_copy(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)`` for models and the containers they hold (see ``XmlModel.model_copy``)."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    done = memo.get(id(value), _MISSING)
    if done is not _MISSING:
        return done
    if kind is list:
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(_deep_copy(item, memo) for item in value)
        return items
    if isinstance(value, XmlModel) and getattr(kind, "__deepcopy__", None) is None:
        new = object.__new__(kind)
        memo[id(value)] = new
        new.__dict__.update({name: _deep_copy(item, memo) for name, item in value.__dict__.items()})
        return new
    if kind is dict:
        mapping: dict[Any, Any] = {}
        memo[id(value)] = mapping
        for key, item in value.items():
            mapping[_deep_copy(key, memo)] = _deep_copy(item, memo)
        return mapping
    if kind is tuple:
        copied = tuple(_deep_copy(item, memo) for item in value)
        if all(a is b for a, b in zip(copied, value, strict=True)):
            return value  # as deepcopy: a tuple of immutable items is itself
        return memo.setdefault(id(value), copied)
    import copy  # anything else (an lxml element, an enum member...): the copy module's own answer

    return copy.deepcopy(value, memo)


class _AnnotatedReader:
    """Stands in for ``typing.Annotated`` while a model's annotation strings are evaluated.

    ``Annotated[base, *meta]`` gives ``(base, meta)``: the marker and the type
    without building typing's alias objects, whose construction (checks,
    parameter collection, caching) was most of the cost of creating the
    model classes.
    """

    __slots__ = ()

    def __getitem__(self, params: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        return params[0], params[1:]


_READER_NAMESPACE = {"Annotated": _AnnotatedReader()}
_CONSTANTS = {"True": True, "False": False, "None": None}


def _is_word(text: str) -> bool:
    """Whether ``text`` is one or more word characters (``\\w+``)."""
    return text.replace("_", "a").isalnum()


def _quoted_end(text: str, pos: int) -> int:
    """Just past the ``'...'`` string (no quote or backslash inside) starting at ``pos``, or -1."""
    if text[pos : pos + 1] != "'":
        return -1
    close = text.find("'", pos + 1)
    return -1 if close < 0 or "\\" in text[pos + 1 : close] else close + 1


def _next_arg(args: str, pos: int) -> tuple[str | None, str, int] | None:
    """(keyword or None, value text, where the next one starts) of one marker argument as Python prints it
    back (``'path'``, ``model=Disk``, ``words=('on', 'off')``, ``hex_width=4``), or None for any other shape.

    Read by hand, not with a regular expression, whose compiling cost each
    XML-reading pyvirsh command about a million instructions (see units.py).
    """
    keyword = None
    equals = args.find("=", pos)
    if equals > pos and _is_word(args[pos:equals]):
        keyword, pos = args[pos:equals], equals + 1
    if args[pos : pos + 1] == "'":
        end = _quoted_end(args, pos)
    elif args[pos : pos + 1] == "(":  # a tuple of one or more strings: ('on', 'off')
        end = _quoted_end(args, pos + 1)
        while end > 0 and args.startswith(", ", end):
            end = _quoted_end(args, end + 2)
        end = end + 1 if end > 0 and args[end : end + 1] == ")" else -1
    else:  # a name or a number, up to the next argument
        end = args.find(", ", pos)
        end = len(args) if end < 0 else end
        end = end if _is_word(args[pos:end]) else -1
    if end < 0:
        return None
    if args.startswith(", ", end):
        return keyword, args[pos:end], end + 2
    return (keyword, args[pos:end], end) if end == len(args) else None


def _lookup(name: str, namespace: dict[str, Any]) -> Any:
    """A name as evaluation would resolve it: the module's globals, then builtins; ``_MISSING`` if neither."""
    value = namespace.get(name, _MISSING)
    if value is _MISSING:
        value = getattr(builtins, name, _MISSING)
    return value


def _read_annotation(source: str, namespace: dict[str, Any]) -> tuple[Any, tuple[Any, ...]] | None:
    """``(value type, (marker,))`` read from an annotation string without compiling it, or None.

    Python stores a postponed annotation as its source printed back in one
    normal form (``Annotated[int | None, X('target/@dev', hex=True)]``).
    The model modules write a few shapes only: ``T``, ``T | None``,
    ``list[T]``, ``list[T] | None`` around one ``X(...)`` whose arguments are
    strings, names, numbers or tuples of strings. Those are read here by
    hand, since compiling the strings with ``eval`` cost more than all the
    rest of a first parse. Anything else returns None and is evaluated.
    """
    if not source.endswith(")]"):
        return None
    cut = source.find(", X(")
    if cut < 0:
        return None
    type_source = source[10:cut]
    if type_source.endswith(" | None"):
        type_source = type_source[:-7]
    if type_source.startswith("list[") and type_source.endswith("]"):
        type_source = type_source[5:-1]
    if not type_source.isidentifier():
        return None
    base = _lookup(type_source, namespace)
    if base is _MISSING:
        return None
    args = source[cut + 4 : -2]
    if args.count("'") == 2 and args[0] == "'" and args[-1] == "'":  # half the fields: X('path') alone
        return base, (X(args[1:-1]),)
    positional: list[Any] = []
    options: dict[str, Any] = {}
    pos = 0
    while pos < len(args):
        arg = _next_arg(args, pos)
        if arg is None:
            return None
        keyword, text, pos = arg
        value: Any
        if text[0] == "'":
            value = text[1:-1]
        elif text[0] == "(":
            value = tuple(part[1:-1] for part in text[1:-1].split(", "))
        elif text.isdigit():
            value = int(text)
        elif text in _CONSTANTS:
            value = _CONSTANTS[text]
        else:
            value = _lookup(text, namespace)
            if value is _MISSING:
                return None
        if keyword is None:
            if options:
                return None
            positional.append(value)
        else:
            options[keyword] = value
    return base, (X(*positional, **options),)


def _own_fields(klass: type) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """The ``Annotated`` fields one class declares itself: name -> (value type, metadata); cached per class.

    Annotation strings are resolved in the namespace of the module that
    defines the class (as ``typing.get_type_hints`` resolves them), so names
    defined further down the module (sub-models, the class itself) resolve.
    The usual shapes are read by :func:`_read_annotation`; the others of a
    class are evaluated together, as one tuple expression compiled once.
    Fields that are not ``Annotated`` carry no marker and are not read at
    all. A class whose annotations are objects (a module without postponed
    annotations) is read from its ``Annotated`` objects' metadata.
    """
    cached = klass.__dict__.get("_own_fields_cache")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    own: dict[str, tuple[Any, tuple[Any, ...]]] = {}
    namespace: dict[str, Any] = {}
    sources: dict[str, str] = {}
    annotations = klass.__dict__.get("__annotations__", {})  # noqa: RUF063 (as in __init_subclass__)
    for name, ann in annotations.items():
        if isinstance(ann, str):
            if ann.startswith("Annotated["):
                namespace = namespace or vars(sys.modules[klass.__module__])
                read = _read_annotation(ann, namespace)
                if read is None:
                    sources[name] = ann
                else:
                    own[name] = read
        elif hasattr(ann, "__metadata__"):  # typing.Annotated[...] evaluated at class creation
            own[name] = (_base_type(ann.__origin__), tuple(ann.__metadata__))
    if sources:
        values = eval(f"({','.join(sources.values())},)", namespace, _READER_NAMESPACE)
        for name, (annotation, meta) in zip(sources, values, strict=True):
            own[name] = (_base_type(annotation), meta)
        own = {name: own[name] for name in annotations if name in own}  # declaration order again
    type.__setattr__(klass, "_own_fields_cache", own)
    return own


_UNION_TYPE = type(int | None)  # types.UnionType, without importing types (with functools, for every XML command)


def _base_type(annotation: Any) -> Any:
    """``int | None`` -> int; ``list[Foo]`` -> Foo (checked by shape, so typing's aliases need no typing)."""
    if isinstance(annotation, _UNION_TYPE) or getattr(getattr(annotation, "__origin__", None), "_name", "") in (
        "Union",
        "Optional",
    ):
        args = [a for a in annotation.__args__ if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else annotation
    if getattr(annotation, "__origin__", None) is list:
        return _base_type(annotation.__args__[0])
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
    if typ is str:
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
        cur = next(cur.iterchildren(n), None)  # not find(): ElementPath imports re (pyvirt.conf.xmlparse)
    return cur


if TYPE_CHECKING:
    _PlanItem = tuple[str, X, Any, tuple[str, ...], "str | None", str, str]


def _light(source: str) -> tuple[str, bool, bool] | None:
    """(path, has a sub-model, raw) of a marked field, read off its annotation's text alone; None for a shape
    this does not know (the field is then read whole).

    Reading a field whole (its type looked up, its marker made) cost about
    16,000 instructions, 50,000 with keyword options, and a ``Disk`` has over a
    hundred fields: a short ``pyvirsh dumpxml`` paid ten million for fields
    its document does not have. Parsing needs only where each field lives
    (which child element) and the unmapped-name check whether it is a
    sub-model or raw content; the rest is read for the fields a document
    has (``_field_info``). ``test_model_startup`` checks this reading
    against the whole one for every model class.
    """
    if not (source.startswith("Annotated[") and source.endswith(")]")):
        return None
    start = source.find(", X('") + 5
    close = source.find("'", start)
    if start < 5 or close < 0 or "\\" in source[start:close]:
        return None
    rest = source[close + 1 : -2]
    return source[start:close], ", model=" in rest, ", raw=True" in rest


def _light_fields(cls: type[XmlModel]) -> list[tuple[str, str, bool, bool]]:
    """(field, path, has a sub-model, raw) of every field with a marker, in declaration order; cached."""
    cached = cls.__dict__.get("_light_fields_cache")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    sources: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        sources.update(klass.__dict__.get("__annotations__", {}))  # noqa: RUF063 (as in __init_subclass__)
    out: list[tuple[str, str, bool, bool]] = []
    for name in cls._field_names:
        source = sources.get(name)
        light = _light(source) if isinstance(source, str) else None
        if light is None:  # evaluated annotations, other shapes, a base's marker under a plain re-annotation
            info = _field_info(cls, name)
            if info is None:
                continue
            light = info[0].path, info[0].model is not None, info[0].raw
        out.append((name, *light))
    type.__setattr__(cls, "_light_fields_cache", out)
    return out


def _field_info(cls: type[XmlModel], name: str) -> tuple[X, Any] | None:
    """(marker, value type) of one field, as ``xml_fields`` gives it, read on its own; None without a marker."""
    cache: dict[str, tuple[X, Any] | None] | None = cls.__dict__.get("_field_info_cache")
    if cache is None:
        cache = {}
        type.__setattr__(cls, "_field_info_cache", cache)
    if name in cache:
        return cache[name]
    found = None
    for klass in cls.__mro__:  # the most derived class whose own fields have it, as xml_fields merges them
        source = klass.__dict__.get("__annotations__", {}).get(name)  # noqa: RUF063
        if source is None:
            continue
        read = None
        if isinstance(source, str) and source.startswith("Annotated["):
            read = _read_annotation(source, vars(sys.modules[klass.__module__]))
        if read is None:
            read = _own_fields(klass).get(name)
        if read is not None:
            found = read
            break
    info = None
    if found is not None:
        base, meta = found
        marker = next((m for m in meta if isinstance(m, X)), None)
        if marker is not None:
            info = (marker.with_model(cls) if marker.model is SELF else marker), base
    cache[name] = info
    return info


def _plan_item(cls: type[XmlModel], name: str) -> _PlanItem | None:
    """How to read one field: (field, marker, type, path elements, attribute, kind, first element); cached."""
    cache: dict[str, _PlanItem | None] | None = cls.__dict__.get("_plan_item_cache")
    if cache is None:
        cache = {}
        type.__setattr__(cls, "_plan_item_cache", cache)
    if name in cache:
        return cache[name]
    info = _field_info(cls, name)
    item = None
    if info is not None:
        marker, annotation = info
        elems, attr = _split(marker.path)
        if marker.model is not None:
            kind = "many" if marker.many else "one"
        elif marker.flag:
            kind = "flag"
        elif marker.raw:
            kind = "raw"
        else:
            kind = "value"
        item = (name, marker, annotation, tuple(elems), attr, kind, elems[0] if elems else "")
    cache[name] = item
    return item


def _plan_index(cls: type[XmlModel]) -> tuple[list[str], dict[str, list[str]]]:
    """The fields of this element itself, and those under each child tag (by name: read when present)."""
    cached = cls.__dict__.get("_plan_index_cache")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    own: list[str] = []
    by_child: dict[str, list[str]] = {}
    for name, path, _model, _raw in _light_fields(cls):
        elems, _attr = _split(path)
        if elems:
            by_child.setdefault(elems[0], []).append(name)
        else:
            own.append(name)
    type.__setattr__(cls, "_plan_index_cache", (own, by_child))
    return own, by_child


def _items_for(cls: type[XmlModel], present: Iterable[Any]) -> list[_PlanItem]:
    own, by_child = _plan_index(cls)
    names = list(own)
    for tag in present:
        names.extend(by_child.get(tag, ()))
    return [item for item in (_plan_item(cls, name) for name in names) if item is not None]


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
    cls = type(model)
    for name, path, _model, _raw in _light_fields(cls):
        value = getattr(model, name)
        if value is None:
            continue
        info = _field_info(cls, name)
        assert info is not None
        marker = info[0]
        elems, attr = _split(path)
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
                # bytes, not str: lxml matches str input against a pattern (an encoding declaration), importing re
                for child in etree.fromstring(f"<r>{value}</r>".encode(), etree.XMLParser(resolve_entities=False)):
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
