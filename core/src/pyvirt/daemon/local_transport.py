"""pyvirtd's own transport for local (Unix socket) clients: reads that keep the descriptors a client passes.

Why not the event loop's transports: pyvirtd runs on uvloop (see
:func:`pyvirt.daemon.server.new_event_loop`), whose transports read a Unix
socket through libuv with plain ``read(2)``, and the kernel closes every
descriptor that arrives that way. libvirt's clients pass descriptors
(``virsh start --pass-fds``, ``*WithFiles`` calls: SCM_RIGHTS, one byte
each after the message), so a local client's socket is read here with
``recvmsg``, and the descriptors are queued in order with their place in
the byte stream for the client's parser to claim. The shape is libvirt's
``virNetSocket`` reading for ``virNetServerClient``.

It is also the cheaper path: one ``recvmsg`` into one buffer the listener
reuses (no 256 KiB bytes object per read), and a reply goes straight to the
socket with one ``send`` while nothing is queued before it, which is every
reply of a client that reads what it is sent. What the socket does not take
waits here, written when the socket is writable; past ``HIGH_WATER`` bytes
the protocol is told to stop reading that client (``pause_writing``), as
asyncio's transports do.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol

from pyvirt.remote.message import NUM_FDS_MAX

__all__ = ["ClientTransport", "LocalListener", "LocalTransport"]

log = logging.getLogger("pyvirt.daemon.server")

# Plain ints: socket's constants are IntFlag members, and an enum operation costs a microsecond a read.
_CLOEXEC = int(socket.MSG_CMSG_CLOEXEC)
_CTRUNC = int(socket.MSG_CTRUNC)
_ANCILLARY_SPACE = socket.CMSG_SPACE(NUM_FDS_MAX * 4)
_READ_SIZE = 256 * 1024  # what one read may take (asyncio's transports read as much)
# accept(2) errors that mean "out of descriptors or memory for now": stop accepting for a second
# (asyncio's accept loop does the same) rather than spin on a listener that stays readable
_ACCEPT_BACKOFF = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class ClientProtocol(Protocol):
    """What the transport calls (:class:`pyvirt.daemon.server.Client` is asyncio.Protocol-shaped)."""

    def connection_made(self, transport: Any) -> None: ...
    def data_received(self, data: bytes | memoryview) -> None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...


class ClientTransport(Protocol):
    """What pyvirtd's client needs of a transport: this module's, or uvloop's (TCP, TLS relays).

    uvloop's transports have asyncio.Transport's methods without deriving from
    it, so the client holds its transport by this shape, not by class.
    """

    def write(self, data: bytes | bytearray) -> None: ...
    def close(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


class LocalTransport:
    """One accepted local socket: non-blocking reads and writes driven by the loop's reader/writer callbacks.

    ``fds``: descriptors received and not yet claimed, each with the place in
    the byte stream of the byte that carried it; ``truncated``: the kernel had
    more descriptors than the room given (it closed the rest), which the
    client's parser treats as a protocol error; ``received``: bytes read so far.
    """

    HIGH_WATER = 64 * 1024
    LOW_WATER = 16 * 1024

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: ClientProtocol, buffer: memoryview
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.protocol = protocol
        self.fds: list[tuple[int, int]] = []
        self.truncated = False
        self.received = 0
        self._fd = sock.fileno()
        self._buffers = [buffer]  # the listener's read buffer: the protocol copies what it is handed
        self._view = buffer
        self._out = bytearray()  # bytes the socket has not taken yet
        self._reading = False
        self._closing = False
        self._closed = False
        self._writes_paused = False

    def start(self) -> None:
        self.protocol.connection_made(self)
        if not self._closing:
            self.resume_reading()

    # -- asyncio.Transport's surface, as far as pyvirtd's client uses it -----------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self.loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self.loop.add_reader(self._fd, self._readable)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            return
        if not self._out:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as e:
                self._abort(e)
                return
            if sent == len(data):
                return
            self._out += memoryview(data)[sent:]
            self.loop.add_writer(self._fd, self._writable)
        else:
            self._out += data
        if not self._writes_paused and len(self._out) > self.HIGH_WATER:
            self._writes_paused = True
            self.protocol.pause_writing()

    def close(self) -> None:
        """Stop reading; hang up once what is queued has been written (asyncio's ``close``)."""
        if self._closing:
            return
        self._closing = True
        self.pause_reading()
        if not self._out:
            self.loop.call_soon(self._finish, None)

    # -- the loop's callbacks --------------------------------------------------------------
    def _readable(self) -> None:
        try:
            n, ancillary, flags, _addr = self.sock.recvmsg_into(self._buffers, _ANCILLARY_SPACE, _CLOEXEC)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._abort(e)
            return
        self.received += n
        if ancillary:
            self._keep_fds(ancillary)
        if flags & _CTRUNC:
            self.truncated = True
        if n == 0:  # the client hung up
            self.close()
            return
        self.protocol.data_received(self._view[:n])

    def _keep_fds(self, ancillary: list[tuple[int, int, bytes]]) -> None:
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                # the kernel ends a read with the byte that carried descriptors: they came with the last one
                self.fds.extend((self.received - 1, fd) for fd in struct.unpack(f"{usable // 4}i", payload[:usable]))

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._abort(e)
            return
        del self._out[:sent]
        if self._out:
            return
        self.loop.remove_writer(self._fd)
        if self._writes_paused:  # (below the low-water mark: nothing is left)
            self._writes_paused = False
            self.protocol.resume_writing()
        if self._closing:
            self._finish(None)

    def _abort(self, exc: Exception) -> None:
        """The socket failed (the client reset it): drop what is queued and close at once."""
        self._out.clear()
        self._closing = True
        self.pause_reading()
        self.loop.call_soon(self._finish, exc)

    def _finish(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.pause_reading()
        self.loop.remove_writer(self._fd)
        self._out.clear()
        # The client's state is released before it sees the hang-up, as asyncio's transports order it: whoever
        # reads the end of file (a test counting the daemon's descriptors, a client reconnecting) finds it gone.
        try:
            self.protocol.connection_lost(exc)
        finally:
            self.sock.close()


class LocalListener:
    """Accepts on a local listening socket and serves each connection with a :class:`LocalTransport`.

    The listening socket stays the caller's (the daemon closes and unlinks it);
    this only reads from it on the loop, until :meth:`close`.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, factory: Callable[[], ClientProtocol]
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        # one read buffer for every client of this listener: reads happen on the loop, one at a time
        self.buffer = memoryview(bytearray(_READ_SIZE))
        self._open = True
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(64):  # bounded: the loop's other clients get their turn
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as e:
                if e.errno in _ACCEPT_BACKOFF:
                    log.warning("cannot accept a client: %s; accepting again in 1 s", e.strerror)
                    self.loop.remove_reader(self.sock.fileno())
                    self.loop.call_later(1.0, self._resume)
                    return
                raise
            conn.setblocking(False)
            LocalTransport(self.loop, conn, self.factory(), self.buffer).start()

    def _resume(self) -> None:
        if self._open:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        if self._open:
            self._open = False
            self.loop.remove_reader(self.sock.fileno())
