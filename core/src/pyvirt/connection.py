"""``Connection``: one open hypervisor connection (libvirt's virConnectPtr).

A connection is a context manager with an explicit state machine: open, then
closed for good (no reopen); any call on a closed connection fails with
INVALID_CONN. Write calls on a read-only connection fail with
OPERATION_DENIED (29) before reaching the driver: the typed facade
(:class:`pyvirt.plugin.facade.DriverCalls`) refuses them, from the API table,
whichever way they come, so no public method checks on its own.
"""

from __future__ import annotations

from _collections_abc import Callable, Iterable

from pyvirt.domain import Domain, domain_matches
from pyvirt.errors import ConnectionError, ErrorCode
from pyvirt.util.int_enum import int_flag

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from typing import Any

    from pyvirt.events import EventSink, LifecycleEvent, NetworkLifecycleEvent
    from pyvirt.flags import (
        ConnectBaselineCPUFlags,
        ConnectCompareCPUFlags,
        ConnectListAllDomainsFlags,
        ConnectListAllNetworksFlags,
        ConnectListAllSecretsFlags,
        ConnectListAllStoragePoolsFlags,
        DomainCreateFlags,
        DomainDefineFlags,
        DomainSaveImageXMLFlags,
        DomainSaveRestoreFlags,
        InterfaceDefineFlags,
        NetworkCreateFlags,
        NetworkDefineFlags,
        NodeAllocPagesFlags,
        NodeDeviceCreateXMLFlags,
        NWFilterBindingCreateFlags,
        NWFilterDefineFlags,
        SecretDefineFlags,
        StoragePoolCreateFlags,
        StoragePoolDefineFlags,
    )
    from pyvirt.interface import Interface
    from pyvirt.network import Network
    from pyvirt.nodedev import NodeDevice
    from pyvirt.nwfilter import NWFilter, NWFilterBinding
    from pyvirt.plugin.facade import DriverCalls
    from pyvirt.plugin.records import NodeInfo, SecurityModel
    from pyvirt.plugin.typed_params import TypedParam
    from pyvirt.secret import Secret
    from pyvirt.storage import StoragePool, StorageVolume
    from pyvirt.uri import URI

    _IntFlagBody = enum.IntFlag
else:
    _IntFlagBody = object

__all__ = ["Connection", "ListDomainsFlags"]


class ListDomainsFlags(_IntFlagBody):
    """virConnectListAllDomainsFlags (an IntFlag, built without the ``enum`` module that every client run
    would load for it: ``pyvirt.util.int_enum``)."""

    ACTIVE = 1
    INACTIVE = 2
    PERSISTENT = 4
    TRANSIENT = 8
    RUNNING = 16
    PAUSED = 32
    SHUTOFF = 64
    OTHER = 128
    MANAGEDSAVE = 256
    NO_MANAGEDSAVE = 512
    AUTOSTART = 1024
    NO_AUTOSTART = 2048
    HAS_SNAPSHOT = 4096
    NO_SNAPSHOT = 8192


if not TYPE_CHECKING:
    ListDomainsFlags = int_flag(ListDomainsFlags)


def normalize_uuid(uuid: str) -> str:
    """libvirt's UUID forms (with or without dashes) as the drivers key them (the XML layer's rule,
    imported only by the calls that take a UUID)."""
    from pyvirt.conf.identity import normalize_uuid as normalize

    return normalize(uuid)


