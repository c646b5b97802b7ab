"""Generate Python XDR codecs and procedure tables from libvirt's ``.x`` protocol files.

libvirt defines its wire protocol in rpcgen's XDR language (``remote_protocol.x``,
``virnetprotocol.x``, ``virkeepaliveprotocol.x``, ...) and generates its C
marshalling from them; we do the same for Python, so the codec can never drift
from libvirt's definition and nobody hand-writes 700 structs.

The output is straight-line code, one pack and one unpack function per named
struct or union, with runs of fixed-size fields folded into one precompiled
``struct.Struct`` call; strings, variable opaques and optional strings (the
commonest fields) go through one shared function each, which keeps the code a
quarter smaller. ``remote_protocol.x``'s 443 procedures are split besides: each
procedure's own ``_args``/``_ret`` structs live in a module per 32 procedures,
the shared types in ``_remote_types``, the field names in ``_remote_fields``,
and ``_remote`` keeps the constants and a procedure table that imports a
procedure's code when it is first used. A ``pyvirsh list`` unmarshals about
200 KB of bytecode instead of 840 KB: 2.3 ms instead of 4.5 ms. Measured on the 2-vCPU development VM against a minimal interpreter walking a
type tree (no optionals, no unions): a ``remote_domain_get_info_ret`` decodes
in 0.6 us instead of 1.7 us (2.9x), a ten-domain
``remote_connect_list_all_domains_ret`` in 7 us instead of 24 us (3.2x).

Value mapping (the same for both directions, so the daemon shares it):

- ``int``/``unsigned``/``hyper``/``enum``/``char``/``short``: ``int``; ``bool``: ``bool``;
  ``float``/``double``: ``float``
- ``string<N>``: ``str`` (UTF-8, undecodable bytes kept as surrogates so they round-trip)
- ``opaque[N]``/``opaque<N>`` and arrays of ``char``: ``bytes``
- ``T *x`` (optional): ``None`` or the value; ``T x<N>``/``T x[N]``: ``list``
- ``struct``: a ``tuple`` of its fields in declaration order (``FIELDS`` names them)
- ``union``: ``(discriminant, arm value)``; a ``void`` arm gives ``None``

Decoding enforces every ``<N>`` bound and never reads past the buffer; the
generated functions raise ``struct.error``/``ProtocolError`` and the callers in
``pyvirt.remote.xdr`` turn every failure into ``ProtocolError``.

Run it through ``tools/generate-remote-protocol``; ``core/tests/remote`` regenerates
from the libvirt source cache and compares byte for byte with the checked-in modules.
"""

from __future__ import annotations

import re
from pathlib import Path

from pyvirt.remote.xdrparse import Decl, Type, Union, XdrSpec, external_constants, parse

__all__ = ["CHUNK", "OPENING_CALLS", "PROTOCOLS", "generate", "generate_all", "place_types"]

# (source file relative to libvirt's tree, generated module name, modules whose types it may use)
PROTOCOLS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("src/rpc/virnetprotocol.x", "virnet", ()),
    ("src/rpc/virkeepaliveprotocol.x", "keepalive", ()),
    ("src/remote/remote_protocol.x", "remote", ()),
    ("src/remote/qemu_protocol.x", "qemu", ("remote",)),
    ("src/remote/lxc_protocol.x", "lxc", ("remote",)),
)

# (wire size, struct format char) of each fixed-size XDR scalar; char and short travel as 4-byte ints
_SCALARS = {
    "int": (4, "i"), "unsigned": (4, "I"), "hyper": (8, "q"), "uhyper": (8, "Q"), "bool": (4, "i"),
    "float": (4, "f"), "double": (8, "d"), "char": (4, "i"), "uchar": (4, "I"), "short": (4, "i"),
    "ushort": (4, "I"),
}  # fmt: skip


# ---------------------------------------------------------------- code generation


