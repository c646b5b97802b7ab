"""xl.cfg / xm configuration files: libvirt's ``virConf`` syntax, read and written.

Both Xen formats are Python-like ``name = value`` lines whose values are
integers, quoted strings (``"..."``, ``'...'`` or triple-quoted) and
bracketed lists of those. libvirt reads them with ``virConfReadString`` and
writes them with ``virConfWriteMem``; the test corpora compare that written
text byte for byte, so the writer follows ``virConfSaveValue`` exactly (the
quote chosen by what the string contains, ``[ a, b ]`` lists). A malformed
file is refused with CONF_SYNTAX and the line number, which libvirt only
gives when it knows a file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError

__all__ = ["ConfFile", "Value", "parse_conf", "write_conf"]

Value = int | str | list["Value"]


class ConfFile:
    """The entries of one file in order; a name set twice keeps its last value, as virConf does."""

    def __init__(self) -> None:
        self._entries: dict[str, Value] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def get(self, name: str) -> Value | None:
        return self._entries.get(name)

    def set(self, name: str, value: Value) -> None:
        """virConfSetValue: a name set again keeps its place and takes the new value."""
        self._entries[name] = value

    def items(self) -> list[tuple[str, Value]]:
        return list(self._entries.items())


# virconf.c's character classes, matched a run at a time (names are ASCII: virConfParseName uses c_isalpha/c_isalnum)
_BLANKS = re.compile(r"[ \t\r]*")
_COMMENT = re.compile(r"#[^\n]*")
_BLANKS_AND_COMMENTS = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")
_SINGLE_LINE_STRING = {'"': re.compile(r'[^"\n]*'), "'": re.compile(r"[^'\n]*")}


def _syntax(line: int, info: str) -> InternalError:
    return InternalError(ErrorCode.CONF_SYNTAX, f"line {line}: {info}", domain=ErrorDomain.CONF)


class _Parser:
    """virconf.c's recursive-descent parser, one character at a time, counting lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        # whole runs at once: stepping one character per call was a quarter of a conversion's time
        end = min(self.pos + n, len(self.text))
        self.line += self.text.count("\n", self.pos, end)
        self.pos += n

    def _skip(self, pattern: re.Pattern[str]) -> None:
        """Move past what ``pattern`` matches here (it matches the empty string when nothing is to skip)."""
        match = pattern.match(self.text, self.pos)
        if match is not None:
            self.advance(match.end() - self.pos)

    def skip_blanks(self) -> None:
        self._skip(_BLANKS)

    def skip_comment(self) -> None:
        """From ``#`` to the end of the line, the newline left for the caller."""
        self._skip(_COMMENT)

    def skip_blanks_and_comments(self) -> None:
        """Inside a list: newlines and comments are blanks."""
        self._skip(_BLANKS_AND_COMMENTS)

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise _syntax(self.line, "expecting a name")
        self.advance(match.end() - self.pos)
        return match.group()

    def string(self) -> str:
        if self.text.startswith('"""', self.pos):
            self.advance(3)
            end = self.text.find('"""', self.pos)
            if end < 0:
                raise _syntax(self.line, "unterminated string")
            value = self.text[self.pos : end]
            self.advance(end - self.pos + 3)
            return value
        quote = self.peek()
        self.advance()
        start = self.pos
        self._skip(_SINGLE_LINE_STRING[quote])
        if self.peek() != quote:
            raise _syntax(self.line, "unterminated string")
        value = self.text[start : self.pos]
        self.advance()
        return value

    def number(self) -> int:
        start = self.pos
        if self.peek() in "+-":
            self.advance()
        if not self.peek().isdigit():
            raise _syntax(self.line, "unterminated number")
        while self.peek().isdigit():
            self.advance()
        return int(self.text[start : self.pos])

    def value(self) -> Value:
        self.skip_blanks()
        ch = self.peek()
        if ch in ('"', "'"):
            return self.string()
        if ch == "[":
            self.advance()
            items: list[Value] = []
            self.skip_blanks_and_comments()
            while self.peek() != "]":
                if self.peek() == "":
                    raise _syntax(self.line, "list is not closed with ]")
                items.append(self.value())
                self.skip_blanks_and_comments()
                if self.peek() == ",":
                    self.advance()
                    self.skip_blanks_and_comments()
                elif self.peek() != "]":
                    raise _syntax(self.line, "expecting a separator in list")
            self.advance()
            return items
        if ch and (ch.isdigit() or ch in "+-"):
            return self.number()
        raise _syntax(self.line, "expecting a value")

    def statements(self) -> ConfFile:
        conf = ConfFile()
        while True:
            self.skip_blanks()
            ch = self.peek()
            if ch == "":
                return conf
            if ch in ("\n", ";"):
                self.advance()
                continue
            if ch == "#":
                self.skip_comment()
                continue
            name = self.name()
            self.skip_blanks()
            if self.peek() != "=":
                raise _syntax(self.line, "expecting an assignment")
            self.advance()
            value = self.value()
            self.skip_blanks()
            if self.peek() == "#":
                self.skip_comment()
            if self.peek() not in ("", "\n", ";"):
                raise _syntax(self.line, "expecting a separator")
            conf.set(name, value)


def parse_conf(text: str) -> ConfFile:
    """Read an xl.cfg or xm file; CONF_SYNTAX with the line number when it is malformed."""
    if "\0" in text:
        raise _syntax(text[: text.index("\0")].count("\n") + 1, "NUL byte")
    return _Parser(text).statements()


def _format_value(value: Value) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\n" in value:
            return f'"""{value}"""'
        if '"' not in value:
            return f'"{value}"'
        if "'" not in value:
            return f"'{value}'"
        return f'"""{value}"""'
    return "[ " + ", ".join(_format_value(v) for v in value) + " ]"


def write_conf(conf: ConfFile) -> str:
    """virConfWriteMem's text: one ``name = value`` line per entry, in the order they were set."""
    return "".join(f"{name} = {_format_value(value)}\n" for name, value in conf.items())
