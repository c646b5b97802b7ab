"""Command lines as virsh reads them: words, quotes, ``;`` and comments, the whole line before any of it runs.

virsh parses a line (``virsh 'define x.xml; start x'``, one line of a
script on stdin) completely before it runs the first command: an unknown
command, an unknown or repeated option or a missing argument anywhere
prints one error, runs nothing and fails the line. Scripts rely on that, so
the tokenizer follows vshCommandStringGetArg rule for rule (quotes, ``\\``
escapes, backslash-newline, ``#`` comments, ``;`` and newline separators)
and the option rules live in :meth:`CommandDef.parse_words`.
"""

from __future__ import annotations

from _collections_abc import Callable, Iterator, Sequence

from pyvirt.cli.framework import CommandDef, CommandError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["END", "ParsedCommand", "parse_argv", "parse_line", "split_words"]

END = None  # marks the end of one command in split_words' stream (``;`` or a newline)

Lookup = Callable[[str], "CommandDef | None"]


class ParsedCommand(NamedTuple):
    cmd: CommandDef
    given: dict[str, Any]  # option name -> text (list of texts for argv options, True for flags)
    wants_help: bool


def split_words(line: str, *, complete: bool = False) -> Iterator[str | None]:
    """Words of ``line``, with :data:`END` between commands (vshCommandStringGetArg).

    ``complete`` is the completer's mode: an unterminated double quote is
    accepted instead of being an error (the user is still typing).
    """
    pos, n = 0, len(line)
    while True:
        while pos < n and (line[pos] in " \t" or (line[pos] == "\\" and line[pos + 1 : pos + 2] == "\n")):
            pos += 2 if line[pos] == "\\" else 1
        if pos >= n:
            return
        ch = line[pos]
        if ch in ";\n":
            pos += 1
            yield END
            continue
        if ch == "#":  # a word starting with '#' comments out the rest of the line
            while pos < n and line[pos] != "\n":
                pos += 1
            pos += 1
            yield END
            continue
        word: list[str] = []
        single = double = False
        while pos < n:
            ch = line[pos]
            if not single and not double and ch in " \t;\n":
                break
            if not double and ch == "'":
                single = not single
                pos += 1
                continue
            if not single and ch == "\\":
                pos += 1
                if pos >= n:
                    if complete:
                        break
                    raise CommandError("dangling \\")
                if line[pos] == "\n":
                    pos += 1
                    continue
            elif not single and ch == '"':
                double = not double
                pos += 1
                continue
            word.append(line[pos])
            pos += 1
        if double and not complete:
            raise CommandError('missing "')
        yield "".join(word)


def _parse_one(lookup: Lookup, words: list[str]) -> ParsedCommand:
    cmd = lookup(words[0])
    if cmd is None:
        raise CommandError(f"unknown command: '{words[0]}'")
    given, wants_help = cmd.parse_words(words[1:])
    return ParsedCommand(cmd, given, wants_help)


def parse_line(line: str, lookup: Lookup) -> list[ParsedCommand]:
    """Every command of ``line``, or :class:`CommandError` for the first thing wrong in it.

    Words are taken one command at a time, as virsh takes them, so of a
    quoting error and an unknown command the earlier one is reported.
    """
    out: list[ParsedCommand] = []
    words: list[str] = []
    for word in split_words(line):
        if word is END:
            if words:
                out.append(_parse_one(lookup, words))
            words = []
        else:
            words.append(word)
    if words:
        out.append(_parse_one(lookup, words))
    return out


def parse_argv(argv: Sequence[str], lookup: Lookup) -> list[ParsedCommand]:
    """``pyvirsh CMD ARG...``: the words are one command, ``;`` included (vshCommandArgvParse)."""
    return [_parse_one(lookup, list(argv))]
