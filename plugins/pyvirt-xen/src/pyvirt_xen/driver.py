"""Entry point of the ``xen`` driver: ``xen:///system`` and its configuration conversions.

What is here today: ``domxml-from-native``/``domxml-to-native`` for
``xen-xl`` and ``xen-xm``, and the definitions (define, undefine, list,
lookups, dumpxml, dominfo, state) kept in the config directory as libvirt
keeps them, with the libxl driver's defaults. libvirt's driver refuses to
open without a running Xen (libxlStateInitialize needs libxl's context); this
one opens ``xen:///system`` and ``xen:///embed?root=DIR`` anywhere, because
none of that needs the hypervisor, and tools and packagers convert on
machines without Xen. Starting guests (``xl create``) is not implemented
yet, so every domain is shut off and the lifecycle calls answer NO_SUPPORT,
as libvirt's drivers answer for a callback they leave NULL.
"""

from __future__ import annotations

import socket
from typing import Any

from pyvirt.conf.domain import format_domain
from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.events import Defined, DomainEvent, EventSink
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainInfo, DomainRef
from pyvirt.uri import URI
from pyvirt_xen.state import XenState, parse_xen_domain, release_state, shared_state

__all__ = ["XenConnection", "XenDriver"]

NATIVE_FORMATS = ("xen-xl", "xen-xm")


def _check_format(native_format: str) -> None:
    if native_format not in NATIVE_FORMATS:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported config type {native_format}")


class XenConnection:
    """One ``xen:///system`` connection."""

    def __init__(self, uri: URI, state: XenState, events: EventSink) -> None:
        self.uri = uri
        self.state = state
        self.events = events
        state.sinks.append(events)

    @hookimpl
    def connect_close(self) -> None:
        self.state.sinks.remove(self.events)
        release_state(self.state)

    @hookimpl
    def connect_get_type(self) -> str:
        return "Xen"

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def connect_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        _check_format(native_format)
        from pyvirt_xen.from_native import xl_to_domain_xml, xm_to_domain_xml

        return (xl_to_domain_xml if native_format == "xen-xl" else xm_to_domain_xml)(native_config)

    @hookimpl
    def connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        _check_format(native_format)
        from pyvirt_xen.to_native import domain_xml_to_xl, domain_xml_to_xm

        return (domain_xml_to_xl if native_format == "xen-xl" else domain_xml_to_xm)(xml)

    # ------------------------------------------------------------------ definitions
    @hookimpl
    def domain_list_all(self) -> list[DomainRef]:
        return self.state.list_all()

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return self.state.lookup_by_name(name)

    @hookimpl
    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        return self.state.lookup_by_uuid(uuid)

    @hookimpl
    def domain_lookup_by_id(self, id: int) -> DomainRef:
        return self.state.lookup_by_id(id)

    @hookimpl
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, 1, "libxlDomainDefineXMLFlags")
        dom = parse_xen_domain(xml)
        with self.state.lock:
            obj, added = self.state.add_definition(dom, live=False)
            obj.persistent = True
            self.state.save_config(dom)
        self.state.emit(obj, DomainEvent.DEFINED, Defined.ADDED if added else Defined.UPDATED)
        return obj.ref()

    @hookimpl
    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "libxlDomainUndefineFlags")
        obj = self.state.find(dom)
        with self.state.lock:
            self.state.forget_definition(obj)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        check_flags(flags, 0xF, "libxlDomainGetXMLDesc")
        obj = self.state.find(dom)
        return format_domain(obj.persistent_def() if flags & 2 else obj.live, flags, domain_id=obj.id)

    @hookimpl
    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        obj = self.state.find(dom)
        d = obj.live
        vcpus = (d.vcpu.count or 1) if d.vcpu else 1
        return DomainInfo(obj.state, d.memory.kib if d.memory is not None else 0, 0, vcpus, 0)

    @hookimpl
    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        obj = self.state.find(dom)
        return (obj.state, obj.reason)

    @hookimpl
    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        obj = self.state.find(dom)
        return {"persistent": obj.persistent, "active": obj.active, "autostart": obj.autostart,
                "managed_save": False, "has_snapshot": False, "updated": False}  # fmt: skip


class XenDriver(HypervisorDriver):
    """The object behind the ``xen`` entry point."""

    pyvirt_contract = "1.7"
    name = "xen"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "xen" or uri.server or uri.path not in ("/system", "/embed"):
            return None
        return XenConnection(uri, shared_state(paths_for_uri(uri, "libxl", session=False)), events)
