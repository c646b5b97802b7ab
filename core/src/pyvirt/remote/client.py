"""A libvirt RPC client connection: one socket, a reader thread, serial matching, keepalive, events.

Calls may come from any thread; each gets the next serial (from 0, as
libvirt's client counts) and waits for the reply with that serial, which
the reader thread hands over. Several calls can be in flight at once
(:meth:`RemoteClient.call_many` sends a batch before waiting, one round trip
for what would otherwise be several).

The reader also answers the server's keepalive PINGs (libvirtd starts
pinging once the client asked about VIR_DRV_FEATURE_PROGRAM_KEEPALIVE) and,
when enabled, pings an idle server itself: libvirt's 5 s interval, and the
connection is declared dead after 5 unanswered pings. Asynchronous messages
(domain events) go to a handler on a separate event thread, so a callback
that makes calls of its own cannot block the reader it needs.
"""

from __future__ import annotations

import _socket
import _struct as struct  # (not struct.py: see pyvirt.remote.xdr)
import _thread
import errno as _errno
import os
import time
from _collections_abc import Callable, Sequence

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, SystemCallError
from pyvirt.remote.message import (
    HEADER_SIZE,
    KEEPALIVE_PROC_PING,
    KEEPALIVE_PROC_PONG,
    KEEPALIVE_PROGRAM,
    KEEPALIVE_PROTOCOL_VERSION,
    LEN_SIZE,
    REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION,
    Header,
    MessageType,
    Status,
    decode_error,
    decode_header,
    decode_length,
    decode_num_fds,
    encode_message,
    recv_fd,
    send_fd,
)
from pyvirt.remote.xdr import ProtocolError, decode

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import queue
    import threading
    from collections import deque
    from typing import Any

    from pyvirt.remote.xdr import Pack, Unpack
else:
    from _collections import deque  # the C type itself: the collections package costs a short run 5M instructions

__all__ = ["KEEPALIVE_COUNT", "KEEPALIVE_INTERVAL", "EventHandler", "RemoteClient", "RemoteStream", "connect_unix"]

KEEPALIVE_INTERVAL = 5.0  # seconds; libvirt's default (virsh -k, libvirtd.conf keepalive_interval)
KEEPALIVE_COUNT = 5
_TICK = 1.0
_STREAM_CHUNK = 262120  # VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX: what libvirt's peers send per message
_STREAM_CONFIRM_TIMEOUT = 30.0
_FRAME_LEN = struct.Struct(">I")
_TIMEVAL = struct.Struct("@ll")  # struct timeval, for SO_RCVTIMEO

EventHandler = Callable[[Header, bytes], None]


def connect_unix(path: str) -> _socket.socket:
    """A connected Unix stream socket, or libvirt's error ("Failed to connect socket to 'PATH': ...").

    A ``_socket.socket``: the client uses only its own methods, and a
    ``pyvirsh`` run over the local socket then never imports socket.py, about
    2 ms of its start (selectors, and the enums socket.py builds at import).
    """
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise SystemCallError(
            exc.errno or _errno.EIO, f"Failed to connect socket to '{path}'", domain=ErrorDomain.RPC
        ) from None
    return sock


# The connection's locks and its reader thread come from _thread, the module threading is built on:
# a short pyvirsh run (one connection, three calls) then never imports threading, about 5.5 million
# instructions (over 1 ms). What only streams and event callbacks use still comes from threading.


class _Pending:
    """One call waiting for its reply: the reader fills it in and releases ``done``."""

    __slots__ = ("done", "error", "fds", "offset", "reply")

    def __init__(self) -> None:
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.reply: bytes | None = None
        self.error: Error | None = None
        self.fds: list[int] = []  # descriptors a REPLY_WITH_FDS brought (the caller owns them)
        self.offset = LEN_SIZE + HEADER_SIZE  # where the payload starts


