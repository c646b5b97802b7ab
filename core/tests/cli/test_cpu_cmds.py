"""cpu-baseline, cpu-compare, hypervisor-cpu-baseline, hypervisor-cpu-compare on libvirt's test driver.

libvirt 9.0's test driver answers virConnectBaselineCPU (testConnectBaselineCPU:
the x86 baseline of the CPU map, EXPAND_FEATURES only) and none of the other
three, so virsh prints the baseline or libvirt's errors, and "not supported" for
the rest, after reading the file as vshExtractCPUDefXMLs reads it. pyvirsh must
print the same bytes and exit the same way, in process and as Debian's virsh's
server (pyvirtd). The inputs are libvirt's cputest baseline inputs (fetched with
libvirt's source) and documents written here: bare ``<cpu>`` lists, a domain, the
test driver's capabilities, domain capabilities, and files virsh refuses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

from pyvirt.daemon.instance import PrivateDaemon

needs_virsh = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)

_HOSTS = """<cpu><arch>x86_64</arch><model>Haswell-noTSX</model><vendor>Intel</vendor>
<feature name='vmx'/><feature name='pdpe1gb'/></cpu>
<cpu><arch>x86_64</arch><model>SandyBridge</model><vendor>Intel</vendor><feature name='vmx'/></cpu>
"""
_DOMAIN = """<?xml version='1.0'?>
<domain type='test'><name>d</name><memory>1024</memory><os><type>hvm</type></os>
<cpu mode='custom' match='exact'><model>Westmere</model><feature policy='disable' name='aes'/></cpu></domain>"""
_DOMCAPS = """<domainCapabilities><cpu><mode name='host-passthrough' supported='yes'/>
<mode name='host-model' supported='yes'><model fallback='forbid'>Skylake-Client</model><vendor>Intel</vendor>
<feature policy='require' name='vmx'/></mode></cpu></domainCapabilities>"""
_FILES = {
    "hosts.xml": _HOSTS,
    "domain.xml": _DOMAIN,
    "domcaps.xml": _DOMCAPS,
    "amd-intel.xml": "<cpu><arch>x86_64</arch><model>Opteron_G3</model></cpu>\n"
    "<cpu><arch>x86_64</arch><model>Penryn</model></cpu>",
    "unknown-model.xml": "<cpu><arch>x86_64</arch><model>Nosuch</model></cpu>",
    "ppc.xml": "<cpu><arch>ppc64</arch><model>POWER8</model><vendor>IBM</vendor></cpu>",
    "ppc-two.xml": "<cpu><arch>ppc64le</arch><model>POWER8</model></cpu><cpu><arch>ppc64le</arch><model>POWER9</model></cpu>",
    "arm.xml": "<cpu><arch>aarch64</arch><model>cortex-a57</model></cpu><cpu><arch>aarch64</arch><model>x</model></cpu>",
    "s390.xml": "<cpu><arch>s390x</arch><model>z13</model></cpu>",
    "nocpu.xml": "<domain type='test'/>",
    "broken.xml": "<cpu><model>",
    "empty-model.xml": "<cpu><arch>x86_64</arch><model/></cpu>",
}


def _corpus_inputs(tmp: Path) -> list[str]:
    """cputest's x86 baseline inputs with their ``<cpuTest>`` wrapper taken off (virsh reads bare ``<cpu>``s)."""
    from pyvirt.testing import sources

    src = sources.libvirt_source()
    if src is None:
        return []
    names = []
    for path in sorted((src / "tests" / "cputestdata").glob("x86_64-baseline-*.xml")):
        if re.search(r"-(result|expanded|migratable)\.xml$", path.name):
            continue
        (tmp / path.name).write_text(re.sub(r"</?cpuTest>", "", path.read_text()))
        names.append(path.name)
    return names


def _line(tmp: Path) -> str:
    for name, text in _FILES.items():
        (tmp / name).write_text(text)
    caps = run_line([VIRSH or "virsh"], "capabilities")[0]
    (tmp / "caps.xml").write_text(caps)  # the test driver's host <cpu> names no model: "Missing CPU model name"
    commands = []
    for name in [*_corpus_inputs(tmp), *_FILES, "caps.xml"]:
        commands += [f"cpu-baseline {tmp / name}", f"cpu-baseline {tmp / name} --features"]
    commands += [
        f"cpu-baseline {tmp / 'hosts.xml'} --migratable",  # the test driver refuses MIGRATABLE
        f"cpu-baseline {tmp / 'nosuch.xml'}",
        f"cpu-compare {tmp / 'hosts.xml'}",
        f"cpu-compare {tmp / 'hosts.xml'} --error --validate",
        f"hypervisor-cpu-compare {tmp / 'domain.xml'} --virttype kvm",
        f"hypervisor-cpu-baseline {tmp / 'hosts.xml'} --features",
        "hypervisor-cpu-baseline --model Penryn",
        f"hypervisor-cpu-baseline --model Penryn --file {tmp / 'hosts.xml'}",
        "hypervisor-cpu-baseline --arch ''",
        "hypervisor-cpu-baseline",  # neither --file nor --model
    ]
    return " ; ".join(commands)


@needs_virsh
def test_pyvirsh_prints_what_virsh_prints(tmp_path: Path) -> None:
    line = _line(tmp_path)
    theirs = run_line([VIRSH or "virsh"], line)
    assert "<model fallback='allow'>SandyBridge</model>" in theirs[0] and "CPU vendors do not match" in theirs[1]
    assert run_line(PYVIRSH, line) == theirs


@needs_virsh
def test_debian_virsh_through_pyvirtd(tmp_path: Path) -> None:
    """The four RPC procedures as libvirtd serves them: the answers, flags and errors reach virsh unchanged."""
    line = _line(tmp_path)
    theirs = run_line([VIRSH or "virsh"], line)
    with PrivateDaemon(tmp_path / "pyvirtd") as daemon:
        wire = run_line([VIRSH or "virsh"], line, daemon.uri())
    assert wire == theirs
