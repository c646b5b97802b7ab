"""Contracts that mean something: what a third party's driver is refused for, and that every path says the same.

The story: a driver author ships ``pyvirt-probe`` with drivers that are
wrong in each way a contract can be wrong (a newer or older contract than
this core's, a float instead of a version string, a required hook missing
or left unmarked, a hook newer than the contract it declares). Each shows
up in ``pyvirsh drivers`` as refused with a reason, and opening it (a
connection for a hypervisor, ``load_driver`` for a security driver or a
storage backend) fails with those same words, naming the versions or the
hook; the good drivers beside them keep working.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import ConnectionError, ErrorCode
from pyvirt.plugin import CONTRACT_VERSION, contract_compatible, hookimpl, parse_contract
from pyvirt.plugin.bases import (
    STORAGE_BACKEND_CONTRACT_VERSION,
    HypervisorDriver,
    SecurityDriver,
    StorageBackend,
    contract_for,
    driver_problem,
)
from pyvirt.plugin.registry import GROUPS, open_with_manager

MAJOR, MINOR = (int(x) for x in CONTRACT_VERSION.split("."))
NEXT_MINOR = f"{MAJOR}.{MINOR + 1}"
OLD_MAJOR = f"{MAJOR - 1}.9"


# ---------------------------------------------------------------- the rule itself, on objects built here


def test_contract_versions_are_major_minor_strings_only() -> None:
    assert parse_contract("1.7") == (1, 7) and parse_contract("12.30") == (12, 30)
    for bad in (1.7, 1, None, "1", "1.7.0", "", "1.x", "v1.7", " 1.7", "1.\u0667"):
        assert parse_contract(bad) is None, bad
        assert not contract_compatible(bad), bad
    assert contract_compatible(CONTRACT_VERSION) and contract_compatible(f"{MAJOR}.0")
    assert not contract_compatible(NEXT_MINOR) and not contract_compatible(OLD_MAJOR)
    assert contract_compatible("1.0", provided="1.0") and not contract_compatible("1.1", provided="1.0")


class _Opens(HypervisorDriver):
    pyvirt_contract = CONTRACT_VERSION

    @hookimpl
    def connect_open(self, uri: Any, read_only: bool, events: Any) -> Any:
        return None


def test_a_driver_of_this_contract_with_its_required_hook_is_served() -> None:
    assert driver_problem("hypervisor", _Opens) is None
    assert driver_problem("hypervisor", _Opens()) is None  # the class or an instance: the same verdict


@pytest.mark.parametrize(
    ("declared", "reason"),
    [
        (NEXT_MINOR, f"implements pyvirt contract {NEXT_MINOR}, but this pyvirt provides contract {CONTRACT_VERSION}"),
        (OLD_MAJOR, f"implements pyvirt contract {OLD_MAJOR}, but this pyvirt provides contract {CONTRACT_VERSION}"),
        (1.5, f"declares pyvirt_contract = 1.5, which is not a 'MAJOR.MINOR' string; this pyvirt provides contract {CONTRACT_VERSION}"),
        (f"{CONTRACT_VERSION}.0", f"declares pyvirt_contract = '{CONTRACT_VERSION}.0', which is not a 'MAJOR.MINOR' string"),
    ],
)  # fmt: skip
def test_a_contract_this_core_cannot_serve_is_refused_naming_both_versions(declared: object, reason: str) -> None:
    driver = type("D", (_Opens,), {"pyvirt_contract": declared})
    problem = driver_problem("hypervisor", driver)
    assert problem is not None and problem.startswith(reason)


def test_a_driver_without_a_declaration_is_refused() -> None:
    class Undeclared:
        @hookimpl
        def connect_open(self, uri: Any, read_only: bool, events: Any) -> Any:
            return None

    assert driver_problem("hypervisor", Undeclared) == (
        "does not declare the pyvirt contract version it implements (pyvirt_contract); "
        f"this pyvirt provides contract {CONTRACT_VERSION}"
    )


def test_a_missing_required_hook_is_named() -> None:
    class NoOpen:
        pyvirt_contract = CONTRACT_VERSION

    assert (
        driver_problem("hypervisor", NoOpen)
        == f"lacks the required hook connect_open of pyvirt contract {CONTRACT_VERSION}"
    )


def test_an_abstract_hook_left_from_the_typed_base_counts_as_missing() -> None:
    class HalfSecurity(SecurityDriver):
        pyvirt_contract = "1.0"

        @hookimpl
        def security_probe(self) -> str:
            return "enabled"

    problem = driver_problem("security", HalfSecurity)
    assert problem is not None and problem.startswith("lacks the required hooks security_get_model, security_get_doi,")
    assert problem.endswith("security_restore_path_label of pyvirt contract 1.0")
    assert "security_probe" not in problem and "security_get_base_label" not in problem  # present / optional


def test_a_required_hook_without_hookimpl_is_named() -> None:
    class Unmarked:
        pyvirt_contract = CONTRACT_VERSION

        def connect_open(self, uri: Any, read_only: bool, events: Any) -> Any:
            return None

    assert driver_problem("hypervisor", Unmarked) == (
        "defines the required hook connect_open without @pyvirt.plugin.hookimpl, so pluggy never calls it"
    )


def test_a_hook_newer_than_the_declared_contract_is_refused() -> None:
    class OldSecurity:
        pyvirt_contract = "1.2"

    for hook in contract_for("security").hooks:
        setattr(OldSecurity, hook.name, hookimpl(lambda self, **kw: None))
    assert driver_problem("security", OldSecurity) == (
        "declares pyvirt contract 1.2 but implements security_process_exec_attr (added in 1.3)"
    )
    OldSecurity.pyvirt_contract = "1.3"
    assert driver_problem("security", OldSecurity) is None


def test_the_storage_backend_contract_has_its_own_version() -> None:
    class Minimal(StorageBackend):
        pyvirt_contract = STORAGE_BACKEND_CONTRACT_VERSION

        def refresh(self, pool: Any) -> None:
            pass

        def volume_names(self, pool: Any) -> list[str]:
            return []

        def volume(self, pool: Any, name: str) -> Any:
            raise AssertionError

    assert driver_problem("storage_backend", Minimal) is None  # the optional methods may be absent
    Minimal.pyvirt_contract = CONTRACT_VERSION  # the hypervisor contract's version means nothing here
    assert driver_problem("storage_backend", Minimal) == (
        f"implements pyvirt storage-backend contract {CONTRACT_VERSION}, "
        f"but this pyvirt provides storage-backend contract {STORAGE_BACKEND_CONTRACT_VERSION}"
    )

    class NoRefresh:
        pyvirt_contract = STORAGE_BACKEND_CONTRACT_VERSION

        def volume_names(self, pool: Any) -> list[str]:
            return []

        def volume(self, pool: Any, name: str) -> Any:
            raise AssertionError

    assert driver_problem("storage_backend", NoRefresh) == (
        f"lacks the required hook refresh of pyvirt storage-backend contract {STORAGE_BACKEND_CONTRACT_VERSION}"
    )


def test_every_kind_the_registry_knows_has_a_contract() -> None:
    for kind in GROUPS:
        assert contract_for(kind).required, kind
    assert set(HypervisorDriver.REQUIRED_HOOKS) == {"connect_open"}
    assert "security_process_exec_attr" in SecurityDriver.OPTIONAL_HOOKS
    assert set(StorageBackend.REQUIRED_HOOKS) == {"refresh", "volume_names", "volume"}


def test_a_connection_with_a_hook_newer_than_its_driver_declares_is_refused_at_open() -> None:
    closed: list[bool] = []

    class StaleConnection:
        @hookimpl
        def domain_get_os_type(self, dom: Any) -> str:  # added in 1.6
            return "hvm"

        @hookimpl
        def connect_close(self) -> None:
            closed.append(True)

    class StaleDriver:
        pyvirt_contract = "1.5"

        @hookimpl
        def connect_open(self, uri: Any, read_only: bool, events: Any) -> Any:
            return StaleConnection()

    with pytest.raises(ConnectionError) as err:
        open_with_manager(StaleDriver(), "stale", uri=None, read_only=False, events=None)
    assert err.value.code == ErrorCode.NO_CONNECT
    assert "declares pyvirt contract 1.5 but its connection implements domain_get_os_type (added in 1.6)" in str(
        err.value
    )
    assert closed == [True]  # what it opened is released
    StaleDriver.pyvirt_contract = "1.6"
    conn, _pm = open_with_manager(StaleDriver(), "stale", uri=None, read_only=False, events=None)
    assert isinstance(conn, StaleConnection)


# ---------------------------------------------------------------- an installed third-party distribution

PROBE = """
from pyvirt.plugin import hookimpl
from pyvirt.plugin.records import DomainRef


