"""``Interface``: a host network interface handle (virInterfacePtr)."""

from __future__ import annotations

from pyvirt.plugin.records import InterfaceRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["Interface"]


class Interface:
    """One host network interface (libvirt's virInterfacePtr), as the host's configuration has it."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: InterfaceRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.Interface {self._ref.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def mac(self) -> str:
        return self._ref.mac

    def is_active(self) -> bool:
        return self._conn.calls.interface_is_active(iface=self._ref)

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.interface_get_xml_desc(iface=self._ref, flags=flags)

    def undefine(self) -> None:
        """Forget the interface's definition (virInterfaceUndefine)."""
        self._conn.calls.interface_undefine(iface=self._ref)

    def create(self, flags: int = 0) -> None:
        """Bring the interface up (virInterfaceCreate)."""
        self._conn.calls.interface_create(iface=self._ref, flags=flags)

    def destroy(self, flags: int = 0) -> None:
        """Take the interface down (virInterfaceDestroy)."""
        self._conn.calls.interface_destroy(iface=self._ref, flags=flags)
