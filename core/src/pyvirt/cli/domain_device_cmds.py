"""``pyvirsh domblklist``, ``domiflist`` and ``domifaddr``: a domain's disks, NICs and their addresses.

Read from the domain XML (live, or ``--inactive``), with virsh's columns and
its choice of which source attribute to show, so the output is byte for
byte what virsh prints.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.table import print_table
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml import etree  # imported by the functions that parse, so parsing a line does not load lxml

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
_INACTIVE = Opt("inactive", "get inactive rather than running configuration", flag=True)


def _devices(s: Session, o: dict[str, Any], tag: str) -> list[etree._Element]:
    from lxml import etree

    dom = get_domain(s, o["domain"])
    doc = etree.fromstring(dom.xml_desc(_XML_INACTIVE if o["inactive"] else 0).encode())
    return list(doc.iterfind(f"devices/{tag}"))


def _first_attr(source: etree._Element | None, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` in document order: what virsh's XPath union ``string(@a|@b|...)`` gives."""
    if source is None:
        return None
    return next((str(value) for key, value in source.attrib.items() if key in names and value), None)


def _disk_source(disk: etree._Element) -> str:
    source = disk.find("source")
    if source is not None and source.get("pool") is not None:
        return f"{source.get('pool')}/{source.get('volume')}"
    return _first_attr(source, ("file", "dev", "dir", "name", "volume")) or "-"


@command("domblklist", "list all domain blocks", _DOMAIN, _INACTIVE,
         Opt("details", "additionally display the type and device value", flag=True))  # fmt: skip
def cmd_domblklist(s: Session, o: dict[str, Any]) -> None:
    rows = []
    for disk in _devices(s, o, "disk"):
        target = disk.find("target")
        row = [target.get("dev", "-") if target is not None else "-", _disk_source(disk)]
        if o["details"]:
            row = [disk.get("type", "-"), disk.get("device", "disk"), *row]
        rows.append(row)
    print_table(s, (["Type", "Device"] if o["details"] else []) + ["Target", "Source"], rows)


@command("domiflist", "list all domain virtual interfaces", _DOMAIN, _INACTIVE)
def cmd_domiflist(s: Session, o: dict[str, Any]) -> None:
    rows = []
    for nic in _devices(s, o, "interface"):
        src = _first_attr(nic.find("source"), ("bridge", "dev", "network", "name", "path"))
        target, model, mac = nic.find("target"), nic.find("model"), nic.find("mac")
        rows.append([
            target.get("dev", "-") if target is not None else "-",
            nic.get("type", "-"),
            src or "-",
            model.get("type", "-") if model is not None else "-",
            mac.get("address", "-") if mac is not None else "-",
        ])  # fmt: skip
    print_table(s, ["Interface", "Type", "Source", "Model", "MAC"], rows)


_SOURCES = {"lease": 0, "agent": 1, "arp": 2}


@command("domifaddr", "Get network interfaces' addresses for a running domain", _DOMAIN,
         Opt("interface", "network interface name"),
         Opt("full", "always display names and MACs of interfaces", flag=True),
         Opt("source", "address source: 'lease', 'agent', or 'arp'"))  # fmt: skip
def cmd_domifaddr(s: Session, o: dict[str, Any]) -> None:
    source = _SOURCES.get(o["source"] or "lease")
    if source is None:
        raise CommandError(f"Unknown data source '{o['source']}'")
    dom = get_domain(s, o["domain"])
    try:
        ifaces = dom.interface_addresses(source)
    except Error as exc:
        raise CommandError("Failed to query for interfaces addresses", exc.message) from None
    s.extra(f" {'Name':<10} {'MAC address':<20} {'Protocol':<8}     Address\n{'-' * 79}")
    for iface in ifaces:
        if o["interface"] and o["interface"] != iface.name:
            continue
        if not iface.addrs:
            s.out(f" {iface.name:<10} {iface.hwaddr or 'N/A':<17}    {'N/A':<12} N/A")
            continue
        for j, (kind, addr, prefix) in enumerate(iface.addrs):
            shown = f"{kind:<12} {addr}/{prefix}"
            if o["full"] or not j:
                s.out(f" {iface.name:<10} {iface.hwaddr:<17}    {shown}")
            else:
                s.out(f" {'-':<10} {'-':<17}    {shown}")
