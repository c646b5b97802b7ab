"""domiftune on QEMU guests: libvirt 9.0's qemuDomainGetInterfaceParameters / qemuDomainSetInterfaceParameters.

A running NIC's ``<bandwidth>`` is on its host device (the tap), shaped with
``tc`` (pyvirt.util.netdev_bandwidth). A change replaces the device's whole
shaping, so the running NIC keeps the direction the change does not name;
the persistent definition merges as the test driver's does (both rules in
pyvirt.conf.bandwidth_params). libvirt emits no tunable event for this call,
so neither does pyvirt.
"""

from __future__ import annotations

import contextlib

from pyvirt.conf.bandwidth_params import (
    as_params,
    has_floor,
    merged_definition,
    merged_live,
    parse_change,
    shares_host_view,
    supports_bandwidth,
)
from pyvirt.conf.domain_devices import Bandwidth, Interface
from pyvirt.errors import Error, ErrorCode, NotSupportedError
from pyvirt.flags import DomainModificationImpact, TypedParameterFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam
from pyvirt.util.netdev_bandwidth import set_bandwidth
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.guest_stats import find_interface
from pyvirt_qemu.tap import set_default_qdisc

__all__ = ["InterfaceTuneHooks", "change_nic_bandwidth"]

_AFFECT = DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG
_STRING_OKAY = TypedParameterFlags.OKAY
_TRANSIENT = "transient domains do not have any persistent config"  # virDomainObjUpdateModificationImpact's


def _mac_text(mac: str | None) -> str:
    """virMacAddrFormat: two lower-case hex digits per byte."""
    return ":".join(f"{int(p, 16):02x}" for p in (mac or "00:00:00:00:00:00").split(":"))


def _check_floor(net: Interface, requested: Bandwidth) -> None:
    """Only a NIC on a virtual network can be guaranteed a floor (its network shapes its bridge for it)."""
    if net.type != "network" and has_floor(requested):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                f"Invalid use of 'floor' on interface with MAC address {_mac_text(net.mac)} - "
                                "'floor' is only supported for interface type 'network' with forward type 'nat', "
                                "'route', 'open' or none")  # fmt: skip


def apply_live(net: Interface, new: Bandwidth | None) -> None:
    """virNetDevBandwidthSet on the NIC's device; on failure the old shaping is set again (best effort, as
    libvirt) and the first error raised. A device left without guest-inbound shaping gets its default qdisc."""
    swapped = not shares_host_view(net.type)
    try:
        set_bandwidth(net.target_dev, new or Bandwidth(), swapped=swapped)  # (empty: cleared, as libvirt)
    except Error:
        with contextlib.suppress(Error):
            set_bandwidth(net.target_dev, net.bandwidth, swapped=swapped)
        raise
    shaped = new.inbound if swapped and new is not None else new.outbound if new is not None else None
    if shaped is None or not shaped.average:
        set_default_qdisc(net)


def change_nic_bandwidth(old: Interface, new: Interface) -> None:
    """update-device of a running NIC whose ``<bandwidth>`` differs (qemuDomainChangeNet's needBandwidthSet):
    the new shaping replaces the old on the NIC's device, or the old is cleared, and the running NIC keeps
    the new one. Nothing happens for an equal one (virNetDevBandwidthEqual)."""
    if old.bandwidth == new.bandwidth:
        return
    apply_live(old, new.bandwidth)
    old.bandwidth = new.bandwidth


class InterfaceTuneHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_get_interface_parameters(self, dom: DomainRef, device: str, flags: int) -> list[TypedParam]:
        """qemuDomainGetInterfaceParameters: the chosen definition's ``<bandwidth>``, 0 where unset."""
        check_flags(flags, _AFFECT | _STRING_OKAY, "qemuDomainGetInterfaceParameters")
        obj = self.state.find(dom)
        with obj.lock:
            d = self._one_def(obj, flags & _AFFECT)
            return as_params(find_interface(d, device).bandwidth)

    @hookimpl
    def domain_set_interface_parameters(
        self, dom: DomainRef, device: str, params: list[TypedParam], flags: int
    ) -> None:
        """qemuDomainSetInterfaceParameters: the running NIC's device first, then the status, then the
        persistent definition; libvirt's refusals before anything changes."""
        check_flags(flags, _AFFECT, "qemuDomainSetInterfaceParameters")
        change = parse_change(params)
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, _TRANSIENT)
            net = persistent_net = None
            if live:
                self._still_running(obj)
                net = find_interface(obj.live, device)
            persistent = obj.persistent_def() if config else None
            if persistent is not None:
                persistent_net = find_interface(persistent, device)
            for nic in (net, persistent_net):  # virNetDevSupportsBandwidth of the live NIC, then the persistent
                if nic is not None and not supports_bandwidth(nic.type):
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                            f"setting bandwidth on interfaces of type '{nic.type}' is not "
                                            "implemented yet")  # fmt: skip
            if net is not None:
                new = merged_live(net.bandwidth, change)
                _check_floor(net, change.requested())
                apply_live(net, new)
                with obj.lock:
                    net.bandwidth = new
                self.state.save_status(obj)
            if persistent is not None and persistent_net is not None:
                persistent_net.bandwidth = merged_definition(persistent_net.bandwidth, change)
                self.state.save_config(persistent)
