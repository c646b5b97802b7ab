"""``pyvirsh iface-bridge`` and ``iface-unbridge``: virsh's checks of the host interface XML, then its calls.

virsh builds both on the interface calls (lookup, XML, define, destroy,
undefine). pyvirt's drivers have lookup and XML but no interface define or
destroy hook yet, so these commands make every check virsh makes on the
interface documents, in its order and words, and then fail where virsh's
next call would: with virsh's line for that call and libvirt's
not-supported error naming it.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.nosupport import not_supported
from pyvirt.errors import Error
from pyvirt.interface import Interface

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml import etree  # imported by the functions that parse, so parsing a line does not load lxml

__all__: list[str] = []

_XML_INACTIVE = 1 << 0  # VIR_INTERFACE_XML_INACTIVE


def _lookup(s: Session, name: str) -> Interface:
    try:
        return s.conn.lookup_interface_by_name(name)
    except Error as exc:
        raise CommandError(f"failed to get interface '{name}'", exc.message) from None


def _top(iface: Interface, name: str) -> etree._Element:
    """The interface's inactive definition, parsed; virsh's line when it does not parse."""
    from lxml import etree

    try:
        text = iface.xml_desc(_XML_INACTIVE)
    except Error as exc:
        raise CommandError(exc.message) from None
    try:
        return etree.fromstring(text.encode())
    except etree.XMLSyntaxError:
        raise CommandError(f"Failed to parse configuration of {name}") from None


def _name_matches(top: etree._Element, name: str) -> None:
    found = top.get("name")
    if found != name:
        shown = "(null)" if found is None else found
        raise CommandError(f"Interface name from config {shown} doesn't match given supplied name {name}")


@command("iface-bridge", "create a bridge device and attach an existing network device to it",
         Opt("interface", "existing interface name", required=True, positional=True),
         Opt("bridge", "new bridge device name", required=True, positional=True),
         Opt("no-stp", "do not enable STP for this bridge", flag=True),
         Opt("delay", "number of seconds to squelch traffic on newly connected ports", kind="intstring"),
         Opt("no-start", "don't start the bridge immediately", flag=True),
         description="bridge an existing network device")  # fmt: skip
def cmd_iface_bridge(s: Session, o: dict[str, Any]) -> None:
    import re

    name, bridge = o["interface"], o["bridge"]
    iface = _lookup(s, name)
    try:
        s.conn.lookup_interface_by_name(bridge)
    except Error as exc:
        # libvirt's last error stays set until the next call: virsh prints it after a bad --delay
        pending = exc.message
    else:
        raise CommandError(f"Network device {bridge} already exists")
    delay = o["delay"]
    if delay is not None and (not re.fullmatch(r"[ \t\n\v\f\r]*\+?\d+", delay) or int(delay) > 0xFFFFFFFF):
        raise CommandError(f"Numeric value '{delay}' for <delay> option is malformed or out of range", pending)
    top = _top(iface, name)
    kind = top.get("type")
    if kind is None:
        raise CommandError(f"Existing device {name} has no type")
    if kind == "bridge":
        raise CommandError(f"Existing device {name} is already a bridge")
    _name_matches(top, name)
    raise CommandError(
        f"Failed to define new bridge interface {bridge}", not_supported("virInterfaceDefineXML").message
    )


@command("iface-unbridge", "undefine a bridge device after detaching its device(s)",
         Opt("bridge", "current bridge device name", required=True, positional=True),
         Opt("no-start", "don't start the detached interface immediately (not recommended)", flag=True),
         description="unbridge a network device")  # fmt: skip
def cmd_iface_unbridge(s: Session, o: dict[str, Any]) -> None:
    bridge = o["bridge"]
    top = _top(_lookup(s, bridge), bridge)
    kind = top.get("type")
    if kind is None:
        raise CommandError(f"Existing device {bridge} has no type")
    if kind != "bridge":
        raise CommandError(f"Device {bridge} is not a bridge")
    _name_matches(top, bridge)
    node = top.find("bridge")
    if node is None:
        raise CommandError("No bridge node in xml document")
    attached = node.findall("interface")
    if len(attached) > 1:
        raise CommandError("Multiple interfaces attached to bridge")
    if not attached:
        raise CommandError("No interface attached to bridge")
    name = attached[0].get("name")
    if name is None:
        raise CommandError(f"Device attached to bridge {bridge} has no name")
    if attached[0].get("type") is None:
        raise CommandError(f"Attached device {name} has no type")
    raise CommandError(f"Failed to destroy bridge interface {bridge}", not_supported("virInterfaceDestroy").message)
