"""What a distribution packager gets: licence, release notes, metadata and a contract range in every distribution.

The story: a packager builds the wheel and the sdist of each distribution
(core and every ``plugins/*``) with its own build backend, as ``pip wheel``
or ``python -m build`` would, and finds in each the licence text with
``License-File`` metadata, the release notes, classifiers, and, for a
plugin, a dependency on the core whose range is the contract the plugin's
entry points declare as literals (``pyvirt>=M.N,<M+1``). Run from an
unpacked sdist of one distribution, only that distribution is checked.
"""

from __future__ import annotations

import ast
import base64
import email.parser
import hashlib
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.plugin import CONTRACT_VERSION, parse_contract
from pyvirt.plugin.bases import STORAGE_BACKEND_CONTRACT_VERSION

CORE = Path(__file__).resolve().parents[2]
REPOSITORY = CORE.parent
DISTRIBUTIONS = [CORE, *sorted(p for p in (REPOSITORY / "plugins").glob("*") if (p / "pyproject.toml").exists())]
PLUGINS = DISTRIBUTIONS[1:]
no_plugins = pytest.mark.skipif(not PLUGINS, reason="run from core alone (an sdist): no plugins/ beside it")
# package indexes and their file hosts: metadata and docs name none of them, so nothing points users at a name
# that somebody else could register there
REGISTRY_HOSTS = re.compile(r"pypi\.org|pythonhosted\.org|pypi\.python\.org", re.IGNORECASE)


def _project(dist: Path) -> dict[str, Any]:
    with (dist / "pyproject.toml").open("rb") as f:
        doc: dict[str, Any] = tomllib.load(f)
    return doc


def _ids(dists: list[Path]) -> list[str]:
    return [d.name for d in dists]


def test_the_core_version_carries_the_contract_it_provides() -> None:
    """pyvirt M.N.P provides plugin contract M.N: that is what lets a plugin's range name the contract."""
    assert ".".join(pyvirt.__version__.split(".")[:2]) == CONTRACT_VERSION
    project = _project(CORE)
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/pyvirt/__init__.py"


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=_ids(DISTRIBUTIONS))
def test_every_distribution_has_its_licence_notes_and_metadata(dist: Path) -> None:
    copying = (dist / "COPYING").read_text()
    assert copying.lstrip().startswith("GNU LESSER GENERAL PUBLIC LICENSE")
    assert "Version 2.1, February 1999" in copying
    assert copying == (CORE / "COPYING").read_text()  # one text, the one the metadata's expression names
    project = _project(dist)["project"]
    assert project["license"] == "LGPL-2.1-or-later"
    assert project["license-files"] == ["COPYING"]
    classifiers = project["classifiers"]
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX expression says it (PEP 639)
    assert project["urls"]
    version = pyvirt.__version__ if dist == CORE else project["version"]
    news = (dist / "NEWS").read_text()
    assert re.search(rf"^{re.escape(version)} \(", news, re.MULTILINE), f"{dist.name}/NEWS has no entry for {version}"
    for name in ("pyproject.toml", "README.md", "NEWS"):
        assert not REGISTRY_HOSTS.search((dist / name).read_text()), f"{dist.name}/{name} names a package index"


def _declared_contracts(dist: Path) -> dict[tuple[str, str], str]:
    """(group, name) -> the ``pyvirt_contract`` literal of the class each entry point names, read from source."""
    out: dict[tuple[str, str], str] = {}
    for group, entries in _project(dist)["project"].get("entry-points", {}).items():
        for name, value in entries.items():
            module, _, attr = value.partition(":")
            source = dist / "src" / (module.replace(".", "/") + ".py")
            tree = ast.parse(source.read_text())
            cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == attr)
            assigned = [
                s.value for s in cls.body
                if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pyvirt_contract" for t in s.targets)
            ]  # fmt: skip
            assert len(assigned) == 1, f"{value} declares pyvirt_contract {len(assigned)} times"
            literal = assigned[0]
            # a literal: an expression such as CONTRACT_VERSION would echo whatever core is installed
            assert isinstance(literal, ast.Constant) and isinstance(literal.value, str), (
                f"{value}: pyvirt_contract must be a string literal, not {ast.unparse(literal)}"
            )
            out[(group, name)] = literal.value
    return out


