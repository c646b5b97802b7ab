"""``pyvirsh send-process-signal``: signal a process inside the guest, as virsh's cmdSendProcessSignal.

The signal is a number or a name in any case, with or without ``SIG`` /
``SIG_`` (``kill``, ``SIGTERM``, ``sig_usr1``), virsh's getSignalNumber.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.cli.tunables import parse_c_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# virshDomainProcessSignal: Linux's numbers, 0 to 64
_SIGNALS = (
    "nop", "hup", "int", "quit", "ill", "trap", "abrt", "bus", "fpe", "kill", "usr1", "segv", "usr2", "pipe", "alrm",
    "term", "stkflt", "chld", "cont", "stop", "tstp", "ttin", "ttou", "urg", "xcpu", "xfsz", "vtalrm", "prof", "winch",
    "poll", "pwr", "sys", *(f"rt{n}" for n in range(33)),
)  # fmt: skip


def _signal_number(name: str) -> int:
    """getSignalNumber: a base-10 number as it is, else a name (lower-cased, ``sig``/``sig_`` dropped)."""
    low = "".join(c.lower() if c.isascii() else c for c in name)
    number = parse_c_int(low)
    if number is not None:
        return number
    for prefix in ("sig_", "sig"):
        if low.startswith(prefix):
            low = low[len(prefix) :]
            break
    return _SIGNALS.index(low) if low in _SIGNALS else -1


@command(
    "send-process-signal", "Send signals to processes",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("pid", "the process ID", required=True, positional=True),
    Opt("signame", "the signal number or name", required=True, positional=True),
    description="Send signals to processes in the guest",
)  # fmt: skip
def cmd_send_process_signal(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    pid = parse_c_int(o["pid"], 64)  # vshCommandOptLongLong
    if pid is None:
        raise CommandError(f"Numeric value '{o['pid']}' for <pid> option is malformed or out of range")
    if o["signame"] == "":
        raise CommandError("Failed to get option 'signame': Option argument is empty")
    signum = _signal_number(o["signame"])
    if signum < 0:
        raise CommandError(f"malformed signal name: {o['signame']}")
    dom.send_process_signal(pid, signum)
