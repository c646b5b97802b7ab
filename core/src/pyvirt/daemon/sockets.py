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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

    from pyvirt.daemon.config import DaemonConfig

from pyvirt.errors import Error, ErrorCode, ErrorDomain, NotSupportedError, SystemCallError
from pyvirt.util.unix_socket import bind_unix, connect_unix

__all__ = [
    "DaemonPaths",
    "Listener",
    "PeerCred",
    "activated_sockets",
    "daemon_paths",
    "open_inet_listeners",
    "open_listener",
    "peer_cred",
    "prepare_activated_inet",
]

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
    """One listening socket and whether clients arriving on it are read-only.

    A network listener (``inet``) has no peer credentials; a TLS one carries
    its server context and the ``tls_allowed_dn_list`` patterns (None: every
    client whose certificate the CA signed).
    """

    sock: socket.socket
    path: str
    read_only: bool
    activated: bool = False
    inet: bool = False
    tls: ssl.SSLContext | None = None
    allowed_dn: tuple[str, ...] | None = None
    activation: str = ""  # "tls" or "tcp" for systemd's pyvirtd-tls.socket / pyvirtd-tcp.socket

    def close(self) -> None:
        self.sock.close()
        if not self.activated and not self.inet:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def tls_refusal(self, peercert: Mapping[str, object] | None) -> str | None:
        """Why a TLS client whose handshake succeeded is still refused (the DN list), or None."""
        if self.allowed_dn is None:
            return None
        from pyvirt.remote.tls import dn_allowed, peer_dn

        dn = peer_dn(peercert)
        if dn_allowed(dn, self.allowed_dn):
            return None
        return (
            "Client's Distinguished Name is not on the list of allowed clients (tls_allowed_dn_list).  Use "
            "'virt-pki-query-dn clientcert.pem' to view the Distinguished Name field in the client certificate, "
            f"or run this daemon with --verbose option. (client DN '{dn}')"
        )


def _bind_inet(addr: str | None, port: str, **kw: object) -> list[Listener]:
    """Listen on every address ``addr`` resolves to (all of them when None), as virNetSocketNewListenTCP does."""
    flags = socket.AI_PASSIVE | (socket.AI_ADDRCONFIG if addr is None else 0)
    try:
        infos = socket.getaddrinfo(addr, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)
    except socket.gaierror as e:
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Unable to resolve address '{addr}' service '{port}': {e.strerror}",
            domain=ErrorDomain.RPC,
        ) from None
    out: list[Listener] = []
    for family, kind, proto, _, sockaddr in infos:
        sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(128)
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRNOTAVAIL and addr is None:  # no IPv6 on this host: libvirt skips it too
                continue
            for listener in out:
                listener.close()
            raise SystemCallError(e.errno or errno.EIO, "Unable to bind to port", domain=ErrorDomain.RPC) from None
        host, bound_port = sock.getsockname()[:2]
        name = f"[{host}]:{bound_port}" if family == socket.AF_INET6 else f"{host}:{bound_port}"
        out.append(Listener(sock, name, False, inet=True, **kw))  # type: ignore[arg-type]
    if not out:
        raise SystemCallError(errno.EADDRNOTAVAIL, "Unable to bind to port", domain=ErrorDomain.RPC)
    return out


def open_inet_listeners(config: DaemonConfig, root: str | None, config_file: str) -> list[Listener]:
    """``--listen``: TLS on ``tls_port`` when ``listen_tls`` (the default), TCP on ``tcp_port`` when ``listen_tcp``.

    TCP is refused unless ``auth_tcp = "none"``: libvirtd's default for it is
    SASL, which pyvirtd does not have, and serving plain TCP without any
    authentication must be an explicit choice.
    """
    out: list[Listener] = []
    try:
        if config.listen_tcp:
            _refuse_tcp_without_auth(config, config_file)
            out += _bind_inet(config.listen_addr, config.tcp_port)
        if config.listen_tls:
            ctx, dns = _tls_settings(config, root)
            out += _bind_inet(config.listen_addr, config.tls_port, tls=ctx, allowed_dn=dns)
    except BaseException:
        for listener in out:
            listener.close()
        raise
    return out


def _refuse_tcp_without_auth(config: DaemonConfig, config_file: str) -> None:
    if config.auth_tcp != "none":
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"{config_file}: auth_tcp: unsupported auth {config.auth_tcp} (pyvirtd has no SASL; "
            'set auth_tcp = "none" to serve TCP without authentication, or use TLS)',
            domain=ErrorDomain.CONF,
        )


def _tls_settings(config: DaemonConfig, root: str | None) -> tuple[ssl.SSLContext, tuple[str, ...] | None]:
    """The TLS server context and DN patterns the configuration asks for (certificates checked first)."""
    from pyvirt.remote.tls import server_context, server_pki_files

    pki = server_pki_files(root, config.ca_file, config.cert_file, config.key_file, config.crl_file)
    verify = not config.tls_no_verify_certificate
    ctx = server_context(pki, verify_client=verify, sanity=not config.tls_no_sanity_certificate)
    dns = tuple(config.tls_allowed_dn_list) if verify and config.tls_allowed_dn_list is not None else None
    return ctx, dns


def prepare_activated_inet(listeners: list[Listener], config: DaemonConfig, root: str | None, config_file: str) -> None:
    """Give systemd's ``pyvirtd-tls.socket`` its TLS settings; refuse ``pyvirtd-tcp.socket`` as ``--listen`` would.

    libvirtd serves ``libvirtd-tls.socket`` and ``libvirtd-tcp.socket`` the
    same way: activation replaces ``--listen`` and ``listen_tls``/``listen_tcp``,
    the certificates and ``auth_tcp`` still come from the configuration.
    """
    for listener in listeners:
        if listener.activation == "tls":
            listener.tls, listener.allowed_dn = _tls_settings(config, root)
        elif listener.activation == "tcp":
            _refuse_tcp_without_auth(config, config_file)


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
    ``-ro``) is the read-only socket, ``pyvirtd-tls.socket`` and
    ``pyvirtd-tcp.socket`` (names ending in ``-tls``/``-tcp``) the network
    ones (:func:`prepare_activated_inet` gives them their settings); anything
    else is read-write. Without names, the first fd is read-write and the
    second read-only, as libvirtd assumes for its two unix sockets.
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
        base = name.removesuffix(".socket")
        if base.endswith(("-tls", "-tcp")) and sock.family in (socket.AF_INET, socket.AF_INET6):
            host, port = sock.getsockname()[:2]
            out.append(Listener(sock, f"{host}:{port}", False, activated=True, inet=True, activation=base[-3:]))
            continue
        read_only = base.endswith("-ro") if name else i == 1
        path = sock.getsockname() or (paths.ro_socket if read_only else paths.rw_socket)
        out.append(Listener(sock, str(path), read_only, activated=True))
    return out
