"""How pyvirsh commands are declared, parsed and run (virsh's conventions).

- Options may be given by name (``--domain test``) or by position (``test``),
  in the order the command declares its positional options.
- A missing required option is virsh's "command 'X' requires <Y> option".
- ``Session.out`` always prints (vshPrint); ``Session.extra`` is silenced by
  ``-q`` (vshPrintExtra). Each command ends with an extra newline unless quiet.
- Errors print as ``error: …`` lines on stderr; a command may add its own
  first line (``Failed to start domain 'x'``) before the library's message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pyvirt.errors import Error

if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["CommandDef", "CommandError", "Opt", "Session", "command"]


class CommandError(Exception):
    """A command failed; ``lines`` are printed after ``error: `` each."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


class Opt(NamedTuple):
    """One option: ``name`` as in virsh (``--name``), bool flags take no value.

    Opt, CommandDef and the records of the public API are NamedTuples or
    plain classes, not dataclasses: ``@dataclass`` generates and compiles code
    for every class, a quarter of a millisecond each, paid by every pyvirsh run.
    """

    name: str
    help: str = ""
    required: bool = False
    positional: bool = False
    flag: bool = False
    kind: str = "string"  # shown in help: string, number, list (a positional taking every remaining word)
    default: Any = None
    aliases: tuple[str, ...] = ()


Handler = Callable[["Session", dict[str, Any]], None]


class CommandDef(NamedTuple):
    name: str
    summary: str
    opts: tuple[Opt, ...]
    handler: Handler
    description: str = ""
    needs_connection: bool = True

    def help_text(self) -> str:
        lines = ["  NAME", f"    {self.name} - {self.summary}", "", "  SYNOPSIS"]
        syn = [self.name]
        for o in self.opts:
            if o.flag:
                syn.append(f"[--{o.name}]")
            elif o.required and o.positional:
                syn.append(f"[--{o.name}] <{o.kind}>")
            elif o.required:
                syn.append(f"--{o.name} <{o.kind}>")
            else:
                syn.append(f"[--{o.name} <{o.kind}>]")
        lines.append("    " + " ".join(syn))
        lines += ["", "  DESCRIPTION", f"    {self.description or self.summary}."]
        if self.opts:
            lines += ["", "  OPTIONS"]
            for o in self.opts:
                head = (
                    f"--{o.name}"
                    if o.flag
                    else f"[--{o.name}] <{o.kind}>"
                    if o.positional
                    else f"--{o.name} <{o.kind}>"
                )
                lines.append(f"    {head:<28}{o.help}")
        return "\n".join(lines) + "\n"

    def parse(self, argv: Sequence[str]) -> dict[str, Any]:
        values: dict[str, Any] = {o.name: (False if o.flag else o.default) for o in self.opts}
        by_name = {o.name: o for o in self.opts}
        for o in self.opts:
            for a in o.aliases:
                by_name[a] = o
        positional = [o for o in self.opts if o.positional]
        seen: set[str] = set()
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg.startswith("--") and len(arg) > 2:
                key, eq, val = arg[2:].partition("=")
                opt = by_name.get(key)
                if opt is None:
                    raise CommandError(f"command '{self.name}' doesn't support option --{key}")
                if opt.flag:
                    values[opt.name] = True
                else:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            raise CommandError(f"expected syntax: --{key} <{opt.kind}>")
                        val = argv[i]
                    values[opt.name] = self._convert(opt, val)
                seen.add(opt.name)
            else:
                if arg == "--":
                    i += 1
                    continue
                slot = next((o for o in positional if o.name not in seen or o.kind == "list"), None)
                if slot is None:
                    raise CommandError(f"unexpected data '{arg}'")
                if slot.kind == "list":  # virsh's trailing argv: every remaining word
                    values[slot.name] = [*(values[slot.name] or []), arg]
                else:
                    values[slot.name] = self._convert(slot, arg)
                seen.add(slot.name)
            i += 1
        for o in self.opts:
            if o.required and o.name not in seen:
                raise CommandError(f"command '{self.name}' requires <{o.name}> option")
        return values

    def _convert(self, opt: Opt, raw: str) -> Any:
        if opt.kind == "number":
            try:
                return int(raw, 0)
            except ValueError:
                raise CommandError(
                    f"Numeric value '{raw}' for <{opt.name}> option is malformed or out of range"
                ) from None
        return raw


REGISTRY: dict[str, CommandDef] = {}


def command(
    name: str, summary: str, *opts: Opt, description: str = "", needs_connection: bool = True
) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        REGISTRY[name] = CommandDef(name, summary, tuple(opts), fn, description, needs_connection)
        return fn

    return wrap


class Session:
    """virsh's ``ctl``: connection settings, output, and the lazily opened connection."""

    def __init__(self, uri: str | None = None, readonly: bool = False, quiet: bool = False,
                 stdout: Any = None, stderr: Any = None) -> None:  # fmt: skip
        self.uri = uri
        self.readonly = readonly
        self.quiet = quiet
        self.stdout: Any = stdout if stdout is not None else sys.stdout
        self.stderr: Any = stderr if stderr is not None else sys.stderr
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            from pyvirt.opening import open as open_connection

            try:
                self._conn = open_connection(self.uri, read_only=self.readonly)
            except Error as exc:
                raise CommandError("failed to connect to the hypervisor", exc.message) from exc
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def out_raw(self, text: str) -> None:
        """vshPrint("%s"): for documents that end with their own newline."""
        self.stdout.write(text)

    def extra(self, text: str = "") -> None:
        if not self.quiet:
            self.stdout.write(text + "\n")

    def extra_raw(self, text: str) -> None:
        """vshPrintExtra without a newline: the per-command trailer ends the line."""
        if not self.quiet:
            self.stdout.write(text)

    def error(self, line: str) -> None:
        self.error_raw(f"error: {line}\n")

    def error_raw(self, text: str) -> None:
        """Text for stderr as it is (libxml's own messages); stdout first, as vshError does.

        When both streams share one pipe (``2>&1``), anything still buffered
        for stdout would otherwise appear after this message.
        """
        self.stdout.flush()
        self.stderr.write(text)
        self.stderr.flush()

    def flush(self) -> None:
        """End of a command: what it printed leaves now (vshPrint flushes each print)."""
        self.stdout.flush()
