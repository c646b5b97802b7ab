"""The call table's rows for network filters and their bindings (libvirt's nwfilter driver).

Part of :data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import _ALL, _first, _one, uuid_bytes, uuid_text

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import NWFilterBindingRef, NWFilterRef
    from pyvirt.remote.calls import RemoteCall

__all__ = ["ROWS"]


def _nwfilter(w: Any) -> NWFilterRef:
    return _records.NWFilterRef(w[0], uuid_text(w[1]))


def _wire_nwfilter(f: NWFilterRef) -> tuple[str, bytes]:
    return (f.name, uuid_bytes(f.uuid))


def _binding(w: Any) -> NWFilterBindingRef:
    return _records.NWFilterBindingRef(w[0], w[1])


def _wire_binding(b: NWFilterBindingRef) -> tuple[str, str]:
    return (b.portdev, b.filter)


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("nwfilter_list_all", "CONNECT_LIST_ALL_NWFILTERS", lambda: (_ALL, 0),
         lambda w: [_nwfilter(f) for f in w[0]]),
    _one("nwfilter_lookup_by_name", "NWFILTER_LOOKUP_BY_NAME", lambda name: (name,), lambda w: _nwfilter(w[0])),
    _one("nwfilter_lookup_by_uuid", "NWFILTER_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: _nwfilter(w[0])),
    # virsh's nwfilter-define calls virNWFilterDefineXML without --validate: the old procedure then
    _one("nwfilter_define_xml", "NWFILTER_DEFINE_XML_FLAGS", lambda xml, flags: (xml, flags),
         lambda w: _nwfilter(w[0]), plain=("NWFILTER_DEFINE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("nwfilter_undefine", "NWFILTER_UNDEFINE", lambda nwfilter: (_wire_nwfilter(nwfilter),)),
    _one("nwfilter_get_xml_desc", "NWFILTER_GET_XML_DESC", lambda nwfilter, flags: (_wire_nwfilter(nwfilter), flags),
         _first),
    _one("nwfilter_binding_list_all", "CONNECT_LIST_ALL_NWFILTER_BINDINGS", lambda: (_ALL, 0),
         lambda w: [_binding(b) for b in w[0]]),
    _one("nwfilter_binding_lookup_by_port_dev", "NWFILTER_BINDING_LOOKUP_BY_PORT_DEV", lambda portdev: (portdev,),
         lambda w: _binding(w[0])),
    _one("nwfilter_binding_create_xml", "NWFILTER_BINDING_CREATE_XML", lambda xml, flags: (xml, flags),
         lambda w: _binding(w[0])),
    _one("nwfilter_binding_delete", "NWFILTER_BINDING_DELETE", lambda binding: (_wire_binding(binding),)),
    _one("nwfilter_binding_get_xml_desc", "NWFILTER_BINDING_GET_XML_DESC",
         lambda binding, flags: (_wire_binding(binding), flags), _first),
)
# fmt: on
