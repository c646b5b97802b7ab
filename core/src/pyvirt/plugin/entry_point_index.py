"""Find one pyvirt entry point without importing ``importlib.metadata``.

Why this exists: ``pyvirsh`` is a short-lived command, and importing
``importlib.metadata`` (which pulls in ``email``, ``zipfile``, ``csv`` ...)
plus scanning every installed distribution costs more than everything else
``pyvirsh list`` does. stevedore has an entry-point cache too, but reaching
it still imports ``importlib.metadata`` and it switches itself off for
interpreters under ``/tmp``.

The index holds only the ``pyvirt.*`` groups, as ``{group: {name: "module:attr"}}``,
in a file under the user's cache directory, written with :mod:`marshal` rather
than JSON: ``marshal`` is built into the interpreter (importlib already loaded
it), while ``json`` drags in ``re`` and ``enum`` and cost a short run about as
much as the rest of the lookup. marshal's format is tied to the Python
version, which the key (the interpreter's path) already pins, and it is not
meant for untrusted data; the file is the user's own, and whoever can write it
could as well name any module as an entry point, so it grants nothing new. It is keyed like stevedore's
cache: the interpreter and ``sys.path``, and valid while the modification
time of every ``sys.path`` directory is unchanged (installing, upgrading or
removing a distribution adds or removes a ``*.dist-info`` directory, which
changes its parent's mtime). A missing, stale, unreadable or unwritable
index falls back to ``importlib.metadata``, so correctness never depends on it.
"""

from __future__ import annotations

import marshal
import os
import sys

__all__ = ["GROUP_PREFIX", "entry_point_names", "entry_point_value", "scan_installed"]

GROUP_PREFIX = "pyvirt."
_FORMAT = 2  # 1 was JSON; 2 is marshal (another file name, so an old index is simply ignored)


def _fnv1a(data: bytes) -> int:
    """32-bit FNV-1a: a stable short hash without loading the zlib extension for crc32."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _cache_file() -> str:
    """The index's path (a str: pathlib is not worth its import time to a short pyvirsh run)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    # A short name only; the stamp inside the file holds the full sys.path, so a crc collision just rescans.
    key = f"{_fnv1a(chr(0).join([sys.executable, *sys.path]).encode()):08x}"
    return os.path.join(base, "pyvirt", f"entry-points-{key}.marshal")


def _stamp() -> list[list[object]]:
    """(path, mtime_ns) of every sys.path entry; a missing entry is stamped -1."""
    out: list[list[object]] = []
    for entry in sys.path:
        try:
            out.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            out.append([entry, -1])
    return out


def scan_installed() -> dict[str, dict[str, str]]:
    """Every ``pyvirt.*`` entry point of the installed distributions (the slow, authoritative path)."""
    import importlib.metadata

    found: dict[str, dict[str, str]] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group.startswith(GROUP_PREFIX):
                # The first distribution on sys.path wins, as importlib.metadata orders them.
                found.setdefault(ep.group, {}).setdefault(ep.name, ep.value)
    return found


def _write(path: str, doc: dict[str, object]) -> None:
    import tempfile

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".entry-points-")
        with os.fdopen(fd, "wb") as f:
            marshal.dump(doc, f)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home, full disk: the next run scans again


def _load_index() -> dict[str, dict[str, str]]:
    path = _cache_file()
    stamp = _stamp()
    try:
        with open(path, "rb") as f:
            doc = marshal.load(f)
        if doc.get("format") == _FORMAT and doc.get("python") == sys.executable and doc.get("stamp") == stamp:
            return doc["entry_points"]  # type: ignore[no-any-return]
    except (OSError, ValueError, EOFError, TypeError, AttributeError):  # marshal's errors for a torn or foreign file
        pass
    found = scan_installed()
    _write(path, {"format": _FORMAT, "python": sys.executable, "stamp": stamp, "entry_points": found})
    return found


def entry_point_names(group: str) -> list[str]:
    """The names of a ``pyvirt.*`` group's installed entry points, sorted (nothing is imported)."""
    return sorted(_load_index().get(group, {}))


def entry_point_value(group: str, name: str) -> str | None:
    """``"module:attr"`` of the named entry point in a ``pyvirt.*`` group, or None when none is installed."""
    return _load_index().get(group, {}).get(name)
