"""pyvirtd's plumbing without drivers: configuration, logging, pid file, sockets, framing, keepalive.

The server runs in a thread with a small echo program, so these tests see
exactly what a client on the socket sees: bytes in, bytes out, dropped or not.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.config import load_daemon_config
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.daemon.pidfile import PidFile
from pyvirt.daemon.server import Client, Server
from pyvirt.daemon.sockets import daemon_paths, open_listener, peer_cred
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote.message import (
    KEEPALIVE_PROC_PING,
    KEEPALIVE_PROC_PONG,
    KEEPALIVE_PROGRAM,
    Header,
    MessageType,
    Status,
    decode_error,
    decode_header,
    encode_message,
)
from pyvirt.util.logsetup import configure_logging
from pyvirt.util.virconf import parse_conf

ECHO_PROGRAM = 0x12345678


class EchoProgram:
    """Replies to every call with its own body; procedure 2 takes a while (on a worker)."""

    program = ECHO_PROGRAM
    version = 1

    def __init__(self) -> None:
        self.closed: list[int] = []

    def dispatch(self, client: Client, header: Header, body: bytes) -> None:
        def reply() -> None:
            msg = encode_message(header.prog, header.vers, header.proc, MessageType.REPLY, header.serial, Status.OK)
            client.send(_fix_length(bytes(msg) + body))

        if header.proc == 2:

            def slow() -> None:
                time.sleep(0.3)
                reply()

            client.run_in_worker(slow)
        elif header.proc == 3:
            client.start_keepalive()
            reply()
        else:
            reply()

    def client_closed(self, client: Client) -> None:
        self.closed.append(client.id)


def _fix_length(msg: bytes) -> bytes:
    return struct.pack(">I", len(msg)) + msg[4:]


def _call(proc: int, serial: int, body: bytes = b"") -> bytes:
    return _fix_length(bytes(encode_message(ECHO_PROGRAM, 1, proc, MessageType.CALL, serial, Status.OK)) + body)


def _read_message(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            raise EOFError
        head += chunk
    (length,) = struct.unpack(">I", head)
    data = head
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, EchoProgram, str, str]]:
    rw_path = str(tmp_path / "run" / "sock")
    ro_path = str(tmp_path / "run" / "sock-ro")
    rw = open_listener(rw_path, 0o700, None, read_only=False)
    ro = open_listener(ro_path, 0o777, None, read_only=True)
    srv = Server(max_client_requests=2, keepalive_interval=1, keepalive_count=1)
    prog = EchoProgram()
    srv.add_program(prog)
    ready = threading.Event()
    t = threading.Thread(target=srv.run, args=([rw, ro], ready.set), daemon=True)
    t.start()
    assert ready.wait(10)
    yield srv, prog, rw_path, ro_path
    srv.stop()
    t.join(10)
    rw.close()
    ro.close()


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    return s


def test_libvirt_conf_syntax() -> None:
    conf = parse_conf('a = 1\nb = "x" # c\nc = [ "a",\n  "b", # x\n]\nd = """m\nl"""; e=-5\n', "f")
    assert conf == {"a": 1, "b": "x", "c": ["a", "b"], "d": "m\nl", "e": -5}
    for bad, why in [("a = ", "expecting a value"), ('a = "x', "unterminated string"), ("a = [1 2]", "separator")]:
        with pytest.raises(Error) as exc:
            parse_conf(bad, "f")
        assert exc.value.code == ErrorCode.CONF_SYNTAX
        assert why in exc.value.message and "f:1" in exc.value.message


def test_config_defaults_values_and_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert load_daemon_config(None).unix_sock_rw_perms == 0o700
    conf = tmp_path / "pyvirtd.conf"
    conf.write_text('unix_sock_ro_perms = "0770"\nmax_clients = 7\nlisten_tls = 0\ntls_priority = "x"\nbogus_key = 1\n')
    with caplog.at_level(logging.WARNING):
        cfg = load_daemon_config(str(conf))
    assert cfg.unix_sock_ro_perms == 0o770 and cfg.max_clients == 7 and not cfg.listen_tls
    assert "tls_priority" in caplog.text and "bogus_key" in caplog.text and "listen_tls" not in caplog.text
    conf.write_text('unix_sock_rw_perms = "0999"\n')
    with pytest.raises(Error) as exc:
        load_daemon_config(str(conf))
    assert exc.value.code == ErrorCode.CONF_SYNTAX and "unix_sock_rw_perms" in exc.value.message
    conf.write_text("max_clients = 0\n")
    with pytest.raises(Error):
        load_daemon_config(str(conf))


def test_log_filters_and_outputs(tmp_path: Path) -> None:
    out = tmp_path / "log" / "pyvirtd.log"
    configure_logging(3, "1:qemu 4:network", f"1:file:{out}")
    try:
        logging.getLogger("pyvirt_qemu.driver").debug("qemu debug shown")
        logging.getLogger("pyvirt_network.driver").warning("network warning hidden")
        logging.getLogger("pyvirt.other").info("other info hidden")
        logging.getLogger("pyvirt.other").warning("other warning shown")
        for h in logging.getLogger().handlers:
            h.flush()
        text = out.read_text()
    finally:
        configure_logging(3, "", "3:stderr")
    assert "qemu debug shown" in text and "other warning shown" in text
    assert "hidden" not in text
    with pytest.raises(Error):
        configure_logging(3, "9:qemu", "")
    with pytest.raises(Error):
        configure_logging(3, "", "1:carrier-pigeon")


def test_pid_file_excludes_a_second_instance(tmp_path: Path) -> None:
    path = str(tmp_path / "pyvirtd.pid")
    first = PidFile(path)
    first.acquire()
    assert Path(path).read_text() == f"{os.getpid()}\n"
    with pytest.raises(Error) as exc:
        PidFile(path).acquire()
    assert "Failed to acquire pid file" in exc.value.message
    first.release()
    assert not Path(path).exists()
    again = PidFile(path)
    again.acquire()
    again.release()


def test_paths_follow_libvirt_layout(tmp_path: Path) -> None:
    system = daemon_paths(system=True)
    assert (system.rw_socket, system.ro_socket) == ("/run/pyvirt/pyvirt-sock", "/run/pyvirt/pyvirt-sock-ro")
    rooted = daemon_paths(root=str(tmp_path))
    assert rooted.rw_socket == str(tmp_path / "run" / "pyvirt" / "pyvirt-sock")
    assert rooted.config_file == str(tmp_path / "etc" / "pyvirt" / "pyvirtd.conf")


def test_socket_permissions_and_peer_credentials(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, _prog, rw_path, ro_path = server
    assert stat.S_IMODE(os.stat(rw_path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ro_path).st_mode) == 0o777
    s = _connect(rw_path)
    try:
        s.sendall(_call(1, 1))
        _read_message(s)
        cred = peer_cred(s)
        assert cred.uid == os.getuid()
    finally:
        s.close()


def test_a_live_socket_is_not_stolen(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, _prog, rw_path, _ro = server
    with pytest.raises(Error) as exc:
        open_listener(rw_path, 0o700, None, read_only=False)
    assert "Address already in use" in exc.value.message


def test_echo_and_pipelined_calls(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, _prog, rw_path, _ro = server
    s = _connect(rw_path)
    try:
        s.sendall(b"".join(_call(1, serial, b"body%04d" % serial) for serial in range(1, 51)))
        for serial in range(1, 51):
            msg = _read_message(s)
            header = decode_header(msg)
            assert (header.serial, header.type, header.status) == (serial, MessageType.REPLY, Status.OK)
            assert msg.endswith(b"body%04d" % serial)
    finally:
        s.close()


def test_unknown_program_gets_libvirt_error(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, _prog, rw_path, _ro = server
    s = _connect(rw_path)
    try:
        s.sendall(bytes(encode_message(0x99, 7, 1, MessageType.CALL, 5, Status.OK)))
        msg = _read_message(s)
        assert decode_header(msg).status == Status.ERROR
        err = decode_error(msg)
        assert err.code == ErrorCode.RPC and err.message == "Cannot find program 153 version 7"
    finally:
        s.close()


@pytest.mark.parametrize(
    "garbage",
    [
        struct.pack(">I", 3),  # shorter than the length word itself
        struct.pack(">I", 20) + b"\0" * 16,  # shorter than a header
        struct.pack(">I", 33554432 + 5) + b"\0" * 24,  # over VIR_NET_MESSAGE_MAX
        bytes(encode_message(ECHO_PROGRAM, 1, 1, MessageType.REPLY, 1, Status.OK)),  # a client may not reply
        bytes(encode_message(KEEPALIVE_PROGRAM, 1, 9, MessageType.MESSAGE, 0, Status.OK)),
    ],
)
def test_garbage_drops_only_its_sender(server: tuple[Server, EchoProgram, str, str], garbage: bytes) -> None:
    _srv, prog, rw_path, _ro = server
    good = _connect(rw_path)
    bad = _connect(rw_path)
    try:
        bad.sendall(garbage)
        bad.settimeout(5)
        assert bad.recv(100) == b""  # closed by the server
        good.sendall(_call(1, 9, b"still here"))
        assert _read_message(good).endswith(b"still here")
    finally:
        good.close()
        bad.close()
    deadline = time.monotonic() + 5
    while len(prog.closed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(prog.closed) == 2


def test_slow_calls_run_on_workers_and_cap_requests(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, _prog, rw_path, _ro = server
    slow = _connect(rw_path)
    other = _connect(rw_path)
    try:
        start = time.monotonic()
        slow.sendall(b"".join(_call(2, serial) for serial in range(1, 5)))  # four 0.3 s calls, 2 in flight max
        other.sendall(_call(1, 1, b"fast"))
        assert _read_message(other).endswith(b"fast")
        assert time.monotonic() - start < 0.25  # the loop was not blocked by the slow calls
        serials = sorted(decode_header(_read_message(slow)).serial for _ in range(4))
        assert serials == [1, 2, 3, 4]
        assert time.monotonic() - start >= 0.55  # at most two ran at once
    finally:
        slow.close()
        other.close()


def test_keepalive_ping_pong_and_dead_peer(server: tuple[Server, EchoProgram, str, str]) -> None:
    _srv, prog, rw_path, _ro = server
    s = _connect(rw_path)
    try:
        s.sendall(bytes(encode_message(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PROC_PING, MessageType.MESSAGE, 0, 0)))
        assert decode_header(_read_message(s)).proc == KEEPALIVE_PROC_PONG
        s.sendall(_call(3, 1))  # the client announces keepalive support
        _read_message(s)
        start = time.monotonic()
        ping = decode_header(_read_message(s))
        assert (ping.prog, ping.proc) == (KEEPALIVE_PROGRAM, KEEPALIVE_PROC_PING)
        # never answer: interval 1 s x (count 1 + 1) later the server drops us
        s.settimeout(6)
        while True:
            try:
                _read_message(s)
            except EOFError:
                break
        assert 1.0 <= time.monotonic() - start <= 4.5
    finally:
        s.close()
    assert prog.closed


def test_private_daemon_reports_each_distinct_traceback_with_its_context(tmp_path: Path) -> None:
    """A failing load test shows the traceback itself, once, not the tail of a log it is lost in."""
    frames = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\n    f()\nValueError: bad'
    other = "Traceback (most recent call last):\n  File \"y.py\", line 2, in g\n    g()\nKeyError: 'k'"
    (tmp_path / "pyvirtd.log").write_text("\n".join(["one", "two", "three", frames, "busy", frames, other, "end"]))
    found = PrivateDaemon(tmp_path).tracebacks(context=2)
    assert found == [f"two\nthree\n{frames}", f"    f()\nValueError: bad\n{other}"]
