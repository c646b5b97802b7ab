"""A local driver's domains: libvirt's rules for defining, looking up and listing them.

One table per set of paths is shared by every connection of a process. It
loads the persistent definitions from the config directory; the driver adds
what only it knows (finding running guests again, its process type).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.domain_state import DomainState, ShutoffReason
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError, OperationFailedError, OperationInvalidError
from pyvirt.events import DomainEvent, EventSink, Undefined
from pyvirt.local_driver.names import check_defined_name, check_storable_name, definition_files
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.plugin.records import DomainRef
from pyvirt.util.fileio import read_limited

__all__ = ["DomainObj", "DomainTable"]


@dataclass
class DomainObj:
    """One domain: its live and (while running) persistent definitions, state and process."""

    live: Domain
    config: Domain | None = None
    id: int = -1
    state: int = DomainState.SHUTOFF
    reason: int = ShutoffReason.UNKNOWN
    persistent: bool = True
    autostart: bool = False
    process: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def active(self) -> bool:
        return self.id != -1

    @property
    def name(self) -> str:
        return self.live.name or ""

    @property
    def uuid(self) -> str:
        return self.live.uuid or ""

    def ref(self) -> DomainRef:
        return DomainRef(self.name, self.uuid, self.id)

    def persistent_def(self) -> Domain:
        return self.config or self.live


ObjT = TypeVar("ObjT", bound=DomainObj)


class DomainTable(Generic[ObjT]):
    """Index by uuid and name, id allocation, definitions on disk, event fan-out."""

    def __init__(self, paths: DriverPaths, error_domain: ErrorDomain, obj_type: type[ObjT]) -> None:
        self.paths = paths
        self.obj_type = obj_type
        self.error_domain = error_domain
        self.lock = threading.RLock()
        self.domains: dict[str, ObjT] = {}
        self.by_name: dict[str, ObjT] = {}
        self.next_id = itertools.count(1)
        self.sinks: list[EventSink] = []
        self.refs = 0
        paths.ensure()

    # ------------------------------------------------------------------ index
    def add(self, obj: ObjT) -> None:
        self.domains[obj.uuid] = obj
        self.by_name[obj.name] = obj

    def remove(self, obj: ObjT) -> None:
        self.domains.pop(obj.uuid, None)
        self.by_name.pop(obj.name, None)

    def find(self, ref: DomainRef) -> ObjT:
        obj = self.domains.get(ref.uuid)
        if obj is None:
            raise NotFoundError(
                ErrorCode.NO_DOMAIN, f"no domain with matching uuid '{ref.uuid}' ({ref.name})", domain=self.error_domain
            )
        return obj

    def list_all(self) -> list[DomainRef]:
        """Running domains by id, then the inactive ones by name, as libvirt lists them."""
        with self.lock:
            objs = list(self.domains.values())
        active = sorted((o for o in objs if o.active), key=lambda o: o.id)
        return [o.ref() for o in active + sorted((o for o in objs if not o.active), key=lambda o: o.name)]

    def lookup_by_name(self, name: str) -> DomainRef:
        obj = self.by_name.get(name)
        if obj is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching name '{name}'", domain=self.error_domain)
        return obj.ref()

    def lookup_by_uuid(self, uuid: str) -> DomainRef:
        obj = self.domains.get(uuid)
        if obj is None:
            raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching uuid '{uuid}'", domain=self.error_domain)
        return obj.ref()

    def lookup_by_id(self, id: int) -> DomainRef:
        for obj in list(self.domains.values()):
            if obj.id == id:
                return obj.ref()
        raise NotFoundError(ErrorCode.NO_DOMAIN, f"no domain with matching id {id}", domain=self.error_domain)

    # ------------------------------------------------------------------ definitions
    def new_obj(self, dom: Domain, *, persistent: bool) -> ObjT:
        return self.obj_type(live=dom, persistent=persistent)

    def add_definition(self, dom: Domain, *, live: bool) -> tuple[ObjT, bool]:
        """Add or update a domain by libvirt's rules: same uuid must mean same name, names are unique.

        ``live`` (create from XML, restore) refuses a domain that already runs;
        on a defined domain the given definition is the one to run and the
        persistent one stays as ``config`` (libvirt's virDomainObjAssignDef
        keeps it as newDef), so restoring an image or creating from other XML
        never rewrites what ``dumpxml --inactive`` shows. A start that fails
        gives it back through :meth:`undo_add_definition`.
        Returns the object and whether it is new. Call with ``self.lock`` held.
        A name whose files cannot exist is refused here, before anything is
        created or started, and a newline in a defined name as libvirt does.
        """
        name = dom.name or ""
        check_storable_name(name, self.paths.status_xml(name) if live else self.paths.config_xml(name))
        if not live:
            check_defined_name(name)
        existing = self.domains.get(dom.uuid or "")
        if existing is not None:
            if existing.name != dom.name:
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"domain '{existing.name}' is already defined with uuid {existing.uuid}"
                )
            if live and existing.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is already active")
            if live:
                existing.config = existing.live if existing.persistent else None
                existing.live = dom
            elif existing.active:
                existing.config = dom
            else:
                existing.live = dom
            return existing, False
        clash = self.by_name.get(dom.name or "")
        if clash is not None:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"domain '{dom.name}' already exists with uuid {clash.uuid}"
            )
        obj = self.new_obj(dom, persistent=not live)
        self.add(obj)
        return obj, True

    def undo_add_definition(self, obj: ObjT, added: bool) -> None:
        """A create or restore that did not start the domain: a new one is forgotten, a defined one gets its
        persistent definition back (libvirt's qemuProcessStop restoring newDef). Nothing to do when another
        process runs it now (the start adopted it)."""
        with self.lock:
            if obj.active:
                return
            if added:
                self.remove(obj)
            elif obj.config is not None:
                obj.live, obj.config = obj.config, None

    def save_config(self, dom: Domain) -> None:
        atomic_write(self.paths.config_xml(dom.name or ""), format_domain(dom, 2).encode(), 0o644)

    def forget_definition(self, obj: ObjT) -> None:
        """Undefine: the config file and autostart link go; a running domain becomes transient."""
        if not obj.persistent:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot undefine transient domain")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.config_xml(obj.name))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.autostart_link(obj.name))
        if obj.active:
            obj.persistent, obj.config = False, None
        else:
            self.remove(obj)
        self.emit(obj, DomainEvent.UNDEFINED, Undefined.REMOVED)

    def load_configs(self) -> None:
        """Every definition in the config directory, whatever its name (``.x.xml`` included)."""
        for _name, path in definition_files(self.paths.config):
            with open(path, "rb") as f:
                dom = parse_domain(read_limited(f, path), url=path)
            obj = self.new_obj(dom, persistent=True)
            obj.autostart = os.path.exists(self.paths.autostart_link(obj.name))
            self.add(obj)

    def set_autostart(self, obj: ObjT, autostart: bool) -> None:
        if not obj.persistent:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot set autostart for transient domain")
        link = self.paths.autostart_link(obj.name)
        if autostart:
            os.makedirs(os.path.dirname(link), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.symlink(self.paths.config_xml(obj.name), link)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
        obj.autostart = autostart

    # ------------------------------------------------------------------ events
    def emit(self, obj: DomainObj, event: int, detail: int) -> None:
        ref = obj.ref()
        for sink in list(self.sinks):
            sink.lifecycle(ref, event, detail)
