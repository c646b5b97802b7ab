"""A guest NIC's ``<filterref>``: a filter binding on its host device, made through the nwfilter driver.

Shared by the local hypervisor drivers. As libvirt's do (virDomainConfNWFilterInstantiate /
virDomainConfNWFilterTeardown), they ask the nwfilter driver of the same mode (``nwfilter:///system`` for
``qemu:///system``, the same embedded root) over pyvirt's public API, once the NIC's tap exists: the binding
names the guest (owner), the tap (port device), the NIC's MAC and the filter with its parameters; the
nwfilter driver writes the rules. The binding is deleted when the tap goes (stop, unplug), a failure
to delete it never stopping the rest, as libvirt's teardown ignores it.
"""

from __future__ import annotations

import contextlib

import pyvirt
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import Error, ErrorCode, NotSupportedError

__all__ = ["bind_nic_filters", "unbind_nic_filters"]


def _filtered(nics: list[Interface]) -> list[Interface]:
    return [n for n in nics if n.filterref is not None and n.filterref.filter and n.target_dev]


def _binding_xml(owner: Domain, nic: Interface) -> str:
    """virNWFilterBindingDefForNet: the owner, the port device, the MAC, the filter and its parameters."""
    from xml.sax.saxutils import quoteattr

    assert nic.filterref is not None
    params = "".join(f"<parameter name={quoteattr(p.name or '')} value={quoteattr(p.value or '')}/>"
                     for p in nic.filterref.parameters or [])  # fmt: skip
    return (f"<filterbinding><owner><name>{_text(owner.name or '')}</name><uuid>{owner.uuid}</uuid></owner>"
            f"<portdev name={quoteattr(nic.target_dev or '')}/><mac address={quoteattr(nic.mac or '')}/>"
            f"<filterref filter={quoteattr(nic.filterref.filter or '')}>{params}</filterref></filterbinding>")  # fmt: skip


def _text(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value)


def bind_nic_filters(dom: Domain, nics: list[Interface], nwfilter_uri_text: str) -> None:
    """A binding for every NIC of ``nics`` with a ``<filterref>`` and a tap; all or nothing."""
    wanted = _filtered(nics)
    if not wanted:
        return
    try:
        conn = pyvirt.open(nwfilter_uri_text)
    except Error as exc:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"NICs with a <filterref> need the nwfilter driver (pyvirt-nwfilter): {exc.message}") \
            from exc  # fmt: skip
    done: list[Interface] = []
    with conn:
        try:
            for nic in wanted:
                conn.create_nwfilter_binding(_binding_xml(dom, nic))
                done.append(nic)
        except BaseException:
            unbind_nic_filters(done, nwfilter_uri_text)
            raise


def unbind_nic_filters(nics: list[Interface], nwfilter_uri_text: str) -> None:
    """Delete the bindings of ``nics``' taps; one that is gone already, or cannot be deleted, is passed over."""
    wanted = _filtered(nics)
    if not wanted:
        return
    try:
        conn = pyvirt.open(nwfilter_uri_text)
    except Error:
        return
    with conn:
        for nic in wanted:
            with contextlib.suppress(Error):  # virDomainConfNWFilterTeardown ignores the failure
                conn.lookup_nwfilter_binding_by_port_dev(nic.target_dev or "").delete()
