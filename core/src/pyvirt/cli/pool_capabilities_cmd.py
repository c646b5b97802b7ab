"""``pyvirsh pool-capabilities``: the storage driver's pool types, as virsh 9.0's cmdPoolCapabilities prints them."""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []


@command("pool-capabilities", "storage pool capabilities", description="Returns capabilities of storage pool support.")
def cmd_pool_capabilities(s: Session, o: dict[str, Any]) -> None:
    """virConnectGetStoragePoolCapabilities (no flags yet), the document and virsh's own newline after it."""
    try:
        caps = s.conn.get_storage_pool_capabilities(0)
    except Error as exc:
        raise CommandError("failed to get storage pool capabilities", exc.message) from None
    s.out(caps)
