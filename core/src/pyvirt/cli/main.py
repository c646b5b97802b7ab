"""Entry point of ``pyvirsh``: global options, command dispatch, error reporting.

Command modules are imported only when one of their commands is named, so
``pyvirsh host-validate`` does not pay for XML or driver imports. Several
commands may be given in one argument separated by ``;`` or newlines (as
virsh allows); the whole argument is parsed before the first command runs,
and with no command at all the commands come from standard input
(:mod:`pyvirt.cli.shell`). Errors print as virsh prints them (``error: …``
on stderr); the exit status is that of the last command. Standard output is
flushed after each command and before anything goes to stderr, so ``2>&1``
reads in order, as virsh's.
"""

from __future__ import annotations

import os
import sys
import time
from _collections_abc import Sequence

from pyvirt.cli.framework import REGISTRY, CommandDef, CommandError, Session
from pyvirt.cli.nosupport_table import COMMANDS as NOSUPPORT_COMMANDS
from pyvirt.cli.parser import ParsedCommand, parse_argv, parse_line
from pyvirt.errors import Error

__all__ = ["main"]

# command name -> module under pyvirt.cli that defines it
COMMAND_MODULES: dict[str, str] = {
    # first: a module below that implements one of these commands for real takes it over
    **dict.fromkeys(NOSUPPORT_COMMANDS, "nosupport_cmds"),
    **dict.fromkeys(["version", "uri", "hostname", "capabilities", "domcapabilities", "nodeinfo", "drivers"], "host_cmds"),
    **dict.fromkeys(
        ["list", "dominfo", "domstate", "domid", "domname", "domuuid", "dumpxml", "define", "create",
         "start", "destroy", "shutdown", "reboot", "suspend", "resume", "save", "restore", "managedsave",
         "managedsave-remove", "autostart", "domxml-to-native", "domxml-from-native", "domstats",
         "attach-device", "detach-device", "update-device"],
        "domain_cmds",
    ),
    **dict.fromkeys(
        ["snapshot-create-as", "snapshot-list", "snapshot-delete", "snapshot-revert", "snapshot-current",
         "snapshot-dumpxml", "snapshot-info", "snapshot-parent", "snapshot-create"],
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
         "vol-create", "vol-delete", "vol-path", "vol-upload", "vol-download"],
        "storage_cmds",
    ),
    **dict.fromkeys(["vol-clone", "vol-create-from", "vol-wipe"], "vol_copy_cmds"),
    **dict.fromkeys(
        ["secret-list", "secret-define", "secret-dumpxml", "secret-set-value", "secret-get-value", "secret-undefine"],
        "secret_cmds",
    ),
    **dict.fromkeys(["nodedev-list", "nodedev-dumpxml", "iface-list", "iface-dumpxml"], "device_cmds"),
    **dict.fromkeys(
        ["checkpoint-create-as", "checkpoint-list", "checkpoint-dumpxml", "checkpoint-delete"], "checkpoint_cmds"
    ),
    "schedinfo": "schedinfo_cmd",
    **dict.fromkeys(["edit", "net-edit", "pool-edit", "iface-edit", "snapshot-edit", "checkpoint-edit"], "edit_cmds"),
    "screenshot": "screenshot_cmd",
    **dict.fromkeys(["save-image-dumpxml", "save-image-define", "save-image-edit", "managedsave-dumpxml",
                     "managedsave-define", "managedsave-edit"], "save_image_cmds"),
    "undefine": "undefine_cmd",
    **dict.fromkeys(["ttyconsole", "domif-getlink", "domif-setlink"], "domif_cmds"),
    **dict.fromkeys(["pool-create-as", "pool-define-as"], "pool_as_cmds"),
    **dict.fromkeys(["nodedev-event", "secret-event"], "event_nosupport_cmds"),
    **dict.fromkeys(["checkpoint-create", "checkpoint-info", "checkpoint-parent"], "checkpoint_info_cmds"),
    "nodedev-info": "nodedev_info_cmd",
    **dict.fromkeys(["maxvcpus", "freecell", "freepages", "nodecpustats", "cpu-models", "sysinfo"], "host_info_cmds"),
    **dict.fromkeys(["cpu-baseline", "cpu-compare", "hypervisor-cpu-baseline", "hypervisor-cpu-compare"], "cpu_cmds"),
    **dict.fromkeys(["nodedev-create", "nodedev-destroy"], "nodedev_create_cmds"),
    **dict.fromkeys(["find-storage-pool-sources", "find-storage-pool-sources-as"], "pool_sources_cmds"),
    **dict.fromkeys(["attach-interface", "detach-interface"], "iface_device_cmds"),
    "change-media": "change_media_cmd",
    "emulatorpin": "emulatorpin_cmd",
    **dict.fromkeys(["iothreadinfo", "iothreadpin", "iothreadadd", "iothreadset", "iothreaddel"], "iothread_cmds"),
    **dict.fromkeys(["domfsinfo", "domfsfreeze", "domfsthaw", "domfstrim"], "domfs_cmds"),
    **dict.fromkeys(["iface-define", "iface-undefine", "iface-start", "iface-destroy", "iface-begin", "iface-commit",
                     "iface-rollback"], "iface_change_cmds"),
    "blockjob": "blockjob_cmd",
    "blockcopy": "blockcopy_cmd",
    **dict.fromkeys(["blockpull", "blockcommit"], "blockpull_cmds"),
    "update-memory-device": "memory_device_cmd",
    **dict.fromkeys(["iface-bridge", "iface-unbridge"], "iface_bridge_cmds"),
    "domjobabort": "domjobabort_cmd",
    "domblkthreshold": "blkthreshold_cmd",
    "blockresize": "blockresize_cmd",
    **dict.fromkeys(["nodememstats", "allocpages", "node-memory-tune"], "host_memory_cmds"),
    "vol-resize": "vol_resize_cmd",
    "pool-capabilities": "pool_capabilities_cmd",
    **dict.fromkeys(["migrate-setspeed", "migrate-getspeed"], "migrate_speed_cmds"),
    "migrate-compcache": "migrate_compcache_cmd",
    "domdirtyrate-calc": "dirtyrate_calc_cmd",
    **dict.fromkeys(["backup-begin", "backup-dumpxml"], "backup_cmds"),
    **dict.fromkeys(["qemu-monitor-command", "qemu-agent-command"], "qemu_cmds"),
    "lxc-enter-namespace": "lxc_enter_namespace_cmd",
    "dom-fd-associate": "dom_fd_associate_cmd",
    "domblkerror": "domblkerror_cmd",
    "domcontrol": "domcontrol_cmd",
    "blkiotune": "blkiotune_cmd",
    "memtune": "memtune_cmd",
    "numatune": "numatune_cmd",
    "perf": "perf_cmd",
    "domiftune": "domiftune_cmd",
    "cpu-stats": "cpu_stats_cmd",
    "blkdeviotune": "blkdeviotune_cmd",
    "set-lifecycle-action": "set_lifecycle_action_cmd",
    "send-process-signal": "send_process_signal_cmd",
    "set-user-password": "set_user_password_cmd",
    "domlaunchsecinfo": "domlaunchsecinfo_cmd",
    **dict.fromkeys(["guestinfo", "guestvcpus", "get-user-sshkeys", "set-user-sshkeys", "guest-agent-timeout",
                     "dompmsuspend", "dompmwakeup"], "guest_agent_cmds"),
    **dict.fromkeys(["setvcpu", "detach-device-alias"], "vcpu_alias_cmds"),
    **dict.fromkeys(["net-port-list", "net-port-create", "net-port-dumpxml", "net-port-delete"], "net_port_cmds"),
    **dict.fromkeys(["nwfilter-define", "nwfilter-undefine", "nwfilter-dumpxml", "nwfilter-list", "nwfilter-edit",
                     "nwfilter-binding-create", "nwfilter-binding-delete", "nwfilter-binding-dumpxml",
                     "nwfilter-binding-list"], "nwfilter_cmds"),
    "dump": "dump_cmd",
    **dict.fromkeys(["setmem", "setmaxmem", "setvcpus"], "memory_cmds"),
    **dict.fromkeys(["desc", "metadata", "domrename", "reset", "inject-nmi", "send-key", "domtime", "domhostname"],
                    "guest_cmds"),
    **dict.fromkeys(["vcpucount", "vcpuinfo", "vcpupin", "nodecpumap", "dommemstat", "domblkstat", "domifstat",
                     "domblkinfo"], "domain_stats_cmds"),
    **dict.fromkeys(["attach-disk", "detach-disk"], "disk_cmds"),
    "console": "console_cmd",
    **dict.fromkeys(["domdisplay", "vncdisplay"], "display_cmds"),
    **dict.fromkeys(["domblklist", "domiflist", "domifaddr"], "domain_device_cmds"),
    "event": "event_cmd",
    "net-event": "event_cmd",
    "pool-event": "event_cmd",
    "qemu-monitor-event": "qemu_event_cmd",
    "host-validate": "host_validate_cmd",
    **dict.fromkeys(["migrate", "migrate-postcopy", "migrate-setmaxdowntime", "migrate-getmaxdowntime",
                     "domjobinfo"], "migrate_cmds"),
    **dict.fromkeys(["pool-build", "pool-delete"], "pool_build_cmds"),
    **dict.fromkeys(["help", "cd", "pwd", "echo", "quit", "exit", "connect", "complete"], "shell_cmds"),
    **dict.fromkeys(["pool-name", "pool-uuid", "vol-key", "vol-name", "vol-pool", "iface-mac", "iface-name"],
                    "name_cmds"),
}  # fmt: skip

