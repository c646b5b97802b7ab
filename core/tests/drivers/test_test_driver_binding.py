"""core's test driver bound without a plugin manager, still held to the hook specs by pluggy here.

Every short ``pyvirsh`` run on ``test:///`` used to build a pluggy manager,
register the driver and its connection (some 130 hooks, each checked with
``inspect``) and import pluggy for it: two fifths of a run's instructions
before any command ran. ``pyvirt.opening`` now binds the core test driver's
hooks directly; the check pluggy made at every open is made here, once per
change.
"""

from __future__ import annotations

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


@pytest.mark.parametrize("uri", ["test:///default", f"test://{NODE}"])
def test_pluggy_accepts_every_hook_and_binds_what_the_direct_path_binds(uri: str) -> None:
    """The driver and its connection register cleanly (pluggy raises naming a mismatched hook), and the
    direct calls are exactly pluggy's hooks, bound to the same methods."""
    resolved = parse_uri(uri)
    conn_obj, pm = open_with_manager(TestDriver(), "test", uri=resolved, read_only=False, events=EventSink())
    pm = bind_connection(conn_obj, "test", pm)
    through_pluggy = DriverCalls(pm)
    direct = direct_calls(conn_obj)
    assert direct._implemented == through_pluggy._implemented
    assert len(direct._implemented) > 100
    assert all(direct._single[name] == through_pluggy._single[name] for name in direct._implemented)
    conn_obj.connect_close()


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
