"""libvirt's ways of reading one XML value, as checks that return libvirt's error or None.

libvirt's parser reads every enumerated word into a C enum and every number
into a C integer of a fixed width, and refuses what does not fit, with one of
a few messages (``virXMLPropEnum``: "Invalid value for attribute 'A' in
element 'E': 'V'."; ``virXMLPropUInt``: "... Expected non-negative integer
value"; and older hand-written ones such as "unknown input bus type 'V'").
Each function here builds the check for one of those readers.

The numbers follow C's ``strtoul``/``strtol`` as libvirt calls them: leading
blanks and a ``+`` are allowed, base 0 reads ``0x`` as hex and a leading ``0``
as octal, a ``-`` is refused where libvirt asks for a non-negative value, and
anything after the digits is refused.
"""

from __future__ import annotations

# collections.abc's own Callable (that module re-exports it) without the collections.abc import, and no re: a MAC
# is checked by hand rather than with a pattern compiled anew by every XML-reading pyvirsh command (see units.py)
from _collections_abc import Callable

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.units import INT_MAX, INT_MIN, UINT_MAX, strtoul, unit_factor
from pyvirt.errors import Error, ErrorCode, XMLError, make_error

__all__ = [
    "Check",
    "bitmap",
    "enum",
    "legacy",
    "mac_address",
    "pci_number",
    "port",
    "sint",
    "uint",
    "ull",
    "ullprop",
    "unit_suffix",
]

# A check takes (value, element tag, attribute) and returns an error or None.
Check = Callable[[str, str, str], "Error | None"]


def _prop_error(attr: str, tag: str, value: str, tail: str = "") -> XMLError:
    return XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute '{attr}' in element '{tag}': '{value}'.{tail}")


def enum(*words: str) -> Check:
    """``virXMLPropEnum``: one of ``words`` (libvirt's enum table, less an index 0 it refuses)."""
    allowed = frozenset(words)

    def check(value: str, tag: str, attr: str) -> Error | None:
        return None if value in allowed else _prop_error(attr, tag, value)

    return check


def legacy(
    words: tuple[str, ...] | frozenset[str],
    message: str,
    code: ErrorCode = ErrorCode.CONFIG_UNSUPPORTED,
    *,
    empty_ok: bool = False,
) -> Check:
    """An enum libvirt still parses by hand, with its own message (``{v}`` is the value).

    ``empty_ok``: libvirt reads the value with virXPathString, which gives NULL
    for an empty one, so '' is as good as absent there.
    """
    allowed = frozenset(words)

    def check(value: str, tag: str, attr: str) -> Error | None:
        if value in allowed or (empty_ok and not value):
            return None
        return make_error(code, message.format(v=value))

    return check


def uint(
    base: int = 10,
    message: str | None = None,
    wrap_negative: bool = False,
    nonzero: bool = False,
    empty_ok: bool = False,
) -> Check:
    """``virXMLPropUInt`` (or ``virXPathUInt`` with ``wrap_negative``: "-1" reads as UINT_MAX there).

    ``empty_ok``: read with an XPath string, where an empty value is no value.
    """

    def check(value: str, tag: str, attr: str) -> Error | None:
        if empty_ok and not value:
            return None
        parsed = strtoul(value, base)
        ok = parsed is not None and parsed[1] <= UINT_MAX and (parsed[0] != "-" or wrap_negative)
        if ok:
            if nonzero and parsed is not None and parsed[1] == 0:
                return XMLError(
                    ErrorCode.XML_ERROR,
                    f"Invalid value for attribute '{attr}' in element '{tag}': Zero is not permitted",
                )
            return None
        if message is not None:
            return XMLError(ErrorCode.XML_ERROR, message.format(v=value))
        return _prop_error(attr, tag, value, " Expected non-negative integer value")

    return check


def ullprop(base: int = 10) -> Check:
    """``virXMLPropULongLong``: a non-negative number that fits in 64 bits."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parsed = strtoul(value, base)
        if parsed is None or parsed[0] == "-" or parsed[1] >= 2**64:
            return _prop_error(attr, tag, value, " Expected non-negative integer value")
        return None

    return check


def bitmap() -> Check:
    """``virBitmapParse``: a CPU or node list such as ``0-3,^2``; refused as "Failed to parse bitmap"."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        try:
            parse_bitmap(value)
        except XMLError:
            return make_error(ErrorCode.INVALID_ARG, f"Failed to parse bitmap '{value}'")
        if not value.strip():
            return make_error(ErrorCode.INVALID_ARG, f"Failed to parse bitmap '{value}'")
        return None

    return check


