"""``Secret``: a secret handle (virSecretPtr)."""

from __future__ import annotations

from pyvirt.plugin.records import SecretRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["Secret"]

USAGE_NAMES = {0: "none", 1: "volume", 2: "ceph", 3: "iscsi", 4: "tls", 5: "vtpm"}


class Secret:
    """One secret of a connection (libvirt's virSecretPtr): a definition and, separately, its value."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: SecretRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.Secret {self._ref.uuid}>"

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    @property
    def usage_type(self) -> int:
        return self._ref.usage_type

    @property
    def usage_id(self) -> str:
        return self._ref.usage_id

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.secret_get_xml_desc(secret=self._ref, flags=flags)

    def set_value(self, value: bytes, flags: int = 0) -> None:
        self._conn.calls.secret_set_value(secret=self._ref, value=value, flags=flags)

    def get_value(self, flags: int = 0) -> bytes:
        return self._conn.calls.secret_get_value(secret=self._ref, flags=flags)

    def undefine(self) -> None:
        self._conn.calls.secret_undefine(secret=self._ref)
