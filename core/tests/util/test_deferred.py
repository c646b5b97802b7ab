"""Class statements made classes when first read (pyvirt.util.deferred), as pyvirt.errors and domain_state use it."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
import types

import pytest

from pyvirt.util.deferred import Deferred, build_on_first_use

# A module written as pyvirt.errors is: a real base, a placeholder base for the deferred statements.
_SOURCE = '''
from pyvirt.util.deferred import Deferred, build_on_first_use

made = []


class Base(Exception):
    pass


_Lazy = Deferred("_Lazy", (), {})


class Plain(_Lazy):
    """A docstring."""

    kind = "plain"


class WithSuper(_Lazy):
    def __init__(self, value):
        super().__init__(value)  # the __class__ cell must be the class the instance has
        self.value = value


def _made(name, body):
    made.append(name)
    return type(name, (Base,), body)


__getattr__, __dir__ = build_on_first_use(globals(), _made)
'''


def _module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module  # pickle finds the classes by module and name
    exec(compile(_SOURCE, name, "exec"), module.__dict__)  # the module above, as an import would run it
    return module


def test_a_statement_becomes_its_class_when_first_read_and_only_then() -> None:
    m = _module("deferred_probe_a")
    try:
        assert m.made == [] and "Plain" not in vars(m) and "_Lazy" not in vars(m)
        plain = m.Plain
        assert m.made == ["Plain"] and vars(m)["Plain"] is plain and m.Plain is plain  # stored: read once
        assert issubclass(plain, m.Base) and plain.__doc__ == "A docstring." and plain.kind == "plain"
        assert (plain.__module__, plain.__qualname__) == ("deferred_probe_a", "Plain")
        err = m.WithSuper(7)
        assert (err.value, err.args) == (7, (7,)) and m.made == ["Plain", "WithSuper"]
        assert pickle.loads(pickle.dumps(m.Plain)) is m.Plain
        assert {"Plain", "WithSuper", "Base"} <= set(dir(m)) and "_Lazy" not in dir(m)
        with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
            m.Nothing  # noqa: B018
    finally:
        del sys.modules["deferred_probe_a"]


def test_threads_reading_a_name_first_get_one_class() -> None:
    m = _module("deferred_probe_b")
    try:
        start, seen = threading.Barrier(8), []

        def read() -> None:
            start.wait()
            seen.append(m.WithSuper)

        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(c) for c in seen}) == 1 and m.made == ["WithSuper"]
        assert m.WithSuper(1).value == 1
    finally:
        del sys.modules["deferred_probe_b"]


def test_a_placeholder_is_no_class() -> None:
    """What a statement binds before build_on_first_use: the statement's parts, no class made."""
    base = Deferred("_B", (), {})

    class Statement(base):  # type: ignore[valid-type,misc]
        x = 1

    bound: object = Statement  # a type checker sees the statement's class
    assert isinstance(bound, Deferred) and bound.name == "Statement" and bound.namespace["x"] == 1
    namespace: dict[str, object] = {"__name__": "n", "Statement": bound, "_B": base}
    getattr_, dir_ = build_on_first_use(namespace, lambda name, body: type(name, (), body))
    assert set(namespace) == {"__name__"} and dir_() == ["Statement", "__name__"]
    assert vars(getattr_("Statement"))["x"] == 1


_STATES = r"""
import json, sys
import pyvirt.domain_state as d
at_import = sorted(n for n, v in vars(d).items() if isinstance(v, type) and issubclass(v, int))
words = [d.state_text(5), d.reason_text(5, 2), d.reason_text(3, 5), d.reason_text(1, 99), d.reason_text(42, 0)]
untouched = sorted(n for n, v in vars(d).items() if isinstance(v, type) and issubclass(v, int))
from pyvirt.domain_state import DomainState, ShutoffReason
print(json.dumps([at_import, words, untouched, int(DomainState.SHUTOFF), ShutoffReason(2).name,
                  sorted(n for n, v in vars(d).items() if isinstance(v, type) and issubclass(v, int))]))
"""


def test_domain_states_are_worded_without_making_their_tables() -> None:
    """``list`` and ``dominfo`` through pyvirtd print states only: the five tables (an int subclass each, about
    1.3 million instructions together) are made when a driver names one."""
    out = subprocess.run([sys.executable, "-c", _STATES], capture_output=True, text=True, check=True)
    at_import, words, untouched, shutoff, destroyed, made = json.loads(out.stdout)
    assert (at_import, untouched) == ([], [])
    assert words == ["shut off", "destroyed", "I/O error", "unknown", "unknown"]
    assert (shutoff, destroyed, made) == (5, "DESTROYED", ["DomainState", "ShutoffReason"])
