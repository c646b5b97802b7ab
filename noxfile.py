"""Developer and CI sessions. ``./bootstrap test`` runs lint, typecheck, imports and tests.

Sessions run in the interpreter that runs nox (``--no-venv``, the bootstrap
virtualenv), because the suite needs root, system packages and the editable
installs the bootstrap made; a private nox virtualenv per session would
reinstall everything each time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "imports", "tests", "conformance"]

DISTRIBUTIONS = ["core", *sorted(str(p) for p in Path("plugins").glob("*") if (p / "pyproject.toml").exists())]
SOURCES = [f"{d}/src" for d in DISTRIBUTIONS]
TESTS = [f"{d}/tests" for d in DISTRIBUTIONS]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: style and common bugs."""
    paths = [*SOURCES, *TESTS, "noxfile.py", "demo.py", "bench"]
    session.run(sys.executable, "-m", "ruff", "check", *paths)
    session.run(sys.executable, "-m", "ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every distribution's sources."""
    session.run(sys.executable, "-m", "mypy", "--strict", *SOURCES)


@nox.session
def imports(session: nox.Session) -> None:
    """import-linter: core never imports a plugin; plugins never import each other."""
    session.run(os.path.join(os.path.dirname(sys.executable), "lint-imports"), external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """pytest over every distribution (root needed for the process tests)."""
    session.run(sys.executable, "-m", "pytest", "-q", *TESTS, *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """libvirt 9.0.0's test data: XML round trips through the models, XML -> QEMU argv; pass rates per suite."""
    session.run(sys.executable, "core/tests/conf/conformance.py")
    session.run(sys.executable, "plugins/pyvirt-qemu/tests/conformance_argv.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks beside the reference, with ratios (not timed tests)."""
    session.run(sys.executable, "bench/bench_command.py", *session.posargs)
    session.run(sys.executable, "bench/bench_test_driver.py")
    session.run(sys.executable, "bench/bench_lxc.py")
    session.run(sys.executable, "bench/bench_qemu.py")
