"""What pyvirt-lxc needs from the host, checked for ``pyvirsh host-validate lxc`` (libvirt's virt-host-validate).

Behind the driver's ``host_validate`` hook: the namespaces a container is
made of, the cgroup controllers it is confined by, FUSE for the /proc
overrides, and the programs ``system-deps.toml`` declares.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from pyvirt.plugin import hookimpl
from pyvirt.util.host_validate import CheckResult, Status, check_cgroups, check_result
from pyvirt.util.system_deps import check_declared_programs

__all__ = ["LxcHostChecks", "check_lxc"]


def check_lxc() -> Iterator[CheckResult]:
    g = "LXC"
    for ns in ("ipc", "mnt", "pid", "uts", "net", "user"):
        yield check_result(
            g,
            f"for Linux >= 2.6.26 {ns} namespace",
            os.path.exists(f"/proc/self/ns/{ns}"),
            Status.FAIL,
            "",
            f"rebuild the kernel with CONFIG_{ns.upper()}_NS",
        )
    yield from check_cgroups(g, ("memory", "cpu", "cpuacct", "cpuset", "devices", "blkio", "freezer"))
    yield check_result(
        g,
        "if device /sys/fs/fuse/connections exists",
        os.path.exists("/sys/fs/fuse/connections"),
        Status.WARN,
        "",
        "load the 'fuse' module to enable /proc/ overrides in containers",
    )
    yield from check_declared_programs(g, "pyvirt_lxc")


class LxcHostChecks:
    """The driver object's ``host_validate`` hook (contract 1.10), mixed into the entry point's class."""

    @hookimpl
    def host_validate(self) -> list[CheckResult]:
        return list(check_lxc())
