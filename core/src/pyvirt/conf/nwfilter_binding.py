"""Filter binding XML (``<filterbinding>``): one filter applied to one guest port (``virnwfilterbindingdef.c``)."""

from __future__ import annotations

from pyvirt.conf.nwfilter_values import escape, format_mac, format_params, parse_mac, parse_params, parse_uuid
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError

__all__ = ["Binding", "format_binding", "parse_binding"]


def _error(detail: str) -> Error:
    return InternalError(ErrorCode.INTERNAL_ERROR, detail, domain=ErrorDomain.NWFILTER)


class Binding:
    """A ``<filterbinding>``: a filter applied to one guest port (``virNWFilterBindingDef``)."""

    def __init__(self, owner_name: str, owner_uuid: str, portdev: str, linkdev: str | None, mac: bytes,
                 filter: str, params: dict[str, list[str]]) -> None:  # fmt: skip
        self.owner_name = owner_name
        self.owner_uuid = owner_uuid
        self.portdev = portdev
        self.linkdev = linkdev
        self.mac = mac
        self.filter = filter
        self.params = params


def parse_binding(xml: str | bytes) -> Binding:
    """``virNWFilterBindingDefParse``."""
    root = parse_xml(xml, "filterbinding", "(nwfilterbinding_definition)")

    def text(path: str) -> str | None:
        found = root.xpath(f"string({path})")
        return str(found) if root.xpath(f"boolean({path})") else None

    def required(path: str, what: str) -> str:
        """Each missing part is its own error, in libvirt's order: the first one missing is reported."""
        value = text(path)
        if value is None:
            raise _error(f"filter binding has no {what}")
        return value

    portdev = required("./portdev/@name", "port dev name")
    linkdev = required("./linkdev/@name", "link dev name") if root.find("linkdev") is not None else None
    owner = required("./owner/name", "owner name")
    owner_uuid_s = required("./owner/uuid", "owner UUID")
    owner_uuid = parse_uuid(owner_uuid_s)
    if owner_uuid is None:
        raise _error(f"Unable to parse UUID '{owner_uuid_s}'")
    mac_s = required("./mac/@address", "MAC address")
    mac = parse_mac(mac_s)
    if mac is None:
        raise _error(f"Unable to parse MAC '{mac_s}'")
    filter_name = text("./filterref/@filter")
    ref = root.find("filterref")
    if filter_name is None or ref is None:
        raise _error("filter binding has no filter reference")
    return Binding(owner, owner_uuid, portdev, linkdev, mac, filter_name, parse_params(ref))


def format_binding(binding: Binding) -> str:
    """``virNWFilterBindingDefFormatBuf``."""
    lines = ["<filterbinding>", "  <owner>", f"    <name>{escape(binding.owner_name)}</name>",
             f"    <uuid>{binding.owner_uuid}</uuid>", "  </owner>", f"  <portdev name='{escape(binding.portdev)}'/>"]  # fmt: skip
    if binding.linkdev is not None:
        lines.append(f"  <linkdev name='{escape(binding.linkdev)}'/>")
    lines.append(f"  <mac address='{format_mac(binding.mac)}'/>")
    lines.extend(format_params(binding.filter, binding.params, "  "))
    lines.append("</filterbinding>")
    return "\n".join(lines) + "\n"


# the protocol elements, re-exported for the firewall translation (libvirt's virAttr[] order)
