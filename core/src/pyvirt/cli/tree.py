"""virsh's ``--tree`` listings (vshTreePrint): snapshots, checkpoints and node devices drawn alike.

Each name is printed under its parent as ``+- name``; a ``|`` line opens
each level that has children, rails run down beside siblings still to come,
and the last leaf of a branch is followed by a line of indentation only.
Children are visited in the order of the list given, as virsh walks its
own (already sorted) array.
"""

from __future__ import annotations

from _collections_abc import Sequence

from pyvirt.cli.framework import Session

__all__ = ["print_forest", "print_tree"]


def print_tree(s: Session, names: Sequence[str], parents: Sequence[str | None], devid: int, last: int, root: bool,
               indent: str) -> None:  # fmt: skip
    """vshTreePrintInternal, line for line, from entry ``devid`` (``last``: its parent's last child)."""
    s.out(f"{indent}{'' if root else '+- '}{names[devid]}")
    if not root:
        indent += (" " if devid == last else "|") + " "
    children = [i for i, p in enumerate(parents) if p is not None and p == names[devid]]
    next_last = children[-1] if children else -1
    if children:
        s.out(f"{indent}  |")
    for i in children:
        print_tree(s, names, parents, i, next_last, False, indent + "  ")
    if next_last == -1 and devid == last:
        s.out(indent)


def print_forest(s: Session, names: Sequence[str], parents: Sequence[str | None]) -> None:
    """Every entry without a parent as the root of its own tree, in list order."""
    for i, p in enumerate(parents):
        if p is None:
            print_tree(s, names, parents, i, i, True, "")
