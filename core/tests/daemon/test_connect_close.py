"""CONNECT_CLOSE ends the connection from the daemon's side, as libvirtd's ``virNetServerClientDelayedClose``.

A client that closes its connection and exits must not leave its socket in
the daemon until the daemon gets round to reading the hang-up: pyvirtd writes
the reply and closes, as libvirtd does, so whoever counts the daemon's
descriptors once virsh has exited (a leak test, an operator with ``ls
/proc/PID/fd``) sees what the daemon really holds.
"""

from __future__ import annotations

import importlib.util
import socket
import struct

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.remote import _remote
from pyvirt.remote.message import LEN_SIZE, REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, MessageType, Status, encode_message


def _call(proc: int, serial: int, value: object = None) -> bytes:
    pack = _remote.PROCEDURES[proc].pack_args
    return bytes(encode_message(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, MessageType.CALL, serial, Status.OK,
                                pack, value))  # fmt: skip


def _read_message(sock: socket.socket) -> bytes:
    data = b""
    while len(data) < LEN_SIZE or len(data) < struct.unpack_from(">I", data)[0]:
        chunk = sock.recv(65536)
        assert chunk, "the daemon hung up before it replied"
        data += chunk
    return data


def _replies_then_hangs_up(path: str, uri: str | None) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        if uri is not None:
            s.sendall(_call(_remote.REMOTE_PROC_CONNECT_OPEN, 1, (uri, 0)))
            assert struct.unpack_from(">i", _read_message(s), LEN_SIZE + 20)[0] == Status.OK
        s.sendall(_call(_remote.REMOTE_PROC_CONNECT_CLOSE, 2))
        reply = _read_message(s)
        assert struct.unpack_from(">Ii", reply, LEN_SIZE + 16) == (2, Status.OK)
        # we keep our end open: the end of file can only be the daemon's own close
        assert s.recv(1) == b"", "the daemon kept the connection after CONNECT_CLOSE"


def test_connect_close_reply_is_followed_by_the_daemons_hang_up(pyvirtd: PrivateDaemon) -> None:
    _replies_then_hangs_up(pyvirtd.socket, "test:///default")  # answered on the daemon's loop
    if importlib.util.find_spec("pyvirt_qemu") is not None:  # (the core tested alone has no qemu driver)
        _replies_then_hangs_up(pyvirtd.ro_socket, "qemu:///system")  # answered on a worker thread
    _replies_then_hangs_up(pyvirtd.socket, None)  # closing what was never opened: libvirt hangs up all the same
    assert not pyvirtd.tracebacks(), "\n\n".join(pyvirtd.tracebacks())
