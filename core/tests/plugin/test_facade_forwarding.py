"""A connection's calls without the facade's 250 typed methods: forwarded by name, and nothing lost.

``direct_calls`` (the thin remote client, core's test driver) gives calls
that forward ``calls.hook(**kwargs)`` to the driver by name, as the facade's
one-line methods do, and load the facade only where its method does more:
the entry checks of :data:`pyvirt.plugin.facade_base.ENTRY_CHECKED`, a hook
the driver lacks (NO_SUPPORT), a call by position.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from pyvirt.plugin import facade
from pyvirt.plugin.facade_base import ENTRY_CHECKED


def _does_more_than_forward(cls: ast.ClassDef) -> set[str]:
    """The public methods of ``cls`` whose body is not ``[return [cast(T, ]]self._call("<name>", p=p, ...)``."""

    def forwards(node: ast.expr | None, name: str, params: list[str]) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cast":
            node = node.args[1]
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_call"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
            and [a.value for a in node.args if isinstance(a, ast.Constant)] == [name]
            and len(node.args) == 1
            and [(k.arg, getattr(k.value, "id", None)) for k in node.keywords] == [(p, p) for p in params]
        )

    more = set()
    for fn in cls.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
            continue
        params = [a.arg for a in fn.args.args[1:]]
        body = fn.body
        only = body[0] if len(body) == 1 else None
        plain = not fn.args.kwonlyargs and not fn.args.vararg and not fn.args.kwarg and not fn.decorator_list
        value = only.value if isinstance(only, (ast.Return, ast.Expr)) else None
        if not (plain and forwards(value, fn.name, params)):
            more.add(fn.name)
    return more


def _driver_calls_class(source: str) -> ast.ClassDef:
    tree = ast.parse(source)
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DriverCalls")


def test_the_entry_checked_hooks_are_exactly_the_facade_methods_that_do_more_than_forward() -> None:
    assert _does_more_than_forward(_driver_calls_class(inspect.getsource(facade))) == ENTRY_CHECKED


def test_a_method_that_checks_its_arguments_is_told_from_one_that_forwards() -> None:
    """The check above can fail: a new method with an entry check, or forwarding other names, is found."""
    source = textwrap.dedent("""
        class DriverCalls:
            def a_forward(self, dom, flags):
                return cast("int", self._call("a_forward", dom=dom, flags=flags))
            def a_none(self, dom):
                self._call("a_none", dom=dom)
            def checks(self, dom, flags):
                if flags:
                    raise ValueError
                return self._call("checks", dom=dom, flags=flags)
            def renames(self, dom, flags):
                return self._call("renames", dom=dom, flags=0)
            def other_hook(self, dom):
                return self._call("another", dom=dom)
    """)
    assert _does_more_than_forward(_driver_calls_class(source)) == {"checks", "renames", "other_hook"}


_PROBE = """
import sys
import pyvirt
from pyvirt.errors import InvalidArgumentError
with pyvirt.open("test:///default") as conn:
    dom = conn.lookup_domain_by_name("test")
    dom.destroy()
    print("state", dom.state()[0], "facade" , "pyvirt.plugin.facade" in sys.modules)
    try:  # virDomainSetMetadata's own check, made by the facade's method before any driver
        conn.calls.domain_set_metadata(dom=dom.ref, type=1, metadata="a\\nb", key=None, uri=None, flags=0)
    except InvalidArgumentError as err:
        print("refused", err, "facade", "pyvirt.plugin.facade" in sys.modules)
    print("positional", conn.calls.domain_get_state(dom.ref) == conn.calls.domain_get_state(dom=dom.ref))
"""


def test_calls_forward_by_name_and_load_the_facade_only_for_what_its_methods_add() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == [
        "state 5 facade False",
        "refused metadata title can't contain newlines facade True",
        "positional True",
    ]


def test_an_unknown_name_still_fails_as_on_the_facade() -> None:
    import pyvirt

    with pyvirt.open("test:///default") as conn, pytest.raises(AttributeError, match="no_such_hook"):
        getattr(conn.calls, "no_such_hook")  # noqa: B009  (a name mypy would refuse)


def _parameters(fn: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def test_the_drivers_bound_directly_take_the_specs_parameters_in_its_order() -> None:
    """On a read-write connection ``calls.hook`` is the driver's own call (no forwarding frame, see
    ``_Forwarding``), so a call by position must mean there what the facade's method means: the same
    parameters, in the same order. The drivers ``direct_calls`` binds are core's test driver and the
    remote driver's methods written out by hand (its generated calls take the spec's arguments either way)."""
    from pyvirt.drivers.test.driver import TestDriver
    from pyvirt.events import EventSink
    from pyvirt.plugin.facade_base import direct_calls
    from pyvirt.remote.driver import RemoteConnection
    from pyvirt.uri import parse_uri

    conn_obj = TestDriver().connect_open(uri=parse_uri("test:///default"), read_only=False, events=EventSink())
    assert conn_obj is not None
    calls = direct_calls(conn_obj, hooks=conn_obj.hook_names(), bind=conn_obj.bind_hook)
    try:
        differ = {h for h in conn_obj.hook_names() if _parameters(getattr(calls, h)) != _parameters(
            getattr(facade.DriverCalls, h))}  # fmt: skip
        assert not differ, f"the test driver's parameters differ from the spec's in {sorted(differ)}"
        assert getattr(calls, "domain_get_state") == conn_obj.domain_get_state  # noqa: B009  (the driver's own)
    finally:
        conn_obj.connect_close()
    written = [h for h in RemoteConnection.HOOKS if h in vars(RemoteConnection)]
    assert len(written) > 3
    differ = {
        h for h in written if _parameters(vars(RemoteConnection)[h]) != _parameters(getattr(facade.DriverCalls, h))
    }
    assert not differ, f"the remote driver's parameters differ from the spec's in {sorted(differ)}"


def test_a_driver_whose_parameters_are_out_of_order_is_found() -> None:
    """The check above can fail: the same names in another order differ."""

    def spec(self: object, dom: object, flags: int) -> None: ...

    def swapped(self: object, flags: int, dom: object) -> None: ...

    assert _parameters(spec) == ["dom", "flags"] and _parameters(swapped) != _parameters(spec)
