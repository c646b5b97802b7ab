"""Entry point of the ``test:///`` driver and its connection object (thin: hooks delegate).

Like libvirt's, every connection to ``test:///default`` in one process shares
one state (created on first open, dropped when the last connection closes);
each ``test:///PATH.xml`` open gets its own state from that file.
"""

from __future__ import annotations

import _thread  # not threading: see state.py
import os
import sys

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.domain_state import DomainState
from pyvirt.drivers.test.domains import DomainHooks, _test_defaults
from pyvirt.drivers.test.fixture import (
    NodeFixture,
    default_fixture,
    device_identity,
    domain_identity,
    interface_identity,
    load_fixture,
    network_bridge_name,
)
from pyvirt.drivers.test.guest import GuestHooks
from pyvirt.drivers.test.marker import _ATTRIBUTE as _HOOK_MARK
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DeviceObj, DomainObj, InterfaceObj, NetworkObj, PoolObj, TestState
from pyvirt.errors import ErrorCode
from pyvirt.events import EventSink
from pyvirt.plugin import CONTRACT_VERSION
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import NodeInfo, SecurityModel
from pyvirt.uri import URI
from pyvirt.util.lazy_import import lazy_module

# Not ``from typing import ...``: typing costs every short pyvirsh run on test:/// several ms; mypy
# treats any constant named TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.conf import capabilities as conf_caps
    from pyvirt.conf import domain as conf_domain
    from pyvirt.conf import interface as conf_interface
    from pyvirt.conf import network as conf_network
    from pyvirt.conf import nodedev as conf_nodedev
    from pyvirt.conf import storage as conf_storage
    from pyvirt.conf.capabilities import Capabilities
    from pyvirt.conf.domain import Domain
    from pyvirt.drivers.test.checkpoints import CheckpointHooks
    from pyvirt.drivers.test.guest_fs import GuestFSHooks
    from pyvirt.drivers.test.host import HostHooks
    from pyvirt.drivers.test.interfaces import InterfaceHooks
    from pyvirt.drivers.test.iothreads import IOThreadHooks
    from pyvirt.drivers.test.nodedevs import NodeDeviceHooks
    from pyvirt.drivers.test.pool_sources import PoolSourceHooks
    from pyvirt.drivers.test.resources import ResourceHooks
    from pyvirt.drivers.test.scheduler import SchedulerHooks
    from pyvirt.drivers.test.screenshot import ScreenshotHooks
    from pyvirt.drivers.test.tuning import TuningHooks
else:
    conf_caps = lazy_module("pyvirt.conf.capabilities")
    conf_domain = lazy_module("pyvirt.conf.domain")
    conf_interface = lazy_module("pyvirt.conf.interface")
    conf_network = lazy_module("pyvirt.conf.network")
    conf_nodedev = lazy_module("pyvirt.conf.nodedev")
    conf_storage = lazy_module("pyvirt.conf.storage")

__all__ = ["TestConnection", "TestDriver"]


class _Shared:
    """The one ``test:///default`` state of this process, and its lock."""

    lock = _thread.allocate_lock()
    state: TestState | None = None


def _build_state(fx: NodeFixture, *, lazy: bool) -> TestState:
    """The state a fixture describes. ``lazy`` (the built-in default, which pyvirt ships and
    its tests parse): definitions are parsed on first use; a node file is parsed now, so its
    errors surface when the connection opens, as libvirt reports them."""
    st = TestState(fx.node_info)
    for item in fx.domains:
        runstate = item.runstate if item.runstate is not None else DomainState.RUNNING
        if lazy:
            obj = DomainObj(loader=_domain_loader(st, item.xml), ident=domain_identity(item.xml))
        else:
            obj = DomainObj(live=_test_defaults(conf_domain.parse_domain(item.xml)))
        obj.persistent, obj.managed_save = not item.transient, item.managed_save
        st.add_domain(obj)
        if runstate != DomainState.SHUTOFF:
            st.set_running(obj, 0, label=not lazy)
            obj.state, obj.reason = runstate, 0
        else:
            obj.reason = 0
    st.resource_loaders = {
        "networks": lambda state: _load_networks(state, fx, lazy=lazy),
        "interfaces": lambda state: _load_interfaces(state, fx, lazy=lazy),
        "devices": lambda state: _load_devices(state, fx, lazy=lazy),
        "pools": lambda state: _load_pools(state, fx, lazy=lazy),
    }
    if not lazy:
        st.load_resources()  # a node file's other objects are parsed now, its errors reported at open
    return st


