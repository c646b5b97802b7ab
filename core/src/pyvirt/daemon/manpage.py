"""``pyvirtd(8)``, written from pyvirtd's own argument parser: ``python -m pyvirt.daemon.manpage > pyvirtd.8``.

The options come from the parser ``pyvirtd --help`` prints, the files from
the functions that compute the daemon's paths and the configuration keys
from the model that validates ``pyvirtd.conf``, so the manual cannot drift
from the program. What no table holds (signals, socket activation, exit
status) is written once, here, as ``pyvirsh(1)``'s generator does for the
shell.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["manpage"]

_NAME = r""".TH PYVIRTD 8 "" "pyvirt {version}" "System Administration"
.nh
.SH NAME
pyvirtd \- pyvirt's management daemon, in the place of libvirtd
.SH SYNOPSIS
.B pyvirtd
[\fIOPTION\fR]...
.SH DESCRIPTION
"""

_BEHAVIOUR = r""".SH OPERATION
One pyvirtd serves the host (the system instance, run as root) or one user
(the session instance). It loads every installed driver once, reconnects to
the guests and containers its drivers left running, starts what is marked
autostart once per host boot, and then answers clients: virsh, libvirt\-python,
virt\-manager and pyvirsh reach it through libvirt's RPC protocol on its Unix
sockets, the read\-write one for full access and the read\-only one (suffix
\fB\-ro\fR) for queries.
.PP
Guests never depend on the daemon: stopping or restarting pyvirtd leaves them
running, and the next pyvirtd finds them again from their status files.
.SH SIGNALS
.TP
.B SIGHUP
read the configuration file again (logging settings) and reload the drivers:
definitions changed on disk appear, and autostart networks and pools that are
not running are started.
.TP
.BR SIGTERM ", " SIGINT
stop serving, disconnect the clients, release the drivers' state and exit with
status 0; guests keep running.
.SH SOCKET ACTIVATION
When systemd passes listening sockets (\fBLISTEN_PID\fR, \fBLISTEN_FDS\fR and
\fBLISTEN_FDNAMES\fR), pyvirtd serves those instead of creating its own: a
socket whose name ends in \fB\-ro\fR is read\-only, the others read\-write;
without names the first is read\-write and the second read\-only. With
\fBNOTIFY_SOCKET\fR set, pyvirtd sends \fBREADY=1\fR once it serves, for units
of \fBType=notify\fR.
.SH EXIT STATUS
0 after a clean stop (or for \fB\-\-version\fR); 1 when the daemon cannot start:
a configuration error, a pid file held by a running pyvirtd, a socket that
cannot be created. With \fB\-\-daemon\fR the command returns only once the
background daemon serves or has failed, with that status and message.
"""

_ENVIRONMENT = r""".SH ENVIRONMENT
.TP
.B PYVIRT_DEBUG
log level (1 debug to 4 error, or its name); wins over \fBlog_level\fR.
.TP
.B PYVIRT_LOG_FILTERS
log filters in libvirt's syntax (\fB3:remote 4:event\fR); win over \fBlog_filters\fR.
.TP
.B PYVIRT_LOG_OUTPUTS
log outputs in libvirt's syntax (\fB1:file:/var/log/pyvirtd.log\fR); win over \fBlog_outputs\fR.
.TP
.BR XDG_RUNTIME_DIR ", " XDG_CONFIG_HOME
where the session instance keeps its sockets and reads its configuration
(\fI~/.cache\fR and \fI~/.config\fR when unset).
.SH SEE ALSO
.BR pyvirsh (1),
.BR libvirtd (8),
.BR virsh (1)
"""


def _roff(text: str) -> str:
    """Text as roff shows it: backslashes and hyphens escaped, a leading dot or quote made harmless."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in ".'" else line for line in text.split("\n"))


def _option_head(action: argparse.Action) -> str:
    names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or action.dest.upper()
    return f"{names} \\fI{_roff(str(metavar))}\\fR"


def _options(parser: argparse.ArgumentParser) -> str:
    parts = [".SH OPTIONS\n"]
    for action in parser._actions:  # argparse lists its actions nowhere else
        if action.option_strings and action.help != argparse.SUPPRESS:
            parts.append(f".TP\n{_option_head(action)}\n{_roff(str(action.help))}.\n")
    return "".join(parts)


def _files() -> str:
    from pyvirt.daemon.sockets import daemon_paths

    system = daemon_paths(system=True)
    root = daemon_paths(root="/ROOT")
    run_dir = os.path.relpath(root.run_dir, "/ROOT")
    config = os.path.relpath(root.config_file, "/ROOT")
    rows = [
        (system.config_file, "the system instance's configuration (libvirtd.conf's syntax and keys)."),
        (system.rw_socket, "the read-write socket of the system instance."),
        (system.ro_socket, "the read-only socket of the system instance."),
        (system.pid_file, "the pid file; a second pyvirtd of the same instance refuses to start."),
        (
            f"$XDG_RUNTIME_DIR/pyvirt/, $XDG_CONFIG_HOME/pyvirt/{os.path.basename(system.config_file)}",
            "the session instance's sockets and pid file, and its configuration.",
        ),
        (f"DIR/{run_dir}/, DIR/{config}", "the same under --root DIR."),
    ]
    return ".SH FILES\n" + "".join(f".TP\n.I {_roff(path)}\n{_roff(text)}\n" for path, text in rows)


def _value(value: object, octal: bool) -> str:
    """A default as it is written in the file (libvirt's syntax)."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(int(value))
    if octal and isinstance(value, int):
        return f'"0{value:o}"'
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _configuration() -> str:
    from pyvirt.daemon.config import DaemonConfig

    octal = {
        name
        for decorator in DaemonConfig.__pydantic_decorators__.field_validators.values()
        if decorator.func.__name__ == "_octal"
        for name in decorator.info.fields
    }
    parts = [
        ".SH CONFIGURATION\n",
        "The configuration file takes libvirtd.conf's keys, in its syntax, with libvirtd's meaning.\n"
        "pyvirtd reads and checks the keys below (shown with their defaults); a value of the wrong\n"
        "type stops the start with an error naming the file and the key. Any other key is logged and\n"
        "ignored, so a libvirtd.conf copied from a libvirt host still starts the daemon.\n"
        ".PP\n.RS\n.nf\n",
    ]
    for name, field in DaemonConfig.model_fields.items():
        parts.append(f"{_roff(name)} = {_roff(_value(field.default, name in octal))}\n")
    parts.append(".fi\n.RE\n")
    return "".join(parts)


def manpage() -> str:
    """The whole page, in roff."""
    import pyvirt
    from pyvirt.daemon.main import _parser

    parser = _parser()
    return "".join(
        [
            _NAME.format(version=pyvirt.__version__),
            _roff(str(parser.description)) + "\n",
            _options(parser),
            _BEHAVIOUR,
            _configuration(),
            _files(),
            _ENVIRONMENT,
        ]
    )


def main() -> int:
    sys.stdout.write(manpage())
    return 0


if __name__ == "__main__":
    sys.exit(main())