class _Gen:
    """Emits one module; ``specs`` holds this file's spec and those it may use."""

    def __init__(
        self, spec: XdrSpec, deps: dict[str, XdrSpec], placement: dict[str, str], module: str, main: str = ""
    ) -> None:
        self.spec = spec
        self.deps = deps
        self.placement = placement  # struct/union name -> generated module holding its functions
        self.module = module  # the module being written
        self.main = main or module  # the module holding the constants
        self.structs_used: dict[str, str] = {}  # format -> Struct variable name
        self.imports: set[tuple[str, str]] = set()
        self.tmp = 0

    # -- lookups
    def _const(self, size: str | None) -> str:
        """A bound as Python source: the constant's name when it is one of ours, else its value."""
        if size is None:
            return "0xFFFFFFFF"
        if re.fullmatch(r"-?(0[xX][0-9A-Fa-f]+|\d+)", size):
            return str(int(size, 0))
        if size in self.spec.constants:  # by name where the constant is defined, by value elsewhere
            return size if self.module == self.main else str(self.spec.constants[size])
        for spec in self.deps.values():
            if size in spec.constants:
                return str(spec.constants[size])
        if size in self.spec.external:
            return str(self.spec.external[size])
        raise SyntaxError(f"unknown bound {size}")

    def _enum_value(self, name: str) -> int:
        for spec in (self.spec, *self.deps.values()):
            for values in spec.enums.values():
                for member, value in values:
                    if member == name:
                        return value
            if name in spec.constants:
                return spec.constants[name]
        if name in self.spec.external:
            return self.spec.external[name]
        if re.fullmatch(r"-?\d+", name):
            return int(name)
        raise SyntaxError(f"unknown case label {name}")

    def resolve(self, t: Type) -> Type:
        """Typedefs and enums replaced by what they stand for (refs stay for structs and unions)."""
        if t.kind == "ref":
            for spec in (self.spec, *self.deps.values()):
                if t.ref in spec.typedefs:
                    return self.resolve(spec.typedefs[t.ref])
                if t.ref in spec.enums:
                    return Type("scalar", "int")
                if t.ref in spec.structs or t.ref in spec.unions:
                    if self.placement[t.ref] != self.module:
                        self.imports.add((self.placement[t.ref], t.ref))
                    return t
            raise SyntaxError(f"unknown type {t.ref}")
        if t.elem is not None:
            return Type(t.kind, t.scalar, t.size, self.resolve(t.elem), t.ref)
        return t

    def _struct_var(self, fmt: str) -> str:
        if fmt not in self.structs_used:
            self.structs_used[fmt] = f"_S{len(self.structs_used)}"
        return self.structs_used[fmt]

    def _var(self) -> str:
        self.tmp += 1
        return f"t{self.tmp}"

    # -- pack
    def pack(self, t: Type, expr: str, ind: str, out: list[str]) -> None:
        t = self.resolve(t)
        k = t.kind
        if k == "void":
            return
        if k == "scalar":
            out.append(f"{ind}a += {self._struct_var('>' + _SCALARS[t.scalar][1])}.pack({expr})")
        elif k in ("string", "opaque"):
            fn = "_pack_string" if k == "string" else "_pack_opaque"
            out.append(f"{ind}{fn}(a, {expr}, {self._const(t.size)}, '{t.size or 'the XDR maximum'}')")
        elif k == "opaque_fixed":
            out.append(f"{ind}if len({expr}) != {self._const(t.size)}:")
            out.append(f"{ind}    raise ProtocolError('opaque of the wrong length')")
            out.append(f"{ind}a += {expr}")
            out.append(f"{ind}a += _PAD[len({expr}) & 3]")
        elif k == "opt" and self.resolve(t.elem or t).kind == "string":  # remote_string: the commonest field
            elem = self.resolve(t.elem or t)
            out.append(f"{ind}_pack_opt_string(a, {expr}, {self._const(elem.size)}, '{elem.size}')")
        elif k == "opt":
            assert t.elem is not None
            out.append(f"{ind}if {expr} is None:")
            out.append(f"{ind}    a += _FALSE")
            out.append(f"{ind}else:")
            out.append(f"{ind}    a += _TRUE")
            self.pack(t.elem, expr, ind + "    ", out)
        elif k in ("fixed", "var"):
            assert t.elem is not None
            elem = self.resolve(t.elem)
            bound = self._const(t.size)
            if k == "fixed":
                out.append(f"{ind}if len({expr}) != {bound}:")
                out.append(f"{ind}    raise ProtocolError('array of the wrong length')")
            else:
                out.append(f"{ind}if len({expr}) > {bound}:")
                out.append(f"{ind}    raise ProtocolError('array longer than {t.size}')")
                out.append(f"{ind}a += _U32.pack(len({expr}))")
            if elem.kind == "scalar" and elem.scalar in ("char", "uchar"):
                fn = "_pack_chars" if elem.scalar == "char" else "_pack_uchars"
                out.append(f"{ind}a += {fn}({expr})")
            elif elem.kind == "scalar":
                code = _SCALARS[elem.scalar][1]
                out.append(f"{ind}a += _pack(f'>{{len({expr})}}{code}', *{expr})")
            else:
                v = self._var()
                out.append(f"{ind}for {v} in {expr}:")
                self.pack(elem, v, ind + "    ", out)
        elif k == "ref":
            out.append(f"{ind}pack_{t.ref}(a, {expr})")
        else:
            raise SyntaxError(f"cannot pack {t}")

    def pack_struct(self, name: str, fields: list[Decl]) -> list[str]:
        out = [f"def pack_{name}(a: bytearray, v: Any) -> None:"]
        self.tmp = 0
        if not fields:
            out.append("    pass")
            return out
        run: list[tuple[int, str]] = []  # consecutive fixed-size scalars packed by one call

        def flush() -> None:
            if run:
                fmt = ">" + "".join(c for _, c in run)
                args = ", ".join(f"v[{i}]" for i, _ in run)
                out.append(f"    a += {self._struct_var(fmt)}.pack({args})")
                run.clear()

        for i, decl in enumerate(fields):
            t = self.resolve(decl.type)
            if t.kind == "scalar":
                run.append((i, _SCALARS[t.scalar][1]))
                continue
            flush()
            self.pack(t, f"v[{i}]", "    ", out)
        flush()
        return out

    # -- unpack
    def unpack(self, t: Type, target: str, ind: str, out: list[str]) -> None:
        t = self.resolve(t)
        k = t.kind
        if k == "void":
            out.append(f"{ind}{target} = None")
        elif k == "scalar":
            size, code = _SCALARS[t.scalar]
            conv = " != 0" if t.scalar == "bool" else ""
            out.append(f"{ind}{target} = {self._struct_var('>' + code)}.unpack_from(b, o)[0]{conv}")
            out.append(f"{ind}o += {size}")
        elif k in ("string", "opaque"):
            fn = "_unpack_string" if k == "string" else "_unpack_opaque"
            out.append(f"{ind}{target}, o = {fn}(b, o, {self._const(t.size)}, '{t.size or 'the XDR maximum'}')")
        elif k == "opt" and self.resolve(t.elem or t).kind == "string":
            elem = self.resolve(t.elem or t)
            out.append(f"{ind}{target}, o = _unpack_opt_string(b, o, {self._const(elem.size)}, '{elem.size}')")
        elif k == "opaque_fixed":
            n = self._var()
            out.append(f"{ind}{n} = {self._const(t.size)}")
            out.append(f"{ind}if o + {n} > len(b):")
            out.append(f"{ind}    raise ProtocolError('{k} runs past the end of the message')")
            out.append(f"{ind}{target} = bytes(b[o : o + {n}])")
            out.append(f"{ind}o += ({n} + 3) & ~3")
        elif k == "opt":
            assert t.elem is not None
            out.append(f"{ind}if _U32.unpack_from(b, o)[0]:")
            out.append(f"{ind}    o += 4")
            self.unpack(t.elem, target, ind + "    ", out)
            out.append(f"{ind}else:")
            out.append(f"{ind}    o += 4")
            out.append(f"{ind}    {target} = None")
        elif k in ("fixed", "var"):
            assert t.elem is not None
            elem = self.resolve(t.elem)
            n = self._var()
            if k == "fixed":
                out.append(f"{ind}{n} = {self._const(t.size)}")
            else:
                out.append(f"{ind}{n} = _U32.unpack_from(b, o)[0]")
                out.append(f"{ind}if {n} > {self._const(t.size)}:")
                out.append(f"{ind}    raise ProtocolError('array longer than {t.size}')")
                out.append(f"{ind}o += 4")
            if elem.kind == "scalar" and elem.scalar in ("char", "uchar"):
                out.append(f"{ind}{target} = bytes(x & 0xFF for x in _unpack_from(f'>{{{n}}}i', b, o))")
                out.append(f"{ind}o += 4 * {n}")
            elif elem.kind == "scalar":
                size, code = _SCALARS[elem.scalar]
                conv = "[x != 0 for x in " if elem.scalar == "bool" else "list("
                close = "]" if elem.scalar == "bool" else ")"
                out.append(f"{ind}{target} = {conv}_unpack_from(f'>{{{n}}}{code}', b, o){close}")
                out.append(f"{ind}o += {size} * {n}")
            else:
                lst, item = self._var(), self._var()
                out.append(f"{ind}if o + 4 * {n} > len(b):")
                out.append(f"{ind}    raise ProtocolError('array runs past the end of the message')")
                out.append(f"{ind}{lst} = []")
                out.append(f"{ind}for _ in range({n}):")
                self.unpack(elem, item, ind + "    ", out)
                out.append(f"{ind}    {lst}.append({item})")
                out.append(f"{ind}{target} = {lst}")
        elif k == "ref":
            out.append(f"{ind}{target}, o = unpack_{t.ref}(b, o)")
        else:
            raise SyntaxError(f"cannot unpack {t}")

    def unpack_struct(self, name: str, fields: list[Decl]) -> list[str]:
        out = [f"def unpack_{name}(b: Buffer, o: int) -> tuple[Any, int]:"]
        self.tmp = 0
        names = [f"f{i}" for i in range(len(fields))]
        run: list[tuple[str, str, int, bool]] = []

        def flush() -> None:
            if run:
                fmt = ">" + "".join(c for _, c, _, _ in run)
                targets = ", ".join(n for n, _, _, _ in run)
                out.append(f"    {targets}{',' if len(run) == 1 else ''} = {self._struct_var(fmt)}.unpack_from(b, o)")
                out.append(f"    o += {sum(s for _, _, s, _ in run)}")
                out.extend(f"    {n} = {n} != 0" for n, _, _, is_bool in run if is_bool)
                run.clear()

        for n, decl in zip(names, fields, strict=True):
            t = self.resolve(decl.type)
            if t.kind == "scalar":
                size, code = _SCALARS[t.scalar]
                run.append((n, code, size, t.scalar == "bool"))
                continue
            flush()
            self.unpack(t, n, "    ", out)
        flush()
        value = "()" if not names else f"({', '.join(names)}{',' if len(names) == 1 else ''})"
        out.append(f"    return {value}, o")
        return out

    def pack_union(self, u: Union) -> list[str]:
        self.tmp = 0
        out = [f"def pack_{u.name}(a: bytearray, v: Any) -> None:", "    d = v[0]"]
        self.pack(u.discriminant.type, "d", "    ", out)
        word = "if"
        for cases, decl in u.arms:
            cond = " or ".join(f"d == {self._enum_value(c)}" for c in cases)
            out.append(f"    {word} {cond}:")
            body: list[str] = []
            self.pack(decl.type, "v[1]", "        ", body)
            out.extend(body or ["        pass"])
            word = "elif"
        out.append("    else:")
        if u.default is not None:
            body = []
            self.pack(u.default.type, "v[1]", "        ", body)
            out.extend(body or ["        pass"])
        else:
            out.append(f"        raise ProtocolError(f'{u.name}: no arm for discriminant {{d}}')")
        return out

    def unpack_union(self, u: Union) -> list[str]:
        self.tmp = 0
        out = [f"def unpack_{u.name}(b: Buffer, o: int) -> tuple[Any, int]:"]
        self.unpack(u.discriminant.type, "d", "    ", out)
        word = "if"
        for cases, decl in u.arms:
            cond = " or ".join(f"d == {self._enum_value(c)}" for c in cases)
            out.append(f"    {word} {cond}:")
            self.unpack(decl.type, "x", "        ", out)
            word = "elif"
        out.append("    else:")
        if u.default is not None:
            self.unpack(u.default.type, "x", "        ", out)
        else:
            out.append(f"        raise ProtocolError(f'{u.name}: no arm for discriminant {{d}}')")
        out.append("    return (d, x), o")
        return out


