"""``typing.NamedTuple``'s class syntax at a fraction of its import cost, for modules every short run loads.

Why: ``class DomainRef(NamedTuple): name: str ...`` is the clearest way to
write a typed record, but at run time ``typing.NamedTuple`` checks and
evaluates every field's annotation (building generic aliases such as
``tuple[str, ...]``) and needs ``typing`` itself (with ``re`` and
``contextlib``); for the seventeen records of ``pyvirt.plugin.records``
alone that was about 4.6 million instructions (1 ms) of every ``pyvirsh``
run. This base makes the very same class, a :func:`collections.namedtuple`
with the class body's methods, docstring and defaults, reading the field
names from the class's annotations without evaluating them. Type checkers
see ``typing.NamedTuple`` itself::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from pyvirt.util.named_tuple import NamedTuple

Supported: what the records here use (fields with or without defaults,
methods, properties, docstrings). Not supported: generic named tuples and
the functional form ``NamedTuple("X", [...])``, which need ``typing``'s own.

The class itself is :func:`collections.namedtuple`'s, assembled here
without its one costly step: ``namedtuple`` writes each class's ``__new__``
as source text and compiles it (``eval``), about 250,000 instructions per
class, some 8 million (7%) of a ``pyvirsh list`` that builds 32 records.
Here ``__new__`` comes from a template already compiled into this module's
bytecode (one per number of fields), its parameters renamed with
``CodeType.replace``; every other member is what ``namedtuple`` makes.
Records with more fields than the templates cover go to ``namedtuple``.

A module of many records a short run mostly does not use derives them from
``DeferredNamedTuple`` instead and ends with
``__getattr__, __dir__ = build_on_first_use(globals())``: each record is
then made when its name is first read (:mod:`pyvirt.plugin.records`).
"""

from __future__ import annotations

import sys

# namedtuple's field accessor comes from the C module behind ``collections``: the package itself (its
# OrderedDict, Counter, ChainMap... and their imports) cost every pyvirsh run over 5 million instructions.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import collections as _collections
    from collections.abc import Callable
    from typing import Any
else:
    import _collections

__all__ = ["DeferredNamedTuple", "NamedTuple", "build_on_first_use"]

