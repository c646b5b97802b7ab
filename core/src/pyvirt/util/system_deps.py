"""What each distribution needs from the host, declared as data: programs and the Debian packages shipping them.

Every plugin ships a ``system-deps.toml`` inside its package (so it is in the
wheel and the sdist), listing the programs it runs and packages it needs
without running a program (firmware, policy files)::

    [[program]]
    name = "qemu-img"            # the name it is run by
    package = "qemu-utils"       # the Debian package shipping it
    why = "qcow2 volumes"        # who needs it, for the reader and for host-validate
    required = true              # false: the plugin works without it (a feature is missing)

    [[package]]
    name = "ovmf"
    why = "UEFI firmware for <os firmware='efi'>"
    required = false

    [[program]]
    name = "xl"
    package = "xen-utils-4.17"
    why = "the Xen toolstack"
    install = false              # a run-time need ./bootstrap leaves off the development host
    why_not_installed = "runs in Xen's dom0 only: the tests boot a nested dom0"

One file, three readers: ``./bootstrap`` installs the packages of every
plugin in the checkout; ``pyvirsh host-validate`` checks the programs of every
installed plugin (through its ``host_validate`` hook, with
:func:`check_declared_programs`); a packager turns it into Debian relations with
``python -m pyvirt.util.system_deps depends pyvirt_qemu`` (required → Depends,
the rest → Recommends). :mod:`pyvirt.util.host_programs` adds the programs of
every installed plugin to its table, so a missing one is named with its package.

``install = false`` exists for the Xen driver: its programs only work in a
Xen dom0, and installing Xen's toolstack on the machine that develops and
tests pyvirt would only add daemons and init scripts that cannot run without
the hypervisor (the tests boot a nested dom0 instead), so ``./bootstrap``
skips such entries (the reason is mandatory, for the reader who wonders why a
declared need is not on the host). Every other reader treats them like any
entry: a packager's ``Depends:`` still has them, ``host-validate`` still
checks them, a missing one is still named with its package, and ``list``
prints ``runtime-only`` in its last column.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pyvirt.util.host_validate import CheckResult

__all__ = [
    "FILE_NAME",
    "SystemDep",
    "check_declared_programs",
    "debian_relations",
    "installed_plugin_packages",
    "load_system_deps",
    "parse_system_deps",
]

FILE_NAME = "system-deps.toml"


class SystemDep(NamedTuple):
    """One declared need: a program (``kind == "program"``) or a package needed for its files.

    ``install`` is False for a run-time need ``./bootstrap`` does not put on
    the development host, ``why_not_installed`` saying why.
    """

    kind: str
    name: str
    package: str
    why: str
    required: bool
    install: bool = True
    why_not_installed: str = ""


_KEYS = frozenset({"name", "package", "why", "required", "install", "why_not_installed"})


def parse_system_deps(text: str, source: str) -> list[SystemDep]:
    """The entries of one ``system-deps.toml``; a malformed entry is a ``ValueError`` naming ``source``.

    Unknown keys are refused: a misspelled ``instal = false`` would otherwise
    have bootstrap install what the author meant to leave out.
    """
    doc = tomllib.loads(text)
    out: list[SystemDep] = []
    for kind in ("program", "package"):
        for i, entry in enumerate(doc.get(kind, [])):
            name, why = entry.get("name"), entry.get("why")
            package = entry.get("package", name if kind == "package" else None)
            required = entry.get("required", True)
            install = entry.get("install", True)
            why_not = entry.get("why_not_installed", "")
            if not (isinstance(name, str) and isinstance(package, str) and isinstance(why, str)):
                raise ValueError(f"{source}: [[{kind}]] #{i + 1} needs string 'name', 'why' (and 'package')")
            unknown_keys = set(entry) - _KEYS
            if unknown_keys:
                raise ValueError(f"{source}: [[{kind}]] '{name}': unknown keys {sorted(unknown_keys)}")
            for key, value in (("required", required), ("install", install)):
                if not isinstance(value, bool):
                    raise ValueError(f"{source}: [[{kind}]] '{name}': '{key}' must be true or false")
            if not isinstance(why_not, str) or (install is False) != bool(why_not.strip()):
                raise ValueError(
                    f"{source}: [[{kind}]] '{name}': 'install = false' goes with a 'why_not_installed' string, "
                    "and only with it"
                )
            out.append(SystemDep(kind, name, package, why, required, install, why_not))
    unknown = set(doc) - {"program", "package"}
    if unknown:
        raise ValueError(f"{source}: unknown tables {sorted(unknown)} (only [[program]] and [[package]])")
    return out


def load_system_deps(package: str) -> list[SystemDep]:
    """What an installed distribution's top-level ``package`` declares (empty when it ships no file)."""
    try:
        ref = resources.files(package).joinpath(FILE_NAME)
        text = ref.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return []
    return parse_system_deps(text, f"{package}/{FILE_NAME}")


def installed_plugin_packages() -> list[str]:
    """Top-level packages of the installed distributions behind pyvirt's entry points (core excluded)."""
    from pyvirt.plugin.entry_point_index import _load_index

    packages: set[str] = set()
    for entries in _load_index().values():
        for value in entries.values():
            top = value.partition(":")[0].strip().split(".")[0]
            if top != "pyvirt":
                packages.add(top)
    return sorted(packages)


def debian_relations(package: str) -> tuple[list[str], list[str]]:
    """(Depends, Recommends) of a distribution's declared packages, sorted and without repeats."""
    deps = load_system_deps(package)
    depends = sorted({d.package for d in deps if d.required})
    recommends = sorted({d.package for d in deps if not d.required} - set(depends))
    return depends, recommends


def check_declared_programs(group: str, package: str) -> Iterator[CheckResult]:
    """host-validate results for each program ``package`` declares: found on PATH, or how to install it.

    A required program that is missing fails; an optional one warns (the
    plugin runs, one feature does not).
    """
    from pyvirt.util.host_validate import CheckResult, Status

    for dep in load_system_deps(package):
        if dep.kind != "program":
            continue
        found = shutil.which(dep.name)
        desc = f"for program '{dep.name}' ({dep.why})"
        if found:
            yield CheckResult(group, desc, Status.PASS)
        else:
            status = Status.FAIL if dep.required else Status.WARN
            yield CheckResult(group, desc, status, f"'{dep.name}' is not on PATH", f"apt-get install {dep.package}")


def main(argv: list[str]) -> int:
    """``depends PKG``: Debian relations; ``list [PKG...]``: every declared need, one a line.

    ``list``'s last column says whether ``./bootstrap`` installs the package
    (``bootstrap``) or leaves it to the hosts that run the driver
    (``runtime-only``).
    """
    if len(argv) >= 2 and argv[0] == "depends":
        depends, recommends = debian_relations(argv[1])
        print("Depends: " + ", ".join(depends))
        if recommends:
            print("Recommends: " + ", ".join(recommends))
        return 0
    if argv and argv[0] == "list":
        for package in argv[1:] or installed_plugin_packages():
            for dep in load_system_deps(package):
                need = "required" if dep.required else "optional"
                where = "bootstrap" if dep.install else "runtime-only"
                print(f"{package}\t{dep.kind}\t{dep.name}\t{dep.package}\t{need}\t{where}")
        return 0
    print("usage: python -m pyvirt.util.system_deps depends PACKAGE | list [PACKAGE...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
