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
"""

from __future__ import annotations

import collections

__all__ = ["NamedTuple"]

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
        make = collections.namedtuple  # called with names known only here: mypy checks literal calls only
        cls = make(typename, fields, defaults=[ns[f] for f in with_default], module=module)
        cls.__annotations__ = dict(annotations)
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in fields:
                setattr(cls, key, value)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Derive from this as from ``typing.NamedTuple`` (see the module's docstring)."""
