"""Core and plugin drivers name libvirt's flags, never write them as bare numbers.

Why a test: a bare ``flags & 4`` says nothing about which enum it means, and
the sweep that replaced them found a driver reading START_BYPASS_CACHE (4) as
FORCE_BOOT. Every source file of core, the plugins and the example driver is
read as Python syntax, and an integer literal in a flag position fails here
with its place. Flag positions are the other side of ``flags & x``,
``flags | x``, ``flags == x``, ``flags |= x`` and ``flags = x`` (also for
``*_flags`` names), a ``flags=x`` keyword, the ``flags`` argument of a public
API method or of the module's own function given by position
(``dom.xml_desc(2)``), the mask of ``check_flags`` and the group table of
``matches_flag_groups``. Zero stays allowed: "no flags". Tables that map
option names to bits are not followed: the named constants below keep them
honest.

Where a module cannot afford importing :mod:`pyvirt.flags` (the thin client's
path, every short ``pyvirsh`` run), it names the bit with a module-level
constant whose comment names libvirt's constant (``_SECURE = 1  #
VIR_DOMAIN_XML_SECURE``; ``VIR_A | VIR_B`` for a combination, ``VIR_A, VIR_B``
for one bit with two names, ``VIR_PREFIX_*`` for the member named like the
constant), or whose own name is libvirt's (``_VIR_CONNECT_RO``). A constant
used in a flag position must carry such a name (the short ``NOT_LIBVIRT`` list
holds the kernel's bits), and every such constant's value is compared here
with :mod:`pyvirt.flags`, or, for names outside it (``VIR_DOMAIN_STATS_*``,
libvirt's internal ``VIR_VOL_XML_PARSE_*``, macros such as
``VIR_DOMAIN_CPUMASK_LEN``), with libvirt 9.0's own source. The check found
two wrong values this way: pyvirtd's last domain event id and the ESX
driver's CPU mask length.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pyvirt
from pyvirt.flags import BY_LIBVIRT_NAME

REPOSITORY = Path(__file__).resolve().parents[3]
CORE = Path(pyvirt.__file__).resolve().parent  # the checkout's core/src/pyvirt, or the installed one (an sdist's tests)
SOURCES = sorted([*(REPOSITORY / "plugins").glob("*/src"), *(REPOSITORY / "examples").glob("*/src")], key=str)
# The public classes whose methods take ``flags``: a literal given there by position is a raw flag too.
PUBLIC_MODULES = ("domain", "connection", "network", "storage", "secret", "nodedev", "interface")
# Generated from libvirt's headers and .x files: the numbers there are the definitions, not uses.
GENERATED = {CORE / "flags.py", CORE / "remote" / "_remote.py"}

# Bits in flag positions that are not libvirt's: the kernel's, for an ioctl and netlink messages.
NOT_LIBVIRT = {
    "core/src/pyvirt/util/audit.py": {"_NLM_F_REQUEST", "_NLM_F_ACK"},
    "plugins/pyvirt-qemu/src/pyvirt_qemu/tap.py": {"_IFF_TAP", "_IFF_NO_PI", "_IFF_VNET_HDR"},
}

_FLAGS_NAME = re.compile(r"(^|_)flags$")
_LIBVIRT_NAME = re.compile(r"(?<![A-Za-z0-9])VIR_[A-Z0-9_]+")


def _is_flags(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and bool(_FLAGS_NAME.search(node.id))) or (
        isinstance(node, ast.Attribute) and bool(_FLAGS_NAME.search(node.attr))
    )


def _is_literal(node: ast.expr) -> bool:
    """Only digits: a non-zero integer (``4``, ``1 << 12``, ``(4 | 8)``, ``~3``), or ``2 if x else 0``."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int and node.value != 0
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.LShift)):
        return all(isinstance(side, ast.Constant) or _is_literal(side) for side in (node.left, node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return _is_literal(node.operand)
    if isinstance(node, ast.IfExp):
        return _is_literal(node.body) or _is_literal(node.orelse)
    return False


def _names_in(node: ast.expr) -> Iterator[str]:
    """The bare names a flag expression is built from (``A | B``, ``A if x else 0``, ``~A``, a tuple of them)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd)):
        yield from _names_in(node.left)
        yield from _names_in(node.right)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        yield from _names_in(node.operand)
    elif isinstance(node, ast.IfExp):
        yield from _names_in(node.body)
        yield from _names_in(node.orelse)
    elif isinstance(node, ast.Tuple):
        for element in node.elts:
            yield from _names_in(element)


def public_flag_positions() -> dict[str, set[int]]:
    """Method name -> the positions (after self) of its ``flags`` parameter, over core's public classes."""
    positions: dict[str, set[int]] = {}
    for module in PUBLIC_MODULES:
        tree = ast.parse((CORE / f"{module}.py").read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
                names = [a.arg for a in fn.args.args[1:]]
                if "flags" in names:
                    positions.setdefault(fn.name, set()).add(names.index("flags"))
    return positions


def _local_flag_positions(tree: ast.Module) -> dict[str, set[int]]:
    """The module's own functions: name -> the positions of their ``flags``/``*_flags`` parameters."""
    positions: dict[str, set[int]] = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef):
            found = {i for i, a in enumerate(fn.args.args) if _FLAGS_NAME.search(a.arg)}
            if found:
                positions[fn.name] = found
    return positions


def _flag_positions(tree: ast.Module, methods: dict[str, set[int]]) -> Iterator[ast.expr]:
    """Every expression of ``tree`` that stands where libvirt expects flag bits."""
    functions = _local_flag_positions(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
            if _is_flags(node.left) or _is_flags(node.right):
                yield node.right if _is_flags(node.left) else node.left
        elif (isinstance(node, ast.AugAssign) and _is_flags(node.target)) or (
            isinstance(node, ast.Assign) and any(_is_flags(t) for t in node.targets)
        ):
            yield node.value
        elif isinstance(node, ast.Compare) and _is_flags(node.left):
            yield from node.comparators
        elif isinstance(node, ast.keyword) and node.arg == "flags":
            yield node.value
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "check_flags" and len(node.args) >= 2:
                yield node.args[1]
            elif name == "matches_flag_groups" and len(node.args) >= 3:
                yield node.args[2]
            elif isinstance(func, ast.Attribute):
                yield from (node.args[i] for i in methods.get(name, ()) if i < len(node.args))
            else:
                yield from (node.args[i] for i in functions.get(name, ()) if i < len(node.args))


@dataclass(frozen=True)
class NamedConstant:
    """A module-level ``NAME = <digits>`` with the libvirt constants it claims to be (maybe none)."""

    name: str
    value: int
    line: int
    libvirt: tuple[str, ...]
    combined: bool  # the claimed names are OR-ed (``VIR_A | VIR_B``) rather than each equal to the value


def _claimed(name: str, comment: str) -> Iterator[str]:
    """The libvirt names a comment gives; ``VIR_DOMAIN_BLOCK_JOB_ABORT_*`` on ``_ABORT_PIVOT`` is
    VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT (the longest tail of the constant's name that makes a known flag)."""
    for found in re.finditer(r"(?<![A-Za-z0-9])(VIR_[A-Z0-9_]+)(\*?)", comment):
        if not found[2]:
            yield found[1]
            continue
        parts = name.lstrip("_").split("_")
        tails = [found[1] + "_".join(parts[i:]) for i in range(len(parts))]
        yield next((t for t in tails if t in BY_LIBVIRT_NAME), tails[0])


def module_constants(tree: ast.Module, source: str) -> dict[str, NamedConstant]:
    """Module-level integer constants written as digits, with the libvirt name from their comment or name."""
    lines = source.splitlines()
    found = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        pairs: list[tuple[ast.expr, ast.expr]] = []
        for target in node.targets:  # ``A = 1``, ``A = B = 1``, ``A, B = 1, 2``
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs.extend(zip(target.elts, node.value.elts, strict=False))
            else:
                pairs.append((target, node.value))
        comment = lines[(node.end_lineno or node.lineno) - 1].partition("#")[2].split(":")[0]
        for target, value in pairs:
            if not (isinstance(target, ast.Name) and _is_literal(value) and not isinstance(value, ast.IfExp)):
                continue
            claimed = tuple(_claimed(target.id, comment)) if comment.strip().startswith("VIR_") else ()
            if not claimed and _LIBVIRT_NAME.search(target.id):
                claimed = (target.id.lstrip("_"),)
            number = eval(compile(ast.Expression(value), "<constant>", "eval"), {"__builtins__": {}})
            found[target.id] = NamedConstant(target.id, number, node.lineno, claimed, "|" in comment)
    return found


def raw_flag_uses(
    tree: ast.Module,
    source: str = "",
    methods: dict[str, set[int]] | None = None,
    not_libvirt: frozenset[str] = frozenset(),
    imported: dict[str, NamedConstant] | None = None,
) -> list[tuple[int, str]]:
    """(line, source) of every flag position holding digits, or a module constant (its own or ``imported``
    from another scanned module) that names no libvirt flag (``not_libvirt``: the constants of this module
    that are some other program's flags)."""
    constants = {n: c for n, c in module_constants(tree, source).items() if n not in not_libvirt} if source else {}
    outside = {n: c for n, c in (imported or {}).items() if n not in constants}
    found = []
    for expr in _flag_positions(tree, methods if methods is not None else {}):
        if _is_literal(expr) or (
            isinstance(expr, ast.Tuple) and any(_is_literal(n) for n in ast.walk(expr) if isinstance(n, ast.expr))
        ):
            found.append((expr.lineno, ast.unparse(expr)))
            continue
        for name in _names_in(expr):
            if (const := constants.get(name)) is not None and not const.libvirt:
                found.append((const.line, f"{name} = {const.value} (a flag without libvirt's name)"))
            elif (const := outside.get(name)) is not None and not const.libvirt:
                found.append((expr.lineno, f"{name}, imported = {const.value} (a flag without libvirt's name)"))
    return sorted(set(found))


def _shown(path: Path) -> str:
    """A source's path as the checkout names it (``core/src/pyvirt/...`` for core wherever it is installed)."""
    if path.is_relative_to(CORE):
        return f"core/src/pyvirt/{path.relative_to(CORE)}"
    return str(path.relative_to(REPOSITORY))


@functools.cache
def _sources() -> tuple[tuple[str, str, ast.Module], ...]:
    """(path from the repository, text, syntax tree) of every file the scan reads, parsed once per run."""
    paths = [p for p in sorted(CORE.rglob("*.py")) if p not in GENERATED]
    paths += [p for src in SOURCES for p in sorted(src.rglob("*.py"))]
    return tuple((_shown(p), text, ast.parse(text, str(p))) for p in paths for text in [p.read_text()])


def test_the_scan_finds_each_form_it_refuses() -> None:
    """What the sweeps replaced, written the old way, is found; the same code with named flags is not."""
    old = """
if flags & 2: pass
run = True if flags & 2 else False if flags & (4 | 8) else None
flags |= 1 << 12
check_flags(flags, 0xF, "libxlDomainGetXMLDesc")
dom.create(flags=1)
ok = self.flags == 4
flags = 2 if config else 1
doc = dom.xml_desc(2)
_LIVE, _CONFIG = 1, 2
_MAXIMUM = 4
dom.set_memory(1024, _MAXIMUM)
matches_flag_groups(flags, info, ((4, 8, "persistent"),))
extra_flags = flags | 16
def show(dom, xml_flags, maximum): pass
show(dom, 2, True)
"""
    methods = {"xml_desc": {0}, "set_memory": {1}}
    found = raw_flag_uses(ast.parse(old), old, methods)
    assert sorted(line for line, _ in found) == [2, 3, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 16]
    new = """
if flags & DomainXMLFlags.INACTIVE: pass
flags |= DomainMigrateFlags.ABORT_ON_ERROR
check_flags(flags, 0, "libxlDomainDestroyFlags")
dom.create(flags=0)
size = length & 0xFF
doc = dom.xml_desc(_INACTIVE if config else 0)
_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE
_VIR_CONNECT_RO = 1
ro = bool(flags & _VIR_CONNECT_RO)
dom.set_memory(1024, 0)
cpus = pool.cpu_map(7)
"""
    assert raw_flag_uses(ast.parse(new), new, methods) == []


def test_a_constant_claims_libvirt_names_by_comment_wildcard_or_its_own_name() -> None:
    text = """
_SECURE = 1  # VIR_DOMAIN_XML_SECURE, VIR_DOMAIN_SNAPSHOT_XML_SECURE: the same bit for both
_BOTH = 1 | 2  # VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG
_ABORT_ASYNC, _ABORT_PIVOT = 1, 2  # VIR_DOMAIN_BLOCK_JOB_ABORT_*
_VIR_CONNECT_RO = 1
_CHUNK = 1 << 20
"""
    found = module_constants(ast.parse(text), text)
    claims = {name: (c.value, c.libvirt, c.combined) for name, c in found.items()}
    assert claims == {
        "_SECURE": (1, ("VIR_DOMAIN_XML_SECURE", "VIR_DOMAIN_SNAPSHOT_XML_SECURE"), False),
        "_BOTH": (3, ("VIR_DOMAIN_AFFECT_LIVE", "VIR_DOMAIN_AFFECT_CONFIG"), True),
        "_ABORT_ASYNC": (1, ("VIR_DOMAIN_BLOCK_JOB_ABORT_ASYNC",), False),
        "_ABORT_PIVOT": (2, ("VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT",), False),
        "_VIR_CONNECT_RO": (1, ("VIR_CONNECT_RO",), False),
        "_CHUNK": (1 << 20, (), False),
    }


def test_a_constant_imported_from_another_module_is_followed() -> None:
    lib = "_MAXIMUM = 4\n_NAMED = 4  # VIR_DOMAIN_MEM_MAXIMUM\n"
    use = "from pyvirt.lib import _MAXIMUM, _NAMED as N\ndom.set_memory(1, _MAXIMUM)\nflags |= N\n"
    modules = {"pyvirt.lib": module_constants(ast.parse(lib), lib)}
    tree = ast.parse(use)
    found = raw_flag_uses(tree, use, {"set_memory": {1}}, imported=imported_constants(tree, modules))
    assert found == [(2, "_MAXIMUM, imported = 4 (a flag without libvirt's name)")]


def test_the_scan_reads_the_public_methods_flag_positions() -> None:
    positions = public_flag_positions()
    assert positions["xml_desc"] == {0}
    assert positions["set_memory"] == {1}  # Domain.set_memory(memory_kib, flags)
    assert "lookup_domain_by_name" not in positions


def _module_name(path: str) -> str:
    """``core/src/pyvirt/cli/main.py`` -> ``pyvirt.cli.main``; ``plugins/pyvirt-esx/src/pyvirt_esx/x.py`` ->
    ``pyvirt_esx.x``."""
    return path.split("/src/", 1)[1].removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def imported_constants(tree: ast.Module, modules: dict[str, dict[str, NamedConstant]]) -> dict[str, NamedConstant]:
    """The digit constants this module imports by name from the other scanned modules (``from m import X``)."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in modules:
            for alias in node.names:
                if (const := modules[node.module].get(alias.name)) is not None:
                    found[alias.asname or alias.name] = const
    return found


def test_nothing_in_core_or_the_plugins_writes_a_flag_as_a_number() -> None:
    methods = public_flag_positions()
    modules = {_module_name(path): module_constants(tree, source) for path, source, tree in _sources()}
    offenders = [
        f"{path}:{line}: {text}"
        for path, source, tree in _sources()
        for line, text in raw_flag_uses(
            tree, source, methods, frozenset(NOT_LIBVIRT.get(path, ())), imported_constants(tree, modules)
        )
    ]
    assert not offenders, "write these with pyvirt.flags (or a constant named after libvirt's):\n" + "\n".join(
        offenders
    )


_C_SUFFIXES = frozenset({".c", ".h", ".x", ".in"})
_C_LIMITS = {"INT_MAX": 2**31 - 1, "UINT_MAX": 2**32 - 1, "UINT32_MAX": 2**32 - 1, "UINT16_MAX": 2**16 - 1,
             "UINT8_MAX": 2**8 - 1, "LLONG_MAX": 2**63 - 1, "ULLONG_MAX": 2**64 - 1}  # fmt: skip


def _libvirt_expressions(source: Path, names: set[str]) -> dict[str, str]:
    """``names`` and the names their values refer to, as libvirt's source defines them: enum members (an implicit
    value is the previous member's plus one), macros (``#define NAME 262120``), the .x files' ``const NAME = 4;``.
    Only the files that mention a wanted name are read closely."""
    texts = [p.read_text(errors="replace") for top in ("include", "src") for p in sorted((source / top).rglob("*"))
             if p.suffix in _C_SUFFIXES]  # fmt: skip
    exprs: dict[str, str] = {}
    wanted = set(names)
    while wanted:
        mentions = re.compile("|".join(sorted(map(re.escape, wanted))))
        for text in filter(mentions.search, texts):
            code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
            for body in re.finditer(r"\benum\s*\w*\s*\{([^}]*)\}", code):
                previous = None
                for item in re.sub(r"^\s*#[^\n]*", "", body[1], flags=re.M).split(","):
                    member = re.fullmatch(r"\s*(VIR_\w+)\s*(?:=\s*(.+?))?\s*", item, re.S)
                    if member is None:
                        previous = None
                        continue
                    exprs.setdefault(member[1], member[2] or (f"({previous}) + 1" if previous else "0"))
                    previous = member[1]
            macros = r"#\s*define\s+(VIR_\w+)[ \t]+([^\n]+)|\bconst\s+(VIR_\w+)\s*=\s*([^;]+);"
            for found in re.finditer(macros, code):
                exprs.setdefault(found[1] or found[3], (found[2] or found[4]).strip())
        referred = {ref for name in names if name in exprs for ref in _LIBVIRT_NAME.findall(exprs[name])}
        wanted = referred - exprs.keys() - wanted
        names = names | referred
    return exprs


def _libvirt_value(exprs: dict[str, str], name: str) -> int | None:
    """``name``'s value by libvirt's source, or None when it defines none (or not as a number)."""
    if name not in exprs:
        return None
    expr = re.sub(r"(?<=[0-9a-fA-F])[uUlL]+\b", "", exprs[name])
    expr = re.sub(r"\b[A-Z0-9]+_MAX\b", lambda m: str(_C_LIMITS.get(m[0], m[0])), expr)
    parts = {ref: _libvirt_value(exprs, ref) for ref in _LIBVIRT_NAME.findall(expr)}
    if None in parts.values():
        return None
    expr = _LIBVIRT_NAME.sub(lambda m: str(parts[m[0]]), expr)
    if not re.fullmatch(r"[0-9a-fA-Fx\s<>|()~+*-]+", expr):
        return None
    return int(eval(expr, {"__builtins__": {}}))  # digits and C operators only, checked above


def _named_constants() -> list[tuple[str, NamedConstant]]:
    return [
        (f"{path}:{const.line}", const)
        for path, source, tree in _sources()
        for const in module_constants(tree, source).values()
        if const.libvirt
    ]


def test_each_constant_named_after_a_libvirt_flag_has_its_value() -> None:
    """``_SECURE = 1  # VIR_DOMAIN_XML_SECURE`` is checked against pyvirt.flags (generated from libvirt's headers)."""
    constants = _named_constants()
    assert len(constants) > 20
    wrong = []
    for where, const in constants:
        members = [BY_LIBVIRT_NAME[n] for n in const.libvirt if n in BY_LIBVIRT_NAME]
        if len(members) != len(const.libvirt):
            continue  # not a flag set: the next test asks the host's libvirt
        combined = 0
        for member in members:
            combined |= int(member)
        if (combined != const.value) if const.combined else any(int(m) != const.value for m in members):
            wrong.append(f"{where}: {const.name} = {const.value}, libvirt's {' | '.join(const.libvirt)} is {combined}")
    assert not wrong, "\n".join(wrong)


def test_each_constant_named_after_another_libvirt_constant_has_its_value() -> None:
    """``VIR_DOMAIN_STATS_*``, libvirt's internal flags (``VIR_VOL_XML_PARSE_*``)...: not in pyvirt.flags, so
    libvirt 9.0's source says; a name it does not define (``VIR_DOMAIN_BLOCK_JOB_ABORT_*``) fails too."""
    from pyvirt.testing.sources import libvirt_source

    source = libvirt_source(fetch=False)
    if source is None:
        pytest.skip("libvirt 9.0's source is not unpacked here (tools/fetch-libvirt-source)")
    constants = [(w, c) for w, c in _named_constants() if any(n not in BY_LIBVIRT_NAME for n in c.libvirt)]
    exprs = _libvirt_expressions(source, {n for _, c in constants for n in c.libvirt})
    known = {n: v for _, c in constants for n in c.libvirt if (v := _libvirt_value(exprs, n)) is not None}
    wrong = []
    for where, const in constants:
        if unknown := [n for n in const.libvirt if n not in known and n not in BY_LIBVIRT_NAME]:
            wrong.append(f"{where}: {const.name}: libvirt defines no {', '.join(unknown)}")
            continue
        values = [known[n] if n in known else int(BY_LIBVIRT_NAME[n]) for n in const.libvirt]
        combined = 0
        for v in values:
            combined |= v
        if (combined != const.value) if const.combined else any(v != const.value for v in values):
            wrong.append(f"{where}: {const.name} = {const.value}, libvirt's {' | '.join(const.libvirt)} is {values}")
    assert not wrong, "\n".join(wrong)


def test_core_s_own_copy_of_the_domain_list_flags_is_libvirt_s() -> None:
    """pyvirt.connection.ListDomainsFlags is built without pyvirt.flags for the short client runs."""
    from pyvirt.connection import ListDomainsFlags
    from pyvirt.flags import ConnectListAllDomainsFlags

    mine = {name: int(member) for name, member in ListDomainsFlags.__members__.items()}
    assert mine == {name: int(ConnectListAllDomainsFlags[name]) for name in mine}
