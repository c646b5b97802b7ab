"""The client against a minimal server written with the same codec, for what libvirtd's test driver lacks.

- ``domain_open_console`` over an RPC stream: libvirt's test driver has no
  console, so the server accepts DOMAIN_OPEN_CONSOLE, echoes console input
  back upper-cased as stream data and confirms the client's finish, as
  libvirtd's stream code does.
- Authentication: a socket that asks for polkit (libvirtd refuses every
  call but the AUTH_* ones until it is done) and one that offers only SASL.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path

import pytest

import pyvirt
import pyvirt.events
import pyvirt.uri
from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.remote import _remote
from pyvirt.remote.message import (
    HEADER_SIZE,
    LEN_SIZE,
    MessageType,
    Status,
    decode_header,
    decode_num_fds,
    encode_error,
    encode_message,
    recv_fd,
    send_fd,
)
from pyvirt.remote.xdr import decode


class FakeDaemon:
    def __init__(self, path: Path, auth: int = 0) -> None:
        self.auth = auth  # REMOTE_AUTH_NONE 0, SASL 1, POLKIT 2
        self.authenticated = auth == 0
        self.calls: list[str] = []
        self.received_fds: list[int] = []
        self.graphics_pipe = -1
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.console_args: object = None
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            while head := conn.recv(4, socket.MSG_WAITALL):
                (size,) = struct.unpack(">I", head)
                msg = head + conn.recv(size - 4, socket.MSG_WAITALL)
                h = decode_header(msg)
                proc = _remote.PROCEDURES[h.proc]
                if h.type in (MessageType.CALL, MessageType.CALL_WITH_FDS):
                    self.calls.append(proc.name.removeprefix("REMOTE_PROC_"))
                    offset = LEN_SIZE + HEADER_SIZE
                    if h.type == MessageType.CALL_WITH_FDS:
                        self.received_fds = [recv_fd(conn) for _ in range(decode_num_fds(msg))]
                        offset += 4
                    args = decode(proc.unpack_args, msg, offset)
                    if h.proc == _remote.REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY:
                        # the reply and, right behind it in the same write, the first event
                        event = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE]
                        dom = ("guest", bytes(range(16)), 3)
                        conn.sendall(
                            encode_message(h.prog, h.vers, h.proc, MessageType.REPLY, h.serial, Status.OK,
                                           proc.pack_ret, (7,))
                            + encode_message(h.prog, h.vers, event.number, MessageType.MESSAGE, 1, Status.OK,
                                             event.pack_args, (7, (dom, 2, 0)))
                        )  # fmt: skip
                        continue
                    if h.proc == _remote.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD:
                        read_end, write_end = os.pipe()
                        self.graphics_pipe = read_end
                        conn.sendall(encode_message(h.prog, h.vers, h.proc, MessageType.REPLY_WITH_FDS, h.serial,
                                                    Status.OK, num_fds=1))  # fmt: skip
                        send_fd(conn, write_end)
                        os.close(write_end)
                        continue
                    if not self.authenticated and h.proc not in (_remote.REMOTE_PROC_AUTH_LIST,
                                                                 _remote.REMOTE_PROC_AUTH_POLKIT):  # fmt: skip
                        denied = Error(ErrorCode.AUTH_FAILED, "authentication required", domain=ErrorDomain.RPC)
                        conn.sendall(encode_error(h.prog, h.vers, h.proc, MessageType.REPLY, h.serial, denied))
                        continue
                    if h.proc == _remote.REMOTE_PROC_AUTH_POLKIT:
                        self.authenticated = True
                    ret = {
                        _remote.REMOTE_PROC_AUTH_LIST: ([self.auth],),
                        _remote.REMOTE_PROC_AUTH_POLKIT: (1,),
                        _remote.REMOTE_PROC_CONNECT_SUPPORTS_FEATURE: (0,),
                    }.get(h.proc)
                    if h.proc == _remote.REMOTE_PROC_DOMAIN_OPEN_CONSOLE:
                        self.console_args = args
                    conn.sendall(encode_message(h.prog, h.vers, h.proc, MessageType.REPLY, h.serial, Status.OK,
                                                proc.pack_ret, ret))  # fmt: skip
                elif h.type == MessageType.STREAM and h.status == Status.CONTINUE:
                    data = msg[LEN_SIZE + HEADER_SIZE :].upper()
                    reply = encode_message(h.prog, h.vers, h.proc, MessageType.STREAM, h.serial, Status.CONTINUE)
                    reply += data
                    struct.pack_into(">I", reply, 0, len(reply))
                    conn.sendall(reply)
                elif h.type == MessageType.STREAM and h.status == Status.OK:
                    conn.sendall(encode_message(h.prog, h.vers, h.proc, MessageType.STREAM, h.serial, Status.OK))
                    self.finished.set()


def test_console_bytes_travel_both_ways_and_closing_finishes_the_stream(tmp_path: Path) -> None:
    server = FakeDaemon(tmp_path / "sock")
    with pyvirt.open(f"test+unix:///default?socket={tmp_path / 'sock'}") as conn:
        dom = pyvirt.plugin.records.DomainRef("guest", "00000000-0000-0000-0000-000000001234", 4)
        fd = conn.calls.domain_open_console(dom=dom, dev_name="serial0", flags=1)
        name, uuid_raw, dom_id = server.console_args[0]  # type: ignore[index]
        assert (name, uuid_raw.hex()[-4:], dom_id) == ("guest", "1234", 4)
        assert server.console_args[1:] == ("serial0", 1)  # type: ignore[index]
        with socket.socket(fileno=fd) as console:
            console.sendall(b"login: root\n")
            got = b""
            while len(got) < 12:
                got += console.recv(100)
            assert got == b"LOGIN: ROOT\n"
            console.shutdown(socket.SHUT_WR)
            assert server.finished.wait(10)
            assert console.recv(100) == b""  # the stream's end closes our side too
    server.thread.join(10)
    assert not server.thread.is_alive()  # CONNECT_CLOSE went out and the server saw the socket close


def test_a_polkit_socket_is_authenticated_before_the_connection_opens(tmp_path: Path) -> None:
    server = FakeDaemon(tmp_path / "sock", auth=2)
    with pyvirt.open(f"test+unix:///default?socket={tmp_path / 'sock'}") as conn:
        assert conn.is_alive
    server.thread.join(10)
    # the open batch goes out first; its two refused calls are made again after AUTH_POLKIT
    assert server.calls == ["AUTH_LIST", "CONNECT_SUPPORTS_FEATURE", "CONNECT_OPEN", "AUTH_POLKIT",
                            "CONNECT_SUPPORTS_FEATURE", "CONNECT_OPEN", "CONNECT_CLOSE"]  # fmt: skip


def test_a_socket_offering_only_sasl_is_refused_with_auth_failed(tmp_path: Path) -> None:
    server = FakeDaemon(tmp_path / "sock", auth=1)
    with pytest.raises(Error) as exc:
        pyvirt.open(f"test+unix:///default?socket={tmp_path / 'sock'}")
    assert (exc.value.code, str(exc.value)) == (
        ErrorCode.AUTH_FAILED,
        "authentication failed: unsupported authentication type 1",
    )
    server.thread.join(10)
    assert not server.thread.is_alive()  # the client closed its socket


def test_descriptors_travel_with_calls_and_replies(tmp_path: Path) -> None:
    """SCM_RIGHTS as libvirt passes them: CALL_WITH_FDS (DOMAIN_FD_ASSOCIATE), REPLY_WITH_FDS (OPEN_GRAPHICS_FD)."""
    from pyvirt.remote.calls import wire_domain
    from pyvirt.remote.driver import RemoteConnection

    server = FakeDaemon(tmp_path / "sock")
    conn = RemoteConnection.open(pyvirt.uri.parse_uri(f"test+unix:///default?socket={tmp_path / 'sock'}"), False,
                                 pyvirt.events.EventSink())  # fmt: skip
    dom = wire_domain(pyvirt.plugin.records.DomainRef("guest", "00000000-0000-0000-0000-000000001234", 4))
    try:
        graphics = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_OPEN_GRAPHICS_FD]
        ret, fds = conn.client.call_with_fds(graphics.number, graphics.pack_args, (dom, 0, 0), graphics.unpack_ret)
        assert ret is None and len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        os.close(fds[0])
        assert os.read(server.graphics_pipe, 100) == b"through the passed descriptor"
        associate = _remote.PROCEDURES[_remote.REMOTE_PROC_DOMAIN_FD_ASSOCIATE]
        read_end, write_end = os.pipe()
        conn.client.call_with_fds(
            associate.number, associate.pack_args, (dom, "disk0", 0), None, [write_end, write_end]
        )
        assert len(server.received_fds) == 2
        os.write(server.received_fds[1], b"back")
        assert os.read(read_end, 10) == b"back"
        for fd in (read_end, write_end, server.graphics_pipe, *server.received_fds):
            os.close(fd)
    finally:
        conn.connect_close()
    server.thread.join(10)


def test_an_event_right_behind_the_registration_reply_is_delivered(tmp_path: Path) -> None:
    server = FakeDaemon(tmp_path / "sock")
    seen: list[object] = []
    arrived = threading.Event()

    def on_event(ev: object) -> None:
        seen.append(ev)
        arrived.set()

    with pyvirt.open(f"test+unix:///default?socket={tmp_path / 'sock'}") as conn:
        conn.register_domain_event(on_event)
        assert arrived.wait(10)
    assert [(e.domain.name, e.domain.id, e.event) for e in seen] == [("guest", 3, 2)]  # type: ignore[attr-defined]
    server.thread.join(10)