class Connection:
    @hookimpl
    def connect_get_type(self):
        return "PROBE"

    @hookimpl
    def domain_list_all(self):
        return []


class Good:
    pyvirt_contract = "1.0"

    @hookimpl
    def connect_open(self, uri, read_only, events):
        return Connection()


class Newer(Good):
    pyvirt_contract = "{newer}"


class Older(Good):
    pyvirt_contract = "{older}"


class Floaty(Good):
    pyvirt_contract = 1.5


class NoOpen:
    pyvirt_contract = "1.0"

    def connect_open(self, uri, read_only, events):  # no @hookimpl: pluggy would never call it
        return Connection()


class Exploding(Good):
    def __init__(self):
        raise RuntimeError("cannot read /etc/probe.conf")


class Declining(Good):
    @hookimpl
    def connect_open(self, uri, read_only, events):
        return None  # not this driver's URI, as libvirt's VIR_DRV_OPEN_DECLINED


class HalfSecurity:
    pyvirt_contract = "1.0"

    @hookimpl
    def security_probe(self):
        return "enabled"

    @hookimpl
    def security_get_model(self):
        return "half"


class NoRefreshBackend:
    pyvirt_contract = "1.0"

    def volume_names(self, pool):
        return []

    def volume(self, pool, name):
        raise KeyError(name)