def _refs(gen: _Gen, t: Type) -> set[str]:
    """The structs and unions a type uses directly."""
    t = gen.resolve(t)
    if t.kind == "ref":
        return {t.ref}
    return _refs(gen, t.elem) if t.elem is not None else set()


def _proc_types(spec: XdrSpec) -> dict[str, tuple[int, str | None, str | None, bool]]:
    """Procedure name -> (number, args type, ret type, is an event); an event's ``_msg`` stands as its args."""
    out = {}
    known = set(spec.structs) | set(spec.unions)
    for enum_name, entries in spec.procedures.items():
        prefix = enum_name.removesuffix("_procedure")
        for p in entries:
            stem = prefix + "_" + p.name.split("_PROC_", 1)[1].lower()
            args, ret, msg = (f"{stem}_{x}" if f"{stem}_{x}" in known else None for x in ("args", "ret", "msg"))
            out[p.name] = (p.number, msg or args, ret, msg is not None)
    return out


def place_types(spec: XdrSpec, module: str, deps: dict[str, XdrSpec], placement: dict[str, str], chunk: int) -> None:
    """Decide which generated module holds each struct's and union's functions (added to ``placement``).

    With ``chunk`` 0 all live in ``module``. Otherwise a procedure's own
    ``_args``/``_ret``/``_msg`` struct (used by nothing else) goes to
    ``{module}_p{number // chunk}``, a shared type that only one chunk's
    procedures use (directly or through other types) to that chunk, and every
    other shared type to ``{module}_types``, so a client imports the code of
    the procedures it calls, not all 443; :data:`OPENING_CALLS` join
    ``CONNECT_OPEN`` in the first chunk.
    """
    if not chunk:
        placement.update(dict.fromkeys(spec.order, module))
        return
    gen = _Gen(spec, deps, placement, module)
    placement.update(dict.fromkeys(spec.order, f"{module}_types"))  # provisional, for resolve()
    used: set[str] = set()
    for name in spec.order:
        if name in spec.structs:
            decls = spec.structs[name]
        else:
            u = spec.unions[name]
            decls = [u.discriminant, *(d for _, d in u.arms), *([u.default] if u.default is not None else [])]
        for d in decls:
            used |= _refs(gen, d.type)
    first = f"{module}_p0"  # CONNECT_OPEN's chunk, which every connection loads
    refs: dict[str, set[str]] = {}
    for name in spec.order:
        refs[name] = set()
        if name in spec.structs:
            decls = spec.structs[name]
        else:
            u = spec.unions[name]
            decls = [u.discriminant, *(d for _, d in u.arms), *([u.default] if u.default is not None else [])]
        for d in decls:
            refs[name] |= {r for r in _refs(gen, d.type) if r in refs or r in spec.order}
    chunks: dict[str, set[str]] = {}  # shared type -> the chunks whose procedures use it, directly or not
    for name, (number, args, ret, _) in _proc_types(spec).items():
        target = first if name in OPENING_CALLS else f"{module}_p{number // chunk}"
        for tname in (args, ret):
            if tname is not None and tname in spec.order and tname not in used:
                placement[tname] = target
            todo = [tname] if tname is not None and tname in spec.order else []
            if todo and tname in used:  # a procedure's own struct that other types use too
                chunks.setdefault(todo[0], set()).add(target)
            seen: set[str] = set()
            while todo:
                for ref in refs[todo.pop()] - seen:
                    seen.add(ref)
                    todo.append(ref)
                    chunks.setdefault(ref, set()).add(target)
    # A shared type that the procedures of one chunk alone use lives in that chunk: ``{module}_types`` then
    # holds only what several chunks share (a short client run loaded all 700 shared types' code, 44 KB of
    # bytecode, for the three or four it uses). A type it holds uses only types it holds too: whatever
    # uses a type, in whichever chunk, uses what that type uses.
    for tname, where in chunks.items():
        if len(where) == 1 and tname in used:
            placement[tname] = next(iter(where))


