"""guestinfo, guestvcpus, get-user-sshkeys, set-user-sshkeys, guest-agent-timeout, dompmsuspend, dompmwakeup:
virsh 9.0's cmdGuestInfo, cmdGuestvcpus, cmdGetUserSSHKeys, cmdSetUserSSHKeys, cmdGuestAgentTimeout,
cmdDomPMSuspend and cmdDomPMWakeup line for line.

Options are checked in virsh's order (some before the domain is looked up,
numbers after it); the power-management failures carry virsh's own line
before libvirt's message, the successes are virsh's "extra" output, which
``-q`` drops.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
# virDomainGuestInfoTypes, in virsh's option order
_GUEST_INFO_TYPES = (("user", 1), ("os", 2), ("timezone", 4), ("hostname", 8), ("filesystem", 16), ("disk", 32),
                     ("interface", 64))  # fmt: skip
_SSH_KEYS_SET_APPEND = 1  # VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND
_SSH_KEYS_SET_REMOVE = 2  # VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE
_AGENT_RESPONSE_TIMEOUT_BLOCK = -2  # VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK: virsh's value without --timeout
_SUSPEND_TARGETS = ("mem", "disk", "hybrid")  # virNodeSuspendTarget's names (virshNodeSuspendTarget)


def _number(raw: str, name: str, low: int, high: int) -> int:
    """vshCommandOptInt / vshCommandOptULongLong: decimal digits in range, else virsh's one line."""
    try:
        value = int(raw, 10)
    except ValueError:
        value = None
    # strtol's reading: leading blanks and a sign pass, anything after the digits (or Python's "1_0") does not
    if value is None or not low <= value <= high or raw != raw.rstrip() or "_" in raw:
        raise CommandError(f"Numeric value '{raw}' for <{name}> option is malformed or out of range")
    return value


def _print_params(s: Session, params: list[Any], width: int) -> None:
    from pyvirt.plugin.typed_params import format_typed_value

    for p in params:
        s.out(f"{p.field:<{width}}: {format_typed_value(p)}")


@command(
    "guestinfo", "query information about the guest (via agent)",
    _DOMAIN,
    *(Opt(name, help, flag=True) for name, help in (
        ("user", "report active users"), ("os", "report operating system information"),
        ("timezone", "report timezone information"), ("hostname", "report hostname"),
        ("filesystem", "report filesystem information"), ("disk", "report disk information"),
        ("interface", "report interface information"))),
    description="Use the guest agent to query various information from guest's point of view",
)  # fmt: skip
def cmd_guestinfo(s: Session, o: dict[str, Any]) -> None:
    """cmdGuestInfo: the kinds asked (none: all the agent has), each parameter as ``%-20s: %s``."""
    types = 0
    for name, bit in _GUEST_INFO_TYPES:
        if o[name]:
            types |= bit
    dom = get_domain(s, o["domain"])
    _print_params(s, dom.guest_info(types), 20)


@command(
    "guestvcpus", "query or modify state of vcpu in the guest (via agent)",
    _DOMAIN,
    Opt("cpulist", "list of cpus to enable or disable"),
    Opt("enable", "enable cpus specified by cpulist", flag=True),
    Opt("disable", "disable cpus specified by cpulist", flag=True),
    description="Use the guest agent to query or set cpu state from guest's point of view",
)  # fmt: skip
def cmd_guestvcpus(s: Session, o: dict[str, Any]) -> None:
    """cmdGuestvcpus: with --cpulist, set those vCPUs' state; else the guest's three lists as ``%-15s: %s``."""
    if o["enable"] and o["disable"]:
        raise CommandError("Options --enable and --disable are mutually exclusive")
    for name in ("enable", "disable"):
        if o[name] and o["cpulist"] is None:
            raise CommandError(f"Option --cpulist is required by option --{name}")
    if o["cpulist"] == "":
        raise CommandError("Failed to get option 'cpulist': Option argument is empty")
    if o["cpulist"] is not None and not (o["enable"] or o["disable"]):
        raise CommandError("One of options --enable or --disable is required by option --cpulist")
    dom = get_domain(s, o["domain"])
    if o["cpulist"] is not None:
        dom.set_guest_vcpus(o["cpulist"], 1 if o["enable"] else 0)
        return
    _print_params(s, dom.guest_vcpus(), 15)


@command(
    "get-user-sshkeys", "list authorized SSH keys for given user (via agent)",
    _DOMAIN,
    Opt("user", "user to list authorized keys for", required=True, positional=True),
    description="Use the guest agent to query authorized SSH keys for given user",
)  # fmt: skip
def cmd_get_user_sshkeys(s: Session, o: dict[str, Any]) -> None:
    """cmdGetUserSSHKeys: each key printed as virsh 9.0 prints it, with ``%s`` (no line break of its own)."""
    dom = get_domain(s, o["domain"])
    if o["user"] == "":
        raise CommandError("Failed to get option 'user': Option argument is empty")
    for key in dom.authorized_ssh_keys_get(o["user"]):
        s.out_raw(key)