# The libvirt release whose API, wire protocol and virsh pyvirsh follow: ``pyvirsh -v`` prints it, as
# scripts check ``virsh -v`` for a libvirt version; the daemon reports the same (LIB_VERSION 9_000_000).
LIBVIRT_VERSION = "9.0.0"

# virsh's getopt_long table: long name -> (short letter, takes an argument: 0 no, 1 yes, 2 optional)
_LONG_OPTIONS = {
    "connect": ("c", 1), "debug": ("d", 1), "escape": ("e", 1), "help": ("h", 0),
    "keepalive-interval": ("k", 1), "keepalive-count": ("K", 1), "log": ("l", 1), "quiet": ("q", 0),
    "readonly": ("r", 0), "timing": ("t", 0), "version": ("v", 2), "print-completion": ("completion", 1),
}  # fmt: skip
_SHORT_WITH_ARG = "cdekKl"
_SHORT_FLAGS = "hqrtvV"
# C's strtol syntax, as virStrToLong_i takes it: base 10, or base 0 (0x hex, 0 octal)
_C_INT = {10: r"\s*[+-]?\d+", 0: r"\s*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)"}


class _ExitError(Exception):
    """Global option handling ends the run (``-h``, ``-v``, a bad option) with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _lookup(name: str) -> CommandDef | None:
    module = COMMAND_MODULES.get(name)
    if module is None:
        return None
    # __import__, not importlib.import_module: the importlib package (and the warnings module it loads)
    # cost every run 1.5 million instructions for this one call; the import statement's hook is the same
    __import__(f"pyvirt.cli.{module}")
    found = REGISTRY.get(name)
    if found is None and module == "nosupport_cmds":  # declared one by one, when named (it says why)
        from pyvirt.cli.nosupport_cmds import declare

        declare(name)
        found = REGISTRY.get(name)
    return found


def _c_int(text: str, base: int) -> int | None:
    """virStrToLong_i: the whole text is one C ``int`` in ``base`` (0: C's 0x/0 prefixes), else None."""
    import re  # only -d, -k and -K get here: a plain ``pyvirsh list`` does not pay for re

    if not re.fullmatch(_C_INT[base], text):
        return None
    digits = text.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    if base == 0 and digits[:2].lower() == "0x":
        value = int(digits[2:], 16)
    elif base == 0 and digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits, 10)
    value *= sign
    return value if -(2**31) <= value < 2**31 else None


