"""What plugin authors import: hook markers, the contract version, shared record types.

A hypervisor driver distribution declares an entry point in the
``pyvirt.hypervisor`` group named after its URI scheme, pointing at a driver
object that implements ``connect_open`` and declares ``pyvirt_contract``.
The connection object ``connect_open`` returns implements the hypervisor
(and, if it wants, secondary) specs in ``pyvirt.plugin.specs``.
"""

from __future__ import annotations

import pluggy

__all__ = ["CONTRACT_VERSION", "PROJECT", "contract_compatible", "hookimpl", "hookspec"]

PROJECT = "pyvirt"
CONTRACT_VERSION = "1.7"
"""Semantic version of the hook specs. Drivers declare the version they
implement (``pyvirt_contract``); same major and a minor not newer than this
one is accepted. 1.1 added ``connect_get_domain_capabilities``; 1.2 added
``connect_domain_xml_from_native`` and ``domain_open_console``; 1.3 the
optional ``security_process_exec_attr``, ``domain_get_stats`` and
``domain_attach_device``/``domain_detach_device``/``domain_update_device``;
1.4 ``domain_interface_addresses`` and ``network_get_dhcp_leases``; 1.5 ``network_update``; 1.6 ``domain_get_os_type`` (optional); 1.7 the scheduler
(``domain_get_scheduler_type``, ``domain_get_scheduler_parameters``,
``domain_set_scheduler_parameters``, with libvirt's typed parameters from
``pyvirt.plugin.typed_params``), ``domain_screenshot`` and checkpoints
(``checkpoint_create_xml``, ``checkpoint_list_names``, ``checkpoint_list_children``,
``checkpoint_lookup_by_name``, ``checkpoint_get_xml_desc``, ``checkpoint_get_parent``,
``checkpoint_delete``), all optional: a driver without them answers NO_SUPPORT."""


def contract_compatible(declared: str) -> bool:
    """Whether this core can serve a driver declaring ``declared`` (same major, minor not newer)."""
    major, _, minor = declared.partition(".")
    core_major, _, core_minor = CONTRACT_VERSION.partition(".")
    return major == core_major and minor.isdigit() and int(minor) <= int(core_minor)


hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
