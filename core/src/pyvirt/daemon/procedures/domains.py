"""Domain procedures: lists, lookups, lifecycle, devices, scheduler, screenshot, checkpoints, snapshots."""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.procedures.table import (
    _VIR_DOMAIN_AFFECT_LIVE,
    HANDLERS,
    Handler,
    _c_string,
    _capped,
    _domain,
    _listed,
    _snap,
    _wsnap,
    handles,
)
from pyvirt.daemon.remote_program import ClientContext, StreamOpen
from pyvirt.domain import domain_matches
from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, OperationDeniedError
from pyvirt.flags import ConnectGetAllDomainStatsFlags, DomainMemoryModFlags
from pyvirt.plugin.records import (
    CheckpointRef,
    DomainRef,
)
from pyvirt.plugin.typed_params import FIELD_LENGTH, TypedParam, TypedParamType, typed_param
from pyvirt.remote.calls import domain_ref, typed_param_to_wire, uuid_text, wire_domain


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


@handles("DOMAIN_LOOKUP_BY_NAME", hook="domain_lookup_by_name")
def _lookup_name(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_name(name=a[0])),)


@handles("DOMAIN_LOOKUP_BY_UUID", hook="domain_lookup_by_uuid")
def _lookup_uuid(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_uuid(uuid=uuid_text(a[0]))),)


@handles("DOMAIN_LOOKUP_BY_ID", hook="domain_lookup_by_id")
def _lookup_id(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_lookup_by_id(id=a[0])),)


@handles("DOMAIN_GET_INFO")
def _domain_info(ctx: ClientContext, a: Any) -> Any:
    return ctx.calls.domain_get_info(dom=domain_ref(a[0]))  # (a DomainInfo is the reply's tuple already)


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


