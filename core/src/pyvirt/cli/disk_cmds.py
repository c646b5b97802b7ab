"""attach-disk and detach-disk: virsh 9.0 writes the ``<disk>`` element, the driver's attach/detach does the rest.

``attach-disk`` builds the element from its options exactly as virsh's
cmdAttachDisk writes it (attribute order, quoting, escaping, address
forms), so ``--print-xml`` prints the same text and drivers receive the same
document; a source that is a block device becomes ``type='block'``.
``detach-disk`` finds the disk in the domain's XML by target or source, as
virshFindDisk does, and detaches that element as it stands in the document
(lxml keeps its indentation; libxml2 writes attributes with double quotes,
as lxml does). The API is the older virDomainAttachDevice/DetachDevice when
no option chose where, as virsh calls it.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.xml_text import escape_xml
from pyvirt.errors import Error, ErrorCode, InternalError
from pyvirt.flags import DomainDeviceModifyFlags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

LIVE, CONFIG = DomainDeviceModifyFlags.LIVE, DomainDeviceModifyFlags.CONFIG
_SOURCE_TYPES = ("", "file", "block", "network")  # virshAttachDiskSource
_ADDRESS_TYPES = ("pci", "sata", "ide", "scsi", "ccw", "usb")  # virshAddressType

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)


def _attrs(*pairs: tuple[str, str | None]) -> str:
    return "".join(f" {name}='{escape_xml(value)}'" for name, value in pairs if value is not None)


def _element(indent: str, name: str, attrs: str, children: list[str]) -> list[str]:
    """virXMLFormatElement: nothing when empty, ``<name .../>`` without children, else open, children, close."""
    if not attrs and not children:
        return []
    if not children:
        return [f"{indent}<{name}{attrs}/>"]
    return [f"{indent}<{name}{attrs}>", *children, f"{indent}</{name}>"]


def _numbers(text: str, bases: tuple[int, ...]) -> list[int] | None:
    """virStrToLong_uip/ullp in sequence: each number follows one separator character; the rest is ignored."""
    import re

    out = []
    pos = 0
    for base in bases:
        pos += 1  # ++a: the separator (the ':' first), whatever it is
        digits = "0-9a-fA-F" if base == 16 else "0-9"
        m = re.compile(rf"\s*\+?([{digits}]+)").match(text, pos)
        if m is None:
            return None
        out.append(int(m.group(1), base))
        pos = m.end()
    return out


def _address(straddr: str, target: str, multifunction: bool) -> str:
    """virshAddressParse, the target's bus check, and virshAddressFormat."""
    kind, colon, _rest = straddr.partition(":")
    if not colon or kind not in _ADDRESS_TYPES:
        raise CommandError("Invalid address.")
    body = straddr[len(kind) :]
    bases = {"pci": (16, 16, 16, 16), "ccw": (16, 16, 16), "usb": (10, 10)}.get(kind, (10, 10, 10))
    values = _numbers(body, bases)
    if values is None:
        raise CommandError("Invalid address.")
    if target.startswith("vd") and kind not in ("pci", "ccw"):
        raise CommandError("expecting a pci:0000.00.00.00 or ccw:00.0.0000 address.")
    if target.startswith("sd") and kind not in ("scsi", "usb", "sata"):
        raise CommandError("expecting a scsi:00.00.00 or usb:00.00 or sata:00.00.00 address.")
    if target.startswith("hd") and kind != "ide":
        raise CommandError("expecting an ide:00.00.00 address.")
    if kind == "pci":
        d, b, s, f = values
        more = " multifunction='on'" if multifunction else ""
        return f"<address type='pci' domain='0x{d:04x}' bus='0x{b:02x}' slot='0x{s:02x}' function='0x{f:x}'{more}/>"
    if kind == "ccw":
        c, ss, dev = values
        return f"<address type='ccw' cssid='0x{c:02x}' ssid='0x{ss:01x}' devno='0x{dev:04x}'/>"
    if kind == "usb":
        return f"<address type='usb' bus='{values[0]}' port='{values[1]}'/>"
    return f"<address type='drive' controller='{values[0]}' bus='{values[1]}' unit='{values[2]}'/>"


def _valid_wwn(wwn: str) -> bool:
    """virValidateWWN: 16 hex digits, optionally after 0x."""
    digits = wwn[2:] if wwn.startswith("0x") else wwn
    return len(digits) == 16 and all(c in "0123456789abcdefABCDEF" for c in digits)


