"""``virsh capabilities`` for QEMU: the real host plus one guest per installed emulator.

Each ``qemu-system-*`` binary found on PATH contributes a ``<guest>`` with
the machine types it reported over QMP (the default first, canonical names,
and aliases such as ``pc`` pointing at them, as libvirt lists them), domain
types ``qemu`` always and ``kvm`` when ``/dev/kvm`` is usable, and libvirt's
guest features (ACPI, APIC, ...).
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


def _features(arch: str) -> list[FeatureFlag]:
    """libvirt's x86 guest features: ACPI on and switchable, the APIC always on; a 32-bit guest may use PAE."""
    pae = [FeatureFlag(name="pae"), FeatureFlag(name="nonpae")] if arch == "i686" else []
    return [*pae, FeatureFlag(name="acpi", default="on", toggle="yes"), FeatureFlag(name="apic", default="on", toggle="no"),
            FeatureFlag(name="cpuselection"), FeatureFlag(name="deviceboot"),
            FeatureFlag(name="disksnapshot", default="on", toggle="no")]  # fmt: skip


def _guest(caps: EmulatorCaps) -> Guest:
    machines: list[GuestMachine] = []
    # the default machine first, as libvirt lists it: virt-install takes the first one when no q35 is wanted
    for m in sorted(caps.machines, key=lambda m: not m.default):
        machines.append(GuestMachine(maxCpus=m.max_cpus, name=m.name))
        if m.alias:
            machines.append(GuestMachine(maxCpus=m.max_cpus, canonical=m.name, name=m.alias))
    domains = [GuestDomain(type="qemu")] + ([GuestDomain(type="kvm")] if caps.kvm else [])
    arch = "i686" if caps.arch == "i386" else caps.arch
    return Guest(os_type="hvm", arch_name=arch, wordsize=ARCHES.get(caps.arch, 64), emulator=caps.path,
                 machines=machines, domains=domains, features=_features(arch))  # fmt: skip


def capabilities_xml(cache_dir: str, secmodels: list[tuple[str, str]]) -> str:
    guests = [_guest(emulator_caps(path, cache_dir)) for path in installed_emulators()]
    return format_capabilities(Capabilities(host=host_description(secmodels), guests=guests or None))
