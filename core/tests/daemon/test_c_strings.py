"""Call arguments as libvirtd's C code sees them: every XDR string cut at its first NUL, nothing else touched.

The cut is made where a string is decoded (``pyvirt.remote.xdr._unpack_string``), so
it holds at any depth of any procedure's arguments, in the daemon and in the client
alike, without a second walk over each call's decoded value.
"""

from __future__ import annotations

from typing import Any

from pyvirt.remote import _remote
from pyvirt.remote.xdr import decode, encode

_UUID = bytes(range(16))


def _round_trip(proc: int, value: Any, *, ret: bool = False) -> Any:
    entry = _remote.PROCEDURES[proc]
    pack, unpack = (entry.pack_ret, entry.unpack_ret) if ret else (entry.pack_args, entry.unpack_args)
    return decode(unpack, bytes(encode(pack, value)))


def test_strings_are_cut_at_the_first_nul_at_any_depth() -> None:
    # a snapshot's name and its domain's name (a struct inside a struct), and a list of names
    snapshot = ("snap\0junk", ("web\0junk", _UUID, 3))
    assert _round_trip(_remote.REMOTE_PROC_DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, (("web\0x", _UUID, 3), "\0s", 0)) == (
        ("web", _UUID, 3), "", 0,
    )  # fmt: skip
    assert _round_trip(_remote.REMOTE_PROC_DOMAIN_SNAPSHOT_CURRENT, (snapshot,), ret=True) == (
        ("snap", ("web", _UUID, 3)),
    )
    names = _round_trip(_remote.REMOTE_PROC_CONNECT_LIST_DEFINED_DOMAINS, (["a\0b", "c"],), ret=True)
    assert names == (["a", "c"],) and type(names[0]) is list


def test_opaque_bytes_and_strings_without_a_nul_are_passed_on_as_they_are() -> None:
    """A UUID may hold zero bytes (it is opaque, not a C string); a name without a NUL is unchanged."""
    zeros = b"\0" * 16
    assert _round_trip(_remote.REMOTE_PROC_DOMAIN_GET_INFO, (("web", zeros, 3),)) == (("web", zeros, 3),)
    assert _round_trip(_remote.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, ("\u00e9t\u00e9",)) == ("\u00e9t\u00e9",)
