"""The network filter driver: ``nwfilter:///system`` and ``nwfilter:///embed?root=DIR``.

libvirt's ``virtnwfilterd`` (``src/nwfilter/nwfilter_driver.c``): filters
are definitions kept across restarts; a binding applies one filter, with its
parameters, to one guest port and is what hypervisor drivers create when a
NIC with ``<filterref>`` starts. Defining a filter that bindings use
re-applies those bindings (libvirt's rebuild), and is undone if that fails;
a filter a binding uses cannot be undefined. The rules are nftables tables
(``nft``); pyvirtd's start re-applies every binding recorded, as libvirt's
``nwfilterStateInitialize`` rebuilds them. A binding whose filters need an
``IP`` nothing gives is learned from the port's traffic (:mod:`learn`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from pyvirt.conf.nwfilter import NWFilter, format_nwfilter, parse_nwfilter
from pyvirt.conf.nwfilter_binding import Binding, format_binding, parse_binding
from pyvirt.conf.nwfilter_values import format_mac
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError
from pyvirt.events import EventSink
from pyvirt.flags import NWFilterBindingCreateFlags, NWFilterDefineFlags
from pyvirt.local_driver.paths import DriverPaths, embed_paths, system_paths
from pyvirt.local_driver.state_driver import HeldState
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import NWFilterBindingRef, NWFilterRef
from pyvirt.uri import URI
from pyvirt_nwfilter import learn, nft
from pyvirt_nwfilter.instantiate import UnknownIPError, filter_closure, instantiate
from pyvirt_nwfilter.store import Store

__all__ = ["NWFilterConnection", "NWFilterDriver"]

log = logging.getLogger("pyvirt.nwfilter")
_held = HeldState("nwfilter")
# the open connections per driver run directory in this process (see NWFilterConnection.connect_close)
_open_lock = threading.Lock()
_open_connections: dict[str, int] = {}


def _error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.NWFILTER)


def _paths(uri: URI) -> DriverPaths:
    if uri.path == "/embed":
        return embed_paths(os.path.join(uri.embed_root(), "nwfilter"))
    if uri.path != "/system":  # nwfilterConnectOpen: no session mode
        raise InternalError(ErrorCode.INTERNAL_ERROR,
                            f"unexpected nwfilter URI path '{uri.path}', try nwfilter:///system")  # fmt: skip
    return system_paths("nwfilter")


def _port_exists(portdev: str) -> bool:
    try:
        socket.if_nametoindex(portdev)
    except OSError:
        return False
    return True


class NWFilterDriver(HypervisorDriver):
    """Entry point ``nwfilter`` of ``pyvirt.hypervisor``."""

    pyvirt_contract = "1.16"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "nwfilter" or uri.server:
            return None
        return NWFilterConnection(_paths(uri))

    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        if not privileged and root is None:
            log.info("nwfilter driver: no session mode, disabled")  # libvirt's driver is privileged only
            return False
        conn = _held.open(self, privileged, root)
        conn.reapply_all()
        return True

    @hookimpl
    def state_reload(self) -> None:
        """nwfilterStateReload: every binding's rules written again (after a firewall flush, say)."""
        if _held.conn is not None:
            _held.conn.reapply_all()

    @hookimpl
    def state_cleanup(self) -> None:
        _held.close()
        learn.stop_all()


