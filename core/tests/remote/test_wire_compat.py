"""Byte-for-byte compatibility with libvirt's own client and daemon.

libvirt's C client (Debian's python3-libvirt) talks to libvirtd through a
recording proxy; every message it sent and every reply libvirtd gave is
decoded with pyvirt's generated codec and encoded again, and must come out
identical. CONNECT_OPEN and DOMAIN_LOOKUP_BY_NAME are also built from plain
values (not decoded ones) and compared with libvirt's bytes.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError
from pyvirt.remote import _remote
from pyvirt.remote.message import (
    HEADER_SIZE,
    KEEPALIVE_PROGRAM,
    LEN_SIZE,
    MessageType,
    Status,
    decode_error,
    decode_header,
    encode_error,
    encode_message,
)
from pyvirt.remote.xdr import decode

LIBVIRT_CLIENT = """
import sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.lookupByName('test')
d.info(); d.XMLDesc(0); d.state(); c.getCapabilities(); c.getInfo(); c.listAllDomains()
c.listAllNetworks(); c.listAllStoragePools()[0].listAllVolumes()
try:
    c.lookupByName('no-such-domain')
except libvirt.libvirtError:
    pass
n = c.defineXML("<domain type='test'><name>wire</name><memory>1024</memory><os><type>hvm</type></os></domain>")
n.create(); n.suspend(); n.resume(); n.destroy(); n.undefine()
c.close()
"""


class RecordingProxy:
    """Relays one Unix-socket connection to ``upstream`` and keeps both byte streams."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path = str(path)
        self.upstream = upstream
        self.sent = bytearray()  # client -> server
        self.received = bytearray()  # server -> client
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bytearray) -> None:
        while data := src.recv(65536):
            record += data
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)

    def _run(self) -> None:
        client, _ = self._listener.accept()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(self.upstream)
        back = threading.Thread(target=self._pump, args=(server, client, self.received), daemon=True)
        back.start()
        self._pump(client, server, self.sent)
        back.join(10)
        client.close()
        server.close()
        self._listener.close()

    def join(self) -> None:
        self._thread.join(10)


