"""Names, UUIDs, keys and MACs: pool-name, pool-uuid, vol-key, vol-name, vol-pool, iface-mac, iface-name.

Each finds its object exactly as virsh's does (pool-name only by UUID,
pool-uuid only by name, vol-name by key or path, iface-mac by a name that
is not a MAC address), so the same argument
fails the same way with the same words.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_volume
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

UUID_LENGTH = 36  # virshCommandOptPoolBy tries a UUID lookup only for a string this long


@command("pool-name", "convert a pool UUID to pool name",
         Opt("pool", "pool uuid", required=True, positional=True))  # fmt: skip
def cmd_pool_name(s: Session, o: dict[str, Any]) -> None:
    ident = o["pool"]
    found = []
    if len(ident) == UUID_LENGTH:
        try:
            found.append(s.conn.lookup_storage_pool_by_uuid(ident))
        except Error as exc:
            raise CommandError(f"failed to get pool '{ident}'", exc.message) from None
    if not found:
        s.conn  # noqa: B018 - virsh connects before looking: a connection error comes first
        raise CommandError(f"failed to get pool '{ident}'")
    s.out(found[0].name)


@command("pool-uuid", "convert a pool name to pool UUID",
         Opt("pool", "pool name", required=True, positional=True))  # fmt: skip
def cmd_pool_uuid(s: Session, o: dict[str, Any]) -> None:
    ident = o["pool"]
    try:
        pool = s.conn.lookup_storage_pool_by_name(ident)
    except Error as exc:
        raise CommandError(f"failed to get pool '{ident}'", exc.message) from None
    s.out(pool.uuid)


@command("vol-key", "returns the volume key for a given volume name or path",
         Opt("vol", "volume name or path", required=True, positional=True),
         Opt("pool", "pool name or uuid"))  # fmt: skip
def cmd_vol_key(s: Session, o: dict[str, Any]) -> None:
    s.out(get_volume(s, o["vol"], o["pool"]).key)


@command("vol-name", "returns the volume name for a given volume key or path",
         Opt("vol", "volume key or path", required=True, positional=True))  # fmt: skip
def cmd_vol_name(s: Session, o: dict[str, Any]) -> None:
    s.out(get_volume(s, o["vol"], None, pool_option=False).name)


@command("vol-pool", "returns the storage pool for a given volume key or path",
         Opt("vol", "volume key or path", required=True, positional=True),
         Opt("uuid", "return the pool uuid rather than pool name", flag=True))  # fmt: skip
def cmd_vol_pool(s: Session, o: dict[str, Any]) -> None:
    vol = get_volume(s, o["vol"], None, pool_option=False)
    try:
        pool = s.conn.lookup_storage_pool_by_name(vol.pool_name)
    except Error:
        raise CommandError("failed to get parent pool") from None
    s.out(pool.uuid if o["uuid"] else pool.name)


def _looks_like_mac(text: str) -> bool:
    """virMacAddrParse's shape: six hex bytes of one or two digits, separated by ':'."""
    parts = text.split(":")
    return len(parts) == 6 and all(1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)


@command("iface-mac", "convert an interface name to interface MAC address",
         Opt("interface", "interface name", required=True, positional=True))  # fmt: skip
def cmd_iface_mac(s: Session, o: dict[str, Any]) -> None:
    ident = o["interface"]
    conn = s.conn
    if _looks_like_mac(ident):  # virsh looks a name up only when it is not a MAC address
        raise CommandError(f"failed to get interface '{ident}'")
    try:
        iface = conn.lookup_interface_by_name(ident)
    except Error as exc:
        raise CommandError(f"failed to get interface '{ident}'", exc.message) from None
    s.out(iface.mac)


@command("iface-name", "convert an interface MAC address to interface name",
         Opt("interface", "interface mac", required=True, positional=True))  # fmt: skip
def cmd_iface_name(s: Session, o: dict[str, Any]) -> None:
    """virsh looks the argument up only as a MAC address (virInterfaceLookupByMACString).

    pyvirt's API table has no MAC lookup hook, so the host's interfaces are
    listed and matched by MAC, as libvirt's drivers match them; a MAC that
    none has fails with libvirt's NO_INTERFACE error, a name is refused as
    virsh refuses it.
    """
    ident = o["interface"]
    if not _looks_like_mac(ident):
        raise CommandError(f"failed to get interface '{ident}'")
    found = [i for i in s.conn.list_all_interfaces() if i.mac.lower() == ident.lower()]
    if not found:
        from pyvirt.errors import ErrorCode, NotFoundError

        missing = NotFoundError(ErrorCode.NO_INTERFACE, f"no interface with matching mac '{ident}'")
        raise CommandError(f"failed to get interface '{ident}'", missing.message)
    s.out(found[0].name)
