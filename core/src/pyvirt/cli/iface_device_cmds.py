"""``pyvirsh attach-interface`` and ``detach-interface``: virsh's ``<interface>`` XML, then attach/detach-device.

virsh writes the interface element from its options (cmdAttachInterface)
or picks it out of the domain XML by ``--type`` and ``--mac``
(virshDomainDetachInterface) and hands it to the ordinary device calls, so
pyvirsh does the same on the client and any driver with attach/detach-device
gets both commands, with virsh's checks, wording and ``--print-xml``.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.domain import Domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
# virDomainNetType's names in libvirt 9.0: the ones virsh knows; only some it can build
_NET_TYPES = ("user", "ethernet", "vhostuser", "server", "client", "mcast", "network", "bridge", "internal",
              "direct", "hostdev", "udp", "vdpa", "null", "vds")  # fmt: skip
_SOURCE_MODES = ("server", "client")
_AFFECT_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
_AFFECT_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG
_RATE_FIELDS = ("average", "peak", "burst", "floor")


def _exclusive(o: dict[str, Any]) -> None:
    """VSH_EXCLUSIVE_OPTIONS_VAR for persistent/current, current/live, current/config, in virsh's order."""
    for a, b in (("persistent", "current"), ("current", "live"), ("current", "config")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")


def _rate(text: str) -> list[int]:
    """virshParseRateStr: up to four comma-separated unsigned numbers (average, peak, burst, floor)."""
    fields = text.split(",")
    if len(fields) > 4:
        raise CommandError(f"Rate string '{text}' has too many fields")
    values = [0, 0, 0, 0]
    for i, (name, field) in enumerate(zip(_RATE_FIELDS, fields, strict=False)):
        if field == "":
            continue
        body = field.lstrip(" \t\n\v\f\r")
        if not body.isascii() or not body.isdigit() or int(body) >= 2**64:  # virStrToLong_ullp: no sign
            raise CommandError(f"field '{name}' is malformed")
        values[i] = int(body)
    return values


def _hex_field(text: str, pos: int) -> tuple[int, int]:
    """virStrToLong_uip(base 16) with an end pointer: the hex prefix at ``pos`` and where it stops."""
    import string

    i = pos
    while i < len(text) and text[i] in " \t\n\v\f\r":
        i += 1
    if text[i : i + 1] == "+":
        i += 1
    if text[i : i + 2].lower() == "0x" and text[i + 2 : i + 3] in tuple(string.hexdigits):
        i += 2
    start = i
    while i < len(text) and text[i] in string.hexdigits:
        i += 1
    if i == start or int(text[start:i], 16) > 0xFFFFFFFF:
        raise ValueError(text)
    return int(text[start:i], 16), i


def _pci_source(source: str) -> str:
    """virshAddressParse("pci:SOURCE") then virshAddressFormat: four hex fields, each after one separator."""
    text = f"pci:{source}"
    pos = 3  # the ':' after "pci"
    fields = []
    try:
        for _ in range(4):
            if pos >= len(text):
                raise ValueError(text)
            value, pos = _hex_field(text, pos + 1)
            fields.append(value)
    except ValueError:
        raise CommandError(f"cannot parse pci address '{source}' for network interface") from None
    dom, bus, slot, fn = fields
    return (f"<source>\n    <address type='pci' domain='0x{dom:04x}' bus='0x{bus:02x}' slot='0x{slot:02x}' "
            f"function='0x{fn:x}'/>\n  </source>")  # fmt: skip


_DEVICE_OPTS = (
    Opt("persistent", "make live change persistent", flag=True),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)


@command("attach-interface", "attach network interface", _DOMAIN,
         Opt("type", "network interface type", required=True, positional=True),
         Opt("source", "source of network interface", required=True, positional=True),
         Opt("target", "target network name"), Opt("mac", "MAC address"),
         Opt("script", "script used to bridge network interface"), Opt("model", "model type"),
         Opt("alias", "custom alias name of interface device"),
         Opt("inbound", "control domain's incoming traffics"), Opt("outbound", "control domain's outgoing traffics"),
         *_DEVICE_OPTS,
         Opt("print-xml", "print XML document rather than attach the interface", flag=True),
         Opt("managed", "libvirt will automatically detach/attach the device from/to host", flag=True),
         Opt("source-mode", "mode attribute of <source/> element"),
         description="Attach new network interface.")  # fmt: skip
def cmd_attach_interface(s: Session, o: dict[str, Any]) -> None:
    """cmdAttachInterface: checks, the document, then (unless --print-xml) the domain and attach-device."""
    _exclusive(o)
    flags = (_AFFECT_CONFIG if o["config"] or o["persistent"] else 0) | (_AFFECT_LIVE if o["live"] else 0)
    for name in ("type", "source", "target", "mac", "script", "model", "alias", "inbound", "outbound",
                 "source-mode"):  # fmt: skip
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    kind, source = o["type"], o["source"]
    if kind not in _NET_TYPES:
        raise CommandError(f"No support for {kind} in command 'attach-interface'")
    mode = o["source-mode"]
    if mode is not None and mode not in _SOURCE_MODES:
        raise CommandError(f"Invalid source mode: {mode}")
    inbound = outbound = None
    if o["inbound"] is not None:
        inbound = _rate(o["inbound"])
        if not inbound[0] and not inbound[3]:
            raise CommandError("either inbound average or floor is mandatory")
    if o["outbound"] is not None:
        outbound = _rate(o["outbound"])
        if outbound[0] == 0:
            raise CommandError("outbound average is mandatory")
        if outbound[3]:
            raise CommandError("outbound floor is unsupported yet")
    lines = [f"<interface type='{kind}'" + (" managed='yes'>" if o["managed"] else ">")]
    if kind in ("network", "bridge"):
        lines.append(f"  <source {kind}='{source}'/>")
    elif kind == "direct":
        lines.append(f"  <source dev='{source}'/>")
    elif kind == "hostdev":
        lines.append("  " + _pci_source(source))
    elif kind == "vhostuser":
        if mode is None:
            raise CommandError("source-mode is mandatory")
        lines.append(f"  <source type='unix' path='{source}' mode='{mode}'/>")
    else:
        raise CommandError(f"No support for {kind} in command 'attach-interface'")
    for opt, element in (("target", "target dev"), ("mac", "mac address"), ("script", "script path"),
                         ("model", "model type"), ("alias", "alias name")):  # fmt: skip
        if o[opt] is not None:
            lines.append(f"  <{element}='{o[opt]}'/>")
    if inbound is not None or outbound is not None:
        lines.append("  <bandwidth>")
        if inbound is not None and (inbound[0] or inbound[3]):
            attrs = "".join(f" {n}='{v}'" for n, v in zip(_RATE_FIELDS, inbound, strict=True) if v > 0)
            lines.append(f"    <inbound{attrs}/>")
        if outbound is not None and outbound[0] > 0:
            attrs = "".join(f" {n}='{v}'" for n, v in zip(_RATE_FIELDS[:3], outbound[:3], strict=True) if v > 0)
            lines.append(f"    <outbound{attrs}/>")
        lines.append("  </bandwidth>")
    lines.append("</interface>")
    xml = "\n".join(lines) + "\n"
    if o["print-xml"]:
        s.out_raw(xml)
        return
    dom = get_domain(s, o["domain"])
    if o["persistent"] and dom.is_active():
        flags |= _AFFECT_LIVE
    try:
        # virDomainAttachDevice (no flags, not --current) is the live change
        dom.attach_device(xml, flags if flags or o["current"] else _AFFECT_LIVE)
    except Error as exc:
        raise CommandError("Failed to attach interface", exc.message) from None
    s.extra_raw("Interface attached successfully\n")


def _mac_compare(p: str, q: str) -> bool:
    """virMacAddrCompare() == 0: case-blind, leading zeros of each group ignored."""
    import string

    i = j = 0
    while True:
        while p[i : i + 1] == "0" and p[i + 1 : i + 2] in tuple(string.hexdigits):
            i += 1
        while q[j : j + 1] == "0" and q[j + 1 : j + 2] in tuple(string.hexdigits):
            j += 1
        c, d = p[i : i + 1].lower(), q[j : j + 1].lower()
        if not c or not d:
            return c == d
        if c != d:
            return False
        i, j = i + 1, j + 1


def _detach_one(s: Session, dom: Domain, doc: str, flags: int, o: dict[str, Any]) -> list[str]:
    """virshDomainDetachInterface: the one interface of the type (and MAC); errors as lines, [] when done."""
    from lxml import etree

    kind, mac = o["type"], o["mac"]
    nodes = [n for n in etree.fromstring(doc.encode()).iterfind("devices/interface") if n.get("type") == kind]
    if not nodes:
        return [f"No interface found whose type is {kind}"]
    match = None
    if mac is not None:
        for node in nodes:
            first = node.find("mac")
            found = first.get("address") if first is not None else None
            if found and _mac_compare(found, mac):
                if match is not None:
                    return [f"Domain has multiple interfaces matching MAC address {mac}. You must use detach-device "
                            "and specify the device pci address to remove it."]  # fmt: skip
                match = node
    else:
        if len(nodes) > 1:
            return [f"Domain has {len(nodes)} interfaces. Please specify which one to detach using --mac"]
        match = nodes[0]
    if match is None:
        return [f"No interface with MAC address {mac} was found"]
    text = etree.tostring(match, with_tail=False).decode()
    if o["print-xml"]:
        s.out_raw(text)
        return []
    try:
        dom.detach_device(text, flags if flags or o["current"] else _AFFECT_LIVE)
    except Error as exc:
        return ["Failed to detach interface", exc.message]
    return []


@command("detach-interface", "detach network interface", _DOMAIN,
         Opt("type", "network interface type", required=True, positional=True), Opt("mac", "MAC address"),
         *_DEVICE_OPTS, Opt("print-xml", "print XML document rather than detach the interface", flag=True),
         description="Detach network interface.")  # fmt: skip
def cmd_detach_interface(s: Session, o: dict[str, Any]) -> None:
    """cmdDetachInterface: the persistent definition first (with --config), then the live one."""
    _exclusive(o)
    dom = get_domain(s, o["domain"])
    for name in ("type", "mac"):
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty", "Failed to detach interface")
    affect_config = o["config"] or o["persistent"]
    if affect_config:
        errors = _detach_one(s, dom, dom.xml_desc(_XML_INACTIVE), _AFFECT_CONFIG, o)
        if errors:
            if errors[0] == "Failed to detach interface":
                raise CommandError(*errors)
            raise CommandError(*errors, "Failed to detach interface")
    affect_live = o["live"] or (o["persistent"] and dom.is_active())
    if affect_live or not affect_config:
        errors = _detach_one(s, dom, dom.xml_desc(0), _AFFECT_LIVE if affect_live else 0, o)
        if errors:
            if o["print-xml"] or errors[0] == "Failed to detach interface":
                raise CommandError(*errors)
            raise CommandError(*errors, "Failed to detach interface")
    if not o["print-xml"]:
        s.extra_raw("Interface detached successfully\n")
