"""Finding objects from command-line names, ids and UUIDs, as virsh does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.cli.framework import CommandError, Session
from pyvirt.errors import Error

if TYPE_CHECKING:
    from pyvirt.domain import Domain
    from pyvirt.network import Network
    from pyvirt.storage import StoragePool, StorageVolume

__all__ = ["get_domain", "get_network", "get_pool", "get_volume"]


def _looks_like_uuid(text: str) -> bool:
    compact = text.replace("-", "")
    return len(compact) == 32 and all(c in "0123456789abcdefABCDEF" for c in compact)


def get_domain(session: Session, ident: str) -> Domain:
    """By id (numeric), then UUID, then name (virshLookupDomainBy)."""
    conn = session.conn
    try:
        if ident.isdigit():
            try:
                return conn.lookup_domain_by_id(int(ident))
            except Error:
                pass
        if _looks_like_uuid(ident):
            try:
                return conn.lookup_domain_by_uuid(ident)
            except Error:
                pass
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


def get_volume(session: Session, ident: str, pool: str | None) -> StorageVolume:
    conn = session.conn
    try:
        if pool:
            return get_pool(session, pool).lookup_volume_by_name(ident)
        if ident.startswith("/"):
            return conn.lookup_storage_volume_by_path(ident)
        return conn.lookup_storage_volume_by_key(ident)
    except Error as exc:
        raise CommandError(f"failed to get vol '{ident}'", exc.message) from None
