"""What pyvirt-xen needs from the host, checked for ``pyvirsh host-validate xen``.

libvirt's virt-host-validate has no Xen group; its libxl driver simply does
not load outside a Xen control domain (``libxlDriverShouldLoad``: a
``/proc/xen/capabilities`` that starts with ``control_d``, else at least
``/dev/xen/xenstored``). This driver loads anywhere, because definitions and
``domxml-from-native``/``-to-native`` need no hypervisor, so the first check
says whether guests can run here. Outside a dom0 the toolstack's absence is
expected (the programs are declared ``install = false``), so a missing
required program is a warning there and a failure only in a dom0, where it
really stops guests from starting.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

from pyvirt.plugin import hookimpl
from pyvirt.util.host_validate import CheckResult, Status, check_result
from pyvirt.util.system_deps import check_declared_programs

__all__ = ["XenHostChecks", "check_xen", "is_xen_dom0"]

HYPERVISOR_CAPABILITIES = "/proc/xen/capabilities"
HYPERVISOR_XENSTORED = "/dev/xen/xenstored"


def is_xen_dom0(capabilities: str = HYPERVISOR_CAPABILITIES, xenstored: str = HYPERVISOR_XENSTORED) -> bool:
    """Whether this host is a Xen control domain, decided as libvirt's libxl driver decides whether to load.

    Any guest can mount xenfs on /proc/xen, so the file existing is not
    enough: a dom0's starts with ``control_d``.
    """
    try:
        with open(capabilities, encoding="ascii", errors="replace") as f:
            return f.read(10).startswith("control_d")
    except FileNotFoundError:
        return os.path.exists(xenstored)
    except OSError:
        return False


def check_xen(dom0: bool | None = None) -> Iterator[CheckResult]:
    """The XEN group: a dom0 to run guests in, then the programs ``system-deps.toml`` declares."""
    g = "XEN"
    if dom0 is None:
        dom0 = is_xen_dom0()
    yield check_result(
        g,
        "if this host is a Xen dom0",
        dom0,
        Status.WARN,
        "guests can be defined and converted here, not started",
        "boot the Xen hypervisor (Debian: xen-hypervisor-4.17-amd64) with this system as its dom0",
    )
    for found in check_declared_programs(g, "pyvirt_xen"):
        if not dom0 and found.status is Status.FAIL:
            yield dataclasses.replace(found, status=Status.WARN)  # no dom0: nothing could start guests anyway
        else:
            yield found


class XenHostChecks:
    """The driver's ``host_validate`` hook (mixed into the entry-point class)."""

    @hookimpl
    def host_validate(self) -> list[CheckResult]:
        return list(check_xen())