_HEAD = [
    "# ruff: noqa",
    "# fmt: off",
    "from __future__ import annotations",
    "",
]


def _docstring(source: str, extra: str = "") -> list[str]:
    return [
        f'"""libvirt 9.0 {source}, generated by pyvirt.remote.xdrgen: do not edit (regenerate instead).{extra}',
        "",
        "Structs are tuples in field order (see FIELDS), unions (discriminant, value);",
        "the mapping and its reasons are in ``pyvirt.remote.xdrgen``.",
        '"""',
        "",
    ]


def _client_index(
    spec: XdrSpec,
    source: str,
    proc_types: dict[str, tuple[int, str | None, str | None, bool]],
    placement: dict[str, str],
) -> str:
    """The ``_<module>_index`` module: one text line per procedure, for a client that makes a few calls.

    Why a text: the program's module (its 518 constants, ``_WHERE`` and the
    443-row table with libvirt's annotations) is 100 KB of bytecode, which a
    short ``pyvirsh`` run spent 4 million instructions loading to find five
    procedures. One string constant unmarshals as one copy, and
    the client (``pyvirt.remote.driver``) finds a procedure's line with
    ``str.find``. A line reads ``NAME NUMBER ARGS_TYPE ARGS_MODULE RET_TYPE
    RET_MODULE`` (``NAME`` without its ``REMOTE_PROC_`` prefix, ``-`` for no
    type).
    """
    lines = []
    for entries in spec.procedures.values():
        for p in entries:
            number, args, ret, _ = proc_types[p.name]
            words = [p.name.split("_PROC_", 1)[1], str(number)]
            for ref in (args, ret):
                words += [ref, placement[ref]] if ref else ["-", "-"]
            lines.append(f'    "{" ".join(words)}\\n"')
    doc = (
        f'"""libvirt 9.0 {source}, generated by pyvirt.remote.xdrgen: do not edit (regenerate instead).'
        ' The client\'s index\nof the procedures (read by ``pyvirt.remote.driver``).\n"""\n'
    )
    return "\n".join([doc, *_HEAD, "INDEX = (", '    "\\n"', *lines, ")"]) + "\n"


