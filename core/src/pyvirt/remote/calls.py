"""The table of the API over RPC: each driver hook, the procedures that carry it, and how values convert.

One row per hook of ``pyvirt.plugin.specs`` (hypervisor and secondary):
``RemoteCall(hook, procedures, args, ret)``. ``procedures`` names the
``REMOTE_PROC_*`` entries of libvirt's ``remote_protocol.x`` (one, or a
batch sent together and answered in one round trip, as ``domain_get_flags``
needs six of libvirt's ``Is*``/``Has*``/``Get*`` calls); ``args`` turns the hook's
arguments (in the spec's order) into the procedure's ``_args`` tuple (a list
of them for a batch); ``ret`` turns the ``_ret`` tuple(s) into what the hook
returns.

The client (``pyvirt.remote.driver``) makes its hook implementations from
these rows; the daemon reads the same rows the other way round (procedure
number -> hook, ``args``'s inverse). Which hooks a read-only connection may
call, the libvirt API names and the contract versions stay in
``pyvirt.plugin.api``; a test checks that both tables name the same hooks
and that a hook libvirt's ``.x`` annotates with a write ACL is a write hook
there.
"""

from __future__ import annotations

from _collections_abc import Callable, Mapping

from pyvirt.plugin import records as _records
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from pyvirt.plugin.records import (
        CheckpointRef,
        DhcpLease,
        DomainRef,
        InterfaceAddresses,
        NetworkRef,
        PoolRef,
        SecretRef,
        SecurityLabel,
        SnapshotRef,
        VcpuInfo,
        VolumeRef,
    )
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = [
    "CALLS",
    "RemoteCall",
    "domain_ref",
    "network_ref",
    "typed_param_from_wire",
    "typed_param_to_wire",
    "uuid_bytes",
    "uuid_text",
    "wire_domain",
    "wire_volume",
]


class RemoteCall(NamedTuple):
    hook: str
    procedures: tuple[str, ...]  # REMOTE_PROC_ names without the prefix
    args: Callable[..., Any]
    ret: Callable[..., Any]  # the reply (and the wire arguments when ``ret_takes_args``) -> the hook's value
    # The older procedure libvirt's client uses when the call has no flags (the API table's ``plain_api``:
    # virDomainDestroy beside virDomainDestroyFlags), and its arguments, or None when the call has flags.
    plain: tuple[str, Callable[..., Any]] | None = None
    # ``ret`` also takes the wire arguments: a reply whose layout the request chose (cpumaps of ``maplen`` bytes)
    ret_takes_args: bool = False


# ---------------------------------------------------------------- value conversions


def uuid_text(raw: bytes) -> str:
    """16 wire bytes as the canonical lower-case text pyvirt passes around."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace("-", ""))


def domain_ref(w: Any) -> DomainRef:
    return _records.DomainRef(w[0], uuid_text(w[1]), w[2])


def wire_domain(d: DomainRef) -> tuple[str, bytes, int]:
    return (d.name, uuid_bytes(d.uuid), d.id)


def network_ref(w: Any) -> NetworkRef:
    return _records.NetworkRef(w[0], uuid_text(w[1]))


def _wire_network(n: NetworkRef) -> tuple[str, bytes]:
    return (n.name, uuid_bytes(n.uuid))


def _pool_ref(w: Any) -> PoolRef:
    return _records.PoolRef(w[0], uuid_text(w[1]))


def _wire_pool(p: PoolRef) -> tuple[str, bytes]:
    return (p.name, uuid_bytes(p.uuid))


def _volume_ref(w: Any) -> VolumeRef:
    return _records.VolumeRef(w[0], w[1], w[2])


def _wire_volume(v: VolumeRef) -> tuple[str, str, str]:
    return (v.pool, v.name, v.key)


wire_volume = _wire_volume  # for the hand-written stream hooks of pyvirt.remote.driver


def _secret_ref(w: Any) -> SecretRef:
    return _records.SecretRef(uuid_text(w[0]), w[1], w[2])


def _wire_secret(s: SecretRef) -> tuple[bytes, int, str]:
    return (uuid_bytes(s.uuid), s.usage_type, s.usage_id)


def _snapshot_ref(w: Any) -> SnapshotRef:
    return _records.SnapshotRef(domain_ref(w[1]), w[0])


def _wire_snapshot(s: SnapshotRef) -> tuple[str, tuple[str, bytes, int]]:
    return (s.name, wire_domain(s.domain))


def _checkpoint_ref(w: Any) -> CheckpointRef:
    return _records.CheckpointRef(domain_ref(w[1]), w[0])


def _wire_checkpoint(c: CheckpointRef) -> tuple[str, tuple[str, bytes, int]]:
    return (c.name, wire_domain(c.domain))


_BOOLEAN = 6  # VIR_TYPED_PARAM_BOOLEAN: an int on the wire


def typed_param_to_wire(p: TypedParam) -> tuple[str, tuple[int, Any]]:
    """A TypedParam as ``remote_typed_param``: (field, (type, value))."""
    return (p.field, (int(p.type), int(p.value) if p.type == _BOOLEAN else p.value))


def typed_param_from_wire(w: Any) -> TypedParam:
    field, (kind, value) = w
    return TypedParam(field, TypedParamType(kind), bool(value) if kind == _BOOLEAN else value)


def _wire_params(params: list[TypedParam]) -> list[tuple[str, tuple[int, Any]]]:
    return [typed_param_to_wire(p) for p in params]


def _typed_params(w: Any) -> list[TypedParam]:
    return [typed_param_from_wire(p) for p in w[0]]


def _c_string(raw: bytes) -> str:
    """A fixed ``char[]`` buffer of the C API: the text up to its first NUL."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _first(w: Any) -> Any:
    return w[0]