# As typing.NamedTupleMeta: attributes the body may not set, and those taken from the generated class.
_PROHIBITED = frozenset(("__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                         "_make", "_replace", "_asdict", "_source"))  # fmt: skip
_SPECIAL = frozenset(("__module__", "__name__", "__annotations__"))


class _NamedTupleMeta(type):
    def __new__(mcls, typename: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if not bases:  # NamedTuple itself
            return super().__new__(mcls, typename, bases, ns)
        if bases != (NamedTuple,):
            raise TypeError("a NamedTuple class can only derive from NamedTuple (no generics here: use typing's)")
        annotations = ns.get("__annotations__", {})
        assert isinstance(annotations, dict)
        with_default: list[str] = []
        for field in annotations:
            if field in ns:
                with_default.append(field)
            elif with_default:
                raise TypeError(
                    f"Non-default namedtuple field {field} cannot follow default field(s) {', '.join(with_default)}"
                )
        module = ns["__module__"]
        assert isinstance(module, str)
        fields = list(annotations)
        cls = _named_tuple_class(typename, fields, [ns[f] for f in with_default], module)
        cls.__annotations__ = dict(annotations)
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in fields:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Derive from this as from ``typing.NamedTuple`` (see the module's docstring)."""


class _Deferred:
    """A record's class statement, run (its body is a few dictionary stores) but not yet made a class."""

    __slots__ = ("namespace", "typename")

    def __init__(self, typename: str, namespace: dict[str, object]) -> None:
        self.typename = typename
        self.namespace = namespace

    def build(self) -> type:
        return _NamedTupleMeta.__new__(_NamedTupleMeta, self.typename, (NamedTuple,), self.namespace)


class _DeferredMeta(type):
    def __new__(mcls, typename: str, bases: tuple[type, ...], ns: dict[str, object]) -> Any:
        if not bases:  # DeferredNamedTuple itself
            return super().__new__(mcls, typename, bases, ns)
        if bases != (DeferredNamedTuple,):
            raise TypeError("a NamedTuple class can only derive from NamedTuple (no generics here: use typing's)")
        return _Deferred(typename, ns)  # not a class: Python then binds it as it is, without __init__


class DeferredNamedTuple(metaclass=_DeferredMeta):
    """:class:`NamedTuple` for a module of many records of which a run uses few.

    Why: making a class costs CPython some 60,000 instructions before the
    named tuple's own members (about 190,000 in all per record), and a short
    ``pyvirsh`` run through pyvirtd uses one of the 21 records of
    :mod:`pyvirt.plugin.records`: building the other 20 was 4% of its
    instructions. A class statement deriving from this one leaves a
    placeholder that :func:`build_on_first_use` takes out of the module; the
    module's ``__getattr__`` (PEP 562) makes the very class :class:`NamedTuple`
    would have made when the name is first read (``from m import X``,
    ``m.X``, pickle's lookup by module and name), and stores it in the module,
    so every later read is an ordinary global. Type checkers see
    ``typing.NamedTuple``, as for :class:`NamedTuple`.
    """


def build_on_first_use(namespace: dict[str, Any]) -> tuple[Callable[[str], type], Callable[[], list[str]]]:
    """Take the deferred records out of a module's ``namespace``: its ``__getattr__`` and ``__dir__`` (PEP 562).

    A record is built with the deferred records its annotations name, so that
    ``typing.get_type_hints`` (which looks names up in the module's globals,
    not through ``__getattr__``) resolves ``domain: DomainRef`` whichever
    record is read first. Two threads reading one record first both build it;
    ``setdefault`` keeps the first, so the class is one object everywhere.
    """
    deferred = {name: value for name, value in namespace.items() if isinstance(value, _Deferred)}
    for name in deferred:
        del namespace[name]
    module = namespace["__name__"]

    def build(name: str) -> type:
        record = deferred[name]
        cls: type = namespace.setdefault(name, record.build())
        annotations = record.namespace.get("__annotations__", {})
        assert isinstance(annotations, dict)
        for other in deferred:
            if other not in namespace and any(isinstance(a, str) and other in a for a in annotations.values()):
                build(other)
        return cls

    def __getattr__(name: str) -> type:  # noqa: N807
        if name not in deferred:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return build(name)

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *deferred})

    return __getattr__, __dir__


_tuple_new = tuple.__new__
_tuplegetter = _collections._tuplegetter  # type: ignore[attr-defined]  # namedtuple's field accessor


# ``__new__`` for 1..12 fields, compiled with this module: namedtuple's ``lambda _cls, a, b: _tuple_new(_cls, (a, b))``.
def _new1(_cls, a):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a,))


def _new2(_cls, a, b):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b))


def _new3(_cls, a, b, c):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c))


def _new4(_cls, a, b, c, d):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d))


def _new5(_cls, a, b, c, d, e):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e))


def _new6(_cls, a, b, c, d, e, f):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f))


def _new7(_cls, a, b, c, d, e, f, g):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f, g))


def _new8(_cls, a, b, c, d, e, f, g, h):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f, g, h))


def _new9(_cls, a, b, c, d, e, f, g, h, i):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f, g, h, i))


def _new10(_cls, a, b, c, d, e, f, g, h, i, j):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j))


def _new11(_cls, a, b, c, d, e, f, g, h, i, j, k):  # type: ignore[no-untyped-def]
    return _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j, k))


def _new12(_cls, a, b, c, d, e, f, g, h, i, j, k, l):  # type: ignore[no-untyped-def]  # noqa: E741
    return _tuple_new(_cls, (a, b, c, d, e, f, g, h, i, j, k, l))