def _is_block_device(path: str) -> bool:
    import os
    import stat

    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def disk_xml(o: dict[str, Any]) -> str:
    """cmdAttachDisk's ``<disk>`` element for these options (virsh's checks, in virsh's order)."""
    for needs, needed in (("source-host-name", "source-protocol"), ("source-host-transport", "source-protocol"),
                          ("source-host-socket", "source-protocol"), ("source-host-socket", "source-host-transport")):  # fmt: skip
        if o[needs] is not None and o[needed] is None:
            raise CommandError(f"Option --{needed} is required by option --{needs}")
    if o["source-host-name"] is not None and o["source-host-socket"] is not None:
        raise CommandError("Options --source-host-name and --source-host-socket are mutually exclusive")
    stype = o["sourcetype"]
    source, protocol, driver = o["source"], o["source-protocol"], o["driver"]
    if stype is not None and stype not in _SOURCE_TYPES:
        raise CommandError(f"Unknown source type: '{stype}'")
    kind = stype or ""
    if not kind:
        if protocol is not None:
            kind = "network"
        elif driver not in ("file", "tap") and source and _is_block_device(source):
            kind = "block"
        else:
            kind = "file"
    if (kind == "network") != (protocol is not None):
        raise CommandError("--source-protocol option requires --sourcetype network")
    mode = o["mode"]
    if mode is not None and mode not in ("readonly", "shareable"):
        raise CommandError(f"No support for {mode} in command 'attach-disk'")
    wwn = o["wwn"]
    if wwn is not None and not _valid_wwn(wwn):
        raise CommandError(InternalError(ErrorCode.INTERNAL_ERROR, f"Malformed wwn: {wwn}").message)
    attrs = f" type='{kind}'" + _attrs(("device", o["type"])) + (" rawio='yes'" if o["rawio"] else "")
    children = _element("  ", "driver", _attrs(("name", driver), ("type", o["subdriver"]), ("iothread", o["iothread"]),
                                               ("cache", o["cache"]), ("io", o["io"])), [])  # fmt: skip
    if kind == "file":
        children += _element("  ", "source", _attrs(("file", source)), [])
    elif kind == "block":
        children += _element("  ", "source", _attrs(("dev", source)), [])
    else:
        host_name, port = o["source-host-name"], None
        if host_name is not None and ":" in host_name:
            host_name, _, port = host_name.partition(":")
        host = _element("    ", "host", _attrs(("transport", o["source-host-transport"]),
                                              ("socket", o["source-host-socket"]), ("name", host_name),
                                              ("port", port)), [])  # fmt: skip
        children += _element("  ", "source", _attrs(("protocol", protocol), ("name", source)), host)
    bus = f" bus='{o['targetbus']}'" if o["targetbus"] is not None else ""
    children.append(f"  <target dev='{o['target']}'{bus}/>")
    if mode is not None:
        children.append(f"  <{mode}/>")
    if o["serial"] is not None:
        children.append(f"  <serial>{o['serial']}</serial>")
    if o["alias"] is not None:
        children.append(f"  <alias name='{o['alias']}'/>")
    if wwn is not None:
        children.append(f"  <wwn>{wwn}</wwn>")
    if o["address"] is not None:
        children.append("  " + _address(o["address"], o["target"], bool(o["multifunction"])))
    return "\n".join(_element("", "disk", attrs, children)) + "\n"


def _flags(o: dict[str, Any]) -> int:
    if o["persistent"] and o["current"]:
        raise CommandError("Options --persistent and --current are mutually exclusive")
    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    return (CONFIG if o["config"] or o["persistent"] else 0) | (LIVE if o["live"] else 0)


_STRING_OPTIONS = ("targetbus", "driver", "subdriver", "iothread", "cache", "io", "type", "mode", "sourcetype",
                   "serial", "wwn", "alias", "address", "source-protocol", "source-host-name",
                   "source-host-transport", "source-host-socket")  # fmt: skip


@command(
    "attach-disk", "attach disk device",
    DOMAIN,
    Opt("source", "source of disk device or name of network disk", required=True, positional=True),
    Opt("target", "target of disk device", required=True, positional=True),
    *(Opt(name, positional=True, kind="optstring") for name in _STRING_OPTIONS[:12]),
    Opt("rawio", "needs rawio capability", flag=True),
    Opt("address", positional=True, kind="optstring"),
    Opt("multifunction", "use multifunction pci under specified address", flag=True),
    Opt("print-xml", "print XML document rather than attach the disk", flag=True),
    *(Opt(name, positional=True, kind="optstring") for name in _STRING_OPTIONS[13:]),
    Opt("persistent", "make live change persistent", flag=True),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)  # fmt: skip
def cmd_attach_disk(s: Session, o: dict[str, Any]) -> None:
    flags = _flags(o)
    xml = disk_xml(o)
    if o["print-xml"]:
        s.out_raw(xml)
        return
    dom = get_domain(s, o["domain"])
    try:
        if o["persistent"] and dom.is_active():
            flags |= LIVE
        dom.attach_device(xml, flags)  # flags 0 and no --current: virDomainAttachDevice
    except Error as exc:
        raise CommandError("Failed to attach disk", exc.message) from None
    s.extra("Disk attached successfully")


def find_disk(doc: str, path: str) -> str:
    """virshFindDisk: the ``<disk>`` whose target or source is ``path``, as written in ``doc``, without backing stores."""
    from lxml import etree

    try:
        root = etree.fromstring(doc.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        raise CommandError("Failed to get disk information") from None
    disks = root.findall("./devices/disk")
    if not disks:
        raise CommandError("Failed to get disk information")
    for disk in disks:
        source = disk.find("source")
        target = disk.find("target")
        candidates = [target.get("dev") if target is not None else None]
        if source is not None:
            candidates += [source.get(a) for a in ("file", "dev", "dir", "name")]
        if path in candidates:
            for backing in disk.findall("backingStore"):
                disk.remove(backing)
            return etree.tostring(disk, encoding="unicode", with_tail=False)
    raise CommandError(f"No disk found whose source path or target is {path}")


@command(
    "detach-disk", "detach disk device",
    DOMAIN,
    Opt("target", "target of disk device", required=True, positional=True),
    Opt("persistent", "make live change persistent", flag=True),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
    Opt("print-xml", "print XML document rather than detach the disk", flag=True),
)  # fmt: skip
def cmd_detach_disk(s: Session, o: dict[str, Any]) -> None:
    flags = _flags(o)
    dom = get_domain(s, o["domain"])
    try:
        doc = dom.xml_desc(_XML_INACTIVE if flags == CONFIG else 0)  # the persistent definition for --config alone
        if o["persistent"] and dom.is_active():
            flags |= LIVE
    except Error as exc:
        raise CommandError(exc.message) from None
    xml = find_disk(doc, o["target"])
    if o["print-xml"]:
        s.out_raw(xml)
        return
    try:
        dom.detach_device(xml, flags)
    except Error as exc:
        raise CommandError("Failed to detach disk", exc.message) from None
    s.extra("Disk detached successfully")