class Connection:
    """An open connection to one driver. Create with ``pyvirt.open()``."""

    def __init__(
        self,
        uri: URI,
        calls: DriverCalls,
        driver_name: str,
        read_only: bool,
        events: EventSink | Callable[[], EventSink],
    ) -> None:
        """``events``: the sink the driver reports to, or what makes it on the first registration
        (a remote connection: a short command that registers no callback never imports the event code)."""
        self._uri = uri
        self._calls: DriverCalls | None = calls
        self.driver_name = driver_name
        self.read_only = read_only
        self._event_source = events
        self._sink: EventSink | None = None

    # ------------------------------------------------------------------ state
    @property
    def _events(self) -> EventSink:
        if self._sink is None:
            source = self._event_source
            self._sink = source() if callable(source) else source
        return self._sink

    @property
    def calls(self) -> DriverCalls:
        """The driver, for the public objects of this package (closed -> INVALID_CONN)."""
        if self._calls is None:
            raise ConnectionError(ErrorCode.INVALID_CONN, "connection is closed")
        return self._calls

    def close(self) -> None:
        """Close the connection; later calls fail. Closing twice is harmless."""
        if self._calls is not None:
            calls, self._calls = self._calls, None
            if calls.implements("connect_close"):
                calls.connect_close()

    @property
    def is_alive(self) -> bool:
        return self._calls is not None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pyvirt.Connection {self._uri}{' (closed)' if self._calls is None else ''}>"

    # ------------------------------------------------------------------ host
    @property
    def uri(self) -> str:
        self.calls  # noqa: B018 - raises on a closed connection
        return str(self._uri)

    def get_type(self) -> str:
        return self.calls.connect_get_type()

    def get_version(self) -> int:
        return self.calls.connect_get_version()

    def get_hostname(self) -> str:
        return self.calls.connect_get_hostname()

    def get_capabilities(self) -> str:
        return self.calls.connect_get_capabilities()

    def get_domain_capabilities(
        self,
        emulator: str | None = None,
        arch: str | None = None,
        machine: str | None = None,
        virttype: str | None = None,
        flags: int = 0,
    ) -> str:
        """What guests of one emulator, architecture, machine type and virt type can use (domcapabilities)."""
        return self.calls.connect_get_domain_capabilities(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype, flags=flags
        )

    def domain_xml_to_native(self, native_format: str, xml: str) -> str:
        """The hypervisor's native configuration for ``xml`` (``qemu-argv`` for QEMU)."""
        return self.calls.connect_domain_xml_to_native(native_format=native_format, xml=xml)

    def domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        """Domain XML from a native configuration (``lxc-tools``: an LXC container's config file)."""
        return self.calls.connect_domain_xml_from_native(native_format=native_format, native_config=native_config)

    def get_node_info(self) -> NodeInfo:
        return self.calls.node_get_info()

    def get_cpu_map(self, flags: int = 0) -> tuple[int, bytes, int]:
        """(host CPU count, byte map of the online CPUs, how many are online) (virNodeGetCPUMap)."""
        return self.calls.node_get_cpu_map(flags=flags)

    def get_max_vcpus(self, type: str | None = None) -> int:
        """The most vCPUs a guest of domain type ``type`` may have, emulator limits aside (virConnectGetMaxVcpus)."""
        return self.calls.connect_get_max_vcpus(type=type)

    def get_sysinfo(self, flags: int = 0) -> str:
        """The host's ``<sysinfo>`` XML (virConnectGetSysinfo)."""
        return self.calls.connect_get_sysinfo(flags=flags)

    def get_free_memory(self) -> int:
        """Free memory of the host in bytes (virNodeGetFreeMemory)."""
        return self.calls.node_get_free_memory()

    def get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        """Free bytes of up to ``max_cells`` NUMA cells from ``start_cell`` (virNodeGetCellsFreeMemory).

        The arguments are checked here, as libvirt's library checks them before
        any driver (or daemon) sees the call, in its words.
        """
        from pyvirt.errors import InvalidArgumentError

        if max_cells <= 0:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "maxCells in virNodeGetCellsFreeMemory must be greater than zero", verbatim=True
            )
        if start_cell < 0:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "startCell in virNodeGetCellsFreeMemory must be zero or greater", verbatim=True
            )
        return self.calls.node_get_cells_free_memory(start_cell=start_cell, max_cells=max_cells)

    def get_cpu_stats(self, cpu_num: int = -1, flags: int = 0) -> list[tuple[str, int]]:
        """The host's CPU time counters as ``(field, value)`` pairs, of CPU ``cpu_num`` or all (-1) (virNodeGetCPUStats).

        Checked as libvirt's library does before the driver: -1 is the only negative CPU number.
        """
        if cpu_num < 0 and cpu_num != -1:  # VIR_NODE_CPU_STATS_ALL_CPUS
            from pyvirt.errors import InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value", verbatim=True
            )
        return self.calls.node_get_cpu_stats(cpu_num=cpu_num, flags=flags)

    def get_cpu_model_names(self, arch: str, flags: int = 0) -> list[str]:
        """The CPU model names guests of ``arch`` may use; [] when any is accepted (virConnectGetCPUModelNames)."""
        return self.calls.connect_get_cpu_model_names(arch=arch, flags=flags)

    def compare_cpu(self, xml: str, flags: ConnectCompareCPUFlags | int = 0) -> int:
        """How the host CPU relates to the CPU ``xml`` describes: 0 incompatible, 1 identical, 2 superset
        (virConnectCompareCPU; ``flags``: ConnectCompareCPUFlags)."""
        return self.calls.connect_compare_cpu(xml=xml, flags=flags)

    def baseline_cpu(self, xml_cpus: list[str], flags: ConnectBaselineCPUFlags | int = 0) -> str:
        """The richest guest CPU all of ``xml_cpus`` can run, as XML (virConnectBaselineCPU)."""
        return self.calls.connect_baseline_cpu(xml_cpus=list(xml_cpus), flags=flags)

    def compare_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpu: str,
        flags: ConnectCompareCPUFlags | int = 0,
    ) -> int:
        """How the CPU the hypervisor offers guests relates to ``xml_cpu`` (virConnectCompareHypervisorCPU)."""
        return self.calls.connect_compare_hypervisor_cpu(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype, xml_cpu=xml_cpu, flags=flags
        )

    def baseline_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpus: list[str],
        flags: ConnectBaselineCPUFlags | int = 0,
    ) -> str:
        """The baseline of ``xml_cpus`` limited to the hypervisor's CPU models (virConnectBaselineHypervisorCPU)."""
        return self.calls.connect_baseline_hypervisor_cpu(
            emulator=emulator, arch=arch, machine=machine, virttype=virttype, xml_cpus=list(xml_cpus), flags=flags
        )

    def get_free_pages(self, pages: Iterable[int], start_cell: int, cell_count: int, flags: int = 0) -> list[int]:
        """Free pages of each size in ``pages`` (KiB) on ``cell_count`` cells from ``start_cell`` (virNodeGetFreePages).

        The counts come cell by cell. The arguments are checked here as libvirt's library checks them.
        """
        sizes = list(pages)
        for name, value in (("npages", len(sizes)), ("cellCount", cell_count)):
            if value == 0:
                from pyvirt.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"{name} in virNodeGetFreePages must not be zero", verbatim=True
                )
        return self.calls.node_get_free_pages(pages=sizes, start_cell=start_cell, cell_count=cell_count, flags=flags)

    def get_memory_stats(self, cell_num: int = -1, flags: int = 0) -> list[tuple[str, int]]:
        """The host's memory in KiB as ``(field, value)`` pairs, of NUMA cell ``cell_num`` or all (-1)
        (virNodeGetMemoryStats).

        Checked as libvirt's library does before the driver: -1 is the only negative cell number.
        """
        if cell_num < 0 and cell_num != -1:  # VIR_NODE_MEMORY_STATS_ALL_CELLS
            from pyvirt.errors import InvalidArgumentError

            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value",
                verbatim=True,
            )
        return self.calls.node_get_memory_stats(cell_num=cell_num, flags=flags)

    def alloc_pages(
        self, pages: dict[int, int], start_cell: int = -1, cell_count: int = 1, flags: NodeAllocPagesFlags | int = 0
    ) -> int:
        """Resize huge page pools: ``pages`` maps a page size in KiB to a count, set (SET) or added (virNodeAllocPages).

        ``start_cell`` -1 is the host's pools as a whole. Returns how many pools were adjusted.
        The arguments are checked here as libvirt's library checks them.
        """
        for name, value in (("npages", len(pages)), ("cellCount", cell_count)):
            if value == 0:
                from pyvirt.errors import InvalidArgumentError

                raise InvalidArgumentError(
                    ErrorCode.INVALID_ARG, f"{name} in virNodeAllocPages must not be zero", verbatim=True
                )
        return self.calls.node_alloc_pages(
            pages=list(pages),
            counts=list(pages.values()),
            start_cell=start_cell,
            cell_count=cell_count,
            flags=int(flags),
        )

    def get_memory_parameters(self, flags: int = 0) -> list[TypedParam]:
        """The host's memory tunables (KSM's ``shm_*``) as typed parameters (virNodeGetMemoryParameters).

        libvirt's library tells the driver strings are fine (STRING_OKAY), as here.
        """
        from pyvirt.plugin.typed_params import STRING_OKAY

        return self.calls.node_get_memory_parameters(flags=flags | STRING_OKAY)

    def set_memory_parameters(self, params: list[TypedParam], flags: int = 0) -> None:
        """Change the host's memory tunables (virNodeSetMemoryParameters)."""
        self.calls.node_set_memory_parameters(params=list(params), flags=flags)

    def get_security_model(self) -> SecurityModel:
        return self.calls.node_get_security_model()

    def set_keep_alive(self, interval: int, count: int) -> int:
        """virConnectSetKeepAlive: ping the daemon after ``interval`` idle seconds, close after ``count`` misses.

        ``interval`` <= 0 stops it. Returns 1 when the daemon has no keepalive.
        In-process connections have no peer and answer NO_SUPPORT.
        """
        return self.calls.connect_set_keep_alive(interval=interval, count=count)

    # ------------------------------------------------------------------ domains
    def list_all_domains(self, flags: ConnectListAllDomainsFlags | int = 0) -> list[Domain]:
        calls = self.calls
        return [Domain(self, ref) for ref in calls.domain_list_all() if domain_matches(calls, ref, flags)]

    def lookup_domain_by_name(self, name: str) -> Domain:
        return Domain(self, self.calls.domain_lookup_by_name(name=name))

    def lookup_domain_by_uuid(self, uuid: str) -> Domain:
        return Domain(self, self.calls.domain_lookup_by_uuid(uuid=normalize_uuid(uuid)))

    def lookup_domain_by_id(self, id: int) -> Domain:
        return Domain(self, self.calls.domain_lookup_by_id(id=id))

    def define_domain(self, xml: str, flags: DomainDefineFlags | int = 0) -> Domain:
        return Domain(self, self.calls.domain_define_xml(xml=xml, flags=flags))

    def create_domain(self, xml: str, flags: DomainCreateFlags | int = 0) -> Domain:
        """Create and start a transient domain."""

        return Domain(self, self.calls.domain_create_xml(xml=xml, flags=flags))

    def create_xml_with_files(self, xml: str, files: Iterable[int], flags: DomainCreateFlags | int = 0) -> Domain:
        """Create and start a transient domain handing it the open descriptors ``files``
        (virDomainCreateXMLWithFiles; see ``Domain.create_with_files``)."""
        return Domain(self, self.calls.domain_create_xml_with_files(xml=xml, files=list(files), flags=flags))

    def restore_domain(self, path: str, xml: str | None = None, flags: DomainSaveRestoreFlags | int = 0) -> Domain:
        return Domain(self, self.calls.domain_restore(path=path, xml=xml, flags=flags))

    def save_image_xml_desc(self, path: str, flags: DomainSaveImageXMLFlags | int = 0) -> str:
        """The domain XML inside save image ``path`` (virDomainSaveImageGetXMLDesc): the definition a restore
        brings the guest back with. A relative path means this process's directory, even through pyvirtd."""
        return self.calls.domain_save_image_get_xml_desc(path=path, flags=flags)

    def save_image_define_xml(self, path: str, xml: str, flags: DomainSaveRestoreFlags | int = 0) -> None:
        """Replace the domain XML inside save image ``path`` (virDomainSaveImageDefineXML); flag RUNNING or
        PAUSED also records the state the restore starts the guest in, where the driver's image has one."""
        self.calls.domain_save_image_define_xml(path=path, xml=xml, flags=flags)

    # ------------------------------------------------------------------ networks
    def list_all_networks(self, flags: ConnectListAllNetworksFlags | int = 0) -> list[Network]:
        from pyvirt.network import Network, network_matches

        calls = self.calls
        return [Network(self, r) for r in calls.network_list_all() if network_matches(calls, r, flags)]

    def lookup_network_by_name(self, name: str) -> Network:
        from pyvirt.network import Network

        return Network(self, self.calls.network_lookup_by_name(name=name))

    def lookup_network_by_uuid(self, uuid: str) -> Network:
        from pyvirt.network import Network

        return Network(self, self.calls.network_lookup_by_uuid(uuid=normalize_uuid(uuid)))

    def define_network(self, xml: str, flags: NetworkDefineFlags | int = 0) -> Network:
        from pyvirt.network import Network

        return Network(self, self.calls.network_define_xml(xml=xml, flags=flags))

    def create_network(self, xml: str, flags: NetworkCreateFlags | int = 0) -> Network:
        from pyvirt.network import Network

        return Network(self, self.calls.network_create_xml(xml=xml, flags=flags))

    # ------------------------------------------------------------------ storage
    def list_all_storage_pools(self, flags: ConnectListAllStoragePoolsFlags | int = 0) -> list[StoragePool]:
        from pyvirt.storage import StoragePool, pool_matches

        calls = self.calls
        return [StoragePool(self, r) for r in calls.pool_list_all() if pool_matches(calls, r, flags)]

    def lookup_storage_pool_by_name(self, name: str) -> StoragePool:
        from pyvirt.storage import StoragePool

        return StoragePool(self, self.calls.pool_lookup_by_name(name=name))

    def lookup_storage_pool_by_uuid(self, uuid: str) -> StoragePool:
        from pyvirt.storage import StoragePool

        return StoragePool(self, self.calls.pool_lookup_by_uuid(uuid=normalize_uuid(uuid)))

    def define_storage_pool(self, xml: str, flags: StoragePoolDefineFlags | int = 0) -> StoragePool:
        from pyvirt.storage import StoragePool

        return StoragePool(self, self.calls.pool_define_xml(xml=xml, flags=flags))

    def create_storage_pool(self, xml: str, flags: StoragePoolCreateFlags | int = 0) -> StoragePool:
        from pyvirt.storage import StoragePool

        return StoragePool(self, self.calls.pool_create_xml(xml=xml, flags=flags))

    def lookup_storage_volume_by_key(self, key: str) -> StorageVolume:
        from pyvirt.storage import StorageVolume

        return StorageVolume(self, self.calls.volume_lookup_by_key(key=key))

    def lookup_storage_volume_by_path(self, path: str) -> StorageVolume:
        from pyvirt.storage import StorageVolume

        return StorageVolume(self, self.calls.volume_lookup_by_path(path=path))

    # ------------------------------------------------------------------ network filters
    def list_all_nwfilters(self, flags: int = 0) -> list[NWFilter]:
        """Every filter (virConnectListAllNWFilters: libvirt defines no flags)."""
        from pyvirt.nwfilter import NWFilter
        from pyvirt.plugin.flags import check_flags

        check_flags(flags, 0, "nwfilterConnectListAllNWFilters")
        return [NWFilter(self, r) for r in self.calls.nwfilter_list_all()]

    def lookup_nwfilter_by_name(self, name: str) -> NWFilter:
        from pyvirt.nwfilter import NWFilter

        return NWFilter(self, self.calls.nwfilter_lookup_by_name(name=name))

    def lookup_nwfilter_by_uuid(self, uuid: str) -> NWFilter:
        from pyvirt.nwfilter import NWFilter

        return NWFilter(self, self.calls.nwfilter_lookup_by_uuid(uuid=normalize_uuid(uuid)))

    def define_nwfilter(self, xml: str, flags: NWFilterDefineFlags | int = 0) -> NWFilter:
        from pyvirt.nwfilter import NWFilter

        return NWFilter(self, self.calls.nwfilter_define_xml(xml=xml, flags=flags))

    def list_all_nwfilter_bindings(self, flags: int = 0) -> list[NWFilterBinding]:
        """Every binding (virConnectListAllNWFilterBindings: libvirt defines no flags)."""
        from pyvirt.nwfilter import NWFilterBinding
        from pyvirt.plugin.flags import check_flags

        check_flags(flags, 0, "nwfilterConnectListAllNWFilterBindings")
        return [NWFilterBinding(self, r) for r in self.calls.nwfilter_binding_list_all()]

    def lookup_nwfilter_binding_by_port_dev(self, portdev: str) -> NWFilterBinding:
        from pyvirt.nwfilter import NWFilterBinding

        return NWFilterBinding(self, self.calls.nwfilter_binding_lookup_by_port_dev(portdev=portdev))

    def create_nwfilter_binding(self, xml: str, flags: NWFilterBindingCreateFlags | int = 0) -> NWFilterBinding:
        from pyvirt.nwfilter import NWFilterBinding

        return NWFilterBinding(self, self.calls.nwfilter_binding_create_xml(xml=xml, flags=flags))

    # ------------------------------------------------------------------ secrets
    def list_all_secrets(self, flags: ConnectListAllSecretsFlags | int = 0) -> list[Secret]:
        from pyvirt.secret import Secret, list_secrets

        return [Secret(self, r) for r in list_secrets(self.calls, flags)]

    def lookup_secret_by_uuid(self, uuid: str) -> Secret:
        from pyvirt.secret import Secret

        return Secret(self, self.calls.secret_lookup_by_uuid(uuid=normalize_uuid(uuid)))

    def lookup_secret_by_usage(self, usage_type: int, usage_id: str) -> Secret:
        from pyvirt.secret import Secret

        return Secret(self, self.calls.secret_lookup_by_usage(usage_type=usage_type, usage_id=usage_id))

    def define_secret(self, xml: str, flags: SecretDefineFlags | int = 0) -> Secret:
        from pyvirt.secret import Secret

        return Secret(self, self.calls.secret_define_xml(xml=xml, flags=flags))

    # ------------------------------------------------------------------ node devices / interfaces
    def list_all_node_devices(self, capability: str | None = None) -> list[NodeDevice]:
        from pyvirt.nodedev import NodeDevice

        return [NodeDevice(self, r) for r in self.calls.nodedev_list_all(cap=capability)]

    def lookup_node_device_by_name(self, name: str) -> NodeDevice:
        from pyvirt.nodedev import NodeDevice

        return NodeDevice(self, self.calls.nodedev_lookup_by_name(name=name))

    def find_storage_pool_sources(self, type: str, src_spec: str | None = None, flags: int = 0) -> str:
        """The ``<sources>`` a pool of ``type`` could use, narrowed by a ``<source>`` (virConnectFindStoragePoolSources)."""
        return self.calls.pool_find_sources(type=type, src_spec=src_spec, flags=flags)

    def get_storage_pool_capabilities(self, flags: int = 0) -> str:
        """The ``<storagepoolCapabilities>`` document: every pool type and whether this host's storage driver has it
        (virConnectGetStoragePoolCapabilities)."""
        return self.calls.pool_get_capabilities(flags=flags)

    def create_node_device(self, xml: str, flags: NodeDeviceCreateXMLFlags | int = 0) -> NodeDevice:
        """A transient host device made from ``xml`` (virNodeDeviceCreateXML): a vHBA, a mediated device."""
        from pyvirt.nodedev import NodeDevice

        return NodeDevice(self, self.calls.nodedev_create_xml(xml=xml, flags=int(flags)))

    def list_all_interfaces(self) -> list[Interface]:
        from pyvirt.interface import Interface

        return [Interface(self, r) for r in self.calls.interface_list_all()]

    def lookup_interface_by_name(self, name: str) -> Interface:
        from pyvirt.interface import Interface

        return Interface(self, self.calls.interface_lookup_by_name(name=name))

    def define_interface(self, xml: str, flags: InterfaceDefineFlags | int = 0) -> Interface:
        """Define a host interface, or redefine the one of that name (virInterfaceDefineXML)."""
        from pyvirt.interface import Interface

        return Interface(self, self.calls.interface_define_xml(xml=xml, flags=flags))

    def interface_change_begin(self, flags: int = 0) -> None:
        """Start a transaction over the host's interface configuration (virInterfaceChangeBegin)."""
        self.calls.interface_change_begin(flags=flags)

    def interface_change_commit(self, flags: int = 0) -> None:
        """Keep the interface changes of the running transaction (virInterfaceChangeCommit)."""
        self.calls.interface_change_commit(flags=flags)

    def interface_change_rollback(self, flags: int = 0) -> None:
        """Undo the interface changes of the running transaction (virInterfaceChangeRollback)."""
        self.calls.interface_change_rollback(flags=flags)

    # ------------------------------------------------------------------ events
    def register_domain_event(self, callback: Callable[[LifecycleEvent], None], domain: Domain | None = None) -> int:
        """Call ``callback`` for every lifecycle event (of one domain, if given), in order."""
        self.calls  # noqa: B018 - raises on a closed connection
        return self._events.register(callback, domain.uuid if domain is not None else None)

    def deregister_domain_event(self, callback_id: int) -> None:
        self._events.deregister(callback_id)

    def register_network_event(
        self, callback: Callable[[NetworkLifecycleEvent], None], network: Network | None = None
    ) -> int:
        """Call ``callback`` for every network lifecycle event (of one network, if given), in order."""
        self.calls  # noqa: B018 - raises on a closed connection
        return self._events.register_network(callback, network.uuid if network is not None else None)

    def deregister_network_event(self, callback_id: int) -> None:
        self._events.deregister_network(callback_id)

    def register_event(self, kind: str, callback: Callable[[Any], None], uuid: str | None = None) -> int:
        """Call ``callback`` for every event of ``kind`` (of one domain or pool by UUID, if given), in order.

        ``kind``: one of :data:`pyvirt.events.EVENT_KINDS`: every domain event but lifecycle by virsh's name
        (``reboot``, ``rtc-change``, ``tray-change``, ``metadata-change``, ... libvirt's event id is its index
        in :data:`pyvirt.events.DOMAIN_EVENT_IDS`), ``pool-lifecycle`` and ``pool-refresh``. Each delivers
        the record of its kind (``RtcChangeEvent``, ``TrayChangeEvent``, ...) with libvirt's callback arguments.
        """
        self.calls  # noqa: B018 - raises on a closed connection
        return self._events.register_typed(kind, callback, uuid)

    def deregister_event(self, callback_id: int) -> None:
        self._events.deregister_typed(callback_id)

    def register_qemu_monitor_event(
        self,
        callback: Callable[[Any], None],
        domain: Domain | None = None,
        event: str | None = None,
        flags: int = 0,
    ) -> int:
        """virConnectDomainQemuMonitorEventRegister: call ``callback`` with a
        :class:`pyvirt.events.QemuMonitorEvent` for every QMP event of a guest (of ``domain``, if given) whose
        name is ``event`` (any, if None; ``flags`` REGEX 1 and NOCASE 2 of ``pyvirt.qemu_monitor_events``).
        A read-only connection is refused, as libvirt's library refuses it; only QEMU connections have them."""
        from pyvirt.errors import NotSupportedError, OperationDeniedError
        from pyvirt.qemu_monitor_events import event_filter

        self.calls  # noqa: B018 - raises on a closed connection
        if self.read_only:
            raise OperationDeniedError(
                ErrorCode.OPERATION_DENIED, "read only access prevents virConnectDomainQemuMonitorEventRegister"
            )
        if self.driver_name != "qemu":  # (libvirt's other drivers lack connectDomainQemuMonitorEventRegister)
            raise NotSupportedError(ErrorCode.NO_SUPPORT, "virConnectDomainQemuMonitorEventRegister")
        matches = event_filter(event, flags)

        def on(ev: Any) -> None:
            if matches(ev.event):
                callback(ev)

        return self._events.register_typed("qemu-monitor", on, domain.uuid if domain is not None else None)

    def deregister_qemu_monitor_event(self, callback_id: int) -> None:
        """virConnectDomainQemuMonitorEventDeregister."""
        self._events.deregister_typed(callback_id)
