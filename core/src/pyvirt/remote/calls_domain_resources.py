"""The call table's rows for a domain's devices and resources.

vCPUs, memory, pinning, statistics, scheduler, security labels, guest controls. Part of
:data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import RemoteCall, _c_string, _first, _one, _typed_params, _wd, typed_param_to_wire

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import InterfaceAddresses, SecurityLabel, VcpuInfo

__all__ = ["ROWS"]


_SCHEDULER_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX

_BLOCK_STATS_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX


def _typed_value(v: Any) -> int | str:
    """A ``remote_typed_param_value`` as the (field, value) pairs of ``domain_get_stats`` carry it."""
    kind, value = v
    if kind == 5:  # VIR_TYPED_PARAM_DOUBLE: the stats API reports whole numbers
        return int(value)
    return value if isinstance(value, str) else int(value)


def _addresses(w: Any) -> list[InterfaceAddresses]:
    return [
        _records.InterfaceAddresses(
            name, hwaddr or "", tuple(("ipv6" if t == 1 else "ipv4", addr, prefix) for t, addr, prefix in addrs)
        )
        for name, hwaddr, addrs in w[0]
    ]


def _security_labels(replies: list[Any]) -> list[SecurityLabel]:
    """Every label, or the primary one when the driver has no list.

    libvirtd answers a driver without virDomainGetSecurityLabelList with an
    empty list and ``ret`` -1 rather than an error, so the single-label call
    travels in the same round trip as its fallback (virsh dominfo uses that one).
    """
    (labels, count), (label, enforcing) = replies
    if count >= 0:
        return [_records.SecurityLabel(_c_string(text), bool(enf)) for text, enf in labels]
    return [_records.SecurityLabel(_c_string(label), bool(enforcing))] if _c_string(label) else []


def _cpumaps(raw: bytes, maplen: int) -> list[bytes]:
    """libvirt's cpumaps: maps of ``maplen`` bytes laid end to end in one opaque."""
    if maplen <= 0:
        return []
    return [raw[i : i + maplen] for i in range(0, len(raw), maplen)]


