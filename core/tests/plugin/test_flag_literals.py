"""Plugin drivers name libvirt's flags with pyvirt.flags, never with bare numbers.

Why a test: a bare ``flags & 4`` says nothing about which enum it means, and
the sweep that replaced them found a driver reading START_BYPASS_CACHE (4) as
FORCE_BOOT. Every plugin's sources (and the example driver) are read as
Python syntax; a flags mask, test or ``check_flags`` mask written as an
integer literal fails here with its place. Zero stays allowed: "no flags".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
SOURCES = sorted([*(REPOSITORY / "plugins").glob("*/src"), *(REPOSITORY / "examples").glob("*/src")], key=str)


def _is_flags(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "flags") or (
        isinstance(node, ast.Attribute) and node.attr == "flags"
    )


def _is_literal(node: ast.expr) -> bool:
    """A non-zero integer written as digits, alone or combined (``4``, ``1 << 12``, ``(4 | 8)``, ``~3``)."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int and node.value != 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.LShift)):
        return all(isinstance(side, ast.Constant) or _is_literal(side) for side in (node.left, node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return _is_literal(node.operand)
    return False


def raw_flag_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, source) of every flags expression that uses an integer literal as a flag."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            sides = (node.left, node.right)
            if any(_is_flags(s) for s in sides) and any(_is_literal(s) for s in sides):
                found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.AugAssign) and _is_flags(node.target) and _is_literal(node.value)) or (
            isinstance(node, ast.Compare) and _is_flags(node.left) and any(map(_is_literal, node.comparators))
        ):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.keyword) and node.arg == "flags" and _is_literal(node.value):
            found.append((node.value.lineno, f"flags={ast.unparse(node.value)}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "check_flags"
            and len(node.args) >= 2
            and _is_literal(node.args[1])
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_each_form_it_refuses() -> None:
    """What the sweep replaced, written the old way, is found; the same code with pyvirt.flags is not."""
    old = """
if flags & 2: pass
run = True if flags & 2 else False if flags & (4 | 8) else None
flags |= 1 << 12
check_flags(flags, 0xF, "libxlDomainGetXMLDesc")
dom.create(flags=1)
ok = self.flags == 4
"""
    assert sorted(line for line, _ in raw_flag_uses(ast.parse(old))) == [2, 3, 3, 4, 5, 6, 7]
    new = """
if flags & DomainXMLFlags.INACTIVE: pass
flags |= DomainMigrateFlags.ABORT_ON_ERROR
check_flags(flags, 0, "libxlDomainDestroyFlags")
dom.create(flags=0)
size = length & 0xFF
"""
    assert raw_flag_uses(ast.parse(new)) == []


@pytest.mark.skipif(not SOURCES, reason="run from one distribution alone (an sdist): no plugins/ beside it")
def test_no_plugin_writes_a_flag_as_a_number() -> None:
    offenders = [
        f"{path.relative_to(REPOSITORY)}:{line}: {text}"
        for src in SOURCES
        for path in sorted(src.rglob("*.py"))
        for line, text in raw_flag_uses(ast.parse(path.read_text(), str(path)))
    ]
    assert not offenders, "write these with pyvirt.flags:\n" + "\n".join(offenders)
