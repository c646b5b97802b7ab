"""pyvirt as users install it, for the benchmarks that time whole commands (``--install wheel``).

Why: the development venv holds the checkout as editable installs. Each of
them adds a ``.pth`` path entry (every import then searches ten or more
directories), and setuptools adds ``distutils-precedence.pth``, which imports
``_distutils_hack`` in every process. Measured, ``python -c pass`` costs 41M
instructions there against 27.7M with ``-S``. No user runs pyvirsh like that:
pip, a distro package or pipx install wheels, byte-compiled, one directory on
``sys.path``. Issue 19's figures are for such a "compiled install".

``--install wheel`` (the default) therefore:

1. builds a wheel of the core and of every plugin of the checkout with
   ``pip wheel --no-deps --no-build-isolation`` (the build backend, hatchling,
   comes from the venv running the benchmark, so nothing is downloaded);
2. packs every distribution those wheels depend on (lxml, pluggy, stevedore,
   pydantic, qemu.qmp, pyroute2, ...) back into a wheel from the files the
   running venv has installed, listed by its ``RECORD``: the very versions the
   editable figures ran with, and no index, mirror or ``--find-links``
   directory of the host is consulted (``pip --isolated --no-index``; this
   VM's ``PIP_FIND_LINKS`` names a directory holding a single torch wheel and
   its ``pip.conf`` adds file:// mirrors, and both are left out so that the
   install is the same wherever the benchmark runs);
3. makes a fresh venv with ``--python`` (default: the interpreter running the
   benchmark; Debian's ``/usr/bin/python3.11`` works too, the packed binary
   wheels being cp311) without pip, setuptools or any ``.pth`` file, and
   installs all the wheels into it, non-editable and byte-compiled by pip for
   that interpreter.

Each run makes its own venv under ``~/.cache/pyvirt-bench/<pid>`` (not under
/tmp, where stevedore turns its entry-point cache off; one per run, so that
runs at the same time do not replace each other's) and removes it when it
ends, unless ``--keep-venv`` is given (to profile the install afterwards).
``--install editable`` measures the development venv as it is.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import csv
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLS = ("wheel", "editable")
# set in the environment of a benchmark re-run from inside the wheel venv (bench_daemon.py): the venv's directory
INSIDE = "PYVIRT_BENCH_WHEEL_VENV"
# files of an installed distribution that pip writes at install time and a wheel does not carry
_INSTALL_ONLY = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


@dataclass(frozen=True)
class Install:
    """Which pyvirt a benchmark runs: where its console scripts are and how to say it in the output."""

    kind: str
    bin_dir: Path
    python: Path

    def script(self, name: str) -> str:
        return str(self.bin_dir / name)

    def describe(self) -> str:
        version = subprocess.run(
            [str(self.python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if self.kind == "wheel":
            return f"pyvirt measured: wheel install (non-editable, byte-compiled) in {self.bin_dir.parent}, Python {version}"
        pth = len(list(Path(self.bin_dir.parent).glob("lib/python*/site-packages/*.pth")))
        return (
            f"pyvirt measured: editable install of the checkout in {self.bin_dir.parent} ({pth} .pth files), "
            f"Python {version}; users' installs are measured with --install wheel"
        )


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--install",
        choices=INSTALLS,
        default="wheel",
        help="which pyvirt runs: 'wheel' (default) builds wheels of the checkout and installs them, byte-compiled "
        "and non-editable, into a fresh venv, as users have it; 'editable' runs the development venv as it is",
    )
    parser.add_argument(
        "--keep-venv",
        action="store_true",
        help="leave the wheel install's venv in place at the end (its path is printed)",
    )
    parser.add_argument(
        "--python",
        default=None,
        help="interpreter of the wheel install's venv (default: the one running this), e.g. Debian's own 3.11",
    )


def prepare(args: argparse.Namespace) -> Install:
    """The install to measure, built first when it is the wheel one (about half a minute)."""
    venv_inside = os.environ.get(INSIDE)
    if venv_inside:  # re-run from inside the venv built by the parent run, which left its removal to this one
        venv = Path(venv_inside)
        if not args.keep_venv:
            atexit.register(shutil.rmtree, venv.parent, ignore_errors=True)
        return Install("wheel", venv / "bin", venv / "bin" / "python")
    if args.install == "editable":
        return Install("editable", Path(sys.executable).parent, Path(sys.executable))
    python = Path(args.python or sys.executable)
    work = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pyvirt-bench" / str(os.getpid())
    if not args.keep_venv:
        atexit.register(shutil.rmtree, work, ignore_errors=True)  # not run when the caller execs into the venv
    return build(python, work / "venv", work / "wheels")


def build(python: Path, venv: Path, wheels: Path) -> Install:
    _same_abi(python)
    try:
        import hatchling  # noqa: F401  (the checkout's build backend, used without build isolation)
    except ImportError:
        raise SystemExit(
            f"--install wheel builds the checkout without downloading anything and needs hatchling in "
            f"{sys.prefix}: {sys.executable} -m pip install hatchling (or use --install editable)"
        ) from None
    for path in (venv, wheels):
        shutil.rmtree(path, ignore_errors=True)
    wheels.mkdir(parents=True)
    projects = [ROOT / "core", *sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())]
    pip = [sys.executable, "-m", "pip", "--isolated", "-q"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # pip's byte-compilation is the point of the install
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels),
                    *map(str, projects)], check=True, env=env)  # fmt: skip
    names = [_project_name(p) for p in projects]
    for dist in _dependencies(names):
        pack_installed(dist, wheels)
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-index", "--find-links",
                    str(wheels), "--compile", *names], check=True, env=env)  # fmt: skip
    leftover = sorted(p.name for p in venv.glob("lib/python*/site-packages/*.pth"))
    if leftover:
        raise SystemExit(f"the wheel venv {venv} has .pth files, which it is meant to measure without: {leftover}")
    return Install("wheel", venv / "bin", venv / "bin" / "python")


def _same_abi(python: Path) -> None:
    """Refuse an interpreter of another minor version: the packed binary wheels (lxml, pydantic-core) would not load."""
    theirs = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.split()
    if tuple(map(int, theirs)) != sys.version_info[:2]:
        raise SystemExit(
            f"--python {python} is Python {'.'.join(theirs)}; the dependencies come from this venv's installed "
            f"packages, built for Python {sys.version_info[0]}.{sys.version_info[1]}: run the benchmark with a venv "
            f"of {python} or pass a {sys.version_info[0]}.{sys.version_info[1]} interpreter"
        )


def _project_name(project: Path) -> str:
    text = (project / "pyproject.toml").read_text()
    match = re.search(r'^name\s*=\s*"([^"]+)"', text, re.M)
    if match is None:
        raise SystemExit(f"{project}/pyproject.toml names no project")
    return match.group(1)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dependencies(roots: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``roots`` need, transitively, for this interpreter (extras left out)."""
    from packaging.requirements import Requirement  # hatchling's dependency, there whenever a wheel is built

    own = {_canonical(n) for n in roots}
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            key = _canonical(req.name)
            if key in own or key in seen:
                continue
            try:
                seen[key] = importlib.metadata.distribution(req.name)
            except importlib.metadata.PackageNotFoundError:
                raise SystemExit(f"{dist.metadata['Name']} needs {line}, which {sys.prefix} does not have") from None
            todo.append(req.name)
    return list(seen.values())