@no_plugins
@pytest.mark.parametrize("dist", PLUGINS, ids=_ids(PLUGINS))
def test_a_plugin_depends_on_the_core_range_of_the_contract_it_declares(dist: Path) -> None:
    declared = _declared_contracts(dist)
    assert declared, f"{dist.name} has no pyvirt entry point"
    core_requirements = [r for r in _project(dist)["project"]["dependencies"] if re.match(r"pyvirt\b(?!-)", r)]
    assert len(core_requirements) == 1
    match = re.fullmatch(r"pyvirt>=(\d+)\.(\d+),<(\d+)", core_requirements[0].replace(" ", ""))
    assert match, f"{dist.name}: {core_requirements[0]!r} is not 'pyvirt>=M.N,<M+1'"
    low, upper = (int(match[1]), int(match[2])), int(match[3])
    hook_contracts = {v for (group, _n), v in declared.items() if group != "pyvirt.storage_backend"}
    for version in hook_contracts:
        parsed = parse_contract(version)
        assert parsed is not None
        # the lowest core that provides it, and below the next major that may break it
        assert low == parsed and upper == parsed[0] + 1, f"{dist.name} declares {version} but requires {match[0]}"
        core = parse_contract(CONTRACT_VERSION)
        assert core is not None and parsed[0] == core[0] and parsed[1] <= core[1]
    for (group, name), version in declared.items():
        if group == "pyvirt.storage_backend":
            assert version == STORAGE_BACKEND_CONTRACT_VERSION, f"{name}: storage-backend contract {version}"


def _hook_since() -> dict[str, str]:
    """Every hook name any kind of driver implements -> the contract version that added it."""
    from pyvirt.plugin.api import API
    from pyvirt.plugin.bases import contract_for

    since = {row.hook: row.since for row in API.values()}
    for kind in ("hypervisor", "security"):
        since.update((h.name, h.since) for h in contract_for(kind).hooks)
    return since


def _marked_hooks(dist: Path) -> set[str]:
    """Names of the functions in the distribution's sources decorated with ``hookimpl`` (however spelled)."""
    found: set[str] = set()
    for source in (dist / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    if (isinstance(target, ast.Name) and target.id == "hookimpl") or (
                        isinstance(target, ast.Attribute) and target.attr == "hookimpl"
                    ):
                        found.add(node.name)
    return found


@no_plugins
@pytest.mark.parametrize("dist", PLUGINS, ids=_ids(PLUGINS))
def test_a_plugin_implements_no_hook_newer_than_the_contract_it_declares(dist: Path) -> None:
    """Opening the driver would be refused otherwise (``connection_problem``); this says so without opening it."""
    declared = [v for (group, _n), v in _declared_contracts(dist).items() if group != "pyvirt.storage_backend"]
    if not declared:
        pytest.skip(f"{dist.name} has only storage backends")
    lowest = min(parse_contract(v) or (0, 0) for v in declared)
    since = _hook_since()
    newer = sorted(f"{h} (added in {since[h]})" for h in _marked_hooks(dist) if h in since
                   and (parse_contract(since[h]) or (0, 0)) > lowest)  # fmt: skip
    assert not newer, f"{dist.name} declares contract {'.'.join(map(str, lowest))} but implements {newer}"


# ---------------------------------------------------------------- built artifacts


@pytest.fixture(scope="module")
def hatchling_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build backend the pyproject files name, installed apart (as pip's build isolation would)."""
    requires = _project(CORE)["build-system"]["requires"]
    target = tmp_path_factory.mktemp("build-backend")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), *requires], check=True,
                   timeout=300, capture_output=True)  # fmt: skip
    return target


