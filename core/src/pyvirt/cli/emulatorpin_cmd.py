"""emulatorpin: virsh 9.0's cmdEmulatorPin, query and pin mode, line for line.

Without a cpulist it asks virDomainGetEmulatorPinInfo (the current
definition unless --live/--config says which) for a map as wide as the
host's CPU count and prints it as a CPU list; with one it pins through
virDomainPinEmulator, the running domain unless --config/--current says
otherwise, as virsh's defaults differ between the two modes.
"""

from __future__ import annotations

from pyvirt.cli.domain_stats_cmds import DOMAIN, PIN_OPTS, cpumap_of, host_cpu_count, parse_cpulist, pin_flags
from pyvirt.cli.framework import CommandError, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error
from pyvirt.flags import DomainModificationImpact

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

LIVE = DomainModificationImpact.LIVE


@command(
    "emulatorpin", "control or query domain emulator affinity",
    DOMAIN,
    *PIN_OPTS,
    description="Pin domain emulator threads to host physical CPUs.",
)  # fmt: skip
def cmd_emulatorpin(s: Session, o: dict[str, Any]) -> None:
    """cmdEmulatorPin: the emulator's CPU list, or pin it to the CPUs of ``cpulist``."""
    from pyvirt.conf.bitmap import format_bitmap

    flags = pin_flags(o)
    dom = get_domain(s, o["domain"])
    cpulist = o["cpulist"]
    try:
        maxcpu = host_cpu_count(dom)
    except Error as exc:
        raise CommandError(exc.message) from None
    if cpulist is None:
        maplen = (maxcpu + 7) // 8
        try:
            cpumap = dom.emulator_pin_info(maplen, flags)
        except Error as exc:
            raise CommandError(exc.message) from None
        s.extra("emulator: CPU Affinity")
        s.extra("----------------------------------")
        s.extra_raw("       *: ")
        # virBitmapDataFormat: every bit of the map virsh sized, even beyond the host's CPU count
        s.out(format_bitmap({c for c in range(len(cpumap) * 8) if cpumap[c // 8] & (1 << (c % 8))}))
        return
    # virshParseCPUList's map: VIR_CPU_MAPLEN(maxcpu) bytes
    pinmap = cpumap_of(parse_cpulist(cpulist, maxcpu), (maxcpu + 7) // 8)
    if not o["config"] and not o["live"] and not o["current"]:
        flags = LIVE  # virsh's pin-mode default: the running domain only
    try:
        dom.pin_emulator(pinmap, flags)
    except Error as exc:
        raise CommandError(exc.message) from None