def _long_version() -> str:
    import pyvirt

    return (
        f"pyvirsh command line tool of pyvirt {pyvirt.__version__} (libvirt {LIBVIRT_VERSION} API)\n"
        "See web site at https://libvirt.org/ for the API it implements\n"
    )


def _apply_option(session: Session, letter: str, value: str | None, spelled: str) -> None:
    """One global option, as virshParseArgv handles it (``spelled`` is how the user wrote it, for messages)."""
    if letter == "completion":  # --print-completion SHELL, pyvirsh's own
        from pyvirt.cli.bash_completion import print_completion

        raise _ExitError(print_completion(session, value or ""))
    if letter == "c":
        session.uri = value
    elif letter == "d":
        level = _c_int(value or "", 10)
        if level is None:
            session.error(f"option {spelled} takes a numeric argument")
            raise _ExitError(1)
        if 0 <= level <= 4:
            session.debug_level = level
        else:
            session.error(f"ignoring debug level {level} out of range [0-4]")
    elif letter == "e":
        v = value or ""
        if (len(v) == 2 and v[0] == "^" and ("a" <= v[1] <= "z" or "@" <= v[1] <= "_")) or (len(v) == 1 and v != "^"):
            session.escape = v
        else:
            session.error(f"Invalid string '{v}' for escape sequence")
            raise _ExitError(1)
    elif letter in "kK":
        number = _c_int(value or "", 0)
        if number is None:
            session.error(f"Invalid value for option {spelled}")
            raise _ExitError(1)
        if number < 0:
            session.error(f"option {spelled} requires a positive integer argument")
            raise _ExitError(1)
        if letter == "k":
            session.keepalive_interval = number
        else:
            session.keepalive_count = number
    elif letter == "l":
        if session.log_fd >= 0:
            os.close(session.log_fd)
        try:
            session.log_fd = os.open(value or "", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_SYNC, 0o644)
        except OSError:
            session.error("failed to open the log file. check the log file path")
            raise _ExitError(1) from None
    elif letter == "q":
        session.quiet = True
    elif letter == "t":
        session.timing = True
    elif letter == "r":
        session.readonly = True
    elif letter == "h":
        session.stdout.write(_usage(session))
        raise _ExitError(0)
    elif letter == "v" and value != "long":
        session.out(LIBVIRT_VERSION)
        raise _ExitError(0)
    elif letter in "vV":
        session.out_raw(_long_version())
        raise _ExitError(0)