def _vcpu_infos(infos: Any, raw: bytes, maplen: int) -> list[VcpuInfo]:
    maps = _cpumaps(raw, maplen)
    return [_records.VcpuInfo(n, state, cpu_time, cpu, maps[i] if i < len(maps) else b"")
            for i, (n, state, cpu_time, cpu) in enumerate(infos)]  # fmt: skip


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("domain_inject_nmi", "DOMAIN_INJECT_NMI", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_send_key", "DOMAIN_SEND_KEY",
         lambda dom, codeset, holdtime, keycodes, flags: (_wd(dom), codeset, holdtime, list(keycodes), flags)),
    _one("domain_get_time", "DOMAIN_GET_TIME", lambda dom, flags: (_wd(dom), flags), lambda w: (w[0], w[1])),
    _one("domain_set_time", "DOMAIN_SET_TIME",
         lambda dom, seconds, nseconds, flags: (_wd(dom), seconds, nseconds, flags)),
    _one("domain_get_hostname", "DOMAIN_GET_HOSTNAME", lambda dom, flags: (_wd(dom), flags), _first),
    _one("domain_memory_stats", "DOMAIN_MEMORY_STATS", lambda dom, max_stats, flags: (_wd(dom), max_stats, flags),
         lambda w: [(tag, val) for tag, val in w[0]]),
    _one("domain_get_vcpus_flags", "DOMAIN_GET_VCPUS_FLAGS", lambda dom, flags: (_wd(dom), flags), _first),
    RemoteCall("domain_get_vcpus", ("DOMAIN_GET_VCPUS",), lambda dom, maxinfo, maplen: (_wd(dom), maxinfo, maplen),
               lambda w, a: _vcpu_infos(w[0], w[1], int(a[2])), ret_takes_args=True),
    RemoteCall("domain_get_vcpu_pin_info", ("DOMAIN_GET_VCPU_PIN_INFO",),
               lambda dom, ncpumaps, maplen, flags: (_wd(dom), ncpumaps, maplen, flags),
               lambda w, a: _cpumaps(w[0], a[2])[: w[1]], ret_takes_args=True),
    _one("domain_block_stats", "DOMAIN_BLOCK_STATS", lambda dom, path: (_wd(dom), path), lambda w: _records.BlockStats(*w)),
    _one("domain_interface_stats", "DOMAIN_INTERFACE_STATS", lambda dom, device: (_wd(dom), device),
         lambda w: _records.InterfaceStats(*w)),
    # the wire's order is allocation, capacity, physical; virDomainBlockInfo's is capacity first
    _one("domain_get_block_info", "DOMAIN_GET_BLOCK_INFO", lambda dom, path, flags: (_wd(dom), path, flags),
         lambda w: _records.BlockInfo(w[1], w[0], w[2])),
    # emulator pinning and every block counter (contract 1.12); the reply's map is as long as the request's
    _one("domain_get_emulator_pin_info", "DOMAIN_GET_EMULATOR_PIN_INFO",
         lambda dom, maplen, flags: (_wd(dom), maplen, flags), _first),
    _one("domain_pin_emulator", "DOMAIN_PIN_EMULATOR", lambda dom, cpumap, flags: (_wd(dom), bytes(cpumap), flags)),
    # one round trip asking for as many counters as the wire carries, not virsh's count-then-fetch pair
    _one("domain_block_stats_flags", "DOMAIN_BLOCK_STATS_FLAGS",
         lambda dom, path, flags: (_wd(dom), path, _BLOCK_STATS_PARAMETERS_MAX, flags), _typed_params),
    _one("domain_set_memory", "DOMAIN_SET_MEMORY_FLAGS", lambda dom, memory_kib, flags: (_wd(dom), memory_kib, flags),
         plain=("DOMAIN_SET_MEMORY", lambda dom, memory_kib, flags: None if flags else (_wd(dom), memory_kib))),
    _one("domain_set_vcpus", "DOMAIN_SET_VCPUS_FLAGS", lambda dom, count, flags: (_wd(dom), count, flags),
         plain=("DOMAIN_SET_VCPUS", lambda dom, count, flags: None if flags else (_wd(dom), count))),
    _one("domain_set_memory_stats_period", "DOMAIN_SET_MEMORY_STATS_PERIOD",
         lambda dom, period, flags: (_wd(dom), period, flags)),
    _one("domain_pin_vcpu", "DOMAIN_PIN_VCPU_FLAGS",
         lambda dom, vcpu, cpumap, flags: (_wd(dom), vcpu, bytes(cpumap), flags),
         plain=("DOMAIN_PIN_VCPU", lambda dom, vcpu, cpumap, flags: None if flags else (_wd(dom), vcpu, bytes(cpumap)))),
    _one("domain_attach_device", "DOMAIN_ATTACH_DEVICE_FLAGS", lambda dom, xml, flags: (_wd(dom), xml, flags),
         plain=("DOMAIN_ATTACH_DEVICE", lambda dom, xml, flags: None if flags else (_wd(dom), xml))),
    _one("domain_detach_device", "DOMAIN_DETACH_DEVICE_FLAGS", lambda dom, xml, flags: (_wd(dom), xml, flags),
         plain=("DOMAIN_DETACH_DEVICE", lambda dom, xml, flags: None if flags else (_wd(dom), xml))),
    _one("domain_update_device", "DOMAIN_UPDATE_DEVICE_FLAGS", lambda dom, xml, flags: (_wd(dom), xml, flags)),
    _one("domain_get_stats", "CONNECT_GET_ALL_DOMAIN_STATS", lambda dom, stats, flags: ([_wd(dom)], stats, flags),
         lambda w: [(field, _typed_value(v)) for rec in w[0] for field, v in rec[1]]),
    _one("domain_interface_addresses", "DOMAIN_INTERFACE_ADDRESSES",
         lambda dom, source, flags: (_wd(dom), source, flags), _addresses),
    RemoteCall("domain_get_security_label", ("DOMAIN_GET_SECURITY_LABEL_LIST", "DOMAIN_GET_SECURITY_LABEL"),
               lambda dom: [(_wd(dom),), (_wd(dom),)], _security_labels),
    _one("domain_get_scheduler_type", "DOMAIN_GET_SCHEDULER_TYPE", lambda dom: (_wd(dom),), lambda w: (w[0], w[1])),
    # nparams: as many as the wire allows; the driver fills in the ones it has (virsh asks the type first)
    _one("domain_get_scheduler_parameters", "DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS",
         lambda dom, flags: (_wd(dom), _SCHEDULER_PARAMETERS_MAX, flags), _typed_params,
         ("DOMAIN_GET_SCHEDULER_PARAMETERS",
          lambda dom, flags: None if flags else (_wd(dom), _SCHEDULER_PARAMETERS_MAX))),
    _one("domain_set_scheduler_parameters", "DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS",
         lambda dom, params, flags: (_wd(dom), [typed_param_to_wire(p) for p in params], flags),
         plain=("DOMAIN_SET_SCHEDULER_PARAMETERS",
                lambda dom, params, flags: None if flags else (_wd(dom), [typed_param_to_wire(p) for p in params]))),
    # I/O threads (contract 1.15): the reply's list of (id, cpumap) before the count libvirt also sends
    _one("domain_get_iothread_info", "DOMAIN_GET_IOTHREAD_INFO", lambda dom, flags: (_wd(dom), flags),
         lambda w: [_records.IOThreadInfo(tid, bytes(cpumap)) for tid, cpumap in w[0]]),
    _one("domain_pin_iothread", "DOMAIN_PIN_IOTHREAD",
         lambda dom, iothread_id, cpumap, flags: (_wd(dom), iothread_id, bytes(cpumap), flags)),
    _one("domain_add_iothread", "DOMAIN_ADD_IOTHREAD", lambda dom, iothread_id, flags: (_wd(dom), iothread_id, flags)),
    _one("domain_del_iothread", "DOMAIN_DEL_IOTHREAD", lambda dom, iothread_id, flags: (_wd(dom), iothread_id, flags)),
    _one("domain_set_iothread_params", "DOMAIN_SET_IOTHREAD_PARAMS",
         lambda dom, iothread_id, params, flags: (_wd(dom), iothread_id, [typed_param_to_wire(p) for p in params],
                                                  flags)),
    # the guest's file systems (contract 1.15)
    _one("domain_get_fs_info", "DOMAIN_GET_FSINFO", lambda dom, flags: (_wd(dom), flags),
         lambda w: [_records.FSInfo(mp, name, fstype, list(aliases)) for mp, name, fstype, aliases in w[0]]),
    _one("domain_fs_freeze", "DOMAIN_FSFREEZE", lambda dom, mountpoints, flags: (_wd(dom), list(mountpoints), flags),
         _first),
    _one("domain_fs_thaw", "DOMAIN_FSTHAW", lambda dom, mountpoints, flags: (_wd(dom), list(mountpoints), flags),
         _first),
    _one("domain_fs_trim", "DOMAIN_FSTRIM",
         lambda dom, mountpoint, minimum, flags: (_wd(dom), mountpoint, minimum, flags)),
)
# fmt: on
