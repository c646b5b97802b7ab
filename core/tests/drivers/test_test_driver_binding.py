"""core's test driver bound without a plugin manager, still held to the hook specs by pluggy here.

Every short ``pyvirsh`` run on ``test:///`` used to build a pluggy manager,
register the driver and its connection (some 130 hooks, each checked with
``inspect``) and import pluggy for it: two fifths of a run's instructions
before any command ran. ``pyvirt.opening`` now binds the core test driver's
hooks directly; the check pluggy made at every open is made here, once per
change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pluggy
import pytest

from pyvirt.drivers.test.driver import TestDriver
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.events import EventSink
from pyvirt.plugin import PROJECT
from pyvirt.plugin.facade import DriverCalls, direct_calls
from pyvirt.plugin.registry import bind_connection, open_with_manager
from pyvirt.uri import parse_uri


def test_the_marker_marks_as_pluggys_own_does() -> None:
    def mine() -> None: ...

    def theirs() -> None: ...

    hookimpl(mine)
    pluggy.HookimplMarker(PROJECT)(theirs)
    assert getattr(mine, f"{PROJECT}_impl") == getattr(theirs, f"{PROJECT}_impl")


NODE = Path(__file__).resolve().parents[1] / "cli" / "corpus" / "node.xml"


def _with_every_group(conn_obj: Any) -> Any:
    """The same connection as an object whose class inherits every lazily loaded hook group, as pluggy must see
    it: pluggy finds hooks with ``inspect.getattr_static``, which never asks ``__getattr__``."""
    from pyvirt.drivers.test import driver

    groups = [driver._lazy_group(module) for module in driver._LAZY_GROUPS]
    whole = object.__new__(type("WholeTestConnection", (type(conn_obj), *groups), {}))
    whole.__dict__ = conn_obj.__dict__
    return whole


def _function(bound: Any) -> Any:
    return getattr(bound, "__func__", bound)


@pytest.mark.parametrize("uri", ["test:///default", f"test://{NODE}"])
def test_pluggy_accepts_every_hook_and_binds_what_the_direct_path_binds(uri: str) -> None:
    """The driver and its connection register cleanly (pluggy raises naming a mismatched hook), and the
    direct calls are exactly pluggy's hooks, the same methods; also as pyvirt.opening binds them: the hooks
    named without importing the rarely used groups, each bound on its first call."""
    resolved = parse_uri(uri)
    conn_obj, pm = open_with_manager(TestDriver(), "test", uri=resolved, read_only=False, events=EventSink())
    pm = bind_connection(_with_every_group(conn_obj), "test", pm)
    through_pluggy = DriverCalls(pm)
    on_first_use = direct_calls(conn_obj, hooks=conn_obj.hook_names(), bind=conn_obj.bind_hook)
    for direct in (direct_calls(conn_obj), on_first_use):
        assert direct._implemented == through_pluggy._implemented
        assert len(direct._implemented) > 100
        assert all(_function(direct._single[name]) is _function(through_pluggy._single[name])
                   for name in direct._implemented)  # fmt: skip
        assert all(getattr(direct._single[name], "__self__", conn_obj) is conn_obj for name in direct._implemented)
    conn_obj.connect_close()


def test_the_lazily_loaded_groups_are_named_as_their_classes_define_them() -> None:
    """driver.py names each rarely used group's attributes without importing it; a hook added to a group
    and not to that table would be unknown to the connection, so the table must be exactly the classes'."""
    from pyvirt.drivers.test import driver

    seen: set[str] = set()
    for module, (cls_name, names) in driver._LAZY_GROUPS.items():
        cls = driver._lazy_group(module)
        assert cls.__name__ == cls_name and cls.__mro__[1:] == (object,)
        defined = {n for n in vars(cls) if not (n.startswith("__") and n.endswith("__"))}
        assert set(names.split()) == defined, module
        hooks = {n for n in defined if hasattr(vars(cls)[n], f"{PROJECT}_impl")}
        assert {n for n in defined if not n.startswith("_")} - driver._LAZY_NOT_HOOKS == hooks, module
        # a name the connection has already would shadow the group's: inheritance gave no such shadowing
        eager = {n for k in driver.TestConnection.__mro__ for n in vars(k)}
        assert not defined & seen and not defined & eager, module
        seen |= defined


def test_opening_test_default_loads_no_rarely_used_hook_group_until_one_is_called() -> None:
    groups = ["checkpoints", "guest_fs", "host", "interfaces", "iothreads", "nodedevs", "pool_sources", "resources",
              "scheduler", "screenshot", "tuning"]  # fmt: skip
    probe = (
        "import json, sys, pyvirt\n"
        f"groups = {['pyvirt.drivers.test.' + g for g in groups]!r}\n"
        "conn = pyvirt.open('test:///default')\n"
        "dom = conn.lookup_domain_by_name('test')\n"
        "dom.suspend(); dom.resume()\n"
        "before = sorted(set(groups) & set(sys.modules))\n"
        "vcpus = conn.get_max_vcpus()\n"  # a host hook: its group loads now
        "kind = dom.scheduler_type()\n"
        "after = sorted(set(groups) & set(sys.modules))\n"
        "conn.close()\n"
        "print(json.dumps([before, after, vcpus, kind]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == [[], ["pyvirt.drivers.test.host", "pyvirt.drivers.test.scheduler"], 32,
                                      ["fair", 1]]  # fmt: skip


def test_opening_test_default_imports_no_pluggy() -> None:
    probe = (
        "import sys, pyvirt\n"
        "conn = pyvirt.open('test:///default')\n"
        "assert conn.lookup_domain_by_name('test').name == 'test'\n"
        "conn.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pluggy', 'inspect')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_another_test_entry_point_still_goes_through_pluggy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only core's own entry point is bound directly; any other answering ``test`` is registered and validated."""
    import pyvirt
    import pyvirt.opening

    monkeypatch.setattr(pyvirt.opening, "_CORE_TEST_DRIVER", "some.other.package:TestDriver")
    seen: list[Any] = []
    real = pyvirt.plugin.registry.open_with_manager

    def spy(driver: Any, name: str, **kwargs: Any) -> Any:
        seen.append(name)
        return real(driver, name, **kwargs)

    monkeypatch.setattr(pyvirt.plugin.registry, "open_with_manager", spy)
    with pyvirt.open("test:///default") as conn:
        assert conn.lookup_domain_by_name("test").name == "test"
    assert seen == ["test"]


def test_the_test_security_model_matches_the_security_specs() -> None:
    """Its stack is built ``checked=True`` (not registered at every start-up): pluggy checks it here."""
    from pyvirt.drivers.test.security import TestSecurityDriver
    from pyvirt.security.stack import _validated

    driver = TestSecurityDriver()
    assert _validated("testSecurity", driver) is driver  # raises naming the hook on a mismatch


def test_reading_a_label_of_test_default_imports_no_pluggy() -> None:
    probe = (
        "import sys, pyvirt\n"
        "conn = pyvirt.open('test:///default')\n"
        "dom = conn.lookup_domain_by_name('test')\n"
        "dom.destroy(); dom.create()\n"
        "assert [tuple(label) for label in dom.security_labels()] == [('libvirt-test', True)]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pluggy'))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
