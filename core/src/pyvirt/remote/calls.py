"""The table of the API over RPC: each driver hook, the procedures that carry it, and how values convert.

One row per hook of ``pyvirt.plugin.specs`` (hypervisor and secondary):
``RemoteCall(hook, procedures, args, ret)``. ``procedures`` names the
``REMOTE_PROC_*`` entries of libvirt's ``remote_protocol.x`` (one, or a
batch sent together and answered in one round trip, as ``domain_get_flags``
needs six of libvirt's ``Is*``/``Has*``/``Get*`` calls); ``args`` turns the hook's
arguments (in the spec's order) into the procedure's ``_args`` tuple (a list
of them for a batch); ``ret`` turns the ``_ret`` tuple(s) into what the hook
returns.

The rows live in one module per concern (``calls_domains``, ``calls_host``,
``calls_networks``...; ``_WHERE`` says which), loaded when one of their hooks
is first called (:func:`call_row`): a short command calls three or four hooks.
:data:`CALLS`, every row, loads them all.

The client (``pyvirt.remote.driver``) makes its hook implementations from
these rows; the daemon reads the same rows the other way round (procedure
number -> hook, ``args``'s inverse). Which hooks a read-only connection may
call, the libvirt API names and the contract versions stay in
``pyvirt.plugin.api``; a test checks that both tables name the same hooks
and that a hook libvirt's ``.x`` annotates with a write ACL is a write hook
there.
"""

from __future__ import annotations

import sys
from _collections_abc import Callable, Mapping

