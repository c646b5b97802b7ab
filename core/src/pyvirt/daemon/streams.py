"""libvirt's data streams over a client connection (console, channels), backed by a file descriptor.

A stream shares the serial and procedure of the call that opened it. The
daemon sends what it reads from the descriptor as STREAM messages with status
CONTINUE (raw bytes, at most libvirt's 256 KiB legacy payload each) and says
end-of-file with an empty STREAM CONTINUE; the client sends its data the same way,
ends with STREAM OK (finish) or STREAM ERROR (abort), and both are confirmed
with an empty STREAM OK, as ``remote_daemon_stream.c`` does. All of it runs on
the event loop: the descriptor is non-blocking and watched with
``add_reader``/``add_writer``, so a console that is never read costs nothing,
and a client that stops reading stops the relay (the guest's output waits in
its pty, as with libvirt's stream back-pressure) instead of piling up here.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.remote.message import Header, MessageType, Status, encode_error, encode_message

if TYPE_CHECKING:
    from pyvirt.daemon.server import Client

__all__ = ["FdStream"]

log = logging.getLogger("pyvirt.daemon.streams")

CHUNK = 262120  # VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX: what libvirt puts in one stream message


class FdStream:
    """One open stream: the descriptor, the call it belongs to, and what is still to be written."""

    def __init__(
        self,
        client: Client,
        call: Header,
        fd: int,
        on_close: Callable[[FdStream], object] | None = None,
        upload: bool = False,
    ) -> None:
        self.client = client
        self.call = call
        self.fd = fd
        self.closed = False
        # A write stream into a socket whose far side stores the data (``volume_upload``): nothing is
        # read from it until the client's finish, which is confirmed once that side has closed.
        self.upload = upload
        self._reply = bytearray()
        self._pending = bytearray()
        self._writer = False
        self._on_close = on_close

    # -- sending ----------------------------------------------------------------------------
    def _message(self, status: Status, data: bytes = b"") -> bytes:
        head = encode_message(
            self.call.prog, self.call.vers, self.call.proc, MessageType.STREAM, self.call.serial, status
        )
        msg = bytes(head) + data
        return struct.pack(">I", len(msg)) + msg[4:]

    def start(self) -> None:
        """Begin relaying (call on the loop thread, after the call's reply was queued)."""
        os.set_blocking(self.fd, False)
        if not self.upload:
            self.client.server.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the far side of a pty went away, which is end-of-file
                self._fail(
                    Error(ErrorCode.SYSTEM_ERROR, f"cannot read from stream: {e.strerror}", domain=ErrorDomain.STREAMS)
                )
                return
            data = b""
        if not data:
            # End of data is an empty CONTINUE (virNetServerProgramSendStreamData with no bytes); libvirt's
            # clients take an OK here for the confirmation of a finish they never sent and drop the
            # connection. The stream stays until the client's finish, which ``incoming`` confirms.
            self.client.server.loop.remove_reader(self.fd)
            self.client.send(self._message(Status.CONTINUE))
            return
        self.client.send(self._message(Status.CONTINUE, data))
        if self.client.write_paused:  # the client is not reading: leave the data in the guest's pty
            self.client.server.loop.remove_reader(self.fd)
            self.client.when_writable(self._resume)

    def _resume(self) -> None:
        if not self.closed:
            self.client.server.loop.add_reader(self.fd, self._readable)

    def _fail(self, err: Error) -> None:
        self.client.send(
            encode_error(self.call.prog, self.call.vers, self.call.proc, MessageType.STREAM, self.call.serial, err)
        )
        self.close()

    # -- receiving --------------------------------------------------------------------------
    def incoming(self, header: Header, body: bytes) -> None:
        if self.closed:
            return
        if header.status == Status.CONTINUE:
            self._pending += body
            self._flush()
        elif header.status == Status.OK:  # finish: what was sent must reach the descriptor first
            if not self._flush(final=True):  # the write failed and was reported
                return
            if self.upload:
                self._await_stored()
                return
            self.client.send(self._message(Status.OK))
            self.close()
        else:  # abort
            self.client.send(self._message(Status.OK))
            self.close()

    def _flush(self, final: bool = False) -> bool:
        """Write what is pending; False if the write failed (the stream is then closed with its error)."""
        loop = self.client.server.loop
        while self._pending:
            try:
                n = os.write(self.fd, self._pending)
            except BlockingIOError:
                if final:
                    os.set_blocking(self.fd, True)
                    continue
                if not self._writer:
                    loop.add_writer(self.fd, self._flush)
                    self._writer = True
                return True
            except OSError as e:
                self._fail(
                    Error(ErrorCode.SYSTEM_ERROR, f"cannot write to stream: {e.strerror}", domain=ErrorDomain.STREAMS)
                )
                return False
            del self._pending[:n]
        if self._writer:
            loop.remove_writer(self.fd)
            self._writer = False
        return True

    def _await_stored(self) -> None:
        """Half-close the socket and confirm the finish when its far side closes (error text if it sent any)."""
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self.fd)) as half:
            half.shutdown(socket.SHUT_WR)  # through a duplicate: closing it leaves self.fd open
        os.set_blocking(self.fd, False)
        self.client.server.loop.add_reader(self.fd, self._stored)

    def _stored(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError as e:
            data, self._reply = b"", bytearray(f"cannot read from stream: {e.strerror}".encode())
        if data:
            self._reply += data
            return
        if self._reply:
            message = self._reply.decode("utf-8", "replace")
            self._fail(Error(ErrorCode.SYSTEM_ERROR, message, domain=ErrorDomain.STREAMS, verbatim=True))
            return
        self.client.send(self._message(Status.OK))
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        loop = self.client.server.loop
        loop.remove_reader(self.fd)
        if self._writer:
            loop.remove_writer(self.fd)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self._on_close is not None:
            self._on_close(self)
        log.debug("stream serial %d closed", self.call.serial)
