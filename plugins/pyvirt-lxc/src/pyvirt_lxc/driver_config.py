"""``lxc.conf`` as typed settings (see :func:`pyvirt.local_driver.driver_config.load_driver_config`)."""

from __future__ import annotations

from typing import ClassVar

from pyvirt.local_driver.driver_config import ConfBool, SecuritySettings, load_driver_config

__all__ = ["LxcSettings", "load_lxc_settings"]


class LxcSettings(SecuritySettings):
    """libvirt's ``lxc.conf`` keys plus pyvirt's ``securebits_lock``.

    ``securebits_lock = 1`` keeps the capabilities a container is given on
    the ambient set and locks NOROOT and friends (pyvirt's addition: libvirt
    has no such switch and drops every capability the XML does not keep).
    ``security_default_confined`` defaults to 0 for containers, as
    pyvirt-lxc has always run them: libvirt's LXC driver reads the key but
    its AppArmor and SELinux support for containers is label-only.
    """

    # libvirt 9.0's src/lxc/lxc.conf.
    libvirt_keys: ClassVar[frozenset[str]] = frozenset(
        {"log_with_libvirtd", "security_default_confined", "security_driver", "security_require_confined"}
    )

    securebits_lock: ConfBool = False
    security_default_confined: ConfBool = False


def load_lxc_settings(path: str) -> LxcSettings:
    """``lxc.conf`` at ``path`` (missing: the defaults)."""
    return load_driver_config(path, LxcSettings)
