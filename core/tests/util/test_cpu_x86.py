"""pyvirt.util.cpu_x86 against libvirt's own CPU test corpus (tests/cputest.c), run the way cputest runs it.

The corpus (tests/cputestdata/x86_64-*.xml) comes from libvirt 9.0.0's source,
fetched at test time and never committed. Each DO_TEST_BASELINE line: the
``<cpuTest>`` file's host CPUs -> virCPUBaseline (MIGRATABLE, EXPAND_FEATURES as
flagged) -> virCPUDefFormat, equal to the -result/-expanded/-migratable file, and
each input CPU a superset of or identical to the result (cpuTestBaseline). Each
DO_TEST_COMPARE line: host file vs CPU file -> the expected virCPUCompareResult.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

import pyvirt
from pyvirt.errors import ErrorCode
from pyvirt.util import cpu_x86

_RESULTS = {"ERROR": -1, "INCOMPATIBLE": 0, "IDENTICAL": 1, "SUPERSET": 2}


def _source() -> Path | None:
    from pyvirt.testing import sources

    return sources.libvirt_source()


def _cases(kind: str) -> list[tuple[str, ...]]:
    src = _source()
    if src is None:
        return []
    text = (src / "tests" / "cputest.c").read_text()
    if kind == "baseline":
        return re.findall(r'DO_TEST_BASELINE\(VIR_ARCH_X86_64, "([^"]+)", (\w+), (-?\d)\)', text)
    if kind == "ppc64-baseline":
        return re.findall(r'DO_TEST_BASELINE\(VIR_ARCH_PPC64, "([^"]+)", (\w+), (-?\d)\)', text)
    return re.findall(r'DO_TEST_COMPARE\(VIR_ARCH_X86_64, "([^"]+)", "([^"]+)", VIR_CPU_COMPARE_(\w+)\)', text)


def _data(name: str) -> Path:
    src = _source()
    assert src is not None
    return src / "tests" / "cputestdata" / f"x86_64-{name}.xml"


needs_source = pytest.mark.skipif(_source() is None, reason="libvirt 9.0.0's source could not be fetched")


@needs_source
def test_the_corpus_has_its_x86_cases() -> None:
    assert len(_cases("baseline")) == 9 and len(_cases("compare")) == 29 and len(_cases("ppc64-baseline")) == 5


@needs_source
@pytest.mark.parametrize("case", _cases("baseline"), ids=lambda c: f"{c[0]}-{c[1]}")
def test_baseline_as_cputest(case: tuple[str, str, str]) -> None:
    name, flags, result = case
    cpus = [cpu_x86.parse_cpu(n, "host") for n in etree.parse(str(_data(f"baseline-{name}"))).getroot()]
    migratable = "MIGRATABLE" in flags
    if result == "-1":
        with pytest.raises(pyvirt.Error):
            cpu_x86.baseline(cpus, "x86_64", migratable=migratable)
        return
    base = cpu_x86.baseline(cpus, "x86_64", migratable=migratable)
    if "EXPAND" in flags:
        cpu_x86.expand_features(base, "x86_64")
    suffix = "expanded" if "EXPAND" in flags else "migratable" if migratable else "result"
    assert cpu_x86.format_cpu(base) == _data(f"baseline-{name}-{suffix}").read_text()
    for cpu in cpus:
        assert cpu_x86.compare(cpu, base, cpu.arch, False) in (cpu_x86.COMPARE_SUPERSET, cpu_x86.COMPARE_IDENTICAL)


@needs_source
@pytest.mark.parametrize("case", _cases("ppc64-baseline"), ids=lambda c: c[0])
def test_ppc64_baseline_as_cputest(case: tuple[str, str, str]) -> None:
    """virCPUppc64Baseline: the same model by name, vendors that agree."""
    name, _flags, result = case
    src = _source()
    assert src is not None
    data = src / "tests" / "cputestdata"
    cpus = [cpu_x86.parse_cpu(n, "host") for n in etree.parse(str(data / f"ppc64-baseline-{name}.xml")).getroot()]
    if result == "-1":
        with pytest.raises(pyvirt.Error):
            cpu_x86.baseline(cpus, "ppc64")
        return
    expected = (data / f"ppc64-baseline-{name}-result.xml").read_text()
    assert cpu_x86.format_cpu(cpu_x86.baseline(cpus, "ppc64")) == expected


@needs_source
@pytest.mark.parametrize("case", _cases("compare"), ids=lambda c: f"{c[0]}/{c[1]}")
def test_compare_as_cputest(case: tuple[str, str, str]) -> None:
    host_name, cpu_name, expected = case
    host = cpu_x86.parse_cpu(etree.parse(str(_data(host_name))).getroot())
    cpu = cpu_x86.parse_cpu(etree.parse(str(_data(cpu_name))).getroot())
    try:
        got = cpu_x86.compare(host, cpu, host.arch, False)
    except pyvirt.Error:
        got = -1
    assert got == _RESULTS[expected]


@needs_source
@pytest.mark.parametrize(
    ("cpu_name", "message"),
    [
        ("host-better", "Host CPU does not provide required features: sse4.2, popcnt"),
        ("exact-forbid", "Host CPU provides forbidden features: vmx"),
        (
            "strict",
            "Host CPU does not strictly match guest CPU: Extra features: "
            "vme, ds, acpi, ss, ht, tm, pbe, monitor, ds_cpl, vmx, est, tm2, xtpr, dca",
        ),
        ("host-amd-fake", "host CPU vendor does not match required CPU vendor AMD"),
        ("host-incomp-arch", "CPU arch ia64 does not match host arch"),
        ("exact-require-extra", "Host CPU does not provide required features: 3dnowext"),
    ],
)
def test_fail_incompatible_gives_libvirts_reason(cpu_name: str, message: str) -> None:
    """virCPUx86Compare with failIncompatible: VIR_ERR_CPU_INCOMPATIBLE carrying x86Compute's message."""
    host = cpu_x86.parse_cpu(etree.parse(str(_data("host"))).getroot())
    xml = _data(cpu_name).read_text()
    assert cpu_x86.compare_xml(host, xml, "x86_64", False, False) == cpu_x86.COMPARE_INCOMPATIBLE
    with pytest.raises(pyvirt.Error) as info:
        cpu_x86.compare_xml(host, xml, "x86_64", True, False)
    assert info.value.code == ErrorCode.CPU_INCOMPATIBLE
    assert info.value.message == f"the CPU is incompatible with host CPU: {message}"