class RemoteStream:
    """One RPC stream (libvirt's virStream over the wire): raw data in STREAM messages of its call's serial.

    The server's data arrives with status CONTINUE, its end of data as an
    empty OK, a failure as ERROR carrying ``remote_error``. ``finish`` sends
    the client's OK and waits for the server's zero-length confirmation,
    ``abort`` sends ERROR, as libvirt's virNetClientStream does.
    """

    def __init__(self, client: RemoteClient, prog: int, vers: int, proc: int, serial: int) -> None:
        self._client = client
        self._header = (prog, vers, proc)
        self.serial = serial
        import threading

        self._chunks: deque[bytes | Error] = deque()
        self._ready = threading.Condition()
        self._eof = False
        self._closed = False
        self._ends = 0  # empty OK and ERROR messages received: ends of data, confirmations

    def _feed(self, item: bytes | Error) -> None:
        with self._ready:
            self._chunks.append(item)
            if not item or isinstance(item, Error):
                self._ends += 1
            self._ready.notify_all()

    def recv(self, timeout: float | None = None) -> bytes:
        """The next chunk the server sent; ``b""`` once it has sent all; its error if it failed.

        :raises TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        with self._ready:
            if self._eof:
                return b""
            if not self._ready.wait_for(lambda: self._chunks, timeout):
                raise TimeoutError("no stream data")
            item = self._chunks.popleft()
        if isinstance(item, Error):
            self._closed = True
            self._client._drop_stream(self.serial)
            raise item
        if not item:
            self._eof = True
        return item

    def send(self, data: bytes) -> None:
        """Send data to the server, in messages no larger than libvirt's legacy payload limit."""
        prog, vers, proc = self._header
        for i in range(0, len(data), _STREAM_CHUNK):
            msg = encode_message(prog, vers, proc, MessageType.STREAM, self.serial, Status.CONTINUE)
            msg += data[i : i + _STREAM_CHUNK]
            _FRAME_LEN.pack_into(msg, 0, len(msg))
            self._client._send(msg)

    def _close(self, status: Status) -> None:
        if self._closed:
            return
        self._closed = True
        prog, vers, proc = self._header
        with self._ready:
            ends_before = self._ends  # the confirmation is the first end that comes after our message
            self._send_close(prog, vers, proc, status)
            ok = self._ready.wait_for(lambda: self._ends > ends_before, _STREAM_CONFIRM_TIMEOUT)
            items = list(self._chunks)
            self._chunks.clear()
        self._client._drop_stream(self.serial)
        if not ok:
            raise TimeoutError("the server did not confirm the end of the stream")
        for item in items:  # data still in flight is dropped; an error from the server is raised
            if isinstance(item, Error):
                raise item

    def _send_close(self, prog: int, vers: int, proc: int, status: Status) -> None:
        self._client._send(encode_message(prog, vers, proc, MessageType.STREAM, self.serial, status))

    def finish(self) -> None:
        """End the stream normally: the server's error, if finishing failed there, is raised."""
        self._close(Status.OK)

    def abort(self) -> None:
        """End the stream at once; the server discards what it had not processed."""
        import contextlib

        with contextlib.suppress(Error, TimeoutError):
            self._close(Status.ERROR)


