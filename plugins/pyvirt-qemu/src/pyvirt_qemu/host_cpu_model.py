"""The ``host-model`` CPU: the named model closest to the host, plus the differences.

libvirt decodes the host's CPUID with its own CPU map; pyvirt asks the
emulator instead, which already knows every model it can run. QEMU expands
``host`` (KVM) or ``max`` (TCG) and each named model into their CPUID
features (``query-cpu-model-expansion`` of type ``static``), and the model
chosen is the one libvirt's rule would pick: fewest features to add, where
each feature to take away costs more than the last (2, 3, 4, ...), ties going
to fewer removals. Models of another vendor are skipped, as in libvirt, when
the accelerator lets a model keep its own vendor (under KVM every model
reports the host's).

At start the guest's ``<cpu mode='host-model'>`` becomes what libvirt makes of
it: ``mode='custom' match='exact'`` with that model (``fallback='forbid'``),
the host's vendor, the required and disabled features, and the guest's own
``<feature>`` policies applied on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyvirt.conf.domain import Cpu, CpuFeature, CpuModel

__all__ = [
    "HostCpuModel",
    "choose_host_model",
    "cpuid_features",
    "guest_cpu_for_host_model",
    "probe_host_model",
    "update_guest_cpu",
]

# QEMU's spelling -> libvirt's, for the few x86 features whose names differ
# (libvirt's translation table); every other name is the same on both sides.
_LIBVIRT_NAMES = {
    "cmp-legacy": "cmp_legacy", "ds-cpl": "ds_cpl", "fxsr-opt": "fxsr_opt", "lahf-lm": "lahf_lm",
    "nodeid-msr": "nodeid_msr", "pclmulqdq": "pclmuldq", "perfctr-core": "perfctr_core",
    "perfctr-nb": "perfctr_nb", "tsc-adjust": "tsc_adjust",
}  # fmt: skip
_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon", "CentaurHauls": "VIA"}
_VERSIONED = re.compile(r"-v\d+$")
_FIRST_REMOVAL_COST = 2  # libvirt's BASE_PENALTY


class _Executes(Protocol):
    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0) -> Any: ...


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


def cpuid_features(props: dict[str, Any]) -> frozenset[str]:
    """The CPUID features a static expansion turns on, in libvirt's names.

    KVM's paravirtual leaves (``kvm-*``, ``kvmclock``) are left out: libvirt
    describes them with ``<kvm>`` and clock timers, not as CPU features.
    """
    return frozenset(
        _LIBVIRT_NAMES.get(name, name) for name, value in props.items() if value is True and not name.startswith("kvm")
    )


@dataclass(frozen=True)
class _Candidate:
    cost: int
    removals: int
    name: str
    add: tuple[str, ...]
    remove: tuple[str, ...]


def _candidate(name: str, host: frozenset[str], model: frozenset[str]) -> _Candidate:
    add = tuple(sorted(host - model))
    remove = tuple(sorted(model - host))
    cost = len(add) + sum(range(_FIRST_REMOVAL_COST, _FIRST_REMOVAL_COST + len(remove)))
    return _Candidate(cost, len(remove), name, add, remove)


def choose_host_model(host: frozenset[str], models: dict[str, frozenset[str]]) -> list[str]:
    """Model names, best first, by libvirt's rule; the caller takes the first whose vendor fits."""
    ranked = sorted((_candidate(n, host, f) for n, f in models.items()), key=lambda c: (c.cost, c.removals, c.name))
    return [c.name for c in ranked]


def _vendor(props: dict[str, Any]) -> str | None:
    value = props.get("vendor")
    return _VENDORS.get(value, value) if isinstance(value, str) else None


def probe_host_model(monitor: _Executes, base: str, definitions: list[dict[str, Any]]) -> HostCpuModel | None:
    """Ask a running probe QEMU; ``base`` is ``host`` under KVM and ``max`` under TCG."""

    def expand(kind: str, name: str) -> dict[str, Any]:
        reply = monitor.execute("query-cpu-model-expansion", {"type": kind, "model": {"name": name}})
        props: dict[str, Any] = reply["model"].get("props", {})
        return props

    host_props = expand("static", base)
    host = cpuid_features(host_props)
    host_vendor = _vendor(expand("full", base))
    names = [
        d["name"]
        for d in definitions
        if d["name"] not in ("host", "max", "base") and not _VERSIONED.search(d["name"]) and not d.get("deprecated")
    ]
    models = {name: cpuid_features(expand("static", name)) for name in names}
    for name in choose_host_model(host, models):
        if _vendor(expand("full", name)) not in (host_vendor, None):
            continue
        best = _candidate(name, host, models[name])
        features = [("require", f) for f in best.add] + [("disable", f) for f in best.remove]
        return HostCpuModel(name, host_vendor, features)
    return None


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
