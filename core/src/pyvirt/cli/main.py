"""Entry point of ``pyvirsh``: global options, command dispatch, error reporting.

Commands live one group per module under ``pyvirt.cli`` and are imported
only when named, so ``pyvirsh host-validate`` does not pay for XML or
driver imports. Errors print as virsh prints them (``error: …`` on stderr,
exit status 1).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pyvirt.errors import Error

__all__ = ["main"]

# command name -> (module under pyvirt.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "host-validate": ("host_validate_cmd", "validate that the host can run guests"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyvirsh",
        description="pyvirsh: the virtualization shell of pyvirt (virsh's commands and output).",
    )
    parser.add_argument("-c", "--connect", metavar="URI", help="hypervisor connection URI")
    parser.add_argument("-r", "--readonly", action="store_true", help="connect readonly")
    parser.add_argument("-q", "--quiet", action="store_true", help="quiet mode")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, helptext) in COMMANDS.items():
        sub.add_parser(name, help=helptext, add_help=False)
        del module
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Global options come before the command name, as in virsh.
    split = next((i for i, a in enumerate(args) if a in COMMANDS), None)
    if split is None:
        ns = parser.parse_args(args)
        if ns.command is None:
            parser.print_help()
        return 0
    global_ns = parser.parse_args(args[:split])
    name = args[split]
    module = importlib.import_module(f"pyvirt.cli.{COMMANDS[name][0]}")
    cmd_parser = argparse.ArgumentParser(prog=f"pyvirsh {name}", description=COMMANDS[name][1])
    module.add_arguments(cmd_parser)
    cmd_ns = cmd_parser.parse_args(args[split + 1 :])
    try:
        return int(module.run(global_ns, cmd_ns))
    except Error as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
