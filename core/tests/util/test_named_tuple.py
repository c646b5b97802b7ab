"""pyvirt.util.named_tuple makes the classes typing.NamedTuple makes, without evaluating annotations."""

from __future__ import annotations

import collections
import copy
import inspect
import pickle
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

import pyvirt.plugin.records as records
from pyvirt.util.named_tuple import NamedTuple, _named_tuple_class


def _records_built_by_typing() -> dict[str, object]:
    """pyvirt.plugin.records as a type checker reads it: every class made by ``typing.NamedTuple``."""
    path = Path(records.__file__)
    source = path.read_text()
    assert source.count("\nTYPE_CHECKING = False\n") == 1
    namespace: dict[str, object] = {"__name__": records.__name__}
    exec(compile(source.replace("\nTYPE_CHECKING = False\n", "\nTYPE_CHECKING = True\n"), str(path), "exec"), namespace)
    return namespace


def test_every_record_is_the_class_typing_would_make() -> None:
    reference = _records_built_by_typing()
    for name in records.__all__:
        ours, theirs = getattr(records, name), reference[name]
        assert isinstance(theirs, type) and issubclass(theirs, tuple)
        assert type(ours) is type(theirs) is type, name  # a plain class, as every named tuple is
        assert (ours._fields, ours._field_defaults) == (theirs._fields, theirs._field_defaults), name
        assert (ours.__doc__, ours.__module__, ours.__qualname__) == (theirs.__doc__, theirs.__module__, name)
        assert {k for k in vars(ours) if not k.startswith("__")} == {k for k in vars(theirs) if not k.startswith("__")}
        assert typing.get_type_hints(ours, vars(records)) == typing.get_type_hints(theirs), name
        values = tuple(range(len(ours._fields)))
        made = ours(*values)
        assert made == theirs(*values) and repr(made) == repr(theirs(*values))
        assert pickle.loads(pickle.dumps(made)) == made and made._asdict() == theirs(*values)._asdict()
    assert records.DomainRef("d", "u") == ("d", "u", -1) and records.DomainRef("d", "u")._replace(id=4).id == 4


def test_refusals_are_typings() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field"):

        class Bad(NamedTuple):
            a: int = 0
            b: int

    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _replace"):

        class Worse(NamedTuple):
            a: int

            def _replace(self) -> None: ...


def test_records_no_longer_go_through_typing_namedtuple() -> None:
    """typing.NamedTuple evaluated and checked every annotation of the seventeen records at each start
    (about 1 ms of a pyvirsh run); now none of them goes through it."""
    probe = (
        "import typing\n"
        "made = []\n"
        "original = typing.NamedTupleMeta.__new__\n"
        "def counting(cls, name, bases, ns):\n"
        "    made.append(name)\n"
        "    return original(cls, name, bases, ns)\n"
        "typing.NamedTupleMeta.__new__ = counting\n"
        "import pyvirt.plugin.records as records\n"
        "built = [getattr(records, name) for name in records.__all__]\n"
        "print(len(made), len(built))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", str(len(records.__all__))]


