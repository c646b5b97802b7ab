"""cpu-compare and cpu-baseline on QEMU, byte for byte with libvirt 9.0's QEMU driver on this host.

qemuConnectCompareCPU compares with the host CPU of the capabilities (the host's
CPUID decoded with libvirt's CPU map); qemuConnectBaselineCPU is the map's
baseline with MIGRATABLE and QEMU's never-used features dropped. Both depend only
on the map and the host CPU, which pyvirt reads as libvirtd does: the first test
checks that both see the same host CPU, then one line of commands runs through
pyvirsh (qemu:///embed), through Debian's virsh on pyvirtd, and through virsh on
libvirtd, and all three must print the same.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.util import cpu_x86

_ENV = dict(os.environ, LC_ALL="C")
_GUESTS = {
    "kvm64.xml": "<cpu match='exact'><model>kvm64</model></cpu>",
    "pentium3.xml": "<cpu><model>pentium3</model></cpu>",
    "strict.xml": "<cpu match='strict'><model>qemu64</model></cpu>",
    "forbid.xml": "<cpu match='exact'><model>kvm64</model><feature name='sse2' policy='forbid'/></cpu>",
    "skylake.xml": "<cpu match='exact'><model>Skylake-Client</model><vendor>Intel</vendor></cpu>",
    "opteron.xml": "<cpu match='exact'><model>Opteron_G3</model><vendor>AMD</vendor></cpu>",
    "epyc.xml": "<cpu mode='custom' match='minimum'><model>EPYC</model><feature policy='optional' name='svm'/></cpu>",
    "penryn-host.xml": "<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor></cpu>",
    "passthrough.xml": "<domain type='kvm'><name>d</name><cpu mode='host-passthrough'/></domain>",
    "invalid.xml": "<cpu><model>kvm64</model><bogus/></cpu>",
    "unknown.xml": "<cpu><model>kvm64</model><feature name='nosuch'/></cpu>",
    "two-hosts.xml": "<cpu><arch>x86_64</arch><model>Haswell-noTSX</model><vendor>Intel</vendor>"
    "<feature name='osxsave'/><feature name='cmt'/></cpu>"
    "<cpu><arch>x86_64</arch><model>IvyBridge</model><vendor>Intel</vendor><feature name='osxsave'/>"
    "<feature name='invtsc'/></cpu>",
}


def _virsh(uri: str, line: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=120, env=_ENV,
                          check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _host_cpu_of(capabilities: str) -> str:
    """The host ``<cpu>`` of a capabilities document with what describes the machine, not the CPU, left out."""
    block = capabilities[capabilities.index("<cpu>") : capabilities.index("</cpu>")]
    kept = [line.strip() for line in block.splitlines() if re.match(r"\s*<(model|vendor|feature|arch)\b", line)]
    return "\n".join(kept)


def _host_cpu_element(capabilities: str) -> str:
    """The host ``<cpu>`` element of a capabilities document, byte for byte."""
    start = capabilities.index("<cpu>")
    return capabilities[start : capabilities.index("</cpu>", start) + len("</cpu>")]


def test_the_same_host_cpu_and_the_same_answers(qemu_root: Path, tmp_path: Path, shared_libvirtd: str) -> None:
    caps, err, rc = _virsh(shared_libvirtd, "capabilities")
    assert rc == 0, err
    host = cpu_x86.host_cpu()
    assert host is not None, "the kernel's cpuid driver (/dev/cpu/0/cpuid) is needed to read the host CPU"
    assert _host_cpu_of(cpu_x86.format_cpu(host)) == _host_cpu_of(caps)
    ours, err, rc = _pyvirsh(qemu_root, "capabilities")
    assert rc == 0, err
    # the whole host <cpu> (model, microcode, signature, TSC counter, topology, address bits, features, pages)
    assert _host_cpu_element(ours) == _host_cpu_element(caps)
    (tmp_path / "caps.xml").write_text(caps)
    for name, text in _GUESTS.items():
        (tmp_path / name).write_text(text)
    commands = []
    for name in [*_GUESTS, "caps.xml"]:
        commands += [f"cpu-compare {tmp_path / name}", f"cpu-compare {tmp_path / name} --error"]
    commands += [
        f"cpu-compare {tmp_path / 'invalid.xml'} --validate",
        f"cpu-compare {tmp_path / 'kvm64.xml'} --validate",
    ]
    for name in ("caps.xml", "two-hosts.xml", "penryn-host.xml"):
        commands += [f"cpu-baseline {tmp_path / name}" + extra for extra in ("", " --features", " --migratable")]
    line = " ; ".join(commands)
    theirs = _virsh(shared_libvirtd, line)
    assert "is identical to host CPU" in theirs[0] and "Host CPU is a superset" in theirs[0]
    assert "Host CPU does not provide required features" in theirs[1]
    assert _pyvirsh(qemu_root, line) == theirs
    with PrivateDaemon(tmp_path / "pyvirtd") as daemon:  # Debian's virsh through pyvirtd's RPC procedures
        assert _virsh(daemon.uri("qemu:///system"), line) == theirs


# a CPU of the other vendor than the host's (the machines these tests run on have been of both)
_FOREIGN = ("opteron.xml", "AMD") if "GenuineIntel" in Path("/proc/cpuinfo").read_text() else ("skylake.xml", "Intel")
_HV_LINES = [  # libvirt's refusals, then answers that depend on the host-model under KVM and under TCG
    _FOREIGN[0],
    f"{_FOREIGN[0]} --error",
    "forbid.xml --error",
    "invalid.xml --validate",
    "kvm64.xml --virttype bogus",
    "kvm64.xml --arch bogus",
    "kvm64.xml --arch aarch64",
    "kvm64.xml --machine nosuch",
    "kvm64.xml --emulator {missing}",
    *(f"{name} --virttype {virt}" for virt in ("kvm", "qemu")
      for name in ("kvm64.xml", "pentium3.xml", "strict.xml", "epyc.xml", "domcaps-kvm.xml", "domcaps-qemu.xml")),
]  # fmt: skip


def _cpu_section(domcaps: str) -> str:
    return domcaps[domcaps.index("<cpu>") : domcaps.index("</cpu>") + len("</cpu>")]


def test_hypervisor_cpu_compare(qemu_root: Path, tmp_path: Path, shared_libvirtd: str) -> None:
    """domcapabilities' <cpu> (host-model from QEMU's expansion of host/max decoded by libvirt's map, custom
    models in QEMU's order with QEMU's usability) and qemuConnectCompareHypervisorCPU against that host-model,
    for KVM and TCG, byte for byte with libvirtd."""
    for name, text in _GUESTS.items():
        (tmp_path / name).write_text(text)
    for virt in ("kvm", "qemu"):
        theirs, err, rc = _virsh(shared_libvirtd, f"domcapabilities --virttype {virt}")
        assert rc == 0, err
        ours, err, rc = _pyvirsh(qemu_root, f"domcapabilities --virttype {virt}")
        assert rc == 0, err
        assert _cpu_section(ours) == _cpu_section(theirs), virt
        (tmp_path / f"domcaps-{virt}.xml").write_text(theirs)
    missing = tmp_path / "no-such-emulator"
    line = " ; ".join(f"hypervisor-cpu-compare {tmp_path / c.format(missing=missing)}" for c in _HV_LINES)
    theirs_all = _virsh(shared_libvirtd, line)
    assert f"host CPU vendor does not match required CPU vendor {_FOREIGN[1]}" in theirs_all[1]
    assert f"Cannot check QEMU binary {missing}: No such file or directory" in theirs_all[1]
    assert "is identical to" in theirs_all[0] and "is a superset of" in theirs_all[0]
    assert _pyvirsh(qemu_root, line) == theirs_all


def test_hypervisor_cpu_baseline(qemu_root: Path, tmp_path: Path, shared_libvirtd: str) -> None:
    """qemuConnectBaselineHypervisorCPU under KVM and TCG: the x86 baseline limited to QEMU's models (and their
    blockers) and to the properties of QEMU's host CPU expansion, byte for byte with libvirtd."""
    for name, text in _GUESTS.items():
        (tmp_path / name).write_text(text)
    caps, err, rc = _virsh(shared_libvirtd, "capabilities")
    assert rc == 0, err
    (tmp_path / "caps.xml").write_text(caps)
    commands = [
        f"hypervisor-cpu-baseline {tmp_path / name} --virttype {virt}{extra}"
        for virt in ("kvm", "qemu")
        for name in ("caps.xml", "two-hosts.xml", "penryn-host.xml", "kvm64.xml", "epyc.xml")
        for extra in ("", " --features", " --migratable")
    ]
    commands += [
        "hypervisor-cpu-baseline --model Haswell-noTSX",
        "hypervisor-cpu-baseline --model kvm64 --virttype qemu --features",
        f"hypervisor-cpu-baseline {tmp_path / 'kvm64.xml'} --arch aarch64",
        f"hypervisor-cpu-baseline {tmp_path / 'invalid.xml'}",
        f"hypervisor-cpu-baseline {tmp_path / 'kvm64.xml'} --virttype bogus",
    ]
    line = " ; ".join(commands)
    theirs = _virsh(shared_libvirtd, line)
    assert "<model fallback='forbid'>" in theirs[0] and "<feature policy='require'" in theirs[0]
    assert _pyvirsh(qemu_root, line) == theirs
    with PrivateDaemon(tmp_path / "pyvirtd") as daemon:  # Debian's virsh through pyvirtd's RPC procedure
        assert _virsh(daemon.uri("qemu:///system"), line) == theirs
