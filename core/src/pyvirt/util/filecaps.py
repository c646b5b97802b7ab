"""File capabilities of executables, and what a child will really hold after exec.

The seed's trap: a guest with ``<disk device='lun' rawio='yes'>`` needs QEMU
to hold CAP_SYS_RAWIO, but QEMU runs as an unprivileged user. ``Command``
passes the capability through the ambient set, which survives exec of an
ordinary binary. It does *not* survive exec of a binary that carries file
capabilities (or is set-user-ID): the kernel clears the ambient set and the
new permitted set is ``(inheritable & fI) | (fP & bounding)``. A packaged
emulator with, say, ``cap_net_admin+p`` therefore silently loses
CAP_SYS_RAWIO, and one with ``cap_net_admin+ep`` cannot even be exec'd once
the bounding set is shrunk (the kernel refuses a "capability-dumb" binary
that would not get all of its file capabilities: EPERM).
``require_capabilities_after_exec`` predicts the outcome with the kernel's
rules and fails with a fix-it message instead.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt.util.caps import capability_name, parse_capabilities

__all__ = [
    "FileCaps",
    "predict_exec_capabilities",
    "read_file_caps",
    "require_capabilities_after_exec",
]

XATTR_NAME = "security.capability"
_VFS_CAP_REVISION_MASK = 0xFF000000
_VFS_CAP_REVISION_1 = 0x01000000
_VFS_CAP_REVISION_2 = 0x02000000
_VFS_CAP_REVISION_3 = 0x03000000
_VFS_CAP_FLAGS_EFFECTIVE = 0x000001


def _bits(value: int) -> frozenset[int]:
    return frozenset(i for i in range(64) if value >> i & 1)


@dataclass(frozen=True)
class FileCaps:
    """A decoded ``security.capability`` xattr (VFS_CAP_REVISION 1, 2 or 3)."""

    version: int
    permitted: frozenset[int]
    inheritable: frozenset[int]
    effective: bool
    rootid: int | None = None

    def to_text(self) -> str:
        """``cap_net_admin,cap_sys_rawio+ep`` like getcap (permitted part)."""
        names = ",".join(f"cap_{capability_name(c)}" for c in sorted(self.permitted))
        return f"{names}+{'e' if self.effective else ''}p" if names else ""


def decode_file_caps(raw: bytes) -> FileCaps:
    """Parse the little-endian ``struct vfs_(ns_)cap_data`` layout."""
    if len(raw) < 4:
        raise ValueError("security.capability too short")
    (magic,) = struct.unpack_from("<I", raw)
    revision = magic & _VFS_CAP_REVISION_MASK
    effective = bool(magic & _VFS_CAP_FLAGS_EFFECTIVE)
    if revision == _VFS_CAP_REVISION_1 and len(raw) >= 12:
        p, i = struct.unpack_from("<II", raw, 4)
        return FileCaps(1, _bits(p), _bits(i), effective)
    if revision in (_VFS_CAP_REVISION_2, _VFS_CAP_REVISION_3) and len(raw) >= 20:
        p0, i0, p1, i1 = struct.unpack_from("<IIII", raw, 4)
        rootid = None
        version = 2
        if revision == _VFS_CAP_REVISION_3:
            if len(raw) < 24:
                raise ValueError("security.capability v3 without rootid")
            (rootid,) = struct.unpack_from("<I", raw, 20)
            version = 3
        return FileCaps(version, _bits(p0 | p1 << 32), _bits(i0 | i1 << 32), effective, rootid)
    raise ValueError(f"unknown security.capability revision 0x{revision:08x}")


def read_file_caps(path: str) -> FileCaps | None:
    """The file capabilities of ``path``, or None when it has none."""
    try:
        raw = os.getxattr(path, XATTR_NAME)
    except OSError as exc:
        if exc.errno in (61, 95):  # ENODATA, EOPNOTSUPP
            return None
        raise
    return decode_file_caps(raw)


def predict_exec_capabilities(
    binary: str,
    uid: int,
    inheritable: Iterable[int],
    ambient: Iterable[int],
    bounding: Iterable[int],
) -> frozenset[int] | None:
    """The effective set a process running as ``uid`` gets by exec'ing ``binary``.

    capabilities(7), "Transformation of capabilities during execve()",
    without securebits (pyvirt never sets NOROOT on a child it wants to
    keep capabilities in). None means the kernel refuses the exec (EPERM).
    """
    inh, amb, bnd = frozenset(inheritable), frozenset(ambient), frozenset(bounding)
    st = os.stat(binary)
    fcaps = read_file_caps(binary)
    privileged_file = fcaps is not None or bool(st.st_mode & (stat.S_ISUID | stat.S_ISGID))
    new_uid = st.st_uid if st.st_mode & stat.S_ISUID else uid
    if new_uid == 0:
        # root (or set-uid-root): full permitted within the bounding set
        return inh | bnd
    if privileged_file:
        amb = frozenset()
    if fcaps is None:
        return amb
    permitted = (inh & fcaps.inheritable) | (fcaps.permitted & bnd)
    if fcaps.effective and not fcaps.permitted <= permitted:
        return None
    return permitted if fcaps.effective else frozenset()


def require_capabilities_after_exec(
    binary: str,
    uid: int,
    caps: Iterable[str | int],
    why: str,
) -> None:
    """Fail with a fix-it message if ``binary`` run as ``uid`` would lack ``caps``.

    Assumes the child is started the way ``Command`` starts it: the wanted
    caps in the inheritable, ambient and bounding sets.
    """
    wanted = parse_capabilities(caps)
    if not wanted:
        return
    got = predict_exec_capabilities(binary, uid, wanted, wanted, wanted)
    if got is not None and wanted <= got:
        return
    names = ",".join(f"cap_{capability_name(c)}" for c in sorted(wanted))
    fcaps = read_file_caps(binary)
    have = fcaps.to_text() if fcaps else "none"
    effect = (
        "the kernel will refuse to exec it (its file capabilities are outside the guest's bounding set)"
        if got is None
        else f"it would lack {names} after exec (file capabilities clear the ambient set)"
    )
    raise NotSupportedError(
        ErrorCode.CONFIG_UNSUPPORTED,
        f"{why} needs {names}, but '{binary}' has file capabilities '{have}': run as uid {uid}, {effect}. "
        f"Give the binary exactly that capability with 'setcap {names}+ep {binary}', or remove its file "
        f"capabilities with 'setcap -r {binary}' so the ambient set carries it",
    )
