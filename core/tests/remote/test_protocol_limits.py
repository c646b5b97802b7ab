"""Malformed input never escapes as anything but libvirt's RPC error.

Random, truncated and oversized data through every generated decoder, the
framing limits with libvirt's wording, and a client whose server talks
garbage: each ends in ``ProtocolError`` (VIR_ERR_RPC, VIR_FROM_RPC), and a
waiting call is released with it instead of hanging.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

import pytest

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.remote import _lxc, _qemu, _remote, _virnet
from pyvirt.remote.client import RemoteClient
from pyvirt.remote.message import (
    HEADER_SIZE,
    LEN_SIZE,
    MESSAGE_MAX,
    MessageType,
    Status,
    decode_header,
    decode_length,
    encode_message,
)
from pyvirt.remote.xdr import ProtocolError, decode, encode

DOM = ("a-domain", bytes(range(16)), 7)


def all_decoders() -> list[tuple[str, object]]:
    out = []
    for mod in (_remote, _qemu, _lxc):
        for proc in mod.PROCEDURES.values():
            for kind, fn in (("args", proc.unpack_args), ("ret", proc.unpack_ret)):
                if fn is not None:
                    out.append((f"{proc.name} {kind}", fn))
    return out


def test_random_bytes_through_every_decoder_only_raise_protocol_error() -> None:
    rng = random.Random(19)
    decoders = all_decoders()
    assert len(decoders) > 600
    decoded = failed = 0
    for _name, fn in decoders:
        for _ in range(25):
            size = rng.choice((0, 1, 3, 4, 7, 8, 12, 16, 24, 40, 64, 200))
            data = bytes(rng.getrandbits(8) for _ in range(size))
            if rng.random() < 0.5:  # small counts and lengths, so decoders get past the first field
                data = b"\0\0\0" + bytes([rng.randrange(4)]) + data
            try:
                decode(fn, data)  # type: ignore[arg-type]
                decoded += 1
            except ProtocolError as exc:
                assert exc.code == ErrorCode.RPC and exc.domain == ErrorDomain.RPC
                assert str(exc) == "Unable to decode message payload"
                failed += 1
    assert decoded > 100 and failed > 100


SAMPLES = [
    (_remote.pack_remote_domain_lookup_by_name_ret, _remote.unpack_remote_domain_lookup_by_name_ret, (DOM,)),
    (_remote.pack_remote_connect_list_all_domains_ret, _remote.unpack_remote_connect_list_all_domains_ret,
     ([DOM, ("other", bytes(16), -1)], 2)),
    (_remote.pack_remote_error, _remote.unpack_remote_error,
     (42, 12, "Domain not found", 2, None, "Domain not found", None, None, -1, -1, None)),
    (_remote.pack_remote_node_get_info_ret, _remote.unpack_remote_node_get_info_ret,
     (b"x86_64".ljust(32, b"\0"), 1024, 2, 3000, 1, 1, 2, 1)),
    (_remote.pack_remote_domain_get_scheduler_parameters_ret,
     _remote.unpack_remote_domain_get_scheduler_parameters_ret,
     ([("weight", (2, 256)), ("cap", (7, "text")), ("ratio", (5, 0.5)), ("flag", (6, 1))],)),
]  # fmt: skip


@pytest.mark.parametrize(("pack", "unpack", "value"), SAMPLES)
def test_round_trip_and_every_truncation_fails_cleanly(pack: object, unpack: object, value: object) -> None:
    data = bytes(encode(pack, value))  # type: ignore[arg-type]
    assert len(data) % 4 == 0
    assert decode(unpack, data) == value  # type: ignore[arg-type]
    for cut in range(len(data)):
        with pytest.raises(ProtocolError):
            decode(unpack, data[:cut])  # type: ignore[arg-type]


def test_string_and_list_caps_are_enforced_before_reading() -> None:
    over_string = struct.pack(">I", _remote.REMOTE_STRING_MAX + 1)
    with pytest.raises(ProtocolError) as exc:
        decode(_remote.unpack_remote_domain_lookup_by_name_args, over_string)
    assert exc.value.reason == "string longer than REMOTE_STRING_MAX"
    over_list = struct.pack(">I", _remote.REMOTE_DOMAIN_LIST_MAX + 1) + bytes(64)
    with pytest.raises(ProtocolError) as exc:
        decode(_remote.unpack_remote_connect_list_all_domains_ret, over_list)
    assert exc.value.reason == "array longer than REMOTE_DOMAIN_LIST_MAX"
    # a count within the cap but with no data behind it fails at once, allocating nothing
    with pytest.raises(ProtocolError):
        decode(_remote.unpack_remote_connect_list_all_domains_ret, struct.pack(">I", 16000))
    # and encoding refuses what libvirt's decoder would refuse
    with pytest.raises(ProtocolError) as exc:
        encode(_remote.pack_remote_connect_list_all_domains_ret, ([DOM] * (_remote.REMOTE_DOMAIN_LIST_MAX + 1), 0))
    assert "REMOTE_DOMAIN_LIST_MAX" in str(exc.value)
    with pytest.raises(ProtocolError):
        encode(_remote.pack_remote_domain_lookup_by_uuid_args, (b"short",))


@pytest.mark.parametrize(
    ("pack", "value"),
    [
        (_remote.pack_remote_domain_lookup_by_uuid_args, (b"short",)),  # a bound of the .x file (ProtocolError)
        (_remote.pack_remote_domain_lookup_by_name_ret, (("web", bytes(16), 2**31),)),  # an int32 out of range
        (_remote.pack_remote_domain_lookup_by_name_ret, (None,)),  # a value of the wrong shape
    ],
    ids=["bound", "range", "shape"],
)
def test_a_whole_message_refuses_a_value_as_encode_does(pack: object, value: object) -> None:
    """``encode_message`` packs the payload itself (every reply of the daemon is made there): a value the
    type cannot carry is the same ProtocolError, with the same words, as from ``encode``."""
    with pytest.raises(ProtocolError) as alone:
        encode(pack, value)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError) as framed:
        encode_message(_remote.PROGRAM, 1, 1, MessageType.REPLY, 3, Status.OK, pack, value)  # type: ignore[arg-type]
    assert str(framed.value) == str(alone.value) and str(alone.value).startswith("Unable to encode message payload: ")
    assert framed.value.reason == alone.value.reason and framed.value.code == ErrorCode.RPC


def test_framing_limits_are_libvirts() -> None:
    assert MESSAGE_MAX == _virnet.VIR_NET_MESSAGE_MAX == 32 * 1024 * 1024
    assert HEADER_SIZE == _virnet.VIR_NET_MESSAGE_HEADER_MAX and LEN_SIZE == _virnet.VIR_NET_MESSAGE_LEN_MAX
    with pytest.raises(ProtocolError) as exc:
        decode_length(struct.pack(">I", MESSAGE_MAX + 1))
    assert str(exc.value) == f"packet {MESSAGE_MAX + 1} bytes received from server too large, want {MESSAGE_MAX}"
    with pytest.raises(ProtocolError) as exc:
        decode_length(struct.pack(">I", 27))
    assert str(exc.value) == "packet 27 bytes received from server too small, want 28"
    assert decode_length(struct.pack(">I", 28)) == 28
    with pytest.raises(ProtocolError):
        decode_header(b"\0\0\0\x1c" + bytes(10))
    big = "x" * (MESSAGE_MAX - 40)  # fits the string cap? no: REMOTE_STRING_MAX is 4 MiB, so the codec refuses first
    with pytest.raises(ProtocolError):
        encode_message(
            _remote.PROGRAM, 1, 1, MessageType.CALL, 0, Status.OK, _remote.pack_remote_connect_open_args, (big, 0)
        )


class FakeServer:
    """The far end of a socketpair: the test writes what a broken server would."""

    def __init__(self) -> None:
        self.ours, theirs = socket.socketpair()
        self.client = RemoteClient(theirs)

    def read_call(self) -> bytes:
        size = struct.unpack(">I", self.ours.recv(4, socket.MSG_WAITALL))[0]
        return self.ours.recv(size - 4, socket.MSG_WAITALL)

    def call_in_thread(self) -> tuple[threading.Thread, list[object]]:
        result: list[object] = []

        def run() -> None:
            try:
                result.append(self.client.call(_remote.REMOTE_PROC_CONNECT_GET_TYPE, None, None,
                                               _remote.unpack_remote_connect_get_type_ret))  # fmt: skip
            except Error as exc:
                result.append(exc)

        t = threading.Thread(target=run)
        t.start()
        self.read_call()
        return t, result


def _finish(call: tuple[threading.Thread, list[object]]) -> object:
    t, result = call
    t.join(10)
    assert not t.is_alive(), "the call hung"
    return result[0]


def test_oversized_reply_kills_the_connection_and_releases_the_call() -> None:
    fake = FakeServer()
    result = fake.call_in_thread()
    fake.ours.sendall(struct.pack(">I", MESSAGE_MAX + 4))
    err = _finish(result)
    assert isinstance(err, ProtocolError) and err.code == ErrorCode.RPC
    assert "too large" in str(err)
    assert not fake.client.is_alive
    with pytest.raises(Error) as exc:
        fake.client.call(_remote.REMOTE_PROC_CONNECT_GET_TYPE, None, None, None)
    assert str(exc.value) == "internal error: client socket is closed"
    fake.client.close()


def test_garbage_payload_in_a_reply_is_a_protocol_error_for_that_call() -> None:
    fake = FakeServer()
    result = fake.call_in_thread()
    # a reply to serial 0 whose string length points past the end
    fake.ours.sendall(
        encode_message(_remote.PROGRAM, 1, _remote.REMOTE_PROC_CONNECT_GET_TYPE, MessageType.REPLY, 0, Status.OK)
        + b"\0\0\0\x10ab"
    )
    err = _finish(result)
    assert isinstance(err, ProtocolError) and str(err) == "Unable to decode message payload"
    fake.client.close()


def test_server_closing_mid_call_gives_libvirts_end_of_file_error() -> None:
    fake = FakeServer()
    result = fake.call_in_thread()
    fake.ours.close()
    err = _finish(result)
    assert isinstance(err, Error) and err.code == ErrorCode.SYSTEM_ERROR and err.domain == ErrorDomain.RPC
    assert str(err) == "End of file while reading data: Input/output error"
    fake.client.close()


def test_client_pings_a_silent_server_and_gives_up_after_the_count() -> None:
    fake = FakeServer()
    fake.client.start_keepalive(0.2, 2)
    pings = []
    deadline = time.monotonic() + 10
    while fake.client.is_alive and time.monotonic() < deadline:
        fake.ours.settimeout(0.5)
        try:
            pings.append(decode_header(struct.pack(">I", 28) + fake.read_call()))
        except (TimeoutError, struct.error):
            continue
    assert not fake.client.is_alive
    assert [(h.prog, h.proc, h.type) for h in pings] == [(0x6B656570, 1, MessageType.MESSAGE)] * 2
    fake.client.close()


def test_client_answers_server_pings_with_pongs() -> None:
    fake = FakeServer()
    fake.ours.sendall(encode_message(0x6B656570, 1, 1, MessageType.MESSAGE, 0, Status.OK))
    fake.ours.settimeout(5)
    pong = decode_header(struct.pack(">I", 28) + fake.read_call())
    assert (pong.prog, pong.proc, pong.type, pong.status) == (0x6B656570, 2, MessageType.MESSAGE, Status.OK)
    assert fake.client.is_alive
    fake.client.close()


def test_descriptor_count_is_capped_at_libvirts_32() -> None:
    from pyvirt.remote.message import NUM_FDS_MAX, decode_num_fds

    assert NUM_FDS_MAX == _virnet.VIR_NET_MESSAGE_NUM_FDS_MAX
    head = encode_message(_remote.PROGRAM, 1, 1, MessageType.REPLY_WITH_FDS, 0, Status.OK, num_fds=32)
    assert decode_num_fds(head) == 32
    with pytest.raises(ProtocolError) as exc:
        decode_num_fds(head[:-4] + struct.pack(">I", 33))
    assert str(exc.value) == "Received too many FDs 33, expected 32 maximum"
    with pytest.raises(ProtocolError):
        decode_num_fds(head[:-4])
    with pytest.raises(ProtocolError) as exc:
        encode_message(_remote.PROGRAM, 1, 1, MessageType.CALL_WITH_FDS, 0, Status.OK, num_fds=33)
    assert str(exc.value) == "Too many FDs to send 33, expected 32 maximum"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the bug is re-raised, on purpose
def test_a_failure_inside_the_reader_releases_waiting_calls() -> None:
    """Whatever goes wrong in the reader thread, a waiting call gets an error instead of hanging."""
    fake = FakeServer()
    boom = RuntimeError("unexpected")

    def broken_dispatch(header: object, msg: bytes) -> None:
        raise boom

    fake.client._dispatch = broken_dispatch  # type: ignore[method-assign]
    call = fake.call_in_thread()
    fake.ours.sendall(encode_message(_remote.PROGRAM, 1, 3, MessageType.REPLY, 0, Status.OK))
    err = _finish(call)
    assert isinstance(err, Error) and str(err) == "internal error: RPC reader failed: RuntimeError: unexpected"
    fake.client.close()
