"""libvirt's RPC framing: length word, message header, error struct; shared by client and daemon.

A message on the wire is ``length (u32, counting itself) | header (24 bytes) |
payload``; the header is ``prog, vers, proc, type, serial, status``
(``virNetMessageHeader``). A reply with status ERROR carries a
``remote_error`` (``virNetMessageError``), which maps to and from
``pyvirt.errors`` with libvirt's code, domain and message kept as they are.

Limits are libvirt 9.0's (``virnetprotocol.x``): a whole message is at most
VIR_NET_MESSAGE_MAX (32 MiB) and at least the length word plus the header.
Every decoding failure is a :class:`~pyvirt.remote.xdr.ProtocolError` worded
as libvirt's ``virNetMessageDecode*`` words it.
"""

from __future__ import annotations

# _socket, not socket: what is used here is _socket.socket's own (socket.socket derives from it), and
# socket.py costs a short pyvirsh run about 2 ms (selectors, enums built from every AF_/SOCK_/MSG_ name).
import _socket
import _struct as struct  # (not struct.py: see pyvirt.remote.xdr)
import os

from pyvirt.errors import Error, ErrorCode, ErrorDomain, _int_enum, format_message, make_error
from pyvirt.remote.xdr import ENCODE_ERRORS, Buffer, ProtocolError, encode_failure

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from struct import error as struct_error  # typeshed has it in struct.pyi only
    from typing import Any, NamedTuple

    from pyvirt.remote.xdr import Pack, Unpack

    _IntEnumBody = enum.IntEnum
else:
    from _struct import error as struct_error

    from pyvirt.util.int_enum import IntEnumBody as _IntEnumBody
    from pyvirt.util.named_tuple import NamedTuple

__all__ = [
    "HEADER_SIZE",
    "KEEPALIVE_PROGRAM",
    "MESSAGE_MAX",
    "REMOTE_PROGRAM",
    "Header",
    "MessageType",
    "Status",
    "decode_error",
    "decode_header",
    "decode_length",
    "decode_num_fds",
    "encode_error",
    "encode_message",
    "error_from_wire",
    "error_to_wire",
    "recv_fd",
    "send_fd",
]

# The numbers below are checked against the generated modules (from libvirt's .x files) by a test;
# they are repeated here so that framing a message never has to import the 700-struct codec.
MESSAGE_MAX = 33554432  # VIR_NET_MESSAGE_MAX
HEADER_SIZE = 24  # VIR_NET_MESSAGE_HEADER_MAX
LEN_SIZE = 4  # VIR_NET_MESSAGE_LEN_MAX
REMOTE_PROGRAM = 0x20008086
REMOTE_PROTOCOL_VERSION = 1
KEEPALIVE_PROGRAM = 0x6B656570
KEEPALIVE_PROTOCOL_VERSION = 1
KEEPALIVE_PROC_PING = 1
KEEPALIVE_PROC_PONG = 2
NUM_FDS_MAX = 32  # VIR_NET_MESSAGE_NUM_FDS_MAX

_LEN = struct.Struct(">I")
_FRAME = struct.Struct(">IIIiiIi")  # length word + header
_HEADER = struct.Struct(">IIiiIi")


# Built as pyvirt.errors builds its codes (``_int_enum``): a class statement's member checks cost every
# client run 0.6 million instructions for these ten members.
class MessageType(_IntEnumBody):
    """virNetMessageType."""

    CALL = 0
    REPLY = 1
    MESSAGE = 2
    STREAM = 3
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5
    STREAM_HOLE = 6


class Status(_IntEnumBody):
    """virNetMessageStatus."""

    OK = 0
    ERROR = 1
    CONTINUE = 2


if not TYPE_CHECKING:
    MessageType = _int_enum(MessageType)
    Status = _int_enum(Status)


class Header(NamedTuple):
    prog: int
    vers: int
    proc: int
    type: int
    serial: int
    status: int


def encode_message(
    prog: int,
    vers: int,
    proc: int,
    type: int,
    serial: int,
    status: int,
    pack: Pack | None = None,
    value: Any = None,
    *,
    num_fds: int | None = None,
) -> bytearray:
    """A whole message, length word included, ready for ``sendall``.

    ``num_fds``: for CALL_WITH_FDS / REPLY_WITH_FDS, the number of descriptors
    that follow the message (each by :func:`send_fd`); libvirt puts it right
    after the header, before the payload.

    :raises ProtocolError: the payload cannot be encoded, or the message would
        exceed VIR_NET_MESSAGE_MAX (libvirt's wording).
    """
    buf = bytearray(_FRAME.pack(0, prog, vers, proc, type, serial, status))
    if num_fds is not None:
        if num_fds > NUM_FDS_MAX:
            raise ProtocolError(
                f"{num_fds} descriptors", f"Too many FDs to send {num_fds}, expected {NUM_FDS_MAX} maximum"
            )
        buf += _LEN.pack(num_fds)
    if pack is not None:
        try:  # (xdr.encode's body: every reply is built here, and its call was one frame of a dozen)
            pack(buf, value)
        except ENCODE_ERRORS as exc:
            raise encode_failure(exc, "payload") from None
    size = len(buf)
    if size > MESSAGE_MAX:
        raise ProtocolError(f"message of {size} bytes", f"Message length {size} too large, limit {MESSAGE_MAX}")
    _LEN.pack_into(buf, 0, size)
    return buf


