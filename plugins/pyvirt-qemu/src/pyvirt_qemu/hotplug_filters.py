"""update-device of a running guest's NIC whose ``<filterref>`` changes: its tap is bound to the new filter.

Why: the binding made when the tap appeared (start or hot-plug) names the
filter and its parameters; a new filter or new parameters need a new
binding. libvirt's qemuDomainChangeNet sees the change
(virNWFilterHashTableEqual: the parameters as a set, not a list) and
qemuDomainChangeNetFilter tears the old binding down and instantiates the
new one; when that fails it binds the old filter again and reports that it
tried to. No ``<filterref>`` in the new definition leaves the tap unfiltered.
"""

from __future__ import annotations

import contextlib

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import Error, ErrorCode, OperationFailedError
from pyvirt.local_driver.nwfilter_nics import bind_nic_filters, unbind_nic_filters

__all__ = ["change_nic_filter", "filter_changed"]


def _filter_of(nic: Interface) -> tuple[str | None, dict[str | None, str | None]]:
    ref = nic.filterref
    if ref is None:
        return None, {}
    return ref.filter, {p.name: p.value for p in ref.parameters or []}


def filter_changed(old: Interface, new: Interface) -> bool:
    """libvirt's needFilterChange: another filter name, or other parameters."""
    return _filter_of(old) != _filter_of(new)


def change_nic_filter(owner: Domain, old: Interface, new: Interface, nwfilter_uri: str) -> None:
    """qemuDomainChangeNetFilter: the tap of ``old`` unbound, then bound to ``new``'s filter; ``old`` takes
    ``new``'s ``<filterref>`` once that holds.

    :raises Error: OPERATION_FAILED, libvirt's words, when the new binding fails (the old one is made again).
    """
    unbind_nic_filters([old], nwfilter_uri)
    changed = old.model_copy(deep=True)
    changed.filterref = new.filterref.model_copy(deep=True) if new.filterref is not None else None
    try:
        bind_nic_filters(owner, [changed], nwfilter_uri)
    except Error as exc:
        with contextlib.suppress(Error):
            bind_nic_filters(owner, [old], nwfilter_uri)
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED,
            f"failed to add new filter rules to '{old.target_dev}' - attempting to restore old rules",
        ) from exc
    old.filterref = changed.filterref
