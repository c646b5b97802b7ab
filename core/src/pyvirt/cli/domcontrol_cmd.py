"""``pyvirsh domcontrol``: the state of the driver's control channel to a running domain (virsh's cmdDomControl).

"ok", "error" with its reason, or a busy state with how long it has lasted
("background job (0.005s)"): whether a call now would wait behind the monitor.
"""

from __future__ import annotations

from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# virDomainControlState and virDomainControlErrorReason in virsh's words (virsh-domain-monitor.c)
_STATES = ("ok", "background job", "occupied", "error")
_REASONS = ("", "unknown", "monitor failure", "internal (locking) error")
_OK, _ERROR = 0, 3


@command(
    "domcontrol",
    "domain control interface state",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    description="Returns state of a control interface to the domain.",
)  # fmt: skip
def cmd_domcontrol(s: Session, o: dict[str, Any]) -> None:
    state, details, state_time = get_domain(s, o["domain"]).control_info()
    text = _STATES[state] if 0 <= state < len(_STATES) else "unknown"
    if state not in (_OK, _ERROR):
        s.out(f"{text} ({state_time / 1000.0:.3f}s)")
    elif state == _ERROR and details > 0:
        s.out(f"{text}: {_REASONS[details] if details < len(_REASONS) else 'unknown'}")
    else:
        s.out(text)