def _none(_w: Any) -> None:
    return None


def _flags(keys: tuple[str, ...]) -> Callable[[list[Any]], dict[str, bool]]:
    def convert(replies: list[Any]) -> dict[str, bool]:
        return {k: bool(r[0]) for k, r in zip(keys, replies, strict=True)}

    return convert


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


def _leases(w: Any) -> list[DhcpLease]:
    return [
        _records.DhcpLease(
            iface, expiry, "ipv6" if t == 1 else "ipv4", mac or "", iaid or "", ipaddr, prefix, hostname or "",
            clientid or "",
        )
        for iface, expiry, t, mac, iaid, ipaddr, prefix, hostname, clientid in w[0]
    ]  # fmt: skip


def _domains_in_spec_order(w: Any) -> list[DomainRef]:
    """The hook's order (running by id, then inactive by name); libvirt's daemons list in their own order."""
    refs = [domain_ref(d) for d in w[0]]
    return sorted(refs, key=lambda r: (r.id == -1, r.id, r.name))


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


_ALL = 1  # need_results: ask for the objects, not just their number
_DOMAIN_FLAGS = ("persistent", "active", "autostart", "managed_save", "has_snapshot", "updated")
_OBJECT_FLAGS = ("active", "persistent", "autostart")
_NODE_DEVICE_LIST_MAX = 65536  # REMOTE_NODE_DEVICE_LIST_MAX
_SCHEDULER_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX
_BLOCK_STATS_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX


def _one(
    hook: str,
    proc: str,
    args: Callable[..., Any],
    ret: Callable[[Any], Any] = _none,
    plain: tuple[str, Callable[..., Any]] | None = None,
) -> RemoteCall:
    # the row made as RemoteCall's own __new__ makes it, without that frame: 150 rows, 0.2 million instructions a run
    return _tuple_new(RemoteCall, (hook, (proc,), args, ret, plain, False))


_tuple_new = tuple.__new__


