"""IntEnums for the numbering tables every process loads (error codes, domain states, RPC message kinds).

Why not ``enum.IntEnum``: a ``pyvirsh`` run through pyvirtd is mostly start-up,
and the ``enum`` module with the IntEnums it builds was about a sixth of it:
importing ``enum`` (with the ``functools`` it pulls in) costs some 8 million
instructions, and building the 230-odd members of these tables another 8
million even the cheap way (``enum._simple_enum``), where the members here are
a few hundred thousand. Callers use what IntEnum gives them and nothing more
exotic (``int_flag`` and ``plain_enum`` do the same for the IntFlags of
:mod:`pyvirt.flags` and the Enum that every run loads too): members are ``int``
subclasses (``code == 42``, dict keys, XDR encoding, ``str()``/``format()`` as
the number, as IntEnum does since Python 3.11) with ``name``, ``value`` and
IntEnum's ``repr``; the class looks a value up (``ErrorCode(42)``,
``ValueError`` for an unknown one), a name up (``ErrorCode["NO_DOMAIN"]``),
iterates its members in definition order and has ``len()`` and
``__members__``; members pickle and copy as themselves. A test compares all of
that with ``enum.IntEnum``/``IntFlag``/``Enum`` built from the same table.
An IntEnum's members are made when first read, and a table declared with
:class:`IntEnumBody` is made by its class statement, with no throw-away
class (see :func:`int_enum`).

mypy sees the tables as IntEnum classes (the modules declare them with
``_IntEnumBody`` = ``enum.IntEnum`` under ``TYPE_CHECKING``), so type checking
is IntEnum's.
"""

from __future__ import annotations

import _thread
import os as _os  # loaded by the interpreter's start-up already

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): not importing typing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from collections.abc import Iterator, Mapping
    from typing import Any

__all__ = ["IntEnumBody", "int_enum", "int_flag", "numbers", "plain_enum"]

# Class attributes of a table's body that are not members and are not carried over.
_SKIPPED = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"})
# What a lazy table (int_enum's) builds all its members for when first read.
_WHOLE_TABLE = frozenset({"_member_map_", "_member_names_", "_value2member_map_"})
# Held while a lazy table makes a member, so that two threads reading one name first get one object.
_MEMBER_LOCK = _thread.allocate_lock()


def _free_lock_in_child() -> None:
    """A child forked while another thread held the lock would wait for it forever at its first unmade member
    (the thread that held it is not in the child; a plain lock may be released by any thread)."""
    if _MEMBER_LOCK.locked():
        _MEMBER_LOCK.release()


_os.register_at_fork(after_in_child=_free_lock_in_child)


class _IntEnumType(type):
    """The light enums' class: what ``enum.EnumType`` offers on the class itself."""

    _member_map_: dict[str, Any]
    _member_names_: list[str]
    _value2member_map_: dict[Any, Any]

    def __iter__(cls) -> Iterator[Any]:
        return (cls._member_map_[name] for name in cls._member_names_)

    def __len__(cls) -> int:
        return len(cls._member_names_)

    def __getitem__(cls, name: str) -> Any:
        return cls._member_map_[name]

    def __contains__(cls, value: object) -> bool:
        # A member is in its class; a flag combination is not (enum's rule); a plain value is when a member has it.
        if issubclass(type(value), cls):
            return getattr(value, "_name_", None) in cls._member_map_
        return value in cls._value2member_map_

    def __reversed__(cls) -> Iterator[Any]:
        return (cls._member_map_[name] for name in reversed(cls._member_names_))

    @property
    def __members__(cls) -> Mapping[str, Any]:
        import types  # only the rare caller pays

        return types.MappingProxyType(cls._member_map_)

    def __repr__(cls) -> str:
        return f"<enum {cls.__name__!r}>"

    def __getattr__(cls, name: str) -> Any:
        """A lazy table's member, made when first read (only then: Python asks here after the class's dict)."""
        values = cls.__dict__.get("_values_")
        if values is not None:
            if name in _WHOLE_TABLE:
                _complete(cls, values)
                return type.__getattribute__(cls, name)
            if name in values:
                return _member(cls, values, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")

    def __dir__(cls) -> list[str]:
        cls._member_map_  # noqa: B018  # a lazy table lists every member, as an Enum's dir() does
        return list(type.__dir__(cls))


class _Enum(metaclass=_IntEnumType):
    """What every light member has: lookup by value, ``name``/``value``, Enum's ``str``, pickling and copying as itself.

    A plain Enum's member is one of these; an IntEnum's is also an ``int``
    (``_IntEnum``), which supplies ``_value_`` as the number itself.
    """

    _name_: str
    _value_: object

    def __new__(cls, value: object) -> Any:
        try:
            return cls._value2member_map_[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}") from None

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self) -> Any:
        return self._value_

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    def __reduce_ex__(self, protocol: Any) -> tuple[type, tuple[object]]:
        return type(self), (self._value_,)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


