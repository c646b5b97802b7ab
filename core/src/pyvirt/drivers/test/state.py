"""In-memory state of a ``test:///`` connection (shared by every connection to the same URI).

The built-in ``test:///default`` state is filled lazily: each object is
indexed by what listing and lookup need (name, UUID or MAC, a device's parent
and capability types, read by fixture.py with expat), and its definition is
parsed the first time something reads it, exactly once. ``pyvirsh list``,
``net-list``, ``pool-list``, ``iface-list`` and ``nodedev-list`` therefore
import neither lxml nor the XML models; anything that does read a definition
sees exactly what eager parsing would have produced.
"""

from __future__ import annotations

# _thread's lock, not threading's module: threading (and the collections, functools... it imports) cost
# every short pyvirsh run on test:/// several million instructions for the one lock the state needs
import _thread
import itertools

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.domain_state import DomainState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.records import DomainRef, NodeInfo

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvirt.conf.checkpoint import Checkpoint
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.interface import HostInterface
    from pyvirt.conf.network import Network
    from pyvirt.conf.nodedev import NodeDevice
    from pyvirt.conf.secret import Secret
    from pyvirt.conf.snapshot import Snapshot
    from pyvirt.conf.storage import Pool, Volume
    from pyvirt.security.stack import SecurityStack

__all__ = ["CheckpointObj", "DomainObj", "NetworkObj", "PoolObj", "TestState"]


# Plain classes rather than dataclasses: pyvirsh defines them on every start, and
# @dataclass compiles generated code for each (about a quarter of a millisecond).
class SnapshotObj:
    def __init__(self, snap: Snapshot, domain_xml: Domain) -> None:
        self.snap = snap
        self.domain_xml = domain_xml


class CheckpointObj:
    """A checkpoint: its document (name, parent, disks) and the domain definition it was taken of."""

    def __init__(self, defn: Checkpoint, domain_xml: Domain | None) -> None:
        self.defn = defn
        self.domain_xml = domain_xml


class DomainObj:
    """A domain: its live definition, the pending persistent one, and runtime facts.

    ``live`` is either given or produced by ``loader(self)`` on first read (the
    default fixture's domains); until then ``name`` and ``uuid`` come from
    ``ident``.
    """

    def __init__(
        self,
        live: Domain | None = None,
        *,
        loader: Callable[[DomainObj], Domain] | None = None,
        ident: tuple[str, str] = ("", ""),
        persistent: bool = True,
        managed_save: bool = False,
    ) -> None:
        if (live is None) == (loader is None):
            raise ValueError("DomainObj needs a definition or a loader, not both")
        self._live = live
        self._loader = loader
        self._ident = ident
        self.config: Domain | None = None  # persistent definition when it differs from live (running + redefined)
        self.id = -1
        self.state: int = DomainState.SHUTOFF
        self.reason = 0
        self.persistent = persistent
        self.autostart = False
        self.managed_save = managed_save
        self.snapshots: dict[str, SnapshotObj] = {}
        self.current_snapshot: str | None = None
        self.checkpoints: dict[str, CheckpointObj] = {}  # in creation order
        self.current_checkpoint: str | None = None
        self.guest_time = (627319920, 0)  # the guest clock libvirt's test driver starts every domain with
        # testIOThreadInfo per I/O thread id (poll_max_ns, poll_grow, poll_shrink): libvirt's test driver keeps
        # them beside the definitions; None until first used (then made from the definition, 32768/0/0)
        self.iothread_polls: dict[int, tuple[int, int, int]] | None = None
        self.frozen = [False, False]  # testDomainObjPrivate.frozen: "/" and "/boot" (domfsfreeze), kept for good

    @property
    def live(self) -> Domain:
        if self._live is None:
            loader = self._loader
            if loader is not None:  # None: another thread's loader has just finished
                dom = loader(self)  # the loader holds the state lock and answers once per object
                if self._live is None:
                    self._live = dom
                self._loader = None
        assert self._live is not None
        return self._live

    @live.setter
    def live(self, value: Domain) -> None:
        self._live, self._loader = value, None

    @property
    def active(self) -> bool:
        return self.id != -1

    @property
    def parsed(self) -> bool:
        """Whether the definition has been read (a built-in domain's is parsed on first use)."""
        return self._live is not None

    @property
    def name(self) -> str:
        return self._ident[0] if self._live is None else self._live.name or ""

    @property
    def uuid(self) -> str:
        return self._ident[1] if self._live is None else self._live.uuid or ""

    def ref(self) -> DomainRef:
        # ``name`` and ``uuid`` read in one step, not through their properties: every lookup makes a ref, and
        # the two property calls were about 0.1 of the 0.55 µs the test driver's lookup took (measured)
        live = self._live
        if live is None:
            name, uuid = self._ident
            return DomainRef(name, uuid, self.id)
        return DomainRef(live.name or "", live.uuid or "", self.id)

    def persistent_def(self) -> Domain:
        return self.config or self.live


