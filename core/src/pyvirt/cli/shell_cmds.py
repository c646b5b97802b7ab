"""virsh's own commands ("Virsh itself"): help, cd, pwd, echo, quit, exit, connect, and the hidden complete.

They need no connection (``connect`` makes one). ``help`` reads the
command table through the session, so listing every command imports every
command module, which only ``help`` and the completer ever pay for.
"""

from __future__ import annotations

import os

from pyvirt.cli.framework import CommandDef, CommandError, Opt, Session, command
from pyvirt.cli.groups import EXTRA_GROUP, GROUPS
from pyvirt.cli.xml_text import escape_xml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["grouped_commands", "usage_text"]


def grouped_commands(s: Session) -> list[tuple[str, str, list[CommandDef]]]:
    """(title, keyword, commands) for every group with at least one command pyvirsh has, in virsh's order."""
    known = set(s.command_names)
    listed: set[str] = set()
    out: list[tuple[str, str, list[CommandDef]]] = []
    for title, keyword, names in GROUPS:
        cmds = [c for n in names if n in known and (c := s.lookup(n)) is not None and not c.hidden]
        listed.update(names)
        if cmds:
            out.append((title, keyword, cmds))
    extra = [c for n in s.command_names if n not in listed and (c := s.lookup(n)) is not None and not c.hidden]
    if extra:
        out.append((*EXTRA_GROUP, extra))
    return out


def _command_line(cmd: CommandDef) -> str:
    return f"    {cmd.name:<30} {cmd.texts()[0]}\n"


def usage_text(s: Session, progname: str = "pyvirsh") -> str:
    """``pyvirsh --help``: virsh's usage text (virshUsage), then every command by group."""
    parts = [
        f"\n{progname} [options]... [<command_string>]\n{progname} [options]... <command> [args...]\n\n"
        "  options:\n"
        "    -c | --connect=URI      hypervisor connection URI\n"
        "    -d | --debug=NUM        debug level [0-4]\n"
        "    -e | --escape <char>    set escape sequence for console\n"
        "    -h | --help             this help\n"
        "    -k | --keepalive-interval=NUM\n"
        "                            keepalive interval in seconds, 0 for disable\n"
        "    -K | --keepalive-count=NUM\n"
        "                            number of possible missed keepalive messages\n"
        "    -l | --log=FILE         output logging to file\n"
        "    -q | --quiet            quiet mode\n"
        "    -r | --readonly         connect readonly\n"
        "    -t | --timing           print timing information\n"
        "    -v                      short version\n"
        "    -V                      long version\n"
        "         --version[=TYPE]   version, TYPE is short or long (default short)\n"
        "         --print-completion=SHELL\n"
        "                            print the completion script for SHELL (bash)\n"
        "  commands (non interactive mode):\n\n"
    ]
    for title, keyword, cmds in grouped_commands(s):
        parts.append(f" {title} (help keyword '{keyword}')\n")
        parts += [_command_line(c) for c in cmds]
        parts.append("\n")
    parts.append("\n  (specify help <group> for details about the commands in the group)\n")
    parts.append("\n  (specify help <command> for details about the command)\n\n")
    return "".join(parts)


@command(
    "help", "print help",
    Opt("command", "Prints global help, command specific help, or help for a group of related commands",
        positional=True, kind="optstring"),
    description="Prints global help, command specific help, or help for a\n    group of related commands",
    needs_connection=False,
)  # fmt: skip
def cmd_help(s: Session, o: dict[str, Any]) -> None:
    name = o["command"]
    groups = grouped_commands(s) if not name or s.lookup(name) is None else []
    if not name:
        s.out_raw("Grouped commands:\n\n")
        for title, keyword, cmds in groups:
            s.out_raw(f" {title} (help keyword '{keyword}'):\n" + "".join(_command_line(c) for c in cmds) + "\n")
        return
    cmd = s.lookup(name)
    if cmd is not None:
        s.out_raw(cmd.help_text())
        return
    for title, keyword, cmds in groups:
        if name in (title, keyword):
            s.out_raw(f" {title} (help keyword '{keyword}'):\n" + "".join(_command_line(c) for c in cmds))
            return
    raise CommandError(f"command or command group '{name}' doesn't exist")


