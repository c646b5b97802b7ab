"""domcapabilities' host-model CPU from QEMU's expansion of the host CPU, against libvirt's own test data.

libvirt's qemucapabilitiesdata (caps_<version>.x86_64.xml) records what each QEMU said: its static
expansion of ``host`` (KVM) and ``max`` (TCG) with each feature's migratability (``<hostCPU>``), and its
CPU models with their blockers. domaincapsdata (qemu_<version>.x86_64.xml, and -tcg) holds the
``<mode name='host-model'>`` libvirt reports from them (virQEMUCapsInitHostCPUModel, REPORTED). The same
properties run through pyvirt-qemu's decoding (pyvirt.util.cpu_x86 and libvirt's installed CPU map) must
give the same model, vendor and feature list in the same order. The corpus comes from libvirt 9.0.0's
source, fetched at test time and never committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pyvirt_qemu.emulator_caps import host_model_from_props

from pyvirt.testing.sources import libvirt_source

_VERSIONS = ("4.2.0", "5.0.0", "5.1.0", "5.2.0", "6.0.0", "6.1.0", "6.2.0", "7.0.0", "7.1.0", "7.2.0", "8.0.0")


def _value(prop: Any) -> Any:
    kind, text = prop.get("type"), str(prop.get("value"))
    return text == "true" if kind == "boolean" else int(text) if kind == "number" else text


@pytest.mark.parametrize("accel", ["kvm", "tcg"])
@pytest.mark.parametrize("version", _VERSIONS)
def test_host_model_as_libvirt_reports_it(version: str, accel: str) -> None:
    src = libvirt_source()
    if src is None:
        pytest.skip("needs libvirt 9.0.0's source (tools/fetch-libvirt-source)")
    tests = Path(src) / "tests"
    caps = etree.parse(str(tests / "qemucapabilitiesdata" / f"caps_{version}.x86_64.xml")).getroot()
    host = next(h for h in caps.iterfind("hostCPU") if h.get("type") == accel)
    props = [[p.get("name"), _value(p), {"yes": True, "no": False}.get(p.get("migratable", ""))]
             for p in host.iterfind("property")]  # fmt: skip
    blockers = {str(c.get("name")): [str(b.get("name")) for b in c.iterfind("blocker")]
                for c in caps.iterfind("cpu") if c.get("type") == accel}  # fmt: skip
    suffix = "" if accel == "kvm" else "-tcg"
    expected = etree.parse(str(tests / "domaincapsdata" / f"qemu_{version}{suffix}.x86_64.xml")).getroot()
    mode = expected.find("cpu/mode[@name='host-model']")
    assert mode is not None and mode.get("supported") == "yes"
    found = host_model_from_props(props, blockers, migratable=False)
    assert found is not None
    assert found.model == mode.findtext("model")
    assert found.vendor == mode.findtext("vendor")
    assert found.features == [(f.get("policy"), f.get("name")) for f in mode.iterfind("feature")]
