"""Node device and host interface commands: nodedev-list, nodedev-dumpxml, iface-list, iface-dumpxml."""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.table import print_table
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_IFACE_XML_INACTIVE = 1 << 0  # VIR_INTERFACE_XML_INACTIVE


def _string_list(text: str) -> list[str]:
    """vshStringToArray: comma-separated, a doubled comma standing for a comma inside one item."""
    parts = text.split(",")
    items = [parts[0]]
    join = False
    for part in parts[1:]:
        if join:
            items[-1] += "," + part
            join = False
        elif part:
            items.append(part)
        else:
            join = True
    if join:
        items.append("")
    return items


@command("nodedev-list", "enumerate devices on this host",
         Opt("tree", "list devices in a tree", flag=True), Opt("cap", "capability names, separated by comma"),
         Opt("inactive", "list inactive devices", flag=True),
         Opt("all", "list inactive & active devices", flag=True))  # fmt: skip
def cmd_nodedev_list(s: Session, o: dict[str, Any]) -> None:
    """virsh's checks first, in its order; then the devices, by capability when ``--cap`` names some.

    pyvirt's node devices are all active (no driver here defines one without
    starting it), so ``--inactive`` lists none and ``--all`` lists them all.
    """
    caps = _string_list(o["cap"]) if o["cap"] is not None else []
    if o["all"] and o["inactive"]:
        raise CommandError("Option --all is incompatible with --inactive")
    if o["tree"] and (o["cap"] is not None or o["inactive"]):
        raise CommandError("Option --tree is incompatible with --cap and --inactive")
    if caps:
        from pyvirt.conf.nodedev_caps import NODEDEV_CAP_TYPES  # virNodeDevCap's names: what --cap accepts

        if any(c not in NODEDEV_CAP_TYPES for c in caps):
            raise CommandError("Invalid capability type")
    seen: dict[str, str] = {}
    if not o["inactive"]:
        wanted: list[str | None] = [*caps] if caps else [None]
        for cap in wanted:
            for dev in s.conn.list_all_node_devices(cap):
                seen[dev.name] = dev.parent()
    names = sorted(seen)
    if not o["tree"]:
        for n in names:
            s.out(n)
        return
    children: dict[str, list[str]] = {}
    for n in names:
        children.setdefault(seen[n] if seen[n] in seen else "", []).append(n)

    def walk(name: str, prefix: str) -> None:
        kids = children.get(name, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            s.out(f"{prefix}  |")
            s.out(f"{prefix}  +- {kid}")
            walk(kid, prefix + ("    " if last else "  | "))
        if kids:
            s.out(f"{prefix}   ")

    for root in children.get("", []):
        s.out(root)
        walk(root, "")


@command("nodedev-dumpxml", "node device details in XML",
         Opt("device", "device name or wwn pair in 'wwnn,wwpn' format", required=True, positional=True),
         *XPATH_OPTS)  # fmt: skip
def cmd_nodedev_dumpxml(s: Session, o: dict[str, Any]) -> None:
    try:
        dev = s.conn.lookup_node_device_by_name(o["device"])
    except Error as exc:
        raise CommandError(f"Could not find matching device '{o['device']}'", exc.message) from None
    print_xml(s, dev.xml_desc(), o)


@command("iface-list", "list physical host interfaces",
         Opt("inactive", "list inactive interfaces", flag=True), Opt("all", "list inactive & active interfaces", flag=True))  # fmt: skip
def cmd_iface_list(s: Session, o: dict[str, Any]) -> None:
    rows = []
    for iface in s.conn.list_all_interfaces():
        active = iface.is_active()
        if (o["inactive"] and active) or (not o["all"] and not o["inactive"] and not active):
            continue
        rows.append([iface.name, "active" if active else "inactive", iface.mac])
    print_table(s, ["Name", "State", "MAC Address"], rows)


@command("iface-dumpxml", "interface information in XML",
         Opt("interface", "interface name or MAC address", required=True, positional=True),
         Opt("inactive", "show inactive defined XML", flag=True), *XPATH_OPTS)  # fmt: skip
def cmd_iface_dumpxml(s: Session, o: dict[str, Any]) -> None:
    try:
        iface = s.conn.lookup_interface_by_name(o["interface"])
    except Error as exc:
        raise CommandError(f"failed to get interface '{o['interface']}'", exc.message) from None
    print_xml(s, iface.xml_desc(_IFACE_XML_INACTIVE if o["inactive"] else 0), o)
