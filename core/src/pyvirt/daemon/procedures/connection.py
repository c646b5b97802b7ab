"""Connection and host procedures: the open sequence, feature probes, versions, capabilities, node facts."""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.migration import MIGRATION_FEATURES, supports_migration
from pyvirt.daemon.procedures.table import (
    _AUTH_NONE,
    _FEATURE_PROGRAM_KEEPALIVE,
    _FEATURES,
    _VIR_CONNECT_RO,
    LIB_VERSION,
    _c_string,
    _char_array,
    handles,
)
from pyvirt.daemon.remote_program import ClientContext, close_context
from pyvirt.errors import ConnectionError, ErrorCode, ErrorDomain, InternalError


# ---------------------------------------------------------------- connection
@handles("AUTH_LIST")
def _auth_list(ctx: ClientContext, a: Any) -> Any:
    return ([_AUTH_NONE],)


@handles("CONNECT_SUPPORTS_FEATURE")
def _supports_feature(ctx: ClientContext, a: Any) -> Any:
    feature = a[0]
    if feature == _FEATURE_PROGRAM_KEEPALIVE:
        ctx.client.start_keepalive()
    if feature in MIGRATION_FEATURES:
        return (int(supports_migration(ctx)),)
    return (_FEATURES.get(feature, 0),)


@handles("CONNECT_OPEN")
def _open(ctx: ClientContext, a: Any) -> Any:
    name, flags = a
    with ctx.lock:
        if ctx.shared is not None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "connection already open", domain=ErrorDomain.RPC)
    shown, local = ctx.state.local_uri(name)
    shared = ctx.state.acquire(local)
    with ctx.lock:
        ctx.shared = shared
        ctx.uri = shown
        ctx.read_only = ctx.client.read_only or bool(flags & _VIR_CONNECT_RO)
    return None


@handles("CONNECT_CLOSE")
def _close(ctx: ClientContext, a: Any) -> Any:
    close_context(ctx, ctx.state)
    return None


@handles("CONNECT_REGISTER_CLOSE_CALLBACK", "CONNECT_UNREGISTER_CLOSE_CALLBACK")
def _close_callback(ctx: ClientContext, a: Any) -> Any:
    return None


@handles("CONNECT_GET_TYPE")
def _get_type(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_type(),)


@handles("CONNECT_GET_VERSION")
def _get_version(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_version(),)


@handles("CONNECT_GET_LIB_VERSION")
def _get_lib_version(ctx: ClientContext, a: Any) -> Any:
    return (LIB_VERSION,)


@handles("CONNECT_GET_HOSTNAME")
def _get_hostname(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_hostname(),)


@handles("CONNECT_GET_URI")
def _get_uri(ctx: ClientContext, a: Any) -> Any:
    return (ctx.uri,)


@handles("CONNECT_IS_SECURE")
def _is_secure(ctx: ClientContext, a: Any) -> Any:
    return (1,)  # a Unix socket: nobody else can see the traffic


@handles("CONNECT_GET_CAPABILITIES")
def _capabilities(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_capabilities(),)


@handles("CONNECT_GET_DOMAIN_CAPABILITIES")
def _domain_capabilities(ctx: ClientContext, a: Any) -> Any:
    emulator, arch, machine, virttype, flags = a
    return (ctx.calls.connect_get_domain_capabilities(emulator, arch, machine, virttype, flags),)


@handles("CONNECT_DOMAIN_XML_FROM_NATIVE")
def _from_native(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_domain_xml_from_native(a[0], a[1]),)


@handles("CONNECT_DOMAIN_XML_TO_NATIVE")
def _to_native(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_domain_xml_to_native(a[0], a[1]),)


@handles("NODE_GET_INFO")
def _node_info(ctx: ClientContext, a: Any) -> Any:
    i = ctx.calls.node_get_info()
    return (_char_array(i.model, 32), i.memory_kib, i.cpus, i.mhz, i.nodes, i.sockets, i.cores, i.threads)


@handles("NODE_GET_CPU_MAP")
def _node_cpu_map(ctx: ClientContext, a: Any) -> Any:
    count, cpumap, online = ctx.calls.node_get_cpu_map(flags=a[2])
    # what the caller did not ask for stays empty, as libvirt's daemon leaves it
    return (cpumap if a[0] else b"", online if a[1] else 0, count)


@handles("CONNECT_GET_MAX_VCPUS")
def _max_vcpus(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_max_vcpus(a[0]),)


@handles("CONNECT_GET_SYSINFO")
def _sysinfo(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.connect_get_sysinfo(a[0]),)


@handles("NODE_GET_FREE_MEMORY")
def _free_memory(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.node_get_free_memory(),)


@handles("NODE_GET_CELLS_FREE_MEMORY")
def _cells_free_memory(ctx: ClientContext, a: Any) -> Any:
    # through the public method: libvirtd's dispatch calls virNodeGetCellsFreeMemory, which checks the arguments
    return (ctx.conn.get_cells_free_memory(a[0], a[1]),)


_NODE_CPU_STATS_MAX = 16  # REMOTE_NODE_CPU_STATS_MAX


