"""``pyvirsh ttyconsole``, ``domif-getlink`` and ``domif-setlink``: virsh's client-side readings of the domain XML.

virsh builds these three on calls every driver has (the domain XML and
update-device), so pyvirsh does the same on the client: the console's tty
and an interface's ``<link state>`` are read from the document, and the new
link state is sent as the interface's own ``<interface>`` element with its
``<link>`` set, as virsh's cmdDomIfSetLink does, so any driver with
update-device gets the command.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error
from pyvirt.plugin.typed_params import AFFECT_CONFIG, AFFECT_LIVE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml import etree  # imported by the functions that parse, so parsing a line does not load lxml

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
_INTERFACE = Opt("interface", "interface device (MAC Address)", required=True, positional=True)


def _normal_mac(text: str) -> str:
    """virMacAddrParse then virMacAddrFormat: six 1- or 2-digit hex groups, written lower-case; else ""."""
    parts = text.split(":")
    if len(parts) != 6 or any(not 1 <= len(p) <= 2 or any(c not in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return ""
    return ":".join(f"{int(p, 16):02x}" for p in parts)


@command("ttyconsole", "tty console", _DOMAIN)
def cmd_ttyconsole(s: Session, o: dict[str, Any]) -> None:
    """The first console's ``tty``; virsh fails without a word when there is none."""
    from lxml import etree

    doc = etree.fromstring(get_domain(s, o["domain"]).xml_desc(0).encode())
    tty = next((str(c.get("tty")) for c in doc.iterfind("devices/console") if c.get("tty")), "")
    if not tty:
        raise CommandError()
    s.out(tty)


@command("domif-getlink", "get link state of a virtual interface", _DOMAIN, _INTERFACE,
         Opt("config", "Get persistent interface state", flag=True, aliases=("persistent",)),
         description="Get link state of a domain's virtual interface.")  # fmt: skip
def cmd_domif_getlink(s: Session, o: dict[str, Any]) -> None:
    """The one interface whose MAC (normalized) or target dev is the argument; ``up`` when it has no ``<link>``."""
    from lxml import etree

    iface = o["interface"]
    doc = etree.fromstring(get_domain(s, o["domain"]).xml_desc(_XML_INACTIVE if o["config"] else 0).encode())
    mac = _normal_mac(iface)
    found = [n for n in doc.iterfind("devices/interface")
             if any(m.get("address") == mac for m in n.iterfind("mac"))
             or any(t.get("dev") == iface for t in n.iterfind("target"))]  # fmt: skip
    if not found:
        raise CommandError(f"Interface (mac: {mac}) not found." if mac else f"Interface (dev: {iface}) not found.")
    if len(found) > 1:
        raise CommandError("multiple matching interfaces found")
    link = found[0].find("link")
    state = link.get("state") if link is not None else None
    # vshPrint("%s %s") without a newline: virsh ends the command's line itself
    s.out_raw(f"{iface} {state or 'up'}")


@command("domif-setlink", "set link state of a virtual interface", _DOMAIN, _INTERFACE,
         Opt("state", "new state of the device", required=True, positional=True),
         Opt("config", "affect next boot", flag=True, aliases=("persistent",)),
         Opt("print-xml", "print XML document rather than set the interface link state", flag=True),
         description="Set link state of a domain's virtual interface. This command wraps usage of update-device "
                     "command.")  # fmt: skip
def cmd_domif_setlink(s: Session, o: dict[str, Any]) -> None:
    """virsh's order of checks, its case-blind match on MAC or target, then update-device with the element."""
    from lxml import etree

    dom = get_domain(s, o["domain"])
    iface, state = o["interface"], o["state"]
    if state not in ("up", "down"):
        raise CommandError(f"invalid link state '{state}'")
    flags = AFFECT_CONFIG if o["config"] else AFFECT_LIVE
    if not dom.is_active():
        flags = AFFECT_CONFIG
    doc = etree.fromstring(dom.xml_desc(_XML_INACTIVE if o["config"] else 0).encode())
    nodes = list(doc.iterfind("devices/interface"))
    if not nodes:
        raise CommandError("Failed to extract interface information or no interfaces found")
    wanted = iface.lower()
    node = next((n for n in nodes
                 if wanted and wanted in (_first(n, "mac", "address").lower(), _first(n, "target", "dev").lower())),
                None)  # fmt: skip
    if node is None:
        raise CommandError(f"interface '{iface}' not found")
    link = node.find("link")
    if link is None:
        link = etree.SubElement(node, "link")
    link.set("state", state)
    text = etree.tostring(node, with_tail=False).decode()
    if o["print-xml"]:
        s.out_raw(text)
        return
    try:
        dom.update_device(text, flags)
    except Error as exc:
        raise CommandError("Failed to update interface link state", exc.message) from None
    s.extra_raw("Device updated successfully\n")


def _first(node: etree._Element, tag: str, attr: str) -> str:
    """virXPathString("string(./tag/@attr)"): the first such child's attribute, "" when none."""
    child = node.find(tag)
    return str(child.get(attr, "")) if child is not None else ""
