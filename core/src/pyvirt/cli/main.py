"""Entry point of ``pyvirsh``: global options, command dispatch, error reporting.

Command modules are imported only when one of their commands is named, so
``pyvirsh host-validate`` does not pay for XML or driver imports. Several
commands may be given in one argument separated by ``;`` (as virsh allows).
Errors print as virsh prints them (``error: …`` on stderr); the exit status
is that of the last command. Standard output is flushed after each command
and before anything goes to stderr, so ``2>&1`` reads in order, as virsh's.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from pyvirt.cli.framework import REGISTRY, CommandDef, CommandError, Session
from pyvirt.errors import Error

__all__ = ["main"]

# command name -> module under pyvirt.cli that defines it
COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(["version", "uri", "hostname", "capabilities", "domcapabilities", "nodeinfo", "drivers"], "host_cmds"),
    **dict.fromkeys(
        ["list", "dominfo", "domstate", "domid", "domname", "domuuid", "dumpxml", "define", "undefine", "create",
         "start", "destroy", "shutdown", "reboot", "suspend", "resume", "save", "restore", "managedsave",
         "managedsave-remove", "autostart", "domxml-to-native", "domxml-from-native", "domstats",
         "attach-device", "detach-device", "update-device"],
        "domain_cmds",
    ),
    **dict.fromkeys(
        ["snapshot-create-as", "snapshot-list", "snapshot-delete", "snapshot-revert", "snapshot-current",
         "snapshot-dumpxml"],
        "snapshot_cmds",
    ),
    **dict.fromkeys(
        ["net-list", "net-info", "net-dumpxml", "net-define", "net-create", "net-start", "net-destroy",
         "net-undefine", "net-autostart", "net-name", "net-uuid", "net-dhcp-leases", "net-update"],
        "network_cmds",
    ),
    **dict.fromkeys(
        ["pool-list", "pool-info", "pool-dumpxml", "pool-define", "pool-create", "pool-start", "pool-destroy",
         "pool-refresh", "pool-undefine", "pool-autostart", "vol-list", "vol-info", "vol-dumpxml", "vol-create-as",
         "vol-create", "vol-delete", "vol-path"],
        "storage_cmds",
    ),
    **dict.fromkeys(
        ["secret-list", "secret-define", "secret-dumpxml", "secret-set-value", "secret-get-value", "secret-undefine"],
        "secret_cmds",
    ),
    **dict.fromkeys(["nodedev-list", "nodedev-dumpxml", "iface-list", "iface-dumpxml"], "device_cmds"),
    **dict.fromkeys(
        ["checkpoint-create-as", "checkpoint-list", "checkpoint-dumpxml", "checkpoint-delete"], "checkpoint_cmds"
    ),
    "schedinfo": "schedinfo_cmd",
    "screenshot": "screenshot_cmd",
    "console": "console_cmd",
    **dict.fromkeys(["domdisplay", "vncdisplay"], "display_cmds"),
    **dict.fromkeys(["domblklist", "domiflist", "domifaddr"], "domain_device_cmds"),
    "event": "event_cmd",
    "net-event": "event_cmd",
    "host-validate": "host_validate_cmd",
}  # fmt: skip

USAGE = """
pyvirsh [options]... [<command_string>]
pyvirsh [options]... <command> [args...]

  options:
    -c | --connect=URI      hypervisor connection URI
    -h | --help             this help
    -q | --quiet            quiet mode
    -r | --readonly         connect readonly
    -v | --version          program version

  commands (use 'pyvirsh help COMMAND' for details):
"""


def _lookup(name: str) -> CommandDef | None:
    module = COMMAND_MODULES.get(name)
    if module is None:
        return None
    importlib.import_module(f"pyvirt.cli.{module}")
    return REGISTRY.get(name)


def _print_help(session: Session, name: str | None) -> int:
    if name:
        cmd = _lookup(name)
        if cmd is None:
            session.error(f"command or command group '{name}' doesn't exist")
            return 1
        session.stdout.write(cmd.help_text())
        return 0
    session.stdout.write(USAGE)
    for cmd_name in sorted(COMMAND_MODULES):
        cmd = _lookup(cmd_name)
        session.stdout.write(f"    {cmd_name:<22}{cmd.summary if cmd else ''}\n")
    return 0


def _split_commands(args: list[str]) -> list[list[str]]:
    """``pyvirsh "define x.xml; start x"`` -> two commands; plain argv -> one."""
    if len(args) == 1 and (";" in args[0] or " " in args[0].strip()):
        import shlex

        lexer = shlex.shlex(args[0], posix=True, punctuation_chars=";")
        lexer.whitespace_split = True
        out: list[list[str]] = [[]]
        for tok in lexer:
            if tok == ";":
                out.append([])
            else:
                out[-1].append(tok)
        return [c for c in out if c]
    return [args]


def _parse_globals(args: list[str], session: Session) -> list[str] | int:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a in ("-c", "--connect"):
            i += 1
            if i >= len(args):
                session.error("option '-c' requires an argument")
                return 1
            session.uri = args[i]
        elif a.startswith("--connect="):
            session.uri = a.split("=", 1)[1]
        elif a in ("-r", "--readonly"):
            session.readonly = True
        elif a in ("-q", "--quiet"):
            session.quiet = True
        elif a in ("-h", "--help"):
            return _print_help(session, None)
        elif a in ("-v", "--version"):
            import pyvirt

            session.out(pyvirt.__version__)
            return 0
        else:
            session.error(f"unsupported option '{a}'. See --help.")
            return 1
        i += 1
    return args[i:]


def run_command(session: Session, argv: list[str]) -> bool:
    name = argv[0]
    if name == "help":
        return _print_help(session, argv[1] if len(argv) > 1 else None) == 0
    cmd = _lookup(name)
    if cmd is None:
        session.error(f"unknown command: '{name}'")
        return False
    if "--help" in argv[1:] or "-h" in argv[1:]:
        session.stdout.write(cmd.help_text())
        return True
    try:
        opts = cmd.parse(argv[1:])
    except CommandError as exc:
        for line in exc.lines:
            session.error(line)
        return False  # virsh prints no trailer when the options do not parse
    ok = True
    try:
        cmd.handler(session, opts)
    except CommandError as exc:
        for line in exc.lines:
            session.error(line)
        ok = False
    except Error as exc:
        session.error(exc.message)
        ok = False
    session.extra()
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    session = Session(uri=os.environ.get("VIRSH_DEFAULT_CONNECT_URI") or None)
    parsed = _parse_globals(list(sys.argv[1:] if argv is None else argv), session)
    if isinstance(parsed, int):
        return parsed
    if not parsed:
        return _print_help(session, None)
    ok = True
    try:
        for cmd_argv in _split_commands(parsed):
            ok = run_command(session, cmd_argv)
            session.flush()  # virsh flushes every print: a reader of 2>&1 sees each command's output in turn
    except KeyboardInterrupt:
        return 130
    finally:
        session.close()
    return 0 if ok else 1


if __name__ == "__main__":
    from pyvirt.cli.console import console_main

    console_main()
