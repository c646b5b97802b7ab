"""``pyvirsh`` with no command: the shell, reading commands from a terminal or from standard input.

On a terminal it is virsh's interactive shell: a prompt (``pyvirsh # ``,
``pyvirsh > `` when read-only), readline editing, history kept in
``$XDG_CACHE_HOME/pyvirsh/history`` (``VIRSH_HISTSIZE`` lines, as virsh),
and TAB completion of commands, options and object names.

From a pipe or a file (``printf 'list\\nuri\\n' | pyvirsh``, ``pyvirsh <
script``, here-documents) it prints what virsh prints there, because
scripts read that output: virsh reads stdin through readline even then,
and readline echoes each line after the prompt. So the banner, each prompt
followed by the line read and a newline, and a newline at end of input all
go to stdout as virsh's do, with pyvirsh's name in place of virsh's; the
exit status is 0 whatever the commands did, as virsh's. readline is
imported only for a terminal, so scripts do not pay for it.
"""

from __future__ import annotations

import os
import sys

from pyvirt.cli.framework import Session

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.cli.parser import ParsedCommand

    Parse = Callable[[str], list[ParsedCommand] | None]
    Run = Callable[[Session, list[ParsedCommand]], bool]

__all__ = ["PROMPT_RO", "PROMPT_RW", "run_shell"]

PROMPT_RW = "pyvirsh # "
PROMPT_RO = "pyvirsh > "
HISTSIZE_MAX = 500000


def _banner(s: Session) -> None:
    if not s.quiet:
        s.out_raw(
            "Welcome to pyvirsh, the virtualization interactive terminal.\n\n"
            "Type:  'help' for help with commands\n"
            "       'quit' to quit\n\n"
        )


def _history_path() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "pyvirsh", "history")


def _history_size(s: Session) -> int | None:
    raw = os.environ.get("VIRSH_HISTSIZE")
    if raw is None:
        return 500
    try:
        size = int(raw, 10)
    except ValueError:
        s.error("Bad $VIRSH_HISTSIZE value.")
        return None
    if not 0 <= size <= HISTSIZE_MAX:
        s.error(f"$VIRSH_HISTSIZE value should be between 0 and {HISTSIZE_MAX}")
        return None
    return size


def _read_piped(s: Session, prompt: str) -> str | None:
    """One line from a pipe or file, shown after the prompt as readline shows it."""
    s.out_raw(prompt)
    s.flush()
    raw = bytearray()
    while True:
        # A byte at a time, as readline reads a pipe: whatever follows this line stays unread, for a
        # command that reads standard input itself (``define /dev/stdin`` takes the rest of the script).
        try:
            byte = os.read(0, 1)
        except InterruptedError:
            continue
        if not byte:
            if not raw:
                return None
            break
        if byte == b"\n":
            break
        raw += byte
    line = raw.decode("utf-8", "surrogateescape")
    s.out_raw(_as_readline_echoes(prompt, line)[len(prompt) :] + "\n")  # the prompt is out already
    return line


def _as_readline_echoes(prompt: str, line: str) -> str:
    """The prompt and line as readline redraws them on a terminal it cannot ask: wrapped every $COLUMNS (80).

    At each wrap readline writes the next character, a carriage return,
    then goes on from that character again (which a terminal overwrites in
    place): "...nop\rpqr...". A line ending exactly at the margin gets
    terminal-specific escapes from readline; they are not imitated.
    """
    full = prompt + line
    try:
        width = int(os.environ.get("COLUMNS", "80"))
    except ValueError:
        width = 80
    if width <= 0 or len(full) <= width:
        return full
    pieces = []
    for start in range(0, len(full), width):
        pieces.append(full[start : start + width + 1] if start + width < len(full) else full[start:])
    return "\r".join(pieces)


def _read_terminal(prompt: str) -> str | None:
    while True:
        try:
            return input(prompt)
        except EOFError:
            return None
        except KeyboardInterrupt:  # Ctrl+C drops the line being typed, as a shell does
            sys.stdout.write("\n")


def run_shell(s: Session, parse: Parse, run: Run) -> int:
    """Read, parse and run lines until end of input or ``quit``; virsh's exit status for it (0)."""
    s.interactive = True
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    readline: Any = None
    if terminal:
        size = _history_size(s)
        if size is None:
            return 1
        from pyvirt.cli.completion import install_readline

        readline = install_readline(s)
        readline.set_history_length(size)
        import contextlib  # a terminal's own cost: scripts on a pipe do not load it

        with contextlib.suppress(OSError):  # no history yet
            readline.read_history_file(_history_path())
    _banner(s)
    s.flush()
    try:
        while s.interactive:
            prompt = PROMPT_RO if s.readonly else PROMPT_RW
            line = _read_terminal(prompt) if terminal else _read_piped(s, prompt)
            if line is None:
                break
            if not line:
                continue
            parsed = parse(line)
            if parsed is not None:
                run(s, parsed)
            s.flush()
        # virsh ends its shell with a line break, after ``quit`` as at end of input (the line
        # break meant for a prompt left alone; virsh frees the line before checking it).
        s.out_raw("\n")
    finally:
        if readline is not None:
            _save_history(s, readline)
    return 0


def _save_history(s: Session, readline: Any) -> None:
    import contextlib

    path = _history_path()
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    except OSError as exc:
        s.error(f"Failed to create '{os.path.dirname(path)}': {exc.strerror}")
        return
    with contextlib.suppress(OSError):  # as virsh: write_history's failure is not reported
        readline.write_history_file(path)