class _IntEnum(_Enum, int):  # _Enum's methods win over int's, as enum's over its mixin
    """A member: the number itself, with IntEnum's name, value, repr and lookup by value."""

    @property
    def _value_(self) -> int:  # type: ignore[override]
        return int(self)

    __str__ = int.__repr__
    __format__ = int.__format__


class _IntFlag(_IntEnum):
    """A flag member or combination: IntFlag's ``|``, ``&``, ``^`` and ``~`` give the flag class back."""

    def __new__(cls, value: object) -> _IntFlag:
        member: _IntFlag | None = cls._value2member_map_.get(value)
        if member is not None:
            return member
        if not isinstance(value, int):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}")
        if value < 0:  # IntFlag's (boundary KEEP): the two's complement over every bit up to the highest member's
            all_bits = cls._all_bits()
            return cls(value + (all_bits + 1 if value >= ~all_bits else 1 << value.bit_length()))
        # a combination (or bits this table does not name): IntFlag keeps any integer, named by its known bits
        # and the rest as a number ("A|16"), unnamed when no known bit is set
        combo: _IntFlag = int.__new__(cls, value)
        known = [m._name_ for m in cls if int(m) and int(m) & value == int(m)]
        rest = value
        for m in cls:
            rest &= ~int(m)
        combo._name_ = "|".join(known + ([str(rest)] if rest else [])) if known else None  # type: ignore[assignment]
        return combo

    @classmethod
    def _all_bits(cls) -> int:
        mask = 0
        for value in cls._value2member_map_:
            mask |= value
        return (1 << mask.bit_length()) - 1

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}.{self._name_}: {int(self)}>"
            if self._name_
            else f"<{type(self).__name__}: {int(self)}>"
        )

    def __contains__(self, other: int) -> bool:
        return int(other) & int(self) == int(other)

    def __iter__(self) -> Iterator[_IntFlag]:
        """The members whose bits are set, in definition order (a Flag's iteration)."""
        return (m for m in type(self) if int(m) and int(m) & int(self) == int(m))

    def __len__(self) -> int:
        return int(self).bit_count()  # Flag's: every set bit, named or not

    def __or__(self, other: int) -> _IntFlag:
        return type(self)(int(self) | int(other))

    def __and__(self, other: int) -> _IntFlag:
        return type(self)(int(self) & int(other))

    def __xor__(self, other: int) -> _IntFlag:
        return type(self)(int(self) ^ int(other))

    __ror__, __rand__, __rxor__ = __or__, __and__, __xor__

    def __invert__(self) -> _IntFlag:
        return type(self)(~int(self))  # the negative number becomes IntFlag's positive one in __new__


def _build(body: type, base: type, is_member: Any, make: Any) -> Any:
    """The ``base``-kind class of ``body``: its public attributes that ``is_member`` accepts become members.

    A second name for a value already taken is an alias of the first member, as
    in an Enum; methods and other attributes of ``body`` are kept.
    """
    namespace: dict[str, Any] = {"__module__": body.__module__, "__qualname__": body.__qualname__,
                                 "__doc__": body.__doc__}  # fmt: skip
    members: dict[str, Any] = {}
    for name, value in vars(body).items():
        if name in _SKIPPED:
            continue
        if not name.startswith("_") and is_member(value):
            members[name] = value
        else:
            namespace[name] = value
    cls: Any = _IntEnumType(body.__name__, (base,), namespace)
    member_map: dict[str, Any] = {}
    by_value: dict[Any, Any] = {}
    names: list[str] = []
    for name, value in members.items():
        member = by_value.get(value)
        if member is None:
            member = make(cls, value)
            member._name_ = name
            by_value[value] = member
            names.append(name)
        member_map[name] = member
        setattr(cls, name, member)
    cls._member_map_ = member_map
    cls._member_names_ = names
    cls._value2member_map_ = by_value
    return cls


def _is_int(value: object) -> bool:
    return type(value) is int


def _new_member(cls: Any, name: str, value: int) -> Any:
    member = int.__new__(cls, value)
    member._name_ = name
    type.__setattr__(cls, name, member)
    return member


def _member(cls: Any, values: dict[str, int], name: str) -> Any:
    """Member ``name`` of a lazy table; an alias is the member of the first name with its value."""
    with _MEMBER_LOCK:
        member = cls.__dict__.get(name)
        if member is None:
            value = values[name]
            # a name is its member's own unless the table has aliases: then the first name with the value
            first = next(n for n, v in values.items() if v == value) if cls._aliased_ else name
            member = cls.__dict__.get(first)
            if member is None:  # not ``or``: the member of 0 is false
                member = _new_member(cls, first, value)
            if first != name:
                type.__setattr__(cls, name, member)
        return member


