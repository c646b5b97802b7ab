"""virsh's commands whose libvirt API no pyvirt driver hook carries yet.

Each command here parses exactly the options virsh 9.0 parses (from
:data:`pyvirt.cli.virsh_options.VIRSH_OPTIONS`), checks what virsh checks
before it calls the API (mutually exclusive ``--current``/``--live``/
``--config``, numbers, the object named), and then fails as virsh fails on a
libvirt connection driver without that entry point: virsh's own first line
where it prints one, then "this function is not supported by the connection
driver: virXxx" (NO_SUPPORT). Scripts thus get a command that exists, takes
their options and reports the missing support in libvirt's words, instead of
"unknown command". When a hook is added to ``pyvirt.plugin.api``, the
command moves to a module of its own and calls it.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain, get_network, get_pool, get_volume
from pyvirt.cli.nosupport import not_supported
from pyvirt.cli.nosupport_table import COMMANDS
from pyvirt.cli.virsh_options import VIRSH_OPTIONS
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["declare", "options_of"]

# virsh's options read with vshCommandOptScaledInt: a unit suffix is allowed
_SCALED = {("setmem", "size"), ("setmaxmem", "size"), ("blockresize", "size"), ("memtune", "hard-limit"),
           ("memtune", "soft-limit"), ("memtune", "swap-hard-limit"), ("memtune", "min-guarantee"),
           ("allocpages", "pagesize"), ("domblkthreshold", "threshold")}  # fmt: skip
_KINDS = {"i": "number", "s": "optstring", "d": "string", "a": "list"}


def options_of(name: str) -> tuple[Opt, ...]:
    """virsh's options for ``name`` as pyvirsh declares them: every non-flag option may also come by position."""
    opts = []
    for item in VIRSH_OPTIONS[name].split():
        opt, _, kind = item.partition(":")
        required = kind.endswith("!")
        if kind[0] == "b":
            opts.append(Opt(opt, flag=True))
            continue
        kind_name = "scaled" if (name, opt) in _SCALED else _KINDS[kind[0]]
        opts.append(Opt(opt, required=required, positional=True, kind=kind_name))
    return tuple(opts)


# the option naming a file virsh reads before it calls the API (an unreadable file is the error then)
_READS = {"nodedev-define": "file", "nodedev-create": "file", "nwfilter-define": "file", "iface-define": "file",
          "nwfilter-binding-create": "file", "net-port-create": "file",
          "managedsave-define": "xml", "save-image-define": "xml", "cpu-baseline": "file", "cpu-compare": "file",
          "hypervisor-cpu-compare": "file"}  # fmt: skip
_TARGETS = ("mem", "disk", "hybrid")
_LIFECYCLE_TYPES = ("poweroff", "reboot", "crash")
_LIFECYCLE_ACTIONS = ("destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart")


def _exclusive(name: str, o: dict[str, Any]) -> None:
    """virsh's VSH_EXCLUSIVE_OPTIONS, checked before anything is looked up."""
    for other in ("live", "config"):
        if o.get("current") and o.get(other):
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    if name == "setvcpu":
        if o["enable"] and o["disable"]:
            raise CommandError("Options --enable and --disable are mutually exclusive")
        if not (o["enable"] or o["disable"]):
            raise CommandError("one of --enable, --disable is required")


def _check_values(name: str, o: dict[str, Any]) -> None:
    """The values virsh itself refuses once the object is found, before it calls the API."""
    if name in ("dompmsuspend", "nodesuspend") and o["target"] not in _TARGETS:
        raise CommandError("Invalid target")
    if name == "set-lifecycle-action":
        if o["type"] not in _LIFECYCLE_TYPES:
            raise CommandError(f"Invalid lifecycle type '{o['type']}'.")
        if o["action"] not in _LIFECYCLE_ACTIONS:
            raise CommandError(f"Invalid lifecycle action '{o['action']}'.")
    if name == "dom-fd-associate":  # virshFetchPassFdsList: each comma-separated item a C int
        for item in o["pass-fds"].split(","):
            digits = item.lstrip(" \t\n\v\f\r")
            body = digits[1:] if digits[:1] in ("+", "-") else digits
            if not body.isdigit() or not body.isascii() or not -(2**31) <= int(digits) < 2**31:
                raise CommandError(f"Unable to parse FD number '{item}'")
    if name in _READS:
        from pyvirt.util.fileio import MAX_XML_FILE, read_text_capped

        try:
            read_text_capped(o[_READS[name]], MAX_XML_FILE)
        except Error as exc:
            raise CommandError(exc.message) from None


def _handler(name: str, target: str, api: str, first: str | None) -> Any:
    def run(s: Session, o: dict[str, Any]) -> None:
        _exclusive(name, o)
        subject = ""
        if target == "domain":
            subject = get_domain(s, o["domain"]).name
        elif target == "network":
            subject = get_network(s, o["network"]).name
        elif target == "pool":
            subject = get_pool(s, o["pool"]).name
        elif target == "vol":
            subject = get_volume(s, o["vol"], o.get("pool")).name
        elif target == "nodedev":
            try:
                subject = s.conn.lookup_node_device_by_name(o["device"]).name
            except Error as exc:
                raise CommandError(f"Could not find matching device '{o['device']}'", exc.message) from None
        elif target == "iface":
            try:
                subject = s.conn.lookup_interface_by_name(o["interface"]).name
            except Error as exc:
                raise CommandError(f"failed to get interface '{o['interface']}'", exc.message) from None
        else:
            s.conn  # noqa: B018 - virsh connects before it calls the API
        _check_values(name, o)
        values = {k.replace("-", "_"): "" if v is None else v for k, v in o.items()}  # virsh prints NULL as ""
        lines = [] if first is None else [first.format(name=subject, **values)]
        raise CommandError(*lines, not_supported(api).message)

    run.__doc__ = f"virsh's {name}: {api} has no driver hook in pyvirt yet."
    return run


def declare(name: str) -> None:
    """Register ``name``, one of :data:`~pyvirt.cli.nosupport_table.COMMANDS`, when a line names it.

    Declaring all 101 at import (some 400 options from virsh's table) cost
    every line that named one of them 8 million instructions, a sixth of
    what virsh takes for a whole command; ``pyvirt.cli.main``'s lookup calls
    this for the one named.
    """
    target, api, first = COMMANDS[name]
    command(name, name, *options_of(name))(_handler(name, target, api, first))
