"""MCS category pairs: unique per host, allocated at GenLabel, re-reserved on reconnect.

A pair ``s0:cA,cB`` with A < B is drawn at random from the configured range
(c0..c1023 by default). The set of pairs in use is shared by every driver
instance of the process, as libvirt's daemon keeps it, and guards itself with
a lock. A guest found running re-reserves its pair (``reserve``), and a
stopped guest releases it.
"""

from __future__ import annotations

import random
import threading

from pyvirt.errors import ErrorCode, InternalError

__all__ = ["McsAllocator"]


class McsAllocator:
    _in_use: set[tuple[str, int, int]] = set()
    _lock = threading.Lock()

    def __init__(self, low: int = 0, high: int = 1023) -> None:
        if not 0 <= low < high:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"invalid MCS category range c{low}..c{high}")
        self.low, self.high = low, high
        self._rng = random.SystemRandom()

    def allocate(self, sensitivity: str = "s0") -> str:
        pairs = (self.high - self.low + 1) * (self.high - self.low) // 2
        with self._lock:
            if len([p for p in self._in_use if p[0] == sensitivity]) >= pairs:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "no free MCS category pair left")
            while True:
                a, b = sorted(self._rng.sample(range(self.low, self.high + 1), 2))
                key = (sensitivity, a, b)
                if key not in self._in_use:
                    self._in_use.add(key)
                    return f"{sensitivity}:c{a},c{b}"

    @staticmethod
    def _key(level: str) -> tuple[str, int, int] | None:
        sens, _, cats = level.partition(":")
        parts = cats.split(",")
        if len(parts) != 2 or not all(p.startswith("c") and p[1:].isdigit() for p in parts):
            return None
        a, b = (int(p[1:]) for p in parts)
        return (sens, min(a, b), max(a, b))

    def reserve(self, level: str) -> None:
        """Mark a running guest's pair used; a second guest with the same pair is an error."""
        key = self._key(level)
        if key is None:
            return
        with self._lock:
            if key in self._in_use:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"MCS level for existing domain label {level} already reserved"
                )
            self._in_use.add(key)

    def release(self, level: str) -> None:
        key = self._key(level)
        if key is not None:
            with self._lock:
                self._in_use.discard(key)

    def in_use(self, level: str) -> bool:
        key = self._key(level)
        with self._lock:
            return key in self._in_use
