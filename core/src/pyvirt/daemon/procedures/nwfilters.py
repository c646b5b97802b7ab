"""Network filters and their bindings (libvirt's nwfilter driver, ``remote_protocol.x`` 175-181, 286, 397-401, 431)."""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.table import _capped, _listed, handles
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import NWFilterBindingRef, NWFilterRef
from pyvirt.remote.calls import uuid_bytes, uuid_text


def _nwfilter(w: Any) -> NWFilterRef:
    return NWFilterRef(w[0], uuid_text(w[1]))


def _wnwfilter(f: NWFilterRef) -> tuple[str, bytes]:
    return (f.name, uuid_bytes(f.uuid))


def _binding(w: Any) -> NWFilterBindingRef:
    return NWFilterBindingRef(w[0], w[1])


def _wbinding(b: NWFilterBindingRef) -> tuple[str, str]:
    return (b.portdev, b.filter)


@handles("CONNECT_LIST_ALL_NWFILTERS", hook="nwfilter_list_all")
def _list_all(ctx: ClientContext, a: Any) -> Any:
    check_flags(a[1], 0, "nwfilterConnectListAllNWFilters")  # libvirt defines no flags for it
    return _listed(ctx.calls.nwfilter_list_all(), a[0], _wnwfilter)


@handles("CONNECT_NUM_OF_NWFILTERS", hook="nwfilter_list_all")
def _num_of(ctx: ClientContext, a: Any) -> Any:
    return (len(ctx.calls.nwfilter_list_all()),)


@handles("CONNECT_LIST_NWFILTERS", hook="nwfilter_list_all")
def _list_names(ctx: ClientContext, a: Any) -> Any:
    return (_capped([f.name for f in ctx.calls.nwfilter_list_all()], a[0], "maxnames"),)


@handles("NWFILTER_LOOKUP_BY_NAME", hook="nwfilter_lookup_by_name")
def _lookup_by_name(ctx: ClientContext, a: Any) -> Any:
    return (_wnwfilter(ctx.calls.nwfilter_lookup_by_name(name=a[0])),)


@handles("NWFILTER_LOOKUP_BY_UUID", hook="nwfilter_lookup_by_uuid")
def _lookup_by_uuid(ctx: ClientContext, a: Any) -> Any:
    return (_wnwfilter(ctx.calls.nwfilter_lookup_by_uuid(uuid=uuid_text(a[0]))),)


@handles("NWFILTER_DEFINE_XML", hook="nwfilter_define_xml")
def _define(ctx: ClientContext, a: Any) -> Any:
    return (_wnwfilter(ctx.calls.nwfilter_define_xml(xml=a[0], flags=0)),)


@handles("NWFILTER_DEFINE_XML_FLAGS", hook="nwfilter_define_xml")
def _define_flags(ctx: ClientContext, a: Any) -> Any:
    return (_wnwfilter(ctx.calls.nwfilter_define_xml(xml=a[0], flags=a[1])),)


@handles("NWFILTER_UNDEFINE", hook="nwfilter_undefine")
def _undefine(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.nwfilter_undefine(nwfilter=_nwfilter(a[0]))


@handles("NWFILTER_GET_XML_DESC", hook="nwfilter_get_xml_desc")
def _get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.nwfilter_get_xml_desc(nwfilter=_nwfilter(a[0]), flags=a[1]),)


@handles("CONNECT_LIST_ALL_NWFILTER_BINDINGS", hook="nwfilter_binding_list_all")
def _binding_list_all(ctx: ClientContext, a: Any) -> Any:
    check_flags(a[1], 0, "nwfilterConnectListAllNWFilterBindings")
    return _listed(ctx.calls.nwfilter_binding_list_all(), a[0], _wbinding)


@handles("NWFILTER_BINDING_LOOKUP_BY_PORT_DEV", hook="nwfilter_binding_lookup_by_port_dev")
def _binding_lookup(ctx: ClientContext, a: Any) -> Any:
    return (_wbinding(ctx.calls.nwfilter_binding_lookup_by_port_dev(portdev=a[0])),)


@handles("NWFILTER_BINDING_CREATE_XML", hook="nwfilter_binding_create_xml")
def _binding_create(ctx: ClientContext, a: Any) -> Any:
    return (_wbinding(ctx.calls.nwfilter_binding_create_xml(xml=a[0], flags=a[1])),)


@handles("NWFILTER_BINDING_DELETE", hook="nwfilter_binding_delete")
def _binding_delete(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.nwfilter_binding_delete(binding=_binding(a[0]))


@handles("NWFILTER_BINDING_GET_XML_DESC", hook="nwfilter_binding_get_xml_desc")
def _binding_get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.nwfilter_binding_get_xml_desc(binding=_binding(a[0]), flags=a[1]),)