# ``types.FunctionType`` without the types module, which cost every pyvirsh run about a million instructions
if TYPE_CHECKING:
    from types import FunctionType as _FunctionType
else:
    _FunctionType = type(_new1)

_NEW_BY_ARITY: tuple[object, ...] = (
    None,
    _new1,
    _new2,
    _new3,
    _new4,
    _new5,
    _new6,
    _new7,
    _new8,
    _new9,
    _new10,
    _new11,
    _new12,
)


def _named_tuple_class(typename: str, fields: list[str], defaults: list[object], module: str) -> type:
    """``collections.namedtuple(typename, fields, defaults=defaults, module=module)``, without compiling source.

    Names are checked as ``namedtuple`` checks them (the class statement made
    them identifiers already; the underscore and duplicate rules remain).
    """
    count = len(fields)
    template = _NEW_BY_ARITY[count] if count < len(_NEW_BY_ARITY) else None
    if (
        not isinstance(template, _FunctionType)
        or any(name.startswith("_") for name in fields)
        or len(set(fields)) != count
    ):
        import collections

        make = collections.namedtuple  # called with names known only here: mypy checks literal calls only
        return make(typename, fields, defaults=defaults, module=module)
    typename = sys.intern(typename)
    field_names = tuple(map(sys.intern, fields))
    arg_list = ", ".join(field_names) + ("," if count == 1 else "")
    repr_fmt = "(" + ", ".join(f"{name}=%r" for name in field_names) + ")"
    field_defaults = dict(zip(field_names[count - len(defaults) :], defaults, strict=True))
    code = template.__code__.replace(
        co_varnames=("_cls", *field_names), co_name="<lambda>", co_qualname="<lambda>", co_filename="<string>"
    )
    namespace = {"_tuple_new": _tuple_new, "__builtins__": {}, "__name__": f"namedtuple_{typename}"}
    new = _FunctionType(code, namespace, "__new__", tuple(defaults))
    new.__doc__ = f"Create new instance of {typename}({arg_list})"
    _dict, _tuple, _len, _map, _zip = dict, tuple, len, map, zip

    def _make(cls, iterable):  # type: ignore[no-untyped-def]
        result = _tuple_new(cls, iterable)
        if _len(result) != count:
            raise TypeError(f"Expected {count} arguments, got {len(result)}")
        return result

    _make.__doc__ = f"Make a new {typename} object from a sequence or iterable"

    def _replace(self, /, **kwds):  # type: ignore[no-untyped-def]
        result = self._make(_map(kwds.pop, field_names, self))
        if kwds:
            raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
        return result

    _replace.__doc__ = f"Return a new {typename} object replacing specified fields with new values"

    def __repr__(self):  # type: ignore[no-untyped-def]  # noqa: N807
        "Return a nicely formatted representation string"
        return self.__class__.__name__ + repr_fmt % self

    def _asdict(self):  # type: ignore[no-untyped-def]
        "Return a new dict which maps field names to their values."
        return _dict(_zip(self._fields, self))

    def __getnewargs__(self):  # type: ignore[no-untyped-def]  # noqa: N807
        "Return self as a plain tuple.  Used by copy and pickle."
        return _tuple(self)

    for method in (new, _make, _replace, __repr__, _asdict, __getnewargs__):
        method.__qualname__ = f"{typename}.{method.__name__}"
    class_namespace: dict[str, object] = {
        "__doc__": f"{typename}({arg_list})",
        "__slots__": (),
        "_fields": field_names,
        "_field_defaults": field_defaults,
        "__new__": new,
        "_make": classmethod(_make),
        "_replace": _replace,
        "__repr__": __repr__,
        "_asdict": _asdict,
        "__getnewargs__": __getnewargs__,
        "__match_args__": field_names,
    }
    for index, name in enumerate(field_names):
        class_namespace[name] = _tuplegetter(index, sys.intern(f"Alias for field number {index}"))
    result = type(typename, (tuple,), class_namespace)
    result.__module__ = module
    return result