@command(
    "set-user-sshkeys", "manipulate authorized SSH keys file for given user (via agent)",
    _DOMAIN,
    Opt("user", "user to set authorized keys for", required=True, positional=True),
    Opt("file", "optional file to read keys from"),
    Opt("reset", "clear out authorized keys file before adding new keys", flag=True),
    Opt("remove", "remove keys from the authorized keys file", flag=True),
    description="Append, reset or remove specified key from the authorized keys file for given user",
)  # fmt: skip
def cmd_set_user_sshkeys(s: Session, o: dict[str, Any]) -> None:
    """cmdSetUserSSHKeys: append (default; needs --file), --reset then add, or --remove the file's keys, which
    are its lines as g_strsplit makes them (a final newline gives a last, empty key, as virsh sends it)."""
    from pyvirt.cli.files import read_file

    if o["remove"] and o["file"] is None:
        raise CommandError("Option --file is required by option --remove")
    if o["reset"] and o["remove"]:
        raise CommandError("Options --reset and --remove are mutually exclusive")
    dom = get_domain(s, o["domain"])
    for name in ("user", "file"):  # vshCommandOptStringReq
        if o[name] == "":
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    flags = 0
    if o["remove"]:
        flags = _SSH_KEYS_SET_REMOVE
    elif not o["reset"]:
        flags = _SSH_KEYS_SET_APPEND
        if o["file"] is None:
            raise CommandError("Option --file is required")
    keys: list[str] = []
    if o["file"] is not None:
        text = read_file(o["file"])
        keys = text.split("\n")
        if not text:  # g_strsplit of "" is no string at all
            raise CommandError(f"File {o['file']} contains no keys")
    dom.authorized_ssh_keys_set(o["user"], keys, flags)


@command(
    "guest-agent-timeout", "Set the guest agent timeout",
    _DOMAIN,
    Opt("timeout", "timeout seconds.", kind="intstring"),
    description="Set the number of seconds to wait for a response from the guest agent.",
)  # fmt: skip
def cmd_guest_agent_timeout(s: Session, o: dict[str, Any]) -> None:
    """cmdGuestAgentTimeout: without --timeout, virsh asks for -2 (block)."""
    dom = get_domain(s, o["domain"])
    timeout = _AGENT_RESPONSE_TIMEOUT_BLOCK
    if o["timeout"] is not None:
        timeout = _number(o["timeout"], "timeout", -(2**31), 2**31 - 1)
    dom.agent_set_response_timeout(timeout)


@command(
    "dompmsuspend", "suspend a domain gracefully using power management functions",
    _DOMAIN,
    Opt("target", "mem(Suspend-to-RAM), disk(Suspend-to-Disk), hybrid(Hybrid-Suspend)", required=True,
        positional=True),
    Opt("duration", "duration in seconds", kind="intstring"),
    description="Suspends a running domain using guest OS's power management. (Note: This requires a guest agent "
    "configured and running in the guest OS).",
)  # fmt: skip
def cmd_dompmsuspend(s: Session, o: dict[str, Any]) -> None:
    """cmdDomPMSuspend: duration, then target, checked after the lookup; virsh's own line on failure."""
    dom = get_domain(s, o["domain"])
    duration = 0
    if o["duration"] is not None:
        duration = _number(o["duration"], "duration", 0, 2**64 - 1)
    if o["target"] == "":
        raise CommandError("Failed to get option 'target': Option argument is empty")
    if o["target"] not in _SUSPEND_TARGETS:
        raise CommandError("Invalid target")
    try:
        dom.pm_suspend_for_duration(_SUSPEND_TARGETS.index(o["target"]), duration)
    except Error as exc:
        raise CommandError(f"Domain '{dom.name}' could not be suspended", exc.message) from None
    s.extra_raw(f"Domain '{dom.name}' successfully suspended")


@command(
    "dompmwakeup", "wakeup a domain from pmsuspended state",
    _DOMAIN,
    description="Wakeup a domain that was previously suspended by power management.",
)  # fmt: skip
def cmd_dompmwakeup(s: Session, o: dict[str, Any]) -> None:
    """cmdDomPMWakeup: virsh's own line on failure, the success as extra output."""
    dom = get_domain(s, o["domain"])
    try:
        dom.pm_wakeup()
    except Error as exc:
        raise CommandError(f"Domain '{dom.name}' could not be woken up", exc.message) from None
    s.extra_raw(f"Domain '{dom.name}' successfully woken up")