@command(
    "cd", "change the current directory",
    Opt("dir", "directory to switch to (default: home or else root)", positional=True, kind="optstring"),
    description="Change the current directory.",
    needs_connection=False,
)  # fmt: skip
def cmd_cd(s: Session, o: dict[str, Any]) -> None:
    if not s.interactive:
        raise CommandError("cd: command valid only in interactive mode")
    target = o["dir"]
    if not target:
        import pwd

        try:
            target = pwd.getpwuid(os.getuid()).pw_dir  # virGetUserDirectory: the passwd entry, not $HOME
        except KeyError:
            target = "/"
    try:
        os.chdir(target)
    except OSError as exc:
        raise CommandError(f"cd: {os.strerror(exc.errno or 0)}: {target}") from None


@command("pwd", "print the current directory", description="Print the current directory.", needs_connection=False)
def cmd_pwd(s: Session, o: dict[str, Any]) -> None:
    s.out(os.getcwd())


def _escape_shell(text: str) -> str:
    """virBufferEscapeShell: as it is when safe, else single-quoted with ``'\\''`` for each quote."""
    if not text:
        return "''"
    if not any(ch in "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~" for ch in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def split_commas(text: str) -> list[str]:
    """vshStringToArray: split on ``,``; ``,,`` stands for a comma inside an item."""
    items: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1 : i + 2] == ",":
                current.append(",")
                i += 2
                continue
            items.append("".join(current))
            current = []
        else:
            current.append(text[i])
        i += 1
    items.append("".join(current))
    return items


@command(
    "echo", "echo arguments. Used for internal testing.",
    Opt("shell", "escape for shell use", flag=True),
    Opt("xml", "escape for XML use", flag=True),
    Opt("split", "split each argument on ','; ',,' is an escape sequence", flag=True),
    Opt("err", "output to stderr", flag=True),
    Opt("string", "arguments to echo", positional=True, kind="list", aliases=("str",)),
    description="Echo back arguments, possibly with quoting. Used for internal testing.",
    needs_connection=False,
)  # fmt: skip
def cmd_echo(s: Session, o: dict[str, Any]) -> None:
    for a, b in (("shell", "xml"), ("shell", "split"), ("xml", "split")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    words = o["string"] or []
    if not words:
        return
    pieces = []
    for word in words:
        if o["xml"]:
            pieces.append(escape_xml(word))
        elif o["shell"]:
            pieces.append(_escape_shell(word))
        elif o["split"]:
            pieces.append("".join(f"{item}\n" for item in split_commas(word)))
        else:
            pieces.append(word)
    text = " ".join(pieces)
    if o["err"]:
        s.error(text)
    else:
        s.out_raw(text)


@command("quit", "quit this interactive terminal", description="", needs_connection=False)
def cmd_quit(s: Session, o: dict[str, Any]) -> None:
    s.interactive = False


@command("exit", "quit this interactive terminal", description="", needs_connection=False)
def cmd_exit(s: Session, o: dict[str, Any]) -> None:
    s.interactive = False


@command(
    "connect", "(re)connect to hypervisor",
    Opt("name", "hypervisor connection URI", positional=True, kind="optstring"),
    Opt("readonly", "read-only connection", flag=True),
    description="Connect to local hypervisor. This is built-in command after shell start up.",
    needs_connection=False,
)  # fmt: skip
def cmd_connect(s: Session, o: dict[str, Any]) -> None:
    name = o["name"]
    # virshReconnect: reconnecting to the same URI keeps read-only as it was, a new URI starts read-write
    readonly = o["readonly"] or (name is None and s.readonly)
    s.reconnect(name, readonly)


@command(
    "complete", "internal command for autocompletion",
    Opt("string", "partial string to autocomplete", positional=True, kind="list"),
    description="internal use only",
    needs_connection=False,
    hidden=True,
)  # fmt: skip
def cmd_complete(s: Session, o: dict[str, Any]) -> None:
    """What the bash completion script asks: the words so far; the last one is being completed."""
    from pyvirt.cli.completion import complete_words

    words = o["string"] or []
    if not words:
        raise CommandError()  # virsh fails without a word of explanation
    if not s.interactive:  # as virsh: nothing may wait for input (an auth prompt) while bash waits for us
        try:  # noqa: SIM105 - not contextlib.suppress: help and echo need not import contextlib
            os.close(0)
        except OSError:
            pass  # already closed
    matches = complete_words(s, words)
    if not matches:
        raise CommandError()  # as virsh's readline: no match is a silent failure
    for match in matches:
        s.out(match)
