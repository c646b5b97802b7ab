"""libvirt's configuration file syntax (``libvirtd.conf``, ``qemu.conf``), read whole.

The grammar is libvirt's ``virconf.c``: ``name = value`` entries ended by a
newline or ``;``, ``#`` comments, values that are integers, strings in double
quotes, single quotes or triple double quotes (which may span lines), or
``[ ... ]`` lists of those with optional trailing comma. A syntax error names
the file and line as libvirt's does, with VIR_ERR_CONF_SYNTAX, so that a
configuration copied from a libvirt host reads the same way or fails the same
way.

Why not ``configparser`` or TOML: neither reads libvirt's files (no sections,
lists in brackets, ``;`` separators), and users bring those files along.
"""

from __future__ import annotations

import errno
import re

from pyvirt.errors import Error, ErrorCode, ErrorDomain, SystemCallError
from pyvirt.util.fileio import MAX_CONFIG_FILE, read_capped

__all__ = ["ConfValue", "parse_conf", "parse_conf_lines", "read_conf", "read_conf_lines"]

ConfValue = int | str | list["int | str"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_INT = re.compile(r"[+-]?[0-9]+")


class _Parser:
    """A cursor over the text; one method per production of libvirt's grammar."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.filename = filename
        self.lines: dict[str, int] = {}

    def error(self, what: str) -> Error:
        return Error(ErrorCode.CONF_SYNTAX, f"{self.filename}:{self.line}: {what}", domain=ErrorDomain.CONF)

    def skip_blanks(self, *, newlines: bool) -> None:
        """Spaces and tabs; with ``newlines`` also line ends and comments (inside lists)."""
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r":
                self.pos += 1
            elif newlines and c == "\n":
                self.line += 1
                self.pos += 1
            elif newlines and c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def string(self) -> str:
        text = self.text
        if text.startswith('"""', self.pos):
            end = text.find('"""', self.pos + 3)
            if end < 0:
                raise self.error("unterminated string")
            value = text[self.pos + 3 : end]
            self.line += value.count("\n")
            self.pos = end + 3
            return value
        quote = text[self.pos]
        end = self.pos + 1
        while end < len(text) and text[end] != quote:
            if text[end] == "\n":
                raise self.error("unterminated string")
            end += 1
        if end >= len(text):
            raise self.error("unterminated string")
        value = text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def scalar(self) -> int | str:
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            return self.string()
        m = _INT.match(self.text, self.pos)
        if m is None:
            raise self.error("expecting a value")
        self.pos = m.end()
        value = int(m.group())
        if not -(2**63) <= value < 2**63:
            raise self.error("numerical value too large")
        return value

    def value(self) -> ConfValue:
        if self.pos < len(self.text) and self.text[self.pos] == "[":
            self.pos += 1
            items: list[int | str] = []
            self.skip_blanks(newlines=True)
            while self.pos < len(self.text) and self.text[self.pos] != "]":
                items.append(self.scalar())
                self.skip_blanks(newlines=True)
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                    self.skip_blanks(newlines=True)
                elif self.pos < len(self.text) and self.text[self.pos] != "]":
                    raise self.error("expecting a separator in list")
            if self.pos >= len(self.text):
                raise self.error("list is not closed with ]")
            self.pos += 1
            return items
        return self.scalar()

    def entries(self) -> dict[str, ConfValue]:
        out: dict[str, ConfValue] = {}
        text = self.text
        while True:
            self.skip_blanks(newlines=True)
            if self.pos >= len(text):
                return out
            if text[self.pos] == ";":
                self.pos += 1
                continue
            m = _NAME.match(text, self.pos)
            if m is None:
                raise self.error("expecting a name")
            self.pos = m.end()
            self.skip_blanks(newlines=False)
            if self.pos >= len(text) or text[self.pos] != "=":
                raise self.error("expecting an assignment")
            self.pos += 1
            self.skip_blanks(newlines=False)
            self.lines[m.group()] = self.line
            out[m.group()] = self.value()
            self.skip_blanks(newlines=False)
            if self.pos < len(text) and text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            if self.pos < len(text) and text[self.pos] not in "\n;":
                raise self.error("expecting a separator")


def parse_conf(text: str, filename: str = "<string>") -> dict[str, ConfValue]:
    """Entries of a configuration text, later duplicates winning as in libvirt."""
    return _Parser(text, filename).entries()


def parse_conf_lines(text: str, filename: str = "<string>") -> tuple[dict[str, ConfValue], dict[str, int]]:
    """Entries and the line each was (last) set on, so a bad value can be reported where it is."""
    parser = _Parser(text, filename)
    return parser.entries(), parser.lines


def read_conf(path: str) -> dict[str, ConfValue]:
    """Entries of a configuration file; a missing file is an empty configuration."""
    return read_conf_lines(path)[0]


def read_conf_lines(path: str) -> tuple[dict[str, ConfValue], dict[str, int]]:
    """:func:`read_conf` with each entry's line (see :func:`parse_conf_lines`).

    Read as libvirt's ``virConfReadFile`` reads: at most 10 MiB, its "Failed
    to open/read file" errors; a missing file is an empty configuration.
    """
    try:
        data = read_capped(path, MAX_CONFIG_FILE)
    except SystemCallError as e:
        if e.errno == errno.ENOENT:
            return {}, {}
        raise
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise Error(ErrorCode.CONF_SYNTAX, f"{path}:{line}: invalid UTF-8", domain=ErrorDomain.CONF) from None
    return parse_conf_lines(text, path)
