"""``pyvirsh console``: attach the terminal to a domain's console; Ctrl+] detaches.

Like virsh, it needs a terminal (the terminal goes to raw mode so every key,
Ctrl+C included, reaches the guest) and restores it on the way out.
"""

from __future__ import annotations

import os
import sys

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ESCAPE", "escape_byte"]

_CONSOLE_FORCE = 1 << 0  # VIR_DOMAIN_CONSOLE_FORCE

ESCAPE = b"\x1d"  # Ctrl+], virsh's default (-e '^]')


def escape_byte(spec: str) -> bytes:
    """virsh's vshGetEscapeChar for ``-e``: ``^X`` is Ctrl+X, anything else its one character."""
    if spec.startswith("^") and len(spec) == 2:
        return bytes([ord(spec[1].upper()) ^ 0x40])
    return spec.encode()[:1]


def _relay(console_fd: int, tty_in: int, tty_out: int, escape: bytes = ESCAPE) -> None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(console_fd, selectors.EVENT_READ, "guest")
    sel.register(tty_in, selectors.EVENT_READ, "user")
    while True:
        for key, _ in sel.select():
            if key.data == "guest":
                data = os.read(console_fd, 65536)
                if not data:
                    return
                os.write(tty_out, data)
            else:
                data = os.read(tty_in, 4096)
                if not data:
                    return
                head, esc, _ = data.partition(escape)
                if head:
                    os.write(console_fd, head)
                if esc:
                    return


@command(
    "console", "connect to the guest console",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("devname", "character device name"),
    Opt("force", "force console connection (disconnect already connected sessions)", flag=True),
    Opt("safe", "only connect if safe console handling is supported", flag=True),
)  # fmt: skip
def cmd_console(s: Session, o: dict[str, Any]) -> None:
    # the terminal modules load when a console is opened, not when a line that names ``console`` is parsed
    import contextlib
    import termios
    import tty

    if not os.isatty(sys.stdin.fileno()):
        raise CommandError("Cannot run interactive console without a controlling TTY")
    dom = get_domain(s, o["domain"])
    try:
        fd = dom.open_console(o["devname"], _CONSOLE_FORCE if o["force"] else 0)
    except Error as exc:
        raise CommandError(exc.message) from None
    ctrl = f" (Ctrl + {s.escape[1]})" if s.escape.startswith("^") else ""
    s.extra(f"Connected to domain '{dom.name}'\nEscape character is {s.escape}{ctrl}")
    sys.stdout.flush()
    tty_in, tty_out = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(tty_in)
    try:
        tty.setraw(tty_in, termios.TCSANOW)  # not TCSAFLUSH: keys typed after the banner must not be lost
        _relay(fd, tty_in, tty_out, escape_byte(s.escape))
    finally:
        termios.tcsetattr(tty_in, termios.TCSADRAIN, saved)
        with contextlib.suppress(OSError):
            os.close(fd)
    s.out("")
