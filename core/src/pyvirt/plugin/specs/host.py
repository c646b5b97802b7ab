"""Host checks a driver contributes to ``pyvirsh host-validate`` (libvirt's virt-host-validate).

libvirt's virt-host-validate knows every driver's needs in one program;
pyvirt asks each installed hypervisor driver instead, so a host checks what
its installed drivers need and a third-party driver brings its own checks.
Implemented by the object behind a ``pyvirt.hypervisor`` entry point (like
the state hooks), never by a connection: it runs without opening one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.util.host_validate import CheckResult


@hookspec(firstresult=True)
def host_validate() -> list[CheckResult]:
    """Check this host for what the driver needs. Optional.

    :returns: one :class:`pyvirt.util.host_validate.CheckResult` per check,
        in the order to print them, each PASS, WARN (a feature is missing)
        or FAIL (guests cannot run), with why and a fix for what is not a
        pass. Build them with :func:`pyvirt.util.host_validate.check_result`;
        :func:`pyvirt.util.system_deps.check_declared_programs` checks the
        programs the distribution's ``system-deps.toml`` declares. Look, do
        not change: host-validate never alters the host.

    A driver without this hook gets a check of its declared programs only.
    Stops at first non-None result.

    Added in contract 1.10.
    """
