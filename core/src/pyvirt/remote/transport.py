"""The remote driver's transports: which socket a ``driver+transport://[user@]host[:port]/path`` URI gets.

libvirt's rules (remote_driver.c's doRemoteOpen): a transport after ``+``
wins; a URI with a host and no transport means ``tls``; without a host it is
``unix``. ``tcp`` goes to port 16509, ``tls`` to 16514 unless the URI has a
port; ``ssh`` runs the system ``ssh`` with the remote helper command
(:mod:`pyvirt.remote.ssh`).

Every transport hands :class:`pyvirt.remote.client.RemoteClient` one stream
socket, so the RPC client never knows which it has. TLS is the exception
that needs care: an ``ssl.SSLSocket`` must not be read by one thread while
another writes it (OpenSSL's objects are not thread-safe, and TLS 1.3 may
write while reading), and the client reads on its reader thread while any
caller's thread sends. So the TLS connection is driven by one pump thread
and the client gets the other end of a socket pair.
"""

from __future__ import annotations

import errno
import os

from pyvirt.errors import ConnectionError, Error, ErrorCode, ErrorDomain, InvalidArgumentError, SystemCallError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import socket
    import ssl

    from pyvirt.uri import URI

__all__ = ["TCP_PORT", "TLS_PORT", "connect_tcp", "connect_tls", "open_socket", "pump", "transport_of"]

TCP_PORT = 16509
TLS_PORT = 16514
_TRANSPORTS = ("tls", "unix", "ssh", "ext", "tcp", "libssh2", "libssh")
_HANDSHAKE_TIMEOUT = 60.0  # libvirt waits forever; a peer that never answers must not hang the caller
_PUMP_CHUNK = 1 << 16
_PUMP_LIMIT = 1 << 22  # bytes buffered per direction before the pump stops reading that side


def transport_of(uri: URI) -> str:
    """The transport libvirt would pick for ``uri``, or libvirt's error for one it does not know."""
    if uri.transport is None:
        return "tls" if uri.server else "unix"
    if uri.transport not in _TRANSPORTS:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            "remote_open: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
            domain=ErrorDomain.REMOTE,
            verbatim=True,
        )
    return uri.transport


def _truthy(value: str | None) -> bool:
    return value is not None and value not in ("", "0")


def open_socket(uri: URI, read_only: bool, name: str, default_unix: str) -> _socket.socket:
    """A connected stream socket for ``uri``'s transport.

    ``name`` is the URI the daemon is asked to open (the ssh helper is given
    it too); ``default_unix`` the daemon's socket when the URI names none
    (for ``ssh``, the one ``nc`` is pointed at on the far host).
    """
    transport = transport_of(uri)
    host = uri.server or "localhost"
    if transport == "unix":
        from pyvirt.remote.client import connect_unix

        return connect_unix(uri.param("socket") or default_unix)
    if transport == "tcp":
        return connect_tcp(host, uri.port or TCP_PORT)
    if transport == "tls":
        return connect_tls(
            host,
            uri.port or TLS_PORT,
            uri.param("pkipath"),
            verify=not _truthy(uri.param("no_verify")),
            sanity=not _truthy(uri.param("no_sanity")),
        )
    if transport == "ssh":
        from pyvirt.remote.ssh import connect_ssh

        return connect_ssh(uri, read_only, name, default_unix)
    raise ConnectionError(
        ErrorCode.NO_CONNECT,
        f"{uri}: the '{transport}' transport is not available in pyvirt (use ssh, tls, tcp or unix)",
        domain=ErrorDomain.REMOTE,
    )


def connect_tcp(host: str, port: int) -> socket.socket:
    """A TCP connection, tried on every address the name resolves to, with libvirt's errors."""
    import socket  # not at the top: a pyvirsh run over the local socket never imports socket.py

    service = str(port)
    try:
        infos = socket.getaddrinfo(host, service, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Unable to resolve address '{host}' service '{service}': {e.strerror}",
            domain=ErrorDomain.RPC,
        ) from None
    last = errno.ECONNREFUSED
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind | socket.SOCK_CLOEXEC, proto)
        try:
            sock.settimeout(_HANDSHAKE_TIMEOUT)
            sock.connect(addr)
        except OSError as e:
            sock.close()
            last = e.errno or errno.ETIMEDOUT
            continue
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise SystemCallError(last, f"unable to connect to server at '{host}:{service}'", domain=ErrorDomain.RPC)