class _LazyDefinition:
    """A definition given now, or parsed by ``loader()`` the first time it is read (the default fixture's).

    Until then ``name`` and ``uuid`` come from ``ident``, read from the document
    without the XML models: listing, looking up, starting and stopping such an
    object (``pyvirsh net-list``, ``pool-list``) then imports neither lxml nor
    the object's model, and the model, once needed, is parsed exactly once.
    """

    def _init_definition(
        self, defn: object | None, loader: Callable[[], object] | None, ident: tuple[str, str]
    ) -> None:
        if (defn is None) == (loader is None):
            raise ValueError(f"{type(self).__name__} needs a definition or a loader, not both")
        self._defn, self._loader, self._ident = defn, loader, ident

    def _definition(self) -> object:
        if self._defn is None:
            loader = self._loader
            if loader is not None:  # None: another thread's loader has just finished
                defn = loader()  # the loader holds the state lock and answers once per object
                if self._defn is None:
                    self._defn = defn
                self._loader = None
        assert self._defn is not None
        return self._defn

    def _set_definition(self, value: object) -> None:
        self._defn, self._loader = value, None

    @property
    def parsed(self) -> bool:
        """Whether the definition has been read (a built-in object's is parsed on first use)."""
        return self._defn is not None

    @property
    def name(self) -> str:
        return self._ident[0] if self._defn is None else getattr(self._defn, "name", None) or ""

    @property
    def uuid(self) -> str:
        return self._ident[1] if self._defn is None else getattr(self._defn, "uuid", None) or ""


class NetworkObj(_LazyDefinition):
    def __init__(
        self,
        defn: Network | None = None,
        active: bool = False,
        persistent: bool = True,
        autostart: bool = False,
        *,
        loader: Callable[[], Network] | None = None,
        ident: tuple[str, str] = ("", ""),
        bridge_name: str = "",
    ) -> None:
        self._init_definition(defn, loader, ident)
        self._bridge_name = bridge_name  # for net-info before the parse
        self.active, self.persistent, self.autostart = active, persistent, autostart
        self.config: Network | None = None  # persistent definition when it differs from the running one

    @property
    def defn(self) -> Network:
        return self._definition()  # type: ignore[return-value]

    @defn.setter
    def defn(self, value: Network) -> None:
        self._set_definition(value)

    @property
    def bridge_name(self) -> str:
        return self._bridge_name if self._defn is None else self.defn.bridge_name or ""

    def persistent_def(self) -> Network:
        return self.config or self.defn


class PoolObj(_LazyDefinition):
    def __init__(
        self,
        defn: Pool | None = None,
        active: bool = False,
        persistent: bool = True,
        autostart: bool = False,
        *,
        loader: Callable[[], Pool] | None = None,
        ident: tuple[str, str] = ("", ""),
    ) -> None:
        self._init_definition(defn, loader, ident)
        self.active, self.persistent, self.autostart = active, persistent, autostart
        self.volumes: dict[str, Volume] = {}

    @property
    def defn(self) -> Pool:
        return self._definition()  # type: ignore[return-value]

    @defn.setter
    def defn(self, value: Pool) -> None:
        self._set_definition(value)


class SecretObj:
    def __init__(self, defn: Secret, value: bytes | None = None) -> None:
        self.defn, self.value = defn, value


class InterfaceObj(_LazyDefinition):
    def __init__(
        self,
        defn: HostInterface | None = None,
        active: bool = True,
        *,
        loader: Callable[[], HostInterface] | None = None,
        ident: tuple[str, str] = ("", ""),
    ) -> None:
        self._init_definition(defn, loader, ident)
        self.active = active

    @property
    def defn(self) -> HostInterface:
        return self._definition()  # type: ignore[return-value]

    @defn.setter
    def defn(self, value: HostInterface) -> None:
        self._set_definition(value)

    @property
    def mac(self) -> str:
        """The MAC address (an interface's second identity field; read from ``ident`` until parsed)."""
        return self._ident[1] if self._defn is None else self.defn.mac or ""


