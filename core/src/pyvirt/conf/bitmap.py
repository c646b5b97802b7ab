"""libvirt's CPU/ID bitmaps: ``0-3,^2,8`` <-> a set of numbers, formatted as compact ranges."""

from __future__ import annotations

from pyvirt.errors import ErrorCode, XMLError

__all__ = ["format_bitmap", "parse_bitmap"]


def parse_bitmap(text: str, what: str = "bitmap") -> set[int]:
    include: set[int] = set()
    exclude: set[int] = set()
    for raw in text.replace(" ", "").split(","):
        if not raw:
            continue
        target = exclude if raw.startswith("^") else include
        lo, sep, hi = raw.lstrip("^").partition("-")
        try:
            start, end = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise XMLError(ErrorCode.XML_ERROR, f"Failed to parse {what} '{text}'") from None
        if end < start:
            raise XMLError(ErrorCode.XML_ERROR, f"Failed to parse {what} '{text}'")
        target.update(range(start, end + 1))
    return include - exclude


def format_bitmap(values: set[int]) -> str:
    out: list[str] = []
    nums = sorted(values)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(out)
