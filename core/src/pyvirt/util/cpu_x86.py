"""libvirt's x86 CPU model: baseline and comparison of CPU definitions from libvirt's CPU map.

libvirt answers virConnectBaselineCPU, virConnectCompareCPU and their hypervisor
variants for x86 with its own code, not the hypervisor's (src/cpu/cpu_x86.c,
src/cpu/cpu.c, src/conf/cpu_conf.c in libvirt 9.0): a CPU definition (model +
features) is turned into CPUID/MSR bits with the map's data
(``/usr/share/libvirt/cpu_map``, Debian's ``libvirt0``), bits are intersected or
compared, and a bit set is turned back into the map's best-fitting model with the
features to add or disable (x86Decode). This module does the same, by the same
rules, so every driver here (test, QEMU) gives libvirt's answers; the ppc64 and ARM
baselines (cpu_ppc64.c, cpu_arm.c) are the few lines they are in libvirt. It is read
only by the drivers answering these calls, never at connection open.

Data is kept as libvirt keeps it: a dict from the register's key -- ``(0, eax_in,
ecx_in)`` for a CPUID leaf, ``(1, index, 0)`` for an MSR, sorted as
virCPUx86DataSorter sorts -- to four 32-bit words (CPUID eax, ebx, ecx, edx; an MSR
uses eax and edx).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field

import pyvirt.errors as _errors
from pyvirt.errors import ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "COMPARE_ERROR",
    "COMPARE_IDENTICAL",
    "COMPARE_INCOMPATIBLE",
    "COMPARE_SUPERSET",
    "CPUDef",
    "baseline",
    "baseline_xml",
    "compare",
    "compare_xml",
    "decode_hypervisor_cpu",
    "expand_features",
    "format_cpu",
    "host_cpu",
    "load_map",
    "model_vendors",
    "parse_cpu",
    "parse_cpu_list",
]

# virConnectBaselineCPUFlags and virConnectCompareCPUFlags (libvirt-host.h), for the drivers calling this module
VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES = 1
VIR_CONNECT_BASELINE_CPU_MIGRATABLE = 2
VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE = 1
VIR_CONNECT_COMPARE_CPU_VALIDATE_XML = 2

# virCPUCompareResult
COMPARE_ERROR = -1
COMPARE_INCOMPATIBLE = 0
COMPARE_IDENTICAL = 1
COMPARE_SUPERSET = 2

# virCPUFeaturePolicy; -1 is a host CPU's feature (no policy)
FORCE, REQUIRE, OPTIONAL, DISABLE, FORBID = range(5)
POLICIES = ("force", "require", "optional", "disable", "forbid")
MODES = ("custom", "host-model", "host-passthrough", "maximum")
MATCHES = ("minimum", "exact", "strict")
FALLBACKS = ("allow", "forbid")
CHECKS = ("none", "partial", "full")

X86_ARCHES = ("i686", "x86_64")  # cpu_x86.c's archs[]

_Key = tuple[int, int, int]
_Data = dict[_Key, list[int]]


def _err(code: ErrorCode, detail: str | None) -> _errors.Error:
    return _errors.Error(code, detail)


# --- CPUID/MSR data (virCPUx86Data) -----------------------------------------------------------------------


def _copy(data: _Data) -> _Data:
    return {k: list(v) for k, v in data.items()}


def _nonzero(data: _Data) -> list[tuple[_Key, list[int]]]:
    """virCPUx86DataNext's walk: the items in sorted order, all-zero ones skipped."""
    return [(k, data[k]) for k in sorted(data) if any(data[k])]


def _add(data: _Data, other: _Data) -> None:
    """x86DataAdd."""
    for key, words in _nonzero(other):
        mine = data.setdefault(key, [0, 0, 0, 0])
        for i in range(4):
            mine[i] |= words[i]


def _subtract(data: _Data, other: _Data) -> None:
    """x86DataSubtract."""
    for key, words in _nonzero(data):
        theirs = other.get(key)
        if theirs is not None:
            for i in range(4):
                words[i] &= ~theirs[i]


def _intersect(data: _Data, other: _Data) -> None:
    """x86DataIntersect."""
    for key, words in _nonzero(data):
        theirs = other.get(key)
        for i in range(4):
            words[i] &= theirs[i] if theirs is not None else 0


def _is_empty(data: _Data) -> bool:
    return not _nonzero(data)


def _masked(words: list[int], mask: list[int]) -> bool:
    return all(words[i] & mask[i] == mask[i] for i in range(4))


def _is_subset(data: _Data, subset: _Data) -> bool:
    """x86DataIsSubset: every bit of ``subset`` is set in ``data``."""
    for key, words in _nonzero(subset):
        mine = data.get(key)
        if mine is None or not _masked(mine, words):
            return False
    return True


# --- the map (virCPUx86Map) -------------------------------------------------------------------------------


@dataclass
class _Vendor:
    name: str
    key: _Key
    words: list[int]

    def data(self) -> _Data:
        return {self.key: list(self.words)}


@dataclass
class _Feature:
    name: str
    data: _Data
    migratable: bool


@dataclass
class _Model:
    name: str
    decode_host: bool
    decode_guest: bool
    signatures: list[tuple[int, int, frozenset[int] | None]]
    vendor: _Vendor | None
    data: _Data
    removed: list[str]

    def matches(self, signature: int) -> bool:
        """virCPUx86SignaturesMatch."""
        family, model, stepping = _signature_parts(signature)
        return any(f == family and m == model and (s is None or stepping in s) for f, m, s in self.signatures)


@dataclass
class _Map:
    vendors: list[_Vendor] = field(default_factory=list)
    features: list[_Feature] = field(default_factory=list)
    models: list[_Model] = field(default_factory=list)

    def feature(self, name: str) -> _Feature | None:
        return self._features_by_name().get(name)

    def model(self, name: str) -> _Model | None:
        return next((m for m in self.models if m.name == name), None)

    def vendor(self, name: str) -> _Vendor | None:
        return next((v for v in self.vendors if v.name == name), None)

    @functools.cache  # noqa: B019 -- the map lives for the process, as libvirt's cpuMap
    def _features_by_name(self) -> dict[str, _Feature]:
        return {f.name: f for f in self.features}

    def __hash__(self) -> int:
        return id(self)


def _uint(node: etree._Element, name: str, required: bool) -> int:
    value = node.get(name)
    if value is None:
        if required:
            raise ValueError(name)
        return 0
    return int(value, 0) & 0xFFFFFFFF


