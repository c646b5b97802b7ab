"""setvcpu and detach-device-alias: virsh 9.0's cmdSetvcpu and cmdDetachDeviceAlias line for line.

Both take --config/--live/--current as virsh does (--current excludes the
other two); setvcpu needs exactly one of --enable and --disable.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_AFFECT_LIVE = 1  # VIR_DOMAIN_AFFECT_LIVE
_AFFECT_CONFIG = 2  # VIR_DOMAIN_AFFECT_CONFIG
_IMPACT = (
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)


def _impact(o: dict[str, Any]) -> int:
    """VSH_EXCLUSIVE_OPTIONS(current, live / config), then the AFFECT flags."""
    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    return (_AFFECT_CONFIG if o["config"] else 0) | (_AFFECT_LIVE if o["live"] else 0)


@command(
    "setvcpu", "attach/detach vcpu or groups of threads",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("vcpulist", "ids of vcpus to manipulate", required=True, positional=True),
    Opt("enable", "enable cpus specified by cpumap", flag=True),
    Opt("disable", "disable cpus specified by cpumap", flag=True),
    *_IMPACT,
    description="Add or remove vcpus",
)  # fmt: skip
def cmd_setvcpu(s: Session, o: dict[str, Any]) -> None:
    """cmdSetvcpu: the options checked before the lookup, then virDomainSetVcpu; no output on success."""
    if o["enable"] and o["disable"]:
        raise CommandError("Options --enable and --disable are mutually exclusive")
    flags = _impact(o)
    if not (o["enable"] or o["disable"]):
        raise CommandError("one of --enable, --disable is required")
    if o["vcpulist"] == "":
        raise CommandError("Failed to get option 'vcpulist': Option argument is empty")
    dom = get_domain(s, o["domain"])
    dom.set_vcpu(o["vcpulist"], 1 if o["enable"] else 0, flags)


@command(
    "detach-device-alias", "detach device from an alias",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("alias", "device alias", required=True, positional=True),
    *_IMPACT,
    description="Detach device identified by the given alias from a domain",
)  # fmt: skip
def cmd_detach_device_alias(s: Session, o: dict[str, Any]) -> None:
    """cmdDetachDeviceAlias: virsh's own line on failure; the request sent is reported as extra output."""
    flags = _impact(o)
    dom = get_domain(s, o["domain"])
    if o["alias"] == "":
        raise CommandError("Failed to get option 'alias': Option argument is empty")
    try:
        dom.detach_device_alias(o["alias"], flags)
    except Error as exc:
        raise CommandError(f"Failed to detach device with alias {o['alias']}", exc.message) from None
    s.extra("Device detach request sent successfully")