class NWFilterConnection:
    def __init__(self, paths: DriverPaths) -> None:
        self.paths = paths
        self.store = Store(paths)
        with _open_lock:
            _open_connections[paths.run] = _open_connections.get(paths.run, 0) + 1

    @staticmethod
    def _ref(f: NWFilter) -> NWFilterRef:
        return NWFilterRef(f.name, f.uuid)

    def reapply_all(self) -> None:
        """Apply every recorded binding again (pyvirtd's start); one that fails is logged, the others applied."""
        with self.store.locked():
            for binding in self.store.bindings():
                try:
                    self._realize(binding)
                except Error as e:
                    log.error("Failed to re-apply the filter binding of port '%s': %s", binding.portdev, e.message)

    def _realize(self, binding: Binding) -> None:
        """virNWFilterDoInstantiate: the port's rules, or, when only IP is missing, the learning of it."""
        address = learn.learned_address(self.paths.run, binding.portdev)
        try:
            instances = instantiate(binding, self.store.filter, address)
        except UnknownIPError:
            learn.start(self.paths.run, binding, self.store.binding_file(binding.portdev), self._deliver)
            return
        request = learn.learning(self.paths.run, binding.portdev)
        if request is not None and request.mode != "dhcp":
            return  # virNWFilterHasLearnReq: the learning thread instantiates when it is done
        nft.apply(binding.portdev, instances)

    def _deliver(self, request: learn.Request, address: str | None, failed: bool) -> None:
        """A learning thread's result (virNWFilterInstantiateFilterLate), the driver's lock held."""
        portdev = request.binding.portdev
        with self.store.locked():
            binding = self.store.binding(portdev)
            if not request.current() or binding is None:
                return
            learn.remember(request, address)
            if address is None:
                nft.load(portdev, learn.rules_without_address(request, failed))
                return
            try:
                nft.apply(portdev, instantiate(binding, self.store.filter, address))
            except Error as e:  # libvirt takes the port down; pyvirt lets nothing through it
                log.error("Failed to apply the filter of port '%s' with IP address %s: %s", portdev, address,
                          e.message)  # fmt: skip
                nft.load(portdev, learn.rules_without_address(request, True))

    # ---------------------------------------------------------------- connection
    @hookimpl
    def connect_close(self) -> None:
        """The last connection to the driver's paths in this process ends its learning threads: an embedded
        driver's last close (pyvirtd holds one connection from state initialize to cleanup, so a client's close
        ends nothing there)."""
        with _open_lock:
            left = _open_connections[self.paths.run] = _open_connections.get(self.paths.run, 1) - 1
            if left <= 0:
                del _open_connections[self.paths.run]
        if left <= 0:
            learn.stop_all(self.paths.run)

    @hookimpl
    def connect_get_type(self) -> str:
        return "nwfilter"

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    # ---------------------------------------------------------------- filters
    def _get(self, name: str) -> NWFilter:
        found = self.store.filter(name)
        if found is None:
            raise _error(ErrorCode.NO_NWFILTER, f"no nwfilter with matching name '{name}'")
        return found

    def _by_uuid(self, uuid: str) -> NWFilter:
        for f in self.store.filters():
            if f.uuid == uuid:
                return f
        raise _error(ErrorCode.NO_NWFILTER, f"no nwfilter with matching uuid '{uuid}'")

    @hookimpl
    def nwfilter_list_all(self) -> list[NWFilterRef]:
        return [self._ref(f) for f in self.store.filters()]

    @hookimpl
    def nwfilter_lookup_by_name(self, name: str) -> NWFilterRef:
        return self._ref(self._get(name))

    @hookimpl
    def nwfilter_lookup_by_uuid(self, uuid: str) -> NWFilterRef:
        return self._ref(self._by_uuid(uuid))

    def _loops(self, new: NWFilter) -> bool:
        """virNWFilterObjListDefLoopDetect: does ``new``'s reference tree reach back to ``new``?"""

        def lookup(name: str) -> NWFilter | None:
            return new if name == new.name else self.store.filter(name)

        return any(new.name in filter_closure(ref, lookup) for ref in new.refs())

    def _users(self, name: str) -> list[Binding]:
        return [b for b in self.store.bindings() if name in filter_closure(b.filter, self.store.filter)]

    @hookimpl
    def nwfilter_define_xml(self, xml: str, flags: int) -> NWFilterRef:
        """nwfilterDefineXMLFlags + virNWFilterObjListAssignDef: clashes, loops, then the rebuild of users."""
        check_flags(flags, NWFilterDefineFlags.VALIDATE, "nwfilterDefineXMLFlags")
        new = parse_nwfilter(xml)
        with self.store.locked():
            filters = self.store.filters()
            same_uuid = next((f for f in filters if f.uuid == new.uuid), None)
            if same_uuid is not None and same_uuid.name != new.name:
                raise _error(ErrorCode.OPERATION_FAILED,
                             f"filter with same UUID but different name ('{same_uuid.name}') already exists")  # fmt: skip
            old = next((f for f in filters if f.name == new.name), None)
            if same_uuid is None and old is not None:
                raise _error(ErrorCode.OPERATION_FAILED, f"filter '{new.name}' already exists with uuid {old.uuid}")
            if self._loops(new):
                raise _error(ErrorCode.OPERATION_FAILED, "filter would introduce a loop")
            self.store.save_filter(new)
            if old is not None and format_nwfilter(old) != format_nwfilter(new):
                try:
                    self._rebuild(new.name)
                except Error:
                    self.store.save_filter(old)
                    self._rebuild(new.name)
                    raise
        return self._ref(new)

    def _rebuild(self, name: str) -> None:
        for binding in self._users(name):
            self._realize(binding)

    @hookimpl
    def nwfilter_undefine(self, nwfilter: NWFilterRef) -> None:
        with self.store.locked():
            found = self._by_uuid(nwfilter.uuid)
            if self._users(found.name):  # virNWFilterObjTestUnassignDef: a binding still needs it
                raise _error(ErrorCode.OPERATION_INVALID, "nwfilter is in use")
            self.store.remove_filter(found.name)

    @hookimpl
    def nwfilter_get_xml_desc(self, nwfilter: NWFilterRef, flags: int) -> str:
        check_flags(flags, 0, "nwfilterGetXMLDesc")
        return format_nwfilter(self._by_uuid(nwfilter.uuid))

    # ---------------------------------------------------------------- bindings
    def _binding(self, portdev: str) -> Binding:
        found = self.store.binding(portdev)
        if found is None:
            raise _error(ErrorCode.NO_NWFILTER_BINDING, f"no nwfilter binding for port dev '{portdev}'")
        return found

    @staticmethod
    def _bref(b: Binding) -> NWFilterBindingRef:
        return NWFilterBindingRef(b.portdev, b.filter)

    @hookimpl
    def nwfilter_binding_list_all(self) -> list[NWFilterBindingRef]:
        return [self._bref(b) for b in self.store.bindings()]

    @hookimpl
    def nwfilter_binding_lookup_by_port_dev(self, portdev: str) -> NWFilterBindingRef:
        return self._bref(self._binding(portdev))

    @hookimpl
    def nwfilter_binding_create_xml(self, xml: str, flags: int) -> NWFilterBindingRef:
        """nwfilterBindingCreateXML: record it, apply it, forget it again if the rules cannot be applied."""
        check_flags(flags, NWFilterBindingCreateFlags.VALIDATE, "nwfilterBindingCreateXML")
        binding = parse_binding(xml)
        thread = None
        try:
            with self.store.locked():
                if self.store.binding(binding.portdev) is not None:
                    raise _error(ErrorCode.OPERATION_FAILED, f"binding '{binding.portdev}' already exists")
                try:
                    self.store.save_binding(binding)  # first: a learning thread watches while the binding's file is
                    self._realize(binding)
                    if "MAC" not in binding.params and _port_exists(binding.portdev):
                        # virNWFilterInstantiateFilterUpdate adds MAC to the binding itself (when its port exists)
                        binding.params["MAC"] = [format_mac(binding.mac)]
                        self.store.save_binding(binding)
                except BaseException:
                    thread = learn.stop(self.paths.run, binding.portdev)
                    nft.remove(binding.portdev)
                    self.store.remove_binding(binding.portdev)
                    raise
        finally:
            learn.join(thread)  # after the lock: the thread's last result may be waiting for it
        return self._bref(binding)

    @hookimpl
    def nwfilter_binding_delete(self, binding: NWFilterBindingRef) -> None:
        with self.store.locked():
            found = self._binding(binding.portdev)
            thread = learn.stop(self.paths.run, found.portdev)
            nft.remove(found.portdev)
            self.store.remove_binding(found.portdev)
        learn.join(thread)  # its last result may wait for the lock, and finds the request gone

    @hookimpl
    def nwfilter_binding_get_xml_desc(self, binding: NWFilterBindingRef, flags: int) -> str:
        check_flags(flags, 0, "nwfilterBindingGetXMLDesc")
        return format_binding(self._binding(binding.portdev))
