"""The call table's rows for domains: lookup, definition, lifecycle and state.

What most short commands call (``start``, ``destroy``, ``list``, ``dominfo``...). Part of
:data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import _ALL, RemoteCall, _first, _flags, _none, _one, _wd, domain_ref, uuid_bytes

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import DomainRef

__all__ = ["ROWS"]


_DOMAIN_FLAGS = ("persistent", "active", "autostart", "managed_save", "has_snapshot", "updated")


def _domains_in_spec_order(w: Any) -> list[DomainRef]:
    """The hook's order (running by id, then inactive by name); libvirt's daemons list in their own order."""
    refs = [domain_ref(d) for d in w[0]]
    return sorted(refs, key=lambda r: (r.id == -1, r.id, r.name))


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("domain_list_all", "CONNECT_LIST_ALL_DOMAINS", lambda: (_ALL, 0), _domains_in_spec_order),
    _one("domain_lookup_by_name", "DOMAIN_LOOKUP_BY_NAME", lambda name: (name,), lambda w: domain_ref(w[0])),
    _one("domain_lookup_by_uuid", "DOMAIN_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: domain_ref(w[0])),
    _one("domain_lookup_by_id", "DOMAIN_LOOKUP_BY_ID", lambda id: (id,), lambda w: domain_ref(w[0])),
    _one("domain_define_xml", "DOMAIN_DEFINE_XML_FLAGS", lambda xml, flags: (xml, flags), lambda w: domain_ref(w[0]),
         ("DOMAIN_DEFINE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("domain_undefine", "DOMAIN_UNDEFINE_FLAGS", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_create_xml", "DOMAIN_CREATE_XML", lambda xml, flags: (xml, flags), lambda w: domain_ref(w[0])),
    _one("domain_create", "DOMAIN_CREATE_WITH_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_CREATE", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_destroy", "DOMAIN_DESTROY_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_DESTROY", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_shutdown", "DOMAIN_SHUTDOWN_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_SHUTDOWN", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_reboot", "DOMAIN_REBOOT", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_suspend", "DOMAIN_SUSPEND", lambda dom: (_wd(dom),)),
    _one("domain_resume", "DOMAIN_RESUME", lambda dom: (_wd(dom),)),
    _one("domain_save", "DOMAIN_SAVE_FLAGS", lambda dom, path, xml, flags: (_wd(dom), path, xml, flags),
         plain=("DOMAIN_SAVE", lambda dom, path, xml, flags: None if flags or xml else (_wd(dom), path))),
    _one("domain_managed_save", "DOMAIN_MANAGED_SAVE", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_managed_save_remove", "DOMAIN_MANAGED_SAVE_REMOVE", lambda dom, flags: (_wd(dom), flags)),
    # metadata, rename and reset (contract 1.11)
    _one("domain_get_metadata", "DOMAIN_GET_METADATA", lambda dom, type, uri, flags: (_wd(dom), type, uri, flags),
         _first),
    _one("domain_set_metadata", "DOMAIN_SET_METADATA",
         lambda dom, type, metadata, key, uri, flags: (_wd(dom), type, metadata, key, uri, flags)),
    _one("domain_rename", "DOMAIN_RENAME", lambda dom, new_name, flags: (_wd(dom), new_name, flags)),
    _one("domain_reset", "DOMAIN_RESET", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_get_info", "DOMAIN_GET_INFO", lambda dom: (_wd(dom),), lambda w: _records.DomainInfo(*w)),
    _one("domain_get_state", "DOMAIN_GET_STATE", lambda dom: (_wd(dom), 0), lambda w: (w[0], w[1])),
    _one("domain_get_xml_desc", "DOMAIN_GET_XML_DESC", lambda dom, flags: (_wd(dom), flags), _first),
    _one("domain_get_os_type", "DOMAIN_GET_OS_TYPE", lambda dom: (_wd(dom),), _first),
    RemoteCall("domain_get_flags",
               ("DOMAIN_IS_PERSISTENT", "DOMAIN_IS_ACTIVE", "DOMAIN_GET_AUTOSTART", "DOMAIN_HAS_MANAGED_SAVE_IMAGE",
                "DOMAIN_HAS_CURRENT_SNAPSHOT", "DOMAIN_IS_UPDATED"),
               lambda dom: [(_wd(dom),), (_wd(dom),), (_wd(dom),), (_wd(dom), 0), (_wd(dom), 0), (_wd(dom),)],
               _flags(_DOMAIN_FLAGS)),
    _one("domain_set_autostart", "DOMAIN_SET_AUTOSTART", lambda dom, autostart: (_wd(dom), int(autostart))),
    # starting with descriptors (contract 1.15): they travel beside the arguments (CALL_WITH_FDS)
    RemoteCall("domain_create_with_files", ("DOMAIN_CREATE_WITH_FILES",), lambda dom, files, flags: (_wd(dom), flags),
               _none, fds=lambda dom, files, flags: files),
    RemoteCall("domain_create_xml_with_files", ("DOMAIN_CREATE_XML_WITH_FILES",),
               lambda xml, files, flags: (xml, flags), lambda w: domain_ref(w[0]),
               fds=lambda xml, files, flags: files),
    # descriptors kept by the domain under a name (contract 1.16), sent beside the arguments likewise
    RemoteCall("domain_fd_associate", ("DOMAIN_FD_ASSOCIATE",), lambda dom, name, files, flags: (_wd(dom), name, flags),
               _none, fds=lambda dom, name, files, flags: files),
    # the XML of save images (contract 1.15); the path is absolute already (the facade made it so)
    _one("domain_save_image_get_xml_desc", "DOMAIN_SAVE_IMAGE_GET_XML_DESC", lambda path, flags: (path, flags),
         _first),
    _one("domain_save_image_define_xml", "DOMAIN_SAVE_IMAGE_DEFINE_XML",
         lambda path, xml, flags: (path, xml, flags)),
    _one("domain_managed_save_get_xml_desc", "DOMAIN_MANAGED_SAVE_GET_XML_DESC",
         lambda dom, flags: (_wd(dom), flags), _first),
    _one("domain_managed_save_define_xml", "DOMAIN_MANAGED_SAVE_DEFINE_XML",
         lambda dom, xml, flags: (_wd(dom), xml, flags)),
)
# fmt: on
