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
from _collections_abc import Callable, Sequence

from pyvirt.errors import Error

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from pyvirt.connection import Connection
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["XPATH_OPTS", "CommandDef", "CommandError", "Opt", "Session", "command"]


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
    # string; number; scaled (a number with a unit suffix, written as a number in help);
    # list (virsh's argv: every remaining word); optstring (virsh's VSH_OT_STRING that may
    # also come by position, written "[--name <string>]" in help, as help's --command and cd's --dir)
    # intstring: virsh's VSH_OT_INT (``<number>`` in help) handed over as written, for a handler that parses
    # it where virsh does, after checks that come first (update-memory-device's --node and --requested-size)
    kind: str = "string"
    default: Any = None
    aliases: tuple[str, ...] = ()


Handler = Callable[["Session", "dict[str, Any]"], None]


class CommandDef(NamedTuple):
    name: str
    summary: str
    opts: tuple[Opt, ...]
    handler: Handler
    description: str | None = None  # None: the summary; "": no DESCRIPTION section (virsh's quit)
    needs_connection: bool = True
    hidden: bool = False  # virsh's VSH_CMD_FLAG_HIDDEN: runs, but is not listed or completed

    def help_text(self) -> str:
        """``help CMD`` in virsh's layout (vshCmddefHelp): NAME, SYNOPSIS, DESCRIPTION, OPTIONS.

        Scripts and people compare it with virsh's, so the column widths and
        the way each option kind is written follow virsh's exactly.
        """
        summary, synopsis, description, rows = self.help_parts()
        out = ["  NAME", f"    {self.name} - {summary}", "", "  SYNOPSIS", f"    {synopsis}"]
        if description:
            out += ["", "  DESCRIPTION", f"    {description}"]
        if rows:
            out += ["", "  OPTIONS"]
            out += [f"    {head:<15}  {text}" for head, text in rows]
        return "\n".join(out) + "\n\n"

    def help_parts(self) -> tuple[str, str, str, list[tuple[str, str]]]:
        """Summary, synopsis, description and (option as written, its help): what ``help`` and the man page show."""
        summary, description, option_help = self.texts()
        syn = self.name
        shortopt = False  # virsh: once an option may be given by position, a trailing argv may be named too
        rows = []
        for o in self.opts:
            text = option_help.get(o.name, o.help)
            if o.flag:
                syn += f" [--{o.name}]"
                rows.append((f"--{o.name}", text))
            elif o.kind == "list":
                if shortopt:
                    syn += f" {{[--{o.name}] <string>}}..." if o.required else f" [[--{o.name}] <string>]..."
                else:
                    syn += f" <{o.name}>..." if o.required else f" [<{o.name}>]..."
                rows.append((f"[--{o.name}] <string>" if shortopt else f"<{o.name}>", text))
            elif o.kind in ("number", "scaled", "intstring"):
                syn += f" <{o.name}>" if o.required else f" [--{o.name} <number>]"
                shortopt = shortopt or o.positional
                rows.append((f"[--{o.name}] <number>" if o.required else f"--{o.name} <number>", text))
            elif o.positional and o.kind != "optstring":
                syn += f" <{o.name}>" if o.required else f" [<{o.name}>]"
                shortopt = True
                rows.append((f"[--{o.name}] <string>", text))
            else:
                syn += f" [--{o.name} <string>]"
                shortopt = shortopt or o.positional
                rows.append((f"--{o.name} <string>", text))
        return summary, syn, description, rows

    def texts(self) -> tuple[str, str, dict[str, str]]:
        """Summary, description and option help for ``help``: virsh's words for virsh's commands and options.

        A command virsh also has is described as virsh describes it (scripts
        and people compare the two); pyvirsh's own commands and options
        keep their own text.
        """
        from pyvirt.cli.virsh_help import VIRSH_HELP

        known = VIRSH_HELP.get(self.name)
        if known is not None:
            return known
        return self.summary, self.summary if self.description is None else self.description, {}

    def parse(self, argv: Sequence[str]) -> dict[str, Any]:
        """Words after the command name to typed values (both steps of :meth:`parse_words` and :meth:`convert`)."""
        return self.convert(self.parse_words(argv)[0])

    def parse_words(self, argv: Sequence[str]) -> tuple[dict[str, Any], bool]:
        """virsh's vshCommandParse for one command: which word is which option; values stay text.

        Returns the options given and whether ``--help`` was among them
        (virsh then shows the command's help instead of running it). Only
        syntax is checked here, for every command of a line before any
        runs; numbers are converted when the command runs, as virsh does,
        so ``uri; setmem test abc`` runs ``uri`` first.
        """
        by_name = {o.name: o for o in self.opts}
        for o in self.opts:
            for a in o.aliases:
                by_name.setdefault(a, o)
        need = [o for o in self.opts if o.positional and not o.flag]
        given: dict[str, Any] = {}
        seen: set[str] = set()
        wants_help = False
        data_only = False
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if not data_only and arg[:2] == "--" and arg[2:3].isascii() and arg[2:3].isalnum():
                key, eq, val = arg[2:].partition("=")
                if key == "help":
                    if eq:
                        raise CommandError("invalid '=' after option --help")
                    wants_help = True
                    continue
                opt = by_name.get(key)
                if opt is None:
                    if self.name == "help":  # virsh's help ignores what it does not know
                        continue
                    raise CommandError(f"command '{self.name}' doesn't support option --{key}")
                if opt.name in seen and opt.kind != "list":
                    raise CommandError(f"option --{opt.name} already seen")
                seen.add(opt.name)
                if opt.flag:
                    if eq:
                        raise CommandError(f"invalid '=' after option --{opt.name}")
                    given[opt.name] = True
                    continue
                if not eq:
                    if i >= len(argv):
                        kind = "number" if opt.kind in ("number", "scaled", "intstring") else "string"
                        raise CommandError(f"expected syntax: --{opt.name} <{kind}>")
                    val = argv[i]
                    i += 1
                if opt.kind == "list":
                    given.setdefault(opt.name, []).append(val)
                else:
                    given[opt.name] = val
                    if opt in need:
                        need.remove(opt)
            elif not data_only and arg == "--":
                data_only = True
            else:
                if not need:
                    if self.name == "help":
                        continue
                    raise CommandError(f"unexpected data '{arg}'")
                slot = need[0]
                seen.add(slot.name)
                if slot.kind == "list":
                    given.setdefault(slot.name, []).append(arg)
                else:
                    need.pop(0)
                    given[slot.name] = arg
        if wants_help:
            return given, True
        # vshCommandCheckOpts: only DATA and ARGV options (positional strings, lists) are named "<name>"; a
        # required number is "--name" even where it may come by position (setmem's size, setvcpus' count)
        missing = [
            f"command '{self.name}' requires <{o.name}> option"
            if o.positional and o.kind in ("string", "list")
            else f"command '{self.name}' requires --{o.name} option"
            for o in self.opts
            if o.required and o.name not in seen
        ]
        if missing:
            raise CommandError(*missing)
        return given, False

    def convert(self, given: dict[str, Any]) -> dict[str, Any]:
        """Typed values for the handler: every option present, defaults filled, numbers checked."""
        values: dict[str, Any] = {o.name: (False if o.flag else o.default) for o in self.opts}
        for o in self.opts:
            if o.name in given:
                raw = given[o.name]
                values[o.name] = raw if o.flag or o.kind == "list" else self._convert(o, raw)
        return values

    def _convert(self, opt: Opt, raw: str) -> Any:
        if opt.kind == "number":
            try:
                return int(raw, 0)
            except ValueError:
                raise CommandError(
                    f"Numeric value '{raw}' for <{opt.name}> option is malformed or out of range"
                ) from None
        if opt.kind == "scaled":
            return _scaled(opt.name, raw)
        return raw


