"""The host-model CPU of a capability set from libvirt's data, chosen by libvirt's rules over its CPU map.

A small map written here makes each rule visible: the host's signature first, then the
fewest changes with removals costing more, QEMU's blockers and the model's removed
features disabled, non-migratable and unknown flags ignored, QEMU's spellings read.
"""

from __future__ import annotations

from pathlib import Path

from pyvirt_qemu.cpu_map import HostCpuProperty, decode_host_model, load_cpu_map
from pyvirt_qemu.emulator_caps import from_libvirt_cache

FEATURES = """<cpus>
  <feature name='fpu'><cpuid eax_in='0x01' edx='0x00000001'/></feature>
  <feature name='vme'><cpuid eax_in='0x01' edx='0x00000002'/></feature>
  <feature name='de'><cpuid eax_in='0x01' edx='0x00000004'/></feature>
  <feature name='lahf_lm'><alias name='lahf-lm' source='qemu'/><cpuid eax_in='0x80000001' ecx='0x00000001'/></feature>
  <feature name='arch-capabilities'><cpuid eax_in='0x07' ecx_in='0x00' edx='0x20000000'/></feature>
  <feature name='rdctl-no'><msr index='0x10a' edx='0x00000000' eax='0x00000001'/></feature>
</cpus>"""


def _model(name: str, features: list[str], signature: str = "family='6' model='1'", extra: str = "") -> str:
    feats = "".join(f"<feature name='{f}'/>" for f in features)
    return (f"<cpus><model name='{name}'><decode host='on' guest='on'/><signature {signature}/>"
            f"<vendor name='Intel'/>{feats}{extra}</model></cpus>")  # fmt: skip


def _map(tmp_path: Path, models: dict[str, str]) -> str:
    (tmp_path / "x86_vendors.xml").write_text("<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>")
    (tmp_path / "x86_features.xml").write_text(FEATURES)
    includes = "".join(f"<include filename='x86_{n}.xml'/>" for n in models)
    for name, text in models.items():
        (tmp_path / f"x86_{name}.xml").write_text(text)
    (tmp_path / "index.xml").write_text(f"<cpus><arch name='x86'><include filename='x86_vendors.xml'/>"
                                        f"<include filename='x86_features.xml'/>{includes}</arch></cpus>")  # fmt: skip
    return str(tmp_path)


def _host(*flags: str, family: int = 6, model: int = 1, **more: bool | None) -> list[HostCpuProperty]:
    props = [HostCpuProperty("vendor", "string", "GenuineIntel"), HostCpuProperty("family", "number", str(family)),
             HostCpuProperty("model", "number", str(model))]  # fmt: skip
    props += [HostCpuProperty(f, "boolean", "true") for f in flags]
    props += [HostCpuProperty(f, "boolean", "true", migratable) for f, migratable in more.items()]
    return props


def test_fewest_changes_win_and_removals_cost_more(tmp_path: Path) -> None:
    cpu_map = load_cpu_map(_map(tmp_path, {"Small": _model("Small", ["fpu"]),
                                           "Big": _model("Big", ["fpu", "vme", "de", "lahf_lm"])}))  # fmt: skip
    offered: dict[str, list[str]] = {"Small": [], "Big": []}
    # fpu+vme+de: Small needs two additions (cost 2), Big one removal (cost 2): a tie goes to fewer removals
    host = decode_host_model(cpu_map, _host("fpu", "vme", "de"), offered)
    assert host is not None and (host.model, host.features) == ("Small", [("require", "vme"), ("require", "de")])
    # with lahf-lm (QEMU's spelling) too, Big needs nothing and Small three additions
    host = decode_host_model(cpu_map, _host("fpu", "vme", "de", "lahf-lm"), offered)
    assert host is not None and (host.model, host.features, host.vendor) == ("Big", [], "Intel")


def test_the_hosts_signature_wins_over_fewer_changes(tmp_path: Path) -> None:
    cpu_map = load_cpu_map(_map(tmp_path, {"Mine": _model("Mine", ["fpu"], "family='6' model='85'"),
                                           "Other": _model("Other", ["fpu", "vme"])}))  # fmt: skip
    host = decode_host_model(cpu_map, _host("fpu", "vme", model=85), {"Mine": [], "Other": []})
    assert host is not None and (host.model, host.features) == ("Mine", [("require", "vme")])
    host = decode_host_model(cpu_map, _host("fpu", "vme", model=86), {"Mine": [], "Other": []})
    assert host is not None and host.model == "Other"
    assert decode_host_model(cpu_map, _host("fpu", model=85), {"Other": []}) is not None  # only offered models
    assert decode_host_model(cpu_map, _host("fpu"), {}) is None


def test_blockers_and_removed_features_are_disabled_unmigratable_ones_left_out(tmp_path: Path) -> None:
    cpu_map = load_cpu_map(
        _map(tmp_path, {"M": _model("M", ["fpu", "vme"], extra="<feature name='de' removed='yes'/>")})
    )
    host = decode_host_model(cpu_map, _host("fpu", "vme", "no-such-flag", **{"rdctl-no": True, "lahf-lm": False}),
                             {"M": ["arch-capabilities"]})  # fmt: skip
    assert host is not None and host.features == [("require", "rdctl-no"), ("disable", "arch-capabilities"),
                                                  ("disable", "de")]  # fmt: skip


def test_a_libvirt_caps_file_names_a_model_it_offers(tmp_path: Path) -> None:
    """From libvirt's cache format, with the map: the <hostCPU> becomes a model of the file's own CPU list."""
    cpu_map = _map(tmp_path, {"M": _model("M", ["fpu"])})
    text = """<qemuCaps><emulator>/usr/bin/qemu-system-x86_64</emulator><version>7002000</version><arch>x86_64</arch>
      <hostCPU type='kvm' model='base' migratability='yes'>
        <property name='vendor' type='string' value='GenuineIntel'/>
        <property name='fpu' type='boolean' value='true' migratable='yes'/>
        <property name='vme' type='boolean' value='true' migratable='no'/>
      </hostCPU>
      <cpu type='kvm' name='M' typename='M-x86_64-cpu' usable='yes'/></qemuCaps>"""
    caps = from_libvirt_cache(text, cpu_map_dir=cpu_map)
    host = caps.cpu_host_model()
    assert host is not None and (host.model, host.features) == ("M", [])
    assert from_libvirt_cache(text).cpu_host_model() is None  # without the map: not known
