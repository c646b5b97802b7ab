"""The call table's rows for the connection and the host.

Versions, capabilities, node information, secrets, node devices and host interfaces. Part of
:data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import (
    _ALL,
    _c_string,
    _first,
    _one,
    _typed_params,
    typed_param_to_wire,
    uuid_bytes,
    uuid_text,
)

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import SecretRef
    from pyvirt.remote.calls import RemoteCall

__all__ = ["ROWS"]


_NODE_DEVICE_LIST_MAX = 65536  # REMOTE_NODE_DEVICE_LIST_MAX
_NODE_CPU_STATS_MAX = 16  # REMOTE_NODE_CPU_STATS_MAX
_NODE_MEMORY_STATS_MAX = 16  # REMOTE_NODE_MEMORY_STATS_MAX
_NODE_MEMORY_PARAMETERS_MAX = 64  # REMOTE_NODE_MEMORY_PARAMETERS_MAX


def _secret_ref(w: Any) -> SecretRef:
    return _records.SecretRef(uuid_text(w[0]), w[1], w[2])


def _wire_secret(s: SecretRef) -> tuple[bytes, int, str]:
    return (uuid_bytes(s.uuid), s.usage_type, s.usage_id)


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
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
    _one("nodedev_list_all", "NODE_LIST_DEVICES", lambda cap: (cap, _NODE_DEVICE_LIST_MAX, 0),
         lambda w: [_records.NodeDeviceRef(n) for n in sorted(w[0])]),
    _one("nodedev_lookup_by_name", "NODE_DEVICE_LOOKUP_BY_NAME", lambda name: (name,),
         lambda w: _records.NodeDeviceRef(w[0][0])),
    _one("nodedev_get_xml_desc", "NODE_DEVICE_GET_XML_DESC", lambda dev, flags: (dev.name, flags), _first),
    _one("nodedev_get_parent", "NODE_DEVICE_GET_PARENT", lambda dev: (dev.name,), lambda w: w[0] or ""),
    _one("nodedev_create_xml", "NODE_DEVICE_CREATE_XML", lambda xml, flags: (xml, flags),
         lambda w: _records.NodeDeviceRef(w[0][0])),
    _one("nodedev_destroy", "NODE_DEVICE_DESTROY", lambda dev: (dev.name,)),
    _one("pool_find_sources", "CONNECT_FIND_STORAGE_POOL_SOURCES",
         lambda type, src_spec, flags: (type, src_spec, flags), _first),
    _one("interface_list_all", "CONNECT_LIST_ALL_INTERFACES", lambda: (_ALL, 0),
         lambda w: [_records.InterfaceRef(*i) for i in w[0]]),
    _one("interface_lookup_by_name", "INTERFACE_LOOKUP_BY_NAME", lambda name: (name,),
         lambda w: _records.InterfaceRef(*w[0])),
    _one("interface_get_xml_desc", "INTERFACE_GET_XML_DESC", lambda iface, flags: (tuple(iface), flags), _first),
    _one("interface_is_active", "INTERFACE_IS_ACTIVE", lambda iface: (tuple(iface),), lambda w: bool(w[0])),
    # defining, starting, stopping host interfaces and the change transaction (contract 1.15)
    _one("interface_define_xml", "INTERFACE_DEFINE_XML", lambda xml, flags: (xml, flags),
         lambda w: _records.InterfaceRef(*w[0])),
    _one("interface_undefine", "INTERFACE_UNDEFINE", lambda iface: (tuple(iface),)),
    _one("interface_create", "INTERFACE_CREATE", lambda iface, flags: (tuple(iface), flags)),
    _one("interface_destroy", "INTERFACE_DESTROY", lambda iface, flags: (tuple(iface), flags)),
    _one("interface_change_begin", "INTERFACE_CHANGE_BEGIN", lambda flags: (flags,)),
    _one("interface_change_commit", "INTERFACE_CHANGE_COMMIT", lambda flags: (flags,)),
    _one("interface_change_rollback", "INTERFACE_CHANGE_ROLLBACK", lambda flags: (flags,)),
    _one("connect_get_max_vcpus", "CONNECT_GET_MAX_VCPUS", lambda type: (type,), _first),
    _one("connect_get_sysinfo", "CONNECT_GET_SYSINFO", lambda flags: (flags,), _first),
    _one("node_get_free_memory", "NODE_GET_FREE_MEMORY", lambda: None, _first),
    _one("node_get_cells_free_memory", "NODE_GET_CELLS_FREE_MEMORY",
         lambda start_cell, max_cells: (start_cell, max_cells), lambda w: list(w[0])),
    # all counters in one call: the daemon fills at most the count asked (libvirt's two-call dance is virsh's)
    _one("node_get_cpu_stats", "NODE_GET_CPU_STATS", lambda cpu_num, flags: (cpu_num, _NODE_CPU_STATS_MAX, flags),
         lambda w: [(p[0], p[1]) for p in w[0]]),
    _one("connect_get_cpu_model_names", "CONNECT_GET_CPU_MODEL_NAMES", lambda arch, flags: (arch, _ALL, flags),
         lambda w: list(w[0])),
    _one("node_get_free_pages", "NODE_GET_FREE_PAGES",
         lambda pages, start_cell, cell_count, flags: (pages, start_cell, cell_count, flags), lambda w: list(w[0])),
    # the host's memory (contract 1.16). Memory stats: RemoteConnection.node_get_memory_stats asks the count first,
    # as libvirt's drivers take only their exact count; this row is its second call
    _one("node_get_memory_stats", "NODE_GET_MEMORY_STATS",
         lambda cell_num, flags: (_NODE_MEMORY_STATS_MAX, cell_num, flags), lambda w: [(p[0], p[1]) for p in w[0]]),
    _one("node_alloc_pages", "NODE_ALLOC_PAGES",
         lambda pages, counts, start_cell, cell_count, flags: (pages, counts, start_cell, cell_count, flags), _first),
    _one("node_get_memory_parameters", "NODE_GET_MEMORY_PARAMETERS",
         lambda flags: (_NODE_MEMORY_PARAMETERS_MAX, flags), _typed_params),
    _one("node_set_memory_parameters", "NODE_SET_MEMORY_PARAMETERS",
         lambda params, flags: ([typed_param_to_wire(p) for p in params], flags)),
    _one("pool_get_capabilities", "CONNECT_GET_STORAGE_POOL_CAPABILITIES", lambda flags: (flags,), _first),
    _one("connect_compare_cpu", "CONNECT_COMPARE_CPU", lambda xml, flags: (xml, flags), _first),
    _one("connect_baseline_cpu", "CONNECT_BASELINE_CPU", lambda xml_cpus, flags: (list(xml_cpus), flags), _first),
    _one("connect_compare_hypervisor_cpu", "CONNECT_COMPARE_HYPERVISOR_CPU",
         lambda emulator, arch, machine, virttype, xml_cpu, flags: (emulator, arch, machine, virttype, xml_cpu, flags),
         _first),
    _one("connect_baseline_hypervisor_cpu", "CONNECT_BASELINE_HYPERVISOR_CPU",
         lambda emulator, arch, machine, virttype, xml_cpus, flags:
         (emulator, arch, machine, virttype, list(xml_cpus), flags), _first),
)
# fmt: on