def pack_installed(dist: importlib.metadata.Distribution, out: Path) -> Path:
    """A wheel of an installed distribution, from the files its RECORD lists (scripts and data left out).

    pip writes the console scripts anew from ``entry_points.txt``; a file
    outside site-packages (``../../../bin/...``, headers) is not what an
    import reads, so the packed wheel leaves it out.
    """
    wheel_meta = dist.read_text("WHEEL")
    if not wheel_meta or not dist.files:
        raise SystemExit(f"{dist.metadata['Name']} was not installed from a wheel (no WHEEL or RECORD): cannot pack it")
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    target = out / f"{name}-{dist.version}-{tags[0]}.whl"
    record: list[tuple[str, str, str]] = []
    info_dir = None
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:
        for file in dist.files:
            rel = file.as_posix()
            parts = file.parts
            if parts[0] == ".." or "__pycache__" in parts or rel.endswith(".pyc"):
                continue
            if parts[0].endswith(".dist-info"):
                info_dir = parts[0]
                if len(parts) == 2 and parts[1] in _INSTALL_ONLY:
                    continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            whl.writestr(rel, data)
            record.append((rel, f"sha256={digest}", str(len(data))))
        if info_dir is None:
            raise SystemExit(f"{dist.metadata['Name']}: no .dist-info directory among its files")
        record.append((f"{info_dir}/RECORD", "", ""))
        lines = io.StringIO()
        csv.writer(lines, lineterminator="\n").writerows(record)  # a path with a comma is quoted, as pip reads it
        whl.writestr(f"{info_dir}/RECORD", lines.getvalue())
    return target
