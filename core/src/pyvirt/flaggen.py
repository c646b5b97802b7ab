"""Generate :mod:`pyvirt.flags` from libvirt 9.0's public headers (``include/libvirt/*.h``).

libvirt defines every flag set of its API as a C enum (``virDomainUndefineFlagsValues``,
``virDomainXMLFlags``, ``virDomainModificationImpact`` ...). pyvirt takes them
from the headers instead of typing 400 numbers in by hand: this module reads
the enums, evaluates their values (``1 << 3``, ``1U << 31``, references to
other constants, ``|`` combinations) and writes one IntFlag class per flag
enum. ``tools/generate-flags`` runs it; ``core/tests/test_flags.py``
regenerates and compares with the checked-in module, so the two cannot drift.

The classes are IntFlags to mypy (``enum.IntFlag`` class statements under
``TYPE_CHECKING``) and built by ``pyvirt.util.int_enum.int_flag`` at run time
from a table of the same members, each when first read: the ``enum`` module
and its class machinery cost about 8 ms of every short ``pyvirsh`` run that
names a flag, and even plain class statements for all 86 enums (a class
object each, made whether used or not) cost every run on ``test:///`` 8
million instructions, for the dozen classes it names.

Which enums are flags: those whose type name contains ``Flag`` (libvirt's
naming for values meant to be OR-ed into a ``flags`` argument) and
``virDomainModificationImpact`` (the ``VIR_DOMAIN_AFFECT_*`` bits that most
``flags`` arguments accept). Sentinels (``*_LAST``) are dropped, as
libvirt's own bindings drop them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

__all__ = ["FlagEnum", "generate_flags_module", "read_api_flags", "read_flag_enums"]

_ENUM = re.compile(r"typedef\s+enum\s*\{(?P<body>.*?)\}\s*(?P<name>vir\w+)\s*;", re.S)
_MEMBER = re.compile(r"^\s*(?P<name>VIR_\w+)\s*(?:=\s*(?P<value>[^,]+?))?\s*,?\s*$")
_EXTRA_FLAG_ENUMS = frozenset({"virDomainModificationImpact"})


class FlagEnum(NamedTuple):
    """One libvirt flag enum: its C name, header, Python class name and (C member, value) pairs."""

    c_name: str
    header: str
    py_name: str
    members: tuple[tuple[str, int], ...]


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _evaluate(expr: str, known: dict[str, int]) -> int:
    """A C constant expression of the kinds libvirt's enums use, over already-known names."""
    tokens = re.findall(r"0x[0-9a-fA-F]+|\d+[uUlL]*|VIR_\w+|<<|[|()~+-]", expr)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", expr):
        raise ValueError(f"cannot evaluate {expr!r}")
    py: list[str] = []
    for tok in tokens:
        if tok.startswith("VIR_"):
            py.append(str(known[tok]))
        elif tok[0].isdigit():
            py.append(str(int(tok.rstrip("uUlL"), 0)))
        else:
            py.append(tok)
    return int(eval(" ".join(py), {"__builtins__": {}}))  # digits and C operators only, checked above


def _class_name(c_name: str) -> str:
    name = c_name.removeprefix("vir").removesuffix("Values")
    if name.endswith("Flag"):
        name += "s"
    return name


def _raw_enums(libvirt_src: Path) -> list[tuple[str, str, list[tuple[str, str | None]]]]:
    """(C name, header, [(member, value expression or None)]) of every enum, in header then source order."""
    out: list[tuple[str, str, list[tuple[str, str | None]]]] = []
    for header in sorted((libvirt_src / "include" / "libvirt").glob("libvirt-*.h*")):
        text = _strip_comments(header.read_text())
        for m in _ENUM.finditer(text):
            members: list[tuple[str, str | None]] = []
            for raw_line in m.group("body").splitlines():
                line = raw_line.strip()
                if not line or line.startswith("#"):
                    continue
                for part in filter(None, (p.strip() for p in line.split(","))):
                    mm = _MEMBER.match(part)
                    if mm is None:
                        raise ValueError(f"{header.name}: cannot read enum member {part!r}")
                    members.append((mm.group("name"), mm.group("value")))
            out.append((m.group("name"), header.name, members))
    return out


