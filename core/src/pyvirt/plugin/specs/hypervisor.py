"""Hypervisor driver contract: connections and domains.

Stops at first non-None result, and a connection has exactly one driver,
so each call is answered by it. Hooks that only act return None. Errors
are raised as ``pyvirt.errors.Error`` subclasses carrying libvirt's codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.events import EventSink
    from pyvirt.plugin.records import (
        BlockInfo,
        BlockStats,
        CheckpointRef,
        DomainInfo,
        DomainRef,
        FSInfo,
        InterfaceAddresses,
        InterfaceStats,
        IOThreadInfo,
        NodeInfo,
        SecurityLabel,
        SecurityModel,
        SnapshotRef,
        VcpuInfo,
    )
    from pyvirt.plugin.typed_params import TypedParam
    from pyvirt.uri import URI

# ---------------------------------------------------------------- connection


@hookspec(firstresult=True)
def connect_open(uri: URI, read_only: bool, events: EventSink) -> Any:
    """Open a connection for ``uri``, or decline it.

    Implemented by the object behind the ``pyvirt.hypervisor`` entry point,
    not by a connection: it builds the connection object, which then answers
    every other hook of this module for that connection.

    :param uri: the resolved URI; its scheme is this driver's entry-point name.
    :param read_only: the caller asked for a read-only connection (the facade
        refuses writes on it; the driver may use it to open less).
    :param events: where the connection reports lifecycle and other events.
    :returns: the connection object, or None to decline the URI (libvirt's
        VIR_DRV_OPEN_DECLINED), so that the caller reports that no driver
        handles it.
    :raises Error: the URI is this driver's but cannot be opened (a missing
        path, a refused session).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_close() -> None:
    """Release what the connection holds (monitors, sockets, caches); called once, last.

    Running guests are not touched: closing a connection is not stopping its domains.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_get_type() -> str:
    """The hypervisor's type name, as virConnectGetType reports it.

    :returns: ``"TEST"``, ``"QEMU"``, ``"LXC"``, ... as libvirt's driver of the same kind answers.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_get_version() -> int:
    """The hypervisor's version, as virConnectGetVersion reports it.

    :returns: major * 1,000,000 + minor * 1,000 + release (QEMU 7.2.0 is 7002000).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_get_hostname() -> str:
    """The name of the host the hypervisor runs on (virConnectGetHostname).

    :returns: the host name, fully qualified when the host knows its domain.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_get_capabilities() -> str:
    """The host's capabilities document (virConnectGetCapabilities).

    :returns: the ``<capabilities>`` XML: host CPU and topology, security
        models, and one ``<guest>`` per architecture and domain type the
        driver can run.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_set_keep_alive(interval: int, count: int) -> int:
    """Ping the peer after ``interval`` idle seconds; close the connection after ``count`` unanswered pings.

    Only a connection with a peer has a keepalive: libvirt's remote driver
    implements virConnectSetKeepAlive, in-process drivers do not and answer
    NO_SUPPORT (virsh then refuses ``-k``/``-K`` on such a connection).

    :param interval: seconds of silence before a ping; 0 or less stops the keepalive.
    :param count: unanswered pings after which the connection is closed.
    :returns: 0 once applied; 1 when the peer does not support keepalive
        (nothing is started, as libvirt's remoteConnectSetKeepAlive answers).

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def connect_get_domain_capabilities(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, flags: int
) -> str:
    """What a guest of one emulator, architecture, machine type and domain type may use.

    The answer of virConnectGetDomainCapabilities: devices, CPU modes,
    firmware, features. A ``None`` argument is the driver's default for that
    axis, as in libvirt.

    :param emulator: the emulator binary, or None.
    :param arch: the guest architecture (``x86_64``), or None.
    :param machine: the machine type (``q35``, ``pc``), or None.
    :param virttype: the domain type (``kvm``, ``qemu``), or None.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the ``<domainCapabilities>`` XML.

    Stops at first non-None result.

    Added in contract 1.1.
    """


@hookspec(firstresult=True)
def node_get_info() -> NodeInfo:
    """The host's CPU and memory figures (virNodeGetInfo).

    :returns: the CPU model, memory in KiB, CPU count and frequency, and the
        NUMA node, socket, core and thread counts.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def node_get_cpu_map(flags: int) -> tuple[int, bytes, int]:
    """The host CPUs there are and which of them are online (virNodeGetCPUMap). Optional.

    virsh sizes its CPU affinity maps (``vcpuinfo``, ``vcpupin``) by the count this returns.

    :param flags: libvirt defines no flags for virNodeGetCPUMap; 0.
    :returns: ``(count, cpumap, online)``: the number of host CPUs, a byte map of
        the online ones (CPU ``n`` is bit ``n % 8`` of byte ``n // 8``), and how many are online.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def connect_get_max_vcpus(type: str | None) -> int:
    """The most virtual CPUs a guest of one domain type may have (virConnectGetMaxVcpus). Optional.

    virsh's ``maxvcpus`` asks the domain capabilities' ``<vcpu max>`` first and
    falls back to this, which ignores the emulator's own limits.

    :param type: the ``<domain type>`` asked about (``kvm``, ``qemu``), or None for the driver's default.
    :returns: the maximum vCPU count.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def connect_get_sysinfo(flags: int) -> str:
    """The host's SMBIOS facts as a ``<sysinfo>`` document (virConnectGetSysinfo). Optional.

    :param flags: libvirt defines no flags for it; 0.
    :returns: the ``<sysinfo type='smbios'>`` XML, ending in a newline as libvirt's does.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def node_get_free_memory() -> int:
    """The host's free memory in bytes, all NUMA cells together (virNodeGetFreeMemory). Optional.

    libvirt treats 0 as a failure (the call has no other way to fail), so a
    driver raises instead of returning 0.

    :returns: free bytes.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def node_get_cells_free_memory(start_cell: int, max_cells: int) -> list[int]:
    """Free memory in bytes of consecutive NUMA cells (virNodeGetCellsFreeMemory). Optional.

    The public API has refused a negative ``start_cell`` and a ``max_cells`` below 1.

    :param start_cell: the first cell's number.
    :param max_cells: how many cells at most.
    :returns: one byte count per cell from ``start_cell``, fewer when the host has fewer cells.
    :raises InvalidArgumentError: INVALID_ARG when ``start_cell`` is past the last cell.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def node_get_cpu_stats(cpu_num: int, flags: int) -> list[tuple[str, int]]:
    """The host's CPU time counters, of one CPU or of all (virNodeGetCPUStats). Optional.

    The public API has refused negative CPU numbers other than -1
    (VIR_NODE_CPU_STATS_ALL_CPUS). Callers that want fewer counters cut the list.

    :param cpu_num: the CPU, or -1 for the sum over all CPUs.
    :param flags: libvirt defines no flags for it; 0.
    :returns: every ``(field, value)`` pair the driver has, in its order: ``user``,
        ``kernel``, ``idle``, ``iowait`` (nanoseconds), ``intr``, or ``utilization`` (percent).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def node_get_free_pages(pages: list[int], start_cell: int, cell_count: int, flags: int) -> list[int]:
    """How many pages of each size are free on consecutive NUMA cells (virNodeGetFreePages). Optional.

    The public API has refused an empty ``pages`` and a ``cell_count`` of 0.

    :param pages: the page sizes asked about, in KiB.
    :param start_cell: the first cell, or -1 for the host as a whole.
    :param cell_count: how many cells.
    :param flags: libvirt defines no flags for it; 0.
    :returns: the free counts, cell by cell and within a cell in the order of ``pages``
        (``len(pages) * cell_count`` of them).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def node_get_memory_stats(cell_num: int, flags: int) -> list[tuple[str, int]]:
    """The host's memory figures, of the whole host or of one NUMA cell (virNodeGetMemoryStats). Optional.

    The public API has refused negative cells other than -1 (VIR_NODE_MEMORY_STATS_ALL_CELLS).
    Callers that want fewer figures cut the list.

    :param cell_num: the NUMA cell, or -1 for the whole host.
    :param flags: libvirt defines no flags for it; 0.
    :returns: every ``(field, KiB)`` pair the driver has, in its order: ``total``, ``free``,
        ``buffers``, ``cached`` for the host, ``total``, ``free`` for a cell.
    :raises InvalidArgumentError: INVALID_ARG for a cell past the host's last.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def node_alloc_pages(pages: list[int], counts: list[int], start_cell: int, cell_count: int, flags: int) -> int:
    """Resize the host's huge page pools on consecutive NUMA cells (virNodeAllocPages). Optional.

    The public API has refused empty ``pages`` and a ``cell_count`` of 0.

    :param pages: the page sizes, in KiB.
    :param counts: for each size, the pool's new size, or with ADD how many pages to add.
    :param start_cell: the first cell, or -1 for the host's pools as a whole.
    :param cell_count: how many cells.
    :param flags: :class:`~pyvirt.flags.NodeAllocPagesFlags` (SET: set the size; ADD, 0: add).
    :returns: how many pools were adjusted.
    :raises OperationFailedError: a size or cell the host lacks, or the kernel gave fewer pages.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def node_get_memory_parameters(flags: int) -> list[TypedParam]:
    """The host's memory tunables: KSM's ``shm_*`` settings and counters (virNodeGetMemoryParameters). Optional.

    :param flags: :class:`~pyvirt.flags.TypedParameterFlags` (STRING_OKAY, which the public API adds).
    :returns: the parameters in the driver's order; those the kernel lacks are left out.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def node_set_memory_parameters(params: list[TypedParam], flags: int) -> None:
    """Change the host's memory tunables (virNodeSetMemoryParameters). Optional.

    :param params: ``shm_pages_to_scan``, ``shm_sleep_millisecs``, ``shm_merge_across_nodes`` (UINT).
    :param flags: libvirt defines no flags for it; 0.
    :raises InvalidArgumentError: a parameter that is not one of these, or of another type.
    :raises OperationInvalidError: the kernel has no such tunable.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def connect_get_cpu_model_names(arch: str, flags: int) -> list[str]:
    """The CPU models guests of one architecture may name (virConnectGetCPUModelNames). Optional.

    libvirt answers from its CPU map for every driver (``pyvirt.util.cpu_map``).

    :param arch: a libvirt architecture name (``x86_64``, ``ppc64``, ``aarch64``).
    :param flags: libvirt defines no flags for it; 0.
    :returns: the model names, [] when the architecture's CPU driver accepts any model.
    :raises InvalidArgumentError: for an architecture libvirt does not know.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def connect_compare_cpu(xml: str, flags: int) -> int:
    """How the host CPU relates to the CPU ``xml`` describes (virConnectCompareCPU). Optional.

    libvirt's drivers compare with libvirt's CPU map (``pyvirt.util.cpu_x86``).

    :param xml: one ``<cpu>`` element (a guest CPU, or a host CPU when it names an ``<arch>``).
    :param flags: :class:`~pyvirt.flags.ConnectCompareCPUFlags` (FAIL_INCOMPATIBLE, VALIDATE_XML).
    :returns: 0 incompatible, 1 identical, 2 the host CPU is a superset (virCPUCompareResult).
    :raises Error: CPU_INCOMPATIBLE with the reason, when FAIL_INCOMPATIBLE and the CPUs are incompatible.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def connect_baseline_cpu(xml_cpus: list[str], flags: int) -> str:
    """The richest guest CPU every CPU of ``xml_cpus`` can run, as ``<cpu>`` XML (virConnectBaselineCPU). Optional.

    :param xml_cpus: host CPU definitions, each one ``<cpu>`` element with an ``<arch>``.
    :param flags: :class:`~pyvirt.flags.ConnectBaselineCPUFlags` (EXPAND_FEATURES, MIGRATABLE, as the driver accepts them).
    :returns: the baseline CPU's XML.
    :raises OperationFailedError: "CPUs are incompatible", or vendors that differ.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def connect_compare_hypervisor_cpu(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, xml_cpu: str, flags: int
) -> int:
    """How the CPU the hypervisor can give guests relates to ``xml_cpu`` (virConnectCompareHypervisorCPU). Optional.

    :param emulator: the emulator binary, or None for the default one of ``arch``/``virttype``.
    :param arch: the guest architecture, or None for the host's.
    :param machine: the machine type, or None.
    :param virttype: the virtualization type (``kvm``, ``qemu``), or None for the best one.
    :param xml_cpu: one ``<cpu>`` element.
    :param flags: :class:`~pyvirt.flags.ConnectCompareCPUFlags`.
    :returns: 0 incompatible, 1 identical, 2 superset (virCPUCompareResult).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def connect_baseline_hypervisor_cpu(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, xml_cpus: list[str], flags: int
) -> str:
    """The baseline of ``xml_cpus`` limited to what the hypervisor offers (virConnectBaselineHypervisorCPU). Optional.

    :param emulator: the emulator binary, or None for the default one.
    :param arch: the guest architecture, or None.
    :param machine: the machine type, or None.
    :param virttype: the virtualization type, or None.
    :param xml_cpus: CPU definitions, each one ``<cpu>`` element.
    :param flags: :class:`~pyvirt.flags.ConnectBaselineCPUFlags`.
    :returns: the baseline CPU's XML.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def node_get_security_model() -> SecurityModel:
    """The host's primary security model and its domain of interpretation (virNodeGetSecurityModel).

    :returns: the model (``selinux``, ``apparmor``, ``dac``, ``none``) and its DOI.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_domain_xml_to_native(native_format: str, xml: str) -> str:
    """A domain's configuration in the hypervisor's own format.

    :param native_format: the format asked for (``qemu-argv``: the QEMU command line).
    :param xml: the domain XML to convert; no domain is defined or started.
    :returns: the native configuration text.
    :raises Error: CONFIG_UNSUPPORTED for a format the driver does not write.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def connect_domain_xml_from_native(native_format: str, native_config: str) -> str:
    """Domain XML from the hypervisor's own configuration format.

    :param native_format: the format given (``lxc-tools`` for LXC, ``vmware-vmx`` for ESX, ``xen-xl`` for Xen).
    :param native_config: the native configuration text.
    :returns: the domain XML; nothing is defined.
    :raises Error: CONFIG_UNSUPPORTED for a format the driver does not read.

    Stops at first non-None result.

    Added in contract 1.2.
    """


# ---------------------------------------------------------------- domains: lookup


@hookspec(firstresult=True)
def domain_list_all() -> list[DomainRef]:
    """Every domain the connection knows.

    The public API filters the list by libvirt's ListAllDomains flags from
    ``domain_get_flags`` and ``domain_get_state``, so the driver lists all.

    :returns: the running domains first (by id), then the inactive ones (by name).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_lookup_by_name(name: str) -> DomainRef:
    """Find a domain by its name.

    :param name: the domain's name.
    :returns: the domain.
    :raises NotFoundError: NO_DOMAIN, "no domain with matching name 'NAME'".

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_lookup_by_uuid(uuid: str) -> DomainRef:
    """Find a domain by its UUID.

    :param uuid: the canonical lower-case UUID text (the public API normalises other spellings).
    :returns: the domain.
    :raises NotFoundError: NO_DOMAIN, "no domain with matching uuid 'UUID'".

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_lookup_by_id(id: int) -> DomainRef:
    """Find a running domain by its id.

    :param id: the id the driver gave the domain when it started.
    :returns: the domain.
    :raises NotFoundError: NO_DOMAIN, "no domain with matching id ID".

    Stops at first non-None result.

    Added in contract 1.0.
    """


# ---------------------------------------------------------------- domains: lifecycle


@hookspec(firstresult=True)
def domain_define_xml(xml: str, flags: int) -> DomainRef:
    """Define a persistent domain, or replace the persistent definition of an existing one.

    :param xml: the ``<domain>`` document.
    :param flags: :class:`~pyvirt.flags.DomainDefineFlags` (VALIDATE: check the XML against libvirt's schema first).
    :returns: the domain; a running domain keeps running and takes the new
        definition at its next start.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_undefine(dom: DomainRef, flags: int) -> None:
    """Remove a domain's persistent definition; a running domain becomes transient.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainUndefineFlags` (what else goes with the
        definition: managed save image, snapshot and checkpoint metadata,
        NVRAM or TPM state). libvirt's drivers refuse a domain that has a
        managed save image, snapshots, checkpoints or NVRAM unless the matching
        flag says what to do with them.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_create_xml(xml: str, flags: int) -> DomainRef:
    """Create and start a transient domain: it disappears when it stops.

    :param xml: the ``<domain>`` document.
    :param flags: :class:`~pyvirt.flags.DomainCreateFlags` (START_PAUSED, START_AUTODESTROY, START_VALIDATE, ...).
    :returns: the running domain.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_create(dom: DomainRef, flags: int) -> None:
    """Start a defined domain (from its managed save image when it has one).

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainCreateFlags` (START_PAUSED, START_AUTODESTROY,
        START_BYPASS_CACHE, START_FORCE_BOOT: ignore the managed save image, ...).
        virDomainCreate is this call with ``flags`` 0.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_destroy(dom: DomainRef, flags: int) -> None:
    """Stop a domain at once, as pulling its power cord would.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainDestroyFlags` (GRACEFUL: ask the process to end
        rather than kill it; REMOVE_LOGS). virDomainDestroy is this call with ``flags`` 0.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_shutdown(dom: DomainRef, flags: int) -> None:
    """Ask the guest to shut down; it may take its time, or ignore the request.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainShutdownFlags`: which way to ask (ACPI power
        button, guest agent, signal, ...); 0 lets the driver choose.
        virDomainShutdown is this call with ``flags`` 0.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_reboot(dom: DomainRef, flags: int) -> None:
    """Ask the guest to reboot.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainRebootFlags`: which way to ask (ACPI, guest agent, ...); 0 lets the driver choose.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_suspend(dom: DomainRef) -> None:
    """Pause the domain's virtual CPUs; memory and devices stay as they are.

    :param dom: the domain, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_resume(dom: DomainRef) -> None:
    """Let a paused domain's virtual CPUs run again.

    :param dom: the domain, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_save(dom: DomainRef, path: str, xml: str | None, flags: int) -> None:
    """Save a running domain's memory and device state to a file, then stop it.

    :param dom: the domain, as a lookup returned it.
    :param path: the file to write (``domain_restore`` reads it).
    :param xml: a domain XML to store in the file in place of the current
        definition (only host-side details such as disk paths may differ), or None.
    :param flags: :class:`~pyvirt.flags.DomainSaveRestoreFlags` (BYPASS_CACHE, RUNNING or
        PAUSED: the state to restore into). virDomainSave is this call with no
        ``xml`` and ``flags`` 0.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_restore(path: str, xml: str | None, flags: int) -> DomainRef:
    """Start a domain from a file ``domain_save`` wrote.

    :param path: the saved file.
    :param xml: a domain XML to use in place of the one in the file (only
        host-side details may differ), or None.
    :param flags: :class:`~pyvirt.flags.DomainSaveRestoreFlags` (BYPASS_CACHE, RUNNING or PAUSED
        overriding the state recorded in the file). virDomainRestore is this
        call with no ``xml`` and ``flags`` 0.
    :returns: the running (or paused) domain.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_managed_save(dom: DomainRef, flags: int) -> None:
    """Save a running domain to the driver's own location and stop it; its next start restores from there.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainSaveRestoreFlags` (BYPASS_CACHE, RUNNING or PAUSED: the state to restore into).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_managed_save_remove(dom: DomainRef, flags: int) -> None:
    """Discard a domain's managed save image, so that its next start boots afresh.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.

    Stops at first non-None result.

    Added in contract 1.0.
    """


# ---------------------------------------------------------------- domains: queries


@hookspec(firstresult=True)
def domain_get_info(dom: DomainRef) -> DomainInfo:
    """A domain's state, memory, virtual CPU count and CPU time (virDomainGetInfo).

    :param dom: the domain, as a lookup returned it.
    :returns: the state (virDomainState's number), maximum and current memory
        in KiB, the number of virtual CPUs and the CPU time used, in nanoseconds.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_get_state(dom: DomainRef) -> tuple[int, int]:
    """A domain's state and why it is in it (virDomainGetState).

    :param dom: the domain, as a lookup returned it.
    :returns: ``(state, reason)`` with libvirt's numbers: virDomainState
        (1 running, 3 paused, 5 shut off, ...) and the reason enum of that
        state (a shut-off domain's 1 is "shutdown", 2 "destroyed").

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_get_xml_desc(dom: DomainRef, flags: int) -> str:
    """A domain's XML document, as virDomainGetXMLDesc returns it.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainXMLFlags`: SECURE includes passwords (refused on a
        read-only connection), INACTIVE gives the persistent definition of a
        running domain, UPDATE_CPU the host-model CPU made concrete,
        MIGRATABLE what another host can start.
    :returns: the ``<domain>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_get_os_type(dom: DomainRef) -> str:
    """The guest's OS type (virDomainGetOSType). Optional.

    Without it the public API reads ``<os><type>`` from the definition
    (``hvm``, ``exe``, ``xen``...), which is what most libvirt drivers
    answer; a driver answers itself when libvirt's does something else (the
    test driver's ``linux``).

    :param dom: the domain, as a lookup returned it.
    :returns: the OS type.

    Stops at first non-None result.

    Added in contract 1.6.
    """


@hookspec(firstresult=True)
def domain_get_flags(dom: DomainRef) -> dict[str, bool]:
    """What the domain is, in one call: the booleans ``list --all`` filters on.

    Stands for virDomainIsPersistent, virDomainIsActive, virDomainGetAutostart,
    virDomainHasManagedSaveImage and virDomainIsUpdated together.

    :param dom: the domain, as a lookup returned it.
    :returns: ``persistent``, ``active``, ``autostart``, ``managed_save``,
        ``has_snapshot`` and ``updated``, each True or False.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_set_autostart(dom: DomainRef, autostart: bool) -> None:
    """Start the domain, or no longer, when the host (the daemon, once per boot) starts.

    :param dom: the domain, as a lookup returned it; it must be persistent.
    :param autostart: True to start it with the host, False to stop doing so.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_set_memory(dom: DomainRef, memory_kib: int, flags: int) -> None:
    """Set the memory the guest may use (its balloon target), or its maximum. Optional.

    virDomainSetMemory is this call with ``flags`` 0, and virDomainSetMaxMemory
    this call with MAXIMUM, as libvirt's drivers implement them.

    :param dom: the domain, as a lookup returned it.
    :param memory_kib: the new size in KiB.
    :param flags: :class:`~pyvirt.flags.DomainMemoryModFlags`: LIVE and/or CONFIG (0: the
        domain's current state), MAXIMUM to change the maximum instead (virsh's
        ``setmaxmem``). A driver refuses flags it does not support, as libvirt's
        virCheckFlags does.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_set_vcpus(dom: DomainRef, count: int, flags: int) -> None:
    """Set the number of virtual CPUs, or its maximum. Optional.

    virDomainSetVcpus is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param count: the new number (at least 1).
    :param flags: :class:`~pyvirt.flags.DomainVcpuFlags`: LIVE and/or CONFIG (0: the current
        state), MAXIMUM, GUEST (ask the guest agent to online or offline
        CPUs), HOTPLUGGABLE.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_attach_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Add a device (``<disk>``, ``<interface>``, ...) to the running domain, its persistent definition, or both.

    virDomainAttachDevice is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param xml: the device's XML element.
    :param flags: :class:`~pyvirt.flags.DomainDeviceModifyFlags`: LIVE and/or CONFIG; 0 means
        the domain's current state (live when it runs, else its definition).

    Stops at first non-None result.

    Added in contract 1.3.
    """


@hookspec(firstresult=True)
def domain_detach_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Remove the device that matches ``xml`` from the running domain, its persistent definition, or both.

    virDomainDetachDevice is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param xml: the device's XML element; enough of it to pick one device (a disk's target, a NIC's MAC).
    :param flags: :class:`~pyvirt.flags.DomainDeviceModifyFlags`: LIVE and/or CONFIG; 0 means the domain's current state.

    Stops at first non-None result.

    Added in contract 1.3.
    """


@hookspec(firstresult=True)
def domain_update_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Change a device in place (a CD-ROM's medium, a NIC's link state), live and/or persistently.

    :param dom: the domain, as a lookup returned it.
    :param xml: the device's new XML element, matched to the existing device as detach matches it.
    :param flags: :class:`~pyvirt.flags.DomainDeviceModifyFlags`: LIVE and/or CONFIG (0: the
        current state), FORCE to eject a locked medium.

    Stops at first non-None result.

    Added in contract 1.3.
    """


@hookspec(firstresult=True)
def domain_get_stats(dom: DomainRef, stats: int, flags: int) -> list[tuple[str, int | str]]:
    """virConnectGetAllDomainStats for one domain: its statistics as (field, value) pairs.

    :param dom: the domain, as a lookup returned it.
    :param stats: a VIR_DOMAIN_STATS_* mask (STATE 1, CPU_TOTAL 2, BALLOON 4,
        VCPU 8, INTERFACE 16, BLOCK 32, ...); 0 asks for every group the
        driver has. Groups the driver cannot report are left out.
    :param flags: :class:`~pyvirt.flags.ConnectGetAllDomainStatsFlags`; the domain filters are
        applied by the public API, the driver sees NOWAIT, BACKING and
        ENFORCE_STATS (a group it cannot report is then an error).
    :returns: ``(field, value)`` pairs with libvirt's field names
        (``state.state``, ``cpu.time``, ``balloon.current``, ...), in libvirt's order.

    Stops at first non-None result.

    Added in contract 1.3.
    """


@hookspec(firstresult=True)
def domain_interface_addresses(dom: DomainRef, source: int, flags: int) -> list[InterfaceAddresses]:
    """The addresses of each of the guest's network interfaces, as one source knows them.

    :param dom: the domain, as a lookup returned it.
    :param source: 0 the DHCP leases of the NIC's virtual network, 1 the
        guest agent (refused on a read-only connection: it runs a command in
        the guest), 2 the host's ARP table.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: one record per interface: its name, MAC and addresses.

    Stops at first non-None result.

    Added in contract 1.4.
    """


@hookspec(firstresult=True)
def domain_get_security_label(dom: DomainRef) -> list[SecurityLabel]:
    """The live security labels of the domain's process (virDomainGetSecurityLabelList).

    :param dom: the domain, as a lookup returned it.
    :returns: one label per security driver of the stack, the primary model's first.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def domain_open_console(dom: DomainRef, dev_name: str | None, flags: int) -> int:
    """A new file descriptor connected to one of the domain's consoles or serial ports.

    Bytes written to it go to the guest's console input; bytes read are its
    output. The caller owns the descriptor and closes it.

    :param dom: the domain, as a lookup returned it.
    :param dev_name: the console's alias (``serial0``, ``console1``), or None for the first console.
    :param flags: :class:`~pyvirt.flags.DomainConsoleFlags`: FORCE takes the console from
        another client holding it, SAFE refuses when the driver cannot prevent
        two clients from sharing it.
    :returns: the descriptor.

    Stops at first non-None result.

    Added in contract 1.2.
    """


# ---------------------------------------------------------------- domains: scheduler and screen


@hookspec(firstresult=True)
def domain_get_scheduler_type(dom: DomainRef) -> tuple[str, int]:
    """The host scheduler the domain runs under and how many tunables it has (virDomainGetSchedulerType).

    :param dom: the domain, as a lookup returned it.
    :returns: ``(type, nparams)``, e.g. ``("posix", 5)`` for QEMU on cgroups,
        ``("fair", 1)`` for libvirt's test driver.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def domain_get_scheduler_parameters(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The scheduler's tunables with their libvirt types.

    virDomainGetSchedulerParameters is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG, 0 for the
        current state; also :class:`~pyvirt.flags.TypedParameterFlags` OKAY
        (VIR_TYPED_PARAM_STRING_OKAY, 4) when the caller accepts STRING values.
    :returns: every parameter of the scheduler, in the driver's order.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def domain_set_scheduler_parameters(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """Change scheduler tunables; nothing is changed when any parameter is refused.

    virDomainSetSchedulerParameters is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param params: the parameters to change; the driver refuses unknown
        fields, wrong types and repeats, as libvirt's virTypedParamsValidate does.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG, 0 for the current state.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def domain_screenshot(dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
    """An image of one of the guest's screens.

    :param dom: the domain, as a lookup returned it.
    :param screen: which head of the video device (0: the first).
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: ``(mime_type, fd)``: the image's MIME type (``image/png``,
        ``image/x-portable-pixmap``) and a readable descriptor that yields the
        whole image then end-of-file. The caller owns and closes it; the daemon
        relays it as the call's stream, as libvirt streams the file.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def domain_abort_job(dom: DomainRef, flags: int) -> None:
    """Cancel the domain's running long job (a save, a snapshot, a migration). Optional.

    A driver without long jobs answers NO_SUPPORT, as libvirt's test driver
    does. The job's own caller then fails with OPERATION_ABORTED ("operation
    aborted: job 'domain save' canceled by client") and the guest is left as
    it was before the job. virDomainAbortJob is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainAbortJobFlags`: POSTCOPY aborts only an outgoing
        migration in post-copy mode.
    :raises Error: OPERATION_INVALID when no job runs or the running one cannot be aborted.

    Stops at first non-None result.

    Added in contract 1.8.
    """


# ---------------------------------------------------------------- domains: metadata, guest controls, statistics
# (contract 1.11, all optional: a driver without them answers NO_SUPPORT, and virsh's commands say so)


@hookspec(firstresult=True)
def domain_get_metadata(dom: DomainRef, type: int, uri: str | None, flags: int) -> str:
    """The domain's title, description, or one namespace's element of ``<metadata>``.

    :param dom: the domain, as a lookup returned it.
    :param type: virDomainMetadataType: 0 description, 1 title, 2 the element of namespace ``uri``.
    :param uri: the namespace URI of the element (type 2 only; None otherwise).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG picks the
        definition read (0: the running one when the domain runs).
    :returns: the text, or the element serialised with its namespace declared on it.
    :raises Error: NO_DOMAIN_METADATA ("Requested metadata element is not present") when
        there is none, which virsh reports as an empty description.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_set_metadata(
    dom: DomainRef, type: int, metadata: str | None, key: str | None, uri: str | None, flags: int
) -> None:
    """Set or remove the domain's title, description, or one namespace's element of ``<metadata>``.

    An empty or None ``metadata`` removes it. A driver emits the METADATA_CHANGE
    event, as libvirt's drivers do.

    :param dom: the domain, as a lookup returned it.
    :param type: virDomainMetadataType: 0 description, 1 title, 2 element.
    :param metadata: the new text, or for type 2 one XML element (its namespace is
        replaced by ``uri`` with prefix ``key``).
    :param key: the namespace prefix of the element (type 2 only).
    :param uri: the namespace URI of the element (type 2 only).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the
        domain's current state).

    Stops at first non-None result.

    Added in contract 1.11.
    """  # fmt: skip


@hookspec(firstresult=True)
def domain_rename(dom: DomainRef, new_name: str, flags: int) -> None:
    """Give an inactive persistent domain another name (its UUID stays).

    :param dom: the domain, as a lookup returned it; callers look it up again by ``new_name``.
    :param new_name: the new name, unused by any other domain.
    :param flags: libvirt defines no flags for virDomainRename; 0.
    :raises Error: OPERATION_INVALID for a running or transient domain.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_reset(dom: DomainRef, flags: int) -> None:
    """Reset the running guest at once, as its reset button would (no guest cooperation).

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags for virDomainReset; 0.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_inject_nmi(dom: DomainRef, flags: int) -> None:
    """Send a non-maskable interrupt to the running guest (a kernel then typically dumps or panics).

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags for virDomainInjectNMI; 0.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_send_key(dom: DomainRef, codeset: int, holdtime: int, keycodes: list[int], flags: int) -> None:
    """Press and release keys on the guest's keyboard, all at once.

    :param dom: the domain, as a lookup returned it.
    :param codeset: virKeycodeSet of ``keycodes`` (0 linux, 1 xt, ..., 6 usb, 7 win32, 8 qnum).
    :param holdtime: how long the keys stay pressed, in milliseconds (0: the hypervisor's default).
    :param keycodes: at most 16 key codes of ``codeset``.
    :param flags: libvirt defines no flags for virDomainSendKey; 0.
    :raises Error: INTERNAL_ERROR "invalid keycode N of CODESET codeset" for a code the codeset lacks.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_time(dom: DomainRef, flags: int) -> tuple[int, int]:
    """The guest's clock, as seconds and nanoseconds since the epoch (asked of the guest agent).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param flags: libvirt defines no flags for virDomainGetTime; 0.
    :returns: ``(seconds, nanoseconds)``.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_set_time(dom: DomainRef, seconds: int, nseconds: int, flags: int) -> None:
    """Set the guest's clock (through the guest agent), or with SYNC resynchronise it from its RTC.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param seconds: seconds since the epoch (ignored with SYNC).
    :param nseconds: nanoseconds within that second.
    :param flags: :class:`~pyvirt.flags.DomainSetTimeFlags`: SYNC reads the time from the
        guest's RTC instead.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_hostname(dom: DomainRef, flags: int) -> str:
    """The guest's host name, from the guest agent or the DHCP leases of its networks.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param flags: :class:`~pyvirt.flags.DomainGetHostnameFlags`: AGENT or LEASE picks the
        source (0: the driver's default).
    :returns: the host name.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_memory_stats(dom: DomainRef, max_stats: int, flags: int) -> list[tuple[int, int]]:
    """The guest's memory statistics from its balloon driver (virsh's ``dommemstat``).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param max_stats: the most statistics the caller takes; the first ones are returned.
    :param flags: libvirt defines no flags for virDomainMemoryStats; 0.
    :returns: ``(tag, value)`` pairs, tags of virDomainMemoryStatTags in libvirt's order
        (0 swap_in ... 6 actual, 7 rss, 8 usable, 9 last_update, 10 disk_caches,
        11 hugetlb_pgalloc, 12 hugetlb_pgfail), sizes in KiB; empty without a balloon.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_vcpus_flags(dom: DomainRef, flags: int) -> int:
    """The number of vCPUs of the running or persistent definition, or its maximum.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainVcpuFlags`: LIVE or CONFIG picks the definition
        (0: the current one), MAXIMUM the maximum instead, GUEST the count the guest agent sees.
    :returns: the count.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_vcpus(dom: DomainRef, maxinfo: int, maplen: int) -> list[VcpuInfo]:
    """What each vCPU of the running domain does now, and where it may run (virsh's ``vcpuinfo``).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param maxinfo: the most vCPUs to describe (the first ones).
    :param maplen: the bytes of each ``cpumap`` (one bit per host CPU).
    :returns: one record per vCPU, in vCPU order.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_vcpu_pin_info(dom: DomainRef, ncpumaps: int, maplen: int, flags: int) -> list[bytes]:
    """The host CPUs each vCPU is pinned to in the running or persistent definition.

    :param dom: the domain, as a lookup returned it.
    :param ncpumaps: the most vCPUs to describe (the first ones).
    :param maplen: the bytes of each map (one bit per host CPU).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG picks the
        definition (0: the current one).
    :returns: one byte map per vCPU, ``maplen`` bytes each (every host CPU when not pinned).

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_set_memory_stats_period(dom: DomainRef, period: int, flags: int) -> None:
    """How often the guest's balloon driver reports its memory statistics (``<memballoon><stats period>``).

    :param dom: the domain, as a lookup returned it.
    :param period: seconds between reports; 0 stops them.
    :param flags: :class:`~pyvirt.flags.DomainMemoryModFlags`: LIVE and/or CONFIG (0: the
        current state).
    :raises Error: INTERNAL_ERROR "No memory balloon device configured, can not set the collection
        period" for a definition without a balloon.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_pin_vcpu(dom: DomainRef, vcpu: int, cpumap: bytes, flags: int) -> None:
    """Restrict one vCPU to some host CPUs, now and/or from the next start (``<cputune><vcpupin>``).

    virDomainPinVcpu is this call with ``flags`` 0.

    :param dom: the domain, as a lookup returned it.
    :param vcpu: the vCPU's number.
    :param cpumap: the host CPUs it may use (CPU ``n`` is bit ``n % 8`` of byte ``n // 8``).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the
        current state).
    :raises Error: INVALID_ARG "Empty cpu list for pinning" for a map with no CPU.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_block_stats(dom: DomainRef, path: str) -> BlockStats:
    """I/O counters of one disk of the running domain.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :returns: the counters, -1 for those the driver does not know.
    :raises Error: INVALID_ARG "invalid path: PATH" for a disk the domain does not have.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_interface_stats(dom: DomainRef, device: str) -> InterfaceStats:
    """Traffic counters of one NIC of the running domain.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param device: the NIC's host-side device name (``vnet0``) or its MAC address.
    :returns: the counters, -1 for those the driver does not know.
    :raises Error: INVALID_ARG "'DEVICE' is not a known interface" for a NIC the domain does not have.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def domain_get_block_info(dom: DomainRef, path: str, flags: int) -> BlockInfo:
    """The sizes of one disk: as the guest sees it, as its image uses the host, and the host file's size.

    :param dom: the domain, as a lookup returned it.
    :param path: the disk's target (``vda``) or source path.
    :param flags: libvirt defines no flags for virDomainGetBlockInfo; 0.
    :returns: capacity, allocation and physical size in bytes.
    :raises Error: INVALID_ARG "invalid path PATH not assigned to domain" for a disk the domain does not have.

    Stops at first non-None result.

    Added in contract 1.11.
    """


# ---------------------------------------------------------------- emulator pinning, block counters (contract 1.12)


@hookspec(firstresult=True)
def domain_get_emulator_pin_info(dom: DomainRef, maplen: int, flags: int) -> bytes:
    """The host CPUs the emulator's own threads (everything but the vCPUs) may run on (virsh's ``emulatorpin``).

    :param dom: the domain, as a lookup returned it.
    :param maplen: the bytes of the map (one bit per host CPU).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG picks the
        definition (0: the current one).
    :returns: ``maplen`` bytes: ``<cputune><emulatorpin>``, else ``<vcpu cpuset>``, else every host CPU.

    Stops at first non-None result.

    Added in contract 1.12.
    """


@hookspec(firstresult=True)
def domain_pin_emulator(dom: DomainRef, cpumap: bytes, flags: int) -> None:
    """Restrict the emulator's threads to some host CPUs, now and/or from the next start (``<emulatorpin>``).

    :param dom: the domain, as a lookup returned it.
    :param cpumap: the host CPUs they may use (CPU ``n`` is bit ``n % 8`` of byte ``n // 8``).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the
        current state).
    :raises Error: INVALID_ARG "Empty cpu list for pinning" for a map with no CPU.

    Stops at first non-None result.

    Added in contract 1.12.
    """


@hookspec(firstresult=True)
def domain_block_stats_flags(dom: DomainRef, path: str, flags: int) -> list[TypedParam]:
    """Every I/O counter the driver keeps for one disk (or all disks), by libvirt's field names.

    Beside :func:`domain_block_stats`' five fixed counters this carries the ones
    only some drivers have (``flush_operations``, ``rd_total_times``, ...); virsh's
    ``domblkstat`` prints these when the driver has the call.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path; ``""`` sums every disk.
    :param flags: :class:`~pyvirt.flags.TypedParameterFlags` OKAY (string values accepted) or 0.
    :returns: the counters, as LLONG typed parameters named as libvirt's
        ``VIR_DOMAIN_BLOCK_STATS_*`` (``rd_bytes``, ``rd_operations``, ...).
    :raises Error: INVALID_ARG "invalid path: PATH" for a disk the domain does not have.

    Stops at first non-None result.

    Added in contract 1.12.
    """


@hookspec(firstresult=True)
def domain_get_block_job_info(dom: DomainRef, path: str, flags: int) -> tuple[int, int, int, int]:
    """The block job running on one disk of the running domain, and how far it got (virsh's ``blockjob``).

    Tools that wait for a copy (virsh's ``blockcopy --wait``, a storage
    migration's watcher) poll this for their progress line.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param flags: :class:`~pyvirt.flags.DomainBlockJobInfoFlags` BYTES for the bandwidth in bytes/s
        (0: MiB/s, rounded up).
    :returns: ``(type, bandwidth, cur, end)``: the job's virDomainBlockJobType (``COPY`` 2 for a
        mirror), its bandwidth limit (0: none), and the progress as ``cur`` of ``end``; ``(0, 0, 0, 0)``
        when the disk has no job (libvirt's return value 0).
    :raises Error: INVALID_ARG "disk 'PATH' not found in domain" for a disk the domain does not have.

    Stops at first non-None result.

    Added in contract 1.12.
    """


# ---------------------------------------------------------------- block copy and block job control (contract 1.13)


@hookspec(firstresult=True)
def domain_block_copy(dom: DomainRef, path: str, destxml: str, params: list[TypedParam], flags: int) -> None:
    """Start copying one disk of the running domain to a new image (virsh's ``blockcopy``; virDomainBlockCopy).

    The copy runs as the disk's block job: the guest keeps writing to the old
    image while every write also goes to the new one. Once the new image caught
    up the job is *ready* (a BLOCK_JOB / BLOCK_JOB_2 READY event) and stays in
    that mirroring phase until :func:`domain_block_job_abort` ends it, with
    PIVOT to switch the disk over to the copy. While the job runs the disk's
    live XML shows ``<mirror>``.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param destxml: the destination as a ``<disk>`` element (``type`` file or block, ``<source>``,
        ``<driver type>``).
    :param params: ``bandwidth`` (ULLONG, bytes/s), ``granularity`` (UINT, a power of two),
        ``buf-size`` (ULLONG), as libvirt's ``VIR_DOMAIN_BLOCK_COPY_*`` names.
    :param flags: :class:`~pyvirt.flags.DomainBlockCopyFlags` (SHALLOW, REUSE_EXT, TRANSIENT_JOB,
        SYNCHRONOUS_WRITES).
    :raises Error: BLOCK_COPY_ACTIVE when the disk has a block job already; OPERATION_INVALID
        "domain is not running".

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_block_rebase(dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int) -> None:
    """The older call behind virsh's ``blockpull --base`` and ``blockcopy`` without new options (virDomainBlockRebase).

    With :class:`~pyvirt.flags.DomainBlockRebaseFlags` COPY, ``base`` is the
    destination file (COPY_DEV: a block device; COPY_RAW: a raw image) and the
    call starts the same job as :func:`domain_block_copy`.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param base: the copy's destination (COPY), else the backing image a pull stops at (None: all).
    :param bandwidth: the job's speed limit, MiB/s (BANDWIDTH_BYTES: bytes/s); 0 for none.
    :param flags: :class:`~pyvirt.flags.DomainBlockRebaseFlags`.

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_block_job_abort(dom: DomainRef, path: str, flags: int) -> None:
    """End the block job of one disk (virsh's ``blockjob --abort/--pivot``; virDomainBlockJobAbort).

    Without PIVOT the disk stays on its old image and the copy is left as it
    is (a CANCELED event); with PIVOT a ready copy becomes the disk's image (a
    COMPLETED event). ASYNC returns once the request is made; otherwise the call
    returns when the job is gone.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param flags: :class:`~pyvirt.flags.DomainBlockJobAbortFlags` ASYNC, PIVOT.
    :raises Error: OPERATION_INVALID "disk 'vda' does not have an active block job"; BLOCK_COPY_ACTIVE
        "disk 'vda' not ready for pivot yet" for a PIVOT before the job is ready.

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_block_job_set_speed(dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
    """Change the speed limit of one disk's block job (virsh's ``blockjob --bandwidth``).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param bandwidth: MiB/s (:class:`~pyvirt.flags.DomainBlockJobSetSpeedFlags` BYTES: bytes/s); 0 lifts
        the limit.
    :param flags: :class:`~pyvirt.flags.DomainBlockJobSetSpeedFlags`.
    :raises Error: OPERATION_INVALID "disk 'vda' does not have an active block job".

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_block_pull(dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
    """Fill one disk's top image from its whole backing chain (virsh's ``blockpull``; virDomainBlockPull).

    The pull runs as the disk's block job (type PULL); when it completes the
    top image no longer needs a backing file, the live XML's chain ends with
    ``<backingStore/>`` and a BLOCK_JOB / BLOCK_JOB_2 COMPLETED event follows. A pull down to a
    chosen base is :func:`domain_block_rebase` without COPY.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param bandwidth: the job's speed limit, MiB/s (:class:`~pyvirt.flags.DomainBlockPullFlags` BYTES: bytes/s).
    :param flags: :class:`~pyvirt.flags.DomainBlockPullFlags`.
    :raises Error: BLOCK_COPY_ACTIVE "disk 'vda' already in active block job".

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_block_commit(dom: DomainRef, path: str, base: str | None, top: str | None, bandwidth: int,
                        flags: int) -> None:  # fmt: skip
    """Merge images of a disk's chain down into a lower one (virsh's ``blockcommit``; virDomainBlockCommit).

    The images from ``top`` down to just above ``base`` are written into
    ``base`` as the disk's block job (type COMMIT); when it completes they leave
    the chain. With ACTIVE the top is the disk's running image (type
    ACTIVE_COMMIT): the job reaches READY and waits for
    :func:`domain_block_job_abort`, PIVOT making ``base`` the disk's image.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param path: the disk's target (``vda``) or source path.
    :param base: the image that receives the data (a path or ``vda[N]``); None: the chain's last image
        (SHALLOW: the one just below ``top``).
    :param top: the highest image merged; None: the disk's running image.
    :param bandwidth: the job's speed limit, MiB/s (BANDWIDTH_BYTES: bytes/s).
    :param flags: :class:`~pyvirt.flags.DomainBlockCommitFlags` SHALLOW, ACTIVE, RELATIVE, BANDWIDTH_BYTES.
    :raises Error: INVALID_ARG "commit of 'vda' active layer requires active flag" and libvirt's other chain
        errors.

    Stops at first non-None result.

    Added in contract 1.13.
    """


# ---------------------------------------------------------------- migration (contract 1.10)
# libvirt's migration protocol version 3 with parameters (virDomainMigrate*3Params): the source runs Begin,
# Perform and Confirm, the destination Prepare and Finish. Whoever drives the phases (the client library, or
# the source driver itself for peer-to-peer) passes each phase's cookie to the next one unchanged.


@hookspec(firstresult=True)
def domain_migrate_begin(dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
    """Migration, source side, first phase (virDomainMigrateBegin3Params): check the domain can go, start the outgoing job.

    libvirt's migration protocol version 3 with parameters: the source runs
    Begin, Perform and Confirm, the destination Prepare and Finish. Whoever
    drives the phases (the client library, or the source driver itself for
    peer-to-peer) passes each phase's cookie to the next one unchanged.

    :param dom: the running domain.
    :param params: libvirt's VIR_MIGRATE_PARAM_* values (``destination_xml``, ``destination_name``, ...).
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags` (VIR_MIGRATE_*; ``pyvirt.migration.MigrateFlag`` has the same values).
    :returns: ``(xml, cookie)``: the domain XML the destination is to start, and the cookie for Prepare.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_migrate_prepare(params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
    """Migration, destination side (virDomainMigratePrepare3Params): start the incoming domain, waiting for its state.

    :param params: as given to Begin, with ``destination_xml`` set to Begin's XML.
    :param cookie: Begin's cookie.
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags`.
    :returns: ``(cookie, uri)``: the cookie for Perform and the URI the source
        must send to (None: the caller's ``migrate_uri`` parameter stands).

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_migrate_prepare_tunnel(params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
    """virDomainMigratePrepareTunnel3Params (destination): Prepare for a tunnelled migration.

    The incoming domain reads its migration stream from the descriptor returned
    instead of a port: the source sends QEMU's stream through libvirt's RPC
    connection (VIR_MIGRATE_TUNNELLED, peer to peer only), and the daemon
    relays that RPC stream into the descriptor.

    :param params: as for Prepare.
    :param cookie: Begin's cookie.
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags`, with TUNNELLED and PEER2PEER set.
    :returns: ``(cookie, fd)``: the cookie for Perform and a writable descriptor the caller owns; closing
        it ends the stream.

    Added in contract 1.10. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_migrate_perform(
    dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
) -> bytes:
    """Migration, source side (virDomainMigratePerform3Params): send the domain; it stays paused here until Confirm.

    :param dom: the domain, as a lookup returned it.
    :param dconnuri: the destination's libvirt URI for peer-to-peer migration
        (PEER2PEER): the source driver then runs Prepare, Finish and Confirm
        itself; None when the caller drives the phases.
    :param params: the parameters, ``migrate_uri`` set from Prepare.
    :param cookie: Prepare's cookie.
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags`.
    :returns: the cookie for Finish.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_migrate_finish(
    params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> tuple[DomainRef, bytes]:
    """Migration, destination side (virDomainMigrateFinish3Params): run the domain that arrived, or discard it.

    :param params: the parameters (``destination_name`` names the domain).
    :param cookie: Perform's cookie.
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags` (PERSIST_DEST defines the domain here, PAUSED leaves it paused).
    :param cancelled: Perform failed: kill the incoming domain and leave nothing behind.
    :returns: ``(domain, cookie)``; when cancelled (or the domain cannot run)
        an error is raised instead, and the source then resumes its domain.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_migrate_confirm(
    dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
) -> None:
    """Migration, source side, last phase (virDomainMigrateConfirm3Params): end the outgoing job.

    :param dom: the domain, as a lookup returned it.
    :param params: the parameters.
    :param cookie: Finish's cookie.
    :param flags: :class:`~pyvirt.flags.DomainMigrateFlags` (UNDEFINE_SOURCE removes the definition here).
    :param cancelled: the destination does not run the domain: resume it here; otherwise stop it here.

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_get_job_stats(dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]]:
    """Progress of the domain's running long job (a migration, a save), as virDomainGetJobStats reports it.

    virDomainGetJobInfo is derived from the same fields.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainGetJobStatsFlags`: COMPLETED asks for the last
        completed job instead, KEEP_COMPLETED keeps its statistics for another call.
    :returns: ``(type, params)``: virDomainJobType (0 none, 1 bounded, 2
        unbounded, 3 completed, 4 failed, 5 cancelled) and libvirt's
        VIR_DOMAIN_JOB_* fields (``time_elapsed``, ``data_total``,
        ``data_processed``, ``data_remaining``, ``memory_*``, ``downtime``, ...).

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def domain_migrate_start_post_copy(dom: DomainRef, flags: int) -> None:
    """Switch the domain's outgoing migration from pre-copy to post-copy (virDomainMigrateStartPostCopy). Optional.

    The guest then runs on the destination, which fetches the pages it has
    not received yet from the source on demand; the source's domain is paused
    ("paused (post-copy)") until the migration ends.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :raises Error: OPERATION_INVALID when no outgoing migration runs, or when it was started without
        :attr:`~pyvirt.flags.DomainMigrateFlags.POSTCOPY`.

    Stops at first non-None result.

    Added in contract 1.12.
    """


@hookspec(firstresult=True)
def domain_migrate_set_max_downtime(dom: DomainRef, downtime: int, flags: int) -> None:
    """Set how long the guest may stay paused for the last pass of a live migration (virDomainMigrateSetMaxDowntime).

    The hypervisor ends pre-copy only once what is left to send fits in that
    pause at the measured speed; a smaller value makes convergence harder.
    It may be set before a migration or while one runs (beside its job).
    Optional.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param downtime: the longest pause, in milliseconds.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :raises Error: OPERATION_INVALID when the domain is not running.

    Stops at first non-None result.

    Added in contract 1.13.
    """


@hookspec(firstresult=True)
def domain_migrate_get_max_downtime(dom: DomainRef, flags: int) -> int:
    """The longest pause a live migration of the domain may take for its last pass, in milliseconds
    (virDomainMigrateGetMaxDowntime). Optional.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the hypervisor's current limit (QEMU's default is 300 ms).
    :raises Error: OPERATION_INVALID when the domain is not running, or the hypervisor cannot tell.

    Stops at first non-None result.

    Added in contract 1.13.
    """


# ---------------------------------------------------------------- a disk's write threshold (contract 1.14)


@hookspec(firstresult=True)
def domain_set_block_threshold(dom: DomainRef, dev: str, threshold: int, flags: int) -> None:
    """Ask for one block-threshold event when the guest's writes reach ``threshold`` bytes of an image
    (virDomainSetBlockThreshold). Optional.

    Why: thin-provisioned storage (a qcow2 on LVM, say) grows before it fills;
    management software learns when to extend it without polling. The
    threshold fires once and is then cleared; 0 clears it.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param dev: the disk's target (``vda``, whose events then name ``vda`` and ``vda[N]``) or one image of its
        chain by index (``vda[2]``, whose events name only that).
    :param threshold: the offset in bytes of the image's highest written sector that raises the event.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :raises Error: OPERATION_INVALID when the domain is not running; INVALID_ARG for a disk or index the
        domain has not ("failed to find disk 'x'").

    Stops at first non-None result.

    Added in contract 1.14.
    """


# ---------------------------------------------------------------- QEMU-only block and migration tuning (contract 1.15)


@hookspec(firstresult=True)
def domain_block_resize(dom: DomainRef, disk: str, size: int, flags: int) -> None:
    """Grow (or shrink) the image behind one disk of a running domain (virDomainBlockResize). Optional.

    Why: a guest that runs out of disk gets more without a restart; the
    guest sees the new capacity at once (virtio-blk reports it).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param disk: the disk's target (``vda``) or its source path, as virDomainDiskByName finds it.
    :param size: the new size, in KiB, or in bytes with ``VIR_DOMAIN_BLOCK_RESIZE_BYTES`` (1).
    :param flags: :class:`~pyvirt.flags.DomainBlockResizeFlags` (BYTES: ``size`` is in bytes, not KiB); a driver
        refuses any other.
    :raises Error: OPERATION_INVALID when the domain is not running; INVALID_ARG for a disk the domain has not
        ("disk 'x' was not found in the domain config"); OPERATION_UNSUPPORTED for an empty or read-only disk.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_migrate_set_max_speed(dom: DomainRef, bandwidth: int, flags: int) -> None:
    """Set the bandwidth (MiB/s) the domain's migrations may use (virDomainMigrateSetMaxSpeed). Optional.

    Why: a migration left unthrottled can fill the link the guests' own
    traffic shares. The pre-copy value is remembered for the domain (also
    while it is shut off) and used by every migration that names none.

    :param dom: the domain, as a lookup returned it.
    :param bandwidth: MiB/s.
    :param flags: :class:`~pyvirt.flags.DomainMigrateMaxSpeedFlags` (POSTCOPY: the post-copy phase's limit
        instead; the domain must then be running).
    :raises Error: OVERFLOW above the largest value ("bandwidth must be less than N").

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_migrate_get_max_speed(dom: DomainRef, flags: int) -> int:
    """The bandwidth (MiB/s) the domain's migrations may use (virDomainMigrateGetMaxSpeed). Optional.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainMigrateMaxSpeedFlags` (POSTCOPY: the post-copy limit, read from
        the running hypervisor).
    :returns: MiB/s.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- migration compression cache, dirty rate (1.16)


@hookspec(firstresult=True)
def domain_migrate_get_compression_cache(dom: DomainRef, flags: int) -> int:
    """The size of the cache a live migration's XBZRLE compression keeps of sent pages
    (virDomainMigrateGetCompressionCache). Optional.

    Why: repeatedly dirtied pages travel as deltas against this cache; an operator sizes it to the guest's
    working set before a migration.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param flags: libvirt defines no flags (0).
    :returns: the cache's size in bytes, as the hypervisor holds it.
    :raises Error: OPERATION_INVALID "domain is not running" for an inactive domain.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_migrate_set_compression_cache(dom: DomainRef, size: int, flags: int) -> None:
    """Resize the XBZRLE compression cache of the domain's live migrations (virDomainMigrateSetCompressionCache).
    Optional.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param size: the new size in bytes (the hypervisor may refuse one that is not a power of two or too big).
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_start_dirty_rate_calc(dom: DomainRef, seconds: int, flags: int) -> None:
    """Start measuring how fast the guest dirties its memory (virDomainStartDirtyRateCalc). Optional.

    Why: whether a live migration can converge depends on that rate against the bandwidth; the result is read
    later through the ``dirtyrate`` group of the domain's statistics (``dirtyrate.calc_status`` etc.).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param seconds: how long to measure, 1 to 60 (libvirt's bounds; CONFIG_UNSUPPORTED outside them).
    :param flags: :class:`~pyvirt.flags.DomainDirtyRateCalcFlags`: the measuring mode (page sampling, the
        dirty bitmap, or KVM's dirty ring).

    Stops at first non-None result.

    Added in contract 1.16.
    """


# ---------------------------------------------------------------- backup (contract 1.16)


@hookspec(firstresult=True)
def domain_backup_begin(dom: DomainRef, xml: str, checkpoint_xml: str | None, flags: int) -> None:
    """Start copying the running guest's disks out while it runs (virDomainBackupBegin). Optional.

    Why: a consistent point-in-time copy of every disk without stopping the guest; the copy runs as the
    domain's asynchronous backup job (``domjobinfo``, ``domjobabort``, a job-completed event at its end).

    :param dom: the domain, as a lookup returned it; it must be running.
    :param xml: a ``<domainbackup>`` document (mode, disks and their targets; libvirt's defaults fill the rest).
    :param checkpoint_xml: a ``<domaincheckpoint>`` to create at the same instant, or None.
    :param flags: :class:`~pyvirt.flags.DomainBackupBeginFlags` (REUSE_EXTERNAL: the targets exist already).
    :raises Error: OPERATION_INVALID "another backup job is already running"; CONFIG_UNSUPPORTED for a disk the
        domain does not have.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_backup_get_xml_desc(dom: DomainRef, flags: int) -> str:
    """The running backup job's ``<domainbackup>``, with libvirt's defaults filled in
    (virDomainBackupGetXMLDesc). Optional.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: the document.
    :raises Error: NO_DOMAIN_BACKUP "no domain backup job present" when none runs.

    Stops at first non-None result.

    Added in contract 1.16.
    """


# ---------------------------------------------------------------- QEMU pass-through, libvirt-qemu (contract 1.15)


@hookspec(firstresult=True)
def domain_qemu_monitor_command(dom: DomainRef, cmd: str, flags: int) -> str:
    """Send one command, as written, to the running guest's QEMU monitor (virDomainQemuMonitorCommand). Optional.

    Why: a QEMU feature libvirt has no API for yet is still reachable
    (debugging, experiments); the driver loses track of what such a
    command changes, which is why libvirt marks the domain tainted.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param cmd: a QMP command as a JSON object, or with ``VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`` (1) a human
        monitor command line.
    :param flags: :class:`~pyvirt.flags.DomainQemuMonitorCommandFlags` (HMP: ``cmd`` is a human monitor command);
        a driver refuses any other.
    :returns: QEMU's whole reply as JSON text (its ``return`` or its ``error``), or the human monitor's text.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_qemu_agent_command(dom: DomainRef, cmd: str, timeout: int, flags: int) -> str:
    """Send one command, as written, to the guest agent of a running guest (virDomainQemuAgentCommand). Optional.

    :param dom: the domain, as a lookup returned it; it must be running with its agent connected.
    :param cmd: a guest agent command as a JSON object.
    :param timeout: seconds to wait for the answer; -2 blocks, -1 is the driver's default, 0 does not wait.
    :param flags: libvirt defines no flags for virDomainQemuAgentCommand; a driver refuses any.
    :returns: the agent's reply as JSON text.
    :raises Error: AGENT_UNRESPONSIVE when the agent is not connected or does not answer in time.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- core dump (contract 1.14)


@hookspec(firstresult=True)
def domain_core_dump(dom: DomainRef, to: str, dumpformat: int, flags: int) -> None:
    """Write a running domain's memory to a file for a debugger (virDomainCoreDumpWithFormat). Optional.

    Why: a hung or crashed guest kernel is analysed afterwards (crash, gdb)
    from its memory; ``CRASH`` then stops the guest, ``RESET`` restarts it,
    ``LIVE`` keeps it running while the dump is taken.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param to: the file to write, an absolute path (the facade made it one, as libvirt's client library does).
    :param dumpformat: libvirt's virDomainCoreDumpFormat: 0 raw (what virDomainCoreDump asks for; an ELF file
        with ``MEMORY_ONLY``), 1 kdump-zlib, 2 kdump-lzo, 3 kdump-snappy, 4 win-dmp (the last four only with
        ``MEMORY_ONLY``).
    :param flags: :class:`~pyvirt.flags.DomainCoreDumpFlags` (CRASH, LIVE, BYPASS_CACHE, RESET, MEMORY_ONLY).
        The facade has already refused CRASH with LIVE or RESET and LIVE with RESET, and a format past the
        last one libvirt knows.
    :raises Error: OPERATION_INVALID when the domain is not running; SYSTEM_ERROR when the file cannot be
        written; OPERATION_UNSUPPORTED for a format the driver cannot write.

    Stops at first non-None result.

    Added in contract 1.14.
    """


# ---------------------------------------------------------------- starting with passed files (contract 1.15)


@hookspec(firstresult=True)
def domain_fd_associate(dom: DomainRef, name: str, files: list[int], flags: int) -> None:
    """Keep the caller's descriptors under ``name`` for the domain's disks (virDomainFDAssociate). Optional.

    Why: a client that may open an image the driver may not (another user's
    file, a file only it can reach) hands the open descriptors over; a disk
    whose ``<source>`` names the group (``fdgroup='NAME'``) is then opened
    through them when the domain starts or the disk is attached. Replaces a
    group of the same name; the group goes when the connection that made it
    closes (libvirt's close callback).

    :param dom: the domain, as a lookup returned it (running or not).
    :param name: the group's name.
    :param files: descriptors of the caller, at least one; the driver keeps duplicates (they stay the caller's).
    :param flags: :class:`~pyvirt.flags.DomainFDAssociateFlags`: RESTORE (give the file its label back when
        done), WRITABLE (label it writable); a driver refuses any other.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_lxc_open_namespace(dom: DomainRef, flags: int) -> list[int]:
    """Open the namespaces of a running container's init (virDomainLxcOpenNamespace, libvirt-lxc). Optional.

    Why: ``virsh lxc-enter-namespace`` runs a command inside a container from
    the host; the client joins the namespaces with ``setns`` on these
    descriptors, so the driver never runs anything in the guest itself.

    :param dom: the domain, as a lookup returned it; it must be running.
    :param flags: libvirt defines no flags (0).
    :returns: new descriptors of /proc/INIT/ns/{user,ipc,uts,net,pid,mnt}, in that order, each one the host
        has (libvirt's virProcessGetNamespaces); the caller owns and closes them.
    :raises Error: OPERATION_INVALID "domain is not running" when it is not.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_create_with_files(dom: DomainRef, files: list[int], flags: int) -> None:
    """Start a defined domain handing it open file descriptors (virDomainCreateWithFiles). Optional.

    Why: a service in a container that systemd-style socket activation
    started takes its listening sockets from its parent; libvirt's LXC driver
    makes the caller's descriptors the container init's fds 3, 4, ... in the
    order given (``LISTEN_FDS`` style), so the init needs no host path.

    :param dom: the domain, as a lookup returned it.
    :param files: descriptors of this process, in the order the guest gets them; possibly empty. They stay
        the caller's: a driver that hands one on keeps its own duplicate and never closes these.
    :param flags: :class:`~pyvirt.flags.DomainCreateFlags` the driver accepts for a start (libvirt's LXC
        driver: START_AUTODESTROY).
    :raises Error: OPERATION_INVALID when the domain is already running; what a start raises otherwise.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_create_xml_with_files(xml: str, files: list[int], flags: int) -> DomainRef:
    """Create and start a transient domain handing it open file descriptors (virDomainCreateXMLWithFiles).
    Optional.

    Why: as ``domain_create_with_files``, for a guest that exists only while it runs.

    :param xml: the ``<domain>`` document.
    :param files: descriptors of this process, in the order the guest gets them (see
        ``domain_create_with_files``: they stay the caller's).
    :param flags: :class:`~pyvirt.flags.DomainCreateFlags` (START_AUTODESTROY, START_VALIDATE, ...).
    :returns: the running domain.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- the XML of save images (contract 1.15)


@hookspec(firstresult=True)
def domain_save_image_get_xml_desc(path: str, flags: int) -> str:
    """The domain XML a save image holds (virDomainSaveImageGetXMLDesc). Optional.

    Why: before a restore, an operator checks (or edits, with
    ``domain_save_image_define_xml``) the definition the guest will come back
    with, e.g. a disk path that moved while the guest was saved.

    :param path: an absolute path (the facade makes the caller's relative one absolute, as libvirt's library).
    :param flags: :class:`~pyvirt.flags.DomainSaveImageXMLFlags` (SECURE: include secrets such as VNC
        passwords).
    :returns: the ``<domain>`` document.
    :raises Error: as the driver's restore would for a file that is not its save image.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_save_image_define_xml(path: str, xml: str, flags: int) -> None:
    """Replace the domain XML a save image holds (virDomainSaveImageDefineXML). Optional.

    Why: a restore takes the guest's definition from the image; changing it
    there (a moved disk, a new description) needs no restore-with-XML later.
    Only changes the saved guest's ABI allows are accepted by drivers that
    check (QEMU); the test driver takes any valid XML, as libvirt's.

    :param path: an absolute path (see ``domain_save_image_get_xml_desc``).
    :param xml: the new ``<domain>`` document.
    :param flags: :class:`~pyvirt.flags.DomainSaveRestoreFlags` RUNNING or PAUSED, never both (the facade
        refuses): the state a later restore starts the guest in, recorded in the image where the driver's format
        has it.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_managed_save_get_xml_desc(dom: DomainRef, flags: int) -> str:
    """The domain XML of the domain's managed save image (virDomainManagedSaveGetXMLDesc). Optional.

    Why: as ``domain_save_image_get_xml_desc`` for the image ``domain_managed_save`` wrote, whose path is
    the driver's business.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainSaveImageXMLFlags` (SECURE).
    :returns: the ``<domain>`` document.
    :raises Error: OPERATION_INVALID when the domain has no managed save image.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_managed_save_define_xml(dom: DomainRef, xml: str | None, flags: int) -> None:
    """Replace the domain XML of the domain's managed save image (virDomainManagedSaveDefineXML). Optional.

    :param dom: the domain, as a lookup returned it.
    :param xml: the new ``<domain>`` document, or None to keep it and change only the state (``flags``).
    :param flags: :class:`~pyvirt.flags.DomainSaveRestoreFlags` RUNNING or PAUSED, never both.
    :raises Error: OPERATION_INVALID when the domain has no managed save image.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- monitoring a domain (contract 1.15)


@hookspec(firstresult=True)
def domain_get_disk_errors(dom: DomainRef, flags: int) -> list[tuple[str, int]]:
    """The I/O errors the running domain's disks hit (virDomainGetDiskErrors). Optional.

    Why: a guest paused on an I/O error (``on_error='stop'``) says only
    "paused (ioerror)"; this tells which disk and whether it ran out of
    space, so an operator knows to grow the volume before resuming.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: (target, error) per disk in error, in the definition's disk order; ``error`` a
        virDomainDiskErrorCode (1 unspecified, 2 no space). The caller cuts the list to its buffer.
    :raises Error: OPERATION_INVALID "domain is not running" for an inactive domain.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_control_info(dom: DomainRef, flags: int) -> tuple[int, int, int]:
    """The state of the driver's control channel to the running domain (virDomainGetControlInfo). Optional.

    Why: management software asks before it queues a call whether the
    monitor is busy (a job holds it) or broken, rather than blocking behind it.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: (state, details, state time in ms): state a virDomainControlState (0 ok, 1 job,
        2 occupied, 3 error), details a virDomainControlErrorReason when the state is error, else 0.
    :raises Error: OPERATION_INVALID "domain is not running" for an inactive domain.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_cpu_stats(dom: DomainRef, start_cpu: int, ncpus: int, flags: int) -> list[list[TypedParam]]:
    """CPU time the running domain used, in total or per host CPU (virDomainGetCPUStats). Optional.

    Why: which host CPUs a guest's time went to (per-CPU ``cpu_time``,
    ``vcpu_time``) and its user/system split (total), for capacity planning.

    :param dom: the domain, as a lookup returned it.
    :param start_cpu: -1 for the domain's total, else the first host CPU.
    :param ncpus: with a first CPU, how many CPUs at most; 0 asks how many the host has (see returns).
        1 with -1 (the library checks both).
    :param flags: :class:`~pyvirt.flags.TypedParameterFlags` (STRING_OKAY, which the library adds).
    :returns: with -1, one list: the totals (``cpu_time``, ``user_time``, ``system_time``, ULLONG ns); with
        ``ncpus`` 0, one empty list per host CPU; else one list per host CPU from ``start_cpu`` up to
        ``ncpus`` of them or the host's last, each empty for a CPU the domain may not use.
    :raises Error: OPERATION_INVALID when the domain is not running.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- block I/O and memory tunables (contract 1.15)


@hookspec(firstresult=True)
def domain_get_blkio_parameters(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The domain's block I/O tunables (virDomainGetBlkioParameters). Optional.

    Why: the blkio cgroup's weight and per-device throttles decide how much
    of the host's disks one guest may take from the others.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact` (LIVE and CONFIG not both: the library
        refuses that first), with VIR_TYPED_PARAM_STRING_OKAY (4) when the caller takes strings.
    :returns: ``weight`` (UINT), then ``device_weight``, ``device_read_iops_sec``, ``device_write_iops_sec``,
        ``device_read_bytes_sec``, ``device_write_bytes_sec`` (STRING ``path,value,path,value...``), as many as
        the driver has; the caller cuts the list to the count it asked for.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_blkio_parameters(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """Change block I/O tunables (virDomainSetBlkioParameters). Optional.

    Why: see ``domain_get_blkio_parameters``.

    :param dom: the domain, as a lookup returned it.
    :param params: the fields of ``domain_get_blkio_parameters`` to change; a device string names only the
        devices it changes (a value of 0 clears that device's value).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_memory_parameters(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The domain's memory limits (virDomainGetMemoryParameters). Optional.

    Why: the memory cgroup's hard, soft and swap limits bound what the guest
    and its emulator may use; 9007199254740991 KiB (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED) means none.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`, as ``domain_get_blkio_parameters``'.
    :returns: ``hard_limit``, ``soft_limit``, ``swap_hard_limit`` (and where the driver has it
        ``min_guarantee``), ULLONG KiB each; the caller cuts the list to the count it asked for.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_memory_parameters(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """Change memory limits (virDomainSetMemoryParameters). Optional.

    Why: see ``domain_get_memory_parameters``.

    :param dom: the domain, as a lookup returned it.
    :param params: the limits to change, ULLONG KiB each.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.
    :raises Error: INVALID_ARG when the hard limit would exceed the swap hard limit.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_block_io_tune(dom: DomainRef, disk: str, flags: int) -> list[TypedParam]:
    """A disk's I/O throttling (virDomainGetBlockIoTune). Optional.

    Why: ``<iotune>`` caps one guest's disk bandwidth and operations so it
    cannot starve the others sharing the storage.

    :param dom: the domain, as a lookup returned it.
    :param disk: the disk's target (``vda``) or source path.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact` (LIVE and CONFIG not both: the library refuses
        that first), with VIR_TYPED_PARAM_STRING_OKAY (4).
    :returns: libvirt's 20 fields in its order (``total_bytes_sec`` ... ``size_iops_sec`` ULLONG,
        ``group_name`` STRING, then the ``*_max_length`` ULLONG), 0 or empty where unset.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_block_io_tune(dom: DomainRef, disk: str, params: list[TypedParam], flags: int) -> None:
    """Change a disk's I/O throttling (virDomainSetBlockIoTune). Optional.

    Why: see ``domain_get_block_io_tune``.

    :param dom: the domain, as a lookup returned it.
    :param disk: the disk's target or source path.
    :param params: fields of ``domain_get_block_io_tune`` to change; the others keep their values.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_numa_parameters(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The domain's NUMA memory policy (virDomainGetNumaParameters). Optional.

    Why: which host nodes the guest's memory may come from, and how strictly
    (``<numatune><memory>``), decides its memory latency.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`, with VIR_TYPED_PARAM_STRING_OKAY (4); unlike
        the other tunables, libvirt's library leaves LIVE with CONFIG for the driver to refuse.
    :returns: ``numa_mode`` (INT, a virDomainNumatuneMemMode: 0 strict, 1 preferred, 2 interleave,
        3 restrictive) and ``numa_nodeset`` (STRING, ``0-1,3``; empty when placement is automatic).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_numa_parameters(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """Change the NUMA memory policy (virDomainSetNumaParameters). Optional.

    Why: see ``domain_get_numa_parameters``.

    :param dom: the domain, as a lookup returned it.
    :param params: ``numa_mode`` (INT) and/or ``numa_nodeset`` (STRING).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.
    :raises Error: OPERATION_INVALID for a nodeset naming no node or a mode change of a running domain;
        CONFIG_UNSUPPORTED for a static placement left without a nodeset.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_perf_events(dom: DomainRef, flags: int) -> list[TypedParam]:
    """Which perf counters the driver keeps for the domain (virDomainGetPerfEvents). Optional.

    Why: host perf events (cache misses, cycles, ...) of the guest's
    process, read back with the domain statistics (``--perf``).

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.
    :returns: one BOOLEAN per event the driver knows (``cmt``, ``cpu_cycles``, ...), in libvirt's order.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_perf_events(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """Enable or disable perf counters (virDomainSetPerfEvents). Optional.

    Why: see ``domain_get_perf_events``.

    :param dom: the domain, as a lookup returned it.
    :param params: BOOLEAN per event to change.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_interface_parameters(dom: DomainRef, device: str, flags: int) -> list[TypedParam]:
    """A NIC's traffic shaping (virDomainGetInterfaceParameters). Optional.

    Why: ``<bandwidth>`` limits one guest's share of a host link; this reads
    them without parsing the XML.

    :param dom: the domain, as a lookup returned it.
    :param device: the NIC: its host device name (``<target dev>``) or its MAC address.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact` (the driver refuses LIVE with CONFIG), with
        VIR_TYPED_PARAM_STRING_OKAY (4).
    :returns: ``inbound.average``, ``inbound.peak``, ``inbound.burst``, ``inbound.floor``, ``outbound.average``,
        ``outbound.peak``, ``outbound.burst`` (UINT; kB/s, kB for bursts; 0 when unset).
    :raises Error: INVALID_ARG "'<device>' is not a known interface".

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_interface_parameters(dom: DomainRef, device: str, params: list[TypedParam], flags: int) -> None:
    """Change a NIC's traffic shaping (virDomainSetInterfaceParameters). Optional.

    Why: see ``domain_get_interface_parameters``.

    :param dom: the domain, as a lookup returned it.
    :param device: the NIC, as for ``domain_get_interface_parameters``.
    :param params: fields of ``domain_get_interface_parameters``; an average (or inbound floor) of 0 clears
        that direction.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- guest controls (contract 1.15)


@hookspec(firstresult=True)
def domain_set_lifecycle_action(dom: DomainRef, type: int, action: int, flags: int) -> None:
    """Change what happens when the guest powers off, reboots or crashes (virDomainSetLifecycleAction). Optional.

    Why: ``<on_poweroff>``, ``<on_reboot>``, ``<on_crash>`` changed on a running guest (e.g. ``preserve``
    a crashed guest for inspection) without a redefinition.

    :param dom: the domain, as a lookup returned it.
    :param type: virDomainLifecycle (0 poweroff, 1 reboot, 2 crash), checked by the library.
    :param action: virDomainLifecycleAction (0 destroy, 1 restart, 2 rename-restart, 3 preserve,
        4 coredump-destroy, 5 coredump-restart), checked by the library.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.
    :raises Error: CONFIG_UNSUPPORTED for a coredump action on poweroff or reboot.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_send_process_signal(dom: DomainRef, pid_value: int, signum: int, flags: int) -> None:
    """Send a signal to a process inside the guest (virDomainSendProcessSignal). Optional.

    Why: container drivers can signal the guest's init or any of its processes without an agent.

    :param dom: the domain, as a lookup returned it.
    :param pid_value: the process in the guest's PID namespace (not 0: the library refuses it).
    :param signum: a virDomainProcessSignal number (the Linux numbers, 0 to 64).
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_user_password(dom: DomainRef, user: str, password: str, flags: int) -> None:
    """Set a guest user's password through the guest agent (virDomainSetUserPassword). Optional.

    Why: recover access to a guest whose password is lost, without rebooting it.

    :param dom: the domain, as a lookup returned it.
    :param user: the account in the guest.
    :param password: the new password (already crypt()ed with ENCRYPTED).
    :param flags: :class:`~pyvirt.flags.DomainSetUserPasswordFlags`.
    :raises Error: OPERATION_INVALID when the domain is not running.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_get_launch_security_info(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The launch measurement of a confidential guest (virDomainGetLaunchSecurityInfo). Optional.

    Why: an owner checks an AMD SEV guest's measurement before handing it secrets; refused to
    read-only connections, as it feeds that exchange.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0); the library adds VIR_TYPED_PARAM_STRING_OKAY (4).
    :returns: the measurement and policy parameters (``sev-measurement``, ...); none for other guests.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- guest agent and power management (1.16)


@hookspec(firstresult=True)
def domain_get_guest_info(dom: DomainRef, types: int, flags: int) -> list[TypedParam]:
    """What the guest agent knows of the guest (virDomainGetGuestInfo). Optional.

    Why: users logged in, the OS, time zone, host name, file systems, disks and interfaces in one
    call, without logging in to the guest.

    :param dom: the domain, as a lookup returned it.
    :param types: virDomainGuestInfoTypes bits (users 1, os 2, timezone 4, hostname 8, filesystem 16,
        disks 32, interfaces 64); 0 asks every kind the agent supports.
    :param flags: libvirt defines no flags (0).
    :returns: the parameters, named as libvirt's (``user.count``, ``os.id``, ``fs.0.mountpoint``, ...).
    :raises Error: ARGUMENT_UNSUPPORTED when the guest has no agent channel, AGENT_UNRESPONSIVE when the
        agent does not listen.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_get_guest_vcpus(dom: DomainRef, flags: int) -> list[TypedParam]:
    """The guest's own view of its vCPUs, from the guest agent (virDomainGetGuestVcpus). Optional.

    Why: the guest OS may have taken vCPUs offline that the hypervisor still runs.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: ``vcpus``, ``online`` and ``offlinable`` as cpu-list strings.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_set_guest_vcpus(dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
    """Bring vCPUs online or offline inside the guest, through its agent (virDomainSetGuestVcpus). Optional.

    Why: lets a guest stop using vCPUs without unplugging them from QEMU.

    :param dom: the domain, as a lookup returned it.
    :param cpumap: the vCPU ids, as a cpu list (``0-3,^2``).
    :param state: 1 online, 0 offline.
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_authorized_ssh_keys_get(dom: DomainRef, user: str, flags: int) -> list[str]:
    """A guest user's authorized SSH keys, read by the guest agent (virDomainAuthorizedSSHKeysGet). Optional.

    Why: check who may log in to a guest without logging in to it.

    :param dom: the domain, as a lookup returned it.
    :param user: the account in the guest.
    :param flags: libvirt defines no flags (0).
    :returns: the keys, one line each.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_authorized_ssh_keys_set(dom: DomainRef, user: str, keys: list[str], flags: int) -> None:
    """Replace, extend or prune a guest user's authorized SSH keys (virDomainAuthorizedSSHKeysSet). Optional.

    Why: grant or revoke access to a guest whose credentials are otherwise out of reach.

    :param dom: the domain, as a lookup returned it.
    :param user: the account in the guest.
    :param keys: the keys; none with neither flag empties the file.
    :param flags: :class:`~pyvirt.flags.DomainAuthorizedSSHKeysSetFlags` (APPEND, REMOVE).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_agent_set_response_timeout(dom: DomainRef, timeout: int, flags: int) -> None:
    """How long the driver waits for the guest agent's answers (virDomainAgentSetResponseTimeout). Optional.

    Why: a slow guest needs longer than the default; a caller that must never hang wants no wait.

    :param dom: the domain, as a lookup returned it.
    :param timeout: seconds; -2 waits for ever, -1 the driver's default, 0 does not wait.
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_pm_suspend_for_duration(dom: DomainRef, target: int, duration: int, flags: int) -> None:
    """Suspend the guest to RAM, disk or both, through its agent (virDomainPMSuspendForDuration). Optional.

    Why: a guest's own power management, as pressing its sleep button would.

    :param dom: the domain, as a lookup returned it.
    :param target: virNodeSuspendTarget: 0 mem, 1 disk, 2 hybrid.
    :param duration: seconds to sleep; libvirt's drivers take only 0 (until woken up).
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_pm_wakeup(dom: DomainRef, flags: int) -> None:
    """Wake a guest that suspended itself to RAM (virDomainPMWakeup). Optional.

    Why: the counterpart of a suspend to memory, which only an outside event ends.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_set_vcpu(dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
    """Enable or disable individual vCPUs by id (virDomainSetVcpu). Optional.

    Why: unplug the vCPUs a guest does not need, not just the highest-numbered ones.

    :param dom: the domain, as a lookup returned it.
    :param cpumap: the vCPU ids, as a cpu list.
    :param state: 1 enable, 0 disable.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def domain_detach_device_alias(dom: DomainRef, alias: str, flags: int) -> None:
    """Detach the device whose ``<alias name>`` is ``alias`` (virDomainDetachDeviceAlias). Optional.

    Why: name the device to unplug by its alias, without writing its XML back.

    :param dom: the domain, as a lookup returned it.
    :param alias: the device's alias (``ua-...`` user aliases reach the persistent definition too).
    :param flags: :class:`~pyvirt.flags.DomainDeviceModifyFlags` (LIVE, CONFIG).

    Stops at first non-None result.

    Added in contract 1.16.
    """


# ---------------------------------------------------------------- checkpoints


@hookspec(firstresult=True)
def checkpoint_create_xml(dom: DomainRef, xml: str, flags: int) -> CheckpointRef:
    """Start tracking the blocks of the domain's disks that change from now on (a ``<domaincheckpoint>``).

    :param dom: the domain, as a lookup returned it.
    :param xml: the checkpoint document; a missing name becomes the creation time.
    :param flags: :class:`~pyvirt.flags.DomainCheckpointCreateFlags`: REDEFINE restores the
        metadata of an existing checkpoint, QUIESCE freezes the guest's file
        systems first, REDEFINE_VALIDATE.
    :returns: the new checkpoint.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_list_names(dom: DomainRef, flags: int) -> list[str]:
    """The names of the domain's checkpoints (virDomainListAllCheckpoints).

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainCheckpointListFlags`: ROOTS, TOPOLOGICAL (parents before children), LEAVES, NO_LEAVES.
    :returns: the names, in creation order unless TOPOLOGICAL asks otherwise.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_list_children(chk: CheckpointRef, flags: int) -> list[str]:
    """The checkpoints made after ``chk`` on its branch (virDomainCheckpointListAllChildren).

    :param chk: the checkpoint.
    :param flags: :class:`~pyvirt.flags.DomainCheckpointListFlags`: DESCENDANTS (all of them,
        not just the direct children), TOPOLOGICAL, LEAVES, NO_LEAVES.
    :returns: the names.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_lookup_by_name(dom: DomainRef, name: str, flags: int) -> CheckpointRef:
    """Find one of the domain's checkpoints by its name.

    :param dom: the domain, as a lookup returned it.
    :param name: the checkpoint's name.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the checkpoint.
    :raises NotFoundError: NO_DOMAIN_CHECKPOINT, "no domain checkpoint with matching name 'NAME'".

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_get_xml_desc(chk: CheckpointRef, flags: int) -> str:
    """A checkpoint's ``<domaincheckpoint>`` document.

    :param chk: the checkpoint.
    :param flags: :class:`~pyvirt.flags.DomainCheckpointXMLFlags`: SECURE includes the secrets of
        the domain copy, NO_DOMAIN leaves the domain copy out, SIZE reports each
        bitmap's size (the domain must be running).
    :returns: the document.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_get_parent(chk: CheckpointRef, flags: int) -> CheckpointRef:
    """The checkpoint ``chk`` was made after.

    :param chk: the checkpoint.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the parent checkpoint.
    :raises NotFoundError: NO_DOMAIN_CHECKPOINT when ``chk`` is a root.

    Stops at first non-None result.

    Added in contract 1.7.
    """


@hookspec(firstresult=True)
def checkpoint_delete(chk: CheckpointRef, flags: int) -> None:
    """Stop tracking from this checkpoint; its children move to its parent.

    :param chk: the checkpoint.
    :param flags: :class:`~pyvirt.flags.DomainCheckpointDeleteFlags`: CHILDREN deletes its
        descendants too, METADATA_ONLY keeps the disks' bitmaps, CHILDREN_ONLY
        deletes only the descendants.

    Stops at first non-None result.

    Added in contract 1.7.
    """


# ---------------------------------------------------------------- snapshots


@hookspec(firstresult=True)
def snapshot_create_xml(dom: DomainRef, xml: str, flags: int) -> SnapshotRef:
    """Take a snapshot of the domain as a ``<domainsnapshot>`` document describes it.

    :param dom: the domain, as a lookup returned it.
    :param xml: the snapshot document; a missing name becomes the creation time.
    :param flags: :class:`~pyvirt.flags.DomainSnapshotCreateFlags`: REDEFINE (restore metadata),
        CURRENT, NO_METADATA, HALT (stop the domain after), DISK_ONLY,
        REUSE_EXT, QUIESCE, ATOMIC, LIVE, VALIDATE.
    :returns: the new snapshot.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_list_names(dom: DomainRef, flags: int) -> list[str]:
    """The names of the domain's snapshots (virDomainListAllSnapshots).

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainSnapshotListFlags`: ROOTS, LEAVES, NO_LEAVES,
        METADATA, NO_METADATA, INACTIVE, ACTIVE, DISK_ONLY, INTERNAL, EXTERNAL,
        TOPOLOGICAL (parents before children).
    :returns: the names, in creation order unless TOPOLOGICAL asks otherwise.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_lookup_by_name(dom: DomainRef, name: str) -> SnapshotRef:
    """Find one of the domain's snapshots by its name.

    :param dom: the domain, as a lookup returned it.
    :param name: the snapshot's name.
    :returns: the snapshot.
    :raises NotFoundError: NO_DOMAIN_SNAPSHOT when the domain has no snapshot of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_current(dom: DomainRef) -> SnapshotRef:
    """The domain's current snapshot: the one its state was last taken as or reverted to.

    :param dom: the domain, as a lookup returned it.
    :returns: the snapshot.
    :raises NotFoundError: NO_DOMAIN_SNAPSHOT when the domain has no current snapshot.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_get_xml_desc(snap: SnapshotRef, flags: int) -> str:
    """A snapshot's ``<domainsnapshot>`` document.

    :param snap: the snapshot.
    :param flags: :class:`~pyvirt.flags.DomainSnapshotXMLFlags`: SECURE includes the secrets of
        the domain copy (refused on a read-only connection).
    :returns: the document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_get_parent(snap: SnapshotRef) -> SnapshotRef:
    """The snapshot ``snap`` was taken after.

    :param snap: the snapshot.
    :returns: the parent snapshot.
    :raises NotFoundError: NO_DOMAIN_SNAPSHOT when ``snap`` is a root.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_revert(snap: SnapshotRef, flags: int) -> None:
    """Return the domain to the state the snapshot recorded.

    :param snap: the snapshot.
    :param flags: :class:`~pyvirt.flags.DomainSnapshotRevertFlags`: RUNNING or PAUSED (the
        state to end in, whatever the snapshot's), FORCE (allow a risky revert),
        RESET_NVRAM.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def snapshot_delete(snap: SnapshotRef, flags: int) -> None:
    """Delete a snapshot; its children are re-parented to its parent unless the flags delete them too.

    :param snap: the snapshot.
    :param flags: :class:`~pyvirt.flags.DomainSnapshotDeleteFlags`: CHILDREN deletes the
        descendants too, METADATA_ONLY keeps the data and drops libvirt's
        record, CHILDREN_ONLY deletes only the descendants.

    Stops at first non-None result.

    Added in contract 1.0.
    """


# ---------------------------------------------------------------- I/O threads (contract 1.15)


@hookspec(firstresult=True)
def domain_get_iothread_info(dom: DomainRef, flags: int) -> list[IOThreadInfo]:
    """The domain's I/O threads and the host CPUs each may run on (virDomainGetIOThreadInfo). Optional.

    Why: disks and controllers can be given their own I/O thread; an operator
    checks which exist before pinning one or giving a disk to it.

    :param dom: the domain, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG picks the
        definition (0: the current one).
    :returns: one entry per ``<iothreadids>`` id, in the definition's order (empty: none).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_pin_iothread(dom: DomainRef, iothread_id: int, cpumap: bytes, flags: int) -> None:
    """Restrict one I/O thread to some host CPUs (``<cputune><iothreadpin>``; virDomainPinIOThread). Optional.

    :param dom: the domain, as a lookup returned it.
    :param iothread_id: the thread's id in ``<iothreadids>``.
    :param cpumap: the host CPUs it may use (CPU ``n`` is bit ``n % 8`` of byte ``n // 8``).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE or CONFIG (0: the current state).
    :raises Error: INVALID_ARG for a map with no CPU or an id the definition does not have.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_add_iothread(dom: DomainRef, iothread_id: int, flags: int) -> None:
    """Add an I/O thread with a given id (virDomainAddIOThread). Optional.

    :param dom: the domain, as a lookup returned it.
    :param iothread_id: the new thread's id (above 0, not in use).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the current state).
    :raises Error: INVALID_ARG for id 0 or an id already in use.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_del_iothread(dom: DomainRef, iothread_id: int, flags: int) -> None:
    """Remove an I/O thread no disk or controller uses (virDomainDelIOThread). Optional.

    :param dom: the domain, as a lookup returned it.
    :param iothread_id: the thread's id.
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the current state).
    :raises Error: INVALID_ARG for an unknown id or one a disk or controller still uses.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_set_iothread_params(dom: DomainRef, iothread_id: int, params: list[TypedParam], flags: int) -> None:
    """Tune one I/O thread: polling (``poll_max_ns``, ``poll_grow``, ``poll_shrink``) and its worker pool
    (``thread_pool_min``, ``thread_pool_max``); virDomainSetIOThreadParams. Optional.

    :param dom: the domain, as a lookup returned it.
    :param iothread_id: the thread's id.
    :param params: the tunables to change, checked by the public API as libvirt's (names C can hold, one type
        each); the driver refuses those it does not know (virTypedParamsValidate).
    :param flags: :class:`~pyvirt.flags.DomainModificationImpact`: LIVE and/or CONFIG (0: the current state).

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- guest file systems (contract 1.15)


@hookspec(firstresult=True)
def domain_get_fs_info(dom: DomainRef, flags: int) -> list[FSInfo]:
    """The file systems mounted in the running guest (virDomainGetFSInfo; QEMU asks its guest agent). Optional.

    Why: before a backup an operator checks what ``domain_fs_freeze`` would freeze, and on which disks.

    :param dom: the domain, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: one entry per mount point (empty: none).
    :raises Error: OPERATION_INVALID "domain is not running" for an inactive domain.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_fs_freeze(dom: DomainRef, mountpoints: list[str], flags: int) -> int:
    """Freeze the guest's file systems for a consistent disk snapshot (virDomainFSFreeze). Optional.

    :param dom: the domain, as a lookup returned it.
    :param mountpoints: the mount points to freeze; empty: all of them.
    :param flags: libvirt defines no flags (0).
    :returns: how many file systems this call froze.
    :raises Error: OPERATION_INVALID for a mount point the guest does not have.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_fs_thaw(dom: DomainRef, mountpoints: list[str], flags: int) -> int:
    """Thaw file systems ``domain_fs_freeze`` froze (virDomainFSThaw). Optional.

    :param dom: the domain, as a lookup returned it.
    :param mountpoints: the mount points to thaw; empty: all of them.
    :param flags: libvirt defines no flags (0).
    :returns: how many file systems this call thawed.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def domain_fs_trim(dom: DomainRef, mountpoint: str | None, minimum: int, flags: int) -> None:
    """Discard the unused blocks of the guest's file systems (fstrim; virDomainFSTrim). Optional.

    :param dom: the domain, as a lookup returned it.
    :param mountpoint: the one mount point to trim; None: all of them.
    :param minimum: a hint: free ranges shorter than this many bytes may be left alone.
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.15.
    """
