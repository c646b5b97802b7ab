"""What plugin authors import: hook markers, the contract version, shared record types.

A hypervisor driver distribution declares an entry point in the
``pyvirt.hypervisor`` group named after its URI scheme, pointing at a driver
object that implements ``connect_open`` and declares ``pyvirt_contract``.
The connection object ``connect_open`` returns implements the hypervisor
(and, if it wants, secondary) specs in ``pyvirt.plugin.specs``.
"""

from __future__ import annotations

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import pluggy

__all__ = ["CONTRACT_VERSION", "PROJECT", "contract_compatible", "hookimpl", "hookspec", "parse_contract"]

PROJECT = "pyvirt"
CONTRACT_VERSION = "1.16"
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
``checkpoint_delete``), all optional: a driver without them answers NO_SUPPORT;
1.8 ``domain_abort_job`` (optional: virDomainAbortJob, cancelling a running save
or snapshot); 1.9 ``volume_upload`` and ``volume_download`` (optional:
virStorageVolUpload/virStorageVolDownload as descriptors the caller owns);
1.10 and 1.11 the hooks listed under them in core/NEWS (``since`` in ``pyvirt.plugin.api``)."""


def parse_contract(declared: object) -> tuple[int, int] | None:
    """``"1.7"`` as (1, 7); None for anything that is not a ``MAJOR.MINOR`` string (a float, "1.7.0", "")."""
    if not isinstance(declared, str):
        return None
    major, dot, minor = declared.partition(".")
    if not (dot and major.isdigit() and minor.isdigit() and major.isascii() and minor.isascii()):
        return None
    return (int(major), int(minor))


def contract_compatible(declared: object, provided: str = CONTRACT_VERSION) -> bool:
    """Whether a core providing contract ``provided`` serves a driver declaring ``declared`` (same major, minor not newer).

    One rule for every caller (``pyvirsh drivers``, opening a connection): a
    declaration that is not a ``MAJOR.MINOR`` string is never compatible.
    """
    version, core = parse_contract(declared), parse_contract(provided)
    return version is not None and core is not None and version[0] == core[0] and version[1] <= core[1]


if TYPE_CHECKING:
    hookspec: pluggy.HookspecMarker
    hookimpl: pluggy.HookimplMarker


def __getattr__(name: str) -> Any:
    """``hookspec`` and ``hookimpl``, made on first use.

    Why: importing pluggy (and the ``inspect`` it pulls in) is a fifth of a
    short ``pyvirsh`` run through pyvirtd, whose remote driver binds its
    generated hooks without a plugin manager (their signatures are checked
    against the specs by a test); every package that marks hooks still gets
    pluggy's own markers, on its first ``from pyvirt.plugin import hookimpl``.
    """
    if name in ("hookspec", "hookimpl"):
        import pluggy

        globals().update(hookspec=pluggy.HookspecMarker(PROJECT), hookimpl=pluggy.HookimplMarker(PROJECT))
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
