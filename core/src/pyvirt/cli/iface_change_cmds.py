"""iface-define, iface-undefine, iface-start, iface-destroy, iface-begin, iface-commit, iface-rollback:
virsh 9.0's cmdInterface* of those names, line for line.

An interface is named as virsh's virshCommandOptInterfaceBy takes it: by
MAC address when the word parses as one (virMacAddrParse), else by name;
failing either way, virsh's "failed to get interface" line comes before
libvirt's message. Successes print virsh's extra lines, which ``-q`` drops.
The three per-interface commands and the three transaction commands differ
only in their call and words, so each is one row of its trio's table.
"""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.cli.framework import Handler
    from pyvirt.connection import Connection
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


# virsh's cmdInterfaceUndefine/Start/Destroy: command, summary, description, the call, the verb of its
# failure line and the word of its success line (the name printed is the word given: a MAC stays a MAC)
_LIFECYCLE: tuple[tuple[str, str, str, Callable[[Interface], None], str, str], ...] = (
    ("iface-undefine", "undefine a physical host interface (remove it from configuration)",
     "undefine an interface.", lambda i: i.undefine(), "undefine", "undefined"),
    ("iface-start", 'start a physical host interface (enable it / "if-up")',
     "start a physical host interface.", lambda i: i.create(), "start", "started"),
    ("iface-destroy", 'destroy a physical host interface (disable it / "if-down")',
     "forcefully stop a physical host interface.", lambda i: i.destroy(), "destroy", "destroyed"),
)  # fmt: skip

# virsh's cmdInterfaceBegin/Commit/Rollback: command, summary, description, the call, its verb and success word
_TRANSACTION: tuple[tuple[str, str, str, Callable[[Connection], None], str, str], ...] = (
    ("iface-begin",
     "create a snapshot of current interfaces settings, which can be later committed (iface-commit) or restored "
     "(iface-rollback)",
     "Create a restore point for interfaces settings", lambda c: c.interface_change_begin(), "begin", "started"),
    ("iface-commit", "commit changes made since iface-begin and free restore point",
     "commit changes and free restore point", lambda c: c.interface_change_commit(), "commit", "committed"),
    ("iface-rollback", "rollback to previous saved configuration created via iface-begin",
     "rollback to previous restore point", lambda c: c.interface_change_rollback(), "rollback", "rolled back"),
)  # fmt: skip


def _lifecycle_handler(call: Callable[[Interface], None], verb: str, done: str) -> Handler:
    """One cmdInterfaceUndefine/Start/Destroy: look the interface up, call, then virsh's line for the outcome."""

    def run(s: Session, o: dict[str, Any]) -> None:
        name = o["interface"]
        iface = _interface(s, name)
        try:
            call(iface)
        except Error as exc:
            raise CommandError(f"Failed to {verb} interface {name}", exc.message) from None
        s.extra(f"Interface {name} {done}")

    return run


def _transaction_handler(call: Callable[[Connection], None], verb: str, done: str) -> Handler:
    """One cmdInterfaceBegin/Commit/Rollback: the connection's call, then virsh's line for the outcome."""

    def run(s: Session, o: dict[str, Any]) -> None:
        try:
            call(s.conn)
        except Error as exc:
            raise CommandError(f"Failed to {verb} network config change transaction", exc.message) from None
        s.extra(f"Network config change transaction {done}")

    return run


for _name, _summary, _description, _call, _verb, _done in _LIFECYCLE:
    command(_name, _summary, _INTERFACE, description=_description)(_lifecycle_handler(_call, _verb, _done))
for _name, _summary, _description, _conn_call, _verb, _done in _TRANSACTION:
    command(_name, _summary, description=_description)(_transaction_handler(_conn_call, _verb, _done))
