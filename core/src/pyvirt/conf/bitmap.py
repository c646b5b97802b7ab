"""libvirt's CPU/ID bitmaps: ``0-3,^2,8`` <-> a set of numbers, formatted as compact ranges."""

from __future__ import annotations

from pyvirt.errors import ErrorCode, XMLError

__all__ = ["BITMAP_LEN", "format_bitmap", "parse_bitmap"]


BITMAP_LEN = 16384
"""libvirt's VIR_DOMAIN_CPUMASK_LEN: CPU and node masks hold bits 0..16383, a larger one is refused."""


def parse_bitmap(text: str, what: str = "bitmap", limit: int = BITMAP_LEN) -> set[int]:
    """The set ``text`` names; a bit at or past ``limit`` is refused (and never allocated) as libvirt does."""
    include: set[int] = set()
    exclude: set[int] = set()
    for raw in text.replace(" ", "").split(","):
        if not raw:
            continue
        target = exclude if raw.startswith("^") else include
        lo, sep, hi = raw.removeprefix("^").partition("-")
        # plain ASCII digits only, as libvirt's virBitmapParse reads them (no sign, no "1_0", no "0x")
        if not (lo.isascii() and lo.isdigit()) or (sep and not (hi.isascii() and hi.isdigit())):
            raise XMLError(ErrorCode.XML_ERROR, f"Failed to parse {what} '{text}'")
        start, end = int(lo), int(hi) if sep else int(lo)
        if end < start or start < 0 or end >= limit:
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
