"""The ``<capabilities>`` document, built as libvirt's libxlMakeCapabilities builds it, from ``xl info -n``.

libvirt asks libxl for the physinfo (host CPU: ``pae`` and the
architecture from the CPUID words in ``hw_caps``), the NUMA cells and CPU
topology, and Xen's capability string (``xen_caps``: one guest per
architecture and mode; Xen >= 4.10 adds a PVH guest beside each HVM one).
``xl info -n`` prints the same facts, so the document has libvirt's shape
with these differences, each because the fact is not there to give:

- the host CPU has no model, vendor or CPUID feature list: libvirt decodes
  them against its CPU map (cpuDecode), which pyvirt does not carry;
- a cell's memory is whole MiB (xl prints MiB, libxl has bytes);
- no ``<migration_features>``: pyvirt's Xen driver does not migrate.

The emulator and hvmloader paths are Debian's Xen layout
(``/usr/lib/xen-X.Y/...``), where libvirt's build hard-codes its
LIBXL_EXECBIN_DIR/LIBXL_FIRMWARE_DIR.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field

from pyvirt.conf.capabilities import (
    Capabilities,
    Cell,
    CellCpu,
    FeatureFlag,
    Guest,
    GuestDomain,
    GuestMachine,
    Host,
    HostCpu,
    Sibling,
    format_capabilities,
)
from pyvirt_xen.xl import XlError, parse_xl_info

__all__ = ["XenGuestArch", "capabilities_xml", "nested_virt_feature", "parse_xen_caps"]

# libxl_capabilities.h's XEN_CAP_REGEX
_XEN_CAP = re.compile(r"^(xen|hvm)-\d+\.\d+-(aarch64|armv7l|x86_32|x86_64|ia64|powerpc64)(p|be)?$")
_ARCHES = {"x86_32": "i686", "x86_64": "x86_64", "ia64": "ia64", "powerpc64": "ppc64", "armv7l": "armv7l",
           "aarch64": "aarch64"}  # fmt: skip
_WORDSIZE = {"i686": 32, "armv7l": 32}
PAE_MASK = 1 << 6  # CPUID 1 EDX, hw_caps word 0
LM_MASK = 1 << 29  # CPUID 0x80000001 EDX, hw_caps word 2
VMX_MASK = 1 << 5  # CPUID 1 ECX, hw_caps word 1
SVM_MASK = 1 << 2  # CPUID 0x80000001 ECX, hw_caps word 3


def nested_virt_feature(hw_caps: str) -> str:
    """The CPU feature ``nestedhvm = 0`` disables, from ``xl info``'s ``hw_caps``: libvirt's xenParseXLOS asks
    its host CPU for vmx, then svm, and says vmx when it has neither (or no host CPU at all)."""
    words = [int(w, 16) for w in hw_caps.split(":") if w]
    if len(words) > 1 and words[1] & VMX_MASK:
        return "vmx"
    if len(words) > 3 and words[3] & SVM_MASK:
        return "svm"
    return "vmx"


@dataclass
class XenGuestArch:
    """One guest the hypervisor can run: libxlCapsInitGuests' ``struct guest_arch``."""

    arch: str
    hvm: bool = False
    pvh: bool = False
    features: list[str] = field(default_factory=list)

    @property
    def os_type(self) -> str:
        return "hvm" if self.hvm else "xenpvh" if self.pvh else "xen"

    @property
    def machine(self) -> str:
        return "xenfv" if self.hvm else "xenpvh" if self.pvh else "xenpv"


def parse_xen_caps(xen_caps: str) -> list[XenGuestArch]:
    """``xen_caps`` ("xen-3.0-x86_64 hvm-3.0-x86_32p ..."), merged per (arch, mode) in libvirt's order."""
    guests: list[XenGuestArch] = []
    for token in xen_caps.split():
        m = _XEN_CAP.match(token)
        if m is None:
            continue
        mode, arch_name, suffix = m.groups()
        arch, hvm = _ARCHES[arch_name], mode == "hvm"
        feature = None
        if arch == "i686":
            feature = "pae" if suffix == "p" else "nonpae"
        elif arch == "ia64" and suffix == "be":
            feature = "ia64_be"
        found = next((g for g in guests if g.arch == arch and g.hvm == hvm and not g.pvh), None)
        if found is None:
            found = XenGuestArch(arch, hvm)
            guests.append(found)
            if hvm:  # WITH_XEN_PVH: a PVH guest beside each new HVM one
                guests.append(XenGuestArch(arch, pvh=True))
        if feature and feature not in found.features:
            found.features.append(feature)
    return guests