def _functions(
    spec: XdrSpec, deps: dict[str, XdrSpec], placement: dict[str, str], module: str, main: str
) -> tuple[list[str], _Gen]:
    """The pack/unpack functions of every type placed in ``module``, and the generator that wrote them."""
    gen = _Gen(spec, deps, placement, module, main)
    body: list[str] = []
    for name in spec.order:
        if placement[name] != module:
            continue
        if name in spec.structs:
            funcs = (gen.pack_struct(name, spec.structs[name]), gen.unpack_struct(name, spec.structs[name]))
        else:
            funcs = (gen.pack_union(spec.unions[name]), gen.unpack_union(spec.unions[name]))
        for fn in funcs:
            body += ["", "", *fn]
    return body, gen


def _codec_imports(gen: _Gen, extra: set[tuple[str, str]] | None = None, *, table: bool = False) -> list[str]:
    head = [
        # _struct, the C module struct.py only re-exports: loading struct.py too cost every client run
        # 0.4 million instructions
        "from _struct import Struct",
        "from _struct import pack as _pack",
        "from _struct import unpack_from as _unpack_from",
        "",
        "TYPE_CHECKING = False  # mypy takes it as true; a short client run need not import typing",
        "if TYPE_CHECKING:",
        "    from typing import Any",
        "",
        "from pyvirt.remote.xdr import (",
        "    _FALSE, _PAD, _TRUE, _U32, Buffer, ProtocolError, _pack_chars, _pack_opaque, _pack_opt_string,",
        "    _pack_string, _pack_uchars, _unpack_opaque, _unpack_opt_string, _unpack_string,",
        ")",
        *(["from pyvirt.remote.procedure_table import Procedure"] if table else []),
    ]
    imports = gen.imports | (extra or set())
    for mod in sorted({m for m, _ in imports}):
        names = sorted({n for m, n in imports if m == mod})
        head.append(f"from pyvirt.remote._{mod} import (")
        head += [f"    {d}_{n}," for n in names for d in ("pack", "unpack")]
        head.append(")")
    return [*head, ""]


