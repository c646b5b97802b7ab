"""The ``host-model`` CPU: the named model closest to the host, plus the differences.

libvirt decodes QEMU's expansion of ``host`` (KVM) or ``max`` (TCG) with its CPU map
(pyvirt.util.cpu_x86.decode_hypervisor_cpu, called by ``emulator_caps``; ``cpu_map`` for
capability sets read from libvirt's data). This module holds the result and what a
guest makes of it.

At start the guest's ``<cpu mode='host-model'>`` becomes what libvirt makes of
it: ``mode='custom' match='exact'`` with that model (``fallback='forbid'``),
the host's vendor, the required and disabled features, and the guest's own
``<feature>`` policies applied on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyvirt.conf.domain import Cpu, CpuFeature, CpuModel

__all__ = [
    "HostCpuModel",
    "guest_cpu_for_host_model",
    "update_guest_cpu",
]


@dataclass(frozen=True)
class HostCpuModel:
    """What ``host-model`` means on this host for one accelerator."""

    model: str
    vendor: str | None
    features: list[tuple[str, str]] = field(default_factory=list)  # (policy, libvirt name)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "vendor": self.vendor, "features": [list(f) for f in self.features]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostCpuModel:
        return cls(data["model"], data["vendor"], [(str(p), str(n)) for p, n in data["features"]])


def guest_cpu_for_host_model(cpu: Cpu, host: HostCpuModel) -> Cpu:
    """The live ``<cpu>`` of a host-model guest (libvirt's host-model update)."""
    policies = dict((name, policy) for policy, name in host.features)
    order = [name for _policy, name in host.features]
    for feature in cpu.features or []:
        if feature.name is None:
            continue
        if feature.name not in policies:
            order.append(feature.name)
        policies[feature.name] = feature.policy or "require"
    live = cpu.model_copy(deep=True)
    live.mode, live.match, live.vendor = "custom", "exact", host.vendor
    # the guest's own vendor_id (what CPUID tells the guest) stays, as libvirt keeps it over the host's model
    live.model = CpuModel(fallback="forbid", vendor_id=cpu.model.vendor_id if cpu.model else None, name=host.model)
    live.features = [CpuFeature(policy=policies[name], name=name) for name in order] or None
    return live


def update_guest_cpu(cpu: Cpu, host: HostCpuModel, host_features: frozenset[str]) -> Cpu:
    """A custom ``<cpu>`` measured against the host at start (libvirt's virCPUx86Update, relative case).

    Each ``optional`` feature becomes ``require`` when the host has it and ``disable`` when not, in place;
    then ``match='minimum'`` asks for at least the host's CPU: the guest becomes the host's model and
    features with its own policies on top, as for ``host-model``. ``host_features``: every feature the
    host's CPU has (its model's and its extra ones, libvirt's names).
    """
    live = cpu.model_copy(deep=True)
    for feature in live.features or []:
        if feature.policy == "optional":
            feature.policy = "require" if feature.name in host_features else "disable"
    if live.match == "minimum":
        live = guest_cpu_for_host_model(live, host)
    return live