"""

PROBE_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pyvirt-probe"
version = "0.2.0"
dependencies = []

[project.entry-points."pyvirt.hypervisor"]
probegood = "pyvirt_probe.driver:Good"
probenewer = "pyvirt_probe.driver:Newer"
probeolder = "pyvirt_probe.driver:Older"
probefloaty = "pyvirt_probe.driver:Floaty"
probenoopen = "pyvirt_probe.driver:NoOpen"
probeexploding = "pyvirt_probe.driver:Exploding"
probedeclining = "pyvirt_probe.driver:Declining"
probenoattr = "pyvirt_probe.driver:Nope"

[project.entry-points."pyvirt.security"]
probehalf = "pyvirt_probe.driver:HalfSecurity"

[project.entry-points."pyvirt.storage_backend"]
probenorefresh = "pyvirt_probe.driver:NoRefreshBackend"

[tool.setuptools]
packages = ["pyvirt_probe"]
"""

EXPECTED_REFUSALS = {
    "probenewer": f"implements pyvirt contract {NEXT_MINOR}, but this pyvirt provides contract {CONTRACT_VERSION}",
    "probeolder": f"implements pyvirt contract {OLD_MAJOR}, but this pyvirt provides contract {CONTRACT_VERSION}",
    "probefloaty": "declares pyvirt_contract = 1.5, which is not a 'MAJOR.MINOR' string; "
    f"this pyvirt provides contract {CONTRACT_VERSION}",
    "probenoopen": "defines the required hook connect_open without @pyvirt.plugin.hookimpl, so pluggy never calls it",
    "probehalf": "lacks the required hooks security_get_doi, security_gen_label, security_reserve_label, "
    "security_release_label, security_set_all_label, security_restore_all_label, security_set_process_label, "
    "security_get_process_label, security_set_path_label, security_restore_path_label of pyvirt contract 1.0",
    "probenorefresh": "lacks the required hook refresh of pyvirt storage-backend contract 1.0",
}
KIND = {"probehalf": "security", "probenorefresh": "storage_backend"}


@pytest.fixture(scope="module")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    src = tmp_path_factory.mktemp("pyvirt-probe-src")
    (src / "pyvirt_probe").mkdir()
    (src / "pyvirt_probe" / "__init__.py").write_text("")
    (src / "pyvirt_probe" / "driver.py").write_text(PROBE.replace("{newer}", NEXT_MINOR).replace("{older}", OLD_MAJOR))
    (src / "pyproject.toml").write_text(PROBE_PYPROJECT)
    site = tmp_path_factory.mktemp("pyvirt-probe-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(src)],
        check=True, timeout=300,
    )  # fmt: skip
    yield site


