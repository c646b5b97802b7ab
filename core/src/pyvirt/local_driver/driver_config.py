"""A local driver's configuration file (``qemu.conf``, ``lxc.conf``) in libvirt's ``key = value`` syntax.

Only scalar settings are read (strings quoted or not, numbers); a missing
file means the driver's defaults, as with libvirt, and one that cannot be
read is libvirt's "Failed to open file" error, never a traceback.
"""

from __future__ import annotations

from pyvirt.errors import SystemCallError

__all__ = ["read_driver_config"]


def read_driver_config(path: str) -> dict[str, str]:
    """``key = value`` lines, comments (``#``) dropped, quotes removed from values."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return out
    except OSError as exc:  # libvirt's virConfReadFile: the driver cannot start on a file it cannot read
        raise SystemCallError(exc.errno or 0, f"Failed to open file '{path}'") from exc
    for line in lines:
        key, sep, value = line.split("#", 1)[0].partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out
