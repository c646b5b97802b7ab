"""Host checks behind ``pyvirsh host-validate`` (libvirt's virt-host-validate).

Each check looks at the real host (device nodes, /proc, /sys, the audit
netlink socket, file xattrs) and returns PASS, WARN or FAIL with a line that
says how to fix it. Checks are grouped by the driver they matter to, so
``pyvirsh host-validate lxc`` only runs what LXC needs. Core checks the
security and audit setup; each installed plugin brings its own group: a
hypervisor driver through its ``host_validate`` hook
(:mod:`pyvirt.plugin.specs.host`), any plugin through the programs its
``system-deps.toml`` declares. :class:`CheckResult`, :func:`check_result` and
:func:`check_cgroups` are the plugin-facing pieces.
"""

from __future__ import annotations

import enum
import functools
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pyvirt.util.cgroup_layout import CgroupLayout, detect_cgroup_layout

__all__ = ["CORE_GROUPS", "CheckResult", "Status", "check_cgroups", "check_groups", "check_result", "run_checks"]


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


def check_result(group: str, desc: str, ok: bool, fail: Status, detail: str = "", fix: str = "") -> CheckResult:
    """PASS when ``ok``, else ``fail`` with why and how to fix it (kept only for a result that is not a pass)."""
    return CheckResult(group, desc, Status.PASS if ok else fail, detail if not ok else "", fix if not ok else "")


def check_cgroups(group: str, controllers: tuple[str, ...]) -> Iterator[CheckResult]:
    """The cgroup layout, then one check per controller a driver needs mounted (virt-host-validate's cgroup checks)."""
    layout = detect_cgroup_layout()
    yield CheckResult(group, f"cgroup layout ({layout.describe()})", Status.PASS)
    for ctl in controllers:
        present = layout.has_controller(ctl)
        where = layout.controller_path(ctl) or "?"
        yield check_result(
            group,
            f"for cgroup '{ctl}' controller support",
            present,
            Status.WARN if ctl == "blkio" else Status.FAIL,
            "",
            f"enable CONFIG_CGROUP for '{ctl}' and mount it ({_mount_hint(layout, ctl)})",
        )
        if present:
            yield check_result(
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
    yield check_result(
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
    yield check_result(
        g,
        "if the kernel audit subsystem is enabled",
        status.enabled >= 1,
        Status.WARN,
        "audit records for guests are dropped by the kernel",
        "auditctl -e 1 (and start auditd to keep them)",
    )
    yield check_result(
        g,
        "for an audit daemon",
        status.pid != 0,
        Status.WARN,
        "records go only to the kernel log",
        "apt-get install auditd && systemctl start auditd",
    )


CORE_GROUPS: dict[str, Check] = {"security": check_security, "audit": check_audit}
"""The groups core checks itself; each installed plugin adds its own (:func:`check_groups`)."""


def _plugin_groups() -> dict[str, Callable[[], Iterable[CheckResult]]]:
    """One group per installed plugin: a hypervisor driver's ``host_validate`` hook, else its declared programs.

    Why through the plugins: what QEMU or LXC needs from a host is theirs to
    know, and a host without pyvirt-qemu installed has no reason to check
    for /dev/kvm. A driver that fails to load is reported, not skipped.
    """
    from pyvirt.plugin.entry_point_index import _load_index
    from pyvirt.util.system_deps import check_declared_programs, installed_plugin_packages

    groups: dict[str, Callable[[], Iterable[CheckResult]]] = {}
    hypervisors = _load_index().get("pyvirt.hypervisor", {})
    covered: set[str] = set()
    for name, value in sorted(hypervisors.items()):
        package = value.partition(":")[0].split(".")[0]
        if package == "pyvirt":
            continue
        covered.add(package)
        groups[name] = functools.partial(_driver_checks, name, package)
    for package in installed_plugin_packages():
        if package not in covered:
            short = package.removeprefix("pyvirt_")
            groups.setdefault(short, functools.partial(check_declared_programs, short.upper(), package))
    return groups


def _driver_checks(name: str, package: str) -> Iterable[CheckResult]:
    from pyvirt.errors import Error
    from pyvirt.plugin.registry import load_driver
    from pyvirt.util.system_deps import check_declared_programs

    try:
        driver = load_driver("hypervisor", name)
    except Error as exc:
        return [CheckResult(name.upper(), f"that the '{name}' driver loads", Status.FAIL, exc.message,
                            f"reinstall the distribution providing '{package}'")]  # fmt: skip
    hook = getattr(driver, "host_validate", None)
    if hook is None:
        return list(check_declared_programs(name.upper(), package))
    return list(hook())


def check_groups() -> list[str]:
    """Every group ``host-validate`` can run here: the installed plugins' and core's."""
    return [*_plugin_groups(), *CORE_GROUPS]


def run_checks(groups: list[str] | None = None) -> Iterator[CheckResult]:
    plugin = _plugin_groups()
    for name in groups or [*plugin, *CORE_GROUPS]:
        check = plugin.get(name) or CORE_GROUPS[name]
        yield from check()
