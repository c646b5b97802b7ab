"""What pyvirt-qemu needs from the host, checked for ``pyvirsh host-validate qemu`` (libvirt's virt-host-validate).

Behind the driver's ``host_validate`` hook: hardware virtualization and the
device nodes QEMU opens, the cgroup controllers a guest is placed in, the
file capabilities of every emulator (the CAP_SYS_RAWIO trap: pyvirt hands a
guest its capabilities through the ambient set, which file capabilities
discard), and the programs ``system-deps.toml`` declares.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

from pyvirt.plugin import hookimpl
from pyvirt.util.caps import CAPABILITY_NUMBERS
from pyvirt.util.filecaps import predict_exec_capabilities, read_file_caps
from pyvirt.util.host_validate import CheckResult, Status, check_cgroups, check_result
from pyvirt.util.system_deps import check_declared_programs

__all__ = ["QemuHostChecks", "check_emulator_file_caps", "check_qemu"]

_GUEST_UID = 64055  # an unprivileged uid, like Debian's libvirt-qemu user


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def check_qemu() -> Iterator[CheckResult]:
    g = "QEMU"
    flags = _cpu_flags()
    hw = bool(flags & {"vmx", "svm"})
    yield check_result(
        g,
        "for hardware virtualization",
        hw or os.path.exists("/dev/kvm"),
        Status.FAIL,
        "the CPU advertises neither vmx nor svm",
        "enable VT-x/AMD-V in the firmware, or nested virtualization on the host running this VM",
    )
    if not hw and os.path.exists("/dev/kvm"):
        yield CheckResult(
            g,
            "for hardware virtualization flags",
            Status.WARN,
            "/dev/kvm exists but the CPU has no vmx/svm flag (paravirtualized KVM such as kvm-pvm):"
            " firmware-only guests run, full operating systems may need TCG",
            "use <domain type='qemu'> (TCG) for guests that hang under KVM",
        )
    kvm = os.path.exists("/dev/kvm")
    yield check_result(g, "if device /dev/kvm exists", kvm, Status.FAIL, "", "load the 'kvm_intel' or 'kvm_amd' module")
    if kvm:
        yield check_result(
            g,
            "if device /dev/kvm is accessible",
            os.access("/dev/kvm", os.R_OK | os.W_OK),
            Status.FAIL,
            "",
            "add the user to the 'kvm' group, or check the permissions of /dev/kvm",
        )
    yield check_result(
        g,
        "if device /dev/vhost-net exists",
        os.path.exists("/dev/vhost-net"),
        Status.WARN,
        "",
        "load the 'vhost_net' module to improve the performance of virtio networking",
    )
    yield check_result(
        g,
        "if device /dev/net/tun exists",
        os.path.exists("/dev/net/tun"),
        Status.FAIL,
        "",
        "load the 'tun' module; bridged and ethernet NICs need it",
    )
    groups = glob.glob("/sys/kernel/iommu_groups/*")
    yield check_result(
        g,
        "for device assignment IOMMU support",
        bool(groups),
        Status.WARN,
        "no IOMMU groups",
        "enable the IOMMU in the firmware and add intel_iommu=on or amd_iommu=on",
    )
    yield from check_cgroups(g, ("memory", "cpu", "cpuacct", "cpuset", "devices", "blkio"))
    yield from check_emulator_file_caps()
    yield from check_declared_programs(g, "pyvirt_qemu")


def check_emulator_file_caps() -> Iterator[CheckResult]:
    """File capabilities of every qemu-system-* on PATH (the CAP_SYS_RAWIO trap).

    Guests run as an unprivileged user with a bounding set holding only
    their own capabilities (often none). A binary with file capabilities
    drops the ambient set at exec, and one with the effective bit cannot be
    exec'd at all when its capabilities are outside the bounding set, so we
    predict both a plain guest and a ``rawio='yes'`` guest.
    """
    seen: set[str] = set()
    rawio = frozenset({CAPABILITY_NUMBERS["sys_rawio"]})
    for directory in os.environ.get("PATH", "/usr/bin").split(":"):
        for binary in sorted(glob.glob(os.path.join(directory, "qemu-system-*"))):
            real = os.path.realpath(binary)
            if real in seen or not os.access(real, os.X_OK):
                continue
            seen.add(real)
            try:
                fcaps = read_file_caps(real)
                plain = predict_exec_capabilities(real, _GUEST_UID, (), (), ())
                with_rawio = predict_exec_capabilities(real, _GUEST_UID, rawio, rawio, rawio)
            except (OSError, ValueError) as exc:
                yield CheckResult(
                    "QEMU",
                    f"file capabilities of {real}",
                    Status.WARN,
                    str(exc),
                    f"check the security.capability xattr of {real} with getcap",
                )
                continue
            desc = f"file capabilities of {real} ({fcaps.to_text() if fcaps else 'none; ambient caps apply'})"
            problems = []
            if plain is None:
                problems.append(
                    "unprivileged guests cannot exec it (EPERM: its file capabilities exceed their bounding set)"
                )
            if with_rawio is None or not rawio <= with_rawio:
                problems.append("guests with rawio='yes' disks would not get cap_sys_rawio")
            if not problems:
                yield CheckResult("QEMU", desc, Status.PASS)
            else:
                yield CheckResult(
                    "QEMU",
                    desc,
                    Status.WARN,
                    "; ".join(problems),
                    f"setcap -r {real}  (pyvirt passes each guest's capabilities through the ambient set)",
                )


class QemuHostChecks:
    """The driver object's ``host_validate`` hook (contract 1.10), mixed into the entry point's class."""

    @hookimpl
    def host_validate(self) -> list[CheckResult]:
        return list(check_qemu())
