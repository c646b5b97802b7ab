"""``pyvirsh(1)``, written from the same command table ``help`` reads: ``python -m pyvirt.cli.manpage > pyvirsh.1``.

Every command pyvirsh has appears under its virsh group with the synopsis,
description and options ``help CMD`` prints, so the manual cannot drift
from the program. The global options and the shell's behaviour (standard
input, history, completion) are described once, here.
"""

from __future__ import annotations

import sys

from pyvirt.cli.framework import Session

__all__ = ["manpage"]

_HEAD = r""".TH PYVIRSH 1 "" "pyvirt {version}" "User Commands"
.nh
.SH NAME
pyvirsh \- management user interface for pyvirt, command for command as virsh
.SH SYNOPSIS
.B pyvirsh
[\fIOPTION\fR]... [\fICOMMAND_STRING\fR]
.br
.B pyvirsh
[\fIOPTION\fR]... \fICOMMAND\fR [\fIARG\fR]...
.SH DESCRIPTION
pyvirsh is virsh for pyvirt: the same commands, options, output and exit
status as virsh of libvirt {libvirt}, so scripts written for virsh run
unchanged.
.PP
A \fICOMMAND_STRING\fR holds one or more commands separated by \fB;\fR or
newlines; words are quoted as in a shell (\fB'\fR, \fB"\fR, \fB\e\fR), and a
word starting with \fB#\fR comments out the rest of the line. The whole
string is parsed before the first command runs: an unknown command or option
anywhere runs nothing and exits with status 1. Otherwise the exit status is
that of the last command.
.PP
Without a command, pyvirsh reads commands from standard input. On a terminal
this is an interactive shell (prompt \fBpyvirsh #\fR, or \fBpyvirsh >\fR when
read-only) with line editing, history and TAB completion of commands,
options and domain, network, pool and volume names. From a pipe or file each
line is shown after the prompt, as virsh shows it, and the exit status is 0.
.SH OPTIONS
.TP
.BR \-c ", " \-\-connect =\fIURI\fR
hypervisor connection URI; the connection is opened before the first command.
.TP
.BR \-d ", " \-\-debug =\fINUM\fR
debug level [0\-4]: how commands were parsed, on standard output.
.TP
.BR \-e ", " \-\-escape " " \fICHAR\fR
escape sequence for \fBconsole\fR (default \fB^]\fR).
.TP
.BR \-h ", " \-\-help
the usage text and every command by group.
.TP
.BR \-k ", " \-\-keepalive\-interval =\fINUM\fR
keepalive interval in seconds, 0 to disable.
.TP
.BR \-K ", " \-\-keepalive\-count =\fINUM\fR
number of possible missed keepalive messages.
.TP
.BR \-l ", " \-\-log =\fIFILE\fR
errors and debug messages appended to \fIFILE\fR.
.TP
.BR \-q ", " \-\-quiet
quiet mode: no informational messages.
.TP
.BR \-r ", " \-\-readonly
connect read-only.
.TP
.BR \-t ", " \-\-timing
the time each command took.
.TP
.B \-v
the libvirt version whose API pyvirt implements ({libvirt}).
.TP
.B \-V
long version.
.TP
.BR \-\-version [=\fITYPE\fR]
version, \fITYPE\fR is short or long (default short).
.TP
.BR \-\-print\-completion =\fISHELL\fR
the completion script for \fISHELL\fR (bash): \fBsource <(pyvirsh \-\-print\-completion bash)\fR.
"""

_TAIL = r""".SH ENVIRONMENT
.TP
.B VIRSH_DEFAULT_CONNECT_URI
the URI used when \fB\-c\fR is not given.
.TP
.B VIRSH_HISTSIZE
lines of history the interactive shell keeps (default 500).
.SH FILES
.TP
.I $XDG_CACHE_HOME/pyvirsh/history
the interactive shell's history (\fI~/.cache/pyvirsh/history\fR by default).
.TP
.I share/bash-completion/completions/pyvirsh
the bash completion script, installed with the package.
.SH SEE ALSO
.BR virsh (1),
.BR pyvirtd (8)
"""


def _roff(text: str) -> str:
    """Text as roff shows it: backslashes doubled, a leading dot or quote made harmless."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line[:1] in ".'" else line for line in text.split("\n"))


def manpage(s: Session) -> str:
    import pyvirt
    from pyvirt.cli.main import LIBVIRT_VERSION
    from pyvirt.cli.shell_cmds import grouped_commands

    parts = [_HEAD.format(version=pyvirt.__version__, libvirt=LIBVIRT_VERSION)]
    for title, keyword, cmds in grouped_commands(s):
        parts.append(f'.SH "{title.upper()}" \n(\\fBhelp {keyword}\\fR lists these)\n')
        for cmd in cmds:
            summary, synopsis, description, rows = cmd.help_parts()
            parts.append(f".SS {cmd.name}\n{_roff(summary)}\n.PP\n.B {_roff(synopsis)}\n")
            if description:
                lines = [line.strip() for line in description.split("\n")]
                parts.append(".PP\n" + _roff(" ".join(lines)) + "\n")
            for head, text in rows:
                parts.append(f".TP\n.B {_roff(head)}\n{_roff(text)}\n")
    parts.append(_TAIL)
    return "".join(parts)


def main() -> int:
    from pyvirt.cli.main import COMMAND_MODULES, _lookup

    session = Session()
    session.lookup = _lookup
    session.command_names = list(COMMAND_MODULES)
    sys.stdout.write(manpage(session))
    return 0


if __name__ == "__main__":
    sys.exit(main())
