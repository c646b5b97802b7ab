"""Class statements run at import but made classes when their name is first read (PEP 562).

Why: every process loads a few modules of many classes of which a run uses
few, and making a class is the dearest thing their import does: an
exception class costs CPython about 110,000 instructions (Exception's slots
resolved along its MRO), an IntEnum table of :mod:`pyvirt.util.int_enum`
about 250,000 (an ``int`` subclass). ``pyvirt.errors`` made eleven classes
and ``pyvirt.domain_state`` five tables for every ``pyvirsh`` run, most of
which raises nothing and names no state reason.

A module writes its statements as usual, deriving from a placeholder::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        _Base = Error                     # what type checkers see
    else:
        _Base = Deferred("_Base", (), {})

    class NotFoundError(_Base):
        \"\"\"No object matches the lookup.\"\"\"

    if not TYPE_CHECKING:
        __getattr__, __dir__ = build_on_first_use(globals(), lambda name, ns: type(name, (Error,), ns))

Deriving from an *instance* of :class:`Deferred` makes Python call
:class:`Deferred` itself as the statement's metaclass: the body runs (a few
dictionary stores) and the name is bound to the placeholder it returns,
with no class made. :func:`build_on_first_use` takes the placeholders out of
the module; its ``__getattr__`` makes the class the statement describes
when the name is first read (``from m import X``, ``m.X``, ``except m.X``,
pickle's lookup by module and name) and stores it in the module, so every
later read is an ordinary global. Inside the module, code reaches a class
through a from-import of the module or the returned ``__getattr__``; a
bare global name would not find it.
"""

from __future__ import annotations

import _thread

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): not importing typing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Deferred", "build_on_first_use"]

# Held while a class is made: two threads reading one name first get one class (a method's ``super()`` cell
# must point at the class its instances have).
_LOCK = _thread.allocate_lock()


class Deferred:
    """A class statement's name and namespace, kept until the class is made (see the module's docstring)."""

    __slots__ = ("bases", "name", "namespace")

    def __init__(self, name: str, bases: tuple[object, ...], namespace: dict[str, object]) -> None:
        self.name = name
        self.bases = bases
        self.namespace = namespace


def build_on_first_use(
    namespace: dict[str, object], make: Callable[[str, dict[str, object]], type]
) -> tuple[Callable[[str], type], Callable[[], list[str]]]:
    """Take the deferred statements out of a module's ``namespace``: its ``__getattr__`` and ``__dir__``.

    ``make(name, body)`` makes the class of one statement (its body's
    dictionary, a copy). The placeholders used as bases (no bases of their
    own) are removed too.
    """
    deferred: dict[str, Deferred] = {}
    for name, value in list(namespace.items()):
        if isinstance(value, Deferred):
            del namespace[name]
            if value.bases:
                deferred[name] = value
    module = namespace["__name__"]

    def __getattr__(name: str) -> type:  # noqa: N807
        statement = deferred.get(name)
        if statement is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        with _LOCK:
            made = namespace.get(name)
            if made is None:
                made = namespace[name] = make(statement.name, dict(statement.namespace))
        assert isinstance(made, type)
        return made

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *deferred})

    return __getattr__, __dir__
