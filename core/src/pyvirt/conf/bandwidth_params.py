"""A NIC's ``<bandwidth>`` as libvirt's typed parameters (``domiftune``), and how a change merges into it.

Why one module: libvirt's test and QEMU drivers answer
virDomainGet/SetInterfaceParameters with the same seven fields in the same
order and merge a change into a definition by the same rule, so pyvirt's
test driver and the QEMU plugin share them here instead of each keeping a
copy. Which NIC types can be shaped, and on which side of the host's device
the guest's traffic appears, are libvirt's ``netdev_bandwidth_conf.c`` and
``domain_conf.c`` facts, stated once here for the same reason.

A change names a direction by its average (inbound: or its floor); an
average of 0 with the direction named removes the direction, a peak or a
burst alone names nothing and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvirt.conf.domain_devices import Bandwidth, BandwidthRate
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params

__all__ = [
    "ACCEPTED",
    "FIELDS",
    "BandwidthChange",
    "as_params",
    "has_floor",
    "merged_definition",
    "merged_live",
    "parse_change",
    "shares_host_view",
    "supports_bandwidth",
]

# VIR_DOMAIN_BANDWIDTH_*: (direction, BandwidthRate field), in libvirt's Get*InterfaceParameters order
FIELDS = (
    ("inbound", "average"), ("inbound", "peak"), ("inbound", "burst"), ("inbound", "floor"),
    ("outbound", "average"), ("outbound", "peak"), ("outbound", "burst"),
)  # fmt: skip
ACCEPTED = {f"{d}.{f}": TypedParamType.UINT for d, f in FIELDS}
_DIRECTIONS = ("inbound", "outbound")
# virNetDevSupportsBandwidth: the NIC types whose host end is a device tc can shape
_SHAPEABLE = frozenset({"bridge", "network", "direct", "ethernet"})


@dataclass
class BandwidthChange:
    """What a Set*InterfaceParameters call asks: the rates of each direction it sets (None: not set), and
    whether it named the direction at all (an average, or inbound's floor, given even as 0)."""

    inbound: BandwidthRate | None
    outbound: BandwidthRate | None
    inbound_named: bool
    outbound_named: bool

    def rate(self, direction: str) -> BandwidthRate | None:
        rate: BandwidthRate | None = getattr(self, direction)
        return rate

    def named(self, direction: str) -> bool:
        return bool(getattr(self, f"{direction}_named"))

    def requested(self) -> Bandwidth:
        """The change alone as a Bandwidth (libvirt's ``bandwidth`` before any merge)."""
        return Bandwidth(inbound=self.inbound, outbound=self.outbound)


def parse_change(params: list[TypedParam]) -> BandwidthChange:
    """virTypedParamsValidate, then the parameters into rates; a direction without average (or inbound floor)
    is dropped, as libvirt frees it, since average or floor is what makes a direction."""
    check_typed_params(params, ACCEPTED)
    rates = {d: BandwidthRate() for d in _DIRECTIONS}
    named = set()
    for p in params:
        direction, _, field = p.field.partition(".")
        setattr(rates[direction], field, int(p.value) or None)
        if field in ("average", "floor"):
            named.add(direction)
    inbound = rates["inbound"] if rates["inbound"].average or rates["inbound"].floor else None
    outbound = rates["outbound"] if rates["outbound"].average else None
    return BandwidthChange(inbound, outbound, "inbound" in named, "outbound" in named)


def as_params(bw: Bandwidth | None) -> list[TypedParam]:
    """Get*InterfaceParameters: every field, 0 where the direction or the value is unset."""
    out = []
    for direction, field in FIELDS:
        rate = getattr(bw, direction) if bw is not None else None
        value = (getattr(rate, field) or 0) if rate is not None else 0
        out.append(TypedParam(f"{direction}.{field}", TypedParamType.UINT, value))
    return out


def merged_definition(old: Bandwidth | None, change: BandwidthChange) -> Bandwidth:
    """How a definition takes the change (the test driver's, and QEMU's persistent one): a NIC without
    ``<bandwidth>`` gets the change as it is (perhaps empty), else each direction set replaces the old one and
    a direction named without a rate is removed; the other direction stays."""
    if old is None:
        return change.requested().model_copy(deep=True)
    new = old.model_copy(deep=True)
    for direction in _DIRECTIONS:
        rate = change.rate(direction)
        if rate is not None:
            setattr(new, direction, rate.model_copy())
        elif change.named(direction):
            setattr(new, direction, None)
    return new


def merged_live(old: Bandwidth | None, change: BandwidthChange) -> Bandwidth | None:
    """qemuDomainSetInterfaceParameters' merge for the running NIC: setting the bandwidth replaces all of it on
    the host, so a direction the change does not name keeps its old rates; None when no direction is left."""
    kept = {}
    for direction in _DIRECTIONS:
        rate = change.rate(direction)
        if rate is None and not change.named(direction) and old is not None:
            rate = getattr(old, direction)
        if rate is not None:
            kept[direction] = rate.model_copy()
    return Bandwidth(**kept) if kept else None


def has_floor(bw: Bandwidth | None) -> bool:
    """virNetDevBandwidthHasFloor."""
    return bw is not None and bw.inbound is not None and bool(bw.inbound.floor)


def supports_bandwidth(nic_type: str | None) -> bool:
    """virNetDevSupportsBandwidth: bridge, network, direct and ethernet NICs."""
    return nic_type in _SHAPEABLE


def shares_host_view(nic_type: str | None) -> bool:
    """virDomainNetTypeSharesHostView: only a macvtap (``direct``) NIC sends what the guest sends; for a tap,
    what the guest receives is what the host's device transmits, so its bandwidth is applied swapped."""
    return nic_type == "direct"
