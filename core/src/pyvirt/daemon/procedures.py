"""What each remote procedure does in pyvirtd: wire arguments -> driver hooks -> wire result.

Procedures that carry one hook each are the rows of
:data:`pyvirt.remote.calls.CALLS` read backwards (the same hook, the same
procedure; a test checks that every procedure the client sends for a hook is
served here by that hook). The rest are libvirt's own conveniences built
from the hooks, as libvirt builds them in its drivers: ``virDomainIsActive``
from the domain's flags, the old ``virConnectListDomains``/``NumOf*`` calls
from the full list, ``virDomainGetOSType`` from the definition.

Values on the wire: records travel as tuples in the ``.x`` field order, UUIDs
as 16 bytes, booleans as ints, fixed ``char[]`` buffers as NUL-padded bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyvirt.daemon.remote_program import ClientContext, StreamOpen, close_context
from pyvirt.domain import domain_matches
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, InvalidArgumentError, OperationDeniedError
from pyvirt.network import network_matches
from pyvirt.plugin.records import (
    CheckpointRef,
    DomainRef,
    InterfaceRef,
    NetworkRef,
    NodeDeviceRef,
    PoolRef,
    SecretRef,
    SnapshotRef,
    VolumeRef,
)
from pyvirt.plugin.typed_params import FIELD_LENGTH, TypedParam, TypedParamType, typed_param
from pyvirt.remote.calls import domain_ref, network_ref, uuid_bytes, uuid_text, wire_domain
from pyvirt.storage import pool_matches

__all__ = ["HANDLERS", "NO_CONNECTION_NEEDED"]

Handler = Callable[[ClientContext, Any], Any]
HANDLERS: dict[str, Handler] = {}
# Procedures a client may call before CONNECT_OPEN (libvirt's open sequence and its feature probes).
NO_CONNECTION_NEEDED = frozenset(
    {"REMOTE_PROC_AUTH_LIST", "REMOTE_PROC_CONNECT_OPEN", "REMOTE_PROC_CONNECT_SUPPORTS_FEATURE",
     "REMOTE_PROC_CONNECT_CLOSE"}
)  # fmt: skip

# libvirt's library version the daemon reports: the protocol and API level pyvirtd serves (libvirt 9.0's),
# which is what clients compare against before using newer calls.
LIB_VERSION = 9_000_000

_AUTH_NONE = 0
_VIR_CONNECT_RO = 1
_VIR_DOMAIN_AFFECT_LIVE = 1
# virDrvFeature values a remote client asks about (libvirt_internal.h), and the answers.
_FEATURES = {8: 0, 9: 1, 10: 1, 14: 1, 15: 1, 16: 1}  # FD_PASSING no; TYPED_PARAM_STRING, KEEPALIVE, events...
_FEATURE_PROGRAM_KEEPALIVE = 10
_DOMAIN_EVENT_ID_LAST = 26  # VIR_DOMAIN_EVENT_ID_LAST in libvirt 9.0
_NETWORK_EVENT_ID_LAST = 1
_POOL_EVENT_ID_LAST = 2
_LIST_MAX = 16384  # REMOTE_DOMAIN_LIST_MAX and its siblings
_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318
_PROC_NETWORK_EVENT_LIFECYCLE = 315


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS["REMOTE_PROC_" + name] = fn
        return fn

    return register


# ---------------------------------------------------------------- wire values
def _net(w: Any) -> NetworkRef:
    return network_ref(w)


def _wnet(n: NetworkRef) -> tuple[str, bytes]:
    return (n.name, uuid_bytes(n.uuid))


def _pool(w: Any) -> PoolRef:
    return PoolRef(w[0], uuid_text(w[1]))


def _wpool(p: PoolRef) -> tuple[str, bytes]:
    return (p.name, uuid_bytes(p.uuid))


def _vol(w: Any) -> VolumeRef:
    return VolumeRef(w[0], w[1], w[2])


def _wvol(v: VolumeRef) -> tuple[str, str, str]:
    return (v.pool, v.name, v.key)


def _secret(w: Any) -> SecretRef:
    return SecretRef(uuid_text(w[0]), w[1], w[2])


def _wsecret(s: SecretRef) -> tuple[bytes, int, str]:
    return (uuid_bytes(s.uuid), s.usage_type, s.usage_id)


def _snap(w: Any) -> SnapshotRef:
    return SnapshotRef(domain_ref(w[1]), w[0])


def _wsnap(s: SnapshotRef) -> tuple[str, tuple[str, bytes, int]]:
    return (s.name, wire_domain(s.domain))


def _char_array(text: str, size: int) -> bytes:
    """A fixed ``char[size]`` of the C API: the text, NUL-padded (and NUL-terminated when it fits)."""
    return text.encode()[: size - 1].ljust(size, b"\0")


def _c_string(text: str) -> bytes:
    """A variable ``char<>`` the C side reads as a string: libvirt sends the terminating NUL too."""
    return text.encode() + b"\0"


def _listed(refs: Iterable[Any], need: int, wire: Callable[[Any], Any]) -> tuple[list[Any], int]:
    items = list(refs)
    if len(items) > _LIST_MAX:
        raise Error(ErrorCode.RPC, "too many objects for one reply", domain=ErrorDomain.RPC)
    return ([wire(i) for i in items] if need else [], len(items))


def _capped(values: list[Any], maximum: int, what: str) -> list[Any]:
    if maximum > _LIST_MAX:
        raise Error(ErrorCode.RPC, f"{what} > REMOTE_{what.upper()}_LIST_MAX", domain=ErrorDomain.RPC)
    return values[: max(maximum, 0)]


def _domain(ctx: ClientContext, w: Any) -> DomainRef:
    """The client's handle, refreshed: its id may be stale (the client looked it up before a start)."""
    return ctx.calls.domain_lookup_by_uuid(uuid=uuid_text(w[1]))


