"""VMware's ``.vmx`` file: ``key = "value"`` lines, read and written as libvirt's VMX code does.

libvirt reads a VMX file with its generic config parser in VMX mode
(``virConfReadString(..., VIR_CONF_FLAG_VMX_FORMAT)``): every value is a
double-quoted string, names may hold ``.``, ``:`` and ``-`` and start with a
letter or a dot (``.encoding``), look-ups ignore case and the first of two
equal names wins. Keys the converter does not read are ignored, as libvirt
ignores them: a VMX file written by VMware carries dozens of keys (tools
policy, power types, swap paths) that no domain XML element stands for.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, NotSupportedError

__all__ = [
    "VmxConfig",
    "conf_syntax_error",
    "escape_hex",
    "parse_vmx",
    "unescape_hex",
    "vmx_error",
    "vmx_unsupported",
]


def vmx_error(detail: str) -> InternalError:
    """libvirt's VMX code reports almost every refusal as VIR_ERR_INTERNAL_ERROR from VIR_FROM_VMWARE."""
    return InternalError(ErrorCode.INTERNAL_ERROR, detail, domain=ErrorDomain.VMWARE)


def vmx_unsupported(detail: str) -> NotSupportedError:
    """What the VMX format cannot express (VIR_ERR_CONFIG_UNSUPPORTED), named."""
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, detail, domain=ErrorDomain.VMWARE)


def conf_syntax_error(line: int, detail: str) -> InternalError:
    return InternalError(ErrorCode.CONF_SYNTAX, f"(VMX):{line}: {detail}", domain=ErrorDomain.CONF)


class VmxConfig:
    """The entries of one VMX file, looked up the way libvirt's virConfGetValue does (case-insensitive, first wins)."""

    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self.entries = entries
        self._index: dict[str, str] = {}
        for name, value in entries:
            self._index.setdefault(name.lower(), value)

    def string(self, name: str, *, optional: bool = True) -> str | None:
        value = self._index.get(name.lower())
        if value is None and not optional:
            raise vmx_error(f"Missing essential config entry '{name}'")
        return value

    def long(self, name: str, default: int, *, optional: bool = True) -> int:
        """virVMXGetConfigLong: ``unlimited`` is -1; anything but a (signed) decimal integer is refused."""
        value = self.string(name, optional=optional)
        if value is None:
            return default
        if value.lower() == "unlimited":
            return -1
        number = _strtoll(value)
        if number is None:
            raise vmx_error(f"Config entry '{name}' must represent an integer value")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.string(name)
        if value is None:
            return default
        if value.lower() == "true":
            return True
        if value.lower() == "false":
            return False
        raise vmx_error(f"Config entry '{name}' must represent a boolean value (true|false)")


def _strtoll(text: str) -> int | None:
    """virStrToLong_ll with base 10 and no trailing text: leading blanks and a sign allowed."""
    stripped = text.lstrip(" \t\n\v\f\r")
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body or not body.isascii() or not body.isdigit():
        return None
    number = int(stripped)
    return number if -(2**63) <= number < 2**63 else None


def _name_char(c: str) -> bool:
    return (c.isascii() and c.isalnum()) or c in "_:.-"


def parse_vmx(text: str) -> VmxConfig:
    """Read VMX text into ordered entries; syntax errors carry libvirt's VIR_ERR_CONF_SYNTAX wording."""
    entries: list[tuple[str, str]] = []
    pos, end, line = 0, len(text), 1

    def skip_blanks() -> None:
        nonlocal pos
        while pos < end and text[pos] in " \t\r":
            pos += 1

    while True:
        # blanks and empty lines between statements
        while pos < end and text[pos] in " \t\r\n":
            if text[pos] == "\n":
                line += 1
            pos += 1
        if pos >= end:
            break
        if text[pos] == "#":
            while pos < end and text[pos] != "\n":
                pos += 1
            continue
        start = pos
        if not ((text[pos].isascii() and text[pos].isalpha()) or text[pos] == "."):
            raise conf_syntax_error(line, "expecting a name")
        while pos < end and _name_char(text[pos]):
            pos += 1
        name = text[start:pos]
        skip_blanks()
        if pos >= end or text[pos] != "=":
            raise conf_syntax_error(line, "expecting an assignment")
        pos += 1
        skip_blanks()
        if pos >= end:
            raise conf_syntax_error(line, "expecting a value")
        quote = text[pos]
        if quote not in "\"'":
            if text[pos].isdigit() or text[pos] in "+-":
                raise conf_syntax_error(line, "numbers not allowed in VMX format")
            if text[pos] == "[":
                raise conf_syntax_error(line, "lists not allowed in VMX format")
            raise conf_syntax_error(line, "expecting a value")
        if text.startswith('"""', pos) and pos + 6 < end:
            close = text.find('"""', pos + 3)
            if close < 0:
                raise conf_syntax_error(line, "unterminated string")
            value = text[pos + 3 : close]
            line += value.count("\n")
            pos = close + 3
        else:
            pos += 1
            vstart = pos
            while pos < end and text[pos] != quote and text[pos] not in "\r\n":
                pos += 1
            if pos >= end or text[pos] != quote:
                raise conf_syntax_error(line, "unterminated string")
            value = text[vstart:pos]
            pos += 1
        skip_blanks()
        if pos < end and text[pos] == "#":
            while pos < end and text[pos] != "\n":
                pos += 1
        entries.append((name, value))
        # the separator: end of line, ';' or end of text
        skip_blanks()
        if pos < end and text[pos] == ";":
            pos += 1
        elif pos < end and text[pos] != "\n":
            raise conf_syntax_error(line, "expecting a separator")
    return VmxConfig(entries)


def decode_vmx(data: bytes | str) -> VmxConfig:
    """Parse, honouring ``.encoding`` as libvirt does (reparse after converting to UTF-8)."""
    text = data if isinstance(data, str) else data.decode("utf-8", errors="surrogateescape")
    conf = parse_vmx(text)
    encoding = conf.string(".encoding")
    if encoding is None or encoding.lower() == "utf-8":
        return conf
    raw = data if isinstance(data, bytes) else data.encode("utf-8", errors="surrogateescape")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise vmx_error(f"libxml2 doesn't handle {encoding} encoding") from None
    try:
        return parse_vmx(raw.decode(encoding))
    except UnicodeDecodeError:
        raise vmx_error(f"Could not convert from {encoding} to UTF-8 encoding") from None


def escape_hex(text: str, escape: str, special: str) -> str:
    """virVMXEscapeHex: the escape character and each special one become ``cXX`` (UTF-8 bytes stay as they are)."""
    return "".join(f"{escape}{ord(c):02x}" if c == escape or c in special else c for c in text)


def unescape_hex(text: str, escape: str, what: str) -> str:
    """virVMXUnescapeHex: ``cXX`` back to the byte; a malformed sequence is refused naming the entry."""
    data = text.encode("utf-8", errors="surrogateescape")
    out = bytearray()
    i = 0
    hexdigits = b"0123456789abcdefABCDEF"
    esc = ord(escape)
    while i < len(data):
        if data[i] == esc:
            pair = data[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in hexdigits or pair[1] not in hexdigits:
                raise vmx_error(f"VMX entry '{what}' contains invalid escape sequence")
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return out.decode("utf-8", errors="surrogateescape")


ParseFileName = Callable[[str, bool], "str | None"]
FormatFileName = Callable[[str], str]
