"""Runtime support of the generated XDR codecs: the protocol error, shared field codecs, safe decoding.

The generated modules (``_remote``, ``_virnet``, ...) hold only straight-line
pack/unpack functions; everything they share, and the one place where a
decoding failure of any kind becomes libvirt's RPC error, lives here.
"""

from __future__ import annotations

import _struct as struct  # the C module struct.py re-exports: struct.py itself cost a client run 0.4M instructions
from _collections_abc import Callable

from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from struct import error as struct_error  # typeshed has it in struct.pyi only
    from typing import Any
else:
    from _struct import error as struct_error


__all__ = [
    "DECODE_ERRORS",
    "ENCODE_ERRORS",
    "Buffer",
    "ProtocolError",
    "decode",
    "decode_failure",
    "encode",
    "encode_failure",
]

Buffer = bytes | bytearray | memoryview
if TYPE_CHECKING:  # for annotations only (import them under TYPE_CHECKING too)
    Pack = Callable[[bytearray, Any], None]
    Unpack = Callable[[Buffer, int], tuple[Any, int]]

_U32 = struct.Struct(">I")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")
_FALSE = b"\0\0\0\0"
_TRUE = b"\0\0\0\1"


class ProtocolError(ConnectionError):
    """A message that breaks the protocol: malformed, truncated, over a limit (VIR_ERR_RPC, VIR_FROM_RPC).

    ``message`` is libvirt's wording for the stage that failed ("Unable to
    decode message payload"); ``reason`` says what exactly was wrong.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(ErrorCode.RPC, message or reason, domain=ErrorDomain.RPC)
        self.reason = reason


# Strings and variable opaques are the commonest fields: one shared function each keeps the generated
# modules small (what every cold start unmarshals) for a per-field cost of one call.


def _pack_opaque(a: bytearray, data: bytes, limit: int, bound: str) -> None:
    n = len(data)
    if n > limit:
        raise ProtocolError(f"opaque longer than {bound}")
    a += _U32.pack(n)
    a += data
    a += _PAD[n & 3]


def _pack_string(a: bytearray, text: str, limit: int, bound: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    n = len(data)
    if n > limit:
        raise ProtocolError(f"string longer than {bound}")
    a += _U32.pack(n)
    a += data
    a += _PAD[n & 3]


def _pack_opt_string(a: bytearray, text: str | None, limit: int, bound: str) -> None:
    if text is None:
        a += _FALSE
    else:
        a += _TRUE
        _pack_string(a, text, limit, bound)


def _unpack_opaque(b: Buffer, o: int, limit: int, bound: str) -> tuple[bytes, int]:
    n: int = _U32.unpack_from(b, o)[0]
    if n > limit:
        raise ProtocolError(f"opaque longer than {bound}")
    o += 4
    if o + n > len(b):
        raise ProtocolError("opaque runs past the end of the message")
    return bytes(b[o : o + n]), o + ((n + 3) & ~3)


def _unpack_string(b: Buffer, o: int, limit: int, bound: str) -> tuple[str, int]:
    """An XDR string as the C string libvirt's peer reads: up to its first NUL.

    Both ends of libvirt's protocol are C, where ``xdr_string`` fills a
    ``char *``: a name "a\\0b" is the name "a" there, and no libvirt peer
    sends a NUL inside a string. Cutting here, once, gives the daemon's
    handlers and the client's callers the value libvirtd would use (a whole
    "a\\0b" reached drivers whose ``open()`` refuses it with ValueError), at
    the price of one C-level test per string instead of a walk over every
    call's decoded arguments.
    """
    n: int = _U32.unpack_from(b, o)[0]
    if n > limit:
        raise ProtocolError(f"string longer than {bound}")
    o += 4
    if o + n > len(b):
        raise ProtocolError("string runs past the end of the message")
    text = str(b[o : o + n], "utf-8", "surrogateescape")
    if "\0" in text:
        text = text[: text.index("\0")]
    return text, o + ((n + 3) & ~3)


def _unpack_opt_string(b: Buffer, o: int, limit: int, bound: str) -> tuple[str | None, int]:
    if _U32.unpack_from(b, o)[0]:
        return _unpack_string(b, o + 4, limit, bound)
    return None, o + 4


def _pack_chars(data: bytes) -> bytes:
    """An array of XDR ``char``: rpcgen's xdr_char sends each as a sign-extended 4-byte int."""
    return struct.pack(f">{len(data)}i", *(x - 256 if x > 127 else x for x in data))


def _pack_uchars(data: bytes) -> bytes:
    return struct.pack(f">{len(data)}I", *data)


# What a generated unpack function raises on a malformed payload besides ProtocolError: a short buffer
# (struct's error, IndexError), a bad enum or UTF-8 (ValueError), nesting past the stack (RecursionError), a
# count that asks for too much (MemoryError). Callers that decode on a hot path catch them themselves
# (``except DECODE_ERRORS``) and turn them into the error with :func:`decode_failure`.
DECODE_ERRORS = (ProtocolError, struct_error, IndexError, ValueError, OverflowError, TypeError, RecursionError,
                 MemoryError)  # fmt: skip
# What a pack function raises on a value its type cannot carry, besides ProtocolError.
ENCODE_ERRORS = (ProtocolError, struct_error, IndexError, ValueError, OverflowError, TypeError, AttributeError)


def decode_failure(exc: BaseException, what: str) -> ProtocolError:
    """The error a decoding failure is (libvirt's "Unable to decode message payload"), whatever raised it."""
    if isinstance(exc, ProtocolError):
        return ProtocolError(exc.reason, f"Unable to decode message {what}")
    return ProtocolError(f"{type(exc).__name__}: {exc}", f"Unable to decode message {what}")


def encode_failure(exc: BaseException, what: str) -> ProtocolError:
    """The error an encoding failure is ("Unable to encode message payload: ..."), whatever raised it."""
    if isinstance(exc, ProtocolError):
        return ProtocolError(exc.reason, f"Unable to encode message {what}: {exc.reason}")
    return ProtocolError(f"{type(exc).__name__}: {exc}", f"Unable to encode message {what}: {exc}")


def decode(unpack: Unpack | None, data: Buffer, offset: int = 0, *, what: str = "payload") -> Any:
    """Decode one value; any failure (short buffer, bound, bad union arm) is a ProtocolError.

    libvirt does not insist that the value fills the payload exactly, so neither do we.
    """
    if unpack is None:
        return None
    try:
        return unpack(data, offset)[0]
    except DECODE_ERRORS as exc:
        raise decode_failure(exc, what) from None


def encode(pack: Pack | None, value: Any, out: bytearray | None = None, *, what: str = "payload") -> bytearray:
    """Encode one value (appended to ``out``); a value the type cannot carry is a ProtocolError."""
    a = bytearray() if out is None else out
    if pack is None:
        return a
    try:
        pack(a, value)
    except ENCODE_ERRORS as exc:
        raise encode_failure(exc, what) from None
    return a
