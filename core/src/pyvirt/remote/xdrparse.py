"""Read libvirt's ``.x`` protocol files (rpcgen's XDR language) into plain data for ``xdrgen``.

Only what libvirt's files use: ``const``, ``typedef``, ``enum``, ``struct``,
``union switch``, fixed and variable arrays, ``opaque``, ``string``,
optional (``*``) declarations, ``%`` pass-through lines. The comment right
before each member of a ``*_procedure`` enum carries libvirt's annotations
(``@generate``, ``@acl``, ``@priority``, ``@readstream`` ...), kept in file
order. Constants the files take from libvirt's C headers
(``VIR_UUID_BUFLEN``, ``VIR_TYPED_PARAM_*``) are read from those headers in
the same source tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Decl", "Procedure", "Type", "Union", "XdrSpec", "external_constants", "parse"]

_TOKEN = re.compile(
    r"""(?P<comment>/\*.*?\*/)
      | (?P<line>//[^\n]*|^%[^\n]*)
      | (?P<ws>\s+)
      | (?P<num>-?0[xX][0-9A-Fa-f]+|-?\d+)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[{}()\[\]<>;,:=*])""",
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
_ANNOTATION = re.compile(r"@(\w+):\s*(\S[^\n]*?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Type:
    """A resolved type: ``kind`` is scalar, string, opaque, fixed, var, opt, ref or void."""

    kind: str
    scalar: str = ""  # scalar name for kind scalar
    size: str | None = None  # bound or length, as a constant name or a number (None: unbounded)
    elem: Type | None = None
    ref: str = ""  # struct/union name for kind ref


@dataclass
class Decl:
    name: str
    type: Type


@dataclass
class Union:
    name: str
    discriminant: Decl
    arms: list[tuple[list[str], Decl]]
    default: Decl | None


@dataclass
class Procedure:
    name: str
    number: int
    annotations: list[tuple[str, str]]


@dataclass
class XdrSpec:
    """What one ``.x`` file defines, in file order."""

    constants: dict[str, int] = field(default_factory=dict)
    enums: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    typedefs: dict[str, Type] = field(default_factory=dict)
    structs: dict[str, list[Decl]] = field(default_factory=dict)
    unions: dict[str, Union] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # struct and union names in file order
    procedures: dict[str, list[Procedure]] = field(default_factory=dict)  # enum name -> procedures
    external: dict[str, int] = field(default_factory=dict)  # C constants from libvirt's headers


class _Parser:
    def __init__(self, text: str, external: dict[str, int]) -> None:
        self.tokens: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or ""
            if kind in ("ws", "line"):
                continue
            self.tokens.append((kind, m.group()))
        self.pos = 0
        self.spec = XdrSpec(external=external)
        self.external = external
        self.doc = ""

    # -- tokens
    def _next(self) -> str:
        while self.tokens[self.pos][0] == "comment":
            self.doc = self.tokens[self.pos][1]
            self.pos += 1
        tok = self.tokens[self.pos][1]
        self.pos += 1
        return tok

    def _peek(self) -> str:
        pos = self.pos
        while self.tokens[pos][0] == "comment":
            pos += 1
        return self.tokens[pos][1]

    def _expect(self, tok: str) -> None:
        got = self._next()
        if got != tok:
            raise SyntaxError(f"expected {tok!r}, got {got!r} near token {self.pos}")

    def _value(self, tok: str) -> int:
        if re.fullmatch(r"-?(0[xX][0-9A-Fa-f]+|\d+)", tok):
            return int(tok, 0)
        if tok in self.spec.constants:
            return self.spec.constants[tok]
        for values in self.spec.enums.values():
            for member, value in values:
                if member == tok:
                    return value
        if tok in self.external:
            return self.external[tok]
        raise SyntaxError(f"unknown constant {tok}")

    # -- grammar
    def parse(self) -> XdrSpec:
        while self.pos < len(self.tokens):
            if all(kind == "comment" for kind, _ in self.tokens[self.pos :]):
                break
            word = self._next()
            if word == "const":
                name = self._next()
                self._expect("=")
                self.spec.constants[name] = self._value(self._next())
                self._expect(";")
            elif word == "typedef":
                decl = self._declaration()
                self.spec.typedefs[decl.name] = decl.type
                self._expect(";")
            elif word == "enum":
                self._enum(self._next())
            elif word == "struct":
                self._struct(self._next())
            elif word == "union":
                self._union(self._next())
            else:
                raise SyntaxError(f"unexpected {word!r}")
        return self.spec

    def _enum(self, name: str) -> None:
        self._expect("{")
        values: list[tuple[str, int]] = []
        procs: list[Procedure] = []
        while True:
            self.doc = ""
            member = self._next()
            doc = self.doc
            self._expect("=")
            value = self._value(self._next())
            values.append((member, value))
            if name.endswith("_procedure"):
                procs.append(Procedure(member, value, _ANNOTATION.findall(doc) if doc.startswith("/**") else []))
            if self._next() == "}":
                break
        self._expect(";")
        self.spec.enums[name] = values
        if procs:
            self.spec.procedures[name] = procs

    def _struct(self, name: str) -> None:
        self._expect("{")
        fields: list[Decl] = []
        while self._peek() != "}":
            fields.append(self._declaration())
            self._expect(";")
        self._next()
        self._expect(";")
        self.spec.structs[name] = fields
        self.spec.order.append(name)

    def _union(self, name: str) -> None:
        self._expect("switch")
        self._expect("(")
        disc = self._declaration()
        self._expect(")")
        self._expect("{")
        arms: list[tuple[list[str], Decl]] = []
        default: Decl | None = None
        while self._peek() != "}":
            word = self._next()
            if word == "default":
                self._expect(":")
                default = self._declaration()
                self._expect(";")
                continue
            cases = [self._next()]
            self._expect(":")
            while self._peek() == "case":
                self._next()
                cases.append(self._next())
                self._expect(":")
            arms.append((cases, self._declaration()))
            self._expect(";")
        self._next()
        self._expect(";")
        self.spec.unions[name] = Union(name, disc, arms, default)
        self.spec.order.append(name)

    def _type_spec(self) -> Type:
        word = self._next()
        if word == "unsigned":
            nxt = self._peek()
            if nxt in ("int", "hyper", "char", "short", "long"):
                self._next()
                return Type("scalar", {"int": "unsigned", "long": "unsigned"}.get(nxt, "u" + nxt))
            return Type("scalar", "unsigned")
        if word in ("int", "hyper", "bool", "float", "double", "char", "short"):
            return Type("scalar", word)
        if word in ("struct", "enum", "union"):
            word = self._next()
        return Type("ref", ref=word)

    def _declaration(self) -> Decl:
        if self._peek() == "void":
            self._next()
            return Decl("", Type("void"))
        base = Type(self._next()) if self._peek() in ("opaque", "string") else self._type_spec()
        if self._peek() == "*":
            self._next()
            return Decl(self._next(), Type("opt", elem=base))
        name = self._next()
        if self._peek() in ("[", "<"):
            close = "]" if self._next() == "[" else ">"
            size = None if self._peek() == close else self._next()
            self._expect(close)
            if base.kind in ("opaque", "string"):
                kind = "opaque_fixed" if close == "]" else base.kind
                return Decl(name, Type(kind, size=size))
            return Decl(name, Type("fixed" if close == "]" else "var", size=size, elem=base))
        return Decl(name, base)


def external_constants(libvirt_src: Path) -> dict[str, int]:
    """The C constants the ``.x`` files use but do not define (``VIR_UUID_BUFLEN``, ``VIR_TYPED_PARAM_*``).

    Read from libvirt's public headers in the same source tree, never typed in here.
    """
    out: dict[str, int] = {}
    for header in sorted((libvirt_src / "include" / "libvirt").glob("*.h*")):
        text = header.read_text()
        for name, a, b in re.findall(r"#\s*define\s+(VIR_\w+)\s+\((\d+)(?:\s*\+\s*(\d+))?\)", text):
            out[name] = int(a) + int(b or 0)
        for name, value in re.findall(r"^\s+(VIR_TYPED_PARAM_\w+)\s*=\s*(\d+)\s*,", text, re.MULTILINE):
            out[name] = int(value)
    return out


def parse(text: str, external: dict[str, int]) -> XdrSpec:
    """Parse one ``.x`` file; ``external`` supplies constants defined elsewhere."""
    return _Parser(text, external).parse()