def _domain_loader(st: TestState, xml: str) -> Callable[[DomainObj], Domain]:
    """Parse a built-in domain when first read; one running by then gets its start labels as it would have."""

    def load(obj: DomainObj) -> Domain:
        with st.lock:
            if obj._live is not None:  # another thread parsed it meanwhile
                return obj._live
            dom = _test_defaults(conf_domain.parse_domain(xml))
            if obj.active:
                st.label_started(dom)
            obj.live = dom
            return dom

    return load


def _parsed_once(st: TestState, parse: Callable[[str], Any], xml: str) -> Callable[[], Any]:
    """A built-in object's loader: ``parse(xml)`` under the state lock (so two threads never both parse it)."""

    def load() -> Any:
        with st.lock:
            return parse(xml)

    return load


# Not ``conf_network.parse_network`` itself: reading that attribute would import the model now.
def _parse_network(xml: str) -> conf_network.Network:
    return conf_network.parse_network(xml)


def _parse_interface(xml: str) -> conf_interface.HostInterface:
    return conf_interface.parse_interface(xml)


def _load_networks(st: TestState, fx: NodeFixture, *, lazy: bool) -> None:
    for item in fx.networks:
        if lazy:  # listed, looked up, started and stopped by name and UUID; the model is parsed on first read
            xml = item.xml
            name, uuid = domain_identity(xml)
            load = _parsed_once(st, _parse_network, xml)
            bridge = network_bridge_name(xml)
            st.networks[name] = NetworkObj(active=True, loader=load, ident=(name, uuid), bridge_name=bridge)
        else:
            net = conf_network.parse_network(item.xml)
            st.networks[net.name or ""] = NetworkObj(net, active=True)


def _load_interfaces(st: TestState, fx: NodeFixture, *, lazy: bool) -> None:
    for item in fx.interfaces:
        if lazy:
            xml = item.xml
            name, mac = interface_identity(xml)
            load = _parsed_once(st, _parse_interface, xml)
            st.interfaces[name] = InterfaceObj(loader=load, ident=(name, mac))
        else:
            iface = conf_interface.parse_interface(item.xml)
            st.interfaces[iface.name or ""] = InterfaceObj(iface)


def _parse_nodedev(xml: str) -> conf_nodedev.NodeDevice:
    return conf_nodedev.parse_nodedev(xml)


def _load_devices(st: TestState, fx: NodeFixture, *, lazy: bool) -> None:
    for item in fx.devices:
        if lazy:
            xml = item.xml
            name, parent, caps = device_identity(xml)
            load = _parsed_once(st, _parse_nodedev, xml)
            st.devices[name] = DeviceObj(loader=load, ident=(name, parent), capability_types=caps)
        else:
            dev = conf_nodedev.parse_nodedev(item.xml)
            st.devices[dev.name or ""] = DeviceObj(dev)


def _load_pools(state: TestState, fx: NodeFixture, *, lazy: bool) -> None:
    hooks = _lazy_group("resources")()
    hooks.state = state
    for item in fx.pools:
        if lazy and not item.volumes:  # the default pool: empty, so its figures are the new pool's (pool_get_info)
            xml = item.xml
            name, uuid = domain_identity(xml)
            load = _parsed_once(state, hooks.new_pool_definition, xml)
            state.pools[name] = PoolObj(active=True, loader=load, ident=(name, uuid))
            continue
        obj = hooks.add_pool(item.xml, active=True)
        obj.persistent = True
        for vol_xml in item.volumes:
            vol = conf_storage.parse_volume(vol_xml)
            base = obj.defn.target.path if obj.defn.target else ""
            vol.type = vol.type or "file"
            vol.key = vol.key or f"{base}/{vol.name}"
            if vol.target is None or not vol.target.path:
                vol.target = conf_storage.VolTarget(path=f"{base}/{vol.name}")
            assert vol.capacity is not None
            vol.allocation = vol.allocation or conf_storage.Bytes(value=vol.capacity.value)
            obj.volumes[vol.name or ""] = vol
            hooks._account(obj, vol.allocation.value)