def sint(base: int = 10, nonnegative: bool = False) -> Check:
    """``virXMLPropInt``: a C int, refused below zero when libvirt asks for a non-negative one."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parsed = strtoul(value, base)
        if parsed is None:
            return _prop_error(attr, tag, value, " Expected integer value")
        number = -parsed[1] if parsed[0] == "-" else parsed[1]
        if not INT_MIN <= number <= INT_MAX:
            return _prop_error(attr, tag, value, " Expected integer value")
        if nonnegative and number < 0:
            return _prop_error(attr, tag, value, " Expected non-negative value")
        return None

    return check


def ull(message: str) -> Check:
    """``virXPathULongLong``: a non-negative decimal that fits in 64 bits, else libvirt's message."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parsed = strtoul(value, 10)
        if value and (parsed is None or parsed[0] == "-" or parsed[1] >= 2**64):  # empty: none given
            return XMLError(ErrorCode.XML_ERROR, message.format(v=value, attr=attr, tag=tag))
        return None

    return check


def unit_suffix() -> Check:
    """A ``unit`` attribute: libvirt's scaled-integer suffixes (``virScaleInteger``)."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        if not value:
            return None
        try:
            unit_factor(value)
        except ValueError:
            return make_error(ErrorCode.INVALID_ARG, f"unknown suffix '{value}'")
        return None

    return check


def port() -> Check:
    """A network port (``virStringParsePort``): a number up to 65535."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parsed = strtoul(value, 10)
        if parsed is None or parsed[0] == "-" or parsed[1] > UINT_MAX:
            return make_error(ErrorCode.INVALID_ARG, f"failed to parse port number '{value}'")
        if parsed[1] > 65535:
            return make_error(ErrorCode.INVALID_ARG, f"port '{value}' out of range")
        return None

    return check


_HEX = "0123456789abcdefABCDEF"


def _is_mac(value: str) -> bool:
    """``^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$`` (``$`` also before a final newline), without ``re``."""
    parts = value.removesuffix("\n").split(":")
    return len(parts) == 6 and all(0 < len(p) < 3 and not p.strip(_HEX) for p in parts)


def mac_address() -> Check:
    """``virMacAddrParse``: six hex bytes separated by colons."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        return None if _is_mac(value) else XMLError(ErrorCode.XML_ERROR, f"unable to parse mac address '{value}'")

    return check


def pci_number(limit: int, name: str, quoted: bool) -> Check:
    """A PCI address part: an unsigned int (base 0), then ``virPCIDeviceAddressIsValid``'s limit."""
    parse = uint(0)

    def check(value: str, tag: str, attr: str) -> Error | None:
        err = parse(value, tag, attr)
        if err is not None:
            return err
        parsed = strtoul(value, 0)
        assert parsed is not None
        if parsed[1] > limit:
            shown = f"{name}='0x{parsed[1]:x}'" if quoted else f"{name}=0x{parsed[1]:x}"
            bound = f"0x{limit:X}" if quoted else str(limit)
            return XMLError(ErrorCode.XML_ERROR, f"Invalid PCI address {shown}, must be <= {bound}")
        return None

    return check


def usb_port() -> Check:
    """A USB address port: up to four hub levels, dotted ("1.2"), each an unsigned int (virDomainDeviceUSBAddressParsePort)."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parts = value.split(".")
        if len(parts) > 4 or any((p := strtoul(x, 10)) is None or p[0] == "-" or p[1] > UINT_MAX for x in parts):
            return make_error(ErrorCode.INTERNAL_ERROR, "Cannot parse <address> 'port' attribute")
        return None

    return check


def uuid_text(message: str) -> Check:
    """``virUUIDParse``: 16 bytes as 32 hex digits, dashes allowed between them and blanks around; else
    libvirt's ``message`` (``{v}`` is the value)."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        digits = value.strip().replace("-", "")
        if len(digits) == 32 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return None
        return XMLError(ErrorCode.XML_ERROR, message.format(v=value))

    return check