def _failure(call: typing.Callable[[type, tuple[int, ...]], object], cls: type, values: tuple[int, ...]) -> object:
    """What ``call(cls, values)`` raises (type and message), None when it raises nothing."""
    try:
        call(cls, values)
    except Exception as exc:
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("count", range(1, 15))  # 13 and 14: past the templates, namedtuple's own
def test_the_class_is_namedtuples_own(count: int) -> None:
    """Every member, name, docstring, default, signature, message and pickle as ``collections.namedtuple``'s."""
    fields = [f"f{i}" for i in range(count)]
    for defaults in ([], [7], list(range(count))):
        ours = _named_tuple_class("Rec", fields, defaults, __name__)
        theirs = collections.namedtuple("Rec", fields, defaults=defaults, module=__name__)
        assert set(vars(ours)) == set(vars(theirs))
        for attr in ("__doc__", "_fields", "_field_defaults", "__match_args__", "__module__", "__qualname__"):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
        for name in ("__new__", "_make", "_replace", "__repr__", "_asdict", "__getnewargs__"):
            mine, stdlib = getattr(ours, name), getattr(theirs, name)
            for attr in ("__name__", "__qualname__", "__doc__", "__defaults__"):
                assert getattr(mine, attr, None) == getattr(stdlib, attr, None), (name, attr)
        assert ours.__new__.__module__ == theirs.__new__.__module__
        assert inspect.signature(ours) == inspect.signature(theirs)
        assert vars(ours)["f0"].__doc__ == vars(theirs)["f0"].__doc__
        values = tuple(range(count))
        mine_value, their_value = ours(*values), theirs(*values)
        assert repr(mine_value) == repr(their_value) and mine_value == their_value
        assert mine_value._asdict() == their_value._asdict()
        assert mine_value._replace(f0=9) == their_value._replace(f0=9)
        assert ours(**dict(zip(fields, values, strict=True))) == mine_value
        assert copy.copy(mine_value) == mine_value and mine_value.__getnewargs__() == values
        for call in (
            lambda cls, v: cls(*v, 0),
            lambda cls, v: cls(),
            lambda cls, v: cls(zz=1),
            lambda cls, v: cls._make([*v, 1]),
            lambda cls, v: cls(*v)._replace(zz=1),
            lambda cls, v: cls(*v, f0=1),
        ):
            assert _failure(call, ours, values) == _failure(call, theirs, values)


def test_records_are_built_without_compiling_source() -> None:
    """``namedtuple`` compiled each class's ``__new__`` from text (the ``compile`` audit event of ``eval``),
    about 250,000 instructions apiece, 8 million of a ``pyvirsh list``; the records now compile nothing."""
    probe = (
        "import sys\n"
        "compiled = []\n"
        "sys.addaudithook(lambda event, args: compiled.append(args) if event == 'compile' else None)\n"
        "import pyvirt.plugin.records as records\n"
        "built = [getattr(records, name) for name in records.__all__]\n"
        "print(len(compiled))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0"]


def test_a_record_becomes_a_class_when_its_name_is_first_read() -> None:
    """A short run uses one of the 21 records, and making the other 20 cost it about 4 million instructions.
    Read first, a record is the class it was (import, pickle, type hints naming another record)."""
    probe = (
        "import pickle, typing\n"
        "import pyvirt.plugin.records as r\n"
        "def built():\n"
        "    return ','.join(sorted(n for n in r.__all__ if n in vars(r))) or '-'\n"
        "print(built())\n"
        "hints = typing.get_type_hints(r.CheckpointRef)\n"  # names DomainRef, not read yet
        "print(built(), hints['domain'] is r.DomainRef)\n"
        "from pyvirt.plugin.records import VolumeRef\n"
        "snap = r.SnapshotRef(r.DomainRef('d', 'u'), 's')\n"
        "print(VolumeRef is r.VolumeRef, pickle.loads(pickle.dumps(snap)) == snap, set(r.__all__) <= set(dir(r)))\n"
        "try:\n"
        "    r.Nope\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "-",
        "CheckpointRef,DomainRef True",
        "True True True",
        "module 'pyvirt.plugin.records' has no attribute 'Nope'",
    ]


PAIR = '''
class Pair(DeferredNamedTuple):
    """Two things."""

    left: int
    right: str = "r"

    def both(self) -> str:
        return f"{self.left}{self.right}"
'''


def test_a_deferred_record_is_the_class_a_plain_one_would_be() -> None:
    from pyvirt.util.named_tuple import DeferredNamedTuple, build_on_first_use

    namespace: dict[str, Any] = {"__name__": "probe", "DeferredNamedTuple": DeferredNamedTuple}
    exec(PAIR, namespace)
    getattr_, dir_ = build_on_first_use(namespace)
    assert "Pair" not in namespace and "Pair" in dir_()
    pair: Any = getattr_("Pair")
    assert namespace["Pair"] is pair and getattr_("Pair") is pair
    assert type(pair) is type and pair.__doc__ == "Two things." and pair._fields == ("left", "right")
    assert pair.__module__ == "probe" and pair(1).both() == "1r" and pair(1) == (1, "r")
    with pytest.raises(AttributeError, match="module 'probe' has no attribute 'Other'"):
        getattr_("Other")
    with pytest.raises(TypeError, match="can only derive from NamedTuple"):

        class Mixed(DeferredNamedTuple, tuple):  # type: ignore[misc]
            a: int