def _test_capabilities(info: NodeInfo, models: list[tuple[str, str]], cells_num: int) -> Capabilities:
    """The host and guests of the test hypervisor (libvirt's testBuildCapabilities).

    ``cells_num``: the NUMA cells of the connection's state (``HostHooks._cells``): test:///default's two,
    none for a node file (testOpenFromFile leaves numCells at 0 whatever the file's ``<nodes>``).
    """
    page_sizes = (4, 8, 2048, 1048576)
    cells = []
    cpus_per_cell = info.cpus // max(info.nodes, 1)
    for cell_id in range(cells_num):
        mem = (cell_id + 1) * 2048 * 1024
        small = page_sizes[cell_id % 2]
        cells.append(
            conf_caps.Cell(
                id=cell_id,
                memory_unit="KiB",
                memory_kib=mem,
                pages=[
                    conf_caps.Pages(size=small, count=mem // small),
                    conf_caps.Pages(size=2048, count=0),
                    conf_caps.Pages(size=1048576, count=0),
                ],
                cpus_num=cpus_per_cell,
                cpus=[
                    conf_caps.CellCpu(
                        id=cell_id * cpus_per_cell + i,
                        socket_id=cell_id,
                        die_id=0,
                        core_id=i,
                        siblings=str(cell_id * cpus_per_cell + i),
                    )
                    for i in range(cpus_per_cell)
                ],
            )
        )
    flags = [conf_caps.FeatureFlag(name="pae"), conf_caps.FeatureFlag(name="nonpae")]
    guests = [
        conf_caps.Guest(os_type=os_type, arch_name="i686", wordsize=32, emulator="/usr/bin/test-hv",
              domains=[conf_caps.GuestDomain(type="test")], features=list(flags))
        for os_type in ("hvm", "xen")
    ]  # fmt: skip
    host = conf_caps.Host(
        cpu=conf_caps.HostCpu(arch="i686", features=list(flags), pages=[conf_caps.Pages(size=s) for s in page_sizes]),
        power_management=True, iommu_support=False, cells_num=cells_num, cells=cells,
        secmodels=[conf_caps.SecModel(model=m, doi=d) for m, d in models],
    )  # fmt: skip
    return conf_caps.Capabilities(host=host, guests=guests)


# The hook groups few commands use: module -> (class, every name the class defines: its hooks and their helpers).
# A connection gets them on the first use of one of those names, not by inheritance: importing the eleven modules
# cost every test:/// open (every short pyvirsh run on it) about ten million instructions, for a group of calls
# most runs never make. test_test_driver_binding checks this table against the classes themselves.
_LAZY_GROUPS: dict[str, tuple[str, str]] = {
    "checkpoints": ("CheckpointHooks", "_check_cycles _checkpoint _descendants _select checkpoint_create_xml "
                    "checkpoint_delete checkpoint_get_parent checkpoint_get_xml_desc checkpoint_list_children "
                    "checkpoint_list_names checkpoint_lookup_by_name"),
    "guest_fs": ("GuestFSHooks", "_change _running_obj domain_fs_freeze domain_fs_thaw domain_fs_trim domain_get_fs_info"),
    "host": ("HostHooks", "_cells connect_baseline_cpu connect_get_cpu_model_names connect_get_max_vcpus "
             "connect_get_sysinfo node_get_cells_free_memory node_get_cpu_stats node_get_free_memory "
             "node_get_free_pages"),
    "interfaces": ("InterfaceHooks", "_iface interface_change_begin interface_change_commit interface_change_rollback "
                   "interface_create interface_define_xml interface_destroy interface_undefine"),
    "iothreads": ("IOThreadHooks", "_polls domain_add_iothread domain_del_iothread domain_get_iothread_info "
                  "domain_pin_iothread domain_set_iothread_params"),
    "nodedevs": ("NodeDeviceHooks", "_check_parent_host _find_host nodedev_create_xml nodedev_destroy"),
    "pool_sources": ("PoolSourceHooks", "pool_find_sources"),
    # networks, pools, volumes, secrets, node devices and the interfaces' queries: no domain command uses them
    "resources": ("ResourceHooks", "_account _active_pool _add_network _find_vol _inactive_pool _net _nref _pool _pref "
                  "_secret _sref _vol _with_new_pool_figures add_pool interface_get_xml_desc interface_is_active "
                  "interface_list_all interface_lookup_by_name network_create network_create_xml network_define_xml "
                  "network_destroy network_get_bridge_name network_get_flags network_get_xml_desc network_list_all "
                  "network_lookup_by_name network_lookup_by_uuid network_set_autostart network_undefine "
                  "network_update new_pool_definition nodedev_get_parent nodedev_get_xml_desc nodedev_list_all "
                  "nodedev_lookup_by_name pool_build pool_create pool_create_xml pool_define_xml pool_delete "
                  "pool_destroy pool_get_flags pool_get_info pool_get_xml_desc pool_list_all pool_lookup_by_name "
                  "pool_lookup_by_uuid pool_refresh pool_set_autostart pool_undefine secret_define_xml "
                  "secret_get_value secret_get_xml_desc secret_list_all secret_lookup_by_usage secret_lookup_by_uuid "
                  "secret_set_value secret_undefine volume_create_xml volume_create_xml_from volume_delete "
                  "volume_get_info volume_get_path volume_get_xml_desc volume_list_all volume_lookup_by_key "
                  "volume_lookup_by_name volume_lookup_by_path"),
    "scheduler": ("SchedulerHooks", "domain_get_scheduler_parameters domain_get_scheduler_type "
                  "domain_set_scheduler_parameters"),
    "screenshot": ("ScreenshotHooks", "_png domain_screenshot"),
    "tuning": ("TuningHooks", "_running domain_get_blkio_parameters domain_get_block_io_tune domain_get_control_info "
               "domain_get_cpu_stats domain_get_disk_errors domain_get_interface_parameters "
               "domain_get_launch_security_info domain_get_memory_parameters domain_get_numa_parameters "
               "domain_get_perf_events domain_send_process_signal domain_set_blkio_parameters "
               "domain_set_block_io_tune domain_set_interface_parameters domain_set_lifecycle_action "
               "domain_set_memory_parameters domain_set_numa_parameters domain_set_perf_events "
               "domain_set_user_password"),
}  # fmt: skip
_LAZY_NAMES = {name: module for module, (_, names) in _LAZY_GROUPS.items() for name in names.split()}
# the groups' public methods that are not hooks (the rest of the names are hooks, or helpers named ``_...``)
_LAZY_NOT_HOOKS = frozenset({"add_pool", "new_pool_definition"})


def _lazy_group(module: str) -> type:
    """The class of one lazily loaded hook group, its module imported now if need be (with ``__import__``:
    the importlib package would bring warnings to every network or pool command)."""
    name = f"pyvirt.drivers.test.{module}"
    __import__(name)
    return getattr(sys.modules[name], _LAZY_GROUPS[module][0])  # type: ignore[no-any-return]


if TYPE_CHECKING:  # for mypy, a connection is all of its groups (attributes and signatures checked as before)

    class _LazyGroups(
        SchedulerHooks, ScreenshotHooks, HostHooks, TuningHooks, IOThreadHooks, GuestFSHooks, InterfaceHooks,
        NodeDeviceHooks, PoolSourceHooks, CheckpointHooks, ResourceHooks,
    ):  # fmt: skip
        pass

else:

    class _LazyGroups:
        """The rarely used hook groups of a connection, found by name when first looked up.

        Python asks ``__getattr__`` only for a name that ordinary lookup did not
        find, so the groups loaded with the driver are untouched; ``__dir__``
        lists the lazy names too, so that pluggy, which registers what
        ``dir()`` shows, finds and validates every hook as it did when they
        were inherited. Each attribute is the group class's own, bound to the
        connection as inheritance would bind it (a ``staticmethod`` stays
        unbound).
        """

        def __getattr__(self, name: str) -> Any:
            module = _LAZY_NAMES.get(name)
            if module is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = vars(_lazy_group(module))[name]
            get = getattr(value, "__get__", None)
            return value if get is None else get(self, type(self))

        def __dir__(self) -> list[str]:
            return sorted({*super().__dir__(), *_LAZY_NAMES})


class TestConnection(DomainHooks, GuestHooks, _LazyGroups):
    """One open ``test:///`` connection; implements every hypervisor and secondary hook."""

    _HOOKS: frozenset[str] | None = None

    @classmethod
    def hook_names(cls) -> frozenset[str]:
        """Every hook a connection implements, found without importing the lazily loaded groups (for
        :func:`pyvirt.plugin.facade.direct_calls`, which then binds each on its first call)."""
        if cls._HOOKS is None:
            marked = {n for k in cls.__mro__ for n, v in vars(k).items() if hasattr(v, _HOOK_MARK)}
            lazy = {n for n in _LAZY_NAMES if not n.startswith("_") and n not in _LAZY_NOT_HOOKS}
            cls._HOOKS = frozenset(marked | lazy)
        return cls._HOOKS

    def bind_hook(self, name: str) -> Callable[..., Any]:
        """This connection's call of hook ``name`` (of :meth:`hook_names`), its group imported if need be."""
        fn: Callable[..., Any] = getattr(self, name)
        return fn

    def __init__(self, uri: URI, state: TestState, events: EventSink, shared: bool) -> None:
        self.uri = uri
        self.state = state
        self.events = events
        self._shared = shared

    @hookimpl
    def connect_close(self) -> None:
        if self._shared:
            with _Shared.lock:
                self.state.refs -= 1
                if self.state.refs == 0 and _Shared.state is self.state:
                    _Shared.state = None

    @hookimpl
    def connect_get_type(self) -> str:
        return "TEST"

    @hookimpl
    def connect_get_version(self) -> int:
        return 2

    @hookimpl
    def connect_get_hostname(self) -> str:
        return os.uname().nodename  # gethostname(), without importing socket

    @hookimpl
    def connect_get_capabilities(self) -> str:
        caps = _test_capabilities(self.state.node_info, self.state.security.models, len(self._cells()))
        return conf_caps.format_capabilities(caps)

    @hookimpl
    def node_get_info(self) -> NodeInfo:
        return self.state.node_info

    @hookimpl
    def node_get_cpu_map(self, flags: int) -> tuple[int, bytes, int]:
        """testNodeGetCPUMap's fixed answer: 8 CPUs, of which 0, 2 and 4 online (map 0x15), whatever the node file says."""
        check_flags(flags, 0, "testNodeGetCPUMap")
        return (8, b"\x15", 3)

    @hookimpl
    def node_get_security_model(self) -> SecurityModel:
        return SecurityModel(self.state.security.model(), self.state.security.doi())


class TestDriver:
    """The object behind the ``test`` entry point."""

    pyvirt_contract = CONTRACT_VERSION
    name = "test"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "test":
            return None
        if uri.server:
            return None  # remote: not ours
        if uri.path in ("", "/"):
            raise _errors.InvalidArgumentError(
                ErrorCode.INVALID_ARG, "testOpen: supply a path or use test:///default", verbatim=True
            )
        if uri.path == "/default":
            with _Shared.lock:
                if _Shared.state is None:
                    _Shared.state = _build_state(default_fixture(), lazy=True)
                _Shared.state.refs += 1
                return TestConnection(uri, _Shared.state, events, shared=True)
        state = _build_state(load_fixture(uri.path), lazy=False)
        return TestConnection(uri, state, events, shared=False)