_wd = wire_domain
# fmt: off
_ROWS: tuple[RemoteCall, ...] = (
    # ------------------------------------------------------------ connection and host
    _one("connect_get_type", "CONNECT_GET_TYPE", lambda: None, _first),
    _one("connect_get_version", "CONNECT_GET_VERSION", lambda: None, _first),
    _one("connect_get_hostname", "CONNECT_GET_HOSTNAME", lambda: None, _first),
    _one("connect_get_capabilities", "CONNECT_GET_CAPABILITIES", lambda: None, _first),
    _one("connect_get_domain_capabilities", "CONNECT_GET_DOMAIN_CAPABILITIES",
         lambda emulator, arch, machine, virttype, flags: (emulator, arch, machine, virttype, flags), _first),
    _one("connect_domain_xml_to_native", "CONNECT_DOMAIN_XML_TO_NATIVE",
         lambda native_format, xml: (native_format, xml, 0), _first),
    _one("connect_domain_xml_from_native", "CONNECT_DOMAIN_XML_FROM_NATIVE",
         lambda native_format, native_config: (native_format, native_config, 0), _first),
    _one("node_get_info", "NODE_GET_INFO", lambda: None, lambda w: _records.NodeInfo(_c_string(w[0]), *w[1:])),
    _one("node_get_cpu_map", "NODE_GET_CPU_MAP", lambda flags: (1, 1, flags), lambda w: (w[2], w[0] or b"", w[1])),
    _one("node_get_security_model", "NODE_GET_SECURITY_MODEL", lambda: None,
         lambda w: _records.SecurityModel(_c_string(w[0]), _c_string(w[1]))),
    # ------------------------------------------------------------ domains
    _one("domain_list_all", "CONNECT_LIST_ALL_DOMAINS", lambda: (_ALL, 0), _domains_in_spec_order),
    _one("domain_lookup_by_name", "DOMAIN_LOOKUP_BY_NAME", lambda name: (name,), lambda w: domain_ref(w[0])),
    _one("domain_lookup_by_uuid", "DOMAIN_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: domain_ref(w[0])),
    _one("domain_lookup_by_id", "DOMAIN_LOOKUP_BY_ID", lambda id: (id,), lambda w: domain_ref(w[0])),
    _one("domain_define_xml", "DOMAIN_DEFINE_XML_FLAGS", lambda xml, flags: (xml, flags), lambda w: domain_ref(w[0]),
         ("DOMAIN_DEFINE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("domain_undefine", "DOMAIN_UNDEFINE_FLAGS", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_create_xml", "DOMAIN_CREATE_XML", lambda xml, flags: (xml, flags), lambda w: domain_ref(w[0])),
    _one("domain_create", "DOMAIN_CREATE_WITH_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_CREATE", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_destroy", "DOMAIN_DESTROY_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_DESTROY", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_shutdown", "DOMAIN_SHUTDOWN_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_SHUTDOWN", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_reboot", "DOMAIN_REBOOT", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_suspend", "DOMAIN_SUSPEND", lambda dom: (_wd(dom),)),
    _one("domain_resume", "DOMAIN_RESUME", lambda dom: (_wd(dom),)),
    _one("domain_save", "DOMAIN_SAVE_FLAGS", lambda dom, path, xml, flags: (_wd(dom), path, xml, flags),
         plain=("DOMAIN_SAVE", lambda dom, path, xml, flags: None if flags or xml else (_wd(dom), path))),
    _one("domain_managed_save", "DOMAIN_MANAGED_SAVE", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_abort_job", "DOMAIN_ABORT_JOB_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_ABORT_JOB", lambda dom, flags: None if flags else (_wd(dom),))),
    _one("domain_managed_save_remove", "DOMAIN_MANAGED_SAVE_REMOVE", lambda dom, flags: (_wd(dom), flags)),
    # migration, libvirt's version 3 with parameters: cookies travel as opaque bytes, params as typed params
    _one("domain_migrate_begin", "DOMAIN_MIGRATE_BEGIN3_PARAMS",
         lambda dom, params, flags: (_wd(dom), _wire_params(params), flags), lambda w: (w[1], w[0])),
    _one("domain_migrate_prepare", "DOMAIN_MIGRATE_PREPARE3_PARAMS",
         lambda params, cookie, flags: (_wire_params(params), cookie, flags), lambda w: (w[0], w[1])),
    _one("domain_migrate_perform", "DOMAIN_MIGRATE_PERFORM3_PARAMS",
         lambda dom, dconnuri, params, cookie, flags: (_wd(dom), dconnuri, _wire_params(params), cookie, flags),
         _first),
    _one("domain_migrate_finish", "DOMAIN_MIGRATE_FINISH3_PARAMS",
         lambda params, cookie, flags, cancelled: (_wire_params(params), cookie, flags, int(cancelled)),
         lambda w: (domain_ref(w[0]), w[1])),
    _one("domain_migrate_confirm", "DOMAIN_MIGRATE_CONFIRM3_PARAMS",
         lambda dom, params, cookie, flags, cancelled: (_wd(dom), _wire_params(params), cookie, flags,
                                                        int(cancelled))),
    _one("domain_get_job_stats", "DOMAIN_GET_JOB_STATS", lambda dom, flags: (_wd(dom), flags),
         lambda w: (w[0], [typed_param_from_wire(p) for p in w[1]])),
    _one("domain_migrate_start_post_copy", "DOMAIN_MIGRATE_START_POST_COPY", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_migrate_set_max_downtime", "DOMAIN_MIGRATE_SET_MAX_DOWNTIME",
         lambda dom, downtime, flags: (_wd(dom), downtime, flags)),
    _one("domain_migrate_get_max_downtime", "DOMAIN_MIGRATE_GET_MAX_DOWNTIME", lambda dom, flags: (_wd(dom), flags),
         _first),
    # metadata, guest controls, statistics (contract 1.11)
    _one("domain_get_metadata", "DOMAIN_GET_METADATA", lambda dom, type, uri, flags: (_wd(dom), type, uri, flags),
         _first),
    _one("domain_set_metadata", "DOMAIN_SET_METADATA",
         lambda dom, type, metadata, key, uri, flags: (_wd(dom), type, metadata, key, uri, flags)),
    _one("domain_rename", "DOMAIN_RENAME", lambda dom, new_name, flags: (_wd(dom), new_name, flags)),
    _one("domain_reset", "DOMAIN_RESET", lambda dom, flags: (_wd(dom), flags)),
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
    # the wire's "found" first: 0 is libvirt's "no job", the hook's (0, 0, 0, 0)
    _one("domain_get_block_job_info", "DOMAIN_GET_BLOCK_JOB_INFO", lambda dom, path, flags: (_wd(dom), path, flags),
         lambda w: (w[1], w[2], w[3], w[4]) if w[0] else (0, 0, 0, 0)),
    # block copy and block job control (contract 1.13)
    _one("domain_block_copy", "DOMAIN_BLOCK_COPY",
         lambda dom, path, destxml, params, flags: (_wd(dom), path, destxml, _wire_params(params), flags)),
    _one("domain_block_rebase", "DOMAIN_BLOCK_REBASE",
         lambda dom, path, base, bandwidth, flags: (_wd(dom), path, base, bandwidth, flags)),
    _one("domain_block_job_abort", "DOMAIN_BLOCK_JOB_ABORT", lambda dom, path, flags: (_wd(dom), path, flags)),
    _one("domain_block_job_set_speed", "DOMAIN_BLOCK_JOB_SET_SPEED",
         lambda dom, path, bandwidth, flags: (_wd(dom), path, bandwidth, flags)),
    _one("domain_block_pull", "DOMAIN_BLOCK_PULL", lambda dom, path, bandwidth, flags: (_wd(dom), path, bandwidth, flags)),
    _one("domain_block_commit", "DOMAIN_BLOCK_COMMIT",
         lambda dom, path, base, top, bandwidth, flags: (_wd(dom), path, base, top, bandwidth, flags)),
    _one("domain_get_info", "DOMAIN_GET_INFO", lambda dom: (_wd(dom),), lambda w: _records.DomainInfo(*w)),
    _one("domain_get_state", "DOMAIN_GET_STATE", lambda dom: (_wd(dom), 0), lambda w: (w[0], w[1])),
    _one("domain_get_xml_desc", "DOMAIN_GET_XML_DESC", lambda dom, flags: (_wd(dom), flags), _first),
    _one("domain_get_os_type", "DOMAIN_GET_OS_TYPE", lambda dom: (_wd(dom),), _first),
    RemoteCall("domain_get_flags",
               ("DOMAIN_IS_PERSISTENT", "DOMAIN_IS_ACTIVE", "DOMAIN_GET_AUTOSTART", "DOMAIN_HAS_MANAGED_SAVE_IMAGE",
                "DOMAIN_HAS_CURRENT_SNAPSHOT", "DOMAIN_IS_UPDATED"),
               lambda dom: [(_wd(dom),), (_wd(dom),), (_wd(dom),), (_wd(dom), 0), (_wd(dom), 0), (_wd(dom),)],
               _flags(_DOMAIN_FLAGS)),
    _one("domain_set_autostart", "DOMAIN_SET_AUTOSTART", lambda dom, autostart: (_wd(dom), int(autostart))),
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
    # ------------------------------------------------------------ checkpoints
    _one("checkpoint_create_xml", "DOMAIN_CHECKPOINT_CREATE_XML", lambda dom, xml, flags: (_wd(dom), xml, flags),
         lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_list_names", "DOMAIN_LIST_ALL_CHECKPOINTS", lambda dom, flags: (_wd(dom), _ALL, flags),
         lambda w: [c[0] for c in w[0]]),
    _one("checkpoint_list_children", "DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN",
         lambda chk, flags: (_wire_checkpoint(chk), _ALL, flags), lambda w: [c[0] for c in w[0]]),
    _one("checkpoint_lookup_by_name", "DOMAIN_CHECKPOINT_LOOKUP_BY_NAME",
         lambda dom, name, flags: (_wd(dom), name, flags), lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_get_xml_desc", "DOMAIN_CHECKPOINT_GET_XML_DESC",
         lambda chk, flags: (_wire_checkpoint(chk), flags), _first),
    _one("checkpoint_get_parent", "DOMAIN_CHECKPOINT_GET_PARENT", lambda chk, flags: (_wire_checkpoint(chk), flags),
         lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_delete", "DOMAIN_CHECKPOINT_DELETE", lambda chk, flags: (_wire_checkpoint(chk), flags)),
    # ------------------------------------------------------------ snapshots
    _one("snapshot_create_xml", "DOMAIN_SNAPSHOT_CREATE_XML", lambda dom, xml, flags: (_wd(dom), xml, flags),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_list_names", "DOMAIN_LIST_ALL_SNAPSHOTS", lambda dom, flags: (_wd(dom), _ALL, flags),
         lambda w: [s[0] for s in w[0]]),
    _one("snapshot_lookup_by_name", "DOMAIN_SNAPSHOT_LOOKUP_BY_NAME", lambda dom, name: (_wd(dom), name, 0),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_current", "DOMAIN_SNAPSHOT_CURRENT", lambda dom: (_wd(dom), 0), lambda w: _snapshot_ref(w[0])),
    _one("snapshot_get_xml_desc", "DOMAIN_SNAPSHOT_GET_XML_DESC",
         lambda snap, flags: (_wire_snapshot(snap), flags), _first),
    _one("snapshot_get_parent", "DOMAIN_SNAPSHOT_GET_PARENT", lambda snap: (_wire_snapshot(snap), 0),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_revert", "DOMAIN_REVERT_TO_SNAPSHOT", lambda snap, flags: (_wire_snapshot(snap), flags)),
    _one("snapshot_delete", "DOMAIN_SNAPSHOT_DELETE", lambda snap, flags: (_wire_snapshot(snap), flags)),
    # ------------------------------------------------------------ networks
    _one("network_list_all", "CONNECT_LIST_ALL_NETWORKS", lambda: (_ALL, 0),
         lambda w: sorted((network_ref(n) for n in w[0]), key=lambda r: r.name)),
    _one("network_lookup_by_name", "NETWORK_LOOKUP_BY_NAME", lambda name: (name,), lambda w: network_ref(w[0])),
    _one("network_lookup_by_uuid", "NETWORK_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: network_ref(w[0])),
    _one("network_define_xml", "NETWORK_DEFINE_XML_FLAGS", lambda xml, flags: (xml, flags),
         lambda w: network_ref(w[0]), ("NETWORK_DEFINE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("network_create_xml", "NETWORK_CREATE_XML_FLAGS", lambda xml, flags: (xml, flags),
         lambda w: network_ref(w[0]), ("NETWORK_CREATE_XML", lambda xml, flags: None if flags else (xml,))),
    _one("network_undefine", "NETWORK_UNDEFINE", lambda net: (_wire_network(net),)),
    _one("network_create", "NETWORK_CREATE", lambda net: (_wire_network(net),)),
    _one("network_destroy", "NETWORK_DESTROY", lambda net: (_wire_network(net),)),
    _one("network_get_xml_desc", "NETWORK_GET_XML_DESC", lambda net, flags: (_wire_network(net), flags), _first),
    RemoteCall("network_get_flags", ("NETWORK_IS_ACTIVE", "NETWORK_IS_PERSISTENT", "NETWORK_GET_AUTOSTART"),
               lambda net: [(_wire_network(net),)] * 3, _flags(_OBJECT_FLAGS)),
    _one("network_get_bridge_name", "NETWORK_GET_BRIDGE_NAME", lambda net: (_wire_network(net),), _first),
    _one("network_get_dhcp_leases", "NETWORK_GET_DHCP_LEASES",
         lambda net, mac, flags: (_wire_network(net), mac, _ALL, flags), _leases),
    _one("network_update", "NETWORK_UPDATE",
         lambda net, command, section, parent_index, xml, flags:
         (_wire_network(net), command, section, parent_index, xml, flags)),
    _one("network_set_autostart", "NETWORK_SET_AUTOSTART",
         lambda net, autostart: (_wire_network(net), int(autostart))),
    # ------------------------------------------------------------ storage pools
    _one("pool_list_all", "CONNECT_LIST_ALL_STORAGE_POOLS", lambda: (_ALL, 0),
         lambda w: sorted((_pool_ref(p) for p in w[0]), key=lambda r: r.name)),
    _one("pool_lookup_by_name", "STORAGE_POOL_LOOKUP_BY_NAME", lambda name: (name,), lambda w: _pool_ref(w[0])),
    _one("pool_lookup_by_uuid", "STORAGE_POOL_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: _pool_ref(w[0])),
    _one("pool_define_xml", "STORAGE_POOL_DEFINE_XML", lambda xml, flags: (xml, flags), lambda w: _pool_ref(w[0])),
    _one("pool_create_xml", "STORAGE_POOL_CREATE_XML", lambda xml, flags: (xml, flags), lambda w: _pool_ref(w[0])),
    _one("pool_undefine", "STORAGE_POOL_UNDEFINE", lambda pool: (_wire_pool(pool),)),
    _one("pool_create", "STORAGE_POOL_CREATE", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_destroy", "STORAGE_POOL_DESTROY", lambda pool: (_wire_pool(pool),)),
    _one("pool_refresh", "STORAGE_POOL_REFRESH", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_build", "STORAGE_POOL_BUILD", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_delete", "STORAGE_POOL_DELETE", lambda pool, flags: (_wire_pool(pool), flags)),
    _one("pool_get_info", "STORAGE_POOL_GET_INFO", lambda pool: (_wire_pool(pool),), lambda w: _records.PoolInfo(*w)),
    _one("pool_get_xml_desc", "STORAGE_POOL_GET_XML_DESC", lambda pool, flags: (_wire_pool(pool), flags), _first),
    RemoteCall("pool_get_flags",
               ("STORAGE_POOL_IS_ACTIVE", "STORAGE_POOL_IS_PERSISTENT", "STORAGE_POOL_GET_AUTOSTART"),
               lambda pool: [(_wire_pool(pool),)] * 3, _flags(_OBJECT_FLAGS)),
    _one("pool_set_autostart", "STORAGE_POOL_SET_AUTOSTART",
         lambda pool, autostart: (_wire_pool(pool), int(autostart))),
    # ------------------------------------------------------------ storage volumes
    _one("volume_list_all", "STORAGE_POOL_LIST_ALL_VOLUMES", lambda pool: (_wire_pool(pool), _ALL, 0),
         lambda w: sorted((_volume_ref(v) for v in w[0]), key=lambda r: r.name)),
    _one("volume_lookup_by_name", "STORAGE_VOL_LOOKUP_BY_NAME", lambda pool, name: (_wire_pool(pool), name),
         lambda w: _volume_ref(w[0])),
    _one("volume_lookup_by_key", "STORAGE_VOL_LOOKUP_BY_KEY", lambda key: (key,), lambda w: _volume_ref(w[0])),
    _one("volume_lookup_by_path", "STORAGE_VOL_LOOKUP_BY_PATH", lambda path: (path,), lambda w: _volume_ref(w[0])),
    _one("volume_create_xml", "STORAGE_VOL_CREATE_XML", lambda pool, xml, flags: (_wire_pool(pool), xml, flags),
         lambda w: _volume_ref(w[0])),
    _one("volume_delete", "STORAGE_VOL_DELETE", lambda vol, flags: (_wire_volume(vol), flags)),
    _one("volume_get_info", "STORAGE_VOL_GET_INFO", lambda vol: (_wire_volume(vol),), lambda w: _records.VolumeInfo(*w)),
    _one("volume_get_xml_desc", "STORAGE_VOL_GET_XML_DESC", lambda vol, flags: (_wire_volume(vol), flags), _first),
    _one("volume_get_path", "STORAGE_VOL_GET_PATH", lambda vol: (_wire_volume(vol),), _first),
    _one("volume_create_xml_from", "STORAGE_VOL_CREATE_XML_FROM",
         lambda pool, xml, source, flags: (_wire_pool(pool), xml, _wire_volume(source), flags),
         lambda w: _volume_ref(w[0])),
    # libvirt's client sends virStorageVolWipe as its own procedure: a daemon whose driver has no patterns
    # (ESX) answers it
    _one("volume_wipe", "STORAGE_VOL_WIPE_PATTERN", lambda vol, algorithm, flags: (_wire_volume(vol), algorithm, flags),
         plain=("STORAGE_VOL_WIPE", lambda vol, algorithm, flags: None if algorithm else (_wire_volume(vol), flags))),
    # ------------------------------------------------------------ secrets
    _one("secret_list_all", "CONNECT_LIST_ALL_SECRETS", lambda: (_ALL, 0), lambda w: [_secret_ref(s) for s in w[0]]),
    _one("secret_lookup_by_uuid", "SECRET_LOOKUP_BY_UUID", lambda uuid: (uuid_bytes(uuid),),
         lambda w: _secret_ref(w[0])),
    _one("secret_lookup_by_usage", "SECRET_LOOKUP_BY_USAGE", lambda usage_type, usage_id: (usage_type, usage_id),
         lambda w: _secret_ref(w[0])),
    _one("secret_define_xml", "SECRET_DEFINE_XML", lambda xml, flags: (xml, flags), lambda w: _secret_ref(w[0])),
    _one("secret_undefine", "SECRET_UNDEFINE", lambda secret: (_wire_secret(secret),)),
    _one("secret_get_xml_desc", "SECRET_GET_XML_DESC", lambda secret, flags: (_wire_secret(secret), flags), _first),
    _one("secret_set_value", "SECRET_SET_VALUE", lambda secret, value, flags: (_wire_secret(secret), value, flags)),
    _one("secret_get_value", "SECRET_GET_VALUE", lambda secret, flags: (_wire_secret(secret), flags), _first),
    # ------------------------------------------------------------ node devices and host interfaces
    _one("nodedev_list_all", "NODE_LIST_DEVICES", lambda cap: (cap, _NODE_DEVICE_LIST_MAX, 0),
         lambda w: [_records.NodeDeviceRef(n) for n in sorted(w[0])]),
    _one("nodedev_lookup_by_name", "NODE_DEVICE_LOOKUP_BY_NAME", lambda name: (name,),
         lambda w: _records.NodeDeviceRef(w[0][0])),
    _one("nodedev_get_xml_desc", "NODE_DEVICE_GET_XML_DESC", lambda dev, flags: (dev.name, flags), _first),
    _one("nodedev_get_parent", "NODE_DEVICE_GET_PARENT", lambda dev: (dev.name,), lambda w: w[0] or ""),
    _one("interface_list_all", "CONNECT_LIST_ALL_INTERFACES", lambda: (_ALL, 0),
         lambda w: [_records.InterfaceRef(*i) for i in w[0]]),
    _one("interface_lookup_by_name", "INTERFACE_LOOKUP_BY_NAME", lambda name: (name,),
         lambda w: _records.InterfaceRef(*w[0])),
    _one("interface_get_xml_desc", "INTERFACE_GET_XML_DESC", lambda iface, flags: (tuple(iface), flags), _first),
    _one("interface_is_active", "INTERFACE_IS_ACTIVE", lambda iface: (tuple(iface),), lambda w: bool(w[0])),
)
# fmt: on

CALLS: Mapping[str, RemoteCall] = {row.hook: row for row in _ROWS}
"""Every hook the remote driver carries, by hook name."""
