"""The host's capabilities document, as libvirt's esxCapsInit builds it from the host system.

What libvirt's ESX driver says of a host: its BIOS UUID, its architecture
(x86_64 when the CPU has long mode, read from the CPUID leaf 0x80000001 the
host reports, else i686), live migration over ``vpxmigr``, and one guest per
architecture, all of domain type ``vmware``. Nothing else: no CPU model, no
topology, no security model.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from lxml import etree

from pyvirt.conf.capabilities import Capabilities, Guest, GuestDomain, Host, HostCpu
from pyvirt.conf.xmlmodel import format_model
from pyvirt.conf.xmlwriter import to_string
from pyvirt.errors import ErrorCode
from pyvirt_esx.vsphere import Session, esx_error

__all__ = ["capabilities_xml", "supports_long_mode"]

_EXTENDED_FEATURES = -2147483647  # CPUID leaf 0x80000001 as vSphere's signed 32-bit level
_NO_UUID = "00000000-0000-0000-0000-000000000000"


def supports_long_mode(cpu_features: list[Any]) -> bool:
    """Bit 29 of EDX in CPUID leaf 0x80000001 (esxSupportsLongMode).

    vSphere writes each register as 32 characters, bit 31 first, in groups
    of four separated by ``:``; libvirt reads the character of bit 29.
    """
    for info in cpu_features:
        if int(info.level) != _EXTENDED_FEATURES:
            continue
        edx = str(info.edx or "")
        bits = edx.replace(":", "")
        if len(edx) != 39 or len(bits) != 32:
            raise esx_error(ErrorCode.INTERNAL_ERROR, "HostCpuIdInfo register 'edx' has an unexpected length")
        bit = bits[31 - 29]
        if bit not in "01":
            raise esx_error(ErrorCode.INTERNAL_ERROR, "Bit 29 (Long Mode) of HostSystem property "
                            f"'hardware.cpuFeature[].edx' with value '{edx}' has unexpected value '{bit}', "
                            "expecting '0' or '1'")  # fmt: skip
        return bit == "1"
    # libvirt's driver then fails to open the connection without a word; here the capabilities call says why
    raise esx_error(ErrorCode.INTERNAL_ERROR, "The host reports no CPUID leaf 0x80000001: cannot tell its architecture")


def _host_uuid(text: str) -> str:
    """The host's BIOS UUID; an empty or unparsable one is all zeros, as in libvirt."""
    try:
        return str(uuid_module.UUID(text)) if text else _NO_UUID
    except ValueError:
        return _NO_UUID


def capabilities_xml(session: Session) -> str:
    props = session.properties(session.host, ["hardware.cpuFeature", "hardware.systemInfo.uuid"])
    long_mode = supports_long_mode(list(props.get("hardware.cpuFeature") or []))
    arches = [("i686", 32), ("x86_64", 64)] if long_mode else [("i686", 32)]
    caps = Capabilities(
        host=Host(uuid=_host_uuid(str(props.get("hardware.systemInfo.uuid") or "")),
                  cpu=HostCpu(arch="x86_64" if long_mode else "i686"), power_management=True, iommu_support=False,
                  migration_features=True, migration_live=True),
        guests=[Guest(os_type="hvm", arch_name=arch, wordsize=size, domains=[GuestDomain(type="vmware")])
                for arch, size in arches],
    )  # fmt: skip
    root = etree.Element("capabilities")
    format_model(caps, root)
    # the migration transport libvirt's driver names (core's capabilities model has no element for it)
    features = root.find("host/migration_features")
    assert features is not None  # migration_features=True above
    transports = etree.SubElement(features, "uri_transports")
    etree.SubElement(transports, "uri_transport").text = "vpxmigr"
    lines = to_string(root).split("\n")
    out: list[str] = []
    for line in lines:  # libvirt's blank lines after <capabilities> and after each top-level section
        out.append(line)
        if line in ("<capabilities>", "  </host>", "  </guest>"):
            out.append("")
    return "\n".join(out)
