"""``NodeDevice``: a host device handle (virNodeDevicePtr)."""

from __future__ import annotations

from pyvirt.plugin.records import NodeDeviceRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["NodeDevice"]


class NodeDevice:
    """One host device the connection sees (libvirt's virNodeDevicePtr): PCI, USB, net, storage, ..."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: NodeDeviceRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.NodeDevice {self._ref.name}>"

    @property
    def name(self) -> str:
        return self._ref.name

    def parent(self) -> str:
        return self._conn.calls.nodedev_get_parent(dev=self._ref)

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.nodedev_get_xml_desc(dev=self._ref, flags=flags)

    def destroy(self) -> None:
        """Remove the device from the host (virNodeDeviceDestroy): a vHBA's vport is deleted."""
        self._conn.calls.nodedev_destroy(dev=self._ref)
