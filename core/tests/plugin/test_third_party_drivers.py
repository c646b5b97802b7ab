"""A third party ships a driver: built and installed as its own distribution, found by entry point.

The session fixture builds ``pyvirt-toy`` (four entry points: a working
driver, one that fails to import, one declaring a future contract, one
whose hook does not match its spec) with pip into a private directory, and
every test runs pyvirsh/pyvirt in a subprocess with that directory on the
path, as a user who ``pip install``ed it would.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.plugin import CONTRACT_VERSION

TOY_DRIVER = '''
"""A minimal out-of-tree hypervisor driver: one static domain."""
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.plugin.records import DomainInfo, DomainRef, NodeInfo

DOM = DomainRef("toy1", "00000000-0000-0000-0000-000000000001", 7)


class ToyConnection:
    @hookimpl
    def connect_get_type(self):
        return "TOY"

    @hookimpl
    def domain_list_all(self):
        return [DOM]

    @hookimpl
    def domain_lookup_by_name(self, name):
        return DOM

    @hookimpl
    def domain_get_state(self, dom):
        return (1, 1)

    @hookimpl
    def domain_get_info(self, dom):
        return DomainInfo(1, 1024, 1024, 1, 0)


class ToyDriver:
    pyvirt_contract = "1.0"  # built against an older core: a newer minor must still serve it

    @hookimpl
    def connect_open(self, uri, read_only, events):
        return ToyConnection() if uri.driver == "toy" else None


class FutureDriver:
    pyvirt_contract = "2.0"

    @hookimpl
    def connect_open(self, uri, read_only, events):
        return ToyConnection()


class MisspelledConnection(ToyConnection):
    @hookimpl
    def domain_lookup_by_name(self, nmae):
        return DOM


class MisspelledDriver:
    pyvirt_contract = CONTRACT_VERSION

    @hookimpl
    def connect_open(self, uri, read_only, events):
        return MisspelledConnection()
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pyvirt-toy"
version = "0.3.1"
dependencies = []

[project.entry-points."pyvirt.hypervisor"]
toy = "pyvirt_toy.driver:ToyDriver"
future = "pyvirt_toy.driver:FutureDriver"
misspelled = "pyvirt_toy.driver:MisspelledDriver"
broken = "pyvirt_toy.broken:Driver"

[tool.setuptools]
packages = ["pyvirt_toy"]
"""


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    src = tmp_path_factory.mktemp("pyvirt-toy-src")
    (src / "pyvirt_toy").mkdir()
    (src / "pyvirt_toy" / "__init__.py").write_text("")
    (src / "pyvirt_toy" / "driver.py").write_text(TOY_DRIVER)
    (src / "pyvirt_toy" / "broken.py").write_text("raise ImportError('libtoy.so.1: cannot open shared object file')\n")
    (src / "pyproject.toml").write_text(PYPROJECT)
    site = tmp_path_factory.mktemp("pyvirt-toy-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(src)],
        check=True, timeout=300,
    )  # fmt: skip
    yield site


def run_py(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def pyvirsh(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_py(site, f"import sys; from pyvirt.cli.main import main; sys.exit(main({list(args)!r}))")


def test_installed_driver_is_listed_with_distribution_version_and_contract(toy_site: Path) -> None:
    out = pyvirsh(toy_site, "drivers").stdout
    rows = {line.split()[1]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert rows["toy"][:5] == ["hypervisor", "toy", "pyvirt-toy", "0.3.1", "1.0"] and rows["toy"][5] == "ok"
    assert rows["test"][:5] == ["hypervisor", "test", "pyvirt", importlib.metadata.version("pyvirt"), CONTRACT_VERSION]
    assert rows["future"][4:7] == ["2.0", "refused:", "implements"]
    assert "failed:" in " ".join(rows["broken"]) and "libtoy.so.1" in out


def test_third_party_driver_serves_pyvirsh(toy_site: Path) -> None:
    proc = pyvirsh(toy_site, "-c", "toy:///", "list", "--all")
    assert proc.returncode == 0, proc.stderr
    assert " 7    toy1   running" in proc.stdout


def test_missing_hooks_are_no_support_errors_naming_the_api(toy_site: Path) -> None:
    proc = pyvirsh(toy_site, "-c", "toy:///", "define", "/dev/null")
    assert proc.returncode == 1
    assert "error: this function is not supported by the connection driver: virDomainDefineXML\n" in proc.stderr
    code = """
        import pyvirt
        c = pyvirt.open("toy:///")
        try:
            c.lookup_domain_by_name("toy1").save("/tmp/x")
        except pyvirt.Error as e:
            print(int(e.code), e.message)
    """
    assert run_py(toy_site, code).stdout.strip() == (
        "3 this function is not supported by the connection driver: virDomainSave"
    )


def test_pass_fds_to_a_driver_without_the_with_files_hooks(toy_site: Path, tmp_path: Path) -> None:
    """As libvirt's QEMU driver: the call is refused, named, and nothing starts without the descriptors."""
    (tmp_path / "g.xml").write_text("<domain type='toy'><name>toy2</name></domain>")
    proc = pyvirsh(toy_site, "-c", "toy:///", "create", str(tmp_path / "g.xml"), "--pass-fds", "0")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"error: Failed to create domain from {tmp_path / 'g.xml'}\n"
        "error: this function is not supported by the connection driver: virDomainCreateXMLWithFiles\n"
    )
    code = """
        import pyvirt
        c = pyvirt.open("toy:///")
        try:
            c.lookup_domain_by_name("toy1").create_with_files([0])
        except pyvirt.Error as e:
            print(int(e.code), e.message)
    """
    assert run_py(toy_site, code).stdout.strip() == (
        "3 this function is not supported by the connection driver: virDomainCreateWithFiles"
    )


def test_opening_test_default_imports_no_other_driver(toy_site: Path) -> None:
    code = """
        import json, sys, pyvirt
        with pyvirt.open("test:///default") as c:
            c.lookup_domain_by_name("test").info()
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("pyvirt_"))))
    """
    proc = run_py(toy_site, code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_a_broken_plugin_fails_clearly_and_the_others_keep_working(toy_site: Path) -> None:
    proc = pyvirsh(toy_site, "-c", "broken:///", "list")
    assert proc.returncode == 1
    assert "driver 'broken' from pyvirt-toy 0.3.1 failed to load: ImportError: libtoy.so.1" in proc.stderr
    assert pyvirsh(toy_site, "-c", "toy:///", "list").returncode == 0
    assert pyvirsh(toy_site, "-c", "test:///default", "list").returncode == 0


def test_contract_mismatch_names_both_versions(toy_site: Path) -> None:
    proc = pyvirsh(toy_site, "-c", "future:///", "list")
    assert (
        "driver 'future' from pyvirt-toy 0.3.1 implements pyvirt contract 2.0, "
        f"but this pyvirt provides contract {CONTRACT_VERSION}" in proc.stderr
    )


def test_hook_signature_mismatch_fails_loudly_at_load_time(toy_site: Path) -> None:
    proc = pyvirsh(toy_site, "-c", "misspelled:///", "list")
    assert proc.returncode == 1
    assert f"driver 'misspelled' does not match the pyvirt {CONTRACT_VERSION} hook specs" in proc.stderr
    assert "domain_lookup_by_name" in proc.stderr and "nmae" in proc.stderr
