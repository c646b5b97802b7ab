"""SELinux security contexts and MCS levels as values.

A context is ``user:role:type:level``; the level may itself hold colons
(``s0:c1,c2``) and a range (``s0-s0:c0.c1023``). Only what sVirt needs is
modelled: swapping the level, reading its categories, building ``s0:cA,cB``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvirt.errors import ErrorCode, InternalError

__all__ = ["Context", "parse_context"]


@dataclass(frozen=True)
class Context:
    user: str
    role: str
    type: str
    level: str

    def __str__(self) -> str:
        return f"{self.user}:{self.role}:{self.type}:{self.level}"

    def with_level(self, level: str) -> Context:
        return Context(self.user, self.role, self.type, level)

    def with_type(self, type_: str) -> Context:
        return Context(self.user, self.role, type_, self.level)

    @property
    def sensitivity(self) -> str:
        """``s0`` of ``s0:c1,c2`` or of a range's low end."""
        return self.level.split("-", 1)[0].split(":", 1)[0]

    @property
    def categories(self) -> str | None:
        """``c1,c2`` of ``s0:c1,c2`` (the low end of a range); None without categories."""
        low = self.level.split("-", 1)[0]
        return low.split(":", 1)[1] if ":" in low else None


def parse_context(text: str) -> Context:
    parts = text.strip().rstrip("\0").split(":", 3)
    if len(parts) != 4 or not all(parts[:3]):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to parse SELinux context '{text}'")
    return Context(*parts)
