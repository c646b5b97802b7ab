"""libvirt's x86 CPU map, and the ``host-model`` CPU of a capability set taken from libvirt's data.

A live QEMU tells pyvirt what ``host-model`` means (``host_cpu_model``). A capability
set read from libvirt's cache format (``tests/qemucapabilitiesdata``) has no QEMU to
ask: it records the host CPU as QEMU expanded it (``<hostCPU>``: CPUID feature
flags, vendor, family and model) and the CPU models QEMU offers with the features
blocking each one. libvirt turns that into a named model with libvirt's CPU map
(``src/cpu_map``, installed as ``/usr/share/libvirt/cpu_map``), and so does this
module, by libvirt's rules (virQEMUCapsGetCPUModelX86Data, x86Decode):

- features are compared as CPUID/MSR bits, so aliases and multi-bit features count once;
- models are tried newest first; a model of another vendor, or one QEMU does not
  offer, is skipped; a model whose family/model signature matches the host's wins
  over one that does not;
- otherwise the model needing the fewest changes wins, each feature to take away
  costing more than the last (2, 3, 4, ...), ties going to fewer removals;
- the host's features beyond the model are required, the model's the host lacks (and
  QEMU's blockers) disabled, and features the model dropped in later releases
  disabled too.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from lxml import etree

from pyvirt_qemu.host_cpu_model import HostCpuModel

__all__ = ["CpuMap", "HostCpuProperty", "decode_host_model", "load_cpu_map"]

# one CPUID or MSR bit: ("cpuid", eax_in, ecx_in, register, bit) or ("msr", index, register, bit)
_Bit = tuple[str | int, ...]
_BASE_PENALTY = 2  # libvirt's BASE_PENALTY: the first feature a model must take away costs this much


@dataclass(frozen=True)
class _Feature:
    name: str
    bits: frozenset[_Bit]


@dataclass(frozen=True)
class _Model:
    name: str
    vendor: str | None
    signatures: tuple[tuple[int, int, frozenset[int] | None], ...]  # (family, model, steppings or any)
    decode_guest: bool
    bits: frozenset[_Bit]
    removed: tuple[str, ...]

    def matches(self, family: int, model: int, stepping: int) -> bool:
        return any(f == family and m == model and (s is None or stepping in s) for f, m, s in self.signatures)


@dataclass(frozen=True)
class HostCpuProperty:
    """One ``<property>`` of libvirt's ``<hostCPU>``: QEMU's name, its type and value, and whether it migrates."""

    name: str
    type: str  # boolean, string or number
    value: str
    migratable: bool | None = None


@dataclass(frozen=True)
class CpuMap:
    features: tuple[_Feature, ...]  # the map's order, which is the order features are listed in
    names: dict[str, _Feature]  # by libvirt's name and every alias (QEMU's spellings)
    vendors: dict[str, str]  # CPUID vendor string -> libvirt's vendor name
    models: tuple[_Model, ...]  # the map's order, oldest first


def _steppings(text: str | None) -> frozenset[int] | None:
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return frozenset(out)


def _feature_bits(elem: etree._Element) -> frozenset[_Bit]:
    bits: set[_Bit] = set()
    for cpuid in elem.iterfind("cpuid"):
        leaf, sub = int(cpuid.get("eax_in", "0"), 16), int(cpuid.get("ecx_in", "0"), 16)
        for reg in ("eax", "ebx", "ecx", "edx"):
            mask = int(cpuid.get(reg, "0"), 16)
            bits.update(("cpuid", leaf, sub, reg, b) for b in range(32) if mask >> b & 1)
    for msr in elem.iterfind("msr"):
        index = int(msr.get("index", "0"), 16)
        for reg in ("eax", "edx"):
            mask = int(msr.get(reg, "0"), 16)
            bits.update(("msr", index, reg, b) for b in range(32) if mask >> b & 1)
    return frozenset(bits)


@functools.cache
def load_cpu_map(directory: str) -> CpuMap:
    """The x86 half of the CPU map in ``directory`` (its ``index.xml`` names the files, in order)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    index = etree.parse(os.path.join(directory, "index.xml"), parser).getroot()
    arch = next(a for a in index.iterfind("arch") if a.get("name") == "x86")
    features: list[_Feature] = []
    names: dict[str, _Feature] = {}
    vendors: dict[str, str] = {}
    models: list[_Model] = []
    for include in arch.iterfind("include"):
        root = etree.parse(os.path.join(directory, str(include.get("filename"))), parser).getroot()
        for vendor in root.iterfind("vendor"):
            vendors[str(vendor.get("string"))] = str(vendor.get("name"))
        for elem in root.iterfind("feature"):
            feature = _Feature(str(elem.get("name")), _feature_bits(elem))
            features.append(feature)
            names[feature.name] = feature
            for alias in elem.iterfind("alias"):
                names.setdefault(str(alias.get("name")), feature)
        for elem in root.iterfind("model"):
            bits: set[_Bit] = set()
            removed: list[str] = []
            for f in elem.iterfind("feature"):
                if f.get("removed") == "yes":
                    removed.append(str(f.get("name")))
                else:
                    bits |= names[str(f.get("name"))].bits
            decode = elem.find("decode")
            vendor_elem = elem.find("vendor")
            sigs = tuple((int(str(s.get("family"))), int(str(s.get("model"))), _steppings(s.get("stepping")))
                         for s in elem.iterfind("signature"))  # fmt: skip
            models.append(_Model(str(elem.get("name")), vendor_elem.get("name") if vendor_elem is not None else None,
                                 sigs, decode is None or decode.get("guest") == "on", frozenset(bits),
                                 tuple(removed)))  # fmt: skip
    return CpuMap(tuple(features), names, vendors, tuple(models))


