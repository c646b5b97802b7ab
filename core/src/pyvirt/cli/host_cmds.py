"""Host and connection commands: version, uri, hostname, capabilities, domcapabilities, nodeinfo, drivers."""

from __future__ import annotations

import pyvirt
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.table import print_table
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _version_text(v: int) -> str:
    return f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}"


@command("version", "show version", Opt("daemon", "report daemon version too", flag=True))
def cmd_version(s: Session, o: dict[str, Any]) -> None:
    """virsh's lines with the libvirt release whose API pyvirt implements (scripts check for "9.0.0").

    pyvirt's own version is what ``pyvirsh -V`` and ``pyvirsh drivers``
    print; here the library and API versions are libvirt's, as a script
    that checks ``virsh version`` before using an API expects. The daemon's
    version is the same release: pyvirtd reports it, and an in-process
    driver is the library itself (virConnectGetLibVersion).
    """
    from pyvirt.cli.main import LIBVIRT_VERSION

    conn = s.conn
    kind = conn.get_type()
    s.out(f"Compiled against library: libvirt {LIBVIRT_VERSION}")
    s.out(f"Using library: libvirt {LIBVIRT_VERSION}")
    s.out(f"Using API: {kind} {LIBVIRT_VERSION}")
    s.out(f"Running hypervisor: {kind} {_version_text(conn.get_version())}")
    if o["daemon"]:
        s.out(f"Running against daemon: {LIBVIRT_VERSION}")


@command("uri", "print the hypervisor canonical URI")
def cmd_uri(s: Session, o: dict[str, Any]) -> None:
    s.out(s.conn.uri)


@command("hostname", "print the hypervisor hostname")
def cmd_hostname(s: Session, o: dict[str, Any]) -> None:
    s.out(s.conn.get_hostname())


@command("capabilities", "capabilities", *XPATH_OPTS)
def cmd_capabilities(s: Session, o: dict[str, Any]) -> None:
    print_xml(s, s.conn.get_capabilities(), o, newline=True)


@command("domcapabilities", "domain capabilities",
         Opt("virttype", "virtualization type (/domain/@type)"),
         Opt("emulatorbin", "path to emulator binary (/domain/devices/emulator)"),
         Opt("arch", "domain architecture (/domain/os/type/@arch)"),
         Opt("machine", "machine type (/domain/os/type/@machine)"),
         *XPATH_OPTS,
         description="Returns capabilities of emulator with respect to host and libvirt.")  # fmt: skip
def cmd_domcapabilities(s: Session, o: dict[str, Any]) -> None:
    try:
        xml = s.conn.get_domain_capabilities(o.get("emulatorbin"), o.get("arch"), o.get("machine"), o.get("virttype"))
    except pyvirt.Error as exc:
        raise CommandError("failed to get emulator capabilities", exc.message) from None
    print_xml(s, xml, o, newline=True)


@command("nodeinfo", "node information")
def cmd_nodeinfo(s: Session, o: dict[str, Any]) -> None:
    info = s.conn.get_node_info()
    for label, value in (
        ("CPU model:", info.model),
        ("CPU(s):", str(info.cpus)),
        ("CPU frequency:", f"{info.mhz} MHz"),
        ("CPU socket(s):", str(info.sockets)),
        ("Core(s) per socket:", str(info.cores)),
        ("Thread(s) per core:", str(info.threads)),
        ("NUMA cell(s):", str(info.nodes)),
        ("Memory size:", f"{info.memory_kib} KiB"),
    ):
        s.out(f"{label:<20} {value}")


@command("drivers", "list installed pyvirt drivers", needs_connection=False,
         description="List every installed driver with its distribution, version and the pyvirt contract it implements")  # fmt: skip
def cmd_drivers(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.plugin.registry import list_drivers

    # the status is the registry's own verdict, so a driver listed "ok" is one opening would accept
    rows = [[d.kind, d.name, d.distribution, d.version, d.contract, d.status] for d in list_drivers()]
    print_table(s, ["Kind", "Name", "Distribution", "Version", "Contract", "Status"], rows)
