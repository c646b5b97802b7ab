"""pyvirt.util.named_tuple makes the classes typing.NamedTuple makes, without evaluating annotations."""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import pyvirt.plugin.records as records
from pyvirt.util.named_tuple import NamedTuple


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
        "import pyvirt.plugin.records\n"
        "print(len(made), len(pyvirt.plugin.records.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "17"]
