"""Node device and host interface commands: nodedev-list, nodedev-dumpxml, iface-list, iface-dumpxml."""

from __future__ import annotations

from typing import Any

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.table import print_table
from pyvirt.errors import Error


@command("nodedev-list", "enumerate devices on this host",
         Opt("tree", "list devices in a tree", flag=True), Opt("cap", "capability names, separated by comma"))  # fmt: skip
def cmd_nodedev_list(s: Session, o: dict[str, Any]) -> None:
    caps = [c.strip() for c in (o["cap"] or "").split(",") if c.strip()]
    seen: dict[str, str] = {}
    for cap in caps or [None]:
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
         Opt("device", "device name or wwn pair in 'wwnn,wwpn' format", required=True, positional=True))  # fmt: skip
def cmd_nodedev_dumpxml(s: Session, o: dict[str, Any]) -> None:
    try:
        dev = s.conn.lookup_node_device_by_name(o["device"])
    except Error as exc:
        raise CommandError(f"Could not find matching device '{o['device']}'", exc.message) from None
    s.out_raw(dev.xml_desc())


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
         Opt("inactive", "show inactive defined XML", flag=True))  # fmt: skip
def cmd_iface_dumpxml(s: Session, o: dict[str, Any]) -> None:
    try:
        iface = s.conn.lookup_interface_by_name(o["interface"])
    except Error as exc:
        raise CommandError(f"failed to get interface '{o['interface']}'", exc.message) from None
    s.out_raw(iface.xml_desc(1 if o["inactive"] else 0))
