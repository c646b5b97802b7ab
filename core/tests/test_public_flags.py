"""The public API names each ``flags`` argument's libvirt enum (``pyvirt.flags``), as the hook specs do.

For every public method of the connection and object classes whose body
calls a hook, the API table gives the libvirt API and ``API_FLAGS`` its
flag enum; the method's annotation must then be ``Enum | int`` (plain ints
stay accepted, as libvirt-python callers pass them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pyvirt import flags as F  # noqa: N812 - short: used as F.API_FLAGS
from pyvirt.plugin.api import API

SRC = Path(__file__).resolve().parents[1] / "src" / "pyvirt"
MODULES = ["domain.py", "connection.py", "network.py", "storage.py", "secret.py", "nodedev.py", "interface.py"]


def _enum_of(hook: str) -> str | None:
    row = API.get(hook)
    if row is None:
        return None
    for name in (row.api, row.plain_api):
        if name and name in F.API_FLAGS:
            return F.API_FLAGS[name].__name__
    return None


def _methods() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for module in MODULES:
        tree = ast.parse((SRC / module).read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")):
                flag = next((a for a in fn.args.args + fn.args.kwonlyargs if a.arg == "flags"), None)
                if flag is None or flag.annotation is None:
                    continue
                hooks = {
                    n.attr
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Attribute)
                    and ((isinstance(n.value, ast.Attribute) and n.value.attr == "calls")
                         or (isinstance(n.value, ast.Name) and n.value.id == "calls"))
                }  # fmt: skip
                enums = {e for e in map(_enum_of, hooks) if e}
                if len(enums) == 1:
                    out.append((f"{module}:{cls.name}.{fn.name}", ast.unparse(flag.annotation), enums.pop()))
    return out


@pytest.mark.parametrize(("where", "annotation", "enum"), _methods(), ids=str)
def test_flags_are_annotated_with_their_enum(where: str, annotation: str, enum: str) -> None:
    assert annotation in (f"{enum} | int", f"{enum} | int | None"), f"{where}: flags should be '{enum} | int'"


def test_the_walk_finds_the_methods() -> None:
    found = {where for where, _, _ in _methods()}
    assert "domain.py:Domain.undefine" in found and "connection.py:Connection.list_all_domains" in found
    assert len(found) >= 45
