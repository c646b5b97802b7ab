"""Flag checking with libvirt's wording, for drivers (virCheckFlags)."""

from __future__ import annotations

from pyvirt.errors import ErrorCode, InvalidArgumentError

__all__ = ["check_flags"]


def check_flags(flags: int, allowed: int, function: str) -> None:
    """Refuse bits outside ``allowed``: "unsupported flags (0x4) in function testFoo"."""
    extra = int(flags) & ~int(allowed)  # int(): ~ of an IntFlag stays inside its members and would hide every bit
    if extra:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"unsupported flags (0x{extra:x}) in function {function}", verbatim=True
        )
