"""A module bound lazily is imported on its first attribute use, by the import statement's own machinery."""

from __future__ import annotations

import json
import subprocess
import sys


def _probe(code: str) -> object:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)


def test_the_module_loads_on_first_use_and_not_before() -> None:
    out = _probe(
        "import json, sys\n"
        "from pyvirt.util.lazy_import import lazy_module\n"
        "units = lazy_module('pyvirt.conf.units')\n"
        "before = 'pyvirt.conf.units' in sys.modules\n"
        "shown = repr(units)\n"
        "value = units.unit_factor('KiB')\n"
        "print(json.dumps([before, shown, value, 'pyvirt.conf.units' in sys.modules, repr(units)]))\n"
    )
    assert out == [False, "<lazy module 'pyvirt.conf.units' (not loaded yet)>", 1024, True,
                   "<lazy module 'pyvirt.conf.units' (loaded)>"]  # fmt: skip


def test_an_imported_module_is_returned_itself() -> None:
    import pyvirt.errors
    from pyvirt.util.lazy_import import lazy_module

    assert lazy_module("pyvirt.errors") is pyvirt.errors


def test_binding_and_loading_need_neither_importlib_nor_warnings() -> None:
    """importlib.import_module cost every run that used a lazy module the importlib package and warnings
    (1.5 million instructions); ``__import__`` is the import statement's own hook."""
    out = _probe(
        "import json, sys\n"
        "from pyvirt.util.lazy_import import lazy_module\n"
        "lazy_module('pyvirt.domain_state').state_text\n"
        "print(json.dumps(sorted(m for m in ('importlib', 'warnings') if m in sys.modules)))\n"
    )
    assert out == []