def generate(
    spec: XdrSpec,
    module: str,
    source: str,
    deps: dict[str, XdrSpec] | None = None,
    placement: dict[str, str] | None = None,
) -> dict[str, str]:
    """The Python modules for one parsed ``.x`` file, by module name (``remote``, ``remote_types``, ...).

    ``deps``: module name -> spec whose types this one uses; ``placement``:
    where every type's functions live (:func:`place_types`), this file's
    included. ``module`` itself always holds the constants, ``FIELDS`` and
    ``PROCEDURES``; when the functions live elsewhere it imports them on first
    use (a module ``__getattr__`` and a lazy procedure table).
    """
    deps = deps or {}
    if placement is None:
        placement = {}
        for m, d in deps.items():
            place_types(d, m, {}, placement, 0)
        place_types(spec, module, deps, placement, 0)
    own = sorted({placement[n] for n in spec.order})
    lazy = own != [module] and bool(spec.order)
    out: dict[str, str] = {}

    consts = ["", "# ---------------------------------------------------------------- constants", ""]
    consts += [f"{n} = {hex(v) if v > 0xFFFF else v}" for n, v in spec.constants.items()]
    for enum_name, values in spec.enums.items():
        consts += ["", f"# enum {enum_name}"]
        consts += [f"{n} = {v}" for n, v in values]
    fields = ["", "FIELDS: dict[str, tuple[str, ...]] = {"]
    for name in spec.order:
        if name in spec.structs:
            field_names = ", ".join(repr(d.name) for d in spec.structs[name])
            fields.append(f"    {name!r}: ({field_names}{',' if len(spec.structs[name]) == 1 else ''}),")
        else:
            fields.append(f"    {name!r}: ({spec.unions[name].discriminant.name!r}, 'value'),")
    fields.append("}")

    procs: list[str] = []
    proc_types = _proc_types(spec)
    proc_imports: set[tuple[str, str]] = set()
    for enum_name, entries in spec.procedures.items():
        prefix = enum_name.removesuffix("_procedure")
        program = spec.constants[f"{prefix.upper()}_PROGRAM"]
        version = spec.constants[f"{prefix.upper()}_PROTOCOL_VERSION"]
        procs += ["", "", f"PROGRAM = {hex(program)}", f"PROTOCOL_VERSION = {version}", ""]
        if lazy:
            procs += ["PROCEDURES: Mapping[int, Procedure] = LazyProcedures(_module_of, {"]
        else:
            procs += ["PROCEDURES: dict[int, Procedure] = {"]
        for p in entries:
            number, args, ret, is_msg = proc_types[p.name]
            annotations = repr(tuple(p.annotations))
            if lazy:
                procs.append(f"    {number}: ({p.name!r}, {args!r}, {ret!r}, {is_msg}, {annotations}),")
                continue
            for ref in (args, ret):
                if ref is not None and placement[ref] != module:
                    proc_imports.add((placement[ref], ref))
            procs.append(f"    {number}: Procedure(")
            procs.append(f"        {number},")
            procs.append(f"        {p.name!r},")
            for ref in (args, ret):
                procs.append(f"        pack_{ref}," if ref else "        None,")
                procs.append(f"        unpack_{ref}," if ref else "        None,")
            procs.append(f"        {is_msg},")
            procs.append(f"        {annotations},")
            procs.append(f"        {args!r},")
            procs.append(f"        {ret!r},")
            procs.append("    ),")
        procs.append("})" if lazy else "}")

    if lazy:
        where = ["", "# where each type's pack_/unpack_ functions live (imported on first use)", "_WHERE = {"]
        where += [f"    {n!r}: {placement[n]!r}," for n in spec.order]
        where += [
            "}",
            "",
            "",
            "def _module_of(type_name: str) -> Any:",
            "    return _import_module(f'pyvirt.remote._{_WHERE[type_name]}')",
            "",
            "",
            "def _import_module(name: str) -> Any:",
            "    # not importlib.import_module: the importlib package and the warnings module it loads cost a",
            "    # client run 1.5 million instructions",
            "    __import__(name)",
            "    return sys.modules[name]",
            "",
            "",
            "def __getattr__(name: str) -> Any:",
            "    if name == 'FIELDS':  # for the daemon and for debugging; a client never needs it",
            "        return _import_module(f'{__name__}_fields').FIELDS",
            "    kind, _, type_name = name.partition('_')",
            "    if kind in ('pack', 'unpack') and type_name in _WHERE:",
            "        return getattr(_module_of(type_name), name)",
            "    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')",
        ]
        head = [
            *_docstring(
                source,
                "\n\nThe pack/unpack functions live in the modules ``_WHERE`` names; a client imports only\n"
                "those of the procedures it calls.",
            ),
            *_HEAD,
            "import sys",
            "",
            "# mypy takes it as true; a short client run need not import typing, nor the collections package",
            "TYPE_CHECKING = False",
            "if TYPE_CHECKING:",
            "    from collections.abc import Mapping",
            "    from typing import Any",
            "",
            "from pyvirt.remote.procedure_table import LazyProcedures, Procedure",
            "",
        ]
        lines = [*head, *consts, *where, *procs]
        out[module] = "\n".join(lines).replace("'", '"') + "\n"
        out[f"{module}_fields"] = (
            "\n".join([*_docstring(source, " Field names."), *_HEAD, *fields[1:]]).replace("'", '"') + "\n"
        )
        out[f"{module}_index"] = _client_index(spec, source, proc_types, placement)
        for target in own:
            body, gen = _functions(spec, deps, placement, target, module)
            structs = [f"{fmt_var} = Struct({fmt!r})" for fmt, fmt_var in gen.structs_used.items()]
            text = [*_docstring(source, f" Functions of {target}."), *_HEAD, *_codec_imports(gen), *structs, *body]
            out[target] = "\n".join(text).replace("'", '"') + "\n"
        return out

    body, gen = _functions(spec, deps, placement, module, module)
    structs = [f"{fmt_var} = Struct({fmt!r})" for fmt, fmt_var in gen.structs_used.items()]
    lines = [
        *_docstring(source),
        *_HEAD,
        *_codec_imports(gen, proc_imports, table=True),
        *consts,
        "",
        *structs,
        *fields,
        *body,
        *procs,
    ]
    out[module] = "\n".join(lines).replace("'", '"') + "\n"
    return out


