"""Network commands: net-list, net-info, net-dumpxml, net-define/-create/-start/-destroy/-undefine/-autostart."""

from __future__ import annotations

import time

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_network
from pyvirt.cli.table import print_table
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error
from pyvirt.list_filters import (
    LIST_ACTIVE,
    LIST_AUTOSTART,
    LIST_INACTIVE,
    LIST_NO_AUTOSTART,
    LIST_PERSISTENT,
    LIST_TRANSIENT,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NETWORK = Opt("network", "network name or uuid", required=True, positional=True)
# pyvirt.flags names these; a short run does not load it (test_flag_literals checks each value)
_XML_INACTIVE = 1 << 0  # VIR_NETWORK_XML_INACTIVE
_VALIDATE = 1 << 0  # VIR_NETWORK_DEFINE_VALIDATE, VIR_NETWORK_CREATE_VALIDATE
_UPDATE_LIVE = 1 << 0  # VIR_NETWORK_UPDATE_AFFECT_LIVE
_UPDATE_CONFIG = 1 << 1  # VIR_NETWORK_UPDATE_AFFECT_CONFIG


def _yn(v: bool) -> str:
    return "yes" if v else "no"


@command(
    "net-list", "list networks",
    Opt("inactive", "list inactive networks", flag=True), Opt("all", "list inactive & active networks", flag=True),
    Opt("persistent", "list persistent networks", flag=True), Opt("transient", "list transient networks", flag=True),
    Opt("autostart", "list networks with autostart enabled", flag=True),
    Opt("no-autostart", "list networks with autostart disabled", flag=True),
    Opt("uuid", "list uuid's only", flag=True), Opt("name", "list network names only", flag=True),
    Opt("table", "list table (default)", flag=True),
)  # fmt: skip
def cmd_net_list(s: Session, o: dict[str, Any]) -> None:
    flags = 0 if o["all"] else (LIST_INACTIVE if o["inactive"] else LIST_ACTIVE)
    flags |= (LIST_PERSISTENT if o["persistent"] else 0) | (LIST_TRANSIENT if o["transient"] else 0)
    flags |= (LIST_AUTOSTART if o["autostart"] else 0) | (LIST_NO_AUTOSTART if o["no-autostart"] else 0)
    nets = s.conn.list_all_networks(flags)
    if o["uuid"] or o["name"]:
        for n in nets:
            s.out(" ".join(([n.uuid] if o["uuid"] else []) + ([n.name] if o["name"] else [])))
        return
    rows = [[n.name, "active" if n.is_active() else "inactive", _yn(n.autostart), _yn(n.is_persistent())] for n in nets]
    print_table(s, ["Name", "State", "Autostart", "Persistent"], rows)


@command("net-info", "network information", NETWORK)
def cmd_net_info(s: Session, o: dict[str, Any]) -> None:
    n = get_network(s, o["network"])
    s.out(f"{'Name:':<15} {n.name}")
    s.out(f"{'UUID:':<15} {n.uuid}")
    s.out(f"{'Active:':<15} {_yn(n.is_active())}")
    s.out(f"{'Persistent:':<15} {_yn(n.is_persistent())}")
    s.out(f"{'Autostart:':<15} {_yn(n.autostart)}")
    try:  # noqa: SIM105 - not contextlib.suppress: a short run need not import contextlib
        s.out(f"{'Bridge:':<15} {n.bridge_name()}")
    except Error:
        pass  # a network without a bridge (virsh skips the line too)


@command("net-dumpxml", "network information in XML", NETWORK, Opt("inactive", "show inactive defined XML", flag=True),
         *XPATH_OPTS)  # fmt: skip
def cmd_net_dumpxml(s: Session, o: dict[str, Any]) -> None:
    print_xml(s, get_network(s, o["network"]).xml_desc(_XML_INACTIVE if o["inactive"] else 0), o)


@command("net-define", "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
         Opt("file", "file containing an XML network description", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True))  # fmt: skip
def cmd_net_define(s: Session, o: dict[str, Any]) -> None:
    xml = read_file(o["file"])
    try:
        n = s.conn.define_network(xml, _VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to define network from {o['file']}", exc.message) from None
    s.extra(f"Network {n.name} defined from {o['file']}")


@command("net-create", "create a network from an XML file",
         Opt("file", "file containing an XML network description", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True))  # fmt: skip
def cmd_net_create(s: Session, o: dict[str, Any]) -> None:
    xml = read_file(o["file"])
    try:
        n = s.conn.create_network(xml, _VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to create network from {o['file']}", exc.message) from None
    s.extra(f"Network {n.name} created from {o['file']}")


def _net_action(name: str, summary: str, method: str, verb: str, done: str) -> None:
    def handler(s: Session, o: dict[str, Any]) -> None:
        n = get_network(s, o["network"])
        try:
            getattr(n, method)()
        except Error as exc:
            raise CommandError(f"Failed to {verb} network {n.name}", exc.message) from None
        s.extra(f"Network {n.name} {done}")

    command(name, summary, NETWORK)(handler)


_net_action("net-start", "start a (previously defined) inactive network", "create", "start", "started")
_net_action("net-destroy", "destroy (stop) a network", "destroy", "destroy", "destroyed")
_net_action("net-undefine", "undefine a persistent network", "undefine", "undefine", "has been undefined")


@command("net-autostart", "autostart a network", NETWORK, Opt("disable", "disable autostarting", flag=True))
def cmd_net_autostart(s: Session, o: dict[str, Any]) -> None:
    n = get_network(s, o["network"])
    try:
        n.autostart = not o["disable"]
    except Error as exc:
        raise CommandError(
            f"failed to {'un' if o['disable'] else ''}mark network {n.name} as autostarted", exc.message
        ) from None
    s.extra(f"Network {n.name} {'unmarked' if o['disable'] else 'marked'} as autostarted")


@command(
    "net-name", "convert a network UUID to network name", Opt("network", "network uuid", required=True, positional=True)
)
def cmd_net_name(s: Session, o: dict[str, Any]) -> None:
    try:
        s.out(s.conn.lookup_network_by_uuid(o["network"]).name)
    except Error as exc:
        raise CommandError(f"failed to get network '{o['network']}'", exc.message) from None


@command(
    "net-uuid", "convert a network name to network UUID", Opt("network", "network name", required=True, positional=True)
)
def cmd_net_uuid(s: Session, o: dict[str, Any]) -> None:
    s.out(get_network(s, o["network"]).uuid)


@command("net-dhcp-leases", "print lease info for a given network", NETWORK,
         Opt("mac", "MAC address"))  # fmt: skip
def cmd_net_dhcp_leases(s: Session, o: dict[str, Any]) -> None:
    net = get_network(s, o["network"])
    try:
        leases = net.dhcp_leases(o["mac"])
    except Error as exc:
        raise CommandError(f"Failed to get leases info for {net.name}", exc.message) from None
    rows = [
        [time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.expiry)), lease.mac, lease.type,
         f"{lease.ipaddr}/{lease.prefix}", lease.hostname or "-", lease.clientid or "-"]
        for lease in sorted(leases, key=lambda x: x.mac)
    ]  # fmt: skip
    print_table(s, ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"], rows)


@command(
    "net-update", "update parts of an existing network's configuration", NETWORK,
    Opt("command", "type of update (add-first, add-last (add), delete, or modify)", required=True, positional=True),
    Opt("section", "which section of network configuration to update", required=True, positional=True),
    Opt("xml", "name of file containing xml (or, if it starts with '<', the complete xml element itself) to "
        "add/modify, or to be matched for search", required=True, positional=True),
    Opt("parent-index", "which parent object to search through", kind="number"),
    Opt("config", "affect next network startup", flag=True), Opt("live", "affect running network", flag=True),
    Opt("current", "affect current state of network", flag=True),
)  # fmt: skip
def cmd_net_update(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.conf.network_update import COMMANDS, SECTIONS

    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    net = get_network(s, o["network"])
    command_no = COMMANDS.get(o["command"])
    if command_no is None:
        raise CommandError(f"unrecognized command name '{o['command']}'")
    section = SECTIONS.get(o["section"])
    if section is None:
        raise CommandError(f"unrecognized section name '{o['section']}'")
    xml = o["xml"] if o["xml"].startswith("<") else read_file(o["xml"])
    flags = (_UPDATE_LIVE if o["live"] else 0) | (_UPDATE_CONFIG if o["config"] else 0)
    parent = int(o["parent-index"]) if o["parent-index"] is not None else -1
    try:
        net.update(command_no, section, xml, parent, flags)
    except Error as exc:
        raise CommandError(f"Failed to update network {net.name}", exc.message) from None
    if o["config"]:
        what = "persistent config and live state" if o["live"] else "persistent config"
    else:
        what = "live state" if o["live"] or net.is_active() else "persistent config"
    s.extra_raw(f"Updated network {net.name} {what}")  # the command trailer ends the line, as in virsh
