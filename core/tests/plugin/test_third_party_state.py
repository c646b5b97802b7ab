"""pyvirtd holds a third party's driver state as it holds pyvirt's own, and a broken one takes nothing down.

The story: a driver author ships state hooks (``state_initialize`` ...
``state_cleanup``, contract 1.6) so that their driver keeps host state once
per daemon, as docs/plugin-authors.md says. Installed beside pyvirt, with two
broken drivers next to it (one whose module does not import, one whose
``state_initialize`` raises), pyvirtd starts, initializes the good driver,
serves it and test:///default, and cleans the good driver's state up when it
stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pyvirtd's test instances run as root here")

DRIVER = """
import os

from pyvirt.plugin import hookimpl


def _mark(what):
    with open(os.environ["PYVIRT_PROBE_MARKS"], "a") as f:
        f.write(what + "\\n")


class Connection:
    @hookimpl
    def connect_get_type(self):
        return "STATEFUL"

    @hookimpl
    def domain_list_all(self):
        return []


class Stateful:
    pyvirt_contract = "1.6"

    @hookimpl
    def connect_open(self, uri, read_only, events):
        return Connection()

    @hookimpl
    def state_initialize(self, privileged, root):
        _mark(f"initialize privileged={privileged} root={root is not None}")
        return True

    @hookimpl
    def state_cleanup(self):
        _mark("cleanup")


class Crashing(Stateful):
    @hookimpl
    def state_initialize(self, privileged, root):
        raise RuntimeError("cannot read /etc/crashing.conf")
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pyvirt-stateful"
version = "0.1.0"
dependencies = []

[project.entry-points."pyvirt.hypervisor"]
stateful = "pyvirt_stateful.driver:Stateful"
crashing = "pyvirt_stateful.driver:Crashing"
unimportable = "pyvirt_stateful.missing:Driver"

[tool.setuptools]
packages = ["pyvirt_stateful"]
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("pyvirt-stateful-src")
    (src / "pyvirt_stateful").mkdir()
    (src / "pyvirt_stateful" / "__init__.py").write_text("")
    (src / "pyvirt_stateful" / "driver.py").write_text(DRIVER)
    (src / "pyproject.toml").write_text(PYPROJECT)
    target = tmp_path_factory.mktemp("pyvirt-stateful-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(src)],
        check=True, timeout=300,
    )  # fmt: skip
    return target


@pytest.fixture
def daemon(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateDaemon]:
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("PYVIRT_PROBE_MARKS", str(tmp_path / "marks"))
    with PrivateDaemon(tmp_path / "pyvirtd") as d:
        yield d


def _pyvirsh(*args: str) -> subprocess.CompletedProcess[str]:
    code = f"import sys; from pyvirt.cli.main import main; sys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_a_third_party_drivers_state_is_held_and_cleaned_up_beside_broken_ones(
    daemon: PrivateDaemon, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    served = _pyvirsh("-c", daemon.uri("stateful:///system"), "list", "--all")  # answered once start-up is over
    assert served.returncode == 0, served.stderr
    assert _pyvirsh("-c", daemon.uri(), "list", "--name").stdout.split() == ["test"]
    assert marks.read_text().splitlines() == ["initialize privileged=True root=True"]
    log = daemon.log()
    assert "crashing driver not available" in log and "cannot read /etc/crashing.conf" in log
    assert "unimportable driver not available: no connection driver available for driver 'unimportable'" in log
    daemon.stop()
    deadline = time.monotonic() + 10
    while "cleanup" not in marks.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marks.read_text().splitlines()[-1] == "cleanup"
