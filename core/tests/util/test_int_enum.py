"""The light IntEnum/IntFlag/Enum of ``pyvirt.util.int_enum`` behave as the standard library's for what callers use.

The oracle is ``enum`` itself: the same table built both ways must give the same
reprs, strings, lookups, iteration, pickling and flag arithmetic; only the cost of
building differs (which is why the light ones exist: every pyvirsh run builds them).
"""

from __future__ import annotations

import copy
import enum
import pickle

import pytest

from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.typed_params import TypedParamType
from pyvirt.util.int_enum import int_enum, int_flag, plain_enum


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


def test_int_flag_behaves_as_intflag() -> None:
    light, std = int_flag(Bits), _stdlib(enum.IntFlag, Bits)
    for value in (1, 3, 11, 0, 16, 17):
        a, b = light(value), std(value)
        assert (repr(a), str(a), int(a), type(a) is light) == (repr(b), str(b), int(b), True), value
    both = light.A | light.B  # type: ignore[attr-defined]
    assert type(both) is light and repr(both) == repr(std.A | std.B)  # type: ignore[attr-defined]
    assert repr(both & light.B) == repr(std(3) & std.B) and repr(light.A ^ 3) == repr(std.A ^ 3)  # type: ignore[attr-defined, operator]
    assert repr(~light.A) == repr(~std.A)  # type: ignore[attr-defined]
    assert light.A in both and light.C not in both  # type: ignore[attr-defined]
    assert [m.name for m in light] == [m.name for m in std] == ["A", "B", "C"]  # type: ignore[attr-defined]


def test_plain_enum_behaves_as_enum() -> None:
    light, std = plain_enum(Kinds), _stdlib(enum.Enum, Kinds)
    assert [(repr(m), str(m), m.name, m.value) for m in light] == [
        (repr(m), str(m), m.name, m.value)
        for m in std  # type: ignore[attr-defined]
    ]
    assert light("read") is light.READ and light["WRITE"] is light.WRITE  # type: ignore[attr-defined]
    assert light.READ != "read" and light.READ is not light.WRITE  # type: ignore[attr-defined]
