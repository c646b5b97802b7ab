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

__all__ = ["ESCAPE", "ConsoleOpenError", "escape_byte"]

_CONSOLE_FORCE = 1 << 0  # VIR_DOMAIN_CONSOLE_FORCE
_SHUTOFF = 5  # VIR_DOMAIN_SHUTOFF

ESCAPE = b"\x1d"  # Ctrl+], virsh's default (-e '^]')


class ConsoleOpenError(CommandError):
    """The driver could not open the console (virDomainOpenConsole failed), after the banner.

    virsh's ``create --console`` ignores it (its cmdRunConsole's result is
    dropped and libvirt's error never printed), unlike the checks before
    the banner, which cmdRunConsole prints itself.
    """


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

    dom = get_domain(s, o["domain"])
    # virsh's cmdRunConsole, in its order: the guest must run, stdin must be a terminal, the banner is printed,
    # and only then is the console opened (a driver that has none fails after the banner, as in virsh)
    try:
        state = int(dom.state()[0])
    except Error:
        raise CommandError("Unable to get domain status") from None
    if state == _SHUTOFF:
        raise CommandError("The domain is not running")
    if not os.isatty(sys.stdin.fileno()):
        raise CommandError("Cannot run interactive console without a controlling TTY")
    ctrl = f" (Ctrl + {s.escape[1]})" if s.escape.startswith("^") else ""
    s.extra(f"Connected to domain '{dom.name}'\nEscape character is {s.escape}{ctrl}")
    sys.stdout.flush()
    try:
        fd = dom.open_console(o["devname"], _CONSOLE_FORCE if o["force"] else 0)
    except Error as exc:
        raise ConsoleOpenError(exc.message) from None
    tty_in, tty_out = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(tty_in)
    try:
        tty.setraw(tty_in, termios.TCSANOW)  # not TCSAFLUSH: keys typed after the banner must not be lost
        _relay(fd, tty_in, tty_out, escape_byte(s.escape))
    finally:
        termios.tcsetattr(tty_in, termios.TCSADRAIN, saved)
        with contextlib.suppress(OSError):
            os.close(fd)
    # nothing more: the blank line after the command is the one every command gets (virsh's cmdRunConsole
    # prints none of its own after a detach)