class RemoteClient:
    """One connection to a libvirt RPC server (libvirtd, virtqemud, pyvirtd)."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        self._send_lock = _thread.allocate_lock()
        self._state_lock = _thread.allocate_lock()
        self._serial = 0
        self._pending: dict[int, _Pending] = {}
        self._streams: dict[int, RemoteStream] = {}
        self._dead: Error | None = None
        self._ended_by_close = False  # the reader saw the end of file our own close() caused
        self._closing = False
        self._events: queue.SimpleQueue[tuple[Header, bytes] | None] | None = None
        self._event_handler: EventHandler | None = None
        self._event_thread: threading.Thread | None = None
        self._keepalive: tuple[float, int] | None = None
        self._last_rx = time.monotonic()
        self._unanswered = 0
        # The reader waits with a timeout (waking at least every _TICK to see whether a keepalive
        # ping is due) while the socket itself stays blocking, so a large send never times out. On a
        # plain socket (the local one) the kernel's receive timeout (SO_RCVTIMEO) makes the tick, which
        # affects receiving only; a transport's socket (tls, ssh) is polled.
        sock.settimeout(None)
        self._poll: Any = None
        if type(sock) is not _socket.socket:
            import select  # (a plain socket's client need not load it: half a million instructions)

            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        self._set_tick(_TICK)
        # The reader is a daemon thread (never waited for at exit); close() waits for this lock instead.
        self._reader_done = _thread.allocate_lock()
        self._reader_done.acquire()
        self._reader = _thread.start_new_thread(self._read_loop, ())

    @property
    def passes_fds(self) -> bool:
        """Whether descriptors can travel on this connection: only a local socket of its own carries them
        (libvirt's virNetSocketHasPassFD); a tls or ssh transport's socket relays bytes alone."""
        return type(self._sock) is _socket.socket and self._sock.family == _socket.AF_UNIX

    # ------------------------------------------------------------------ calls
    def _next_serial(self) -> int:
        with self._state_lock:
            if self._dead is not None or self._ended_by_close:
                raise self._dead_error()
            serial = self._serial
            self._serial = (serial + 1) & 0xFFFFFFFF
            return serial

    def _dead_error(self) -> Error:
        return InternalError(ErrorCode.INTERNAL_ERROR, "client socket is closed")

    def _send(self, data: bytes | bytearray) -> None:
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            err = self._io_error(exc.errno or _errno.EIO, "Cannot write data")
            self._die(err)
            raise err from None

    def call(
        self,
        proc: int,
        pack: Pack | None,
        args: Any,
        unpack: Unpack | None,
        *,
        prog: int = REMOTE_PROGRAM,
        vers: int = REMOTE_PROTOCOL_VERSION,
    ) -> Any:
        """Make one call and return its decoded reply; an ERROR reply raises the server's error."""
        return self.call_many([(proc, pack, args, unpack)], prog=prog, vers=vers)[0]

    def call_many(
        self,
        batch: Sequence[tuple[int, Pack | None, Any, Unpack | None]],
        *,
        prog: int = REMOTE_PROGRAM,
        vers: int = REMOTE_PROTOCOL_VERSION,
        errors_in_place: bool = False,
    ) -> list[Any]:
        """Send every call of ``batch`` first, then wait for all replies (one round trip).

        The first call that failed raises its error once every reply is in, so
        no reply is left unread; with ``errors_in_place`` each failed call's
        error is returned in its place instead.
        """
        waits: list[tuple[_Pending, Unpack | None]] = []
        data = bytearray()
        for proc, pack, args, unpack in batch:
            serial = self._next_serial()
            data += encode_message(prog, vers, proc, MessageType.CALL, serial, Status.OK, pack, args)
            pending = _Pending()
            with self._state_lock:
                self._pending[serial] = pending
            waits.append((pending, unpack))
        try:  # noqa: SIM105 - not contextlib.suppress: a short run need not import contextlib
            self._send(data)
        except Error:
            pass  # the reader's death releases every pending call with the error
        results: list[Any] = []
        first_error: Error | None = None
        for pending, unpack in waits:
            pending.done.acquire()
            if pending.error is not None:
                first_error = first_error or pending.error
                results.append(pending.error)
                continue
            assert pending.reply is not None
            try:
                results.append(decode(unpack, pending.reply, pending.offset))
            except ProtocolError as exc:
                first_error = first_error or exc
                results.append(exc)
        if first_error is not None and not errors_in_place:
            raise first_error
        return results

    def call_with_fds(
        self,
        proc: int,
        pack: Pack | None,
        args: Any,
        unpack: Unpack | None,
        fds: Sequence[int] = (),
        *,
        prog: int = REMOTE_PROGRAM,
        vers: int = REMOTE_PROTOCOL_VERSION,
    ) -> tuple[Any, list[int]]:
        """A call that passes descriptors (CALL_WITH_FDS, SCM_RIGHTS) or gets some back (REPLY_WITH_FDS).

        Returns the decoded reply and the descriptors it brought, which the
        caller owns and must close.
        """
        serial = self._next_serial()
        kind = MessageType.CALL_WITH_FDS if fds else MessageType.CALL
        data = encode_message(prog, vers, proc, kind, serial, Status.OK, pack, args, num_fds=len(fds) if fds else None)
        pending = _Pending()
        with self._state_lock:
            self._pending[serial] = pending
        try:
            with self._send_lock:
                self._sock.sendall(data)
                for fd in fds:
                    send_fd(self._sock, fd)
        except OSError as exc:
            self._die(SystemCallError(exc.errno or _errno.EIO, "Cannot write data", domain=ErrorDomain.RPC))
        pending.done.acquire()
        if pending.error is not None:
            raise pending.error
        assert pending.reply is not None
        try:
            return decode(unpack, pending.reply, pending.offset), pending.fds
        except ProtocolError:
            for fd in pending.fds:
                os.close(fd)
            raise

    def open_stream(
        self,
        proc: int,
        pack: Pack | None,
        args: Any,
        unpack: Unpack | None,
        *,
        prog: int = REMOTE_PROGRAM,
        vers: int = REMOTE_PROTOCOL_VERSION,
    ) -> tuple[Any, RemoteStream]:
        """Make a call that opens a stream (``@readstream``/``@writestream`` procedures): (reply, stream).

        The stream is registered before the call goes out, so no data the
        server sends right after its reply can be missed.
        """
        serial = self._next_serial()
        stream = RemoteStream(self, prog, vers, proc, serial)
        pending = _Pending()
        with self._state_lock:
            self._pending[serial] = pending
            self._streams[serial] = stream
        try:  # noqa: SIM105 - as in call_many
            self._send(encode_message(prog, vers, proc, MessageType.CALL, serial, Status.OK, pack, args))
        except Error:
            pass  # as in call_many: the pending call gets the error
        pending.done.acquire()
        if pending.error is not None:
            self._drop_stream(serial)
            raise pending.error
        assert pending.reply is not None
        try:
            return decode(unpack, pending.reply, LEN_SIZE + HEADER_SIZE), stream
        except ProtocolError:
            self._drop_stream(serial)
            raise

    def _drop_stream(self, serial: int) -> None:
        with self._state_lock:
            self._streams.pop(serial, None)

    # ------------------------------------------------------------------ events and keepalive
    def set_event_handler(self, handler: EventHandler) -> None:
        """Receive every asynchronous MESSAGE of the remote program, on the event thread, in order."""
        with self._state_lock:
            self._event_handler = handler
            if self._events is None:
                import queue  # only connections that want events pay for it
                import threading

                self._events = queue.SimpleQueue()
                self._event_thread = threading.Thread(target=self._event_loop, name="pyvirt-rpc-events", daemon=True)
                self._event_thread.start()

    def _event_loop(self) -> None:
        assert self._events is not None
        while True:
            item = self._events.get()
            if item is None:
                return
            handler = self._event_handler
            if handler is not None:
                try:
                    handler(*item)
                except Exception:
                    import logging

                    logging.getLogger(__name__).exception("event callback failed")

    def start_keepalive(self, interval: float = KEEPALIVE_INTERVAL, count: int = KEEPALIVE_COUNT) -> None:
        """Ping the server after ``interval`` seconds of silence; ``count`` unanswered pings kill the connection."""
        self._keepalive = (interval, count)
        self._set_tick(min(interval, _TICK))

    def stop_keepalive(self) -> None:
        """No more pings (virNetClientKeepAliveStop): the server's own pings are still answered."""
        self._keepalive = None
        self._set_tick(_TICK)

    def _set_tick(self, seconds: float) -> None:
        """How long the reader waits for data before it checks the keepalive (a receive takes the new
        value from its next wait on)."""
        self._tick_ms = int(seconds * 1000)
        if self._poll is None:
            whole = int(seconds)
            self._sock.setsockopt(
                _socket.SOL_SOCKET, _socket.SO_RCVTIMEO, _TIMEVAL.pack(whole, int((seconds - whole) * 1_000_000))
            )

    def send_ping(self) -> None:
        self._send(
            encode_message(
                KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KEEPALIVE_PROC_PING, MessageType.MESSAGE, 0, Status.OK
            )
        )

    @property
    def is_alive(self) -> bool:
        return self._dead is None and not self._ended_by_close

    @property
    def death(self) -> Error | None:
        """Why the connection ended (the first error that ended it), or None while it lives."""
        if self._dead is None and self._ended_by_close:
            self._dead = self._dead_error()
        return self._dead

    @property
    def pings_unanswered(self) -> int:
        return self._unanswered

    # ------------------------------------------------------------------ reader
    def _recv_exact(self, view: memoryview) -> bool:
        """Fill ``view``; False at a clean end of file before the first byte."""
        got = 0
        while got < len(view):
            if self._poll is not None and not self._poll.poll(self._tick_ms):
                self._idle()
                continue
            try:
                n = self._sock.recv_into(view[got:])
            except BlockingIOError:  # the receive timeout (SO_RCVTIMEO) of a plain socket: a tick
                self._idle()
                continue
            if n == 0:
                if got == 0:
                    return False
                raise self._eof_error()
            got += n
        return True

    def _idle(self) -> None:
        """A socket timeout: the keepalive's turn (libvirt's virKeepAliveTimer)."""
        if self._keepalive is None:
            return
        interval, count = self._keepalive
        if time.monotonic() - self._last_rx < interval:
            return
        if self._unanswered >= count:
            raise InternalError(
                ErrorCode.INTERNAL_ERROR,
                f"connection closed due to keepalive timeout: no response after {count} keepalive messages "
                f"in {int(interval * count)} seconds",
            )
        self._unanswered += 1
        self.send_ping()

    def _read_loop(self) -> None:
        try:
            self._read_messages()
        finally:
            self._reader_done.release()

    def _read_messages(self) -> None:
        length = bytearray(LEN_SIZE)
        try:
            while True:
                if not self._recv_exact(memoryview(length)):
                    if self._closing:
                        # the end of file of our own close: nobody asks why, so no error is made (with its
                        # message and error code, 0.2 million instructions of every short run)
                        self._ended_by_close = True
                        self._die(None)
                        return
                    raise self._eof_error()
                size = decode_length(length)
                msg = bytearray(size)
                msg[:LEN_SIZE] = length
                self._recv_exact(memoryview(msg)[LEN_SIZE:])
                self._last_rx = time.monotonic()
                self._unanswered = 0
                self._dispatch(decode_header(msg), bytes(msg))
        except Error as exc:
            self._die(exc)
        except OSError as exc:
            self._die(self._io_error(exc.errno or _errno.EIO, "Cannot recv data"))
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            self._die(InternalError(ErrorCode.INTERNAL_ERROR, f"RPC reader failed: {type(exc).__name__}: {exc}"))
            raise

    def _eof_error(self) -> Error:
        return self._io_error(_errno.EIO, "End of file while reading data")

    def _io_error(self, errno: int, detail: str) -> Error:
        """libvirt's I/O error, with what a transport's command (ssh) said on stderr, as libvirt adds it."""
        errout = getattr(self._sock, "error_output", None)  # pyvirt.remote.ssh.CommandSocket
        text = errout() if errout is not None else ""
        return SystemCallError(errno, f"{detail}: {text}" if text else detail, domain=ErrorDomain.RPC)

    def _dispatch(self, header: Header, msg: bytes) -> None:
        if header.prog == KEEPALIVE_PROGRAM:
            if header.proc == KEEPALIVE_PROC_PING:
                self._send(
                    encode_message(
                        KEEPALIVE_PROGRAM, KEEPALIVE_PROTOCOL_VERSION, KEEPALIVE_PROC_PONG,
                        MessageType.MESSAGE, 0, Status.OK,
                    )
                )  # fmt: skip
            return
        if header.type in (MessageType.REPLY, MessageType.REPLY_WITH_FDS):
            fds: list[int] = []
            if header.type == MessageType.REPLY_WITH_FDS and header.status == Status.OK:
                fds = [recv_fd(self._sock) for _ in range(decode_num_fds(msg))]
            with self._state_lock:
                pending = self._pending.pop(header.serial, None)
            if pending is None:
                for fd in fds:
                    os.close(fd)
                raise ProtocolError(f"reply to unknown serial {header.serial}", "Unexpected reply from the server")
            if header.status == Status.OK:
                pending.reply = msg
                if header.type == MessageType.REPLY_WITH_FDS:
                    pending.fds, pending.offset = fds, LEN_SIZE + HEADER_SIZE + 4
            else:
                try:
                    pending.error = decode_error(msg)
                except ProtocolError as exc:
                    pending.error = exc
            pending.done.release()
        elif header.type == MessageType.MESSAGE and self._events is not None:
            self._events.put((header, msg))
        elif header.type == MessageType.STREAM:
            with self._state_lock:
                stream = self._streams.get(header.serial)
            if stream is None:
                return  # data of a stream already closed here: libvirt drops it too
            if header.status == Status.ERROR:
                try:
                    stream._feed(decode_error(msg))
                except ProtocolError as exc:
                    stream._feed(exc)
            else:  # CONTINUE: data; OK: end of data (or the confirmation of our finish), empty
                stream._feed(msg[LEN_SIZE + HEADER_SIZE :])
        # streams are not supported by this client yet: their data is dropped, as for an unknown stream

    def _die(self, err: Error | None) -> None:
        """The connection is gone: release every waiting call with ``err`` (None: our own close ended it);
        later calls fail at once."""
        with self._state_lock:
            if self._dead is None and err is not None:
                self._dead = err
            pending, self._pending = self._pending, {}
            streams, self._streams = self._streams, {}
        for p in pending.values():
            p.error = err if err is not None and not self._closing else self._dead_error()
            p.done.release()
        for stream in streams.values():
            stream._feed(err if err is not None else self._dead_error())
        if self._events is not None:
            self._events.put(None)

    # ------------------------------------------------------------------ close
    def expect_hang_up(self) -> None:
        """The server will close the connection (CONNECT_CLOSE is on its way): its end of file is no error.

        Said before the call, since the server's hang-up may reach the reader
        before the caller has its reply and calls :meth:`close`.
        """
        self._closing = True

    def close(self) -> None:
        """Shut the socket; the reader thread ends on its own (it is a daemon thread, never joined on exit)."""
        self._closing = True
        try:  # noqa: SIM105 - not contextlib.suppress: a short run need not import contextlib
            self._sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass  # already shut by the server
        if _thread.get_ident() != self._reader and self._reader_done.acquire(timeout=5):
            self._reader_done.release()
        self._sock.close()
        if self._event_thread is not None and _thread.get_ident() != self._event_thread.ident:
            self._event_thread.join(5)


def default_socket(read_only: bool, session: bool) -> str:
    """Where pyvirtd listens when the URI names no ``socket``: system or session, read-write or read-only."""
    name = "pyvirt-sock-ro" if read_only and not session else "pyvirt-sock"
    if session:
        runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(runtime, "pyvirt", name)
    return os.path.join("/run/pyvirt", name)
