"""The registry every procedure module adds its handlers to, the constants they share, and wire values.

Values on the wire: records travel as tuples in the ``.x`` field order, UUIDs
as 16 bytes, booleans as ints, fixed ``char[]`` buffers as NUL-padded bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyvirt.daemon.remote_program import ClientContext
from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain
from pyvirt.plugin.records import (
    DomainRef,
    NetworkRef,
    PoolRef,
    SecretRef,
    SnapshotRef,
    VolumeRef,
)
from pyvirt.remote.calls import domain_ref, network_ref, uuid_bytes, uuid_text, wire_domain

__all__ = ["HANDLERS", "NO_CONNECTION_NEEDED", "ONE_HOOK", "WITH_FDS", "handles"]

Handler = Callable[[ClientContext, Any], Any]
HANDLERS: dict[str, Handler] = {}
# procedure -> the one hook its handler calls (``handles(hook=...)``)
ONE_HOOK: dict[str, str] = {}
# Procedures whose handler takes the descriptors the call brought, as its last argument (``handles(fds=True)``)
WITH_FDS: set[str] = set()
# Procedures a client may call before CONNECT_OPEN (libvirt's open sequence and its feature probes).
NO_CONNECTION_NEEDED = frozenset(
    {"REMOTE_PROC_AUTH_LIST", "REMOTE_PROC_CONNECT_OPEN", "REMOTE_PROC_CONNECT_SUPPORTS_FEATURE",
     "REMOTE_PROC_CONNECT_CLOSE"}
)  # fmt: skip

# libvirt's library version the daemon reports: the protocol and API level pyvirtd serves (libvirt 9.0's),
# which is what clients compare against before using newer calls.
LIB_VERSION = 9_000_000

_AUTH_NONE = 0
_VIR_CONNECT_RO = 1
_VIR_DOMAIN_AFFECT_LIVE = 1
# virDrvFeature values a remote client asks about (libvirt_internal.h), and the answers.
_FEATURES = {8: 1, 9: 1, 10: 1, 14: 1, 15: 1, 16: 1}  # FD_PASSING (as libvirtd), TYPED_PARAM_STRING, KEEPALIVE...
_FEATURE_PROGRAM_KEEPALIVE = 10
_DOMAIN_EVENT_ID_LAST = 27  # VIR_DOMAIN_EVENT_ID_LAST: in libvirt 9.0, MEMORY_DEVICE_SIZE_CHANGE (26) is the last
_NETWORK_EVENT_ID_LAST = 1  # VIR_NETWORK_EVENT_ID_LAST
_POOL_EVENT_ID_LAST = 2  # VIR_STORAGE_POOL_EVENT_ID_LAST
_LIST_MAX = 16384  # REMOTE_DOMAIN_LIST_MAX and its siblings
_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318
_PROC_NETWORK_EVENT_LIFECYCLE = 315


def handles(*names: str, hook: str | None = None, fds: bool = False) -> Callable[[Handler], Handler]:
    """Register the handler of procedures ``names``.

    ``hook``: the handler calls this one hook and nothing else that may wait
    (the rest is wire conversion); where the connection's driver declares the
    hook never blocks (``DriverCalls.never_blocks``), the call is answered on
    the event loop without a worker's hand-off.

    ``fds``: the procedure takes descriptors (libvirt's ``*WithFiles``): the
    handler's arguments end with the list of those the call brought (empty
    for a plain CALL). They are lent: the dispatcher closes them after the call.
    """

    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS["REMOTE_PROC_" + name] = fn
            if hook is not None:
                ONE_HOOK["REMOTE_PROC_" + name] = hook
            if fds:
                WITH_FDS.add("REMOTE_PROC_" + name)
        return fn

    return register


# ---------------------------------------------------------------- wire values
def _net(w: Any) -> NetworkRef:
    return network_ref(w)


def _wnet(n: NetworkRef) -> tuple[str, bytes]:
    return (n.name, uuid_bytes(n.uuid))


def _pool(w: Any) -> PoolRef:
    return PoolRef(w[0], uuid_text(w[1]))


def _wpool(p: PoolRef) -> tuple[str, bytes]:
    return (p.name, uuid_bytes(p.uuid))


def _vol(w: Any) -> VolumeRef:
    return VolumeRef(w[0], w[1], w[2])


def _wvol(v: VolumeRef) -> tuple[str, str, str]:
    return (v.pool, v.name, v.key)


def _secret(w: Any) -> SecretRef:
    return SecretRef(uuid_text(w[0]), w[1], w[2])


def _wsecret(s: SecretRef) -> tuple[bytes, int, str]:
    return (uuid_bytes(s.uuid), s.usage_type, s.usage_id)


def _snap(w: Any) -> SnapshotRef:
    return SnapshotRef(domain_ref(w[1]), w[0])


def _wsnap(s: SnapshotRef) -> tuple[str, tuple[str, bytes, int]]:
    return (s.name, wire_domain(s.domain))


def _char_array(text: str, size: int) -> bytes:
    """A fixed ``char[size]`` of the C API: the text, NUL-padded (and NUL-terminated when it fits)."""
    return text.encode()[: size - 1].ljust(size, b"\0")


def _c_string(text: str) -> bytes:
    """A variable ``char<>`` the C side reads as a string: libvirt sends the terminating NUL too."""
    return text.encode() + b"\0"


def _listed(refs: Iterable[Any], need: int, wire: Callable[[Any], Any]) -> tuple[list[Any], int]:
    items = list(refs)
    if len(items) > _LIST_MAX:
        raise ConnectionError(ErrorCode.RPC, "too many objects for one reply", domain=ErrorDomain.RPC)
    return ([wire(i) for i in items] if need else [], len(items))


def _capped(values: list[Any], maximum: int, what: str) -> list[Any]:
    if maximum > _LIST_MAX:
        raise ConnectionError(ErrorCode.RPC, f"{what} > REMOTE_{what.upper()}_LIST_MAX", domain=ErrorDomain.RPC)
    return values[: max(maximum, 0)]


def _domain(ctx: ClientContext, w: Any) -> DomainRef:
    """The client's handle, refreshed: its id may be stale (the client looked it up before a start)."""
    return ctx.calls.domain_lookup_by_uuid(uuid=uuid_text(w[1]))
