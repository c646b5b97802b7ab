"""The light IntEnum/IntFlag/Enum of ``pyvirt.util.int_enum`` behave as the standard library's for what callers use.

The oracle is ``enum`` itself: the same table built both ways must give the same
reprs, strings, lookups, iteration, pickling and flag arithmetic; only the cost of
building differs (which is why the light ones exist: every pyvirsh run builds them).
"""

from __future__ import annotations

import copy
import enum
import pickle
from typing import Any

import pytest

from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.typed_params import TypedParamType
from pyvirt.util.int_enum import IntEnumBody, int_enum, int_flag, numbers, plain_enum


class Codes:
    """A table with an alias and a method."""

    OK = 0
    FIRST = 1
    SECOND = 2
    ALIAS = 1

    def doubled(self) -> int:
        return int(self) * 2  # type: ignore[call-overload]


class Bits:
    A = 1
    B = 2
    C = 8


class Kinds:
    READ = "read"
    WRITE = "write"


def _stdlib(kind: type[enum.Enum], body: type) -> type[enum.Enum]:
    members = {k: v for k, v in vars(body).items() if not k.startswith("_") and not callable(v)}
    built = kind(body.__name__, members, module=__name__, qualname=body.__qualname__)  # type: ignore[call-overload]
    return built  # type: ignore[no-any-return]


def test_int_enum_behaves_as_intenum() -> None:
    light, std = int_enum(Codes), _stdlib(enum.IntEnum, Codes)
    assert [repr(m) for m in light] == [repr(m) for m in std]  # type: ignore[attr-defined]
    assert [(m.name, m.value, str(m), f"{m}", f"{m:>3}", int(m)) for m in light] == [
        (m.name, m.value, str(m), f"{m}", f"{m:>3}", int(m))
        for m in std  # type: ignore[attr-defined]
    ]
    assert len(light) == len(std) == 3
    assert light.ALIAS is light.FIRST and light(1) is light.FIRST and light["ALIAS"] is light.FIRST  # type: ignore[attr-defined]
    assert list(light.__members__) == list(std.__members__) == ["OK", "FIRST", "SECOND", "ALIAS"]
    assert light.SECOND == 2 and {2: "x"}[light.SECOND] == "x" and hash(light.SECOND) == hash(2)  # type: ignore[attr-defined]
    assert light(light.SECOND) is light.SECOND and light.SECOND in light and 2 in light  # type: ignore[attr-defined]
    assert light.SECOND.doubled() == 4  # type: ignore[attr-defined]
    assert repr(light) == repr(std) == "<enum 'Codes'>"
    for bad in (7, "x"):
        with pytest.raises(ValueError) as got:
            light(bad)
        with pytest.raises(ValueError) as want:
            std(bad)
        assert str(got.value) == str(want.value)
    assert not light.OK and isinstance(light.FIRST, light) and isinstance(light.FIRST, int)  # type: ignore[attr-defined]


def test_members_pickle_and_copy_as_themselves() -> None:
    for member in (ErrorCode.NO_DOMAIN, ErrorDomain.QEMU, TypedParamType.UINT):
        assert pickle.loads(pickle.dumps(member)) is member
        assert copy.copy(member) is member and copy.deepcopy(member) is member
    assert TypedParamType.UINT.label == "uint"  # a property of the table's body is kept
    assert ErrorCode(42) is ErrorCode.NO_DOMAIN and ErrorCode["NO_DOMAIN"] is ErrorCode.NO_DOMAIN


def _flag_facts(cls: type[enum.IntFlag], value: int) -> tuple[object, ...]:
    """Everything a caller reads off one flag value: its text forms, truth, number, name, class and members."""
    f = cls(value)
    percent = "%d" % f  # noqa: UP031  # old-style formatting goes through int's own code
    return (repr(f), str(f), f"{f}", f"{f:x}", f"{f:>4}", percent, bool(f), int(f), f.value, f.name,
            type(f) is cls, [repr(m) for m in f], len(f), f in cls, hash(f) == hash(value))  # fmt: skip


def test_int_flag_behaves_as_intflag() -> None:
    light, std = int_flag(Bits), _stdlib(enum.IntFlag, Bits)
    for value in (1, 3, 11, 0, 16, 17, 255, -1, -2):
        assert _flag_facts(light, value) == _flag_facts(std, value), value
    a, b, c = light.A, light.B, light.C  # type: ignore[attr-defined]
    sa, sb, sc = std.A, std.B, std.C  # type: ignore[attr-defined]
    both = a | b
    assert type(both) is light and repr(both) == repr(sa | sb)
    pairs = [(both & b, (sa | sb) & sb), (a ^ 3, sa ^ 3), (3 & a, 3 & sa), (3 | c, 3 | sc), (2 ^ a, 2 ^ sa),
             (~a, ~sa), (~both, ~(sa | sb)), (~(a | b | c), ~(sa | sb | sc)), (~light(0), ~std(0)),
             (both & ~a, (sa | sb) & ~sa), (a | 16, sa | 16)]  # fmt: skip
    for got, want in pairs:
        assert (repr(got), type(got) is light) == (repr(want), True)
    assert a in both and c not in both and (a | c) in (a | b | c) and (a | c) not in both
    assert [m.name for m in light] == [m.name for m in std] == ["A", "B", "C"]
    assert [m.name for m in reversed(light)] == ["C", "B", "A"] and len(light) == 3
    assert light(3) == 3 and light(3) == both and {3: "x"}[both] == "x"
    with pytest.raises(ValueError, match="'x' is not a valid Bits"):
        light("x")