def split_messages(stream: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(stream):
        (size,) = struct.unpack_from(">I", stream, i)
        out.append(bytes(stream[i : i + size]))
        i += size
    assert i == len(stream)
    return out


def capture_libvirt_client(libvirtd: Any, tmp_path: Path, system_libvirt: Callable[..., str]) -> RecordingProxy:
    proxy = RecordingProxy(tmp_path / "proxy.sock", libvirtd.socket)
    system_libvirt(LIBVIRT_CLIENT, f"test+unix:///default?socket={proxy.path}")
    proxy.join()
    return proxy


def test_every_message_of_libvirts_client_and_daemon_reencodes_identically(
    libvirtd: Any, tmp_path: Path, system_libvirt: Callable[..., str]
) -> None:
    proxy = capture_libvirt_client(libvirtd, tmp_path, system_libvirt)
    calls = split_messages(bytes(proxy.sent))
    replies = split_messages(bytes(proxy.received))
    assert len(calls) > 15 and len(replies) == len(calls)
    procs_seen = set()
    errors = 0
    for call, reply in zip(calls, replies, strict=True):
        h = decode_header(call)
        assert (h.prog, h.vers, h.type, h.status) == (_remote.PROGRAM, 1, MessageType.CALL, Status.OK)
        proc = _remote.PROCEDURES[h.proc]
        procs_seen.add(proc.name)
        args = decode(proc.unpack_args, call, LEN_SIZE + HEADER_SIZE)
        again = encode_message(h.prog, h.vers, h.proc, h.type, h.serial, h.status, proc.pack_args, args)
        assert bytes(again) == call, proc.name
        r = decode_header(reply)
        assert (r.proc, r.serial, r.type) == (h.proc, h.serial, MessageType.REPLY)
        if r.status == Status.ERROR:
            errors += 1
            err = decode_error(reply)
            assert bytes(encode_error(r.prog, r.vers, r.proc, r.type, r.serial, err)) == reply
            # the same error raised fresh in pyvirt (as pyvirtd would) goes out as libvirtd sent it
            fresh = NotFoundError(ErrorCode.NO_DOMAIN, domain=ErrorDomain.TEST)
            assert bytes(encode_error(r.prog, r.vers, r.proc, r.type, r.serial, fresh)) == reply
            continue
        ret = decode(proc.unpack_ret, reply, LEN_SIZE + HEADER_SIZE)
        again = encode_message(r.prog, r.vers, r.proc, r.type, r.serial, r.status, proc.pack_ret, ret)
        assert bytes(again) == reply, proc.name
    assert errors == 1
    assert {"REMOTE_PROC_CONNECT_OPEN", "REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME", "REMOTE_PROC_DOMAIN_GET_INFO",
            "REMOTE_PROC_NODE_GET_INFO", "REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS",
            "REMOTE_PROC_DOMAIN_DEFINE_XML"} <= procs_seen  # fmt: skip


def test_connect_open_and_lookup_built_from_values_match_libvirts_bytes(
    libvirtd: Any, tmp_path: Path, system_libvirt: Callable[..., str]
) -> None:
    proxy = capture_libvirt_client(libvirtd, tmp_path, system_libvirt)
    by_proc: dict[int, bytes] = {}
    for m in split_messages(bytes(proxy.sent)):
        by_proc.setdefault(decode_header(m).proc, m)  # the first of each: lookupByName('test')
    open_call = by_proc[_remote.REMOTE_PROC_CONNECT_OPEN]
    ours = encode_message(
        _remote.PROGRAM, 1, _remote.REMOTE_PROC_CONNECT_OPEN, MessageType.CALL, decode_header(open_call).serial,
        Status.OK, _remote.pack_remote_connect_open_args, ("test:///default", 0),
    )  # fmt: skip
    assert bytes(ours) == open_call
    lookup = by_proc[_remote.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME]
    ours = encode_message(
        _remote.PROGRAM, 1, _remote.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, MessageType.CALL, decode_header(lookup).serial,
        Status.OK, _remote.pack_remote_domain_lookup_by_name_args, ("test",),
    )  # fmt: skip
    assert bytes(ours) == lookup


def test_errors_raised_in_pyvirt_carry_libvirts_fields() -> None:
    """virReportError's fields: the message, level ERROR, the template in str1, the detail in str2, -1, -1."""
    from pyvirt.remote.message import error_from_wire, error_to_wire

    err = NotFoundError(ErrorCode.NO_DOMAIN, "no domain with matching name 'x'", domain=ErrorDomain.QEMU)
    wire = error_to_wire(err)
    assert wire == (42, 10, "Domain not found: no domain with matching name 'x'", 2, None, "Domain not found: %s",
                    "no domain with matching name 'x'", None, -1, -1, None)  # fmt: skip
    back = error_from_wire(wire)
    assert (type(back), back.code, back.domain, str(back)) == (NotFoundError, 42, 10, str(err))
    assert error_to_wire(back) == wire
    unexpected = error_to_wire(KeyError("boom"))
    assert unexpected[:3] == (1, 7, "internal error: KeyError: 'boom'")


def test_open_sequence_and_keepalive_are_virshs_bytes(libvirtd: Any, tmp_path: Path) -> None:
    """virsh (keepalive every second) and pyvirt through the same proxy: the same first three calls, byte for
    byte (AUTH_LIST, the keepalive probe, CONNECT_OPEN), and the same PING and PONG."""
    import shutil
    import subprocess

    import pyvirt
    from pyvirt.remote.client import RemoteClient

    if shutil.which("virsh") is None:
        pytest.skip("Debian's virsh is not installed")
    theirs = RecordingProxy(tmp_path / "virsh.sock", libvirtd.socket)
    uri = f"test+unix:///default?socket={theirs.path}"
    subprocess.run(["virsh", "-k", "1", "-c", uri, "event", "--all", "--timeout", "2"], capture_output=True,
                   timeout=60, check=False)  # fmt: skip
    theirs.join()
    ours = RecordingProxy(tmp_path / "pyvirt.sock", libvirtd.socket)
    pyvirt.open(f"test+unix:///default?socket={ours.path}").close()
    ours.join()
    virsh_calls = split_messages(bytes(theirs.sent))
    assert split_messages(bytes(ours.sent))[:3] == virsh_calls[:3]
    assert [decode_header(m).proc for m in virsh_calls[:3]] == [66, 60, 1]
    ping = next(m for m in virsh_calls if decode_header(m).prog == KEEPALIVE_PROGRAM)
    pong = next(m for m in split_messages(bytes(theirs.received)) if decode_header(m).prog == KEEPALIVE_PROGRAM)
    a, b = socket.socketpair()
    client = RemoteClient(a)
    try:
        client.send_ping()
        assert b.recv(100) == ping
        b.sendall(ping)  # the server's ping: the client answers as libvirtd answers virsh
        assert b.recv(100) == pong
    finally:
        client.close()
        b.close()
