"""libvirt's scaled integers (``unit='MiB'`` and friends)."""

from __future__ import annotations

from pyvirt.errors import ErrorCode, InvalidArgumentError, XMLError, make_error

__all__ = ["INT_MAX", "INT_MIN", "UINT_MAX", "format_bytes_virsh", "parse_memory_kib", "parse_scaled", "strtoul"]

UINT_MAX = 2**32 - 1
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)

# C's strtoul/strtol, read by hand rather than with regular expressions: compiling each pattern cost the first
# number of every XML-reading pyvirsh command about a million instructions (virsh's whole run is 44 million),
# and the models then need re for nothing (lxml still loads it: its find() tokenizes paths with a pattern).
_BLANKS = " \t\n\v\f\r"  # isspace() in the C locale
_DECIMAL = "0123456789"
_BASE_DIGITS = {8: "01234567", 10: _DECIMAL, 16: "0123456789abcdefABCDEF"}


def _all_of(text: str, allowed: str) -> bool:
    """Whether ``text`` is one or more characters, each in ``allowed`` (ASCII sets: ``str.isdigit`` is not)."""
    return bool(text) and not text.strip(allowed)


def strtoul(text: str, base: int = 10) -> tuple[str, int] | None:
    """(sign, magnitude) of ``text`` read as C's strtoul/strtol read it, or None when it is not a whole number.

    Leading blanks and one sign are allowed, nothing after the digits; base 0
    reads ``0x``-prefixed text as hexadecimal and a leading ``0`` as octal,
    base 16 allows the ``0x`` prefix.
    """
    body = text.lstrip(_BLANKS)
    sign = ""
    if body[:1] in ("+", "-"):
        sign, body = body[0], body[1:]
    if base == 0:
        if body[:2] in ("0x", "0X"):
            digits = body[2:]
            return (sign, int(digits, 16)) if _all_of(digits, _BASE_DIGITS[16]) else None
        if body[:1] == "0":
            return (sign, int(body, 8)) if _all_of(body, _BASE_DIGITS[8]) else None
        return (sign, int(body)) if _all_of(body, _DECIMAL) else None
    if base == 16 and body[:2] in ("0x", "0X"):
        body = body[2:]
    return (sign, int(body, base)) if _all_of(body, _BASE_DIGITS[base]) else None


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
    digits = text.lstrip(_BLANKS)  # strtoull's reading: blanks, one "+", digits and nothing after
    digits = digits[1:] if digits[:1] == "+" else digits
    if not _all_of(digits, _DECIMAL) or int(digits) > ULLONG_MAX:
        where = xpath or f"./{element}[1]"
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value '{raw}' for element or attribute '{where}'")
    try:
        factor = unit_factor(unit or default_unit)  # an empty unit is none given (virXPathString)
    except ValueError:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown suffix '{unit}'") from None
    value = int(digits)
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
