"""The remote driver as a thin client: its hooks bound without a plugin manager, still held to the specs.

A short ``pyvirsh`` run through pyvirtd used to spend more time building a
pluggy manager and registering the remote driver's 111 hooks (and importing
pluggy and ``inspect``) than talking to the daemon. The client now binds the
generated methods directly (``pyvirt.plugin.facade.direct_calls``); pluggy's
validation of those methods against the hook specs moved here, where it runs
once per change instead of once per command.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.plugin import hookimpl
from pyvirt.plugin.api import API
from pyvirt.plugin.facade import direct_calls
from pyvirt.plugin.registry import _register, bind_state_driver
from pyvirt.remote.driver import RemoteConnection

PYVIRSH = Path(sys.executable).parent / "pyvirsh"


def marked_copy(cls: type, names: set[str]) -> object:
    """An object whose methods ``names`` are copies of ``cls``'s, each marked with pyvirt's ``hookimpl``."""
    methods = {}
    for name in names:
        fn = getattr(cls, name)
        copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = fn.__qualname__
        methods[name] = hookimpl(copy)
    return type("MarkedRemoteConnection", (), methods)()


def test_pluggy_accepts_every_remote_hook_against_the_specs() -> None:
    hooks = {name for name in API if callable(getattr(RemoteConnection, name, None))}
    pm = bind_state_driver(types.SimpleNamespace(), "empty")
    _register(pm, marked_copy(RemoteConnection, hooks), "remote")  # raises naming the hook on a mismatch
    registered = {name for name in dir(pm.hook) if not name.startswith("_") and getattr(pm.hook, name).get_hookimpls()}
    assert registered == hooks
    # what the client binds without pluggy is exactly what pluggy found and validated
    assert direct_calls(RemoteConnection.__new__(RemoteConnection))._implemented == hooks


def test_a_misspelled_remote_hook_parameter_would_be_caught() -> None:
    """The check above can fail: pluggy refuses a method whose parameter names are not the spec's."""
    from pyvirt.errors import Error

    class Misspelled:
        def domain_lookup_by_name(self, nmae: str) -> Any:
            raise AssertionError("never called")

    pm = bind_state_driver(types.SimpleNamespace(), "empty")
    with pytest.raises(Error, match="domain_lookup_by_name"):
        _register(pm, marked_copy(Misspelled, {"domain_lookup_by_name"}), "remote")


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def test_pyvirsh_through_pyvirtd_loads_neither_pluggy_nor_inspect(pyvirtd: PrivateDaemon) -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(PYVIRSH), "-c", pyvirtd.uri(), "list", "--all"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert " test " in out.stdout and "running" in out.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "pyvirt.remote.driver" in imported
    assert not {"pluggy", "inspect", "pyvirt.plugin.registry"} & imported


def test_a_read_only_remote_connection_still_refuses_writes_before_the_wire(pyvirtd: PrivateDaemon) -> None:
    """The facade's read-only rule holds on the direct binding too: refused here, no call goes out."""
    import pyvirt
    from pyvirt.errors import ErrorCode, OperationDeniedError

    with pyvirt.open_readonly(pyvirtd.uri()) as conn:
        dom = conn.lookup_domain_by_name("test")
        client = conn.calls._single["connect_close"].__self__.client
        before = client._serial
        with pytest.raises(OperationDeniedError, match="read only access prevents virDomainDestroy") as err:
            dom.destroy()
        assert err.value.code == ErrorCode.OPERATION_DENIED
        assert client._serial == before
        assert dom.info().state  # the connection still answers reads
