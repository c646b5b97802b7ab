"""In-memory domains behind ``example:///embed?root=DIR``: the lifecycle driver of docs/plugin-authors.md.

One set of domains per root, shared by the connections of this process, so
every test can use a fresh root. States and events are libvirt's numbers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.errors import ErrorCode, NotFoundError, OperationFailedError, OperationInvalidError
from pyvirt.events import EventSink
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.records import DomainInfo, DomainRef
from pyvirt.uri import URI

__all__ = ["ExampleConnection", "ExampleDriver"]

RUNNING, PAUSED, SHUTOFF = 1, 3, 5  # virDomainState
DEFINED, UNDEFINED, STARTED, SUSPENDED, RESUMED, STOPPED = 0, 1, 2, 3, 4, 5  # virDomainEventType


@dataclass
class _Guest:
    defn: Domain
    state: int = SHUTOFF
    id: int = -1

    def ref(self) -> DomainRef:
        return DomainRef(self.defn.name or "", self.defn.uuid or "", self.id)


class _Host:
    """The domains of one root."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.guests: dict[str, _Guest] = {}
        self.next_id = 1


_hosts: dict[str, _Host] = {}
_hosts_lock = threading.Lock()


class ExampleDriver(HypervisorDriver):
    """Entry point ``example`` of ``pyvirt.hypervisor``."""

    pyvirt_contract = "1.0"  # uses only hooks of contract 1.0

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "example" or not uri.is_embed:
            return None
        with _hosts_lock:
            host = _hosts.setdefault(uri.embed_root(), _Host())
        return ExampleConnection(host, events)


class ExampleConnection:
    def __init__(self, host: _Host, events: EventSink) -> None:
        self.host = host
        self.events = events

    def _find(self, dom: DomainRef) -> _Guest:
        guest = self.host.guests.get(dom.uuid)
        if guest is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching uuid '{dom.uuid}' ({dom.name})")
        return guest

    def _running(self, guest: _Guest) -> None:
        if guest.state == SHUTOFF:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")

    @hookimpl
    def connect_close(self) -> None:
        """The domains belong to the root, not to the connection."""

    @hookimpl
    def connect_get_type(self) -> str:
        return "EXAMPLE"

    @hookimpl
    def domain_list_all(self) -> list[DomainRef]:
        guests = sorted(self.host.guests.values(), key=lambda g: (g.id < 0, g.id, g.defn.name or ""))
        return [g.ref() for g in guests]

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        for guest in self.host.guests.values():
            if guest.defn.name == name:
                return guest.ref()
        raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching name '{name}'")

    @hookimpl
    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        guest = self.host.guests.get(uuid)
        if guest is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching uuid '{uuid}'")
        return guest.ref()

    @hookimpl
    def domain_lookup_by_id(self, id: int) -> DomainRef:
        for guest in self.host.guests.values():
            if guest.id == id and id > 0:
                return guest.ref()
        raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching id {id}")

    @hookimpl
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        defn = parse_domain(xml)
        with self.host.lock:
            existing = self.host.guests.get(defn.uuid or "")
            if existing is None:
                for guest in self.host.guests.values():
                    if guest.defn.name == defn.name:  # same name, other uuid: libvirt keeps the first
                        raise OperationFailedError(
                            ErrorCode.OPERATION_FAILED,
                            f"domain '{defn.name}' already exists with uuid {guest.defn.uuid}",
                        )
                existing = self.host.guests[defn.uuid or ""] = _Guest(defn)
            else:
                existing.defn = defn
        self.events.lifecycle(existing.ref(), DEFINED, 0)
        return existing.ref()

    @hookimpl
    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        with self.host.lock:
            guest = self._find(dom)
            if guest.state != SHUTOFF:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot undefine a running domain here")
            del self.host.guests[dom.uuid]
        self.events.lifecycle(guest.ref(), UNDEFINED, 0)

    @hookimpl
    def domain_create(self, dom: DomainRef, flags: int) -> None:
        with self.host.lock:
            guest = self._find(dom)
            if guest.state != SHUTOFF:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is already running")
            guest.state, guest.id = RUNNING, self.host.next_id
            self.host.next_id += 1
        self.events.lifecycle(guest.ref(), STARTED, 0)

    @hookimpl
    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        with self.host.lock:
            guest = self._find(dom)
            self._running(guest)
            ref = guest.ref()
            guest.state, guest.id = SHUTOFF, -1
        self.events.lifecycle(ref, STOPPED, 1)  # VIR_DOMAIN_EVENT_STOPPED_DESTROYED

    @hookimpl
    def domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        with self.host.lock:
            guest = self._find(dom)
            self._running(guest)
            ref = guest.ref()
            guest.state, guest.id = SHUTOFF, -1
        self.events.lifecycle(ref, STOPPED, 0)  # VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN

    @hookimpl
    def domain_suspend(self, dom: DomainRef) -> None:
        guest = self._find(dom)
        self._running(guest)
        guest.state = PAUSED
        self.events.lifecycle(guest.ref(), SUSPENDED, 0)

    @hookimpl
    def domain_resume(self, dom: DomainRef) -> None:
        guest = self._find(dom)
        if guest.state != PAUSED:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not paused")
        guest.state = RUNNING
        self.events.lifecycle(guest.ref(), RESUMED, 0)

    @hookimpl
    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        return (self._find(dom).state, 1 if self._find(dom).state != SHUTOFF else 0)

    @hookimpl
    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        guest = self._find(dom)
        memory = guest.defn.memory.kib if guest.defn.memory is not None else 0
        return DomainInfo(guest.state, memory, memory, 1, 0)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        guest = self._find(dom)
        return format_domain(guest.defn, flags, domain_id=guest.id)

    @hookimpl
    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        guest = self._find(dom)
        active = guest.state != SHUTOFF
        return {"persistent": True, "active": active, "autostart": False, "managed_save": False,
                "has_snapshot": False, "updated": False}  # fmt: skip
