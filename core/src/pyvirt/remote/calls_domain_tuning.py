"""The call table's rows for monitoring and tuning a domain (contract 1.15).

Disk errors, the control interface's state, block I/O and memory tunables. Part of
:data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.remote.calls import RemoteCall, _one, _typed_params, _wd, typed_param_to_wire

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.typed_params import TypedParam

__all__ = ["ROWS"]

_DISK_ERRORS_MAX = 256  # REMOTE_DOMAIN_DISK_ERRORS_MAX: libvirtd refuses more ("maxerrors too large")
_BLKIO_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_BLKIO_PARAMETERS_MAX
_MEMORY_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX
_NUMA_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_NUMA_PARAMETERS_MAX
_BLOCK_IO_TUNE_PARAMETERS_MAX = 32  # REMOTE_DOMAIN_BLOCK_IO_TUNE_PARAMETERS_MAX
_INTERFACE_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_INTERFACE_PARAMETERS_MAX
_CPU_STATS_NPARAMS = 16  # REMOTE_NODE_CPU_STATS_MAX: the most parameters per CPU a reply may hold


def _cpu_stats(w: Any, a: Any) -> list[list[TypedParam]]:
    """remote_domain_get_cpu_stats_ret: with ``ncpus`` 0 asked, ``nparams`` is the host's CPU count; else the
    parameters come without holes, ``nparams`` per CPU (remoteDomainGetCPUStats lays them back out)."""
    from pyvirt.remote.calls import typed_param_from_wire

    params, per_cpu = w
    if a[3] == 0:
        return [[] for _ in range(per_cpu)]
    if per_cpu <= 0:
        return []
    flat = [typed_param_from_wire(p) for p in params]
    return [flat[i : i + per_cpu] for i in range(0, len(flat), per_cpu)]


def _disk_errors(w: Any) -> list[tuple[str, int]]:
    """remote_domain_get_disk_errors_ret: the errors the buffer held (``nerrors`` counts them)."""
    return [(disk, error) for disk, error in w[0][: w[1]]]


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    # one round trip with the wire's largest buffer, not virsh's count-then-fetch pair: a domain has fewer disks
    _one("domain_get_disk_errors", "DOMAIN_GET_DISK_ERRORS",
         lambda dom, flags: (_wd(dom), _DISK_ERRORS_MAX, flags), _disk_errors),
    _one("domain_get_control_info", "DOMAIN_GET_CONTROL_INFO", lambda dom, flags: (_wd(dom), flags),
         lambda w: (w[0], w[1], w[2])),
    # nparams: as many as the wire allows, in one round trip (virsh asks the count first; the daemon serves both)
    RemoteCall("domain_get_cpu_stats", ("DOMAIN_GET_CPU_STATS",),
               lambda dom, start_cpu, ncpus, flags: (_wd(dom), _CPU_STATS_NPARAMS if ncpus else 0, start_cpu, ncpus,
                                                     flags),
               _cpu_stats, ret_takes_args=True),
    _one("domain_get_blkio_parameters", "DOMAIN_GET_BLKIO_PARAMETERS",
         lambda dom, flags: (_wd(dom), _BLKIO_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_blkio_parameters", "DOMAIN_SET_BLKIO_PARAMETERS",
         lambda dom, params, flags: (_wd(dom), [typed_param_to_wire(p) for p in params], flags)),
    _one("domain_get_memory_parameters", "DOMAIN_GET_MEMORY_PARAMETERS",
         lambda dom, flags: (_wd(dom), _MEMORY_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_memory_parameters", "DOMAIN_SET_MEMORY_PARAMETERS",
         lambda dom, params, flags: (_wd(dom), [typed_param_to_wire(p) for p in params], flags)),
    _one("domain_get_block_io_tune", "DOMAIN_GET_BLOCK_IO_TUNE",
         lambda dom, disk, flags: (_wd(dom), disk, _BLOCK_IO_TUNE_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_block_io_tune", "DOMAIN_SET_BLOCK_IO_TUNE",
         lambda dom, disk, params, flags: (_wd(dom), disk, [typed_param_to_wire(p) for p in params], flags)),
    _one("domain_get_numa_parameters", "DOMAIN_GET_NUMA_PARAMETERS",
         lambda dom, flags: (_wd(dom), _NUMA_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_numa_parameters", "DOMAIN_SET_NUMA_PARAMETERS",
         lambda dom, params, flags: (_wd(dom), [typed_param_to_wire(p) for p in params], flags)),
    _one("domain_get_perf_events", "DOMAIN_GET_PERF_EVENTS", lambda dom, flags: (_wd(dom), flags), _typed_params),
    _one("domain_get_interface_parameters", "DOMAIN_GET_INTERFACE_PARAMETERS",
         lambda dom, device, flags: (_wd(dom), device, _INTERFACE_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_interface_parameters", "DOMAIN_SET_INTERFACE_PARAMETERS",
         lambda dom, device, params, flags: (_wd(dom), device, [typed_param_to_wire(p) for p in params], flags)),
    _one("domain_set_lifecycle_action", "DOMAIN_SET_LIFECYCLE_ACTION",
         lambda dom, type, action, flags: (_wd(dom), type, action, flags)),
    _one("domain_send_process_signal", "DOMAIN_SEND_PROCESS_SIGNAL",
         lambda dom, pid_value, signum, flags: (_wd(dom), pid_value, signum, flags)),
    _one("domain_set_user_password", "DOMAIN_SET_USER_PASSWORD",
         lambda dom, user, password, flags: (_wd(dom), user, password, flags)),
    _one("domain_get_launch_security_info", "DOMAIN_GET_LAUNCH_SECURITY_INFO", lambda dom, flags: (_wd(dom), flags),
         _typed_params),
    _one("domain_set_perf_events", "DOMAIN_SET_PERF_EVENTS",
         lambda dom, params, flags: (_wd(dom), [typed_param_to_wire(p) for p in params], flags)),
)
# fmt: on
