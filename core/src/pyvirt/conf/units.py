"""libvirt's scaled integers (``unit='MiB'`` and friends)."""

from __future__ import annotations

from pyvirt.errors import ErrorCode, XMLError

__all__ = ["format_bytes_virsh", "parse_scaled"]

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


def parse_scaled(text: str, unit: str | None, element: str, *, default_unit: str = "B") -> int:
    """The value in bytes; errors name the element as libvirt does."""
    raw = text.strip()
    if not raw.isdigit():
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value '{raw}' for element or attribute './{element}[1]'")
    try:
        factor = unit_factor(unit if unit is not None else default_unit)
    except ValueError:
        raise XMLError(ErrorCode.INVALID_ARG, f"unknown suffix '{unit}'") from None
    return int(raw) * factor


def format_bytes_virsh(value: int) -> str:
    """virsh's ``vshPrettyCapacity``: '100.00 GiB', '0.00 B'."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    size = float(value)
    idx = 0
    while size >= 1024 and idx < len(units) - 1:
        size /= 1024
        idx += 1
    return f"{size:.2f} {units[idx]}"
