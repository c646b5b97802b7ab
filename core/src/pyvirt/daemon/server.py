"""pyvirtd's network server: framing, per-client state, workers, keepalive, idle exit.

The shape is libvirt's ``virNetServer``: one event loop reads and writes every
client socket; a complete message is handed to the program registered for its
(program, version) pair; calls that may block (starting a guest, waiting for a
job) run on a pool of worker threads, calls marked high-priority run on a
separate small pool so that a stuck driver never blocks lookups, and a client
may have at most ``max_client_requests`` calls in flight (further reads pause,
as libvirt stops reading that client). Keepalive is the server's own
program: PINGs are answered at once, and once a client has said it speaks
keepalive the server pings it after ``keepalive_interval`` seconds of silence
and drops it after ``keepalive_count`` unanswered pings.

A client that sends a length outside libvirt's limits or a header that does
not decode is dropped with the error logged; nobody else notices.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from pyvirt.daemon.local_transport import ClientTransport, LocalListener, LocalTransport
from pyvirt.daemon.sockets import Listener, PeerCred, peer_cred
from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain
from pyvirt.remote.message import (
    HEADER_SIZE,
    KEEPALIVE_PROC_PING,
    KEEPALIVE_PROC_PONG,
    KEEPALIVE_PROGRAM,
    KEEPALIVE_PROTOCOL_VERSION,
    LEN_SIZE,
    MESSAGE_MAX,
    NUM_FDS_MAX,
    Header,
    MessageType,
    decode_num_fds,
    encode_error,
    encode_message,
    send_fd,
)
from pyvirt.remote.xdr import ProtocolError

__all__ = ["Client", "Program", "Server"]

_HEADER = struct.Struct(">IIiiIi")
_LENGTH = struct.Struct(">I")
# the message types a program is handed (any other is a protocol error), as plain ints: tested per message
_DISPATCHED = frozenset(int(t) for t in (MessageType.CALL, MessageType.CALL_WITH_FDS, MessageType.STREAM))
_CALL_WITH_FDS = int(MessageType.CALL_WITH_FDS)

log = logging.getLogger("pyvirt.daemon.server")

_PING = bytes(
    encode_message(KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KEEPALIVE_PROC_PING, MessageType.MESSAGE, 0, 0)
)
_PONG = bytes(
    encode_message(KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KEEPALIVE_PROC_PONG, MessageType.MESSAGE, 0, 0)
)


class Program(Protocol):
    """What the server needs from a protocol program (the remote program, later others)."""

    program: int
    version: int

    def dispatch(self, client: Client, header: Header, body: bytes, fds: list[int] | None = None) -> None:
        """Handle one CALL or STREAM message; must eventually ``client.send`` the reply.

        ``fds``: the descriptors a CALL_WITH_FDS brought (``body`` then starts
        after their count); the program owns them and closes them on every path.
        """

    def client_closed(self, client: Client) -> None:
        """Release what the client held (its driver connection, event callbacks, streams)."""


def _close_fds(fds: list[int] | list[tuple[int, int]]) -> None:
    for fd in fds:
        os.close(fd[1] if isinstance(fd, tuple) else fd)
    fds.clear()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """pyvirtd's event loop: uvloop's (libuv's loop, written in C).

    The loop runs every call of a driver that never blocks (the test driver,
    the QEMU driver's lookups), so its own cost per wake-up is part of every
    such call. Measured on the development VM: a bare echo server spends 29 us
    of CPU per message on asyncio's pure-Python loop and transports, 19-22 us
    on uvloop's, and moving pyvirtd to uvloop took a lookup+info pair's daemon
    CPU from about 120 to about 100 us. Its transports serve the TCP and TLS
    listeners; local clients use :mod:`pyvirt.daemon.local_transport`, which
    keeps the descriptors they pass.
    """
    import uvloop

    return uvloop.new_event_loop()


class Client(asyncio.Protocol):
    """One connected client: its buffer, credentials, in-flight calls and keepalive state."""

    _next_id = 0

    def __init__(self, server: Server, listener: Listener) -> None:
        Client._next_id += 1
        self.id = Client._next_id
        self.server = server
        self.listener = listener
        self.read_only = listener.read_only
        self.peer: PeerCred | None = None
        self.transport: ClientTransport | None = None
        self._buf = bytearray()
        self._consumed = 0  # where in the client's byte stream the buffer starts (descriptors are placed by it)
        self._local: LocalTransport | None = None  # a local client's transport: it keeps the descriptors sent
        self._inflight = 0
        # descriptors that may wait unclaimed: a client at its request cap may have that many calls' waiting
        # (and the next one's), each at most VIR_NET_MESSAGE_NUM_FDS_MAX
        self._fds_cap = NUM_FDS_MAX * (server.max_client_requests + 1)
        self._paused = False  # at max_client_requests calls in flight
        self._write_paused = False  # replies are piling up unread in the transport
        self._when_writable: list[Callable[[], None]] = []
        self._reading = True
        self.closed = False
        self.last_rx = time.monotonic()
        self.keepalive = False
        self._pings_unanswered = 0
        # Per-program private state (the remote program keeps the client's driver connection here).
        self.state: dict[str, object] = {}
        # While a REPLY_WITH_FDS's descriptors are still to go, what else is sent waits here, in order
        self._held: list[tuple[bytes | bytearray, list[int] | None]] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = cast(ClientTransport, transport)
        if isinstance(transport, LocalTransport):
            self._local = transport
        sock = transport.get_extra_info("socket")
        if not self.listener.inet and (isinstance(sock, socket.socket) or hasattr(sock, "getsockopt")):
            self.peer = peer_cred(sock)
        self.server.client_added(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._local is not None:  # descriptors sent that no call claimed
            _close_fds(self._local.fds)
        self.server.client_removed(self)

    def pause_writing(self) -> None:
        """The transport holds more unsent replies than its high-water mark: stop reading this client.

        libvirt counts a call as outstanding until its reply is written, so a
        client that never reads its replies stops being read; without this a
        client could make the daemon queue replies until it runs out of memory.
        """
        self._write_paused = True
        self._update_reading()

    @property
    def write_paused(self) -> bool:
        """True while the client is not reading what it was sent (streams stop reading their source)."""
        return self._write_paused

    def when_writable(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` (on the loop) once the client has drained its replies; at once if it has."""
        if self._write_paused:
            self._when_writable.append(fn)
        else:
            fn()

    def resume_writing(self) -> None:
        self._write_paused = False
        waiting, self._when_writable = self._when_writable, []
        for fn in waiting:
            fn()
        self._update_reading()
        if not self.closed and self._reading:
            self._process()

    def _update_reading(self) -> None:
        want = not (self._paused or self._write_paused)
        if want != self._reading and self.transport is not None and not self.closed:
            self._reading = want
            if want:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def data_received(self, data: bytes | memoryview) -> None:
        self.last_rx = time.monotonic()
        self._pings_unanswered = 0
        self._buf += data
        self._process()

    def _process(self) -> None:
        """Handle every complete message in the buffer, stopping while the client is at its request cap.

        A CALL_WITH_FDS is complete once its descriptors are here too: libvirt
        sends each after the message, as one byte carrying it (virSocketSendFD),
        and counts them right after the header (at most VIR_NET_MESSAGE_NUM_FDS_MAX).
        A count past that, bytes that came without their descriptor, or
        descriptors no message announced are a protocol error: the client is
        dropped and every descriptor it sent closed, as libvirtd drops it
        (``wantClose`` in virNetServerClientDispatchRead).
        """
        buf = self._buf
        offset = 0
        n = len(buf)
        sock = self._local
        if sock is not None and (sock.truncated or len(sock.fds) > self._fds_cap):
            self.drop(f"more descriptors than its calls may carry (VIR_NET_MESSAGE_NUM_FDS_MAX is {NUM_FDS_MAX})")
            return
        while n - offset >= LEN_SIZE and not self._paused and not self._write_paused:
            (length,) = _LENGTH.unpack_from(buf, offset)
            if length < LEN_SIZE + HEADER_SIZE or length - LEN_SIZE > MESSAGE_MAX:
                self.drop(f"packet {length} bytes received from client out of range")
                return
            if n - offset < length:
                break
            header = Header._make(_HEADER.unpack_from(buf, offset + LEN_SIZE))
            start, end = offset + LEN_SIZE + HEADER_SIZE, offset + length
            if sock is not None and sock.fds and sock.fds[0][0] < self._consumed + end:
                self.drop("descriptors that came with a message's own bytes")  # none may: they follow it
                return
            fds: list[int] | None = None
            if header.type == _CALL_WITH_FDS:
                try:
                    count = decode_num_fds(buf[:end], start)
                except ProtocolError as e:
                    self.drop(str(e))
                    return
                if n - end < count:  # its descriptors are still on their way
                    break
                fds = self._take_fds(count, self._consumed + end)
                if fds is None:
                    self.drop(f"{count} descriptors announced, not received")
                    return
                body = bytes(buf[start + 4 : end])
                offset = end + count
            else:
                body = bytes(buf[start:end])
                offset = end
            self._handle(header, body, fds)
            if self.closed:
                return
        if offset:
            del buf[:offset]
            self._consumed += offset

    def _take_fds(self, count: int, first: int) -> list[int] | None:
        """The ``count`` descriptors the bytes from stream position ``first`` on carried, one each; None (and
        nothing taken) when they did not all come there."""
        sock = self._local
        if count == 0:
            return []
        if sock is None or len(sock.fds) < count or sock.fds[count - 1][0] >= first + count:
            return None
        taken, sock.fds[:count] = sock.fds[:count], []
        return [fd for _pos, fd in taken]

    # -- messages ---------------------------------------------------------------------------
    def _handle(self, header: Header, body: bytes, fds: list[int] | None = None) -> None:
        program = self.server.programs.get((header.prog, header.vers))
        if fds is not None and (program is None or header.prog == KEEPALIVE_PROGRAM):
            _close_fds(fds)  # nobody to hand them to (libvirt frees them with the message)
            fds = None
        if header.prog == KEEPALIVE_PROGRAM:
            self._keepalive(header)
            return
        if program is None:
            if header.type in (MessageType.CALL, MessageType.CALL_WITH_FDS):
                err = ConnectionError(
                    ErrorCode.RPC, f"Cannot find program {header.prog} version {header.vers}", domain=ErrorDomain.RPC
                )
                self.send_error(header, err)
            else:
                self.drop(f"unexpected message for unknown program {header.prog:#x}")
            return
        if header.type not in _DISPATCHED:
            self.drop(f"Unexpected message type {header.type}")
            return
        if fds is None:
            program.dispatch(self, header, body)
        else:
            program.dispatch(self, header, body, fds)

    def _keepalive(self, header: Header) -> None:
        if header.vers != KEEPALIVE_PROTOCOL_VERSION or header.type != MessageType.MESSAGE:
            self.drop("malformed keepalive message")
        elif header.proc == KEEPALIVE_PROC_PING:
            self.send(_PONG)
        elif header.proc != KEEPALIVE_PROC_PONG:
            self.drop(f"unknown keepalive procedure {header.proc}")

    def send(self, data: bytes | bytearray) -> None:
        """Queue one whole message (``pyvirt.remote.message.encode_message``); safe from any thread."""
        if threading.get_ident() == self.server.loop_thread:
            self._write(data)
        else:
            self.server.loop.call_soon_threadsafe(self._write, data)

    def _write(self, data: bytes | bytearray) -> None:
        if self._held is not None:
            self._held.append((data, None))
        elif not self.closed and self.transport is not None:
            self.transport.write(data)

    @property
    def passes_fds(self) -> bool:
        """Whether descriptors can be sent to this client: only on a local socket (libvirt's virNetSocketHasPassFD)."""
        return self._local is not None

    def send_with_fds(self, data: bytes | bytearray, fds: list[int]) -> None:
        """Queue a REPLY_WITH_FDS message and the descriptors behind it; safe from any thread.

        The descriptors become the client's: each goes after the whole
        message, one zero byte carrying it, as libvirt's
        virNetServerClientDispatchWrite sends them with virNetSocketSendFD
        once the message's bytes are written. The daemon's copies are closed
        once sent (or when the client is gone). Nothing else is written to the
        client in between: its reader takes the next bytes as the descriptors'.
        """
        if threading.get_ident() == self.server.loop_thread:
            self._write_with_fds(data, fds)
        else:
            self.server.loop.call_soon_threadsafe(self._write_with_fds, data, fds)

    def _write_with_fds(self, data: bytes | bytearray, fds: list[int]) -> None:
        if self._held is not None:
            self._held.append((data, fds))
            return
        if self.closed or self.transport is None or self._local is None:
            _close_fds(fds)
            return
        self.transport.write(data)
        self._held = []
        self._send_fds(list(fds))

    def _send_fds(self, fds: list[int]) -> None:
        """Send ``fds`` once the transport has written everything before them; then release what was held."""
        while fds:
            if self.closed or self.transport is None or self._local is None:
                _close_fds(fds)
                break
            try:
                if self.transport.get_write_buffer_size():
                    raise BlockingIOError  # the message's bytes are not all out yet
                send_fd(self._local.sock, fds[0])
            except BlockingIOError:
                self.server.loop.call_later(0.001, self._send_fds, fds)
                return
            except OSError as e:
                _close_fds(fds)
                self.drop(f"cannot send a descriptor: {e.strerror}")
                break
            os.close(fds.pop(0))
        held, self._held = self._held or [], None
        for data, more in held:  # (a second REPLY_WITH_FDS among them holds the rest again, in order)
            if more is None:
                self._write(data)
            else:
                self._write_with_fds(data, more)

    def send_last(self, data: bytes | bytearray) -> None:
        """Queue the client's last message and close the connection behind it (safe from any thread).

        libvirt's ``virNetServerClientDelayedClose``, which CONNECT_CLOSE asks
        for: the daemon stops reading the client and hangs up once the reply is
        written, instead of keeping the socket until the client's own hang-up
        reaches the loop. Someone who counts the daemon's descriptors after
        virsh exits then finds its connection gone, not still closing.
        """
        if threading.get_ident() == self.server.loop_thread:
            self._write_last(data)
        else:
            self.server.loop.call_soon_threadsafe(self._write_last, data)

    def _write_last(self, data: bytes | bytearray) -> None:
        self._write(data)
        self.close()  # (the transport writes what it still holds before it closes the socket)

    def send_error(self, header: Header, err: BaseException) -> None:
        """The reply to ``header`` carrying ``err`` (libvirt's code, domain and message)."""
        reply_type = MessageType.STREAM if header.type == MessageType.STREAM else MessageType.REPLY
        self.send(encode_error(header.prog, header.vers, header.proc, reply_type, header.serial, err))

    def drop(self, why: str) -> None:
        """Close a misbehaving or dead client; others are unaffected."""
        if not self.closed:
            log.warning("client %d (pid %s): %s; closing", self.id, self.peer.pid if self.peer else "?", why)
            self.close()

    def close(self) -> None:
        if threading.get_ident() != self.server.loop_thread:
            self.server.loop.call_soon_threadsafe(self.close)
            return
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    # -- workers ----------------------------------------------------------------------------
    def run_in_worker(self, fn: Callable[[], None], *, priority: bool = False) -> None:
        """Run ``fn`` on a worker; past ``max_client_requests`` in flight, stop reading this client."""
        self._inflight += 1
        if self._inflight >= self.server.max_client_requests and not self._paused:
            self._paused = True
            self._update_reading()
        pool = self.server.prio_pool if priority else self.server.pool
        future = pool.submit(fn)
        future.add_done_callback(lambda _f: self.server.loop.call_soon_threadsafe(self._worker_done))

    def _worker_done(self) -> None:
        self._inflight -= 1
        if self._paused and self._inflight < self.server.max_client_requests:
            self._paused = False
            self._update_reading()
            if not self.closed and self._reading:
                self._process()

    def start_keepalive(self) -> None:
        """The client announced keepalive support (libvirt: VIR_DRV_FEATURE_PROGRAM_KEEPALIVE)."""
        self.keepalive = True

    def keepalive_tick(self, now: float, interval: int, count: int) -> None:
        if not self.keepalive or interval <= 0 or now - self.last_rx < interval:
            return
        if self._pings_unanswered >= count:
            self.drop(f"keepalive: no response in {interval * (count + 1)} s")
            return
        self._pings_unanswered += 1
        self.last_rx = now
        self.send(_PING)


class Server:
    """Listeners, clients, programs and worker pools of one pyvirtd instance."""

    def __init__(
        self,
        *,
        max_clients: int = 5000,
        max_workers: int = 20,
        prio_workers: int = 5,
        max_client_requests: int = 5,
        keepalive_interval: int = 5,
        keepalive_count: int = 5,
        idle_timeout: float | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.programs: dict[tuple[int, int], Program] = {}
        self.clients: set[Client] = set()
        self.max_clients = max_clients
        self.max_client_requests = max_client_requests
        self.keepalive_interval = keepalive_interval
        self.keepalive_count = keepalive_count
        self.idle_timeout = idle_timeout
        self.busy = busy
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="pyvirtd-worker")
        self.prio_pool = concurrent.futures.ThreadPoolExecutor(max(prio_workers, 1), thread_name_prefix="pyvirtd-prio")
        self.loop = new_event_loop()
        self.loop_thread = 0
        self._servers: list[asyncio.AbstractServer | LocalListener] = []
        self._stoppers: list[Callable[[], None]] = []
        self._stop = asyncio.Event()
        self._idle_since = time.monotonic()

    def add_program(self, program: Program) -> None:
        self.programs[(program.program, program.version)] = program

    def client_added(self, client: Client) -> None:
        if len(self.clients) >= self.max_clients:
            log.warning("Too many active clients (%d), dropping connection", self.max_clients)
            client.close()
            return
        self.clients.add(client)

    def client_removed(self, client: Client) -> None:
        self.clients.discard(client)
        if not self.clients:
            self._idle_since = time.monotonic()
        for program in self.programs.values():
            try:
                program.client_closed(client)
            except Exception:
                log.exception("cleaning up client %d", client.id)

    def stop(self) -> None:
        """Ask the loop to finish (from a signal handler or any thread)."""
        self.loop.call_soon_threadsafe(self._stop.set)

    async def _ticker(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for client in list(self.clients):
                client.keepalive_tick(now, self.keepalive_interval, self.keepalive_count)
            if self.idle_timeout is not None and not self.clients:
                if self.busy():
                    self._idle_since = now
                elif now - self._idle_since >= self.idle_timeout:
                    log.info("no clients for %s s and nothing running: exiting", self.idle_timeout)
                    self._stop.set()

    async def _serve(self, listeners: list[Listener], ready: Callable[[], None]) -> None:
        self.loop_thread = threading.get_ident()
        for listener in listeners:
            listener.sock.setblocking(False)
            factory = functools.partial(Client, self, listener)
            if listener.tls is not None:  # handshakes on threads (pyvirt.daemon.tls_accept says why)
                from pyvirt.daemon.tls_accept import serve_tls

                self._stoppers.append(serve_tls(self.loop, listener, factory))
                continue
            srv: asyncio.AbstractServer | LocalListener
            if listener.inet:
                srv = await self.loop.create_server(factory, sock=listener.sock)
            else:  # read by pyvirt's own transport: a local client may pass descriptors
                srv = LocalListener(self.loop, listener.sock, factory)
            self._servers.append(srv)
        ready()
        ticker = asyncio.ensure_future(self._ticker())
        await self._stop.wait()
        ticker.cancel()
        for server in self._servers:
            server.close()
        for stop in self._stoppers:
            stop()
        for client in list(self.clients):
            client.close()
        await asyncio.sleep(0)

    def run(self, listeners: list[Listener], ready: Callable[[], None] = lambda: None) -> None:
        """Serve until :meth:`stop`; then close every client and wait for in-flight calls."""
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve(listeners, ready))
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.prio_pool.shutdown(wait=True, cancel_futures=True)
            self.loop.close()