class DeviceObj(_LazyDefinition):
    """A node device; a built-in one is listed (by capability) and walked (by parent) before its parse."""

    def __init__(
        self,
        defn: NodeDevice | None = None,
        *,
        loader: Callable[[], NodeDevice] | None = None,
        ident: tuple[str, str] = ("", ""),
        capability_types: tuple[str, ...] = (),
    ) -> None:
        self._init_definition(defn, loader, ident)  # ident: (name, parent)
        self._capability_types = capability_types

    @property
    def defn(self) -> NodeDevice:
        return self._definition()  # type: ignore[return-value]

    @property
    def parent(self) -> str:
        return self._ident[1] if self._defn is None else self.defn.parent or ""

    def capability_types(self) -> list[str]:
        """Top-level and nested capability types, as ``NodeDevice.capability_types`` lists them."""
        return list(self._capability_types) if self._defn is None else self.defn.capability_types()


class TestState:
    """Every object of one test connection URI, and the lock that serialises changes."""

    def __init__(self, node_info: NodeInfo) -> None:
        self.lock = _thread.RLock()
        self.node_info = node_info
        self.domains: dict[str, DomainObj] = {}  # by uuid
        self.domains_by_name: dict[str, DomainObj] = {}
        self.domains_by_id: dict[int, DomainObj] = {}
        self.next_id = itertools.count(1)
        self._networks: dict[str, NetworkObj] = {}  # by name
        self._pools: dict[str, PoolObj] = {}  # by name
        self.secrets: dict[str, SecretObj] = {}  # by uuid
        self._devices: dict[str, DeviceObj] = {}
        self._interfaces: dict[str, InterfaceObj] = {}
        # the interfaces' definitions iface-begin saved (testInterfaceChangeBegin), None: no transaction running
        self.interface_backup: dict[str, HostInterface] | None = None
        self.refs = 0
        self._security: SecurityStack | None = None
        # Fill networks, pools, interfaces and devices from the fixture, each kind on its first use: a short
        # ``pyvirsh net-list`` then parses no pool and imports none of the storage, interface and node-device
        # models (a fifth of its instructions). Keys: "networks", "pools", "devices", "interfaces".
        self.resource_loaders: dict[str, Callable[[TestState], None]] = {}
        self._loading: set[str] = set()

    def _resources(self, kind: str) -> None:
        if kind not in self.resource_loaders:
            return  # loaded (a loader stays listed until it has finished)
        with self.lock:  # another thread waits for the whole kind and never sees half of it
            loader = self.resource_loaders.get(kind)
            if loader is None or kind in self._loading:
                return  # loaded meanwhile, or this thread's loader filling the dictionary
            self._loading.add(kind)
            try:
                loader(self)
            finally:
                self._loading.discard(kind)
                del self.resource_loaders[kind]

    def load_resources(self) -> None:
        """Every kind now (a node file's objects are parsed at open, so its errors surface there)."""
        for kind in list(self.resource_loaders):
            self._resources(kind)

    @property
    def networks(self) -> dict[str, NetworkObj]:
        self._resources("networks")
        return self._networks

    @property
    def pools(self) -> dict[str, PoolObj]:
        self._resources("pools")
        return self._pools

    @property
    def devices(self) -> dict[str, DeviceObj]:
        self._resources("devices")
        return self._devices

    @property
    def interfaces(self) -> dict[str, InterfaceObj]:
        self._resources("interfaces")
        return self._interfaces

    @property
    def security(self) -> SecurityStack:
        """The test security model behind a SecurityStack, built when a label is first needed."""
        if self._security is None:
            from pyvirt.drivers.test.security import test_security_stack

            self._security = test_security_stack()
        return self._security

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

    def set_running(self, obj: DomainObj, reason: int, *, label: bool = True) -> None:
        """Give the domain an id and a running state; ``label=False``: its loader labels it when it runs.

        A built-in domain not parsed yet is not parsed for its labels either: its
        loader labels it if it is running when its definition is first read, as
        for the fixture's running domains. A ``start`` or ``destroy`` in a short
        ``pyvirsh`` run then never loads the XML models (over half of such a run).
        """
        if label and obj.parsed:
            self.label_started(obj.live)
        obj.id = next(self.next_id)
        obj.state, obj.reason = DomainState.RUNNING, reason
        obj.managed_save = False
        self.domains_by_id[obj.id] = obj

    def label_started(self, dom: Domain) -> None:
        self.security.gen_label(dom)
        self.security.set_all_label(dom)

    def set_shutoff(self, obj: DomainObj, reason: int) -> None:
        """Stop: drop the id; a transient domain disappears; a pending config takes over."""
        self.domains_by_id.pop(obj.id, None)
        if obj.parsed:  # else never labelled (see set_running), and its loader will not label it once stopped
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
            raise _errors.NotFoundError(
                ErrorCode.NO_DOMAIN,
                f"no domain with matching uuid '{ref.uuid}' ({ref.name})",
                domain=ErrorDomain.TEST,
            )
        return obj
