"""Host checks behind ``pyvirsh host-validate`` (libvirt's virt-host-validate).

Each check looks at the real host (device nodes, /proc, /sys, the audit
netlink socket, file xattrs) and returns PASS, WARN or FAIL with a line that
says how to fix it. Checks are grouped by the driver they matter to, so
``pyvirsh host-validate lxc`` only runs what LXC needs.
"""

from __future__ import annotations

import enum
import glob
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pyvirt.util.caps import CAPABILITY_NUMBERS
from pyvirt.util.cgroup_layout import CgroupLayout, detect_cgroup_layout
from pyvirt.util.filecaps import predict_exec_capabilities, read_file_caps

_GUEST_UID = 64055  # an unprivileged uid, like Debian's libvirt-qemu user

__all__ = ["CHECK_GROUPS", "CheckResult", "Status", "run_checks"]


class Status(enum.Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    group: str
    description: str
    status: Status
    detail: str = ""
    fix: str = ""


Check = Callable[[], Iterator[CheckResult]]


def _result(group: str, desc: str, ok: bool, fail: Status, detail: str = "", fix: str = "") -> CheckResult:
    return CheckResult(group, desc, Status.PASS if ok else fail, detail if not ok else "", fix if not ok else "")


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
    yield _result(
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
    yield _result(g, "if device /dev/kvm exists", kvm, Status.FAIL, "", "load the 'kvm_intel' or 'kvm_amd' module")
    if kvm:
        yield _result(
            g,
            "if device /dev/kvm is accessible",
            os.access("/dev/kvm", os.R_OK | os.W_OK),
            Status.FAIL,
            "",
            "add the user to the 'kvm' group, or check the permissions of /dev/kvm",
        )
    yield _result(
        g,
        "if device /dev/vhost-net exists",
        os.path.exists("/dev/vhost-net"),
        Status.WARN,
        "",
        "load the 'vhost_net' module to improve the performance of virtio networking",
    )
    yield _result(
        g,
        "if device /dev/net/tun exists",
        os.path.exists("/dev/net/tun"),
        Status.FAIL,
        "",
        "load the 'tun' module; bridged and ethernet NICs need it",
    )
    groups = glob.glob("/sys/kernel/iommu_groups/*")
    yield _result(
        g,
        "for device assignment IOMMU support",
        bool(groups),
        Status.WARN,
        "no IOMMU groups",
        "enable the IOMMU in the firmware and add intel_iommu=on or amd_iommu=on",
    )
    yield from _check_cgroups(g, ("memory", "cpu", "cpuacct", "cpuset", "devices", "blkio"))
    yield from check_emulator_file_caps()


def check_lxc() -> Iterator[CheckResult]:
    g = "LXC"
    for ns in ("ipc", "mnt", "pid", "uts", "net", "user"):
        yield _result(
            g,
            f"for Linux >= 2.6.26 {ns} namespace",
            os.path.exists(f"/proc/self/ns/{ns}"),
            Status.FAIL,
            "",
            f"rebuild the kernel with CONFIG_{ns.upper()}_NS",
        )
    yield from _check_cgroups(g, ("memory", "cpu", "cpuacct", "cpuset", "devices", "blkio", "freezer"))
    yield _result(
        g,
        "if device /sys/fs/fuse/connections exists",
        os.path.exists("/sys/fs/fuse/connections"),
        Status.WARN,
        "",
        "load the 'fuse' module to enable /proc/ overrides in containers",
    )


def _check_cgroups(group: str, controllers: tuple[str, ...]) -> Iterator[CheckResult]:
    layout = detect_cgroup_layout()
    yield CheckResult(group, f"cgroup layout ({layout.describe()})", Status.PASS)
    for ctl in controllers:
        present = layout.has_controller(ctl)
        where = layout.controller_path(ctl) or "?"
        yield _result(
            group,
            f"for cgroup '{ctl}' controller support",
            present,
            Status.WARN if ctl == "blkio" else Status.FAIL,
            "",
            f"enable CONFIG_CGROUP for '{ctl}' and mount it ({_mount_hint(layout, ctl)})",
        )
        if present:
            yield _result(
                group,
                f"for cgroup '{ctl}' controller mount-point",
                os.path.isdir(where),
                Status.FAIL,
                "",
                f"mount the '{ctl}' controller at {where}",
            )


def _mount_hint(layout: CgroupLayout, ctl: str) -> str:
    if layout.v2_root and not layout.v1_mounts:
        return f"add '+{ctl}' to {layout.v2_root}/cgroup.subtree_control"
    return f"mount -t cgroup -o {ctl} cgroup /sys/fs/cgroup/{ctl}"


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


def check_security() -> Iterator[CheckResult]:
    g = "SECURITY"
    lsms = ""
    try:
        with open("/sys/kernel/security/lsm", encoding="ascii") as f:
            lsms = f.read().strip()
    except OSError:
        pass
    selinux = os.path.exists("/sys/fs/selinux/enforce") or "selinux" in lsms.split(",")
    apparmor = "apparmor" in lsms.split(",") or _apparmor_enabled()
    yield _result(
        g,
        "for an active mandatory access control LSM (SELinux or AppArmor)",
        selinux or apparmor,
        Status.WARN,
        "neither SELinux nor AppArmor is active: guests are separated by DAC (uid/gid) only",
        "boot with 'security=apparmor' or 'security=selinux' and install the policy",
    )
    tools = {"apparmor_parser": "apparmor", "setfiles": "policycoreutils"}
    for tool, pkg in tools.items():
        if shutil.which(tool) or os.path.exists(f"/sbin/{tool}") or os.path.exists(f"/usr/sbin/{tool}"):
            yield CheckResult(g, f"for {tool}", Status.PASS)
        else:
            yield CheckResult(g, f"for {tool}", Status.WARN, "", f"apt-get install {pkg}")


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled", encoding="ascii") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def check_audit() -> Iterator[CheckResult]:
    from pyvirt.util.audit import read_audit_status  # imported lazily: opens netlink

    g = "AUDIT"
    try:
        status = read_audit_status()
    except OSError as exc:
        yield CheckResult(
            g,
            "for kernel audit support",
            Status.WARN,
            exc.strerror or str(exc),
            "enable CONFIG_AUDIT in the kernel (or run as root to query it)",
        )
        return
    yield CheckResult(g, "for kernel audit support", Status.PASS)
    yield _result(
        g,
        "if the kernel audit subsystem is enabled",
        status.enabled >= 1,
        Status.WARN,
        "audit records for guests are dropped by the kernel",
        "auditctl -e 1 (and start auditd to keep them)",
    )
    yield _result(
        g,
        "for an audit daemon",
        status.pid != 0,
        Status.WARN,
        "records go only to the kernel log",
        "apt-get install auditd && systemctl start auditd",
    )


CHECK_GROUPS: dict[str, list[Check]] = {
    "qemu": [check_qemu],
    "lxc": [check_lxc],
    "security": [check_security],
    "audit": [check_audit],
}


def run_checks(groups: list[str] | None = None) -> Iterator[CheckResult]:
    for name in groups or list(CHECK_GROUPS):
        for check in CHECK_GROUPS[name]:
            yield from check()