def connect_tls(host: str, port: int, pkipath: str | None, *, verify: bool, sanity: bool = True) -> socket.socket:
    """TLS as libvirt's client does it: handshake, check the server, wait for the server's confirmation byte."""
    import ssl  # only TLS connections pay for ssl (a pyvirsh run over the local socket never imports it)

    from pyvirt.remote import tls as _tls

    ctx = _tls.client_context(pkipath, verify=verify, sanity=sanity)
    raw = connect_tcp(host, port)
    raw.settimeout(_HANDSHAKE_TIMEOUT)
    try:
        conn = ctx.wrap_socket(raw, server_hostname=host)
    except (ssl.SSLError, OSError) as e:
        raw.close()
        raise _tls.handshake_error(e, host) from None
    try:
        try:
            confirmation = conn.recv(1)
        except ssl.SSLError as e:  # TLS 1.3: the server's verdict on our certificate comes after our handshake
            raise _tls.confirm_failure(_tls.alert_text(e)) from None
        except OSError as e:
            raise _tls.confirm_failure(os.strerror(e.errno) if e.errno else str(e)) from None
        if confirmation != _tls.CONFIRM:
            raise _tls.confirm_failure()
    except BaseException:
        conn.close()
        raise
    conn.settimeout(None)
    return _pumped(conn)


def _pumped(conn: ssl.SSLSocket) -> socket.socket:
    """One end of a socket pair whose other end a thread carries through ``conn``."""
    import socket
    import threading

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    threading.Thread(target=pump, args=(conn, ours), name="pyvirt-tls", daemon=True).start()
    return theirs


def pump(net: ssl.SSLSocket, local: socket.socket, *, framed: bool = True) -> None:
    """Carry bytes both ways until either side ends; the only thread that touches ``net``.

    The end of the network side (EOF, reset, alert) closes ``local``, which
    the RPC client reads as the end of the connection; the end of ``local``
    (the client closed) flushes what it had written and closes ``net``.
    """
    import contextlib  # here, not at the top: a pyvirsh run over the local socket need not import it
    import select
    import ssl

    net.setblocking(False)
    local.setblocking(False)
    to_net = bytearray()
    to_local = bytearray()
    frame_left = 0  # bytes of the RPC message being written that are still to go
    net_open = True
    try:
        while True:
            readers: list[socket.socket] = []
            writers: list[socket.socket] = []
            if net_open and len(to_local) < _PUMP_LIMIT:
                readers.append(net)
            if len(to_net) < _PUMP_LIMIT:
                readers.append(local)
            if net_open and (len(to_net) >= 4 or (to_net and (frame_left or not framed))):
                writers.append(net)
            if to_local:
                writers.append(local)
            if not net_open and not to_local:
                return
            pending = net_open and net.pending() > 0
            r, w, _ = select.select(readers, writers, [], 0 if pending else None)
            if net in r or pending:
                try:
                    while len(to_local) < _PUMP_LIMIT:
                        data = net.recv(_PUMP_CHUNK)
                        if not data:
                            net_open = False
                            break
                        to_local += data
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except OSError:
                    net_open = False
            if local in r:
                try:
                    written = local.recv(_PUMP_CHUNK)
                except BlockingIOError:
                    written = None
                except OSError:
                    written = b""
                if written == b"":  # the client is gone: send what it wrote last (its CONNECT_CLOSE), then stop
                    _flush(net, to_net)
                    return
                if written:
                    to_net += written
            if net in w:
                if framed and frame_left == 0:
                    frame_left = _frame_length(to_net)
                try:
                    sent = net.send(memoryview(to_net)[: frame_left if framed else len(to_net)])
                    del to_net[:sent]
                    frame_left -= sent if framed else 0
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except OSError:
                    net_open = False
                    to_net.clear()
            if local in w:
                try:
                    del to_local[: local.send(to_local)]
                except BlockingIOError:
                    pass
                except OSError:
                    return
    finally:
        with contextlib.suppress(OSError):
            net.close()
        local.close()


def _frame_length(data: bytearray) -> int:
    """The length of the RPC message at the start of ``data``: what the pump writes as one TLS write.

    libvirtd reads one message at a time from its TLS session and then
    waits for the socket to become readable again, so messages sent back to
    back in one TLS record stall it: the second one sits decrypted in
    GnuTLS's buffer while libvirtd waits for the kernel. libvirt's own
    client never sends two messages in one record; neither does this pump.
    """
    return max(int.from_bytes(data[:4], "big"), 4)


def _flush(net: ssl.SSLSocket, data: bytearray, timeout: float = 2.0) -> None:
    import contextlib

    if not data:
        return
    with contextlib.suppress(OSError):
        net.settimeout(timeout)
        net.sendall(data)