def _to_features(cpu_map: CpuMap, bits: set[_Bit]) -> list[str]:
    """x86DataToCPUFeatures: the map's features wholly inside ``bits``, in map order, each taking its bits."""
    out = []
    for feature in cpu_map.features:
        if feature.bits and feature.bits <= bits:
            bits -= feature.bits
            out.append(feature.name)
    return out


def _cost(features: list[tuple[str, str]]) -> tuple[int, int]:
    """(total, disabled) as virCPUx86CompareCandidateFeatureList counts a guest CPU's features."""
    disabled = [p for p, _n in features if p == "disable"]
    penalty = sum(range(_BASE_PENALTY, _BASE_PENALTY + len(disabled)))
    return len(features) - len(disabled) + penalty, penalty


def decode_host_model(cpu_map: CpuMap, props: list[HostCpuProperty], offered: dict[str, list[str]],
                      migratable: bool = True) -> HostCpuModel | None:  # fmt: skip
    """The host-model CPU libvirt makes of QEMU's expansion of the host CPU (``props``).

    ``offered``: the CPU models QEMU offers under this accelerator, each with the features (QEMU's names) that
    block it; ``migratable``: leave out what QEMU says cannot migrate, as for the CPU guests get.
    """
    data: set[_Bit] = set()
    vendor: str | None = None
    signature = {"family": 0, "model": 0, "stepping": 0}
    for prop in props:
        if prop.type == "boolean":
            feature = cpu_map.names.get(prop.name)
            if prop.value == "true" and not (migratable and prop.migratable is False) and feature is not None:
                data |= feature.bits  # (a feature the map does not know is ignored, as libvirt does)
        elif prop.type == "string" and prop.name == "vendor":
            vendor = cpu_map.vendors.get(prop.value)
        elif prop.type == "number" and prop.name in signature:
            signature[prop.name] = int(prop.value)
    family, model_no, stepping = signature["family"], signature["model"], signature["stepping"]
    if vendor == "Intel" and family == 6 and ((model_no == 63 and stepping < 4) or model_no in (60, 69, 70)):
        for broken in ("hle", "rtm"):  # x86DataFilterTSX: TSX these CPUs advertise does not work
            data -= cpu_map.names[broken].bits if broken in cpu_map.names else frozenset()
    has_signature = bool(family or model_no or stepping)
    best: tuple[_Model, list[tuple[str, str]]] | None = None
    for model in reversed(cpu_map.models):  # newest first
        if model.name not in offered or (vendor and model.vendor and vendor != model.vendor):
            continue
        extra, missing = data - model.bits, set(model.bits - data)
        for blocker in offered[model.name]:  # QEMU's reasons the model cannot run here: disabled too
            feature = cpu_map.names.get(blocker)
            if feature is not None and not feature.bits <= extra:
                missing |= feature.bits
        features = [("require", n) for n in _to_features(cpu_map, set(extra))]
        features += [("disable", n) for n in _to_features(cpu_map, missing)]
        features += [("disable", n) for n in model.removed if n not in {name for _p, name in features}]
        if not model.decode_guest:
            continue
        if best is None:
            best = (model, features)
            continue
        current, current_features = best
        if has_signature and current.matches(family, model_no, stepping) != model.matches(family, model_no, stepping):
            if model.matches(family, model_no, stepping):
                best = (model, features)
            continue
        (cost, disabled), (current_cost, current_disabled) = _cost(features), _cost(current_features)
        if cost < current_cost or (cost == current_cost and disabled < current_disabled):
            best = (model, features)
    if best is None:
        return None
    return HostCpuModel(best[0].name, vendor, best[1])
