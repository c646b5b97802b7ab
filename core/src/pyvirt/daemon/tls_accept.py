"""pyvirtd's TLS listener: each client's handshake and certificate check on a thread, then served like any client.

Why not asyncio's own TLS (``create_server(ssl=...)``): when it refuses a
client certificate during the handshake it drops the connection without
sending the TLS alert, and libvirt's client, still inside its first
``gnutls_handshake``, dies of SIGPIPE instead of reporting the failure. A
blocking handshake on a thread lets OpenSSL send its alert before the
socket closes, so virsh says "TLS handshake failed ..." as it does against
libvirtd.

After the handshake, libvirt's server-side checks follow: the client's
Distinguished Name against ``tls_allowed_dn_list`` and, when the client is
accepted, the one confirmation byte libvirt's client waits for. The
established TLS connection is then carried by the same pump the client uses
(:func:`pyvirt.remote.transport.pump`), and the event loop serves the other
end of a socket pair, so nothing on the loop ever touches the SSL object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable

from pyvirt.daemon.sockets import Listener
from pyvirt.remote.tls import CONFIRM
from pyvirt.remote.transport import pump

__all__ = ["serve_tls"]

log = logging.getLogger("pyvirt.daemon.tls")

_HANDSHAKE_TIMEOUT = 60.0


def serve_tls(
    loop: asyncio.AbstractEventLoop, listener: Listener, factory: Callable[[], asyncio.Protocol]
) -> Callable[[], None]:
    """Accept on ``listener`` from the loop; returns the function that stops accepting."""
    assert listener.tls is not None
    ctx = listener.tls
    sock = listener.sock
    sock.setblocking(False)

    def accept() -> None:
        try:
            conn, addr = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log.warning("accept on %s: %s", listener.path, e)
            return
        threading.Thread(
            target=_handshake, args=(loop, listener, ctx, conn, addr, factory), name="pyvirtd-tls", daemon=True
        ).start()

    loop.add_reader(sock.fileno(), accept)

    def stop() -> None:
        loop.remove_reader(sock.fileno())

    return stop


def _handshake(
    loop: asyncio.AbstractEventLoop,
    listener: Listener,
    ctx: ssl.SSLContext,
    conn: socket.socket,
    addr: object,
    factory: Callable[[], asyncio.Protocol],
) -> None:
    conn.setblocking(True)
    conn.settimeout(_HANDSHAKE_TIMEOUT)
    # ssl closes the descriptor it wrapped when the handshake fails; this one keeps the connection for _linger
    spare = conn.dup()
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        # OpenSSL has sent its alert; libvirtd logs the refusal the same way (the client sees the alert)
        log.warning("TLS handshake with %s failed: %s", addr, getattr(e, "reason", None) or e)
        conn.close()
        _linger(spare)
        return
    spare.close()
    try:
        refusal = listener.tls_refusal(tls.getpeercert())
        if refusal is not None:
            log.error("client %s: %s", addr, refusal)
            # close_notify, so the client reads a clean end instead of a broken connection: libvirt's client
            # then says "server verification (of our certificate or IP address) failed"
            tls.settimeout(2.0)
            with contextlib.suppress(OSError, ValueError):
                tls.unwrap()
            tls.close()
            return
        tls.sendall(CONFIRM)
    except OSError as e:
        log.warning("TLS client %s went away: %s", addr, e)
        with contextlib.suppress(OSError):
            tls.close()
        return
    tls.settimeout(None)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    threading.Thread(target=pump, args=(tls, ours), name="pyvirtd-tls-pump", daemon=True).start()
    theirs.setblocking(False)

    async def serve() -> None:
        await loop.connect_accepted_socket(factory, theirs)

    try:
        asyncio.run_coroutine_threadsafe(serve(), loop)
    except RuntimeError:  # the daemon is shutting down
        theirs.close()


def _linger(conn: socket.socket, seconds: float = 2.0) -> None:
    """Close after the client has read our alert and closed its side, never with its data unread.

    Closing a TCP socket with unread data sends a reset; libvirt's client,
    still writing its last handshake message, then dies of SIGPIPE instead
    of reporting the alert. So: end our side, read what the client still
    sends until it closes (bounded in time), then close.
    """
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(seconds)
        while conn.recv(65536):
            pass
    conn.close()
