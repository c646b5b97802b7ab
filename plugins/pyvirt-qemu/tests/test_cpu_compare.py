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


def test_the_same_host_cpu_and_the_same_answers(qemu_root: Path, tmp_path: Path, shared_libvirtd: str) -> None:
    caps, err, rc = _virsh(shared_libvirtd, "capabilities")
    assert rc == 0, err
    host = cpu_x86.host_cpu()
    assert host is not None, "the kernel's cpuid driver (/dev/cpu/0/cpuid) is needed to read the host CPU"
    assert _host_cpu_of(cpu_x86.format_cpu(host)) == _host_cpu_of(caps)
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


_HV_SAME = [  # answers that do not depend on which model host-model decodes to (libvirt's and pyvirt's differ here)
    "skylake.xml",
    "skylake.xml --error",
    "forbid.xml --error",
    "invalid.xml --validate",
    "kvm64.xml --virttype bogus",
    "kvm64.xml --arch bogus",
    "kvm64.xml --arch aarch64",
    "kvm64.xml --machine nosuch",
    "kvm64.xml --emulator {missing}",
]


def test_hypervisor_cpu_compare(qemu_root: Path, tmp_path: Path, shared_libvirtd: str) -> None:
    """qemuConnectCompareHypervisorCPU: against the host-model the driver's domcapabilities report.

    libvirt's refusals and the vendor/forbidden-feature answers are compared with libvirtd byte for byte; the
    superset/identical answers must be what the map says against this driver's own host-model, for KVM and TCG.
    """
    for name, text in _GUESTS.items():
        (tmp_path / name).write_text(text)
    missing = tmp_path / "no-such-emulator"
    line = " ; ".join(f"hypervisor-cpu-compare {tmp_path / c.format(missing=missing)}" for c in _HV_SAME)
    theirs = _virsh(shared_libvirtd, line)
    assert "host CPU vendor does not match required CPU vendor Intel" in theirs[1]
    assert f"Cannot check QEMU binary {missing}: No such file or directory" in theirs[1]
    assert _pyvirsh(qemu_root, line) == theirs
    for virt in ("kvm", "qemu"):
        domcaps, err, rc = _pyvirsh(qemu_root, f"domcapabilities --virttype {virt}")
        assert rc == 0, err
        (tmp_path / "domcaps.xml").write_text(domcaps)
        host = domcaps[domcaps.index("<mode name='host-model'") : domcaps.index("</mode>", domcaps.index("host-model"))]
        host_cpu = cpu_x86.parse_cpu_list(["<cpu match='exact'>" + host[host.index(">") + 1 :] + "</cpu>"], "guest")[0]
        as_cpu = "<cpu>" + host[host.index(">") + 1 :] + "</cpu>"  # what virsh extracts of domcapabilities
        for name in ("kvm64.xml", "pentium3.xml", "strict.xml", "epyc.xml", "domcaps.xml"):
            text = as_cpu if name == "domcaps.xml" else (tmp_path / name).read_text()
            expected = cpu_x86.compare_xml(host_cpu, text, "x86_64", False, False)
            assert name != "domcaps.xml" or expected == cpu_x86.COMPARE_IDENTICAL  # host-model against itself
            out, err, rc = _pyvirsh(qemu_root, f"hypervisor-cpu-compare {tmp_path / name} --virttype {virt}")
            words = {0: "is incompatible with", 1: "is identical to", 2: "is a superset of"}[expected]
            assert words in out and rc == (1 if expected == 0 else 0), (virt, name, out, err)