def decode_length(data: Buffer) -> int:
    """The whole message's length from its first four bytes, checked against libvirt's limits."""
    if len(data) < LEN_SIZE:
        raise ProtocolError("short length word", "Unable to decode message length")
    size: int = _LEN.unpack_from(data)[0]
    if size < LEN_SIZE + HEADER_SIZE:
        raise ProtocolError(
            f"length {size}", f"packet {size} bytes received from server too small, want {LEN_SIZE + HEADER_SIZE}"
        )
    if size > MESSAGE_MAX:
        raise ProtocolError(f"length {size}", f"packet {size} bytes received from server too large, want {MESSAGE_MAX}")
    return size


def decode_header(data: Buffer, offset: int = LEN_SIZE) -> Header:
    """The header of a message (``data`` normally the whole message, length word first)."""
    try:
        return Header._make(_HEADER.unpack_from(data, offset))
    except struct_error:
        raise ProtocolError("short header", "Unable to decode message header") from None


def decode_num_fds(data: Buffer, offset: int = LEN_SIZE + HEADER_SIZE) -> int:
    """The descriptor count of a ``*_WITH_FDS`` message (the payload starts 4 bytes later)."""
    try:
        count: int = _LEN.unpack_from(data, offset)[0]
    except struct_error:
        raise ProtocolError("short message", "Unable to decode number of FDs") from None
    if count > NUM_FDS_MAX:
        raise ProtocolError(f"{count} descriptors", f"Received too many FDs {count}, expected {NUM_FDS_MAX} maximum")
    return count


def send_fd(sock: _socket.socket, fd: int) -> None:
    """One descriptor after a ``*_WITH_FDS`` message, as libvirt's virSocketSendFD: one zero byte carrying it."""
    import array  # only calls that pass descriptors pay for it

    sock.sendmsg([b"\0"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]))])


def recv_fd(sock: _socket.socket) -> int:
    """The descriptor :func:`send_fd` sent (the caller owns it)."""
    import array

    data, ancillary, _flags, _addr = sock.recvmsg(1, _socket.CMSG_SPACE(array.array("i").itemsize))
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for extra in fds[1:]:
                os.close(extra)
            if fds:
                return fds[0]
    if not data:
        raise ProtocolError("end of file", "End of file while reading data")
    raise ProtocolError("no descriptor", "Expected a file descriptor from the peer")


# ---------------------------------------------------------------- errors

_VIR_ERR_ERROR = 2  # virErrorLevel


def error_from_wire(value: Any) -> Error:
    """A ``remote_error`` tuple as the pyvirt exception carrying libvirt's code, domain and message.

    Codes and domains newer than this pyvirt knows keep their numbers in
    ``remote_code``/``remote_domain`` and become INTERNAL_ERROR / NONE.
    """
    code, domain, message, level, _dom, str1, str2, str3, int1, int2, _net = value
    try:
        ecode = ErrorCode(code)
    except ValueError:
        ecode = ErrorCode.INTERNAL_ERROR
    try:
        edomain = ErrorDomain(domain)
    except ValueError:
        edomain = ErrorDomain.NONE
    err = make_error(ecode, message or None, domain=edomain)
    if message:
        err.message = message
        err.args = (message,)
    err.remote_code = code  # type: ignore[attr-defined]
    err.remote_domain = domain  # type: ignore[attr-defined]
    err.remote_extra = (level, str1, str2, str3, int1, int2)  # type: ignore[attr-defined]
    return err


def error_to_wire(err: BaseException) -> tuple[Any, ...]:
    """Any exception as a ``remote_error`` tuple: pyvirt errors keep code, domain and message.

    The other fields are filled as libvirt's virReportError fills them: level
    ERROR, ``str1`` the message template ("Domain not found: %s"), ``str2`` the
    detail, ``int1``/``int2`` -1; an error that came over the wire goes out
    with the fields it came with. Other exceptions become INTERNAL_ERROR with
    their text, as libvirt's daemon reports an error it did not expect.
    """
    if isinstance(err, Error):
        code = getattr(err, "remote_code", int(err.code))
        domain = getattr(err, "remote_domain", int(err.domain))
        message = err.message
        template = format_message(err.code, "%s" if err.detail else None)
        level, str1, str2, str3, int1, int2 = getattr(
            err, "remote_extra", (_VIR_ERR_ERROR, template, err.detail or None, None, -1, -1)
        )
    else:
        code, domain = int(ErrorCode.INTERNAL_ERROR), int(ErrorDomain.RPC)
        message = f"internal error: {type(err).__name__}: {err}"
        level, str1, str2, str3, int1, int2 = _VIR_ERR_ERROR, message, None, None, -1, -1
    return (code, domain, message, level, None, str1, str2, str3, int1, int2, None)


def _error_codec() -> tuple[Pack, Unpack]:
    # from the types module itself, not through ``_remote``: a client that gets an error reply (an unknown
    # domain) need not load the program's whole table (a test checks it is the same function)
    from pyvirt.remote._remote_types import pack_remote_error, unpack_remote_error

    return pack_remote_error, unpack_remote_error


def decode_error(data: Buffer, offset: int = LEN_SIZE + HEADER_SIZE) -> Error:
    """The error carried by a reply with status ERROR."""
    from pyvirt.remote.xdr import decode

    return error_from_wire(decode(_error_codec()[1], data, offset))


def encode_error(prog: int, vers: int, proc: int, type: int, serial: int, err: BaseException) -> bytearray:
    """A reply (or stream message) with status ERROR carrying ``err``."""
    return encode_message(prog, vers, proc, type, serial, Status.ERROR, _error_codec()[0], error_to_wire(err))
