"""The per-guest master key QEMU is started with (``-object secret,id=masterKey0``).

libvirt gives every QEMU a random 32-byte key file and passes every later
secret (disk passphrases, network-storage passwords, VNC passwords set at
runtime) encrypted with it, so no secret is ever on a command line or in
the monitor stream in the clear. The file lives in the guest's private
directory, readable only by QEMU's user, and goes when the guest stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil

__all__ = ["guest_private_dir", "remove_master_key", "write_master_key"]

KEY_FILE = "master-key.aes"


def guest_private_dir(lib_dir: str, name: str) -> str:
    return os.path.join(lib_dir, f"domain-{name}")


def write_master_key(private_dir: str, uid: int, gid: int, key: bytes | None = None) -> str:
    """A fresh key for this run of the guest; replaced, never reused, on the next start.

    ``key``: the key the command line's secrets were encrypted with (``qemu_secrets.GuestSecrets``); random
    when the caller encrypted none.
    """
    os.makedirs(private_dir, mode=0o750, exist_ok=True)
    os.chown(private_dir, uid, gid)
    path = os.path.join(private_dir, KEY_FILE)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, key if key is not None else os.urandom(32))
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    return path


def remove_master_key(private_dir: str) -> None:
    """Remove the key and the guest's private directory.

    Every destroy waits for this before it answers: the one file and the
    directory go with two syscalls, and the tree walk (a dozen syscalls and
    a few hundred Python steps) only runs when QEMU left something else there.
    """
    try:
        os.unlink(os.path.join(private_dir, KEY_FILE))
        os.rmdir(private_dir)
    except OSError:
        shutil.rmtree(private_dir, ignore_errors=True)
