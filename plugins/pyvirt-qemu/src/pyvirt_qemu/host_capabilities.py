"""``virsh capabilities`` for QEMU: the real host plus one guest per installed emulator.

Each ``qemu-system-*`` binary found on PATH contributes a ``<guest>`` with
the machine types it reported over QMP (canonical names, and aliases such as
``pc`` pointing at them, as libvirt lists them), and domain types ``qemu``
always and ``kvm`` when ``/dev/kvm`` is usable.
"""

from __future__ import annotations

import shutil

from pyvirt.conf.capabilities import Capabilities, FeatureFlag, Guest, GuestDomain, GuestMachine, format_capabilities
from pyvirt.util.host_topology import host_description
from pyvirt_qemu.emulator_caps import EmulatorCaps, emulator_caps

__all__ = ["ARCHES", "capabilities_xml", "installed_emulators"]

# (architecture, word size) for the emulators this driver knows how to run
ARCHES = {"x86_64": 64, "i386": 32}


def installed_emulators() -> list[str]:
    return [path for arch in ARCHES if (path := shutil.which(f"qemu-system-{arch}"))]


def _guest(caps: EmulatorCaps) -> Guest:
    machines: list[GuestMachine] = []
    for m in caps.machines:
        machines.append(GuestMachine(maxCpus=m.max_cpus, name=m.name))
        if m.alias:
            machines.append(GuestMachine(maxCpus=m.max_cpus, canonical=m.name, name=m.alias))
    domains = [GuestDomain(type="qemu")] + ([GuestDomain(type="kvm")] if caps.kvm else [])
    arch = "i686" if caps.arch == "i386" else caps.arch
    return Guest(os_type="hvm", arch_name=arch, wordsize=ARCHES.get(caps.arch, 64), emulator=caps.path,
                 machines=machines, domains=domains,
                 features=[FeatureFlag(name="cpuselection"), FeatureFlag(name="deviceboot")])  # fmt: skip


def capabilities_xml(cache_dir: str, secmodels: list[tuple[str, str]]) -> str:
    guests = [_guest(emulator_caps(path, cache_dir)) for path in installed_emulators()]
    return format_capabilities(Capabilities(host=host_description(secmodels), guests=guests or None))
