"""iface-define, iface-undefine, iface-start, iface-destroy, iface-begin, iface-commit, iface-rollback:
virsh 9.0's cmdInterface* of those names, line for line.

An interface is named as virsh's virshCommandOptInterfaceBy takes it: by
MAC address when the word parses as one (virMacAddrParse), else by name;
failing either way, virsh's "failed to get interface" line comes before
libvirt's message. Successes print virsh's extra lines, which ``-q`` drops.
"""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.interface import Interface

__all__: list[str] = []

_VALIDATE = 1  # VIR_INTERFACE_DEFINE_VALIDATE
_INTERFACE = Opt("interface", "interface name or MAC address", required=True, positional=True)


def _is_mac(word: str) -> bool:
    """virMacAddrParse: six groups of one or two hex digits joined by colons."""
    parts = word.split(":")
    hexdigits = "0123456789abcdefABCDEF"
    return len(parts) == 6 and all(0 < len(p) <= 2 and all(c in hexdigits for c in p) for p in parts)


def _by_mac(s: Session, mac: str) -> Interface:
    """virInterfaceLookupByMACString, as libvirt's interface drivers answer it: exactly one interface whose MAC
    reads the same, ignoring case (virInterfaceObjListFindByMACString)."""
    from pyvirt.errors import ErrorCode, ErrorDomain, make_error

    found = [i for i in s.conn.list_all_interfaces() if i.mac.lower() == mac.lower()]
    if not found:
        raise make_error(
            ErrorCode.NO_INTERFACE, f"no interface with matching mac '{mac}'", domain=ErrorDomain.INTERFACE
        )
    if len(found) > 1:
        raise make_error(ErrorCode.MULTIPLE_INTERFACES, domain=ErrorDomain.INTERFACE)
    return found[0]


def _interface(s: Session, word: str) -> Interface:
    """virshCommandOptInterface: by MAC or by name; virsh's line, then libvirt's, when there is none."""
    try:
        return _by_mac(s, word) if _is_mac(word) else s.conn.lookup_interface_by_name(word)
    except Error as exc:
        raise CommandError(f"failed to get interface '{word}'", exc.message) from None


@command(
    "iface-define",
    "define an inactive persistent physical host interface or modify an existing persistent one from an XML file",
    Opt("file", "file containing an XML interface description", required=True, positional=True),
    Opt("validate", "validate the XML against the schema", flag=True),
    description="Define or modify a persistent physical host interface.",
)  # fmt: skip
def cmd_iface_define(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceDefine."""
    xml = read_file(o["file"])
    try:
        iface = s.conn.define_interface(xml, _VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to define interface from {o['file']}", exc.message) from None
    s.extra(f"Interface {iface.name} defined from {o['file']}")


@command(
    "iface-undefine", "undefine a physical host interface (remove it from configuration)",
    _INTERFACE,
    description="undefine an interface.",
)  # fmt: skip
def cmd_iface_undefine(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceUndefine: the name printed is the word given (a MAC stays a MAC)."""
    name = o["interface"]
    iface = _interface(s, name)
    try:
        iface.undefine()
    except Error as exc:
        raise CommandError(f"Failed to undefine interface {name}", exc.message) from None
    s.extra(f"Interface {name} undefined")


@command(
    "iface-start", 'start a physical host interface (enable it / "if-up")',
    _INTERFACE,
    description="start a physical host interface.",
)  # fmt: skip
def cmd_iface_start(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceStart."""
    name = o["interface"]
    iface = _interface(s, name)
    try:
        iface.create()
    except Error as exc:
        raise CommandError(f"Failed to start interface {name}", exc.message) from None
    s.extra(f"Interface {name} started")


@command(
    "iface-destroy", 'destroy a physical host interface (disable it / "if-down")',
    _INTERFACE,
    description="forcefully stop a physical host interface.",
)  # fmt: skip
def cmd_iface_destroy(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceDestroy."""
    name = o["interface"]
    iface = _interface(s, name)
    try:
        iface.destroy()
    except Error as exc:
        raise CommandError(f"Failed to destroy interface {name}", exc.message) from None
    s.extra(f"Interface {name} destroyed")


@command(
    "iface-begin",
    "create a snapshot of current interfaces settings, which can be later committed (iface-commit) or restored "
    "(iface-rollback)",
    description="Create a restore point for interfaces settings",
)  # fmt: skip
def cmd_iface_begin(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceBegin."""
    try:
        s.conn.interface_change_begin()
    except Error as exc:
        raise CommandError("Failed to begin network config change transaction", exc.message) from None
    s.extra("Network config change transaction started")


@command(
    "iface-commit", "commit changes made since iface-begin and free restore point",
    description="commit changes and free restore point",
)  # fmt: skip
def cmd_iface_commit(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceCommit."""
    try:
        s.conn.interface_change_commit()
    except Error as exc:
        raise CommandError("Failed to commit network config change transaction", exc.message) from None
    s.extra("Network config change transaction committed")


@command(
    "iface-rollback", "rollback to previous saved configuration created via iface-begin",
    description="rollback to previous restore point",
)  # fmt: skip
def cmd_iface_rollback(s: Session, o: dict[str, Any]) -> None:
    """cmdInterfaceRollback."""
    try:
        s.conn.interface_change_rollback()
    except Error as exc:
        raise CommandError("Failed to rollback network config change transaction", exc.message) from None
    s.extra("Network config change transaction rolled back")