@handles("DOMAIN_CREATE_WITH_FILES", fds=True)
def _create_with_files(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_create_with_files(dom=domain_ref(a[0]), files=a[2], flags=a[1])
    return (wire_domain(_domain(ctx, a[0])),)  # the started domain's id, which the client takes


@handles("DOMAIN_FD_ASSOCIATE", fds=True)
def _fd_associate(ctx: ClientContext, a: Any) -> Any:
    """The driver keeps the groups until this client goes (libvirt's close callback on its connection)."""
    from pyvirt.local_driver.fd_owner import owner_closed, owning

    with owning(ctx):
        ctx.calls.domain_fd_associate(dom=domain_ref(a[0]), name=a[1], files=a[3], flags=a[2])
    with ctx.lock:
        ctx.on_close["fd-groups"] = lambda: owner_closed(ctx)


@handles("DOMAIN_CREATE_XML_WITH_FILES", fds=True)
def _create_xml_with_files(ctx: ClientContext, a: Any) -> Any:
    return (wire_domain(ctx.calls.domain_create_xml_with_files(xml=a[0], files=a[2], flags=a[1])),)


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
HANDLERS["REMOTE_PROC_DOMAIN_ABORT_JOB_FLAGS"] = _flag_call("domain_abort_job")


@handles("DOMAIN_ABORT_JOB")
def _abort_job(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_abort_job(dom=domain_ref(a[0]), flags=0)


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


# memory and vCPUs: the older procedures are the same hooks without flags
@handles("DOMAIN_SET_MEMORY_FLAGS")
def _set_memory_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_memory(dom=domain_ref(a[0]), memory_kib=a[1], flags=a[2])


@handles("DOMAIN_SET_MEMORY")
def _set_memory(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_memory(dom=domain_ref(a[0]), memory_kib=a[1], flags=0)


@handles("DOMAIN_SET_MAX_MEMORY")
def _set_max_memory(ctx: ClientContext, a: Any) -> Any:
    # virDomainSetMaxMemory is SetMemoryFlags with VIR_DOMAIN_MEM_MAXIMUM in libvirt's drivers too
    ctx.calls.domain_set_memory(dom=domain_ref(a[0]), memory_kib=a[1], flags=DomainMemoryModFlags.MAXIMUM)


@handles("DOMAIN_SET_VCPUS_FLAGS")
def _set_vcpus_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_vcpus(dom=domain_ref(a[0]), count=a[1], flags=a[2])


@handles("DOMAIN_SET_VCPUS")
def _set_vcpus(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_vcpus(dom=domain_ref(a[0]), count=a[1], flags=0)


@handles("DOMAIN_SET_MEMORY_STATS_PERIOD")
def _set_memory_stats_period(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_memory_stats_period(dom=domain_ref(a[0]), period=a[1], flags=a[2])


@handles("DOMAIN_PIN_VCPU_FLAGS")
def _pin_vcpu_flags(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pin_vcpu(dom=domain_ref(a[0]), vcpu=a[1], cpumap=bytes(a[2]), flags=a[3])


@handles("DOMAIN_PIN_VCPU")
def _pin_vcpu(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pin_vcpu(dom=domain_ref(a[0]), vcpu=a[1], cpumap=bytes(a[2]), flags=0)


# ---------------------------------------------------------------- metadata, guest controls, statistics
_VCPUINFO_MAX = 16384  # REMOTE_VCPUINFO_MAX
_CPUMAPS_MAX = 8388608  # REMOTE_CPUMAPS_MAX
_BLOCK_STATS_PARAMETERS_MAX = 16  # REMOTE_DOMAIN_BLOCK_STATS_PARAMETERS_MAX
_MEMORY_STATS_MAX = 1024  # REMOTE_DOMAIN_MEMORY_STATS_MAX
_SEND_KEY_MAX = 16  # VIR_DOMAIN_SEND_KEY_MAX_KEYS


@handles("DOMAIN_GET_METADATA")
def _get_metadata(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_get_metadata(dom=domain_ref(a[0]), type=a[1], uri=a[2], flags=a[3]),)


@handles("DOMAIN_SET_METADATA")
def _set_metadata(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_metadata(dom=domain_ref(a[0]), type=a[1], metadata=a[2], key=a[3], uri=a[4], flags=a[5])


@handles("DOMAIN_RENAME")
def _rename(ctx: ClientContext, a: Any) -> Any:
    if a[1] is None:  # virDomainRename's virCheckNonNullArgGoto(new_name)
        raise InvalidArgumentError(  # virReportInvalidNonNullArg: its own words, no "invalid argument: " before them
            ErrorCode.INVALID_ARG, "new_name in virDomainRename must not be NULL", verbatim=True
        )
    ctx.calls.domain_rename(dom=domain_ref(a[0]), new_name=a[1], flags=a[2])
    return (0,)


@handles("DOMAIN_RESET")
def _reset(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_reset(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_INJECT_NMI")
def _inject_nmi(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_inject_nmi(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_SEND_KEY")
def _send_key(ctx: ClientContext, a: Any) -> Any:
    keycodes = list(a[3])
    if not 0 < len(keycodes) <= _SEND_KEY_MAX:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"nkeycodes must be in range [1, {_SEND_KEY_MAX}]")
    ctx.calls.domain_send_key(dom=domain_ref(a[0]), codeset=a[1], holdtime=a[2], keycodes=keycodes, flags=a[4])


@handles("DOMAIN_GET_TIME")
def _get_time(ctx: ClientContext, a: Any) -> Any:
    seconds, nseconds = ctx.calls.domain_get_time(dom=domain_ref(a[0]), flags=a[1])
    return (seconds, nseconds)


@handles("DOMAIN_SET_TIME")
def _set_time(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_time(dom=domain_ref(a[0]), seconds=a[1], nseconds=a[2], flags=a[3])


@handles("DOMAIN_GET_HOSTNAME")
def _get_hostname(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_get_hostname(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_MEMORY_STATS")
def _memory_stats(ctx: ClientContext, a: Any) -> Any:
    if a[1] > _MEMORY_STATS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX")
    stats = ctx.calls.domain_memory_stats(dom=domain_ref(a[0]), max_stats=a[1], flags=a[2])
    return ([(tag, val) for tag, val in stats[: a[1]]],)


@handles("DOMAIN_GET_VCPUS_FLAGS")
def _get_vcpus_flags(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_get_vcpus_flags(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_GET_VCPUS")
def _get_vcpus(ctx: ClientContext, a: Any) -> Any:
    maxinfo, maplen = a[1], a[2]
    if maxinfo > _VCPUINFO_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maxinfo > REMOTE_VCPUINFO_MAX")
    if maxinfo * maplen > _CPUMAPS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maxinfo * maplen > REMOTE_CPUMAPS_MAX")
    infos = ctx.calls.domain_get_vcpus(dom=domain_ref(a[0]), maxinfo=maxinfo, maplen=maplen)[:maxinfo]
    # libvirt's daemon sends the whole buffer it allocated: maxinfo maps, those of absent vCPUs zero
    cpumaps = b"".join(i.cpumap[:maplen].ljust(maplen, b"\0") for i in infos)
    return ([(i.number, i.state, i.cpu_time_ns, i.cpu) for i in infos], cpumaps.ljust(maxinfo * maplen, b"\0"))


@handles("DOMAIN_GET_VCPU_PIN_INFO")
def _get_vcpu_pin_info(ctx: ClientContext, a: Any) -> Any:
    ncpumaps, maplen = a[1], a[2]
    if ncpumaps > _VCPUINFO_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "ncpumaps > REMOTE_VCPUINFO_MAX")
    if ncpumaps * maplen > _CPUMAPS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maxinfo * maplen > REMOTE_CPUMAPS_MAX")
    maps = ctx.calls.domain_get_vcpu_pin_info(dom=domain_ref(a[0]), ncpumaps=ncpumaps, maplen=maplen, flags=a[3])
    maps = maps[:ncpumaps]
    return (b"".join(m[:maplen].ljust(maplen, b"\0") for m in maps), len(maps))


@handles("DOMAIN_BLOCK_STATS")
def _block_stats(ctx: ClientContext, a: Any) -> Any:
    return tuple(ctx.calls.domain_block_stats(dom=domain_ref(a[0]), path=a[1]))


@handles("DOMAIN_BLOCK_STATS_FLAGS")
def _block_stats_flags(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainBlockStatsFlags: with ``nparams`` 0 only the count (virsh's first call), else the values."""
    nparams = a[2]
    if nparams < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams must be non-negative")
    if nparams > _BLOCK_STATS_PARAMETERS_MAX:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "nparams too large")
    params = ctx.calls.domain_block_stats_flags(dom=domain_ref(a[0]), path=a[1], flags=a[3])
    if nparams == 0:
        return ([], len(params))
    return ([typed_param_to_wire(p) for p in params[:nparams]], 0)


@handles("DOMAIN_GET_BLOCK_JOB_INFO")
def _get_block_job_info(ctx: ClientContext, a: Any) -> Any:
    kind, bandwidth, cur, end = ctx.calls.domain_get_block_job_info(dom=domain_ref(a[0]), path=a[1], flags=a[2])
    return (1 if kind else 0, kind, bandwidth, cur, end)


@handles("DOMAIN_BLOCK_COPY")
def _block_copy(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_copy(dom=domain_ref(a[0]), path=a[1], destxml=a[2], params=_params_from_wire(a[3]),
                                flags=a[4])  # fmt: skip


@handles("DOMAIN_BLOCK_REBASE")
def _block_rebase(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_rebase(dom=domain_ref(a[0]), path=a[1], base=a[2], bandwidth=a[3], flags=a[4])


@handles("DOMAIN_SET_BLOCK_THRESHOLD")
def _set_block_threshold(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_set_block_threshold(dom=domain_ref(a[0]), dev=a[1], threshold=a[2], flags=a[3])


@handles("DOMAIN_BLOCK_RESIZE", hook="domain_block_resize")
def _block_resize(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_resize(dom=domain_ref(a[0]), disk=a[1], size=a[2], flags=a[3])


@handles("DOMAIN_CORE_DUMP")
def _core_dump(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_core_dump(dom=domain_ref(a[0]), to=a[1], dumpformat=0, flags=a[2])


@handles("DOMAIN_CORE_DUMP_WITH_FORMAT")
def _core_dump_with_format(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_core_dump(dom=domain_ref(a[0]), to=a[1], dumpformat=a[2], flags=a[3])


@handles("DOMAIN_BLOCK_JOB_ABORT")
def _block_job_abort(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_job_abort(dom=domain_ref(a[0]), path=a[1], flags=a[2])


@handles("DOMAIN_BLOCK_JOB_SET_SPEED")
def _block_job_set_speed(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_job_set_speed(dom=domain_ref(a[0]), path=a[1], bandwidth=a[2], flags=a[3])


@handles("DOMAIN_BLOCK_PULL")
def _block_pull(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_pull(dom=domain_ref(a[0]), path=a[1], bandwidth=a[2], flags=a[3])


@handles("DOMAIN_BLOCK_COMMIT")
def _block_commit(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_block_commit(dom=domain_ref(a[0]), path=a[1], base=a[2], top=a[3], bandwidth=a[4], flags=a[5])


@handles("DOMAIN_GET_EMULATOR_PIN_INFO")
def _get_emulator_pin_info(ctx: ClientContext, a: Any) -> Any:
    """remoteDispatchDomainGetEmulatorPinInfo: a map of exactly the ``maplen`` bytes asked for, and 1."""
    maplen = a[1]
    if maplen < 0:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "maplen must be non-negative")
    cpumap = ctx.calls.domain_get_emulator_pin_info(dom=domain_ref(a[0]), maplen=maplen, flags=a[2])
    return (cpumap[:maplen].ljust(maplen, b"\0"), 1)


@handles("DOMAIN_PIN_EMULATOR")
def _pin_emulator(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_pin_emulator(dom=domain_ref(a[0]), cpumap=bytes(a[1]), flags=a[2])


@handles("DOMAIN_INTERFACE_STATS")
def _interface_stats(ctx: ClientContext, a: Any) -> Any:
    return tuple(ctx.calls.domain_interface_stats(dom=domain_ref(a[0]), device=a[1]))


@handles("DOMAIN_GET_BLOCK_INFO")
def _get_block_info(ctx: ClientContext, a: Any) -> Any:
    info = ctx.calls.domain_get_block_info(dom=domain_ref(a[0]), path=a[1], flags=a[2])
    return (info.allocation, info.capacity, info.physical)  # the wire's order


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


@handles("DOMAIN_SAVE_IMAGE_GET_XML_DESC", hook="domain_save_image_get_xml_desc")
def _save_image_get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_save_image_get_xml_desc(path=a[0], flags=a[1]),)


@handles("DOMAIN_SAVE_IMAGE_DEFINE_XML", hook="domain_save_image_define_xml")
def _save_image_define_xml(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_save_image_define_xml(path=a[0], xml=a[1], flags=a[2])


@handles("DOMAIN_MANAGED_SAVE_GET_XML_DESC", hook="domain_managed_save_get_xml_desc")
def _managed_save_get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_managed_save_get_xml_desc(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_MANAGED_SAVE_DEFINE_XML", hook="domain_managed_save_define_xml")
def _managed_save_define_xml(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_managed_save_define_xml(dom=domain_ref(a[0]), xml=a[1], flags=a[2])


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


# The domain filters of virConnectGetAllDomainStats (VIR_CONNECT_LIST_DOMAINS_FILTERS_ACTIVE, _PERSISTENT, _STATE):
# the same bits as virConnectListAllDomains', without NOWAIT, BACKING and ENFORCE_STATS.
_STATS_LIST_FILTERS = (
    ConnectGetAllDomainStatsFlags.ACTIVE
    | ConnectGetAllDomainStatsFlags.INACTIVE
    | ConnectGetAllDomainStatsFlags.PERSISTENT
    | ConnectGetAllDomainStatsFlags.TRANSIENT
    | ConnectGetAllDomainStatsFlags.RUNNING
    | ConnectGetAllDomainStatsFlags.PAUSED
    | ConnectGetAllDomainStatsFlags.SHUTOFF
    | ConnectGetAllDomainStatsFlags.OTHER
)


@handles("CONNECT_GET_ALL_DOMAIN_STATS")
def _all_domain_stats(ctx: ClientContext, a: Any) -> Any:
    wanted, stats, flags = a
    calls = ctx.calls
    doms = [_domain(ctx, d) for d in wanted] if wanted else _all_domains(ctx, flags & _STATS_LIST_FILTERS)
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
