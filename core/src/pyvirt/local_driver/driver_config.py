"""A local driver's configuration file (``qemu.conf``, ``lxc.conf``) in libvirt's ``key = value`` syntax.

Only scalar settings are read (strings quoted or not, numbers); a missing
file means the driver's defaults, as with libvirt.
"""

from __future__ import annotations

import contextlib

__all__ = ["read_driver_config"]


def read_driver_config(path: str) -> dict[str, str]:
    """``key = value`` lines, comments (``#``) dropped, quotes removed from values."""
    out: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.split("#", 1)[0].partition("=")
            if sep:
                out[key.strip()] = value.strip().strip('"')
    return out