def _build(dist: Path, backend: Path, out: Path) -> tuple[Path, Path]:
    code = (
        "import sys, os; sys.path.insert(0, sys.argv[1]); from hatchling.build import build_sdist, build_wheel; "
        "print(build_wheel(sys.argv[2])); print(build_sdist(sys.argv[2]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(backend), str(out)], cwd=dist, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wheel, sdist = proc.stdout.split()
    return out / wheel, out / sdist


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=_ids(DISTRIBUTIONS))
def test_wheel_and_sdist_carry_the_licence_and_the_notes(dist: Path, hatchling_path: Path, tmp_path: Path) -> None:
    wheel, sdist = _build(dist, hatchling_path, tmp_path)
    copying = (dist / "COPYING").read_bytes()
    with zipfile.ZipFile(wheel) as whl:
        info = next(n.split("/")[0] for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(whl.read(f"{info}/METADATA").decode())
        assert metadata.get_all("License-File") == ["COPYING"]
        assert metadata["License-Expression"] == "LGPL-2.1-or-later"
        assert whl.read(f"{info}/licenses/COPYING") == copying
        record = whl.read(f"{info}/RECORD").decode()
        assert f"{info}/licenses/COPYING,{_record_hash(copying)},{len(copying)}" in record.splitlines()
        assert not REGISTRY_HOSTS.search(whl.read(f"{info}/METADATA").decode())
        if dist == CORE:  # the kit driver authors test with ships with the core
            assert {"pyvirt/testing/hypervisor.py", "pyvirt/testing/security.py"} <= set(whl.namelist())
            assert "test" in (metadata.get_all("Provides-Extra") or [])
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        names = set(tar.getnames())
        for member in ("COPYING", "NEWS", "README.md", "pyproject.toml", "PKG-INFO"):
            assert f"{root}/{member}" in names, member
        pkg_info = tar.extractfile(f"{root}/PKG-INFO")
        assert pkg_info is not None
        assert email.parser.Parser().parsestr(pkg_info.read().decode()).get_all("License-File") == ["COPYING"]
        shipped = tar.extractfile(f"{root}/COPYING")
        assert shipped is not None and shipped.read() == copying


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=_ids(DISTRIBUTIONS))
def test_tests_that_build_a_probe_distribution_declare_its_build_tools(dist: Path) -> None:
    """``pip install DIST[test]`` in a plain virtualenv, then its tests from the unpacked sdist: a test that
    builds a probe plugin with ``pip --no-build-isolation`` needs setuptools and wheel there, so the test
    extra names them (a plain venv has no wheel, and setuptools before 70.1 cannot build a wheel without it)."""
    builds = [p.name for p in sorted((dist / "tests").rglob("*.py")) if "--no-build-isolation" in p.read_text()]
    if not builds:
        return
    test_extra = _project(dist)["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in test_extra}
    assert {"setuptools", "wheel"} <= names, f"{dist.name}: {builds} build with setuptools; test extra {test_extra}"


@no_plugins
def test_tox_has_an_environment_per_distribution_and_gates_over_every_source() -> None:
    """``tox -e <distribution>`` installs that distribution and the core only (qemu also takes storage,
    network and nwfilter, whose URIs its guests reach), and tox's lint/typecheck/imports cover every distribution's
    sources, as nox's sessions do: a distribution added without them would go unchecked by tox."""
    import configparser

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPOSITORY / "tox.ini")
    envlist = {e.strip() for e in tox["tox"]["envlist"].split(",")}
    gates = tox["gates"]
    for dist in DISTRIBUTIONS:
        env = dist.name.removeprefix("pyvirt-") if dist != CORE else "core"
        assert env in envlist and f"testenv:{env}" in tox, f"tox.ini has no environment for {dist.name}"
        deps = {line.strip() for line in tox[f"testenv:{env}"]["deps"].split("\n") if line.strip()}
        installed = {re.sub(r"^-e\s+|\[.*$", "", d) for d in deps}
        own = "core" if dist == CORE else f"plugins/{dist.name}"
        qemu_hosts = {"plugins/pyvirt-storage", "plugins/pyvirt-network", "plugins/pyvirt-nwfilter"}
        allowed = {"core", own} | (qemu_hosts if env == "qemu" else set())
        assert own in installed and installed <= allowed, f"testenv:{env} installs {sorted(installed)}"
        rel = str(dist.relative_to(REPOSITORY))
        assert f"{rel}/src" in gates["sources"].split() and f"{rel}/tests" in gates["tests"].split(), rel
        assert f"-e {rel}" in gates["distributions"] or f"-e {rel}[dev]" in gates["distributions"], rel


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=_ids(DISTRIBUTIONS))
def test_every_third_party_module_a_distribution_imports_is_a_declared_dependency(dist: Path) -> None:
    """Installed alone, a distribution must bring what its code imports: a module that only arrives because
    another distribution (the core, say) happens to depend on it breaks when that one drops it."""
    import importlib.metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    project = _project(dist)["project"]
    declared = {norm(Requirement(r).name) for r in project.get("dependencies", [])}
    declared |= {
        norm(Requirement(r).name) for extra in project.get("optional-dependencies", {}).values() for r in extra
    }
    own = {p.name for p in (dist / "src").iterdir() if p.is_dir()}
    imported: dict[str, str] = {}
    for path in sorted((dist / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                imported.setdefault(name.split(".")[0], str(path.relative_to(dist)))
    try:
        importlib.metadata.distribution(project["name"])
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{project['name']} is not installed here: which distribution provides a module is unknown")
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: where
        for module, where in imported.items()
        if module not in sys.stdlib_module_names and module not in own and module != "__future__"
        and not {norm(d) for d in providers.get(module, [module])} & (declared | {"pyvirt"})
    }  # fmt: skip
    assert not undeclared, f"{dist.name} imports {undeclared} without declaring the distributions that provide them"


@no_plugins
def test_a_missing_scheme_names_the_distribution_that_serves_it_and_only_ours() -> None:
    """``qemu:///system`` without pyvirt-qemu says "(install pyvirt-qemu)": every hypervisor entry point of a
    distribution in this repository is suggested with that distribution, and nothing else is ever suggested
    (a guessed name is one somebody else can register)."""
    from pyvirt.plugin.registry import _SUGGEST, install_hint

    served = {}
    for dist in DISTRIBUTIONS:
        project = _project(dist)["project"]
        for scheme in project.get("entry-points", {}).get("pyvirt.hypervisor", {}):
            served[scheme] = project["name"]
    for scheme, name in served.items():
        assert install_hint(scheme) == f" (install {name})", scheme
    assert set(_SUGGEST.values()) <= set(served.values())