# remote_protocol.x's procedure-private types are split into modules of this many procedures each
CHUNK = {"remote": 32}
# Called by every connection as it opens (libvirt's remote open: AUTH_LIST, the keepalive probe), and
# by the commonest short command, ``list``: they go to CONNECT_OPEN's chunk, so ``pyvirsh list``
# loads one procedure module instead of five (each is 30-45 KB of bytecode to unmarshal).
OPENING_CALLS = frozenset({
    "REMOTE_PROC_AUTH_LIST", "REMOTE_PROC_CONNECT_SUPPORTS_FEATURE", "REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS",
    "REMOTE_PROC_DOMAIN_GET_STATE",
})  # fmt: skip


def generate_all(libvirt_src: Path) -> dict[str, str]:
    """Every generated module, by module name (``remote`` -> ``_remote.py``'s text)."""
    external = external_constants(libvirt_src)
    specs: dict[str, XdrSpec] = {}
    placement: dict[str, str] = {}
    out: dict[str, str] = {}
    for rel, module, dep_names in PROTOCOLS:
        text = (libvirt_src / rel).read_text()
        deps = {d: specs[d] for d in dep_names}
        merged = dict(external)
        for d in deps.values():
            merged.update(d.constants)
        spec = parse(text, merged)
        specs[module] = spec
        place_types(spec, module, deps, placement, CHUNK.get(module, 0))
        out.update(generate(spec, module, rel, deps, placement))
    return out
