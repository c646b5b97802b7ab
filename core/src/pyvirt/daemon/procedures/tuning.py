"""Domain procedures for monitoring and tuning a domain (contract 1.15).

Disk errors, the control interface, block I/O and memory tunables.
"""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.domains import _params_from_wire, _wire_params
from pyvirt.daemon.procedures.table import handles
from pyvirt.daemon.remote_program import ClientContext
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, InvalidArgumentError
from pyvirt.plugin.typed_params import STRING_OKAY, TypedParam, TypedParamType, check_live_or_config
from pyvirt.remote.calls import domain_ref

__all__: list[str] = []

_DISK_ERRORS_MAX = 256  # REMOTE_DOMAIN_DISK_ERRORS_MAX
_BLKIO_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX
_MEMORY_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX
_NUMA_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_NUMA_PARAMETERS_MAX
_INTERFACE_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX
# How many typed parameters virDomainGetInterfaceParameters has: inbound average, peak, burst, floor and
# outbound average, peak, burst (libvirt's VIR_DOMAIN_BANDWIDTH_IN_* / _OUT_* field names).
_INTERFACE_PARAMETERS_COUNT = 7
_CPU_STATS_NPARAMS_MAX = 16  # REMOTE_NODE_CPU_STATS_MAX
_CPU_STATS_NCPUS_MAX = 128  # REMOTE_DOMAIN_GET_CPU_STATS_NCPUS_MAX
_BLOCK_IO_TUNE_PARAMETERS_MAX = 32  # REMOTE_DOMAIN_BLOCK_IO_TUNE_PARAMETERS_MAX
_BLOCK_IO_TUNE_FIELDS = 20  # libvirt's VIR_DOMAIN_BLOCK_IOTUNE_* fields
_AFFECT_BOTH = 1 | 2  # VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG


