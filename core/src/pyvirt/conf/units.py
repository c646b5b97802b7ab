"""libvirt's scaled integers (``unit='MiB'`` and friends)."""

from __future__ import annotations

import re

from pyvirt.errors import ErrorCode, InvalidArgumentError, XMLError, make_error

__all__ = ["INT_MAX", "INT_MIN", "UINT_MAX", "format_bytes_virsh", "parse_memory_kib", "parse_scaled", "strtoul"]

UINT_MAX = 2**32 - 1
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)

_INT_SOURCE = {
    0: r"^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z",
    8: r"^[ \t\n\v\f\r]*([+-]?)([0-7]+)\Z",
    10: r"^[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z",
    16: r"^[ \t\n\v\f\r]*([+-]?)(?:0[xX])?([0-9a-fA-F]+)\Z",
}
# compiled when a base is first read (most runs read base 10 only; each compile is ~0.7M instructions)
_INT_TEXT: dict[int, re.Pattern[str]] = {}


def strtoul(text: str, base: int = 10) -> tuple[str, int] | None:
    """(sign, magnitude) of ``text`` read as C's strtoul/strtol read it, or None when it is not a whole number."""
    pattern = _INT_TEXT.get(base)
    if pattern is None:
        pattern = _INT_TEXT[base] = re.compile(_INT_SOURCE[base])
    m = pattern.match(text)
    if m is None:
        return None
    sign, digits = m.group(1), m.group(2)
    if base == 0:
        if digits[:2].lower() == "0x":
            return sign, int(digits, 16)
        if len(digits) > 1 and digits[0] == "0":
            return sign, int(digits, 8)
        return sign, int(digits)
    return sign, int(digits, base)


_POWERS = "kmgtpe"


def unit_factor(unit: str) -> int:
    """'KiB' -> 1024, 'KB' -> 1000, 'b'/'bytes' -> 1, 'M' -> 1024**2 (libvirt's virScaleInteger)."""
    u = unit.strip()
    low = u.lower()
    if low in ("b", "byte", "bytes"):
        return 1
    if not low or low[0] not in _POWERS:
        raise ValueError(u)
    power = _POWERS.index(low[0]) + 1
    rest = low[1:]
    if rest in ("", "ib"):
        return int(1024**power)
    if rest == "b":
        return int(1000**power)
    raise ValueError(u)


ULLONG_MAX = 2**64 - 1
LLONG_MAX = 2**63 - 1
_DIGITS = re.compile(r"^[ \t\n\v\f\r]*\+?([0-9]+)\Z")


def parse_scaled(
    text: str,
    unit: str | None,
    element: str,
    *,
    default_unit: str = "B",
    limit: int = ULLONG_MAX,
    xpath: str | None = None,
) -> int:
    """The value in bytes; errors name the element as libvirt's ``virParseScaledValue`` does.

    The number is read as ``strtoull`` reads it for libvirt (blanks and a
    ``+`` before it are fine, a ``-`` is not) and must fit in 64 bits; the
    scaled value must not pass ``limit`` ("value too large", OVERFLOW).
    """
    raw = text.strip()
    m = _DIGITS.match(text)
    if m is None or int(m.group(1)) > ULLONG_MAX:
        where = xpath or f"./{element}[1]"
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value '{raw}' for element or attribute '{where}'")
    try:
        factor = unit_factor(unit or default_unit)  # an empty unit is none given (virXPathString)
    except ValueError:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown suffix '{unit}'") from None
    value = int(m.group(1))
    if value and value > limit // factor:
        raise make_error(ErrorCode.OVERFLOW, f"value too large: {value}{unit or ''}")
    return value * factor


def parse_memory_kib(text: str, unit: str | None, element: str, xpath: str | None = None) -> int:
    """A memory size in KiB, rounded up, as libvirt's ``virDomainParseMemory`` (at most LLONG_MAX bytes)."""
    kib = -(-parse_scaled(text, unit, element, default_unit="KiB", limit=LLONG_MAX, xpath=xpath) // 1024)
    if kib >= -(-LLONG_MAX // 1024):
        raise make_error(ErrorCode.OVERFLOW, "size value too large")
    return kib


def format_bytes_virsh(value: int) -> str:
    """virsh's ``vshPrettyCapacity``: '100.00 GiB', '0.00 B'."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    size = float(value)
    idx = 0
    while size >= 1024 and idx < len(units) - 1:
        size /= 1024
        idx += 1
    return f"{size:.2f} {units[idx]}"