def _scaled(name: str, raw: str) -> int:
    """vshCommandOptScaledInt: digits and an optional unit (``1G``, ``512KiB``), refused as virsh refuses them."""
    import re

    from pyvirt.conf.units import unit_factor

    first = f"Scaled numeric value '{raw}' for <{name}> option is malformed or out of range"
    match = re.fullmatch(r"(\d+)(.*)", raw)
    if match is None:
        raise CommandError(first)
    try:
        return int(match[1]) * (unit_factor(match[2]) if match[2] else 1)
    except ValueError:  # virScaleInteger's own error follows virsh's line
        raise CommandError(first, f"invalid argument: unknown suffix '{match[2]}'") from None


REGISTRY: dict[str, CommandDef] = {}

# The options of every XML-printing command (printed by pyvirt.cli.xpath_output, which re-exports them). Here, not
# there: a command module that declares them (domain_cmds for dumpxml) then loads xpath_output only when one of its
# commands prints XML, instead of on every destroy, start or list (a module costs a run about 250,000 instructions).
XPATH_OPTS = (Opt("xpath", "print the output of the XPath expression"),
              Opt("wrap", "wrap xpath results in a common root element", flag=True))  # fmt: skip


def command(
    name: str,
    summary: str,
    *opts: Opt,
    description: str | None = None,
    needs_connection: bool = True,
    hidden: bool = False,
) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        REGISTRY[name] = CommandDef(name, summary, tuple(opts), fn, description, needs_connection, hidden)
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
        # virsh's global options (-e, -k, -K, -d, -l, -t) and shell state
        self.escape = "^]"
        self.keepalive_interval = -1  # -1: not given (libvirt's default applies)
        self.keepalive_count = -1
        self.debug_level = 4  # VSH_ERR_ERROR: only -d lowers it
        self.log_fd = -1
        self.timing = False
        self.interactive = False  # reading commands from stdin; ``quit`` ends it, ``cd`` needs it
        self.command = ""  # the command running, for virsh's ``-d`` traces ("domid: found option <domain>")
        # The command table, set by pyvirt.cli.main: help, completion and the parser look names up here.
        self.lookup: Callable[[str], CommandDef | None] = REGISTRY.get
        self.command_names: Sequence[str] = ()

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            from pyvirt.opening import open as open_connection

            try:
                conn = open_connection(self.uri, read_only=self.readonly)
            except Error as exc:
                raise CommandError("failed to connect to the hypervisor", exc.message) from exc
            self._conn = self._keep_alive(conn)
        return self._conn

    def _keep_alive(self, conn: Connection) -> Connection:
        """virshConnect's keepalive: 5 s and 6 pings unless ``-k``/``-K`` say otherwise.

        When either option was given, a connection that cannot keep alive
        (an in-process driver has no peer) is closed and the command fails
        as virsh's does; otherwise the failure is only a debug line. ``-k 0``
        turns the keepalive of a remote connection off (virsh never starts
        it; pyvirt's remote driver starts it at open, so it is stopped here).
        """
        forced = self.keepalive_interval >= 0 or self.keepalive_count >= 0
        interval = self.keepalive_interval if self.keepalive_interval >= 0 else 5
        count = self.keepalive_count if self.keepalive_count >= 0 else 6
        if interval <= 0:
            if conn.calls.implements("connect_set_keep_alive"):
                conn.set_keep_alive(0, count)
            return conn
        if not forced and not conn.calls.implements("connect_set_keep_alive"):
            self.debug(1, "Failed to setup keepalive on connection\n")  # the in-process case, without the call
            return conn
        try:
            conn.set_keep_alive(interval, count)
        except Error as exc:
            if forced:
                conn.close()
                raise CommandError(
                    "Cannot setup keepalive on connection as requested, disconnecting",
                    "failed to connect to the hypervisor",
                    exc.message,
                ) from exc
            self.debug(1, "Failed to setup keepalive on connection\n")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reconnect(self, uri: str | None, readonly: bool) -> None:
        """virsh's ``connect``: drop the connection, open ``uri`` (the current one when None).

        The new settings stick only once the connection is open, as
        virshReconnect keeps the old name when the new one fails.
        """
        self.close()
        from pyvirt.opening import open as open_connection

        try:
            conn = open_connection(uri if uri is not None else self.uri, read_only=readonly)
        except Error as exc:
            raise CommandError("failed to connect to the hypervisor", exc.message) from exc
        self._conn = self._keep_alive(conn)
        if uri is not None:
            self.uri = uri
        self.readonly = readonly

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
        self.log(4, line)
        self.error_raw(f"error: {line}\n")

    def debug(self, level: int, text: str) -> None:
        """vshDebug: shown on stdout (as virsh shows it) and logged when ``level`` >= ``-d``."""
        if level < self.debug_level:
            return
        self.log(level, text)
        self.stdout.write(text)
        self.stdout.flush()

    def log(self, level: int, text: str) -> None:
        """One line in the ``-l`` file, in virsh's format: ``[YYYY.MM.DD HH:MM:SS pyvirsh PID] LEVEL message``."""
        if self.log_fd < 0:
            return
        import os
        import time

        name = ("DEBUG", "INFO", "INFO", "WARNING", "ERROR")[level] if 0 <= level <= 4 else "DEBUG"
        stamp = time.strftime("%Y.%m.%d %H:%M:%S")
        line = f"[{stamp} pyvirsh {os.getpid()}] {name} {text.rstrip(chr(10))}\n"
        try:
            os.write(self.log_fd, line.encode())
        except OSError:
            os.close(self.log_fd)
            self.log_fd = -1
            self.error("failed to write the log file")

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
