"""Finding objects from command-line names, ids and UUIDs, as virsh does."""

from __future__ import annotations

from _collections_abc import Callable

from pyvirt.cli.framework import CommandError, Opt, Session
from pyvirt.errors import Error

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.domain import Domain
    from pyvirt.network import Network
    from pyvirt.storage import StoragePool, StorageVolume

__all__ = ["VOL", "VOL_POOL", "get_domain", "get_network", "get_pool", "get_volume"]

# the options every volume command names its volume with, as get_volume reads them (VIRSH_COMMON_OPT_VOL, _POOL)
VOL = Opt("vol", "vol name, key or path", required=True, positional=True)
VOL_POOL = Opt("pool", "pool name or uuid")


def _looks_like_uuid(text: str) -> bool:
    compact = text.replace("-", "")
    return len(compact) == 32 and all(c in "0123456789abcdefABCDEF" for c in compact)


def get_domain(session: Session, ident: str, option: str = "domain") -> Domain:
    """By id (numeric), then UUID, then name (virshLookupDomainBy), traced as virsh traces it under ``-d``."""
    conn = session.conn
    where = f"{session.command}: <domain>"  # virsh names the option in the first trace only
    session.debug(1, f"{session.command}: found option <{option}>: {ident}\n")
    try:
        if ident.isdigit():
            session.debug(0, f"{where} looks like ID\n")
            try:
                return conn.lookup_domain_by_id(int(ident))
            except Error:
                pass
        if _looks_like_uuid(ident):
            session.debug(0, f"{where} trying as domain UUID\n")
            try:
                return conn.lookup_domain_by_uuid(ident)
            except Error:
                pass
        session.debug(0, f"{where} trying as domain NAME\n")
        return conn.lookup_domain_by_name(ident)
    except Error:
        raise CommandError(f"failed to get domain '{ident}'") from None


def get_network(session: Session, ident: str) -> Network:
    conn = session.conn
    try:
        if _looks_like_uuid(ident):
            try:
                return conn.lookup_network_by_uuid(ident)
            except Error:
                pass
        return conn.lookup_network_by_name(ident)
    except Error as exc:
        raise CommandError(f"failed to get network '{ident}'", exc.message) from None


def get_pool(session: Session, ident: str) -> StoragePool:
    conn = session.conn
    try:
        if _looks_like_uuid(ident):
            try:
                return conn.lookup_storage_pool_by_uuid(ident)
            except Error:
                pass
        return conn.lookup_storage_pool_by_name(ident)
    except Error as exc:
        raise CommandError(f"failed to get pool '{ident}'", exc.message) from None


def get_volume(session: Session, ident: str, pool: str | None, *, pool_option: bool = True) -> StorageVolume:
    """virshCommandOptVolBy: by name in ``--pool`` (which must be active), then by key, then by path.

    The last lookup's error is the one shown, after virsh's line, which
    suggests ``--pool`` when it was not given.
    """
    conn = session.conn
    in_pool = None
    if pool:
        in_pool = get_pool(session, pool)
        if not in_pool.is_active():
            raise CommandError(f"pool '{pool}' is not active")
    vol = None
    last: Error | None = None
    lookups: list[Callable[[str], StorageVolume]] = [
        conn.lookup_storage_volume_by_key,
        conn.lookup_storage_volume_by_path,
    ]
    if in_pool is not None:
        lookups.insert(0, in_pool.lookup_volume_by_name)
    for lookup in lookups:
        try:
            vol = lookup(ident)
            break
        except Error as exc:
            last = exc
    if vol is None:
        first = (
            f"failed to get vol '{ident}'"
            if pool or not pool_option  # a command without --pool (vol-name) cannot suggest it
            else f"failed to get vol '{ident}', specifying --pool might help"
        )
        raise CommandError(first, *([last.message] if last is not None else []))
    if in_pool is not None and vol.pool_name != in_pool.name:
        raise CommandError(f"Requested volume '{ident}' is not in pool '{in_pool.name}'")
    return vol
