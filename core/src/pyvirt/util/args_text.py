"""Render a command as libvirt's ``.args`` text.

libvirt logs every child it starts in this form and its ``qemuxml2argv`` test
data is written in it, so we produce it byte for byte: environment first
(``NAME=value``, one per line), then the program, then the arguments, with a
line break before each option and before any value that does not follow an
option. Words are single-quoted only when the shell would otherwise split or
expand them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

__all__ = ["quote_word", "render_args_text"]

_SHELL_SPECIAL = frozenset("|&;()<> \t\n\"'\\$`*?[]#~{}!")


def quote_word(word: str) -> str:
    """Quote ``word`` for a POSIX shell only where needed (libvirt's rule)."""
    if word and not any(ch in _SHELL_SPECIAL for ch in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def render_args_text(env: Mapping[str, str], argv: Sequence[str], *, one_line: bool = False) -> str:
    """``LC_ALL=C \\`` ... ``/usr/bin/qemu \\`` ``-name guest=x \\`` ``-S``.

    ``one_line`` gives the same words separated by single spaces, for error
    messages.
    """
    sep = " " if one_line else " \\\n"
    parts: list[str] = [f"{name}={quote_word(value)}{sep}" for name, value in env.items()]
    if not argv:
        return "".join(parts).rstrip(" \\\n")
    parts.append(quote_word(argv[0]))
    for prev, cur in pairwise(argv):
        breaks = cur.startswith("-") or not prev.startswith("-")
        parts.append(sep if breaks else " ")
        parts.append(quote_word(cur))
    return "".join(parts)
