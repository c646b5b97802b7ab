"""pyvirsh's own finder for pyvirt's byte-compiled modules: the standard import path's answer, for less.

A remote ``destroy`` imports about thirty pyvirt modules, and the standard
path finder and loader cost each about 240,000 instructions before its code
runs. ``pyvirt.cli.console`` puts a finder first that opens the module's
bytecode directly and checks it as the standard loader does; these stories
pin that it loads exactly what the standard path would, and declines
whatever it cannot vouch for.
"""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec
from pathlib import Path

from pyvirt.cli.console import _InstalledBytecode

SOURCE = Path(__file__).resolve().parents[2] / "src" / "pyvirt"


def _probe_module(
    directory: Path,
    body: str = "VALUE = 41 + 1\n",
    mode: py_compile.PycInvalidationMode = py_compile.PycInvalidationMode.TIMESTAMP,
) -> Path:
    source = directory / "probe.py"
    source.write_text(body)
    py_compile.compile(str(source), doraise=True, invalidation_mode=mode)
    return source


def test_an_up_to_date_module_loads_as_the_standard_loader_would_load_it(tmp_path: Path) -> None:
    source = _probe_module(tmp_path, "VALUE = 41 + 1\ndef where():\n    return where.__code__.co_filename\n")
    spec = _InstalledBytecode().find_spec("pyvirt.probe", [str(tmp_path)])
    assert spec is not None
    module = module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    assert module.VALUE == 42
    assert module.__file__ == str(source) and module.__cached__.endswith(f"probe.{sys.implementation.cache_tag}.pyc")
    assert module.where() == str(source)  # tracebacks and coverage name the source, as always
    assert isinstance(spec.loader, SourceFileLoader)  # get_source, get_data and resources work as always
    assert spec.loader.get_source("pyvirt.probe") == source.read_text()


def test_it_declines_what_it_cannot_vouch_for(tmp_path: Path) -> None:
    finder = _InstalledBytecode()
    source = _probe_module(tmp_path)
    assert finder.find_spec("lxml.probe", [str(tmp_path)]) is None  # not pyvirt's
    assert finder.find_spec("pyvirt_qemu.probe", [str(tmp_path)]) is not None  # a plugin's is
    assert finder.find_spec("pyvirt.probe", None) is None  # a top-level name
    assert finder.find_spec("pyvirt.nosuch", [str(tmp_path)]) is None  # no bytecode: the standard path writes it
    # edited since it was compiled: a new size (and mtime), the bytecode is stale
    source.write_text("VALUE = 0  # edited\n")
    assert finder.find_spec("pyvirt.probe", [str(tmp_path)]) is None
    # the same size and an mtime the pyc does not record
    _probe_module(tmp_path, "VALUE = 1\n")
    source.write_text("VALUE = 2\n")
    os.utime(source, (source.stat().st_atime, source.stat().st_mtime + 5))
    assert finder.find_spec("pyvirt.probe", [str(tmp_path)]) is None
    # hash-based bytecode is the standard loader's to check
    _probe_module(tmp_path, mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert finder.find_spec("pyvirt.probe", [str(tmp_path)]) is None
    _probe_module(tmp_path)
    assert finder.find_spec("pyvirt.probe", [str(tmp_path)]) is not None


def test_a_package_is_found_first_as_the_standard_finder_finds_it(tmp_path: Path) -> None:
    """A package and a module of the same name: the standard finder takes the package, and so does this one."""
    _probe_module(tmp_path, "VALUE = 'module'\n")
    (tmp_path / "probe").mkdir()
    _probe_module(tmp_path / "probe", "VALUE = 'inner'\n")
    init = tmp_path / "probe" / "__init__.py"
    init.write_text("VALUE = 'package'\n")
    py_compile.compile(str(init), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    spec = _InstalledBytecode().find_spec("pyvirt.probe", [str(tmp_path)])
    assert spec is not None and spec.loader is not None
    assert spec.submodule_search_locations == [str(tmp_path / "probe")] and spec.origin == str(init)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.VALUE, module.__path__, module.__package__) == ("package", [str(tmp_path / "probe")], "pyvirt.probe")
    assert _InstalledBytecode().find_spec("pyvirt.probe.probe", module.__path__) is not None


_RUN = """
import atexit, sys
sys.path.insert(0, sys.argv.pop(1))
def report():
    loaders = {n: type(m.__spec__.loader).__name__ for n, m in list(sys.modules.items())
               if n.startswith("pyvirt.") and m.__spec__ is not None}
    print("FILES", all(m.__file__.startswith(sys.path[0]) for n, m in sys.modules.items() if n.startswith("pyvirt.")
                       and getattr(m, "__file__", None)), file=sys.stderr)
    print("LOADERS", *sorted(f"{n}={l}" for n, l in loaders.items()), file=sys.stderr)
atexit.register(report)
sys.argv = ["pyvirsh", "-c", "test:///default", "domstate", "test"]
from pyvirt.cli.console import console_main
console_main()
"""


def test_pyvirsh_loads_the_modules_of_a_byte_compiled_install_through_it(tmp_path: Path) -> None:
    """The first run writes the bytecode (the standard path), the second reads it through the finder: the same
    answer, and every pyvirt module imported after the console module came from it."""
    shutil.copytree(SOURCE, tmp_path / "pyvirt", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [sys.executable, "-c", _RUN, str(tmp_path)]
    runs = [subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False) for _ in range(2)]
    assert [(r.returncode, r.stdout) for r in runs] == [(0, "running\n\n")] * 2, runs[-1].stderr[-2000:]
    lines = {key: rest for key, _, rest in (line.partition(" ") for line in runs[1].stderr.splitlines())}
    assert lines["FILES"] == "True"  # the copy was imported, not the checkout
    loaders = dict(item.split("=") for item in lines["LOADERS"].split())
    before = {"pyvirt.cli", "pyvirt.cli.console"}  # imported by the standard path, before the finder is in place
    assert len(loaders) > 15
    assert {n: kind for n, kind in loaders.items() if n not in before and kind != "_BytecodeLoader"} == {}
    assert {"pyvirt.plugin", "pyvirt.util"} <= set(loaders)  # packages too
