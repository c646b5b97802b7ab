"""setmem, setmaxmem and setvcpus: the APIs virsh 9.0 calls, with its flags and its words.

virsh's choices are kept because scripts (and the drivers' flag checks)
depend on them: ``setmem`` always calls virDomainSetMemoryFlags, with
VIR_DOMAIN_AFFECT_LIVE when no option says otherwise; ``setmaxmem`` calls it
with VIR_DOMAIN_MEM_MAXIMUM added and reports "Unable to change
MaxMemorySize" first on failure; ``setvcpus`` calls the older
virDomainSetVcpus when no option is given. Sizes are scaled integers in KiB
by default, rounded up to whole KiB as virsh rounds them.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error
from pyvirt.plugin.typed_params import AFFECT_CONFIG, AFFECT_LIVE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["cmd_setmaxmem", "cmd_setmem", "cmd_setvcpus"]

# virDomainMemoryModFlags and virDomainVcpuFlags (pyvirt.flags has them; not loaded by a short run)
MEM_MAXIMUM = 1 << 2  # VIR_DOMAIN_MEM_MAXIMUM
VCPU_MAXIMUM = 1 << 2  # VIR_DOMAIN_VCPU_MAXIMUM
VCPU_GUEST = 1 << 3  # VIR_DOMAIN_VCPU_GUEST
VCPU_HOTPLUGGABLE = 1 << 4  # VIR_DOMAIN_VCPU_HOTPLUGGABLE
# vshCommandOptScaledInt's limit for an unsigned long of KiB on a 64-bit host
_MAX_BYTES = 2**64 - 1

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
CONFIG = Opt("config", "affect next boot", flag=True)
LIVE = Opt("live", "affect running domain", flag=True)
CURRENT = Opt("current", "affect current domain", flag=True)


def _exclusive(o: dict[str, Any], *pairs: tuple[str, str]) -> None:
    """VSH_EXCLUSIVE_OPTIONS_VAR, checked before anything is looked up."""
    for a, b in pairs:
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")


@command(
    "setmem", "change memory allocation",
    DOMAIN,
    Opt("size", "new memory size, as scaled integer (default KiB)", required=True, positional=True, kind="intstring",
        aliases=("kilobytes",)),
    CONFIG, LIVE, CURRENT,
    description="Change the current memory allocation in the guest domain.",
)  # fmt: skip
def cmd_setmem(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"))
    flags = AFFECT_LIVE
    if o["config"] or o["live"] or o["current"]:
        flags = (AFFECT_CONFIG if o["config"] else 0) | (AFFECT_LIVE if o["live"] else 0)
    dom = get_domain(s, o["domain"])
    kib = _kib_of(o["size"])
    try:
        dom.set_memory(kib, flags)
    except Error as exc:
        raise CommandError(exc.message) from None


@command(
    "setmaxmem", "change maximum memory limit",
    DOMAIN,
    Opt("size", "new maximum memory size, as scaled integer (default KiB)", required=True, positional=True,
        kind="intstring", aliases=("kilobytes",)),
    CONFIG, LIVE, CURRENT,
    description="Change the maximum memory allocation limit in the guest domain.",
)  # fmt: skip
def cmd_setmaxmem(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"))
    flags = (AFFECT_CONFIG if o["config"] else 0) | (AFFECT_LIVE if o["live"] else 0)
    dom = get_domain(s, o["domain"])
    kib = _kib_of(o["size"])
    try:
        dom.set_memory(kib, flags | MEM_MAXIMUM)
    except Error as exc:
        raise CommandError("Unable to change MaxMemorySize", exc.message) from None


@command(
    "setvcpus", "change number of virtual CPUs",
    DOMAIN,
    Opt("count", "number of virtual CPUs", required=True, positional=True, kind="intstring"),
    Opt("maximum", "set maximum limit on next boot", flag=True),
    CONFIG, LIVE, CURRENT,
    Opt("guest", "modify cpu state in the guest", flag=True),
    Opt("hotpluggable", "make added vcpus hot(un)pluggable", flag=True),
    description="Change the number of virtual CPUs in the guest domain.",
)  # fmt: skip
def cmd_setvcpus(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"), ("guest", "config"))
    if o["maximum"] and not o["config"]:
        raise CommandError("Option --config is required by option --maximum")
    flags = ((AFFECT_CONFIG if o["config"] else 0) | (AFFECT_LIVE if o["live"] else 0)
             | (VCPU_GUEST if o["guest"] else 0) | (VCPU_MAXIMUM if o["maximum"] else 0)
             | (VCPU_HOTPLUGGABLE if o["hotpluggable"] else 0))  # fmt: skip
    dom = get_domain(s, o["domain"])
    raw = str(o["count"])
    if not raw.isdigit() or int(raw) > 2**32 - 1:
        raise CommandError(f"Numeric value '{raw}' for <count> option is malformed or out of range")
    count = int(raw)
    if count == 0:
        raise CommandError("Can't set 0 processors for a VM")
    try:
        dom.set_vcpus(count, flags)  # no option at all: flags 0, the older virDomainSetVcpus
    except Error as exc:
        raise CommandError(exc.message) from None


def _kib_of(raw: str) -> int:
    """vshCommandOptScaledInt with scale 1024 (a bare number is KiB), then VIR_DIV_UP to whole KiB."""
    from pyvirt.cli.framework import _scaled

    text = str(raw)
    size = int(text) * 1024 if text.isdigit() else _scaled("size", text)
    if size > _MAX_BYTES:
        raise CommandError(f"Scaled numeric value '{text}' for <size> option is malformed or out of range")
    return -(-size // 1024)