def _complete(cls: Any, values: dict[str, int]) -> None:
    """Every member of a lazy table, and the maps lookups by value and by name read (as ``_build`` makes them)."""
    with _MEMBER_LOCK:
        if "_member_map_" in cls.__dict__:
            return
        member_map: dict[str, Any] = {}
        by_value: dict[int, Any] = {}
        names: list[str] = []
        for name, value in values.items():
            member = by_value.get(value)
            if member is None:
                member = cls.__dict__.get(name)
                if member is None:
                    member = _new_member(cls, name, value)
                by_value[value] = member
                names.append(name)
            elif name not in cls.__dict__:
                type.__setattr__(cls, name, member)
            member_map[name] = member
        cls._value2member_map_ = by_value
        cls._member_names_ = names
        cls._member_map_ = member_map  # last: its presence says the table is complete


def int_enum(body: type) -> type[enum.IntEnum]:
    """The IntEnum-like class of ``body``'s members: its public int attributes, in order.

    Its members are made when first read (``ErrorCode.NO_DOMAIN``), all of
    them when the table is first iterated, counted or looked up by value or
    name: a short ``pyvirsh`` run reads a handful of the 183 numbers of
    :mod:`pyvirt.errors`, and making every member cost it 1.8 million
    instructions. A member is still one object whichever way it is reached.
    A table made already (by :class:`IntEnumBody`) is returned as it is.
    """
    if isinstance(body, _IntEnumType) and "_values_" in body.__dict__:
        return body  # type: ignore[return-value]
    return _lazy_table(body.__name__, body.__qualname__, dict(vars(body)))  # type: ignore[no-any-return]


def _lazy_table(name: str, qualname: str, body: dict[str, Any]) -> Any:
    namespace: dict[str, Any] = {"__module__": body["__module__"], "__qualname__": qualname,
                                 "__doc__": body.get("__doc__")}  # fmt: skip
    values: dict[str, int] = {}
    for key, value in body.items():
        if key in _SKIPPED:
            continue  # the statement's own __qualname__ among them
        if not key.startswith("_") and type(value) is int:
            values[key] = value
        else:
            namespace[key] = value
    namespace["_values_"] = values
    namespace["_aliased_"] = len(set(values.values())) != len(values)
    return _IntEnumType(name, (_IntEnum,), namespace)


class _TableStatement(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        if not bases:  # IntEnumBody itself
            return super().__new__(mcls, name, bases, ns)
        return _lazy_table(name, ns["__qualname__"], ns)  # not of this metaclass: Python binds it as it is


class IntEnumBody(metaclass=_TableStatement):
    """Derive a table from this (``class ErrorCode(IntEnumBody): OK = 0 ...``) to get :func:`int_enum`'s class.

    Why not ``int_enum(body)`` on a plain class: Python makes a class of the
    statement first, about 60,000 instructions for a class thrown away; each
    table every short run builds paid it. Modules declare the base as
    ``enum.IntEnum`` under ``TYPE_CHECKING``, so type checkers see IntEnums.
    """


def int_flag(body: type) -> type[enum.IntFlag]:
    """The IntFlag-like class of ``body``'s members: combinations stay of the class.

    As in an IntFlag, a member of no bit or of several (libvirt's ``..._CURRENT = 0``,
    ``WITH_BUILD_OVERWRITE``) can be named and looked up but is not iterated:
    iteration, and the names of combinations, are of the single bits.
    """
    cls = _build(body, _IntFlag, _is_int, int.__new__)
    cls._member_names_ = [n for n in cls._member_names_ if cls._member_map_[n].bit_count() == 1]
    return cls  # type: ignore[no-any-return]


def _make_plain(cls: Any, value: object) -> Any:
    member = object.__new__(cls)
    member._value_ = value
    return member


def _is_plain_member(value: object) -> bool:
    return not callable(value) and not isinstance(value, (property, classmethod, staticmethod))


def plain_enum(body: type) -> type[enum.Enum]:
    """The Enum-like class of ``body``'s members (its public non-callable attributes)."""
    return _build(body, _Enum, _is_plain_member, _make_plain)  # type: ignore[no-any-return]


def numbers(table: type[enum.IntEnum]) -> dict[str, int]:
    """Every name of an IntEnum (light or ``enum``'s, aliases too) with its number, making no member of a light one.

    For tables keyed by a light enum's numbers built when first needed
    (``pyvirt.errors``' messages): such a dict answers for a member as for
    its number, since a member hashes and compares as the number.
    """
    values = table.__dict__.get("_values_")
    if values is not None:
        return dict(values)
    return {name: int(member) for name, member in table.__members__.items()}
