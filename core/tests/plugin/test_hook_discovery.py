"""The plugin manager's fast hook discovery finds exactly what pluggy's own lookup finds."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from pyvirt.drivers.test import driver as test_driver
from pyvirt.errors import Error
from pyvirt.plugin import PROJECT, hookimpl
from pyvirt.plugin.registry import _plugin_manager, _register
from pyvirt.plugin.specs import host, hypervisor, secondary, state


def _reference_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hypervisor)
    pm.add_hookspecs(secondary)
    pm.add_hookspecs(state)
    pm.add_hookspecs(host)
    return pm


def _found(pm: pluggy.PluginManager, plugin: Any) -> dict[str, Any]:
    pm.register(plugin, name="p")
    return {
        name: [(impl.function, impl.plugin) for impl in caller.get_hookimpls()]
        for name, caller in vars(pm.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.get_hookimpls()
    }


def test_same_specs_as_pluggy() -> None:
    ours, ref = _plugin_manager(), _reference_manager()
    assert sorted(vars(ours.hook)) == sorted(vars(ref.hook))
    for name, caller in vars(ref.hook).items():
        assert vars(ours.hook)[name].spec.opts == caller.spec.opts, name


class _Base:
    @hookimpl
    def connect_get_type(self) -> str:
        return "base"

    @hookimpl
    def connect_get_version(self) -> int:
        return 1

    @hookimpl
    def node_get_info(self) -> Any:
        return None


class _Odd(_Base):
    connect_get_version = None  # shadows the base's hook: no hook any more

    @staticmethod
    @hookimpl
    def connect_get_hostname() -> str:
        return "static"

    @property
    def node_get_free_memory(self) -> int:  # a property is never evaluated nor taken as a hook
        raise AssertionError("evaluated")


@pytest.mark.parametrize("make", [test_driver.TestDriver, lambda: object.__new__(test_driver.TestConnection), _Odd])
def test_same_hookimpls_as_pluggy(make: Any) -> None:
    plugin = make()
    if isinstance(plugin, _Odd):
        plugin.node_get_info = lambda: "instance"  # an instance attribute shadows the class's hook
    assert _found(_plugin_manager(), plugin) == _found(_reference_manager(), plugin)


def test_odd_plugin_resolves_as_pluggy_does() -> None:
    plugin = _Odd()
    found = _found(_plugin_manager(), plugin)
    assert "connect_get_version" not in found and "connect_get_type" in found
    assert "connect_get_hostname" in found and "node_get_free_memory" not in found


def test_misspelled_hook_still_refused() -> None:
    class Misspelled:
        @hookimpl
        def connect_get_tpye(self) -> str:
            return "x"

    with pytest.raises(Error, match="connect_get_tpye"):
        _register(_plugin_manager(), Misspelled(), "misspelled")