from pyvirt.plugin import records as _records

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from pyvirt.plugin.records import (
        DomainRef,
        NetworkRef,
        VolumeRef,
    )
    from pyvirt.plugin.typed_params import TypedParam
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = [
    "CALLS",
    "HOOK_NAMES",
    "RemoteCall",
    "call_row",
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
    # The hook's descriptors (from its arguments, as ``args`` takes them), sent with the call: CALL_WITH_FDS
    # and SCM_RIGHTS (libvirt's *WithFiles procedures), or None for a call that passes none
    fds: Callable[..., list[int]] | None = None


# ---------------------------------------------------------------- value conversions


# Both directions of the UUID conversion, remembered: nearly every call of the daemon carries a domain's
# UUID, a client names the same few objects over and over, and the text form costs more to make (hex,
# five slices, a format: ~0.4 µs here) than the rest of the conversion. Bounded by dropping everything at
# _UUID_CACHE_MAX entries (a new domain then pays once again); plain dicts, whose get and set the GIL makes
# safe from the daemon's workers.
_UUID_CACHE_MAX = 4096
_TEXT_OF: dict[bytes, str] = {}
_BYTES_OF: dict[str, bytes] = {}


def uuid_text(raw: bytes) -> str:
    """16 wire bytes as the canonical lower-case text pyvirt passes around."""
    text = _TEXT_OF.get(raw)
    if text is None:
        h = raw.hex()
        text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if len(_TEXT_OF) >= _UUID_CACHE_MAX:
            _TEXT_OF.clear()
        _TEXT_OF[raw] = text
    return text


def uuid_bytes(text: str) -> bytes:
    raw = _BYTES_OF.get(text)
    if raw is None:
        raw = bytes.fromhex(text.replace("-", ""))  # (a malformed text raises ValueError and is not kept)
        if len(_BYTES_OF) >= _UUID_CACHE_MAX:
            _BYTES_OF.clear()
        _BYTES_OF[text] = raw
    return raw


def domain_ref(w: Any) -> DomainRef:
    # (the remembered UUID read here: nearly every domain call of pyvirtd passes, one frame fewer)
    return _records.DomainRef(w[0], _TEXT_OF.get(w[1]) or uuid_text(w[1]), w[2])


def wire_domain(d: DomainRef) -> tuple[str, bytes, int]:
    uuid = d.uuid
    return (d.name, _BYTES_OF.get(uuid) or uuid_bytes(uuid), d.id)


def network_ref(w: Any) -> NetworkRef:
    return _records.NetworkRef(w[0], uuid_text(w[1]))


def _wire_volume(v: VolumeRef) -> tuple[str, str, str]:
    return (v.pool, v.name, v.key)


wire_volume = _wire_volume  # for the hand-written stream hooks of pyvirt.remote.driver


_BOOLEAN = 6  # VIR_TYPED_PARAM_BOOLEAN: an int on the wire


def typed_param_to_wire(p: TypedParam) -> tuple[str, tuple[int, Any]]:
    """A TypedParam as ``remote_typed_param``: (field, (type, value))."""
    return (p.field, (int(p.type), int(p.value) if p.type == _BOOLEAN else p.value))


def typed_param_from_wire(w: Any) -> TypedParam:
    # imported here: a short command calls no typed-parameter hook (the module cost it 1 million instructions)
    from pyvirt.plugin.typed_params import TypedParam, TypedParamType

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


_ALL = 1  # need_results: ask for the objects, not just their number
_OBJECT_FLAGS = ("active", "persistent", "autostart")


def _one(
    hook: str,
    proc: str,
    args: Callable[..., Any],
    ret: Callable[[Any], Any] = _none,
    plain: tuple[str, Callable[..., Any]] | None = None,
) -> RemoteCall:
    # the row made as RemoteCall's own __new__ makes it, without that frame: 150 rows, 0.2 million instructions a run
    return _tuple_new(RemoteCall, (hook, (proc,), args, ret, plain, False, None))


_tuple_new = tuple.__new__


_wd = wire_domain


# Which module holds each hook's row (a test checks this against the modules): a short run loads only the
# modules of the hooks it calls. One module of all 152 rows (their lambdas: 72 KB of bytecode) cost every
# client run 2.6 million instructions to call three of them.
_WHERE = {
    "calls_host": (
        "connect_get_type connect_get_version connect_get_hostname connect_get_capabilities "
        "connect_get_domain_capabilities connect_domain_xml_to_native connect_domain_xml_from_native node_get_info "
        "node_get_cpu_map node_get_security_model secret_list_all secret_lookup_by_uuid secret_lookup_by_usage "
        "secret_define_xml secret_undefine secret_get_xml_desc secret_set_value secret_get_value nodedev_list_all "
        "nodedev_lookup_by_name nodedev_get_xml_desc nodedev_get_parent nodedev_create_xml nodedev_destroy "
        "pool_find_sources interface_list_all interface_lookup_by_name interface_get_xml_desc interface_is_active "
        "interface_define_xml interface_undefine interface_create interface_destroy interface_change_begin "
        "interface_change_commit interface_change_rollback connect_get_max_vcpus connect_get_sysinfo "
        "node_get_free_memory node_get_cells_free_memory node_get_cpu_stats connect_get_cpu_model_names "
        "node_get_free_pages node_get_memory_stats node_alloc_pages node_get_memory_parameters "
        "node_set_memory_parameters pool_get_capabilities connect_compare_cpu connect_baseline_cpu "
        "connect_compare_hypervisor_cpu connect_baseline_hypervisor_cpu"
    ),
    "calls_domains": (
        "domain_list_all domain_lookup_by_name domain_lookup_by_uuid domain_lookup_by_id domain_define_xml "
        "domain_undefine domain_create_xml domain_create domain_destroy domain_shutdown domain_reboot "
        "domain_suspend domain_resume domain_save domain_managed_save domain_managed_save_remove "
        "domain_get_metadata domain_set_metadata domain_rename domain_reset domain_get_info domain_get_state "
        "domain_get_xml_desc domain_get_os_type domain_get_flags domain_set_autostart domain_create_with_files "
        "domain_create_xml_with_files domain_fd_associate domain_save_image_get_xml_desc domain_save_image_define_xml "
        "domain_managed_save_get_xml_desc domain_managed_save_define_xml"
    ),
    "calls_domain_jobs": (
        "domain_abort_job domain_migrate_begin domain_migrate_prepare domain_migrate_perform "
        "domain_migrate_finish domain_migrate_confirm domain_get_job_stats domain_migrate_start_post_copy "
        "domain_migrate_set_max_downtime domain_migrate_get_max_downtime domain_get_block_job_info "
        "domain_block_copy domain_block_rebase domain_block_job_abort domain_block_job_set_speed "
        "domain_block_pull domain_block_commit domain_set_block_threshold domain_block_resize "
        "domain_migrate_set_max_speed domain_migrate_get_max_speed domain_migrate_get_compression_cache "
        "domain_migrate_set_compression_cache domain_start_dirty_rate_calc domain_backup_begin "
        "domain_backup_get_xml_desc domain_core_dump"
    ),
    "calls_domain_resources": (
        "domain_inject_nmi domain_send_key domain_get_time domain_set_time domain_get_hostname "
        "domain_memory_stats domain_get_vcpus_flags domain_get_vcpus domain_get_vcpu_pin_info "
        "domain_block_stats domain_interface_stats domain_get_block_info domain_get_emulator_pin_info "
        "domain_pin_emulator domain_block_stats_flags domain_set_memory domain_set_vcpus "
        "domain_set_memory_stats_period domain_pin_vcpu domain_attach_device domain_detach_device "
        "domain_update_device domain_get_stats domain_interface_addresses domain_get_security_label "
        "domain_get_scheduler_type domain_get_scheduler_parameters domain_set_scheduler_parameters "
        "domain_get_iothread_info domain_pin_iothread domain_add_iothread domain_del_iothread "
        "domain_set_iothread_params domain_get_fs_info domain_fs_freeze domain_fs_thaw domain_fs_trim"
    ),
    "calls_domain_tuning": (
        "domain_get_disk_errors domain_get_control_info domain_get_cpu_stats domain_get_blkio_parameters "
        "domain_set_blkio_parameters domain_get_memory_parameters domain_set_memory_parameters "
        "domain_get_block_io_tune domain_set_block_io_tune domain_get_numa_parameters domain_set_numa_parameters "
        "domain_get_perf_events domain_get_interface_parameters domain_set_interface_parameters "
        "domain_set_lifecycle_action domain_send_process_signal domain_set_user_password "
        "domain_get_launch_security_info domain_set_perf_events"
    ),
    "calls_guest_agent": (
        "domain_get_guest_info domain_get_guest_vcpus domain_set_guest_vcpus domain_authorized_ssh_keys_get "
        "domain_authorized_ssh_keys_set domain_agent_set_response_timeout domain_pm_suspend_for_duration "
        "domain_pm_wakeup domain_set_vcpu domain_detach_device_alias"
    ),
    "calls_snapshots": (
        "checkpoint_create_xml checkpoint_list_names checkpoint_list_children checkpoint_lookup_by_name "
        "checkpoint_get_xml_desc checkpoint_get_parent checkpoint_delete snapshot_create_xml "
        "snapshot_list_names snapshot_lookup_by_name snapshot_current snapshot_get_xml_desc "
        "snapshot_get_parent snapshot_revert snapshot_delete"
    ),
    "calls_networks": (
        "network_list_all network_lookup_by_name network_lookup_by_uuid network_define_xml network_create_xml "
        "network_undefine network_create network_destroy network_get_xml_desc network_get_flags "
        "network_get_bridge_name network_get_dhcp_leases network_update network_set_autostart "
        "network_list_all_ports network_port_lookup_by_uuid network_port_create_xml network_port_get_xml_desc "
        "network_port_delete"
    ),
    "calls_nwfilter": (
        "nwfilter_list_all nwfilter_lookup_by_name nwfilter_lookup_by_uuid nwfilter_define_xml nwfilter_undefine "
        "nwfilter_get_xml_desc nwfilter_binding_list_all nwfilter_binding_lookup_by_port_dev "
        "nwfilter_binding_create_xml nwfilter_binding_delete nwfilter_binding_get_xml_desc"
    ),
    "calls_storage": (
        "pool_list_all pool_lookup_by_name pool_lookup_by_uuid pool_define_xml pool_create_xml pool_undefine "
        "pool_create pool_destroy pool_refresh pool_build pool_delete pool_get_info pool_get_xml_desc "
        "pool_get_flags pool_set_autostart volume_list_all volume_lookup_by_name volume_lookup_by_key "
        "volume_lookup_by_path volume_create_xml volume_delete volume_get_info volume_get_xml_desc "
        "volume_get_path volume_create_xml_from volume_wipe volume_resize"
    ),
}
HOOK_NAMES = frozenset(" ".join(_WHERE.values()).split())
"""Every hook the remote driver carries through the table, known without loading a row."""

_loaded: dict[str, RemoteCall] = {}
_module_of: dict[str, str] = {}


def _load(module: str) -> None:
    name = f"pyvirt.remote.{module}"
    __import__(name)  # not importlib: its package cost a short run 1.5 million instructions
    for row in sys.modules[name].ROWS:
        _loaded[row.hook] = row


def call_row(hook: str) -> RemoteCall:
    """The row of ``hook``; KeyError for a hook the table does not have. Its module is loaded on first use."""
    row = _loaded.get(hook)
    if row is None:
        if not _module_of:
            _module_of.update((h, module) for module, names in _WHERE.items() for h in names.split())
        _load(_module_of[hook])
        row = _loaded[hook]
    return row


if TYPE_CHECKING:
    CALLS: Mapping[str, RemoteCall]
    """Every hook the remote driver carries, by hook name (every row loaded: the daemon, the tests)."""


def __getattr__(name: str) -> object:
    """``CALLS``, made when first read (PEP 562): it loads every row."""
    if name != "CALLS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module in _WHERE:
        _load(module)
    calls = {hook: _loaded[hook] for names in _WHERE.values() for hook in names.split()}
    globals()["CALLS"] = calls
    return calls
