"""virsh's tables (vshTable): a header, a dashed rule, left-aligned columns.

Columns are as wide as their widest cell (by display width), separated by
three spaces, every line indented by one space, the last column unpadded.
``-q`` drops the header and rule, as virsh does.
"""

from __future__ import annotations

from _collections_abc import Sequence

from pyvirt.cli.framework import Session

__all__ = ["print_table"]


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    import unicodedata  # only for text beyond ASCII: a C extension pyvirsh list need not load

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def print_table(session: Session, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [0 if session.quiet else _width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [_pad(c, widths[i]) for i, c in enumerate(cells[:-1])]
        return " " + "   ".join([*parts, cells[-1]])

    if not session.quiet:
        session.out(line(headers))
        session.out("-" * (1 + sum(widths) + 3 * (len(widths) - 1) + 2))
    for row in rows:
        session.out(line(row))
