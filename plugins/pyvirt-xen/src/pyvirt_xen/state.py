"""The Xen driver's definitions: parsed with the libxl driver's defaults, kept as libvirt keeps them.

One :class:`~pyvirt.local_driver.domain_table.DomainTable` per set of paths
(``/etc/pyvirt/libxl`` for ``xen:///system``, ``ROOT/etc/libxl`` for
``xen:///embed?root=ROOT``), shared by the connections of a process, holds
the persistent definitions and the running guests; the guests an earlier
process started are found again from their status files when the table is
first made (:func:`pyvirt_xen.lifecycle.reconnect`).
"""

from __future__ import annotations

import threading

from lxml import etree

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.local_driver.domain_table import DomainObj, DomainTable
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.security.stack import SecurityConfig, SecurityStack, load_security_stack
from pyvirt.util.audit import AuditGuest, AuditLevel, Auditor
from pyvirt_xen.defaults import apply_xen_defaults, generate_macs
from pyvirt_xen.watch import ReleaseWatch

__all__ = ["XenState", "audit_guest", "parse_xen_domain", "shared_state"]

_OS_TYPES = ("hvm", "linux", "xen", "xenpvh")


def parse_xen_domain(xml: str) -> Domain:
    """A definition as the libxl driver reads it: only Xen guests, its defaults filled in."""
    root = parse_xml(xml, "domain", "domain_definition")
    os_type = (root.findtext("os/type") or "").strip()
    arch = root.find("os/type").get("arch") if root.find("os/type") is not None else None  # type: ignore[union-attr]
    if root.get("type") != "xen" or (os_type and os_type not in _OS_TYPES) or arch not in (None, "x86_64", "i686"):
        found = "".join(f"{k}={v} " for k, v in (("ostype", os_type), ("arch", arch), ("domaintype", root.get("type")))
                        if v)  # fmt: skip
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"could not find capabilities for {found}")
    apply_xen_defaults(root)
    generate_macs(root)
    return parse_domain(etree.tostring(root))


def audit_guest(obj: DomainObj) -> AuditGuest:
    """A Xen guest in audit records: virt=xen; it has no process of its own, so vm-pid is -1."""
    return AuditGuest("xen", obj.name, obj.uuid, -1)


class XenState(DomainTable[DomainObj]):
    """The definitions of one config directory."""

    def __init__(self, paths: DriverPaths, security: SecurityStack | None = None) -> None:
        super().__init__(paths, ErrorDomain.LIBXL, DomainObj)
        self._security = security
        # started with the first running guest (pyvirt_xen.lifecycle.watch_releases), stopped with the last connection
        self.release_watch: ReleaseWatch | None = None
        # running guests missing from xl's list while their xl monitor runs (a reboot rebuilding them), by uuid,
        # with since when; ``unsettled``: the last check met one, so the watch checks again shortly
        self.missing: dict[str, float] = {}
        self.unsettled = False
        # the guests' audit trail, as the QEMU and LXC drivers keep it (libvirt's libxl driver keeps none)
        self.auditor = Auditor(AuditLevel.IF_AVAILABLE)
        self.load_configs()

    @property
    def security(self) -> SecurityStack:
        """The labels of the guests' files (:mod:`pyvirt_xen.labels`): the host's MAC driver when it has one,
        then DAC with libvirt's defaults (a dynamic label is ``+0:+0``, the identity Xen's backends have in
        dom0). Loaded when a guest first starts: converting configurations needs no security driver."""
        if self._security is None:
            self._security = load_security_stack(SecurityConfig())
        return self._security


_states: dict[str, XenState] = {}
_states_lock = threading.Lock()


def shared_state(paths: DriverPaths) -> XenState:
    """The one table of these paths in this process (a later connection sees what an earlier one defined)."""
    with _states_lock:
        state = _states.get(paths.config)
        if state is None:
            from pyvirt_xen.lifecycle import reconnect  # lifecycle builds on this module

            state = XenState(paths)
            reconnect(state)
            _states[paths.config] = state
        state.refs += 1
        return state


def release_state(state: XenState) -> None:
    with _states_lock:
        state.refs -= 1
        if state.refs == 0:
            _states.pop(state.paths.config, None)
            if state.release_watch is not None:
                state.release_watch.stop()
            state.auditor.close()
