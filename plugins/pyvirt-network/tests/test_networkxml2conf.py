"""libvirt's networkxml2conftest as a report with a floor: the pass count may rise, never fall.

Each case runs as libvirt's test program runs it (see ``conformance_networkxml2conf.py``);
a case that passes is also checked on its own, so the failure names the case.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pyvirt.testing.sources import libvirt_source

# libvirt 9.0.0 has 27 cases; every one matches byte for byte
FLOOR = 27


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "conformance_networkxml2conf", Path(__file__).parent / "conformance_networkxml2conf.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()
SRC = libvirt_source()
pytestmark = pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source could not be fetched")


def test_networkxml2conf_pass_count_holds_its_floor() -> None:
    outcomes = HARNESS.run_all(SRC)
    failed = [f"{o.name}: {o.why}" for o in outcomes if not o.passed]
    passed = len(outcomes) - len(failed)
    print(f"networkxml2conf: {passed}/{len(outcomes)}")
    assert len(outcomes) == 27, "libvirt's test program lists 27 cases"
    assert passed >= FLOOR, f"{passed} < {FLOOR}; failing: {failed}"


def test_a_quoted_network_name_is_escaped_in_the_hosts_file_names_as_libvirt_does() -> None:
    outcome = HARNESS.run_case(SRC, "nat-network-name-with-quotes")
    assert outcome.passed, outcome.why


def test_ipv6_dhcp_hosts_and_lease_times_are_written_as_libvirt_writes_them() -> None:
    for name in ("dhcp6-nat-network", "dhcp6host-routed-network", "leasetime-infinite", "leasetime-hours"):
        outcome = HARNESS.run_case(SRC, name)
        assert outcome.passed, f"{name}: {outcome.why}"
