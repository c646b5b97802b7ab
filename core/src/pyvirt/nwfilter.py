"""``NWFilter`` and ``NWFilterBinding``: network filter handles (virNWFilterPtr, virNWFilterBindingPtr).

Filters are served by the nwfilter driver (``nwfilter:///system``, the
``pyvirt-nwfilter`` distribution); a hypervisor connection reaches it as
libvirt's connections reach ``virtnwfilterd``.
"""

from __future__ import annotations

from pyvirt.plugin.records import NWFilterBindingRef, NWFilterRef

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["NWFilter", "NWFilterBinding"]


class NWFilter:
    """One network filter of a connection (libvirt's virNWFilterPtr)."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: NWFilterRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.NWFilter {self._ref.name!r}>"

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def uuid(self) -> str:
        return self._ref.uuid

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.nwfilter_get_xml_desc(nwfilter=self._ref, flags=flags)

    def undefine(self) -> None:
        self._conn.calls.nwfilter_undefine(nwfilter=self._ref)


class NWFilterBinding:
    """A filter applied to one guest port (libvirt's virNWFilterBindingPtr)."""

    __slots__ = ("_conn", "_ref")

    def __init__(self, conn: Connection, ref: NWFilterBindingRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<pyvirt.NWFilterBinding {self._ref.portdev!r} {self._ref.filter!r}>"

    @property
    def port_dev(self) -> str:
        return self._ref.portdev

    @property
    def filter_name(self) -> str:
        return self._ref.filter

    def xml_desc(self, flags: int = 0) -> str:
        return self._conn.calls.nwfilter_binding_get_xml_desc(binding=self._ref, flags=flags)

    def delete(self) -> None:
        self._conn.calls.nwfilter_binding_delete(binding=self._ref)