def _emulator(libdir: str) -> str:
    """Where libxl's device model is (a path the document names; nothing here runs it)."""
    return os.path.join(libdir, "bin", "qemu-system-i386")


def _guest(g: XenGuestArch, libdir: str) -> Guest:
    flags = [FeatureFlag(name=f) for f in ("pae", "nonpae", "ia64_be") if f in g.features]
    if g.hvm:
        flags += [FeatureFlag(name="acpi", default="on", toggle="yes"),
                  FeatureFlag(name="apic", default="on", toggle="no")]  # fmt: skip
    if g.hvm or g.pvh:
        flags.append(FeatureFlag(name="hap", default="on", toggle="yes"))
    return Guest(
        os_type=g.os_type,
        arch_name=g.arch,
        wordsize=_WORDSIZE.get(g.arch, 64),
        emulator=_emulator(libdir),
        machines=[GuestMachine(name=g.machine)],
        domains=[GuestDomain(type="xen")],
        features=flags or None,
    )


def _cells(text: str) -> list[Cell]:
    """libxlCapsInitNuma from ``xl info -n``'s cpu_topology and numa_info tables."""
    topo: list[tuple[int, int, int, int]] = []  # cpu, core, socket, node
    nodes: list[tuple[int, int, list[int]]] = []  # node, memsize MiB, distances
    section = ""
    for line in text.splitlines():
        if line[:1].isalpha():  # a "key : value" line or a table's title or header: tables start after titles
            key = line.split(":", 1)[0].strip()
            section = key if key in ("cpu_topology", "numa_info") else section if key in ("cpu", "node") else ""
            continue
        cols = line.replace(":", " ").split()
        if section == "cpu_topology" and len(cols) == 4:
            cpu, core, socket, node = (int(c) for c in cols)
            topo.append((cpu, core, socket, node))
        elif section == "numa_info" and len(cols) == 4:
            nodes.append((int(cols[0]), int(cols[1]), [int(d) for d in cols[3].split(",")]))
    if not nodes or not topo:
        raise XlError("cannot parse the output of 'xl info -n'", "no numa_info or cpu_topology")
    cells = []
    for node, mib, dists in nodes:
        cpus = [
            CellCpu(
                id=cpu, socket_id=socket, die_id=0, core_id=core,
                siblings=",".join(str(o) for o, oc, os_, on in topo if on == node and (oc, os_) == (core, socket)),
            )
            for cpu, core, socket, n in topo
            if n == node
        ]  # fmt: skip
        cells.append(
            Cell(
                id=node, memory_unit="KiB", memory_kib=mib * 1024,
                distances=[Sibling(id=j, value=v) for j, v in enumerate(dists)] or None,
                cpus_num=len(cpus), cpus=cpus,
            )
        )  # fmt: skip
    return cells


def capabilities_xml(info_n: str, machine: str | None = None) -> str:
    """The capabilities document of the host ``xl info -n`` describes."""
    info = parse_xl_info(info_n)
    hw = [int(w, 16) for w in info.get("hw_caps", "").split(":") if w]
    cpu = HostCpu()
    if hw and hw[0]:  # ARM reports no CPUID words: libvirt leaves <cpu> out
        cpu.arch = "x86_64" if len(hw) > 2 and hw[2] & LM_MASK else "i686"
        if hw[0] & PAE_MASK:
            cpu.features = [FeatureFlag(name="pae")]
    elif machine or platform.machine():
        cpu.arch = machine or platform.machine()
    cells = _cells(info_n)
    libdir = f"/usr/lib/xen-{info['xen_major']}.{info['xen_minor']}"
    guests = parse_xen_caps(info.get("xen_caps", ""))
    caps = Capabilities(
        host=Host(cpu=cpu, cells_num=len(cells), cells=cells),
        guests=[_guest(g, libdir) for g in guests] or None,
    )
    xml = format_capabilities(caps)
    # the model has no <loader>: an HVM guest's hvmloader follows its emulator, where libvirt writes it
    emulator = f"<emulator>{_emulator(libdir)}</emulator>\n"
    return xml.replace(
        f"{emulator}      <machine>xenfv</machine>",
        f"{emulator}      <loader>{libdir}/boot/hvmloader</loader>\n      <machine>xenfv</machine>",
    )