@handles("DOMAIN_GET_DISK_ERRORS", hook="domain_get_disk_errors")
def _get_disk_errors(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainGetDiskErrors: ``maxerrors`` 0 asks how many (virsh's first call), else that many.

    The buffer is bounded before the driver runs; the count answered is what
    the driver put in the buffer, or with no buffer the driver's whole count.
    """
    wire_dom, maxerrors, flags = a
    if maxerrors > _DISK_ERRORS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maxerrors too large", domain=ErrorDomain.RPC)
    errors = ctx.calls.domain_get_disk_errors(dom=domain_ref(wire_dom), flags=flags)
    if not maxerrors:
        return ([], len(errors))
    kept = [(disk, error) for disk, error in errors[:maxerrors]]
    return (kept, len(kept))


@handles("DOMAIN_GET_CONTROL_INFO", hook="domain_get_control_info")
def _get_control_info(ctx: ClientContext, a: Any) -> Any:
    return tuple(ctx.calls.domain_get_control_info(dom=domain_ref(a[0]), flags=a[1]))


def _tunables(
    nparams: int, flags: int, maximum: int, fetch: Any, *, library_checks: bool = True, api_count: int | None = None
) -> Any:
    """remoteDispatchDomainGet{Blkio,Memory}Parameters: ``nparams`` 0 asks how many (virsh's first call).

    The count is checked before the call, libvirtd's public API then refuses
    LIVE with CONFIG and tells the driver strings are fine; a client that did
    not say it takes strings gets the others only (virTypedParamsSerialize).
    """
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative", domain=ErrorDomain.RPC)
    if nparams > maximum:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large", domain=ErrorDomain.RPC)
    if library_checks:  # virDomainGetNumaParameters leaves it to the driver
        check_live_or_config(flags)
    if nparams == 0:
        # libvirt's drivers (test, QEMU) give the count before choosing a definition: a --live query of a
        # domain that is not running fails in virsh's second call, "Unable to get ... parameters"
        try:
            return ([], len(fetch(flags & ~_AFFECT_BOTH | STRING_OKAY)))
        except Error:
            # ``api_count``: the fields the API defines, which libvirt's drivers count before they look for the
            # device, so a wrong one fails in virsh's second call, as there
            if api_count is None:
                raise
            return ([], api_count)
    params: list[TypedParam] = fetch(flags | STRING_OKAY)
    kept = params[:nparams]
    sent = kept if flags & STRING_OKAY else [p for p in kept if p.type != TypedParamType.STRING]
    return (_wire_params(sent), len(kept))


@handles("DOMAIN_GET_BLKIO_PARAMETERS")
def _get_blkio_parameters(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    return _tunables(a[1], a[2], _BLKIO_PARAMETERS_MAX,
                     lambda flags: ctx.calls.domain_get_blkio_parameters(dom=dom, flags=flags))  # fmt: skip


@handles("DOMAIN_SET_BLKIO_PARAMETERS", hook="domain_set_blkio_parameters")
def _set_blkio_parameters(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).set_blkio_parameters(_params_from_wire(a[1]), a[2])


@handles("DOMAIN_GET_MEMORY_PARAMETERS")
def _get_memory_parameters(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    return _tunables(a[1], a[2], _MEMORY_PARAMETERS_MAX,
                     lambda flags: ctx.calls.domain_get_memory_parameters(dom=dom, flags=flags))  # fmt: skip


@handles("DOMAIN_SET_MEMORY_PARAMETERS", hook="domain_set_memory_parameters")
def _set_memory_parameters(ctx: ClientContext, a: Any) -> Any:
    # through the public method: libvirtd's library refuses an empty list before the driver
    Domain(ctx.conn, domain_ref(a[0])).set_memory_parameters(_params_from_wire(a[1]), a[2])


@handles("DOMAIN_GET_NUMA_PARAMETERS")
def _get_numa_parameters(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    return _tunables(a[1], a[2], _NUMA_PARAMETERS_MAX,
                     lambda flags: ctx.calls.domain_get_numa_parameters(dom=dom, flags=flags),
                     library_checks=False)  # fmt: skip


@handles("DOMAIN_SET_NUMA_PARAMETERS", hook="domain_set_numa_parameters")
def _set_numa_parameters(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).set_numa_parameters(_params_from_wire(a[1]), a[2])


@handles("DOMAIN_GET_PERF_EVENTS", hook="domain_get_perf_events")
def _get_perf_events(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainGetPerfEvents: serialized without STRING_OKAY, so only the non-string ones go."""
    params = ctx.calls.domain_get_perf_events(dom=domain_ref(a[0]), flags=a[1])
    return (_wire_params([p for p in params if p.type != TypedParamType.STRING]),)


@handles("DOMAIN_SET_PERF_EVENTS", hook="domain_set_perf_events")
def _set_perf_events(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).set_perf_events(_params_from_wire(a[1]), a[2])


@handles("DOMAIN_SET_LIFECYCLE_ACTION", hook="domain_set_lifecycle_action")
def _set_lifecycle_action(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).set_lifecycle_action(a[1], a[2], a[3])


@handles("DOMAIN_SEND_PROCESS_SIGNAL", hook="domain_send_process_signal")
def _send_process_signal(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).send_process_signal(a[1], a[2], a[3])


@handles("DOMAIN_SET_USER_PASSWORD", hook="domain_set_user_password")
def _set_user_password(ctx: ClientContext, a: Any) -> Any:
    # remote_string: NULL user or password reach libvirtd's library, which refuses them (virCheckNonNullArg)
    for name, value in (("user", a[1]), ("password", a[2])):
        if value is None:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG, f"{name} in virDomainSetUserPassword must not be NULL", verbatim=True
            )
    ctx.calls.domain_set_user_password(dom=domain_ref(a[0]), user=a[1], password=a[2], flags=a[3])


@handles("DOMAIN_GET_LAUNCH_SECURITY_INFO", hook="domain_get_launch_security_info")
def _get_launch_security_info(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainGetLaunchSecurityInfo: serialized with the client's flags (strings if it said so)."""
    params = Domain(ctx.conn, domain_ref(a[0])).launch_security_info(a[1])
    return (_wire_params(params if a[1] & STRING_OKAY else [p for p in params if p.type != TypedParamType.STRING]),)


@handles("DOMAIN_GET_INTERFACE_PARAMETERS")
def _get_interface_parameters(ctx: ClientContext, a: Any) -> Any:
    dom, device = domain_ref(a[0]), a[1]
    return _tunables(a[2], a[3], _INTERFACE_PARAMETERS_MAX,
                     lambda flags: ctx.calls.domain_get_interface_parameters(dom=dom, device=device, flags=flags),
                     library_checks=False, api_count=_INTERFACE_PARAMETERS_COUNT)  # fmt: skip


@handles("DOMAIN_SET_INTERFACE_PARAMETERS", hook="domain_set_interface_parameters")
def _set_interface_parameters(ctx: ClientContext, a: Any) -> Any:
    Domain(ctx.conn, domain_ref(a[0])).set_interface_parameters(a[1], _params_from_wire(a[2]), a[3])


@handles("DOMAIN_GET_CPU_STATS", hook="domain_get_cpu_stats")
def _get_cpu_stats(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainGetCPUStats: ``nparams`` 0 asks a count (parameters per CPU, totals, or with
    ``ncpus`` 0 the host's CPUs); else the parameters go without holes and ``nparams`` per CPU, strings only
    to a client that said it takes them."""
    wire_dom, nparams, start_cpu, ncpus, flags = a
    if nparams > _CPU_STATS_NPARAMS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large", domain=ErrorDomain.RPC)
    if ncpus > _CPU_STATS_NCPUS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "ncpus too large", domain=ErrorDomain.RPC)
    dom = Domain(ctx.conn, domain_ref(wire_dom))
    if nparams == 0:
        if ncpus == 0 and start_cpu != -1:
            return ([], len(dom.cpu_stats(start_cpu, 0, flags)))
        first = dom.cpu_stats(start_cpu, 1, flags)
        return ([], len(first[0]) if first else 0)
    rows = [row[:nparams] for row in dom.cpu_stats(start_cpu, ncpus, flags)]
    per_cpu = max((len(r) for r in rows), default=0)
    sent = [p for r in rows for p in r if flags & STRING_OKAY or p.type != TypedParamType.STRING]
    strings = sum(1 for p in (rows[0] if rows else []) if p.type == TypedParamType.STRING)
    return (_wire_params(sent), per_cpu - (0 if flags & STRING_OKAY else strings))


@handles("DOMAIN_GET_BLOCK_IO_TUNE")
def _get_block_io_tune(ctx: ClientContext, a: Any) -> Any:
    """virsh asks the count with no disk (libvirt's drivers count before they look for one)."""
    dom, disk = domain_ref(a[0]), a[1]

    def fetch(flags: int) -> list[TypedParam]:
        if disk is None:  # only the count query may come without one: the drivers' fixed number answers it
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "disk in virDomainGetBlockIoTune must not be NULL")
        return ctx.calls.domain_get_block_io_tune(dom=dom, disk=disk, flags=flags)

    return _tunables(a[2], a[3], _BLOCK_IO_TUNE_PARAMETERS_MAX, fetch, api_count=_BLOCK_IO_TUNE_FIELDS)


@handles("DOMAIN_SET_BLOCK_IO_TUNE", hook="domain_set_block_io_tune")
def _set_block_io_tune(ctx: ClientContext, a: Any) -> Any:
    if a[1] is None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, "disk in virDomainSetBlockIoTune must not be NULL", verbatim=True
        )
    Domain(ctx.conn, domain_ref(a[0])).set_block_io_tune(a[1], _params_from_wire(a[2]), a[3])
