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
                                                                         "pyvirt_network", "pyvirt_storage",
                                                                         "pyvirt_xen")),
    reason="needs the plugins installed beside the core (tox -e core and a core sdist have the core alone)",
)  # fmt: skip


@with_plugins
def test_every_declaration_parses_and_ships_inside_its_package() -> None:
    assert {p.parent.name for p in DECLARATIONS} >= {"pyvirt_qemu", "pyvirt_lxc", "pyvirt_network", "pyvirt_storage",
                                                     "pyvirt_xen"}  # fmt: skip
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
    entry = '[[program]]\nname = "a"\npackage = "p"\nwhy = "b"\n'
    with pytest.raises(ValueError, match=re.escape("x.toml: [[program]] 'a': unknown keys ['instal']")):
        parse_system_deps(entry + "instal = false\n", "x.toml")  # else bootstrap would install it after all
    with pytest.raises(ValueError, match="'install = false' goes with a 'why_not_installed' string"):
        parse_system_deps(entry + "install = false\n", "x.toml")
    with pytest.raises(ValueError, match="'install = false' goes with a 'why_not_installed' string"):
        parse_system_deps(entry + 'why_not_installed = "c"\n', "x.toml")
    with pytest.raises(ValueError, match="'install' must be true or false"):
        parse_system_deps(entry + 'install = "no"\nwhy_not_installed = "c"\n', "x.toml")


def test_a_runtime_only_need_keeps_its_reason() -> None:
    text = '[[program]]\nname = "a"\npackage = "p"\nwhy = "b"\ninstall = false\nwhy_not_installed = "dom0 only"\n'
    (dep,) = parse_system_deps(text, "x.toml")
    assert (dep.install, dep.why_not_installed, dep.required) == (False, "dom0 only", True)


@with_plugins
def test_bootstrap_installs_every_declared_package_but_the_runtime_only_ones() -> None:
    listed = subprocess.run([str(ROOT / "bootstrap"), "packages"], capture_output=True, text=True, check=True)
    packages = set(listed.stdout.split())
    deps = [d for p in DECLARATIONS for d in parse_system_deps(p.read_text(), str(p))]
    declared = {d.package for d in deps if d.install}
    assert declared <= packages, f"./bootstrap does not install {sorted(declared - packages)}"
    runtime_only = {d.package for d in deps if not d.install} - declared
    assert runtime_only >= {"xen-utils-4.17", "xenstore-utils"}  # pyvirt-xen's: they work only in a Xen dom0
    assert not runtime_only & packages, f"./bootstrap installs runtime-only {sorted(runtime_only & packages)}"


@with_plugins
def test_packagers_get_debian_relations() -> None:
    depends, recommends = debian_relations("pyvirt_qemu")
    assert "qemu-system-x86" in depends and "qemu-utils" in depends
    assert "ovmf" in recommends and "swtpm" in recommends and not set(depends) & set(recommends)
    out = subprocess.run([sys.executable, "-m", "pyvirt.util.system_deps", "depends", "pyvirt_network"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout == "Depends: dnsmasq-base, nftables\n"
    # runtime-only needs are a packager's all the same: the Xen driver's toolstack is its one Depends
    assert debian_relations("pyvirt_xen") == (["xen-utils-4.17"], ["qemu-system-xen", "xenstore-utils"])
    out = subprocess.run([sys.executable, "-m", "pyvirt.util.system_deps", "list", "pyvirt_xen", "pyvirt_network"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert ["pyvirt_xen", "program", "xl", "xen-utils-4.17", "required", "runtime-only"] in rows
    assert ["pyvirt_network", "program", "dnsmasq", "dnsmasq-base", "required", "bootstrap"] in rows


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
