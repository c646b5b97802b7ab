"""The typed facade mirrors the hook specs exactly (names and parameters)."""

from __future__ import annotations

import inspect

from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.specs import hypervisor, secondary


def test_every_spec_has_a_facade_method_with_the_same_parameters() -> None:
    for module in (hypervisor, secondary):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name == "connect_open":
                continue
            method = getattr(DriverCalls, name, None)
            assert method is not None, f"DriverCalls lacks {name}"
            spec_params = list(inspect.signature(fn).parameters)
            facade_params = list(inspect.signature(method).parameters)[1:]
            assert facade_params == spec_params, name


def test_no_facade_method_without_a_spec() -> None:
    specs = {n for m in (hypervisor, secondary) for n, _ in inspect.getmembers(m, inspect.isfunction)}
    public = {n for n in vars(DriverCalls) if not n.startswith("_") and n not in ("implements", "never_blocks")}
    assert public <= specs, public - specs
