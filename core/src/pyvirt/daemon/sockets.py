"""pyvirtd's listening sockets: where they live, their permissions, systemd socket activation, peer credentials.

libvirt's layout, with pyvirt's names: the system instance listens on
``/run/pyvirt/pyvirt-sock`` (read-write, 0700 by default) and
``/run/pyvirt/pyvirt-sock-ro`` (read-only, 0777); a session instance on
``$XDG_RUNTIME_DIR/pyvirt/pyvirt-sock``; ``--root DIR`` moves everything under
``DIR`` so several instances can share a machine.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import socket
import struct
from dataclasses import dataclass

from pyvirt.errors import Error, ErrorCode, ErrorDomain, SystemCallError
from pyvirt.util.unix_socket import bind_unix, connect_unix

__all__ = ["DaemonPaths", "Listener", "PeerCred", "activated_sockets", "daemon_paths", "open_listener", "peer_cred"]

_SD_LISTEN_FDS_START = 3


@dataclass(frozen=True)
class DaemonPaths:
    """Where one pyvirtd instance keeps its sockets, pid file and configuration."""

    run_dir: str
    config_file: str
    root: str | None
    system: bool

    @property
    def rw_socket(self) -> str:
        return os.path.join(self.run_dir, "pyvirt-sock")

    @property
    def ro_socket(self) -> str:
        return os.path.join(self.run_dir, "pyvirt-sock-ro")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.run_dir, "pyvirtd.pid")


def daemon_paths(*, root: str | None = None, system: bool | None = None) -> DaemonPaths:
    """The instance's paths: ``--root`` wins, then system (root user) or session."""
    if system is None:
        system = os.geteuid() == 0
    if root is not None:
        root = os.path.abspath(root)
        return DaemonPaths(
            os.path.join(root, "run", "pyvirt"), os.path.join(root, "etc", "pyvirt", "pyvirtd.conf"), root, system
        )
    if system:
        return DaemonPaths("/run/pyvirt", "/etc/pyvirt/pyvirtd.conf", None, True)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return DaemonPaths(os.path.join(runtime, "pyvirt"), os.path.join(config, "pyvirt", "pyvirtd.conf"), None, False)


@dataclass(frozen=True)
class PeerCred:
    """SO_PEERCRED of a connected client: who is on the other end, as the kernel saw it at connect."""

    pid: int
    uid: int
    gid: int


_UCRED = struct.Struct("3i")


def peer_cred(sock: socket.socket) -> PeerCred:
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return PeerCred(pid, uid, gid)


@dataclass
class Listener:
    """One listening socket and whether clients arriving on it are read-only."""

    sock: socket.socket
    path: str
    read_only: bool
    activated: bool = False

    def close(self) -> None:
        self.sock.close()
        if not self.activated:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _refuse_if_alive(path: str) -> None:
    """A socket file another daemon still answers on must not be stolen; a stale one is removed."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        connect_unix(probe, path)
    except FileNotFoundError:
        return
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    finally:
        probe.close()
    raise Error(
        ErrorCode.SYSTEM_ERROR, f"Failed to bind socket to '{path}': Address already in use", domain=ErrorDomain.RPC
    )


def open_listener(path: str, perms: int, group: str | None, *, read_only: bool) -> Listener:
    """Bind ``path`` with ``perms`` (set before anyone can connect) and the configured group."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    _refuse_if_alive(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old_umask = os.umask(0o777 & ~perms)
    try:
        bind_unix(sock, path)
    except OSError as e:
        sock.close()
        raise SystemCallError(
            e.errno or errno.EIO, f"Failed to bind socket to '{path}'", domain=ErrorDomain.RPC
        ) from None
    finally:
        os.umask(old_umask)
    try:
        os.chmod(path, perms)
        if group is not None:
            try:
                gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
            except KeyError:
                raise Error(
                    ErrorCode.CONF_SYNTAX, f"Failed to parse group '{group}'", domain=ErrorDomain.CONF
                ) from None
            os.chown(path, -1, gid)
        sock.listen(128)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return Listener(sock, path, read_only)


def activated_sockets(paths: DaemonPaths) -> list[Listener] | None:
    """Sockets systemd passed (``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES``), or None.

    Names follow the socket units: ``pyvirtd-ro.socket`` (or a name ending in
    ``-ro``) is the read-only socket; anything else is read-write. Without
    names, the first fd is read-write and the second read-only, as libvirtd
    assumes for its two unix sockets.
    """
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return None
    names = os.environ.get("LISTEN_FDNAMES", "").split(":") if os.environ.get("LISTEN_FDNAMES") else []
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    out = []
    for i in range(count):
        fd = _SD_LISTEN_FDS_START + i
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
        name = names[i] if i < len(names) else ""
        read_only = name.removesuffix(".socket").endswith("-ro") if name else i == 1
        path = sock.getsockname() or (paths.ro_socket if read_only else paths.rw_socket)
        out.append(Listener(sock, str(path), read_only, activated=True))
    return out