def _run(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def _pyvirsh(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(site, f"import sys; from pyvirt.cli.main import main; sys.exit(main({list(args)!r}))")


@pytest.fixture(scope="module")
def listed(probe_site: Path) -> dict[str, list[str]]:
    """``pyvirsh drivers`` with the probe installed: name -> [kind, name, distribution, version, contract, status]."""
    proc = _pyvirsh(probe_site, "drivers")
    assert proc.returncode == 0, proc.stderr
    return {cells[1]: cells for cells in (ln.split(None, 5) for ln in proc.stdout.splitlines()[2:]) if cells}


def test_pyvirsh_drivers_shows_each_refusal_with_its_reason(listed: dict[str, list[str]]) -> None:
    assert listed["probegood"][2:] == ["pyvirt-probe", "0.2.0", "1.0", "ok"]
    assert listed["probefloaty"][4] == "1.5"
    for name, reason in EXPECTED_REFUSALS.items():
        assert listed[name][5] == f"refused: {reason}", name
    # a constructor that raises is only seen when the driver is opened; the class itself is fine
    assert listed["probeexploding"][5] == "ok"
    # the refused and broken ones never hide the others
    assert listed["test"][5] == "ok" and listed["dac"][5] == "ok"


@pytest.mark.parametrize("name", sorted(EXPECTED_REFUSALS))
def test_opening_a_refused_driver_fails_with_the_words_pyvirsh_drivers_shows(
    probe_site: Path, listed: dict[str, list[str]], name: str
) -> None:
    reason = listed[name][5].removeprefix("refused: ")
    kind = KIND.get(name, "hypervisor")
    if kind == "hypervisor":
        proc = _pyvirsh(probe_site, "-c", f"{name}:///", "list")
        assert proc.returncode == 1
        assert f"driver '{name}' from pyvirt-probe 0.2.0 {reason}\n" in proc.stderr
        return
    code = f"""
        import pyvirt
        from pyvirt.plugin.registry import load_driver
        try:
            load_driver({kind!r}, {name!r})
        except pyvirt.ConnectionError as e:
            print(int(e.code), e.detail)
    """
    assert _run(probe_site, code).stdout == f"5 driver '{name}' from pyvirt-probe 0.2.0 {reason}\n"


def test_an_entry_point_naming_nothing_is_listed_as_failed_and_fails_to_open(
    probe_site: Path, listed: dict[str, list[str]]
) -> None:
    assert listed["probenoattr"][4:] == [
        "?",
        "failed: AttributeError: module 'pyvirt_probe.driver' has no attribute 'Nope'",
    ]
    proc = _pyvirsh(probe_site, "-c", "probenoattr:///", "list")
    assert proc.returncode == 1
    assert (
        "driver 'probenoattr' from pyvirt-probe 0.2.0 failed to load: "
        "AttributeError: module 'pyvirt_probe.driver' has no attribute 'Nope'" in proc.stderr
    )


def test_a_driver_whose_constructor_fails_is_a_load_failure_naming_it(probe_site: Path) -> None:
    proc = _pyvirsh(probe_site, "-c", "probeexploding:///", "list")
    assert proc.returncode == 1
    assert (
        "driver 'probeexploding' from pyvirt-probe 0.2.0 failed to load: RuntimeError: cannot read /etc/probe.conf"
        in proc.stderr
    )


@pytest.mark.parametrize(
    ("uri", "line"),
    [
        ("probenoattr:///", "probenoattr:///: driver 'probenoattr' from pyvirt-probe 0.2.0 failed to load: "
         "AttributeError: module 'pyvirt_probe.driver' has no attribute 'Nope'"),
        ("probenewer:///", f"probenewer:///: driver 'probenewer' from pyvirt-probe 0.2.0 {EXPECTED_REFUSALS['probenewer']}"),
        ("probeexploding:///", "probeexploding:///: driver 'probeexploding' from pyvirt-probe 0.2.0 failed to load: "
         "RuntimeError: cannot read /etc/probe.conf"),
        ("probedeclining:///", "probedeclining:///"),
    ],
)  # fmt: skip
def test_a_refused_open_reads_as_one_sentence_after_libvirts_words(probe_site: Path, uri: str, line: str) -> None:
    """libvirt's "no connection driver available for URI", then why, once: not "available for driver 'x' ...",
    and a driver that declines the URI is libvirt's plain NO_CONNECT, not a traceback."""
    proc = _pyvirsh(probe_site, "-c", uri, "list")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == f"error: no connection driver available for {line}", proc.stderr


def test_the_good_driver_beside_them_serves(probe_site: Path) -> None:
    proc = _pyvirsh(probe_site, "-c", "probegood:///", "list", "--all")
    assert proc.returncode == 0, proc.stderr


def test_in_core_drivers_pass_their_own_check() -> None:
    from pyvirt.drivers.test.driver import TestDriver
    from pyvirt.security.dac import DacDriver
    from pyvirt.security.none import NoneDriver

    assert driver_problem("hypervisor", TestDriver) is None
    assert driver_problem("security", DacDriver) is None
    assert driver_problem("security", NoneDriver) is None
    with pyvirt.open("test:///default") as conn:
        assert conn.get_type() == "TEST"