def test_generated_flags_behave_as_intflag() -> None:
    """Every class of pyvirt.flags (built with int_flag), rebuilt with enum, answers the same.

    The tables hold what a toy one lacks: members of no bit (``..._CURRENT = 0``),
    of several bits (``WITH_BUILD_OVERWRITE``) and aliases; values are every
    member's, all of them together, none, -1 and a bit no member names.
    """
    from pyvirt import flags

    classes: list[Any] = [getattr(flags, n) for n in flags.__all__ if n not in ("API_FLAGS", "BY_LIBVIRT_NAME")]
    assert len(classes) == len(flags.__all__) - 2 and all(c.__module__ == flags.__name__ for c in classes)
    for light in classes:
        assert not isinstance(next(iter(light)), enum.Enum)  # built by int_flag, not by the enum module
        std = enum.IntFlag(light.__name__, {name: int(m) for name, m in light.__members__.items()})  # type: ignore[misc]
        assert [m.name for m in light] == [m.name for m in std], light
        every = 0
        for m in light.__members__.values():
            every |= int(m)
        for value in [*sorted({int(m) for m in light.__members__.values()}), every, 0, -1, every | 1 << 40]:
            assert _flag_facts(light, value) == _flag_facts(std, value), (light, value)
            assert repr(~light(value)) == repr(~std(value)), (light, value)
    light = flags.DomainUndefineFlags
    assert flags.BY_LIBVIRT_NAME["VIR_DOMAIN_UNDEFINE_NVRAM"] is light.NVRAM
    combo = light.NVRAM | light.MANAGED_SAVE
    assert pickle.loads(pickle.dumps(light.NVRAM)) is light.NVRAM and copy.deepcopy(light.NVRAM) is light.NVRAM
    assert (pickle.loads(pickle.dumps(combo)), type(pickle.loads(pickle.dumps(combo)))) == (combo, light)


def test_plain_enum_behaves_as_enum() -> None:
    light, std = plain_enum(Kinds), _stdlib(enum.Enum, Kinds)
    assert [(repr(m), str(m), m.name, m.value) for m in light] == [
        (repr(m), str(m), m.name, m.value)
        for m in std  # type: ignore[attr-defined]
    ]
    assert light("read") is light.READ and light["WRITE"] is light.WRITE  # type: ignore[attr-defined]
    assert light.READ != "read" and light.READ is not light.WRITE  # type: ignore[attr-defined]


def test_a_table_makes_its_members_when_first_read() -> None:
    """A short pyvirsh run reads a handful of the 183 error numbers: making every member cost it 1.8 million
    instructions. A member made late is still the one object every way of reaching it gives."""
    light: Any = int_enum(Codes)
    assert not {"OK", "FIRST", "SECOND", "ALIAS"} & set(vars(light))
    alias = light.ALIAS  # an alias read first makes the member of the first name with its value
    assert set(vars(light)) >= {"FIRST", "ALIAS"} and "SECOND" not in vars(light)
    assert alias is light.FIRST and alias.name == "FIRST" and repr(alias) == "<Codes.FIRST: 1>"
    zero = light.OK  # the member of 0 is false, and still made once
    assert zero is light.OK and not zero
    assert list(light) == [zero, alias, light.SECOND] and list(light)[1] is alias and light(0) is zero
    assert {"OK", "FIRST", "SECOND", "ALIAS"} <= set(dir(int_enum(Codes)))
    with pytest.raises(AttributeError, match="type object 'Codes' has no attribute 'THIRD'"):
        light.THIRD  # noqa: B018


class Statement(IntEnumBody):
    """A table made by its class statement."""

    NONE = 0
    SOME = 5


def test_a_class_statement_makes_the_table_without_a_class_of_its_own() -> None:
    assert type(Statement) is type(int_enum(Codes)) and int_enum(Statement) is Statement
    assert Statement.__qualname__ == "Statement" and Statement.__module__ == __name__
    assert Statement.__doc__ == "A table made by its class statement."
    assert repr(Statement(5)) == "<Statement.SOME: 5>" and Statement["NONE"] is Statement.NONE  # type: ignore[attr-defined]
    assert [m.name for m in Statement] == ["NONE", "SOME"]  # type: ignore[attr-defined]


def test_numbers_reads_a_table_without_making_its_members() -> None:
    light = int_enum(Codes)
    assert numbers(light) == {"OK": 0, "FIRST": 1, "SECOND": 2, "ALIAS": 1}  # type: ignore[arg-type]
    assert not {"OK", "FIRST"} & set(vars(light))
    assert numbers(_stdlib(enum.IntEnum, Codes)) == {"OK": 0, "FIRST": 1, "SECOND": 2, "ALIAS": 1}  # type: ignore[arg-type]


def test_a_child_forked_while_another_thread_makes_a_member_can_make_its_own() -> None:
    """pyvirtd forks children while its threads work; one forked while the member lock was held must not
    wait for a thread the child does not have."""
    import os
    import signal

    import pyvirt.util.int_enum as int_enum_module

    light: Any = int_enum(Codes)
    int_enum_module._MEMBER_LOCK.acquire()  # as another thread making a member at the fork
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            signal.alarm(5)  # a wait for the lock ends the child by SIGALRM
            os._exit(0 if light.SECOND == 2 else 1)
    finally:
        int_enum_module._MEMBER_LOCK.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
