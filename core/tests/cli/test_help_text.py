"""``help CMD`` in virsh's layout and words, and virsh's table of texts kept true to Debian's virsh.

The layout (SYNOPSIS per option kind, the 15-column OPTIONS rows, the
blank DESCRIPTION of ``quit``) is pyvirsh's code; the words are virsh's,
from ``pyvirt.cli.virsh_help``. Where a command has every option virsh
gives it, the whole help text is virsh's byte for byte; the list below is
those commands today and may only grow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
needs_virsh = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is needed as the reference")

SAME_AS_VIRSH = [
    "attach-device", "autostart", "cd", "connect", "console", "define", "detach-device", "domblklist",
    "domdisplay", "domid", "domifaddr", "domiflist", "dominfo", "domname", "domstate", "domuuid",
    "domxml-from-native", "dumpxml", "echo", "exit", "help", "hostname", "iface-list", "iface-mac", "managedsave-remove",
    "net-autostart", "net-create", "net-define", "net-destroy", "net-dhcp-leases", "net-event", "net-info",
    "net-list", "net-name", "net-start", "net-undefine", "net-update", "net-uuid", "nodeinfo", "pool-autostart",
    "pool-define", "pool-destroy", "pool-info", "pool-list", "pool-name", "pool-refresh", "pool-undefine",
    "pool-uuid", "pwd", "quit", "vol-key", "vol-name", "vol-pool",
    "reboot", "resume", "secret-undefine", "setmaxmem", "setmem", "setvcpus", "shutdown", "suspend", "update-device", "uri", "version", "vncdisplay",
    "vol-create-as", "vol-list", "vol-path",
]  # fmt: skip


def _help(tool: list[str], name: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run([*tool, "help", name], capture_output=True, text=True, env=env, timeout=60, check=False)


@needs_virsh
@pytest.mark.parametrize("name", SAME_AS_VIRSH)
def test_help_command_like_virsh(name: str) -> None:
    assert VIRSH is not None
    expected = _help([VIRSH], name)
    got = _help(PYVIRSH, name)
    assert (got.stdout, got.stderr, got.returncode) == (expected.stdout, expected.stderr, expected.returncode)


def test_layout_of_every_option_kind() -> None:
    """The five kinds virsh writes differently: flag, number, data, string, argv (after a positional)."""
    from pyvirt.cli.framework import CommandDef, Opt

    def nothing(s: object, o: object) -> None:
        return None

    cmd = CommandDef(
        "pyvirt-x", "do x",
        (Opt("dom", "a domain", required=True, positional=True), Opt("count", "how many", kind="number"),
         Opt("req-count", "must say", required=True, positional=True, kind="number"),
         Opt("name", "by name or position", positional=True, kind="optstring"), Opt("quiet", "say less", flag=True),
         Opt("rest", "the remaining words", positional=True, kind="list")),
        nothing, description="Does x.\n    Twice.",
    )  # fmt: skip
    assert cmd.help_text() == (
        "  NAME\n    pyvirt-x - do x\n\n  SYNOPSIS\n"
        "    pyvirt-x <dom> [--count <number>] <req-count> [--name <string>] [--quiet] [[--rest] <string>]...\n\n"
        "  DESCRIPTION\n    Does x.\n    Twice.\n\n"
        "  OPTIONS\n"
        "    [--dom] <string>  a domain\n"
        "    --count <number>  how many\n"
        "    [--req-count] <number>  must say\n"
        "    --name <string>  by name or position\n"
        "    --quiet          say less\n"
        "    [--rest] <string>  the remaining words\n\n"
    )


@needs_virsh
def test_virsh_texts_are_virshs() -> None:
    """Every entry of the table says what ``virsh help CMD`` says: summary, description, option help."""
    from pyvirt.cli.virsh_help import VIRSH_HELP

    assert VIRSH is not None
    assert len(VIRSH_HELP) == 274
    for name, (summary, description, options) in VIRSH_HELP.items():
        text = _help([VIRSH], name).stdout
        assert text.startswith(f"  NAME\n    {name} - {summary}\n"), name
        if description:
            assert f"\n  DESCRIPTION\n    {description}\n\n" in text, name
        else:
            assert "\n  DESCRIPTION\n" not in text, name
        for option, help_text in options.items():
            assert f"{option}" in text and f"  {help_text}\n" in text, (name, option)


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db renders the page")
def test_man_page_from_the_command_table(tmp_path: Path) -> None:
    """``python -m pyvirt.cli.manpage`` renders without a groff warning and documents every command as ``help``."""
    from pyvirt.cli.main import COMMAND_MODULES, _lookup

    page = subprocess.run([sys.executable, "-m", "pyvirt.cli.manpage"], capture_output=True, text=True, timeout=60,
                          check=True).stdout  # fmt: skip
    path = tmp_path / "pyvirsh.1"
    path.write_text(page)
    env = dict(os.environ, LC_ALL="C", MANWIDTH="200")
    shown = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True, text=True, env=env, timeout=60,
                           check=True)  # fmt: skip
    assert shown.stderr == ""
    text = shown.stdout
    flat = " ".join(text.split())
    for name in COMMAND_MODULES:
        cmd = _lookup(name)
        assert cmd is not None
        if not cmd.hidden:
            assert f"\n   {name}\n" in text, name
            assert " ".join(cmd.help_parts()[1].split()) in flat, name  # the synopsis, as help prints it
    assert "\n   complete\n" not in text