def _parse_items(node: etree._Element, what: str) -> _Data:
    """x86ParseDataItemList."""
    data: _Data = {}
    children = [c for c in node if isinstance(c.tag, str)]
    if not children:
        raise _err(ErrorCode.INTERNAL_ERROR, "no x86 CPU data found")
    i = 0
    for child in children:
        if child.tag == "alias":
            continue
        try:
            if child.tag == "cpuid":
                key: _Key = (0, _uint(child, "eax_in", True), _uint(child, "ecx_in", False))
                words = [_uint(child, r, False) for r in ("eax", "ebx", "ecx", "edx")]
            else:
                key = (1, _uint(child, "index", True), 0)
                words = [_uint(child, "eax", True), 0, 0, _uint(child, "edx", True)]
        except ValueError:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Invalid {'cpuid' if child.tag == 'cpuid' else 'msr'}[{i}]") from None
        _add(data, {key: words})
        i += 1
    return data


def _steppings(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def _parse_model(node: etree._Element, cpu_map: _Map) -> _Model:
    """x86ModelParse: decode flags, ancestor, signatures, vendor, features (some marked removed)."""
    name = node.get("name") or ""
    if cpu_map.model(name) is not None:
        raise _err(ErrorCode.INTERNAL_ERROR, f"Multiple definitions of CPU model '{name}'")
    decode = node.find("decode")
    if decode is None:
        raise _err(ErrorCode.INTERNAL_ERROR, f"missing decode element in CPU model {name}")
    model = _Model(name, decode.get("host") == "on", decode.get("guest") == "on", [], None, {}, [])
    parent = node.find("model")
    if parent is not None:
        ancestor = cpu_map.model(parent.get("name") or "")
        if ancestor is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Ancestor model {parent.get('name')} not found for CPU model {name}")
        model.vendor, model.signatures, model.data = ancestor.vendor, list(ancestor.signatures), _copy(ancestor.data)
    sigs = node.findall("signature")
    if sigs:
        model.signatures = []
        for sig in sigs:
            stepping = sig.get("stepping")
            model.signatures.append(
                (int(sig.get("family") or 0), int(sig.get("model") or 0), _steppings(stepping) if stepping else None)
            )
    vendor = node.find("vendor")
    if vendor is not None:
        model.vendor = cpu_map.vendor(vendor.get("name") or "")
        if model.vendor is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Unknown vendor {vendor.get('name')} referenced by CPU model {name}")
    for feat in node.iterfind("feature"):
        fname = feat.get("name") or ""
        feature = cpu_map.feature(fname)
        if feature is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Feature {fname} required by CPU model {name} not found")
        if feat.get("removed") == "yes":
            model.removed.append(fname)
        else:
            _add(model.data, feature.data)
    return model


def _load_map_file(base: str, name: str) -> etree._Element:
    """One file of the CPU map (cpuMapLoad's virXMLParse), its read failure worded as libvirt's."""
    from pyvirt.conf.xmlparse import parse_xml

    path = os.path.join(base, name)
    try:
        with open(path, "rb") as f:
            return parse_xml(f.read(), "cpus", path)
    except OSError as exc:
        raise _err(ErrorCode.INTERNAL_ERROR, f"failed to read CPU map {path}: {os.strerror(exc.errno or 0)}") from None


@functools.cache
def load_map(cpu_map_dir: str | None = None) -> _Map:
    """The x86 section of libvirt's CPU map (cpuMapLoad with x86's vendor/feature/model callbacks), read once."""
    from pyvirt.util.cpu_map import CPU_MAP_DIR

    base = cpu_map_dir or CPU_MAP_DIR

    def load(name: str) -> etree._Element:
        return _load_map_file(base, name)

    cpu_map = _Map()

    def walk(root: etree._Element) -> None:
        for node in root:
            if node.tag == "vendor":
                string = node.get("string") or ""
                if len(string) != 12:
                    raise _err(ErrorCode.INTERNAL_ERROR, f"Invalid CPU vendor string '{string}'")
                raw = string.encode()
                words = [0, int.from_bytes(raw[0:4], "little"), int.from_bytes(raw[8:12], "little"),
                         int.from_bytes(raw[4:8], "little")]  # fmt: skip
                cpu_map.vendors.append(_Vendor(node.get("name") or "", (0, 0, 0), words))
            elif node.tag == "feature":
                name = node.get("name") or ""
                cpu_map.features.append(_Feature(name, _parse_items(node, name), node.get("migratable") != "no"))
            elif node.tag == "model":
                cpu_map._features_by_name.cache_clear()
                cpu_map.models.append(_parse_model(node, cpu_map))
            elif node.tag == "include":
                walk(load(node.get("filename") or ""))

    for arch in load("index.xml").iterfind("arch"):
        if arch.get("name") == "x86":
            walk(arch)
    cpu_map._features_by_name.cache_clear()
    return cpu_map


# --- CPU definitions (virCPUDef) --------------------------------------------------------------------------


@dataclass
class CPUDef:
    """The parts of libvirt's virCPUDef that baseline and comparison read or write."""

    type: str = "guest"  # "host" or "guest"
    mode: str | None = "custom"
    match: str | None = None
    check: str | None = None
    fallback: str = "allow"
    arch: str | None = None
    model: str | None = None
    vendor: str | None = None
    vendor_id: str | None = None
    features: list[tuple[str, int]] = field(default_factory=list)  # (name, policy); policy -1 for a host CPU
    sig: tuple[int, int, int] = (0, 0, 0)
    # what virCPUx86GetHost adds to a host CPU: microcode revision, invariant TSC (Hz, scaling) and address bits
    microcode: int = 0
    tsc: tuple[int, str] | None = None
    phys_addr_bits: int | None = None

    def find(self, name: str) -> int | None:
        return next((i for i, (n, _p) in enumerate(self.features) if n == name), None)

    def add_feature(self, name: str, policy: int, mode: str = "exclusive") -> None:
        """virCPUDefAddFeatureInternal (exclusive / update / new)."""
        if self.type == "host":
            policy = -1
        i = self.find(name)
        if i is not None:
            if mode == "update":
                self.features[i] = (name, policy)
            elif mode == "exclusive":
                raise _err(ErrorCode.INTERNAL_ERROR, f"CPU feature '{name}' specified more than once")
            return
        self.features.append((name, policy))


def parse_cpu(node: etree._Element, cpu_type: str = "auto") -> CPUDef:
    """virCPUDefParseXML for the parts a CPU comparison or baseline reads, with its checks and error wording."""
    if node.tag != "cpu":
        raise _err(ErrorCode.XML_ERROR, "XML does not contain expected 'cpu' element")
    cpu = CPUDef()
    if cpu_type == "auto":
        if node.find("arch") is not None:
            if node.get("match") is not None:
                raise _err(
                    ErrorCode.XML_ERROR, "'arch' element cannot be used inside 'cpu' element with 'match' attribute'"
                )
            cpu.type = "host"
        else:
            cpu.type = "guest"
    else:
        cpu.type = cpu_type
    mode = node.get("mode")
    if mode is not None:
        if cpu.type == "host":
            raise _err(ErrorCode.CONFIG_UNSUPPORTED, "Attribute mode is only allowed for guest CPU")
        if mode not in MODES:
            raise _err(ErrorCode.CONFIG_UNSUPPORTED, f"Invalid mode attribute '{mode}'")
        cpu.mode = mode
    else:
        cpu.mode = None if cpu.type == "host" else "custom"
    if cpu.type == "guest":
        match = node.get("match")
        if match is not None and match not in MATCHES:
            raise _err(ErrorCode.XML_ERROR, f"Invalid value for attribute 'match' in element 'cpu': '{match}'.")
        cpu.match = match
        check = node.get("check")
        if check is not None and check not in CHECKS:
            raise _err(ErrorCode.XML_ERROR, f"Invalid value for attribute 'check' in element 'cpu': '{check}'.")
        cpu.check = check
    if cpu.type == "host":
        arch = node.findtext("arch")
        if not arch:
            raise _err(ErrorCode.XML_ERROR, "Missing CPU architecture")
        from pyvirt.util.cpu_map import ARCHES

        if arch not in ARCHES:
            raise _err(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown architecture {arch}")
        cpu.arch = arch
    model_node = node.find("model")
    cpu.model = model_node.text or None if model_node is not None else None  # virXPathString: "" is NULL
    if cpu.model is None and cpu.type == "host":
        raise _err(ErrorCode.XML_ERROR, "Missing CPU model name")
    if model_node is not None and cpu.type == "guest" and cpu.mode not in ("host-passthrough", "maximum"):
        fallback = model_node.get("fallback")
        if fallback is not None:
            if fallback not in FALLBACKS:
                raise _err(ErrorCode.CONFIG_UNSUPPORTED, "Invalid fallback attribute")
            cpu.fallback = fallback
        vendor_id = model_node.get("vendor_id")
        if vendor_id is not None:
            if len(vendor_id) != 12:
                raise _err(ErrorCode.XML_ERROR, "vendor_id must be exactly 12 characters long")
            if "," in vendor_id:
                raise _err(ErrorCode.XML_ERROR, "vendor id is invalid")
            cpu.vendor_id = vendor_id
    vendor = node.find("vendor")
    cpu.vendor = vendor.text or None if vendor is not None else None
    if cpu.vendor is not None and cpu.model is None:
        raise _err(ErrorCode.XML_ERROR, "CPU vendor specified without CPU model")
    features = node.findall("feature")
    if features and cpu.model is None and cpu.mode == "custom":
        raise _err(ErrorCode.XML_ERROR, "Non-empty feature list specified without CPU model")
    for feat in features:
        policy = -1
        if cpu.type == "guest":
            text = feat.get("policy")
            if text is not None and text not in POLICIES:
                raise _err(ErrorCode.CONFIG_UNSUPPORTED, "Invalid CPU feature policy")
            policy = POLICIES.index(text) if text is not None else REQUIRE
        name = feat.get("name")
        if not name:
            raise _err(ErrorCode.XML_ERROR, "Invalid CPU feature name")
        if cpu.find(name) is not None:
            raise _err(ErrorCode.XML_ERROR, f"CPU feature '{name}' specified more than once")
        cpu.features.append((name, policy))
    return cpu


def _parse_string(xml: str, url: str, validate: bool = False) -> etree._Element:
    """Parse one CPU definition; a document whose root is not ``<cpu>`` gets virCPUDefParseXML's error."""
    from pyvirt.conf.xmlparse import parse_xml

    try:
        node = parse_xml(xml, "cpu", url)
    except _errors.XMLError as exc:
        if exc.code == ErrorCode.XML_ERROR and (exc.detail or "").startswith("expecting root element"):
            raise _err(ErrorCode.XML_ERROR, "XML does not contain expected 'cpu' element") from None
        raise
    if validate:
        _validate(node)
    return node


def _validate(node: etree._Element) -> None:
    """virXMLValidateNodeAgainstSchema with libvirt's cpu.rng."""
    from lxml import etree as _etree

    from pyvirt.conf.schema import SCHEMA_DIR

    path = os.path.join(SCHEMA_DIR, "cpu.rng")
    schema = _etree.RelaxNG(_etree.parse(path))
    if not schema.validate(node):
        detail = f"Unable to validate doc against {path}\n" + "".join(f"{e.message}\n" for e in schema.error_log)
        raise _err(ErrorCode.XML_INVALID_SCHEMA, detail)


def parse_cpu_list(xml_cpus: list[str], cpu_type: str) -> list[CPUDef]:
    """virCPUDefListParse: each string one ``<cpu>``, named "(CPU_definition)" in syntax errors."""
    if not xml_cpus:
        raise _err(ErrorCode.INVALID_ARG, "no CPUs given")
    return [parse_cpu(_parse_string(x, "(CPU_definition)"), cpu_type) for x in xml_cpus]


def format_cpu(cpu: CPUDef) -> str:
    """virCPUDefFormat for a CPU without topology, cache or NUMA (what baseline produces)."""
    attrs = ""
    if cpu.type == "guest" and (cpu.mode != "custom" or cpu.model):
        attrs += f" mode='{cpu.mode}'"
        if cpu.mode == "custom":
            attrs += f" match='{cpu.match or 'exact'}'"
        if cpu.check:
            attrs += f" check='{cpu.check}'"
    lines: list[str] = []
    if cpu.type == "host" and cpu.arch:
        lines.append(f"<arch>{cpu.arch}</arch>")
    from xml.sax.saxutils import escape

    format_model = cpu.mode in ("custom", "host-model") or cpu.type == "host"
    if format_model and (cpu.model or cpu.vendor_id):
        text = "<model"
        if cpu.type == "guest" and cpu.model:
            text += f" fallback='{cpu.fallback}'"
        if cpu.type == "guest" and cpu.vendor_id:
            text += f" vendor_id='{escape(cpu.vendor_id, {chr(39): '&apos;'})}'"
        text += f">{escape(cpu.model)}</model>" if cpu.model else "/>"
        lines.append(text)
    if format_model and cpu.vendor:
        lines.append(f"<vendor>{escape(cpu.vendor)}</vendor>")
    if cpu.type == "host" and cpu.sig[0]:
        lines.append(f"<signature family='{cpu.sig[0]}' model='{cpu.sig[1]}' stepping='{cpu.sig[2]}'/>")
    for name, policy in cpu.features:
        if cpu.type == "guest":
            lines.append(f"<feature policy='{POLICIES[policy]}' name='{name}'/>")
        else:
            lines.append(f"<feature name='{name}'/>")
    if not lines:
        return f"<cpu{attrs}/>\n"
    return f"<cpu{attrs}>\n" + "".join(f"  {line}\n" for line in lines) + "</cpu>\n"


# --- the algorithms ---------------------------------------------------------------------------------------


def _signature_parts(sig: int) -> tuple[int, int, int]:
    """virCPUx86SignatureFromCPUID."""
    return ((sig >> 20) & 0xFF) + ((sig >> 8) & 0xF), ((sig >> 12) & 0xF0) + ((sig >> 4) & 0xF), sig & 0xF


def _model_from_cpu(cpu: CPUDef, cpu_map: _Map, policy: int | None) -> tuple[_Model | None, _Data]:
    """x86ModelFromCPU: the (model, data) of ``cpu``'s features of ``policy``, or of the whole CPU (None)."""
    if cpu.type == "host" and policy not in (REQUIRE, None):
        return None, {}
    model: _Model | None = None
    data: _Data = {}
    if cpu.model and policy in (REQUIRE, None):
        model = cpu_map.model(cpu.model)
        if model is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Unknown CPU model {cpu.model}")
        data = _copy(model.data)
    for name, given in cpu.features:
        fpol = REQUIRE if given == -1 else given
        if (policy is None and fpol == OPTIONAL) or (policy is not None and fpol != policy):
            continue
        feature = cpu_map.feature(name)
        if feature is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Unknown CPU feature {name}")
        if policy is None and fpol in (DISABLE, FORBID):
            _subtract(data, feature.data)
        else:
            _add(data, feature.data)
    return model, data


def _to_features(cpu: CPUDef, policy: int, data: _Data, cpu_map: _Map) -> None:
    """x86DataToCPUFeatures (also takes the features it finds out of ``data``)."""
    for feature in cpu_map.features:
        if _is_subset(data, feature.data):
            _subtract(data, feature.data)
            cpu.add_feature(feature.name, policy)


def _to_vendor(data: _Data, cpu_map: _Map) -> _Vendor | None:
    """x86DataToVendor (also clears the vendor's bits in ``data``)."""
    for vendor in cpu_map.vendors:
        words = data.get(vendor.key)
        if words is not None and _masked(words, vendor.words):
            for i in range(4):
                words[i] &= ~vendor.words[i]
            return vendor
    return None


def _data_to_cpu(data: _Data, model: _Model, cpu_map: _Map, blockers: list[str] | None, cpu_type: str) -> CPUDef:
    """x86DataToCPU."""
    cpu = CPUDef(type="guest", model=model.name)
    copy, model_data = _copy(data), _copy(model.data)
    vendor = _to_vendor(copy, cpu_map)
    if vendor is not None:
        cpu.vendor = vendor.name
    _subtract(copy, model_data)
    _subtract(model_data, data)
    for blocker in blockers or ():
        feature = cpu_map.feature(blocker)
        if feature is not None and not _is_subset(copy, feature.data):
            _add(model_data, feature.data)
    _to_features(cpu, REQUIRE, copy, cpu_map)
    _to_features(cpu, DISABLE, model_data, cpu_map)
    if cpu_type == "guest":
        for name in model.removed:
            cpu.add_feature(name, DISABLE, "new")
    cpu.type = cpu_type
    return cpu


_BASE_PENALTY = 2


def _candidate_better(current: CPUDef, candidate: CPUDef, preferred: bool) -> bool:
    """virCPUx86CompareCandidateFeatureList."""
    cur_n, cand_n = len(current.features), len(candidate.features)
    disabled_cur = disabled = 0
    if candidate.type != "host":

        def weigh(cpu: CPUDef) -> tuple[int, int]:
            enabled, dis, penalty = len(cpu.features), 0, _BASE_PENALTY
            # libvirt walks the first `enabled` entries while shrinking `enabled`: reproduce the same bound
            i = 0
            while i < enabled:
                if cpu.features[i][1] == DISABLE:
                    enabled -= 1
                    dis += penalty
                    penalty += 1
                i += 1
            return enabled + dis, dis

        cur_n, disabled_cur = weigh(current)
        cand_n, disabled = weigh(candidate)
    if cand_n < cur_n or (cand_n == cur_n and disabled < disabled_cur):
        return True
    return preferred and disabled < disabled_cur


def _use_candidate(
    current: _Model | None,
    cpu_current: CPUDef | None,
    candidate: _Model,
    cpu_candidate: CPUDef,
    signature: int,
    preferred: list[str] | None,
) -> int:
    """x86DecodeUseCandidate: 0 keep the current, 1 take the candidate, 2 take it and stop."""
    if cpu_candidate.type == "host" and not candidate.decode_host:
        return 0
    if cpu_candidate.type == "guest" and not candidate.decode_guest:
        return 0
    if cpu_candidate.type == "host":
        if any(p == DISABLE for _n, p in cpu_candidate.features):
            return 0
        cpu_candidate.features = [(n, -1) for n, _p in cpu_candidate.features]
    is_preferred = False
    if preferred:
        is_preferred = cpu_candidate.model in preferred
        if is_preferred and len(preferred) == 1:
            return 2
    if cpu_current is None or current is None:
        return 1
    if signature:
        if current.matches(signature) and not candidate.matches(signature):
            return 0
        if not current.matches(signature) and candidate.matches(signature):
            return 1
    return 1 if _candidate_better(cpu_current, cpu_candidate, is_preferred) else 0


def _decode(
    cpu: CPUDef,
    data_in: _Data,
    models: dict[str, list[str]] | None,
    preferred: list[str] | None,
    migratable: bool,
    cpu_map: _Map,
) -> None:
    """x86Decode: the model and features best describing ``data_in``, written into ``cpu``.

    ``models``: the models a hypervisor offers, each with its blockers (virDomainCapsCPUModels), or None for all.
    """
    data = _copy(data_in)
    vendor = _to_vendor(data, cpu_map)
    leaf1 = data.get((0, 1, 0))
    signature = (leaf1[0] & 0x0FFF3FFF) if leaf1 else 0
    family, model_no, stepping = _signature_parts(signature)
    if vendor is not None and vendor.name == "Intel":  # x86DataFilterTSX
        full = _signature_parts(leaf1[0]) if leaf1 else (0, 0, 0)
        if full[0] == 6 and ((full[1] == 63 and full[2] < 4) or full[1] in (60, 69, 70)):
            for broken in ("hle", "rtm"):
                feature = cpu_map.feature(broken)
                if feature is not None:
                    _subtract(data, feature.data)
    if preferred is not None and not preferred:
        preferred = None
    best: _Model | None = None
    best_cpu: CPUDef | None = None
    for candidate in reversed(cpu_map.models):
        blockers: list[str] | None = None
        if models is not None:
            if candidate.name not in models:
                if preferred and len(preferred) == 1 and candidate.name == preferred[0] and cpu.fallback != "allow":
                    raise _err(ErrorCode.CONFIG_UNSUPPORTED, f"CPU model {preferred[0]} is not supported by hypervisor")
                continue
            blockers = models[candidate.name]
        if vendor is not None and candidate.vendor is not None and vendor is not candidate.vendor:
            continue
        cpu_candidate = _data_to_cpu(data, candidate, cpu_map, blockers, cpu.type)
        rc = _use_candidate(best, best_cpu, candidate, cpu_candidate, signature, preferred)
        if rc:
            best, best_cpu = candidate, cpu_candidate
            if rc == 2:
                break
    if best_cpu is None:
        raise _err(ErrorCode.INTERNAL_ERROR, "Cannot find suitable CPU model for given data")
    if migratable:
        blocked = {f.name for f in cpu_map.features if not f.migratable}
        best_cpu.features = [(n, p) for n, p in best_cpu.features if n not in blocked]
    if vendor is not None:
        cpu.vendor = vendor.name
    cpu.model = best_cpu.model
    cpu.features = best_cpu.features
    cpu.sig = (family, model_no, stepping)


def _driver_arch(arch: str | None, what: str) -> None:
    """cpuGetSubDriver, for the x86 driver this module is; other architectures' drivers are not implemented here."""
    from pyvirt.util.cpu_map import _DRIVERS

    if arch is None:
        raise _err(ErrorCode.INTERNAL_ERROR, "undefined hardware architecture")
    if arch not in _DRIVERS:
        raise _err(ErrorCode.NO_SUPPORT, f"'{arch}' architecture is not supported by CPU driver")
    if arch not in X86_ARCHES:
        raise _err(ErrorCode.NO_SUPPORT, f"cannot {what} of {arch} architecture")


_PPC64_ARCHES = ("ppc64", "ppc64le")
_ARM_ARCHES = ("armv6l", "armv7l", "armv7b", "aarch64")


@functools.cache
def _ppc64_map() -> tuple[frozenset[str], dict[str, str | None]]:
    """The ppc64 section of the CPU map: vendor names, and each model's vendor (virCPUppc64LoadMap)."""
    from pyvirt.util.cpu_map import CPU_MAP_DIR

    def load(name: str) -> etree._Element:
        return _load_map_file(CPU_MAP_DIR, name)

    vendors: set[str] = set()
    models: dict[str, str | None] = {}
    for arch in load("index.xml").iterfind("arch"):
        if arch.get("name") != "ppc64":
            continue
        for include in arch.iterfind("include"):
            for node in load(include.get("filename") or ""):
                if node.tag == "vendor":
                    vendors.add(node.get("name") or "")
                elif node.tag == "model":
                    vendor = node.find("vendor")
                    models[node.get("name") or ""] = vendor.get("name") if vendor is not None else None
    return frozenset(vendors), models


def _ppc64_baseline(cpus: list[CPUDef]) -> CPUDef:
    """virCPUppc64Baseline: every CPU must name the same model (compared by name), vendors must agree."""
    vendors, models = _ppc64_map()
    name = cpus[0].model or ""
    if name not in models:
        raise _err(ErrorCode.INTERNAL_ERROR, f"Unknown CPU model {name}")
    model_vendor = models[name]
    vendor: str | None = None
    for cpu in cpus:
        if cpu.model != name:
            raise _err(ErrorCode.OPERATION_FAILED, "CPUs are incompatible")
        if cpu.vendor is None:
            continue
        if cpu.vendor not in vendors:
            raise _err(ErrorCode.OPERATION_FAILED, f"Unknown CPU vendor {cpu.vendor}")
        if model_vendor is not None:
            if model_vendor != cpu.vendor:
                raise _err(
                    ErrorCode.OPERATION_FAILED,
                    f"CPU vendor {model_vendor} of model {name} differs from vendor {cpu.vendor}",
                )
        elif vendor is not None:
            if vendor != cpu.vendor:
                raise _err(ErrorCode.OPERATION_FAILED, "CPU vendors do not match")
        else:
            vendor = cpu.vendor
    return CPUDef(type="guest", mode="custom", match="exact", fallback="forbid", model=name, vendor=vendor)


def baseline(
    cpus: list[CPUDef],
    arch: str | None = None,
    models: dict[str, list[str]] | None = None,
    features: list[str] | None = None,
    migratable: bool = False,
) -> CPUDef:
    """virCPUBaseline + virCPUx86Baseline: the richest guest CPU every one of ``cpus`` can run.

    ``models`` limits the result to a hypervisor's models (name -> blockers); ``features`` to those features.
    """
    if not cpus:
        raise _err(ErrorCode.INVALID_ARG, "no CPUs given")
    for i, cpu in enumerate(cpus):
        if not cpu.model:
            raise _err(ErrorCode.INVALID_ARG, f"no CPU model specified at index {i}")
    arch = arch or cpus[0].arch
    if arch in _PPC64_ARCHES:
        return _ppc64_baseline(cpus)
    if arch in _ARM_ARCHES:  # virCPUarmBaseline: the first CPU's model, nothing compared
        return CPUDef(type="guest", mode="custom", match="exact", model=cpus[0].model)
    _driver_arch(arch, "compute baseline CPU")
    cpu_map = load_map()
    _model, base = _model_from_cpu(cpus[0], cpu_map, None)
    out = CPUDef(type="guest", mode="custom", match="exact")
    output_vendor = cpus[0].vendor is not None
    vendor: _Vendor | None = None
    if cpus[0].vendor is not None:
        vendor = cpu_map.vendor(cpus[0].vendor)
        if vendor is None:
            raise _err(ErrorCode.OPERATION_FAILED, f"Unknown CPU vendor {cpus[0].vendor}")
    names = [cpus[0].model] if cpus[0].model else []
    for cpu in cpus[1:]:
        if cpu.model and cpu.model not in names:
            names.append(cpu.model)
        model, data = _model_from_cpu(cpu, cpu_map, None)
        model_vendor = model.vendor if model is not None else None
        if cpu.vendor is not None and model_vendor is not None and cpu.vendor != model_vendor.name:
            raise _err(
                ErrorCode.OPERATION_FAILED,
                f"CPU vendor {model_vendor.name} of model {cpu.model} differs from vendor {cpu.vendor}",
            )
        vn: str | None
        if cpu.vendor is not None:
            vn = cpu.vendor
        else:
            output_vendor = False
            vn = model_vendor.name if model_vendor is not None else None
        if vn is not None:
            if vendor is None:
                vendor = cpu_map.vendor(vn)
                if vendor is None:
                    raise _err(ErrorCode.OPERATION_FAILED, f"Unknown CPU vendor {vn}")
            elif vendor.name != vn:
                raise _err(ErrorCode.OPERATION_FAILED, "CPU vendors do not match")
        _intersect(base, data)
    if features is not None:
        allowed: _Data = {}
        for name in features:
            feature = cpu_map.feature(name)
            if feature is not None:
                _add(allowed, feature.data)
        _intersect(base, allowed)
    if _is_empty(base):
        raise _err(ErrorCode.OPERATION_FAILED, "CPUs are incompatible")
    if vendor is not None:
        _add(base, vendor.data())
    _decode(out, base, models, names, migratable, cpu_map)
    if len(names) == 1 and out.model == names[0]:
        out.fallback = "forbid"
    if not output_vendor:
        out.vendor = None
    return out


def expand_features(cpu: CPUDef, arch: str | None) -> None:
    """virCPUExpandFeatures (virCPUx86ExpandFeatures): list every feature the model has, sorted by name."""
    from pyvirt.util.cpu_map import _DRIVERS

    if arch is None:
        raise _err(ErrorCode.INTERNAL_ERROR, "undefined hardware architecture")
    if arch not in _DRIVERS:
        raise _err(ErrorCode.NO_SUPPORT, f"'{arch}' architecture is not supported by CPU driver")
    if arch in X86_ARCHES:
        cpu_map = load_map()
        host = cpu.type == "host"
        model = cpu_map.model(cpu.model or "")
        if model is None:
            raise _err(ErrorCode.INTERNAL_ERROR, f"unknown CPU model {cpu.model}")
        expanded = CPUDef(type=cpu.type)
        _to_features(expanded, -1 if host else REQUIRE, _copy(model.data), cpu_map)
        for name, policy in cpu.features:
            if not host and policy not in (REQUIRE, DISABLE):
                continue
            expanded.add_feature(name, policy, "update")
        if not host:
            for name in model.removed:
                expanded.add_feature(name, DISABLE, "new")
        cpu.features = expanded.features
    cpu.features.sort(key=lambda f: f[0].encode())


def _feature_names(cpu_map: _Map, data: _Data) -> str:
    """x86FeatureNames with ", "."""
    return ", ".join(f.name for f in cpu_map.features if _is_subset(data, f.data))


def _compute(host: CPUDef, cpu: CPUDef) -> tuple[int, str | None]:
    """x86Compute: (result, why incompatible)."""
    if cpu.arch is not None and cpu.arch not in X86_ARCHES:
        return COMPARE_INCOMPATIBLE, f"CPU arch {cpu.arch} does not match host arch"
    if cpu.vendor is not None and (host.vendor is None or cpu.vendor != host.vendor):
        return COMPARE_INCOMPATIBLE, f"host CPU vendor does not match required CPU vendor {cpu.vendor}"
    cpu_map = load_map()
    host_data = _model_from_cpu(host, cpu_map, None)[1]
    force = _model_from_cpu(cpu, cpu_map, FORCE)[1]
    require = _model_from_cpu(cpu, cpu_map, REQUIRE)[1]
    optional = _model_from_cpu(cpu, cpu_map, OPTIONAL)[1]
    disable = _model_from_cpu(cpu, cpu_map, DISABLE)[1]
    forbid = _model_from_cpu(cpu, cpu_map, FORBID)[1]
    _intersect(forbid, host_data)
    if not _is_empty(forbid):
        return COMPARE_INCOMPATIBLE, f"Host CPU provides forbidden features: {_feature_names(cpu_map, forbid)}"
    _subtract(require, force)
    _subtract(require, optional)
    _subtract(require, disable)
    result = _model_compare(host_data, require)
    if result in ("subset", "unrelated"):
        _subtract(require, host_data)
        return COMPARE_INCOMPATIBLE, f"Host CPU does not provide required features: {_feature_names(cpu_map, require)}"
    diff = _copy(host_data)
    for other in (optional, require, disable, force):
        _subtract(diff, other)
    ret = COMPARE_IDENTICAL if _is_empty(diff) else COMPARE_SUPERSET
    if ret == COMPARE_SUPERSET and cpu.type == "guest" and cpu.match == "strict":
        return COMPARE_INCOMPATIBLE, (
            f"Host CPU does not strictly match guest CPU: Extra features: {_feature_names(cpu_map, diff)}"
        )
    return ret, None


def _model_compare(data1: _Data, data2: _Data) -> str:
    """x86ModelCompare: "equal", "superset" (data1 has more), "subset" or "unrelated"."""
    result = "equal"
    for mine, theirs, more, less in ((data1, data2, "superset", "subset"), (data2, data1, "subset", "superset")):
        for key, words in _nonzero(mine):
            match = more
            other = theirs.get(key)
            if other is not None:
                if words == other:
                    continue
                if not _masked(words, other):
                    match = less
            if result == "equal":
                result = match
            elif result != match:
                return "unrelated"
    return result


def compare(host: CPUDef | None, cpu: CPUDef, arch: str | None, fail_incompatible: bool) -> int:
    """virCPUCompare + virCPUx86Compare: how ``cpu`` relates to ``host`` (COMPARE_*).

    :raises Error: CPU_INCOMPATIBLE with libvirt's reason when ``fail_incompatible`` and the CPUs are incompatible.
    """
    _driver_arch(arch, "compare CPUs")
    if host is None or not host.model:
        if fail_incompatible:
            raise _err(ErrorCode.CPU_INCOMPATIBLE, "unknown host CPU")
        return COMPARE_INCOMPATIBLE
    result, message = _compute(host, cpu)
    if result == COMPARE_INCOMPATIBLE and fail_incompatible:
        raise _err(ErrorCode.CPU_INCOMPATIBLE, message)
    return result


def compare_xml(host: CPUDef | None, xml: str, arch: str | None, fail_incompatible: bool, validate: bool) -> int:
    """virCPUCompareXML: parse ``xml`` (a host CPU when it names an ``<arch>``, else a guest CPU) and compare."""
    cpu = parse_cpu(_parse_string(xml, "(CPU_definition)", validate), "auto")
    return compare(host, cpu, arch, fail_incompatible)


def baseline_xml(xml_cpus: list[str], expand: bool, migratable: bool, drop: frozenset[str] = frozenset()) -> str:
    """What testConnectBaselineCPU / qemuConnectBaselineCPU return: the baseline of host CPUs as XML.

    ``drop``: features the driver filters out of the result (qemu's virQEMUCapsCPUFilterFeatures).
    """
    cpus = parse_cpu_list(xml_cpus, "host")
    cpu = baseline(cpus, None, None, None, migratable)
    if drop and cpus[0].arch in X86_ARCHES:
        cpu.features = [(n, p) for n, p in cpu.features if n not in drop]
    if expand:
        expand_features(cpu, cpus[0].arch)
    return format_cpu(cpu)


# --- a hypervisor's expansion of its host CPU (virQEMUCapsGetCPUModelX86Data + cpuDecode) -----------------


def _make_signature(family: int, model: int, stepping: int) -> int:
    """x86MakeSignature: CPUID leaf 1's eax for a family/model/stepping."""
    sig = (0xF << 8) | ((family - 0xF) << 20) if family > 0xF else family << 8
    return sig | ((model & 0xF) << 4) | ((model >> 4) << 16) | (stepping & 0xF)


def decode_hypervisor_cpu(
    features: list[str], vendor: str | None, signature: tuple[int, int, int], models: dict[str, list[str]] | None
) -> CPUDef:
    """The named CPU libvirt makes of a hypervisor's description of its host CPU (QEMU's expansion of
    ``host`` or ``max``): virQEMUCapsGetCPUModelX86Data then cpuDecode, as virQEMUCapsInitCPUModelX86 does.

    ``features``: the enabled features, libvirt's names (unknown ones are ignored, as virCPUx86DataAddFeature
    does); ``vendor``: CPUID's 12-character vendor string; ``models``: the models the hypervisor offers, each
    with the features blocking it (libvirt's names). The result is the guest CPU ``host-model`` reports:
    ``fallback='forbid'``, the host's extra features required and the model's missing ones disabled.
    """
    cpu_map = load_map()
    data: _Data = {}
    for name in features:
        feature = cpu_map.feature(name)
        if feature is not None:
            _add(data, feature.data)
    if vendor is not None:  # virCPUx86DataSetVendor
        if len(vendor) != 12:
            raise _err(ErrorCode.INTERNAL_ERROR, f"Invalid CPU vendor string '{vendor}'")
        raw = vendor.encode()
        _add(data, {(0, 0, 0): [0, int.from_bytes(raw[0:4], "little"), int.from_bytes(raw[8:12], "little"),
                                int.from_bytes(raw[4:8], "little")]})  # fmt: skip
    _add(data, {(0, 1, 0): [_make_signature(*signature), 0, 0, 0]})  # virCPUx86DataSetSignature
    cpu = CPUDef(type="guest", mode="custom", match="exact")
    _decode(cpu, data, models, None, False, cpu_map)
    cpu.fallback = "forbid"
    return cpu


def model_vendors() -> dict[str, str | None]:
    """virCPUGetModels with virCPUGetVendorForModel: every model of the map (map order) and its vendor's name."""
    return {m.name: m.vendor.name if m.vendor is not None else None for m in load_map().models}


# --- the host's own CPU (virCPUx86GetHost) ----------------------------------------------------------------

_CPUID_DEVICE = "/dev/cpu/0/cpuid"  # the kernel's cpuid driver: pread at (ecx_in << 32 | eax_in) gives the leaf
_MSR_DEVICE = "/dev/cpu/0/msr"
_KVM_DEVICE = "/dev/kvm"
_KVM_GET_MSRS = 0xC008AE88  # _IOWR(KVMIO, 0x88, struct kvm_msrs)
_IA32_ARCH_CAPABILITIES = 0x10A


def _cpuid_reader() -> tuple[int, object]:
    fd = os.open(_CPUID_DEVICE, os.O_RDONLY | os.O_CLOEXEC)

    def call(eax_in: int, ecx_in: int) -> list[int]:
        raw = os.pread(fd, 16, (ecx_in << 32) | eax_in)
        return [int.from_bytes(raw[i : i + 4], "little") for i in range(0, 16, 4)]

    return fd, call


def _cpuid_set(base: int, data: _Data, call: object) -> None:
    """cpuidSet: every leaf from ``base`` to its maximum, with the sub-leaves libvirt walks for 4, 7, 0xb, ..."""
    from collections.abc import Callable

    cpuid: Callable[[int, int], list[int]] = call  # type: ignore[assignment]

    def put(leaf: int, sub: int, words: list[int]) -> None:
        _add(data, {(0, leaf, sub): list(words)})

    top = cpuid(base, 0)[0]
    for leaf in range(base, top + 1):
        words = cpuid(leaf, 0)
        if leaf == 0x4:  # sub-leaf n+1 is invalid once eax[4:0] of n is 0
            put(leaf, 0, words)
            sub = 0
            while words[0] & 0x1F:
                sub += 1
                words = cpuid(leaf, sub)
                put(leaf, sub, words)
        elif leaf in (0x7, 0x14):  # sub-leaves up to eax of sub-leaf 0
            put(leaf, 0, words)
            for sub in range(1, words[0] + 1):
                put(leaf, sub, cpuid(leaf, sub))
        elif leaf == 0xB:  # valid while ecx[15:8] is not 0
            sub = 0
            while words[2] & 0xFF00:
                put(leaf, sub, words)
                sub += 1
                words = cpuid(leaf, sub)
        elif leaf == 0xD:
            put(leaf, 0, words)
            sub1 = cpuid(leaf, 1)
            put(leaf, 1, sub1)
            for sub in range(2, 64):
                if sub < 32 and not (words[0] >> sub) & 1 and not (sub1[2] >> sub) & 1:
                    continue
                if sub >= 32 and not (words[3] >> (sub - 32)) & 1 and not (sub1[3] >> (sub - 32)) & 1:
                    continue
                put(leaf, sub, cpuid(leaf, sub))
        elif leaf in (0xF, 0x10):  # resource ids: edx (0xf) or ebx (0x10) of sub-leaf 0
            put(leaf, 0, words)
            res = words[3] if leaf == 0xF else words[1]
            for sub in range(1, 32):
                if (res >> sub) & 1:
                    put(leaf, sub, cpuid(leaf, sub))
        elif leaf == 0x12:  # SGX: only when leaf 7 says so
            leaf7 = data.get((0, 7, 0))
            if leaf7 is None or not leaf7[1] & (1 << 2):
                continue
            put(leaf, 0, words)
            put(leaf, 1, cpuid(leaf, 1))
            sub = 2
            words = cpuid(leaf, sub)
            while words[0] & 0xF:
                put(leaf, sub, words)
                sub += 1
                words = cpuid(leaf, sub)
        elif leaf == 0x17:
            if words[0] < 3:
                continue
            put(leaf, 0, words)
            for sub in range(1, words[0] + 1):
                put(leaf, sub, cpuid(leaf, sub))
        else:
            put(leaf, 0, words)


def _read_msr(index: int) -> int | None:
    """virHostCPUGetMSR: the MSR driver's device, else KVM's feature MSRs (KVM_GET_MSRS on /dev/kvm)."""
    try:
        fd = os.open(_MSR_DEVICE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            raw = os.pread(fd, 8, index)
            if len(raw) == 8:
                return int.from_bytes(raw, "little")
        except OSError:
            return None
        finally:
            os.close(fd)
    import fcntl

    try:
        kvm = os.open(_KVM_DEVICE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        buf = bytearray(8 + 16)  # struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index, rsv; u64 data } }
        buf[0:4] = (1).to_bytes(4, "little")
        buf[8:12] = index.to_bytes(4, "little")
        try:
            fcntl.ioctl(kvm, _KVM_GET_MSRS, buf)
        except OSError:
            return None
        return int.from_bytes(buf[16:24], "little")
    finally:
        os.close(kvm)


def host_cpu() -> CPUDef | None:
    """virCPUProbeHost for x86: the host CPU as libvirt's capabilities name it (model, vendor, features).

    CPUID comes from the kernel's cpuid driver (libvirt executes the instruction itself; the values are the
    same). None when the driver's device is absent: libvirt's callers then treat the host CPU as unknown.
    """
    if os.uname().machine not in X86_ARCHES:
        return None
    try:
        fd, call = _cpuid_reader()
    except OSError:
        return None
    data: _Data = {}
    try:
        _cpuid_set(0, data, call)
        _cpuid_set(0x80000000, data, call)
    finally:
        os.close(fd)
    cpu_map = load_map()
    arch_caps = cpu_map.feature("arch-capabilities")
    if arch_caps is not None and _is_subset(data, arch_caps.data):
        msr = _read_msr(_IA32_ARCH_CAPABILITIES)
        if msr is not None:
            _add(data, {(1, _IA32_ARCH_CAPABILITIES, 0): [msr & 0xFFFFFFFF, 0, 0, msr >> 32]})
    cpu = CPUDef(type="host", mode=None, arch=os.uname().machine)
    _decode(cpu, data, None, None, False, cpu_map)
    cpuinfo = _read_cpuinfo_header()
    cpu.microcode = _microcode_version(cpuinfo)
    invtsc = cpu_map.feature("invtsc")
    if invtsc is not None and _is_subset(data, invtsc.data):  # only an invariant TSC has a frequency worth naming
        cpu.tsc = _tsc_info()
    cpu.phys_addr_bits = _phys_addr_bits()
    return cpu


def _read_cpuinfo_header() -> str:
    """The first 4 KiB of /proc/cpuinfo: what virHostCPUGetMicrocodeVersion reads (virFileReadHeaderQuiet)."""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            return f.read(4096).decode("ascii", "replace")
    except OSError:
        return ""


def _strtoul0(text: str) -> int | None:
    """strtoul(text, &end, 0) as virStrToLong_ui with an end pointer: leading blanks, 0x/0 prefixes, any tail."""
    m = re.match(r"\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if m is None:
        return None
    word = m.group(1)
    value = int(word, 16) if word[:2].lower() == "0x" else int(word, 8) if word.startswith("0") else int(word)
    return value if value <= 0xFFFFFFFF else None


def _microcode_version(cpuinfo: str) -> int:
    """virHostCPUGetMicrocodeVersion: the number after the first "microcode" line's colon, 0 when absent."""
    at = cpuinfo.find("microcode")
    colon = cpuinfo.find(":", at) if at >= 0 else -1
    if colon < 0:
        return 0
    return _strtoul0(cpuinfo[colon + 1 :]) or 0


def _phys_addr_bits() -> int | None:
    """virHostCPUParsePhysAddrSize: "address sizes : N bits physical" of /proc/cpuinfo, None when unreadable."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("address sizes"):
                    m = re.match(r"\s*(\d+) bits physical", line.partition(":")[2])
                    return int(m.group(1)) if m else None
    except OSError:
        return None
    return None


_KVM_CREATE_VM = 0xAE01  # _IO(KVMIO, 0x01)
_KVM_CHECK_EXTENSION = 0xAE03  # _IO(KVMIO, 0x03)
_KVM_CREATE_VCPU = 0xAE41  # _IO(KVMIO, 0x41)
_KVM_GET_TSC_KHZ = 0xAEA3  # _IO(KVMIO, 0xa3)
_KVM_CAP_TSC_CONTROL = 60


def _tsc_info() -> tuple[int, str] | None:
    """virHostCPUGetTscInfo: the TSC frequency a fresh KVM vCPU reports, and whether KVM can scale it.

    None where KVM is unusable: libvirt then leaves ``<counter>`` out.
    """
    import fcntl

    fds: list[int] = []
    try:
        fds.append(os.open(_KVM_DEVICE, os.O_RDONLY | os.O_CLOEXEC))
        fds.append(fcntl.ioctl(fds[0], _KVM_CREATE_VM, 0))
        fds.append(fcntl.ioctl(fds[1], _KVM_CREATE_VCPU, 0))
        khz = fcntl.ioctl(fds[2], _KVM_GET_TSC_KHZ, 0)
        scaling = fcntl.ioctl(fds[0], _KVM_CHECK_EXTENSION, _KVM_CAP_TSC_CONTROL)
    except OSError:
        return None
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return khz * 1000, "yes" if scaling else "no"