@handles("NODE_GET_CPU_STATS")
def _cpu_stats(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchNodeGetCPUStats: ``nparams`` 0 asks for the count, otherwise up to that many counters."""
    cpu_num, nparams, flags = a
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative")
    if nparams > _NODE_CPU_STATS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large")
    stats = ctx.conn.get_cpu_stats(cpu_num, flags)  # the public method: it checks cpuNum as virNodeGetCPUStats
    if nparams == 0:
        return ([], len(stats))
    return (stats[:nparams], 0)  # libvirtd sets the count only for the first call; the client reads params' length


_CPU_MODELS_MAX = 8192  # REMOTE_CONNECT_CPU_MODELS_MAX


@handles("CONNECT_GET_CPU_MODEL_NAMES")
def _cpu_model_names(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchConnectGetCPUModelNames: the names only when asked for, the count always."""
    arch, need_results, flags = a
    models = ctx.calls.connect_get_cpu_model_names(arch, flags)
    if len(models) > _CPU_MODELS_MAX:
        raise ConnectionError(
            ErrorCode.RPC, f"Too many CPU models '{len(models)}' for limit '{_CPU_MODELS_MAX}'", domain=ErrorDomain.RPC
        )
    return (models if need_results else [], len(models))


@handles("CONNECT_COMPARE_CPU", hook="connect_compare_cpu")
def _compare_cpu(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchConnectCompareCPU."""
    return (ctx.calls.connect_compare_cpu(a[0], a[1]),)


@handles("CONNECT_BASELINE_CPU", hook="connect_baseline_cpu")
def _baseline_cpu(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchConnectBaselineCPU."""
    return (ctx.calls.connect_baseline_cpu(list(a[0]), a[1]),)


@handles("CONNECT_COMPARE_HYPERVISOR_CPU", hook="connect_compare_hypervisor_cpu")
def _compare_hypervisor_cpu(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchConnectCompareHypervisorCPU: emulator, arch, machine and virttype may be absent."""
    return (ctx.calls.connect_compare_hypervisor_cpu(a[0], a[1], a[2], a[3], a[4], a[5]),)


@handles("CONNECT_BASELINE_HYPERVISOR_CPU", hook="connect_baseline_hypervisor_cpu")
def _baseline_hypervisor_cpu(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchConnectBaselineHypervisorCPU."""
    return (ctx.calls.connect_baseline_hypervisor_cpu(a[0], a[1], a[2], a[3], list(a[4]), a[5]),)


_NODE_MAX_CELLS = 1024  # REMOTE_NODE_MAX_CELLS


@handles("NODE_GET_FREE_PAGES")
def _free_pages(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchNodeGetFreePages: the answer must fit the reply's array, checked before the call."""
    pages, start_cell, cell_count, flags = a
    if len(pages) * cell_count > _NODE_MAX_CELLS:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "the result won't fit into REMOTE_NODE_MAX_CELLS")
    return (ctx.conn.get_free_pages(pages, start_cell, cell_count, flags),)


_NODE_MEMORY_STATS_MAX = 16  # REMOTE_NODE_MEMORY_STATS_MAX
_NODE_MEMORY_PARAMETERS_MAX = 64  # REMOTE_NODE_MEMORY_PARAMETERS_MAX


@handles("NODE_GET_MEMORY_STATS")
def _memory_stats(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchNodeGetMemoryStats: ``nparams`` 0 asks for the count, otherwise up to that many figures."""
    nparams, cell_num, flags = a
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative")
    if nparams > _NODE_MEMORY_STATS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large")
    stats = ctx.conn.get_memory_stats(cell_num, flags)  # the public method: it checks cellNum as libvirt's library
    if nparams == 0:
        return ([], len(stats))
    return (stats[:nparams], 0)


@handles("NODE_ALLOC_PAGES")
def _alloc_pages(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchNodeAllocPages, through virNodeAllocPages' checks (the public method)."""
    sizes, counts, start_cell, cell_count, flags = a
    if len(sizes) != len(counts):  # one XDR array each; libvirt's client sends them the same length
        raise InternalError(ErrorCode.INTERNAL_ERROR, "pageSizes and pageCounts differ in length")
    return (ctx.conn.alloc_pages(dict(zip(sizes, counts, strict=True)), start_cell, cell_count, flags),)


@handles("NODE_GET_MEMORY_PARAMETERS")
def _memory_parameters(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchNodeGetMemoryParameters: ``nparams`` 0 asks for the count; strings only if the client said so."""
    from pyvirt.daemon.procedures.domains import _wire_params
    from pyvirt.plugin.typed_params import STRING_OKAY, TypedParamType

    nparams, flags = a
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative")
    if nparams > _NODE_MEMORY_PARAMETERS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large")
    params = ctx.calls.node_get_memory_parameters(flags=flags)
    if nparams == 0:
        return ([], len(params))
    kept = params[:nparams]
    sent = kept if flags & STRING_OKAY else [p for p in kept if p.type != TypedParamType.STRING]
    return (_wire_params(sent), 0)


@handles("NODE_SET_MEMORY_PARAMETERS", hook="node_set_memory_parameters")
def _set_memory_parameters(ctx: ClientContext, a: Any) -> Any:
    from pyvirt.daemon.procedures.domains import _params_from_wire

    ctx.conn.set_memory_parameters(_params_from_wire(a[0]), a[1])


@handles("NODE_GET_SECURITY_MODEL")
def _security_model(ctx: ClientContext, a: Any) -> Any:
    m = ctx.calls.node_get_security_model()
    return (_c_string(m.model) if m.model else b"", _c_string(m.doi) if m.doi else b"")