def test_unknown_host_cpu_and_bad_documents() -> None:
    guest = "<cpu><model>Penryn</model></cpu>"
    assert cpu_x86.compare_xml(None, guest, "x86_64", False, False) == cpu_x86.COMPARE_INCOMPATIBLE
    with pytest.raises(pyvirt.Error, match=r"^the CPU is incompatible with host CPU: unknown host CPU$"):
        cpu_x86.compare_xml(None, guest, "x86_64", True, False)
    with pytest.raises(pyvirt.Error, match="XML does not contain expected 'cpu' element"):
        cpu_x86.compare_xml(None, "<domain/>", "x86_64", False, False)
    with pytest.raises(
        pyvirt.Error,
        match=r"^this function is not supported by the connection driver: cannot compare CPUs of s390x architecture$",
    ):
        cpu_x86.compare_xml(None, guest, "s390x", False, False)
    with pytest.raises(pyvirt.Error) as info:  # VALIDATE_XML: libvirt's cpu.rng refuses an unknown element
        cpu_x86.compare_xml(None, "<cpu><model>Penryn</model><bogus/></cpu>", "x86_64", False, True)
    assert info.value.code == ErrorCode.XML_INVALID_SCHEMA
    with pytest.raises(pyvirt.Error, match="no CPU model specified at index 1"):  # a guest CPU may have none
        cpu_x86.baseline(cpu_x86.parse_cpu_list(["<cpu><arch>x86_64</arch><model>Penryn</model></cpu>",
                                                 "<cpu mode='host-model'/>"], "auto"))  # fmt: skip
    with pytest.raises(pyvirt.Error, match="Missing CPU model name"):  # an empty <model> is none
        cpu_x86.baseline_xml(["<cpu><arch>x86_64</arch><model/></cpu>"], False, False)
    with pytest.raises(pyvirt.Error, match="Missing CPU architecture"):
        cpu_x86.baseline_xml(["<cpu><model>Penryn</model></cpu>"], False, False)


def test_disjoint_cpus_are_incompatible() -> None:
    """x86Baseline: an empty intersection is "CPUs are incompatible" (OPERATION_FAILED)."""
    cpus = cpu_x86.parse_cpu_list(["<cpu><arch>x86_64</arch><model>486</model></cpu>"], "host")
    with pytest.raises(pyvirt.Error) as info:
        cpu_x86.baseline(cpus, "x86_64", features=["avx512f"])
    assert (info.value.code, info.value.message) == (
        ErrorCode.OPERATION_FAILED,
        "operation failed: CPUs are incompatible",
    )


def test_microcode_version_read_as_libvirt_reads_cpuinfo() -> None:
    """virHostCPUGetMicrocodeVersion: the first "microcode" field, strtoul base 0; 0 when absent or unreadable."""
    from pyvirt.util.cpu_x86 import _microcode_version

    assert _microcode_version("processor\t: 0\nmicrocode\t: 0x1000065\ncpu MHz\t: 1\n") == 16777317
    assert _microcode_version("microcode\t: 42\n") == 42
    assert _microcode_version("microcode\t: 017\n") == 15  # a leading 0 is octal to strtoul
    assert _microcode_version("processor\t: 0\n") == 0
    assert _microcode_version("microcode\t: none\n") == 0
    assert _microcode_version("microcode\t: 0x100000000\n") == 0  # does not fit libvirt's unsigned int
