"""The host's physical NICs as interfaces (libvirt's esx_interface_driver.c).

Each physical NIC (``vmnic0``...) is an always-active ethernet interface,
started at boot, with its IPv4 setting when it has one: DHCP and/or an
address with its prefix (the address is left out of the inactive XML when
DHCP assigns it). libvirt's esxInterfaceLookupByName looks the *name* up as
a MAC address, so ``iface-dumpxml vmnic0`` fails there; here the name is
the device name, as virInterfaceLookupByName documents.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from xml.sax.saxutils import escape

from pyvirt.errors import ErrorCode
from pyvirt.flags import InterfaceXMLFlags
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import InterfaceRef
from pyvirt_esx.vsphere import Session, esx_error

__all__ = ["PhysicalNics", "interface_xml"]

XML_INACTIVE = InterfaceXMLFlags.INACTIVE


class PhysicalNics:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _nics(self) -> list[Any]:
        """The host's ``config.network.pnic``, the property libvirt's esxVI_LookupPhysicalNicList reads."""
        return list(self.session.property(self.session.host, "config.network.pnic") or [])

    def list_all(self) -> list[InterfaceRef]:
        return sorted((InterfaceRef(str(n.device), str(n.mac)) for n in self._nics()), key=lambda r: r.name)

    def _find(self, name: str) -> Any:
        for nic in self._nics():
            if nic.device == name:
                return nic
        raise esx_error(ErrorCode.NO_INTERFACE, f"Could not find physical NIC with name '{name}'")

    def lookup_by_name(self, name: str) -> InterfaceRef:
        nic = self._find(name)
        return InterfaceRef(str(nic.device), str(nic.mac))

    def xml(self, iface: InterfaceRef, flags: int) -> str:
        check_flags(flags, XML_INACTIVE, "esxInterfaceGetXMLDesc")
        return interface_xml(self._find(iface.name), flags)


def interface_xml(nic: Any, flags: int) -> str:
    """esxInterfaceGetXMLDesc for one ``vim.host.PhysicalNic``, in virInterfaceDefFormat's layout."""
    name = escape(str(nic.device), {"'": "&apos;"})
    out = [f"<interface type='ethernet' name='{name}'>\n", "  <start mode='onboot'/>\n",
           f"  <mac address='{nic.mac}'/>\n"]  # fmt: skip
    ip = nic.spec.ip if nic.spec is not None else None
    if ip is not None:
        dhcp = bool(ip.dhcp)
        has_address = bool(ip.ipAddress) and bool(ip.subnetMask)
        if dhcp or has_address:
            lines = ["    <dhcp/>\n"] if dhcp else []
            if has_address and not (dhcp and flags & XML_INACTIVE):  # a DHCP lease is not configuration
                prefix = ipaddress.IPv4Network(f"0.0.0.0/{ip.subnetMask}").prefixlen
                lines.append(f"    <ip address='{ip.ipAddress}' prefix='{prefix}'/>\n")
            out += ["  <protocol family='ipv4'>\n", *lines, "  </protocol>\n"]
    out.append("</interface>\n")
    return "".join(out)