# ---------------------------------------------------------------- connection
@handles("AUTH_LIST")
def _auth_list(ctx: ClientContext, a: Any) -> Any:
    return ([_AUTH_NONE],)


@handles("CONNECT_SUPPORTS_FEATURE")
def _supports_feature(ctx: ClientContext, a: Any) -> Any:
    feature = a[0]
    if feature == _FEATURE_PROGRAM_KEEPALIVE:
        ctx.client.start_keepalive()
    return (_FEATURES.get(feature, 0),)


@handles("CONNECT_OPEN")
def _open(ctx: ClientContext, a: Any) -> Any:
    name, flags = a
    with ctx.lock:
        if ctx.shared is not None:
            raise Error(ErrorCode.INTERNAL_ERROR, "connection already open", domain=ErrorDomain.RPC)
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


@handles("NODE_GET_SECURITY_MODEL")
def _security_model(ctx: ClientContext, a: Any) -> Any:
    m = ctx.calls.node_get_security_model()
    return (_c_string(m.model) if m.model else b"", _c_string(m.doi) if m.doi else b"")


# ---------------------------------------------------------------- domains
def _all_domains(ctx: ClientContext, flags: int = 0) -> list[DomainRef]:
    calls = ctx.calls
    return [r for r in calls.domain_list_all() if domain_matches(calls, r, flags)]


@handles("CONNECT_LIST_ALL_DOMAINS")
def _list_all_domains(ctx: ClientContext, a: Any) -> Any:
    return _listed(_all_domains(ctx, a[1]), a[0], wire_domain)


@handles("CONNECT_NUM_OF_DOMAINS")
def _num_domains(ctx: ClientContext, a: Any) -> Any:
    return (sum(1 for r in ctx.calls.domain_list_all() if r.id != -1),)


@handles("CONNECT_LIST_DOMAINS")
def _list_domains(ctx: ClientContext, a: Any) -> Any:
    ids = sorted(r.id for r in ctx.calls.domain_list_all() if r.id != -1)
    return (_capped(ids, a[0], "maxids"),)


@handles("CONNECT_NUM_OF_DEFINED_DOMAINS")
def _num_defined_domains(ctx: ClientContext, a: Any) -> Any:
    return (sum(1 for r in ctx.calls.domain_list_all() if r.id == -1),)


@handles("CONNECT_LIST_DEFINED_DOMAINS")
def _list_defined_domains(ctx: ClientContext, a: Any) -> Any:
    names = sorted(r.name for r in ctx.calls.domain_list_all() if r.id == -1)
    return (_capped(names, a[0], "maxnames"),)


@handles("DOMAIN_LOOKUP_BY_NAME")
def _lookup_name(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_name(name=a[0])),)


@handles("DOMAIN_LOOKUP_BY_UUID")
def _lookup_uuid(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_uuid(uuid=uuid_text(a[0]))),)


@handles("DOMAIN_LOOKUP_BY_ID")
def _lookup_id(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_id(id=a[0])),)


@handles("DOMAIN_GET_INFO")
def _domain_info(ctx: ClientContext, a: Any) -> Any:
    return tuple(ctx.calls.domain_get_info(dom=domain_ref(a[0])))


@handles("DOMAIN_GET_MAX_MEMORY")
def _max_memory(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_get_info(dom=domain_ref(a[0])).max_memory_kib,)


@handles("DOMAIN_GET_STATE")
def _domain_state(ctx: ClientContext, a: Any) -> Any:
    if a[1]:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"unsupported flags (0x{a[1]:x}) in function virDomainGetState"
        )
    return tuple(ctx.calls.domain_get_state(dom=domain_ref(a[0])))


@handles("DOMAIN_GET_XML_DESC")
def _domain_xml(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_get_xml_desc(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_GET_OS_TYPE")
def _os_type(ctx: ClientContext, a: Any) -> Any:
    from pyvirt.domain import Domain

    return (Domain(ctx.conn, domain_ref(a[0])).os_type(),)


@handles("DOMAIN_DEFINE_XML")
def _define(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_define_xml(xml=a[0], flags=0)),)


@handles("DOMAIN_DEFINE_XML_FLAGS")
def _define_flags(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_define_xml(xml=a[0], flags=a[1])),)