def read_flag_enums(libvirt_src: Path) -> list[FlagEnum]:
    """Every flag enum of libvirt's public headers, in header then source order.

    Values may name constants of enums in later headers (the checkpoint
    header uses ``VIR_DOMAIN_XML_SECURE``), so enums are resolved in passes
    until every one is.
    """
    raw = _raw_enums(libvirt_src)
    known: dict[str, int] = {}
    resolved: dict[str, tuple[tuple[str, int], ...]] = {}
    while len(resolved) < len(raw):
        progress = False
        for c_name, _header, members in raw:
            if c_name in resolved:
                continue
            values: list[tuple[str, int]] = []
            scope = dict(known)  # members may name earlier members of the same enum
            implicit = 0
            try:
                for name, expr in members:
                    value = _evaluate(expr, scope) if expr else implicit
                    values.append((name, value))
                    scope[name] = value
                    implicit = value + 1
            except KeyError:
                continue
            known.update(values)
            resolved[c_name] = tuple(values)
            progress = True
        if not progress:
            raise ValueError("enum values refer to constants no header defines")
    out: list[FlagEnum] = []
    for c_name, header, _ in raw:
        kept = tuple((n, v) for n, v in resolved[c_name] if not n.endswith("_LAST"))
        if ("Flag" in c_name or c_name in _EXTRA_FLAG_ENUMS) and kept:
            out.append(FlagEnum(c_name, header, _class_name(c_name), kept))
    return out


_DOC_BLOCK = re.compile(r"/\*\*\s*\n\s*\*\s*(?P<api>vir\w+):(?P<doc>.*?)\*/", re.S)
_FLAGS_DOC = re.compile(r"@flags:(?P<text>[^@]*)", re.S)


def read_api_flags(libvirt_src: Path, enums: list[FlagEnum]) -> dict[str, str]:
    """libvirt API name -> the flag enum its ``flags`` argument takes, from the API's documentation comment.

    libvirt documents each ``flags`` argument in ``src/libvirt-*.c`` ("@flags:
    bitwise-OR of virDomainUndefineFlagsValues"); the first flag enum named
    there is the one. APIs whose flags are "extra flags; not used yet" have none.
    """
    by_c_name = {e.c_name: e.py_name for e in enums}
    out: dict[str, str] = {}
    for source in sorted((libvirt_src / "src").glob("libvirt-*.c")):
        for block in _DOC_BLOCK.finditer(source.read_text()):
            m = _FLAGS_DOC.search(block.group("doc"))
            if m is None:
                continue
            named = [n for n in re.findall(r"\bvir[A-Z]\w+", m.group("text")) if n in by_c_name]
            if named:
                out[block.group("api")] = by_c_name[named[0]]
    return dict(sorted(out.items()))


def _member_names(members: tuple[tuple[str, int], ...]) -> list[str]:
    """Python member names: the C names without their common ``VIR_..._`` prefix (never leaving a digit first)."""
    names = [n for n, _ in members]
    if len(names) == 1:
        return [names[0].rsplit("_", 1)[-1]]
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: prefix.rfind("_") + 1]
    while prefix and any(not n[len(prefix) :] or n[len(prefix)].isdigit() for n in names):
        prefix = prefix[: prefix[:-1].rfind("_") + 1]
    return [n[len(prefix) :] for n in names]


