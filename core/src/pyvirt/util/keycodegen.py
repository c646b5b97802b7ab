"""Writes :mod:`pyvirt.util._keycodes` from libvirt 9.0's keymap database (src/keycodemapdb).

libvirt builds its key code tables at compile time by running keycodemapdb's
``keymap-gen`` over ``keymaps.csv`` (src/util/meson.build): one code table per
codeset, one name table for the codesets with names. This runs the same
program with the same arguments (its Python output instead of C) and keeps
the values, so ``pyvirsh send-key`` and the drivers accept exactly the names
and codes virsh and libvirt accept. ``tools/generate-keycodes`` writes the
module; a test checks that it is what this produces.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

__all__ = ["CODE_TABLES", "NAME_TABLES", "generate_keycodes"]

# libvirt's src/util/meson.build keycode_list and keyname_list
CODE_TABLES = ("atset1", "atset2", "atset3", "linux", "osx", "qnum", "usb", "win32", "xtkbd")
NAME_TABLES = ("linux", "osx", "win32")


def _table(libvirt_src: Path, kind: str, name: str) -> list[object]:
    tool = libvirt_src / "src" / "keycodemapdb" / "tools" / "keymap-gen"
    data = libvirt_src / "src" / "keycodemapdb" / "data" / "keymaps.csv"
    out = subprocess.run([sys.executable, str(tool), kind, "--lang=python3", "--varname=table", str(data), name],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    tree = ast.parse(out)
    value = ast.literal_eval(next(n for n in tree.body if isinstance(n, ast.Assign)).value)
    assert isinstance(value, list)
    return value


def generate_keycodes(libvirt_src: Path) -> str:
    """The text of ``_keycodes.py``: every table, row for row in the database's (Linux key) order.

    A code a codeset lacks is 0, as in libvirt's ``unsigned short`` tables; a missing name is None.
    """
    lines = [
        '"""libvirt 9.0\'s key code tables (keycodemapdb\'s keymaps.csv), written by pyvirt.util.keycodegen: do not edit.',
        "",
        "CODES: codeset table -> the code of each key, in the database's row order (0: the codeset lacks it).",
        "NAMES: the same rows' names in the codesets that name keys (None: no name).",
        '"""',
        "",
        "# fmt: off",
        "CODES: dict[str, tuple[int, ...]] = {",
    ]
    for name in CODE_TABLES:
        values = [v if isinstance(v, int) else 0 for v in _table(libvirt_src, "code-table", name)]
        lines.append(f'    "{name}": (')
        for i in range(0, len(values), 16):
            lines.append("        " + " ".join(f"{v}," for v in values[i : i + 16]))
        lines.append("    ),")
    lines += ["}", "", "NAMES: dict[str, tuple[str | None, ...]] = {"]
    for name in NAME_TABLES:
        lines.append(f'    "{name}": (')
        for v in _table(libvirt_src, "name-table", name):
            lines.append(f'        "{v}",' if isinstance(v, str) else "        None,")
        lines.append("    ),")
    lines += ["}", "# fmt: on", ""]
    return "\n".join(lines)
