"""In-memory state of a ``test:///`` connection (shared by every connection to the same URI)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from pyvirt.conf.domain import Domain
from pyvirt.conf.interface import HostInterface
from pyvirt.conf.network import Network
from pyvirt.conf.nodedev import NodeDevice
from pyvirt.conf.secret import Secret
from pyvirt.conf.snapshot import Snapshot
from pyvirt.conf.storage import Pool, Volume
from pyvirt.domain_state import DomainState
from pyvirt.drivers.test.security import test_security_stack
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError
from pyvirt.plugin.records import DomainRef, NodeInfo

__all__ = ["DomainObj", "NetworkObj", "PoolObj", "TestState"]


@dataclass
class SnapshotObj:
    snap: Snapshot
    domain_xml: Domain


@dataclass
class DomainObj:
    """A domain: its live definition, the pending persistent one, and runtime facts."""

    live: Domain
    config: Domain | None = None  # persistent definition when it differs from live (running + redefined)
    id: int = -1
    state: int = DomainState.SHUTOFF
    reason: int = 0
    persistent: bool = True
    autostart: bool = False
    managed_save: bool = False
    snapshots: dict[str, SnapshotObj] = field(default_factory=dict)
    current_snapshot: str | None = None

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


@dataclass
class NetworkObj:
    defn: Network
    active: bool = False
    persistent: bool = True
    autostart: bool = False


@dataclass
class PoolObj:
    defn: Pool
    active: bool = False
    persistent: bool = True
    autostart: bool = False
    volumes: dict[str, Volume] = field(default_factory=dict)


@dataclass
class SecretObj:
    defn: Secret
    value: bytes | None = None


@dataclass
class InterfaceObj:
    defn: HostInterface
    active: bool = True


class TestState:
    """Every object of one test connection URI, and the lock that serialises changes."""

    def __init__(self, node_info: NodeInfo) -> None:
        self.lock = threading.RLock()
        self.node_info = node_info
        self.domains: dict[str, DomainObj] = {}  # by uuid
        self.domains_by_name: dict[str, DomainObj] = {}
        self.domains_by_id: dict[int, DomainObj] = {}
        self.next_id = itertools.count(1)
        self.networks: dict[str, NetworkObj] = {}  # by name
        self.pools: dict[str, PoolObj] = {}  # by name
        self.secrets: dict[str, SecretObj] = {}  # by uuid
        self.devices: dict[str, NodeDevice] = {}
        self.interfaces: dict[str, InterfaceObj] = {}
        self.refs = 0
        self.security = test_security_stack()

    # ------------------------------------------------------------ domain index
    def add_domain(self, obj: DomainObj) -> None:
        self.domains[obj.uuid] = obj
        self.domains_by_name[obj.name] = obj
        if obj.active:
            self.domains_by_id[obj.id] = obj

    def remove_domain(self, obj: DomainObj) -> None:
        self.domains.pop(obj.uuid, None)
        self.domains_by_name.pop(obj.name, None)
        if obj.id != -1:
            self.domains_by_id.pop(obj.id, None)

    def set_running(self, obj: DomainObj, reason: int) -> None:
        self.security.gen_label(obj.live)
        self.security.set_all_label(obj.live)
        obj.id = next(self.next_id)
        obj.state, obj.reason = DomainState.RUNNING, reason
        obj.managed_save = False
        self.domains_by_id[obj.id] = obj

    def set_shutoff(self, obj: DomainObj, reason: int) -> None:
        """Stop: drop the id; a transient domain disappears; a pending config takes over."""
        self.domains_by_id.pop(obj.id, None)
        self.security.restore_all_label(obj.live)
        self.security.release_label(obj.live)
        obj.id = -1
        obj.state, obj.reason = DomainState.SHUTOFF, reason
        if not obj.persistent:
            self.remove_domain(obj)
        elif obj.config is not None:
            obj.live, obj.config = obj.config, None

    def find(self, ref: DomainRef) -> DomainObj:
        obj = self.domains.get(ref.uuid)
        if obj is None:
            raise NotFoundError(
                ErrorCode.NO_DOMAIN,
                f"no domain with matching uuid '{ref.uuid}' ({ref.name})",
                domain=ErrorDomain.TEST,
            )
        return obj