def generate_flags_module(libvirt_src: Path) -> str:
    """The text of ``pyvirt/flags.py``."""
    enums = read_flag_enums(libvirt_src)
    lines = [
        '"""libvirt 9.0\'s flag enums as IntFlag classes, one per C enum.',
        "",
        "GENERATED by tools/generate-flags from libvirt's ``include/libvirt/*.h`` (see",
        ":mod:`pyvirt.flaggen`); do not edit. Member names are libvirt's without the",
        "enum's common prefix (``VIR_DOMAIN_UNDEFINE_NVRAM`` is",
        "``DomainUndefineFlags.NVRAM``); :data:`BY_LIBVIRT_NAME` maps libvirt's full",
        "names to the members and :data:`API_FLAGS` names the enum each libvirt API's",
        "``flags`` takes. The API accepts these or plain ints, as libvirt-python",
        "callers pass them.",
        "",
        "mypy sees ``enum.IntFlag`` classes (the class statements below). At run time",
        "those statements are not run: each class is built by",
        "``pyvirt.util.int_enum.int_flag``, without the ``enum`` module, from the table",
        "of the same members, when it is first read (the module's ``__getattr__``): a",
        "short ``pyvirsh`` run names a dozen of these classes, and making all of them",
        "(even as plain classes) cost it more than the rest of this module.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from pyvirt.util.int_enum import int_flag",
        "",
        "# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported.",
        "TYPE_CHECKING = False",
        "if TYPE_CHECKING:",
        "    import enum",
        "",
        "__all__ = [",
        '    "API_FLAGS",',
        '    "BY_LIBVIRT_NAME",',
        *[f'    "{e.py_name}",' for e in sorted(enums, key=lambda e: e.py_name)],
        "]",
        "",
        "if TYPE_CHECKING:",
    ]
    mapping: list[str] = []
    table: list[str] = []
    for e in enums:
        doc = f"``{e.c_name}`` ({e.header})."
        lines += ["", f"    class {e.py_name}(enum.IntFlag):", f'        """{doc}"""', ""]
        names = _member_names(e.members)
        for (c_name, value), py in zip(e.members, names, strict=True):
            lines.append(f"        {py} = {value}")
            mapping.append(f'        "{c_name}": {e.py_name}.{py},')
        pairs = ", ".join(f'("{py}", {value})' for (_, value), py in zip(e.members, names, strict=True))
        table.append(f'        "{e.py_name}": ("{doc}", ({pairs},)),')
    lines += [
        "",
        "else:",
        "    # The same classes as (docstring, members), made classes on first read by __getattr__ below:",
        "    # constant tuples, which the compiled module holds ready, where class statements run at import.",
        "    # fmt: off",
        "    _BODIES = {",
        *table,
        "    }",
        "    # fmt: on",
    ]
    api = read_api_flags(libvirt_src, enums)
    lines += [
        "",
        "",
        "def _tables() -> tuple[dict[str, enum.IntFlag], dict[str, type[enum.IntFlag]]]:",
        '    """BY_LIBVIRT_NAME and API_FLAGS (at run time, once every class is built)."""',
        "    by_libvirt_name: dict[str, enum.IntFlag] = {",
        *mapping,
        "    }",
        "    api_flags: dict[str, type[enum.IntFlag]] = {",
        *[f'        "{name}": {py},' for name, py in api.items()],
        "    }",
        "    return by_libvirt_name, api_flags",
        "",
        "",
        "if not TYPE_CHECKING:",
        "    import _thread",
        "",
        "    # One lock for all: two threads reading the same name first must get the same class.",
        "    _LOCK = _thread.RLock()",
        "",
        "    def _body(name: str, doc: str, members: tuple[tuple[str, int], ...]) -> type:",
        '        """The class statement\'s class, as int_flag reads one: the members, the docstring, this module."""',
        '        return type(name, (), {"__module__": __name__, "__qualname__": name, "__doc__": doc, **dict(members)})',
        "",
        "    def __getattr__(name: str) -> object:",
        "        with _LOCK:",
        "            namespace = globals()",
        "            if name in namespace:  # another thread built it meanwhile",
        "                return namespace[name]",
        "            body = _BODIES.pop(name, None)",
        "            if body is not None:",
        "                namespace[name] = int_flag(_body(name, *body))",
        "                return namespace[name]",
        '            if name in ("BY_LIBVIRT_NAME", "API_FLAGS"):',
        "                for other in list(_BODIES):",
        "                    __getattr__(other)",
        '                namespace["BY_LIBVIRT_NAME"], namespace["API_FLAGS"] = _tables()',
        "                return namespace[name]",
        '        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")',
        "",
        "    def __dir__() -> list[str]:",
        "        return sorted(set(globals()) | set(__all__))",
        "",
        "",
        "# Declared for mypy and the reference; at run time the module's __getattr__ makes them on first read.",
        "BY_LIBVIRT_NAME: dict[str, enum.IntFlag]",
        '"""libvirt\'s full constant name (``VIR_DOMAIN_UNDEFINE_NVRAM``) -> the member that stands for it."""',
        "API_FLAGS: dict[str, type[enum.IntFlag]]",
        '"""libvirt API name -> the flag enum its ``flags`` argument takes (from libvirt\'s API documentation)."""',
        "",
    ]
    return "\n".join(lines)
