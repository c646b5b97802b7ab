"""System dependencies as data: each plugin's system-deps.toml, read by bootstrap, host-validate and packagers."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.util.host_validate import Status, check_groups
from pyvirt.util.system_deps import (
    check_declared_programs,
    debian_relations,
    installed_plugin_packages,
    load_system_deps,
    parse_system_deps,
)

ROOT = Path(__file__).resolve().parents[3]
DECLARATIONS = sorted(ROOT.glob("plugins/*/src/*/system-deps.toml"))
# the declarations are the plugins': without them beside the core (``tox -e core``, an unpacked sdist) these
# tests have nothing to read
with_plugins = pytest.mark.skipif(
    not DECLARATIONS or any(importlib.util.find_spec(p) is None for p in ("pyvirt_qemu", "pyvirt_lxc",
                                                                         "pyvirt_network", "pyvirt_storage")),
    reason="needs the plugins installed beside the core (tox -e core and a core sdist have the core alone)",
)  # fmt: skip


@with_plugins
def test_every_declaration_parses_and_ships_inside_its_package() -> None:
    assert {p.parent.name for p in DECLARATIONS} >= {"pyvirt_qemu", "pyvirt_lxc", "pyvirt_network", "pyvirt_storage"}
    for path in DECLARATIONS:
        deps = parse_system_deps(path.read_text(), str(path))
        assert deps and load_system_deps(path.parent.name) == deps  # what the installed package reads


def test_bad_declarations_are_refused_naming_the_file() -> None:
    with pytest.raises(ValueError, match=re.escape("x.toml: [[program]] #1 needs")):
        parse_system_deps('[[program]]\nname = "a"\n', "x.toml")
    with pytest.raises(ValueError, match="'required' must be true or false"):
        parse_system_deps('[[package]]\nname = "a"\nwhy = "b"\nrequired = "yes"\n', "x.toml")
    with pytest.raises(ValueError, match="unknown tables"):
        parse_system_deps('[[programs]]\nname = "a"\n', "x.toml")


@with_plugins
def test_bootstrap_installs_every_declared_package() -> None:
    listed = subprocess.run([str(ROOT / "bootstrap"), "packages"], capture_output=True, text=True, check=True)
    packages = set(listed.stdout.split())
    declared = {d.package for p in DECLARATIONS for d in parse_system_deps(p.read_text(), str(p))}
    assert declared <= packages, f"./bootstrap does not install {sorted(declared - packages)}"


@with_plugins
def test_packagers_get_debian_relations() -> None:
    depends, recommends = debian_relations("pyvirt_qemu")
    assert "qemu-system-x86" in depends and "qemu-utils" in depends
    assert "ovmf" in recommends and "swtpm" in recommends and not set(depends) & set(recommends)
    out = subprocess.run([sys.executable, "-m", "pyvirt.util.system_deps", "depends", "pyvirt_network"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout == "Depends: dnsmasq-base, nftables\n"


@with_plugins
def test_a_missing_program_fails_with_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    results = list(check_declared_programs("STORAGE", "pyvirt_storage"))
    assert [(r.status, r.fix) for r in results] == [
        (Status.FAIL, "apt-get install qemu-utils"),
        (Status.WARN, "apt-get install scrub"),  # optional: only vol-wipe's non-zero patterns need it
    ]
    qemu = {r.description.split("'")[1]: r for r in check_declared_programs("QEMU", "pyvirt_qemu")}
    assert qemu["swtpm"].status is Status.WARN  # optional: a feature is missing, guests still run


@with_plugins
def test_groups_come_from_the_installed_plugins() -> None:
    groups = check_groups()
    assert groups[-2:] == ["security", "audit"]  # core's own, after one group per installed plugin
    assert {"qemu", "lxc", "network", "storage", "selinux", "apparmor"} <= set(groups)
    assert len(groups) == len(set(groups)) and set(installed_plugin_packages()) >= {"pyvirt_qemu", "pyvirt_lxc"}


def test_core_checks_import_no_plugin() -> None:
    """``host-validate security`` on a host with every plugin installed still loads none of them."""
    code = (
        "import sys; from pyvirt.util.host_validate import run_checks; list(run_checks(['security', 'audit'])); "
        "print(sorted(m for m in sys.modules if m.startswith('pyvirt_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
