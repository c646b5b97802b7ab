"""The values of network filter XML read and written as libvirt's C helpers read and write them.

``virStrToLong_ui``, ``virMacAddrParse``, ``virSocketAddrParse`` (getaddrinfo with
AI_NUMERICHOST), ``virUUIDParse``, ``parseStringItems``/``printStringItems`` and
the parameter lists of ``<filterref>`` (``virNWFilterParseParamAttributes``): a
value libvirt accepts is accepted here with the same meaning, and one it refuses
is refused. Shared by filters (``conf/nwfilter.py``) and bindings
(``conf/nwfilter_binding.py``) and by the nwfilter driver's rule translation.
"""

from __future__ import annotations

import re
import socket
import uuid as _uuid

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "SPACE",
    "VALID_VARNAME",
    "VALID_VARVALUE",
    "contiguous",
    "escape",
    "format_mac",
    "format_params",
    "mask_bits",
    "parse_ip",
    "parse_mac",
    "parse_params",
    "parse_uuid",
    "print_items",
    "string_items",
    "strtol",
    "strtoul",
]

VALID_VARNAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
VALID_VARVALUE = VALID_VARNAME | frozenset(".:")

SPACE = " \t\n\v\f\r"


def strtoul(text: str, base: int) -> int | None:
    """``virStrToLong_ui(text, NULL, base)``: the whole string an unsigned int (``-1`` is UINT_MAX), else None."""
    digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    s = text.lstrip(SPACE)
    negative = s[:1] == "-"
    if s[:1] in "+-" and s:
        s = s[1:]
    if base == 16 and s[:2].lower() == "0x" and s[2:3] and s[2] in digits:
        s = s[2:]
    if not s or any(c not in digits for c in s):
        return None
    value = int(s, base)
    if value >= 1 << 64:
        return None
    if negative:
        if value > 0xFFFFFFFF:
            return None
        value = (-value) & 0xFFFFFFFF
    return value if value <= 0xFFFFFFFF else None


def strtol(text: str) -> int | None:
    """``virStrToLong_i(text, NULL, 10)``."""
    s = text.lstrip(SPACE)
    m = re.fullmatch(r"[+-]?[0-9]+", s)
    if m is None:
        return None
    value = int(s)
    return value if -(1 << 31) <= value < (1 << 31) else None


def parse_mac(text: str) -> bytes | None:
    """``virMacAddrParse``: six hex groups of one or two digits separated by ':'."""
    out = bytearray()
    rest = text
    for i in range(6):
        m = re.match(r"[0-9a-fA-F]{1,2}", rest)
        if m is None or (len(rest) > len(m.group()) and rest[len(m.group())] in "0123456789abcdefABCDEF"):
            return None
        out.append(int(m.group(), 16))
        rest = rest[len(m.group()) :]
        if i == 5:
            return bytes(out) if not rest or rest[0] <= " " else None
        if rest[:1] != ":":
            return None
        rest = rest[1:]
    return None


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def parse_ip(text: str, family: socket.AddressFamily) -> bytes | None:
    """``virSocketAddrParseIPv4``/``IPv6``: getaddrinfo with AI_NUMERICHOST, as libvirt calls it."""
    if not text:
        return None
    try:
        info = socket.getaddrinfo(text, None, family, 0, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return socket.inet_pton(family, str(info[0][4][0]).partition("%")[0])


def mask_bits(addr: bytes) -> int | None:
    """``virSocketAddrGetNumNetmaskBits``: the prefix length of a contiguous mask, else None."""
    bits = "".join(f"{b:08b}" for b in addr)
    ones = len(bits) - len(bits.lstrip("1"))
    return ones if "1" not in bits[ones:] else None


def contiguous(mac: bytes) -> bool:
    return mask_bits(mac) is not None


def string_items(table: tuple[tuple[str, int], ...], text: str) -> int | None:
    """``parseStringItems``: names separated by ',' (and spaces), each matched as a case-blind prefix."""
    bits, i = 0, 0
    while i < len(text):
        while i < len(text) and (text[i] in SPACE or text[i] == ","):
            i += 1
        if i >= len(text):
            break
        for name, bit in table:
            if text[i : i + len(name)].lower() == name.lower():
                bits |= bit
                i += len(name)
                break
        else:
            return None
    return bits


def print_items(table: tuple[tuple[str, int], ...], bits: int) -> str:
    """``printStringItems``: the names of the set bits, lowest first."""
    names: list[str] = []
    mask = 1
    while bits:
        if bits & mask:
            names.extend(name for name, bit in table if bit == mask)
            bits ^= mask
        mask <<= 1
    return ",".join(names)


def escape(text: str) -> str:
    """``virBufferEscapeString``'s escaping of an attribute value."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
    )


def parse_uuid(text: str) -> str | None:
    """``virUUIDParse``: 32 hex digits, dashes anywhere between pairs, spaces around."""
    s = text.strip(" ")
    hexdigits = s.replace("-", "")
    if len(hexdigits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits) or s.startswith("-"):
        return None
    return str(_uuid.UUID(hexdigits))


def parse_params(node: etree._Element) -> dict[str, list[str]]:
    """``virNWFilterParseParamAttributes``: invalid names or values are skipped; repeated names make lists."""
    params: dict[str, list[str]] = {}
    for child in node:
        if child.tag != "parameter":
            continue
        name, value = child.get("name"), child.get("value")
        if name is None or value is None or not value or any(c not in VALID_VARNAME for c in name):
            continue
        if any(c not in VALID_VARVALUE for c in value):
            continue
        params.setdefault(name, []).append(value)
    return params


def format_params(ref: str, params: dict[str, list[str]], indent: str) -> list[str]:
    """``virNWFilterFormatParamAttributes``: parameters sorted by name, each value on its own line."""
    if not params:
        return [f"{indent}<filterref filter='{ref}'/>"]
    lines = [f"{indent}<filterref filter='{ref}'>"]
    for name in sorted(params):
        lines.extend(f"{indent}  <parameter name='{name}' value='{value}'/>" for value in params[name])
    lines.append(f"{indent}</filterref>")
    return lines
