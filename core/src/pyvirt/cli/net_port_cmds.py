"""``pyvirsh net-port-list``, ``net-port-create``, ``net-port-dumpxml``, ``net-port-delete`` (virsh-network.c).

The ports of a running network, one per guest NIC plugged into it. Two of
virsh 9.0's commands end with exit status 0 even when they fail
(cmdNetworkPortDumpXML and cmdNetworkPortDelete start with ``ret = true``): the
first error line is printed, the library's error is not, and scripts that
test the status see success. pyvirsh does the same, since scripts written for
virsh parse exactly that.
"""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import XPATH_OPTS, CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_network
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.network import Network, NetworkPort

__all__: list[str] = []

_NETWORK = Opt("network", "network name or uuid", required=True, positional=True)
_PORT = Opt("port", "port UUID", required=True, positional=True)
_PORT_CREATE_VALIDATE = 1 << 1  # VIR_NETWORK_PORT_CREATE_VALIDATE


def _port(s: Session, net: Network, ident: str) -> NetworkPort:
    """virshCommandOptNetworkPort: by UUID only."""
    try:
        return net.port_lookup_by_uuid(ident)
    except Error as exc:
        raise CommandError(f"failed to get network port '{ident}'", exc.message) from None


def _port_or_first_line(s: Session, o: dict[str, Any]) -> NetworkPort | None:
    """The command's port; or None once the first error line is printed, as virsh does for a command that
    starts with ``ret = true`` (its own line, status 0)."""
    try:
        return _port(s, get_network(s, o["network"]), o["port"])
    except CommandError as exc:
        s.error(exc.lines[0])
        return None


@command(
    "net-port-list", "list network ports", _NETWORK,
    Opt("uuid", "list uuid's only", flag=True), Opt("table", "list table (default)", flag=True),
    description="Returns list of network ports.",
)  # fmt: skip
def cmd_net_port_list(s: Session, o: dict[str, Any]) -> None:
    if o["table"] and o["uuid"]:
        raise CommandError("Only one argument from --table and --uuid may be specified.")
    ports = get_network(s, o["network"]).list_all_ports()
    # virshNetworkPortSorter: by the UUID's bytes, which sort as its lower-case text does
    uuids = sorted(p.uuid for p in ports)
    if o["uuid"]:
        for uuid in uuids:
            s.out(uuid)
        return
    from pyvirt.cli.table import print_table

    print_table(s, ["UUID"], [[uuid] for uuid in uuids])


@command(
    "net-port-create", "create a network port from an XML file", _NETWORK,
    Opt("file", "file containing an XML network port description", required=True, positional=True),
    Opt("validate", "validate the XML against the schema", flag=True),
    description="Create a network port.",
)  # fmt: skip
def cmd_net_port_create(s: Session, o: dict[str, Any]) -> None:
    net = get_network(s, o["network"])
    xml = read_file(o["file"])
    try:
        port = net.port_create_xml(xml, _PORT_CREATE_VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to create network from {o['file']}", exc.message) from None
    s.extra(f"Network port {port.uuid} created from {o['file']}")


@command(
    "net-port-dumpxml", "network port information in XML", _NETWORK, _PORT,
    *XPATH_OPTS,
    description="Output the network port information as an XML dump to stdout.",
)  # fmt: skip
def cmd_net_port_dumpxml(s: Session, o: dict[str, Any]) -> None:
    port = _port_or_first_line(s, o)
    if port is None:
        return
    try:
        xml = port.xml_desc()
    except Error:
        return  # virsh: goto cleanup with ret still true, the error never printed
    from pyvirt.cli.xpath_output import print_xml

    print_xml(s, xml, o)


@command(
    "net-port-delete", "delete the specified network port", _NETWORK, _PORT,
    description="Delete the specified network port.",
)  # fmt: skip
def cmd_net_port_delete(s: Session, o: dict[str, Any]) -> None:
    port = _port_or_first_line(s, o)
    if port is None:
        return
    try:
        port.delete()
    except Error:
        s.error(f"Failed to delete network port {port.uuid}")
        return
    s.extra(f"Network port {port.uuid} deleted")