def _usage(session: Session) -> str:
    from pyvirt.cli.shell_cmds import usage_text

    return usage_text(session)


def _missing_argument(session: Session, letter: str) -> None:
    long_name = next((name for name, (short, _) in _LONG_OPTIONS.items() if short == letter), None)
    if long_name:
        session.error(f"option '-{letter}'/'--{long_name}' requires an argument")
    else:
        session.error(f"option '-{letter}' requires an argument")
    raise _ExitError(1)


def parse_globals(args: list[str], session: Session) -> list[str]:
    """virsh's options before the command (getopt_long "+:c:d:e:hk:K:l:qrtvV"); the rest is the command.

    Options are handled as they come, as getopt hands them to virsh: ``-v``
    prints and ends the run there, a bad ``-d`` ends it with virsh's message.
    """
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return args[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            break
        i += 1
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            matches = [n for n in _LONG_OPTIONS if n == key] or [n for n in _LONG_OPTIONS if n.startswith(key)]
            if len(matches) != 1:
                session.error(f"unsupported option '{arg}'. See --help.")
                raise _ExitError(1)
            letter, takes = _LONG_OPTIONS[matches[0]]
            if takes == 0 and eq:
                session.error(f"unsupported option '-{letter}'. See --help.")
                raise _ExitError(1)
            if takes == 1 and not eq:
                if i >= len(args):
                    _missing_argument(session, letter)
                value = args[i]
                i += 1
            _apply_option(session, letter, value if (eq or takes == 1) else None, f"--{matches[0]}")
            continue
        j = 1
        while j < len(arg):
            letter = arg[j]
            j += 1
            if letter in _SHORT_WITH_ARG:
                if j < len(arg):
                    value = arg[j:]
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    _missing_argument(session, letter)
                _apply_option(session, letter, value, f"-{letter}")
                break
            if letter not in _SHORT_FLAGS:
                session.error(f"unsupported option '-{letter}'. See --help.")
                raise _ExitError(1)
            _apply_option(session, letter, None, f"-{letter}")
    return args[i:]


def _debug_parsed(session: Session, parsed: list[ParsedCommand]) -> None:
    """virsh -d 0/1: each option as the parser saw it (vshCommandParse's INFO lines)."""
    for p in parsed:
        for name, value in p.given.items():
            for v in value if isinstance(value, list) else [value]:
                if v is True:
                    session.debug(1, f"{p.cmd.name}: {name}(bool): (none)\n")
                else:
                    session.debug(1, f"{p.cmd.name}: {name}(optdata): {v}\n")


def parse_commands(session: Session, line: str | None, argv: Sequence[str] = ()) -> list[ParsedCommand] | None:
    """The commands of one line (or of argv), or None after printing why the line cannot run."""
    try:
        parsed = parse_line(line, _lookup) if line is not None else parse_argv(argv, _lookup)
    except CommandError as exc:
        for message in exc.lines:
            session.error(message)
        return None
    if session.debug_level <= 1:
        _debug_parsed(session, parsed)
    return parsed


def run_parsed(session: Session, parsed: list[ParsedCommand]) -> bool:
    """vshCommandRun: each command in turn; the status is the last one's; ``quit`` stops the line."""
    ok = True
    for p in parsed:
        started = time.monotonic()
        ok = _run_one(session, p)
        if p.cmd.name in ("quit", "exit"):
            return ok
        if session.timing:
            session.out(f"\n(Time: {(time.monotonic() - started) * 1000:.3f} ms)\n")
        else:
            session.extra()
        session.flush()  # virsh flushes every print: a reader of 2>&1 sees each command's output in turn
    return ok


def _run_one(session: Session, p: ParsedCommand) -> bool:
    cmd, given = p.cmd, p.given
    if p.wants_help:  # ``CMD --help`` is ``help CMD``
        helper = _lookup("help")
        assert helper is not None
        cmd, given = helper, {"command": p.cmd.name}
    session.command = cmd.name
    try:
        cmd.handler(session, cmd.convert(given))
    except CommandError as exc:
        for line in exc.lines:
            session.error(line)
        return False
    except Error as exc:
        session.error(exc.message)
        return False
    return True


def run_command(session: Session, argv: list[str]) -> bool:
    """Parse and run one command given as words (``["dominfo", "test"]``)."""
    parsed = parse_commands(session, None, argv)
    return parsed is not None and run_parsed(session, parsed)


def _connect_first(session: Session, parsed: list[ParsedCommand] | None) -> bool:
    """``-c URI`` connects before the first command, as virsh does: a bad URI fails once, not per command."""
    if parsed is not None and not any(p.cmd.needs_connection and not p.wants_help for p in parsed):
        return True  # ``pyvirsh -c URI help``, ``host-validate``: nothing needs the connection
    try:
        session.conn  # noqa: B018 - opening is the point
    except CommandError as exc:
        for line in exc.lines:
            session.error(line)
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    from pyvirt.util.auth_prompt import set_prompt, terminal_prompt

    set_prompt(terminal_prompt)  # virsh opens with libvirt's default auth callback: it prompts on the terminal
    session = Session(uri=None)
    session.lookup = _lookup
    session.command_names = list(COMMAND_MODULES)
    try:
        rest = parse_globals(list(sys.argv[1:] if argv is None else argv), session)
    except _ExitError as done:
        return done.status
    connect_now = session.uri is not None
    if session.uri is None:
        session.uri = os.environ.get("VIRSH_DEFAULT_CONNECT_URI") or None
    try:
        if not rest:
            from pyvirt.cli.shell import run_shell

            if connect_now and not _connect_first(session, None):
                return 1
            return run_shell(session, lambda line: parse_commands(session, line), run_parsed)
        if len(rest) == 1:
            session.debug(1, f'commands: "{rest[0]}"\n')
            parsed = parse_commands(session, rest[0]) if rest[0] else None
        else:
            parsed = parse_commands(session, None, rest)
        if parsed is None:
            return 1
        if connect_now and not _connect_first(session, parsed):
            return 1
        return 0 if run_parsed(session, parsed) else 1
    except KeyboardInterrupt:
        return 130
    finally:
        session.close()
        if session.log_fd >= 0:
            os.close(session.log_fd)


if __name__ == "__main__":
    from pyvirt.cli.console import console_main

    console_main()