@handles("DOMAIN_UNDEFINE")
def _undefine(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_undefine(dom=domain_ref(a[0]), flags=0)


@handles("DOMAIN_UNDEFINE_FLAGS")
def _undefine_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_undefine(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_CREATE")
def _create(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_create(dom=domain_ref(a[0]), flags=0)


@handles("DOMAIN_CREATE_WITH_FLAGS")
def _create_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_create(dom=domain_ref(a[0]), flags=a[1])
    return (wire_domain(_domain(ctx, a[0])),)


@handles("DOMAIN_CREATE_XML")
def _create_xml(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_create_xml(xml=a[0], flags=a[1])),)


@handles("DOMAIN_DESTROY")
def _destroy(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_destroy(dom=domain_ref(a[0]), flags=0)


@handles("DOMAIN_DESTROY_FLAGS")
def _destroy_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_destroy(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_SUSPEND")
def _suspend(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_suspend(dom=domain_ref(a[0]))


@handles("DOMAIN_RESUME")
def _resume(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_resume(dom=domain_ref(a[0]))


@handles("DOMAIN_SHUTDOWN")
def _shutdown(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_shutdown(dom=domain_ref(a[0]), flags=0)


def _flag_call(hook: str) -> Handler:
    def call(ctx: ClientContext, a: Any) -> Any:
        getattr(ctx.calls, hook)(dom=domain_ref(a[0]), flags=a[1])

    return call


HANDLERS["REMOTE_PROC_DOMAIN_SHUTDOWN_FLAGS"] = _flag_call("domain_shutdown")
HANDLERS["REMOTE_PROC_DOMAIN_REBOOT"] = _flag_call("domain_reboot")
HANDLERS["REMOTE_PROC_DOMAIN_MANAGED_SAVE"] = _flag_call("domain_managed_save")
HANDLERS["REMOTE_PROC_DOMAIN_MANAGED_SAVE_REMOVE"] = _flag_call("domain_managed_save_remove")


def _domain_flag(key: str) -> Handler:
    def get(ctx: ClientContext, a: Any) -> Any:
        return (int(bool(ctx.calls.domain_get_flags(dom=domain_ref(a[0]))[key])),)

    return get


HANDLERS["REMOTE_PROC_DOMAIN_IS_ACTIVE"] = _domain_flag("active")
HANDLERS["REMOTE_PROC_DOMAIN_IS_PERSISTENT"] = _domain_flag("persistent")
HANDLERS["REMOTE_PROC_DOMAIN_IS_UPDATED"] = _domain_flag("updated")
HANDLERS["REMOTE_PROC_DOMAIN_GET_AUTOSTART"] = _domain_flag("autostart")
HANDLERS["REMOTE_PROC_DOMAIN_HAS_MANAGED_SAVE_IMAGE"] = _domain_flag("managed_save")
HANDLERS["REMOTE_PROC_DOMAIN_HAS_CURRENT_SNAPSHOT"] = _domain_flag("has_snapshot")


@handles("DOMAIN_SET_AUTOSTART")
def _set_autostart(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_autostart(dom=domain_ref(a[0]), autostart=bool(a[1]))


@handles("DOMAIN_SAVE")
def _save(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_save(dom=domain_ref(a[0]), path=a[1], xml=None, flags=0)


@handles("DOMAIN_SAVE_FLAGS")
def _save_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_save(dom=domain_ref(a[0]), path=a[1], xml=a[2], flags=a[3])


@handles("DOMAIN_RESTORE")
def _restore(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_restore(path=a[0], xml=None, flags=0)


@handles("DOMAIN_RESTORE_FLAGS")
def _restore_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_restore(path=a[0], xml=a[1], flags=a[2])


@handles("DOMAIN_ATTACH_DEVICE")
def _attach(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_attach_device(dom=domain_ref(a[0]), xml=a[1], flags=_VIR_DOMAIN_AFFECT_LIVE)


@handles("DOMAIN_DETACH_DEVICE")
def _detach(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_detach_device(dom=domain_ref(a[0]), xml=a[1], flags=_VIR_DOMAIN_AFFECT_LIVE)


def _device_call(hook: str) -> Handler:
    def call(ctx: ClientContext, a: Any) -> Any:
        getattr(ctx.calls, hook)(dom=domain_ref(a[0]), xml=a[1], flags=a[2])

    return call


HANDLERS["REMOTE_PROC_DOMAIN_ATTACH_DEVICE_FLAGS"] = _device_call("domain_attach_device")
HANDLERS["REMOTE_PROC_DOMAIN_DETACH_DEVICE_FLAGS"] = _device_call("domain_detach_device")
HANDLERS["REMOTE_PROC_DOMAIN_UPDATE_DEVICE_FLAGS"] = _device_call("domain_update_device")


@handles("DOMAIN_GET_SECURITY_LABEL")
def _security_label(ctx: ClientContext, a: Any) -> Any:
    labels = ctx.calls.domain_get_security_label(dom=domain_ref(a[0]))
    if not labels:
        return (b"", 0)
    return (_c_string(labels[0].label), int(labels[0].enforcing))


@handles("DOMAIN_GET_SECURITY_LABEL_LIST")
def _security_labels(ctx: ClientContext, a: Any) -> Any:
    labels = ctx.calls.domain_get_security_label(dom=domain_ref(a[0]))
    return ([(_c_string(lb.label), int(lb.enforcing)) for lb in labels], len(labels))


@handles("DOMAIN_INTERFACE_ADDRESSES")
def _interface_addresses(ctx: ClientContext, a: Any) -> Any:
    found = ctx.calls.domain_interface_addresses(dom=domain_ref(a[0]), source=a[1], flags=a[2])
    return (
        [
            (i.name, i.hwaddr or None, [(1 if t == "ipv6" else 0, addr, prefix) for t, addr, prefix in i.addrs])
            for i in found
        ],
    )


# virTypedParameterType: INT 1, UINT 2, LLONG 3, ULLONG 4, STRING 7. libvirt's stats use INT for the
# state fields, UINT for counts and vCPU numbers, ULLONG for the rest.
_INT_FIELDS = frozenset({"state.state", "state.reason"})


def _typed(field: str, value: int | str) -> tuple[int, int | str]:
    if isinstance(value, str):
        return (7, value)
    if field in _INT_FIELDS:
        return (1, value)
    if field.endswith((".count", "vcpu.current", "vcpu.maximum")) or field.endswith(".state"):
        return (2, value)
    return (3, value) if value < 0 else (4, value)


@handles("CONNECT_GET_ALL_DOMAIN_STATS")
def _all_domain_stats(ctx: ClientContext, a: Any) -> Any:
    wanted, stats, flags = a
    calls = ctx.calls
    doms = [_domain(ctx, d) for d in wanted] if wanted else _all_domains(ctx, flags & 0xFFFF)
    records = []
    for dom in doms:
        fields = calls.domain_get_stats(dom=dom, stats=stats, flags=flags)
        records.append((wire_domain(dom), [(name, _typed(name, value)) for name, value in fields]))
    return (records,)


@handles("DOMAIN_OPEN_CONSOLE")
def _open_console(ctx: ClientContext, a: Any) -> Any:
    return StreamOpen(None, ctx.calls.domain_open_console(dom=domain_ref(a[0]), dev_name=a[1], flags=a[2]))


# ---------------------------------------------------------------- scheduler and screenshot
_SCHEDULER_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX


@handles("DOMAIN_GET_SCHEDULER_TYPE")
def _scheduler_type(ctx: ClientContext, a: Any) -> Any:
    return tuple(ctx.calls.domain_get_scheduler_type(dom=domain_ref(a[0])))


def _wire_params(params: list[TypedParam]) -> list[tuple[str, tuple[int, Any]]]:
    """``remote_typed_param`` values: (field, (type, value)), booleans as ints as C has them."""
    return [(p.field, (int(p.type), int(p.value) if p.type == TypedParamType.BOOLEAN else p.value)) for p in params]


def _params_from_wire(wire: list[Any]) -> list[TypedParam]:
    """virTypedParamsDeserialize: a field C's ``char[80]`` cannot hold is refused before the driver."""
    out = []
    for field, (kind, value) in wire:
        if len(field.encode()) >= FIELD_LENGTH:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"parameter {field} too big for destination")
        out.append(typed_param(field, kind, bool(value) if kind == TypedParamType.BOOLEAN else value))
    return out


def _scheduler_parameters(ctx: ClientContext, wire_dom: Any, nparams: int, flags: int | None) -> Any:
    """What libvirtd does: check ``nparams``, call the public API, send at most ``nparams`` parameters."""
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative")
    if nparams > _SCHEDULER_PARAMETERS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large")
    from pyvirt.domain import Domain

    if nparams == 0:  # libvirtd passes no buffer, which the public API refuses
        api = "virDomainGetSchedulerParameters" + ("Flags" if flags is not None else "")
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"params in {api} must not be NULL", verbatim=True)
    params = Domain(ctx.conn, domain_ref(wire_dom)).scheduler_parameters(flags)
    return (_wire_params(params[:nparams]),)


@handles("DOMAIN_GET_SCHEDULER_PARAMETERS")
def _get_scheduler_parameters(ctx: ClientContext, a: Any) -> Any:
    return _scheduler_parameters(ctx, a[0], a[1], None)


@handles("DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS")
def _get_scheduler_parameters_flags(ctx: ClientContext, a: Any) -> Any:
    return _scheduler_parameters(ctx, a[0], a[1], a[2])


@handles("DOMAIN_SET_SCHEDULER_PARAMETERS")
def _set_scheduler_parameters(ctx: ClientContext, a: Any) -> Any:
    # libvirt's .x marks this old variant domain:read; libvirtd's own public API call refuses it on a
    # read-only connection, so the daemon does too (the Flags variant is refused by its @acl).
    if ctx.read_only:
        raise OperationDeniedError(
            ErrorCode.OPERATION_DENIED, "read only access prevents virDomainSetSchedulerParameters"
        )
    ctx.calls.domain_set_scheduler_parameters(dom=domain_ref(a[0]), params=_params_from_wire(a[1]), flags=0)


@handles("DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS")
def _set_scheduler_parameters_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_scheduler_parameters(dom=domain_ref(a[0]), params=_params_from_wire(a[1]), flags=a[2])


@handles("DOMAIN_SCREENSHOT")
def _screenshot(ctx: ClientContext, a: Any) -> Any:
    mime, fd = ctx.calls.domain_screenshot(dom=domain_ref(a[0]), screen=a[1], flags=a[2])
    return StreamOpen((mime,), fd)


# ---------------------------------------------------------------- checkpoints
def _chk(w: Any) -> CheckpointRef:
    return CheckpointRef(domain_ref(w[1]), w[0])


def _wchk(c: CheckpointRef) -> tuple[str, tuple[str, bytes, int]]:
    return (c.name, wire_domain(c.domain))


@handles("DOMAIN_CHECKPOINT_CREATE_XML")
def _checkpoint_create(ctx: ClientContext, a: Any) -> Any:
    return (_wchk(ctx.calls.checkpoint_create_xml(dom=domain_ref(a[0]), xml=a[1], flags=a[2])),)


@handles("DOMAIN_LIST_ALL_CHECKPOINTS")
def _list_all_checkpoints(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    names = ctx.calls.checkpoint_list_names(dom=dom, flags=a[2])
    return _listed(names, a[1], lambda n: (n, wire_domain(dom)))


@handles("DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN")
def _checkpoint_children(ctx: ClientContext, a: Any) -> Any:
    chk = _chk(a[0])
    names = ctx.calls.checkpoint_list_children(chk=chk, flags=a[2])
    return _listed(names, a[1], lambda n: (n, wire_domain(chk.domain)))


@handles("DOMAIN_CHECKPOINT_LOOKUP_BY_NAME")
def _checkpoint_lookup(ctx: ClientContext, a: Any) -> Any:
    return (_wchk(ctx.calls.checkpoint_lookup_by_name(dom=domain_ref(a[0]), name=a[1], flags=a[2])),)


@handles("DOMAIN_CHECKPOINT_GET_PARENT")
def _checkpoint_parent(ctx: ClientContext, a: Any) -> Any:
    return (_wchk(ctx.calls.checkpoint_get_parent(chk=_chk(a[0]), flags=a[1])),)


@handles("DOMAIN_CHECKPOINT_GET_XML_DESC")
def _checkpoint_xml(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.checkpoint_get_xml_desc(chk=_chk(a[0]), flags=a[1]),)


@handles("DOMAIN_CHECKPOINT_DELETE")
def _checkpoint_delete(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.checkpoint_delete(chk=_chk(a[0]), flags=a[1])


# ---------------------------------------------------------------- snapshots
@handles("DOMAIN_SNAPSHOT_CREATE_XML")
def _snapshot_create(ctx: ClientContext, a: Any) -> Any:
    return (_wsnap(ctx.calls.snapshot_create_xml(dom=domain_ref(a[0]), xml=a[1], flags=a[2])),)


@handles("DOMAIN_LIST_ALL_SNAPSHOTS")
def _list_all_snapshots(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    names = ctx.calls.snapshot_list_names(dom=dom, flags=a[2])
    return _listed(names, a[1], lambda n: (n, wire_domain(dom)))


@handles("DOMAIN_SNAPSHOT_NUM")
def _snapshot_num(ctx: ClientContext, a: Any) -> Any:
    return (len(ctx.calls.snapshot_list_names(dom=domain_ref(a[0]), flags=a[1])),)


@handles("DOMAIN_SNAPSHOT_LIST_NAMES")
def _snapshot_names(ctx: ClientContext, a: Any) -> Any:
    names = ctx.calls.snapshot_list_names(dom=domain_ref(a[0]), flags=a[2])
    return (_capped(names, a[1], "maxnames"),)


@handles("DOMAIN_SNAPSHOT_LOOKUP_BY_NAME")
def _snapshot_lookup(ctx: ClientContext, a: Any) -> Any:
    return (_wsnap(ctx.calls.snapshot_lookup_by_name(dom=domain_ref(a[0]), name=a[1])),)


@handles("DOMAIN_SNAPSHOT_CURRENT")
def _snapshot_current(ctx: ClientContext, a: Any) -> Any:
    return (_wsnap(ctx.calls.snapshot_current(dom=domain_ref(a[0]))),)


@handles("DOMAIN_SNAPSHOT_GET_XML_DESC")
def _snapshot_xml(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.snapshot_get_xml_desc(snap=_snap(a[0]), flags=a[1]),)


@handles("DOMAIN_SNAPSHOT_GET_PARENT")
def _snapshot_parent(ctx: ClientContext, a: Any) -> Any:
    return (_wsnap(ctx.calls.snapshot_get_parent(snap=_snap(a[0]))),)


@handles("DOMAIN_REVERT_TO_SNAPSHOT")
def _snapshot_revert(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.snapshot_revert(snap=_snap(a[0]), flags=a[1])


@handles("DOMAIN_SNAPSHOT_DELETE")
def _snapshot_delete(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.snapshot_delete(snap=_snap(a[0]), flags=a[1])


# ---------------------------------------------------------------- events
def _register_domain_event(ctx: ClientContext, a: Any) -> Any:
    event_id, dom = a
    if not 0 <= event_id < _DOMAIN_EVENT_ID_LAST:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported event ID {event_id}")
    shared = ctx.shared
    assert shared is not None
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback
    uuid = uuid_text(dom[1]) if dom is not None else None
    if event_id == 0:

        def deliver(ev: Any) -> None:
            msg = (callback_id, (wire_domain(ev.domain), ev.event, ev.detail))
            ctx.send_event(_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, msg)

        key = shared.listen_domain(deliver, uuid)
    else:
        key = 0  # an event no pyvirt driver raises yet: registered, never delivered (as libvirt for such drivers)
    with ctx.lock:
        ctx.callbacks[callback_id] = key
    return (callback_id,)


def _register_network_event(ctx: ClientContext, a: Any) -> Any:
    event_id, net = a
    if not 0 <= event_id < _NETWORK_EVENT_ID_LAST:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported network event ID {event_id}")
    shared = ctx.shared
    assert shared is not None
    with ctx.lock:
        ctx.next_callback += 1
        callback_id = ctx.next_callback

    def deliver(ev: Any) -> None:
        ctx.send_event(_PROC_NETWORK_EVENT_LIFECYCLE, (callback_id, _wnet(ev.network), ev.event, ev.detail))

    key = shared.listen_network(deliver, uuid_text(net[1]) if net is not None else None)
    with ctx.lock:
        ctx.callbacks[callback_id] = key
    return (callback_id,)


def _register_pool_event(ctx: ClientContext, a: Any) -> Any:
    event_id, _pool_arg = a
    if not 0 <= event_id < _POOL_EVENT_ID_LAST:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported storage pool event ID {event_id}")
    with ctx.lock:
        ctx.next_callback += 1
        ctx.callbacks[ctx.next_callback] = 0
        return (ctx.next_callback,)


def _deregister_event(ctx: ClientContext, a: Any) -> Any:
    with ctx.lock:
        key = ctx.callbacks.pop(a[0], None)
    if key is None:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"callback ID {a[0]} not registered")
    if key and ctx.shared is not None:
        ctx.shared.unlisten(key)


HANDLERS["REMOTE_PROC_CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY"] = _register_domain_event
HANDLERS["REMOTE_PROC_CONNECT_NETWORK_EVENT_REGISTER_ANY"] = _register_network_event
HANDLERS["REMOTE_PROC_CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY"] = _register_pool_event
for _name in ("DOMAIN_EVENT_CALLBACK", "NETWORK_EVENT", "STORAGE_POOL_EVENT"):
    HANDLERS[f"REMOTE_PROC_CONNECT_{_name}_DEREGISTER_ANY"] = _deregister_event


# ---------------------------------------------------------------- networks, pools, volumes, secrets, devices
@handles("CONNECT_LIST_ALL_NETWORKS")
def _list_all_networks(ctx: ClientContext, a: Any) -> Any:
    calls = ctx.calls
    return _listed((r for r in calls.network_list_all() if network_matches(calls, r, a[1])), a[0], _wnet)


@handles("CONNECT_LIST_ALL_STORAGE_POOLS")
def _list_all_pools(ctx: ClientContext, a: Any) -> Any:
    calls = ctx.calls
    return _listed((r for r in calls.pool_list_all() if pool_matches(calls, r, a[1])), a[0], _wpool)


def _count_and_names(kind: str, active: bool, ref_arg: str) -> tuple[Handler, Handler]:
    def refs(ctx: ClientContext) -> list[Any]:
        calls = ctx.calls
        return [r for r in getattr(calls, f"{kind}_list_all")()
                if getattr(calls, f"{kind}_get_flags")(**{ref_arg: r})["active"] == active]  # fmt: skip

    def count(ctx: ClientContext, a: Any) -> Any:
        return (len(refs(ctx)),)

    def names(ctx: ClientContext, a: Any) -> Any:
        return (_capped(sorted(r.name for r in refs(ctx)), a[0], "maxnames"),)

    return count, names


for _kind, _ref_arg, _noun in (("network", "net", "NETWORKS"), ("pool", "pool", "STORAGE_POOLS")):
    HANDLERS[f"REMOTE_PROC_CONNECT_NUM_OF_{_noun}"], HANDLERS[f"REMOTE_PROC_CONNECT_LIST_{_noun}"] = _count_and_names(
        _kind, True, _ref_arg
    )
    HANDLERS[f"REMOTE_PROC_CONNECT_NUM_OF_DEFINED_{_noun}"], HANDLERS[f"REMOTE_PROC_CONNECT_LIST_DEFINED_{_noun}"] = (
        _count_and_names(_kind, False, _ref_arg)
    )


def _object_procs(
    prefix: str, kind: str, ref_arg: str, to_ref: Callable[[Any], Any], wire: Callable[[Any], Any]
) -> None:
    """The calls networks and storage pools share, one handler each, by their hook names."""

    def reg(proc: str, fn: Handler) -> None:
        HANDLERS[f"REMOTE_PROC_{prefix}_{proc}"] = fn

    reg("LOOKUP_BY_NAME", lambda ctx, a: (wire(getattr(ctx.calls, f"{kind}_lookup_by_name")(name=a[0])),))
    reg("LOOKUP_BY_UUID", lambda ctx, a: (wire(getattr(ctx.calls, f"{kind}_lookup_by_uuid")(uuid=uuid_text(a[0]))),))
    reg("UNDEFINE", lambda ctx, a: getattr(ctx.calls, f"{kind}_undefine")(**{ref_arg: to_ref(a[0])}))
    reg("DESTROY", lambda ctx, a: getattr(ctx.calls, f"{kind}_destroy")(**{ref_arg: to_ref(a[0])}))
    reg(
        "GET_XML_DESC",
        lambda ctx, a: (getattr(ctx.calls, f"{kind}_get_xml_desc")(**{ref_arg: to_ref(a[0])}, flags=a[1]),),
    )
    reg(
        "SET_AUTOSTART",
        lambda ctx, a: getattr(ctx.calls, f"{kind}_set_autostart")(**{ref_arg: to_ref(a[0])}, autostart=bool(a[1])),
    )
    for proc, key in (("GET_AUTOSTART", "autostart"), ("IS_ACTIVE", "active"), ("IS_PERSISTENT", "persistent")):
        reg(proc, _object_flag(kind, ref_arg, to_ref, key))


def _object_flag(kind: str, ref_arg: str, to_ref: Callable[[Any], Any], key: str) -> Handler:
    def get(ctx: ClientContext, a: Any) -> Any:
        return (int(bool(getattr(ctx.calls, f"{kind}_get_flags")(**{ref_arg: to_ref(a[0])})[key])),)

    return get


_object_procs("NETWORK", "network", "net", _net, _wnet)
_object_procs("STORAGE_POOL", "pool", "pool", _pool, _wpool)
HANDLERS.update(
    {
        "REMOTE_PROC_NETWORK_DEFINE_XML": lambda ctx, a: (_wnet(ctx.calls.network_define_xml(xml=a[0], flags=0)),),
        "REMOTE_PROC_NETWORK_DEFINE_XML_FLAGS": lambda ctx, a: (
            _wnet(ctx.calls.network_define_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_NETWORK_CREATE_XML": lambda ctx, a: (_wnet(ctx.calls.network_create_xml(xml=a[0], flags=0)),),
        "REMOTE_PROC_NETWORK_CREATE_XML_FLAGS": lambda ctx, a: (
            _wnet(ctx.calls.network_create_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_NETWORK_CREATE": lambda ctx, a: ctx.calls.network_create(net=_net(a[0])),
        "REMOTE_PROC_NETWORK_GET_BRIDGE_NAME": lambda ctx, a: (ctx.calls.network_get_bridge_name(net=_net(a[0])),),
        "REMOTE_PROC_NETWORK_UPDATE": lambda ctx, a: ctx.calls.network_update(
            net=_net(a[0]), command=a[1], section=a[2], parent_index=a[3], xml=a[4], flags=a[5]
        ),
        "REMOTE_PROC_STORAGE_POOL_DEFINE_XML": lambda ctx, a: (
            _wpool(ctx.calls.pool_define_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_STORAGE_POOL_CREATE_XML": lambda ctx, a: (
            _wpool(ctx.calls.pool_create_xml(xml=a[0], flags=a[1])),
        ),
        "REMOTE_PROC_STORAGE_POOL_CREATE": lambda ctx, a: ctx.calls.pool_create(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_REFRESH": lambda ctx, a: ctx.calls.pool_refresh(pool=_pool(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_POOL_GET_INFO": lambda ctx, a: tuple(ctx.calls.pool_get_info(pool=_pool(a[0]))),
        "REMOTE_PROC_STORAGE_POOL_LOOKUP_BY_VOLUME": lambda ctx, a: (
            _wpool(ctx.calls.pool_lookup_by_name(name=a[0][0])),
        ),
        "REMOTE_PROC_STORAGE_POOL_LIST_ALL_VOLUMES": lambda ctx, a: _listed(
            ctx.calls.volume_list_all(pool=_pool(a[0])), a[1], _wvol
        ),
        "REMOTE_PROC_STORAGE_POOL_NUM_OF_VOLUMES": lambda ctx, a: (len(ctx.calls.volume_list_all(pool=_pool(a[0]))),),
        "REMOTE_PROC_STORAGE_POOL_LIST_VOLUMES": lambda ctx, a: (
            _capped(sorted(v.name for v in ctx.calls.volume_list_all(pool=_pool(a[0]))), a[1], "maxnames"),
        ),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_NAME": lambda ctx, a: (
            _wvol(ctx.calls.volume_lookup_by_name(pool=_pool(a[0]), name=a[1])),
        ),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_KEY": lambda ctx, a: (_wvol(ctx.calls.volume_lookup_by_key(key=a[0])),),
        "REMOTE_PROC_STORAGE_VOL_LOOKUP_BY_PATH": lambda ctx, a: (_wvol(ctx.calls.volume_lookup_by_path(path=a[0])),),
        "REMOTE_PROC_STORAGE_VOL_CREATE_XML": lambda ctx, a: (
            _wvol(ctx.calls.volume_create_xml(pool=_pool(a[0]), xml=a[1], flags=a[2])),
        ),
        "REMOTE_PROC_STORAGE_VOL_DELETE": lambda ctx, a: ctx.calls.volume_delete(vol=_vol(a[0]), flags=a[1]),
        "REMOTE_PROC_STORAGE_VOL_GET_INFO": lambda ctx, a: tuple(ctx.calls.volume_get_info(vol=_vol(a[0]))),
        "REMOTE_PROC_STORAGE_VOL_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.volume_get_xml_desc(vol=_vol(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_STORAGE_VOL_GET_PATH": lambda ctx, a: (ctx.calls.volume_get_path(vol=_vol(a[0])),),
        # secrets
        "REMOTE_PROC_CONNECT_LIST_ALL_SECRETS": lambda ctx, a: _listed(ctx.calls.secret_list_all(), a[0], _wsecret),
        "REMOTE_PROC_CONNECT_NUM_OF_SECRETS": lambda ctx, a: (len(ctx.calls.secret_list_all()),),
        "REMOTE_PROC_CONNECT_LIST_SECRETS": lambda ctx, a: (
            _capped([s.uuid for s in ctx.calls.secret_list_all()], a[0], "maxuuids"),
        ),
        "REMOTE_PROC_SECRET_LOOKUP_BY_UUID": lambda ctx, a: (
            _wsecret(ctx.calls.secret_lookup_by_uuid(uuid=uuid_text(a[0]))),
        ),
        "REMOTE_PROC_SECRET_LOOKUP_BY_USAGE": lambda ctx, a: (
            _wsecret(ctx.calls.secret_lookup_by_usage(usage_type=a[0], usage_id=a[1])),
        ),
        "REMOTE_PROC_SECRET_DEFINE_XML": lambda ctx, a: (_wsecret(ctx.calls.secret_define_xml(xml=a[0], flags=a[1])),),
        "REMOTE_PROC_SECRET_UNDEFINE": lambda ctx, a: ctx.calls.secret_undefine(secret=_secret(a[0])),
        "REMOTE_PROC_SECRET_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.secret_get_xml_desc(secret=_secret(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_SECRET_SET_VALUE": lambda ctx, a: ctx.calls.secret_set_value(
            secret=_secret(a[0]), value=bytes(a[1]), flags=a[2]
        ),
        "REMOTE_PROC_SECRET_GET_VALUE": lambda ctx, a: (ctx.calls.secret_get_value(secret=_secret(a[0]), flags=a[1]),),
        # node devices
        "REMOTE_PROC_CONNECT_LIST_ALL_NODE_DEVICES": lambda ctx, a: _listed(
            ctx.calls.nodedev_list_all(cap=None), a[0], lambda d: (d.name,)
        ),
        "REMOTE_PROC_NODE_NUM_OF_DEVICES": lambda ctx, a: (len(ctx.calls.nodedev_list_all(cap=a[0])),),
        "REMOTE_PROC_NODE_LIST_DEVICES": lambda ctx, a: (
            _capped_devices(sorted(d.name for d in ctx.calls.nodedev_list_all(cap=a[0])), a[1]),
        ),
        "REMOTE_PROC_NODE_DEVICE_LOOKUP_BY_NAME": lambda ctx, a: ((ctx.calls.nodedev_lookup_by_name(name=a[0]).name,),),
        "REMOTE_PROC_NODE_DEVICE_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.nodedev_get_xml_desc(dev=NodeDeviceRef(a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_NODE_DEVICE_GET_PARENT": lambda ctx, a: (
            ctx.calls.nodedev_get_parent(dev=NodeDeviceRef(a[0])) or None,
        ),
        # host interfaces
        "REMOTE_PROC_CONNECT_LIST_ALL_INTERFACES": lambda ctx, a: _listed(ctx.calls.interface_list_all(), a[0], tuple),
        "REMOTE_PROC_INTERFACE_LOOKUP_BY_NAME": lambda ctx, a: (tuple(ctx.calls.interface_lookup_by_name(name=a[0])),),
        "REMOTE_PROC_INTERFACE_GET_XML_DESC": lambda ctx, a: (
            ctx.calls.interface_get_xml_desc(iface=InterfaceRef(*a[0]), flags=a[1]),
        ),
        "REMOTE_PROC_INTERFACE_IS_ACTIVE": lambda ctx, a: (
            int(ctx.calls.interface_is_active(iface=InterfaceRef(*a[0]))),
        ),
    }
)


def _interfaces(active: bool) -> tuple[Handler, Handler]:
    def refs(ctx: ClientContext) -> list[InterfaceRef]:
        calls = ctx.calls
        return [i for i in calls.interface_list_all() if calls.interface_is_active(iface=i) == active]

    return (
        lambda ctx, a: (len(refs(ctx)),),
        lambda ctx, a: (_capped(sorted(i.name for i in refs(ctx)), a[0], "maxnames"),),
    )


HANDLERS["REMOTE_PROC_CONNECT_NUM_OF_INTERFACES"], HANDLERS["REMOTE_PROC_CONNECT_LIST_INTERFACES"] = _interfaces(True)
HANDLERS["REMOTE_PROC_CONNECT_NUM_OF_DEFINED_INTERFACES"], HANDLERS["REMOTE_PROC_CONNECT_LIST_DEFINED_INTERFACES"] = (
    _interfaces(False)
)


def _capped_devices(names: list[str], maximum: int) -> list[str]:
    if maximum > 65536:  # REMOTE_NODE_DEVICE_LIST_MAX
        raise Error(ErrorCode.RPC, "maxnames > REMOTE_NODE_DEVICE_LIST_MAX", domain=ErrorDomain.RPC)
    return names[: max(maximum, 0)]


@handles("NETWORK_GET_DHCP_LEASES")
def _dhcp_leases(ctx: ClientContext, a: Any) -> Any:
    leases = ctx.calls.network_get_dhcp_leases(net=_net(a[0]), mac=a[1], flags=a[3])
    wire = [
        (lease.iface, lease.expiry, 1 if lease.type == "ipv6" else 0, lease.mac or None, lease.iaid or None,
         lease.ipaddr, lease.prefix, lease.hostname or None, lease.clientid or None)
        for lease in leases
    ]  # fmt: skip
    return (wire if a[2] else [], len(wire))
