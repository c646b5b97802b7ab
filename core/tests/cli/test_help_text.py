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
    "pool-create", "pool-start", "secret-define", "secret-dumpxml", "secret-get-value", "vol-create",
    "checkpoint-create-as", "checkpoint-delete", "checkpoint-dumpxml", "snapshot-create-as", "snapshot-current",
    "snapshot-delete", "snapshot-list", "snapshot-revert",
    "list", "start", "create", "restore", "destroy", "schedinfo", "screenshot", "event", "domxml-to-native",
    "undefine",
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


# Commands whose help was found byte-identical in the sweep of every command (issue 14): compared in one run of
# each tool ("help A; help B; ..."), which costs a second where one run per command would cost a minute. Like
# SAME_AS_VIRSH, this list may only grow.
SAME_AS_VIRSH_ONE_RUN = [
    "allocpages", "attach-disk", "attach-interface", "backup-begin", "backup-dumpxml", "blkdeviotune", "blkiotune",
    "blockcommit", "blockcopy", "blockjob", "blockpull", "blockresize", "change-media", "cpu-baseline", "cpu-compare",
    "cpu-models", "cpu-stats", "desc", "detach-device-alias", "detach-disk", "detach-interface", "dom-fd-associate",
    "domblkerror", "domblkinfo", "domblkstat", "domblkthreshold", "domcontrol", "domdirtyrate-calc", "domfsfreeze",
    "domfsinfo", "domfsthaw", "domfstrim", "domhostname", "domif-getlink", "domif-setlink", "domifstat", "domiftune",
    "domjobabort", "domjobinfo", "domlaunchsecinfo", "dommemstat", "dompmsuspend", "dompmwakeup", "domrename",
    "domsetlaunchsecstate", "domstats", "domtime", "edit", "emulatorpin", "find-storage-pool-sources",
    "find-storage-pool-sources-as", "freecell", "freepages", "get-user-sshkeys", "guest-agent-timeout", "guestinfo",
    "guestvcpus", "hypervisor-cpu-baseline", "hypervisor-cpu-compare", "iface-begin", "iface-bridge", "iface-commit",
    "iface-define", "iface-destroy", "iface-dumpxml", "iface-edit", "iface-name", "iface-rollback", "iface-start",
    "iface-unbridge", "iface-undefine", "inject-nmi", "iothreadadd", "iothreaddel", "iothreadinfo", "iothreadpin",
    "iothreadset", "lxc-enter-namespace", "managedsave", "managedsave-define", "managedsave-dumpxml",
    "managedsave-edit", "maxvcpus", "memtune", "metadata", "migrate", "migrate-compcache", "migrate-getmaxdowntime",
    "migrate-getspeed", "migrate-postcopy", "migrate-setmaxdowntime", "migrate-setspeed", "net-dumpxml", "net-edit",
    "net-port-create", "net-port-delete", "net-port-dumpxml", "net-port-list", "node-memory-tune", "nodecpumap",
    "nodecpustats", "nodedev-autostart", "nodedev-create", "nodedev-define", "nodedev-destroy", "nodedev-detach",
    "nodedev-dumpxml", "nodedev-event", "nodedev-info", "nodedev-list", "nodedev-reattach", "nodedev-reset",
    "nodedev-start", "nodedev-undefine", "nodememstats", "nodesevinfo", "nodesuspend", "numatune",
    "nwfilter-binding-create", "nwfilter-binding-delete", "nwfilter-binding-dumpxml", "nwfilter-binding-list",
    "nwfilter-define", "nwfilter-dumpxml", "nwfilter-edit", "nwfilter-list", "nwfilter-undefine", "perf",
    "pool-build", "pool-capabilities", "pool-create-as", "pool-define-as", "pool-delete", "pool-dumpxml", "pool-edit",
    "pool-event", "qemu-agent-command", "qemu-attach", "qemu-monitor-command", "qemu-monitor-event", "reset", "save",
    "save-image-define", "save-image-dumpxml", "save-image-edit", "secret-event", "secret-list", "secret-set-value",
    "send-key", "send-process-signal", "set-lifecycle-action", "set-user-password", "set-user-sshkeys", "setvcpu",
    "sysinfo", "ttyconsole", "update-memory-device", "vcpucount", "vcpuinfo", "vcpupin", "vol-clone",
    "vol-create-from", "vol-delete", "vol-download", "vol-dumpxml", "vol-info", "vol-resize", "vol-upload",
    "vol-wipe",
]  # fmt: skip


@needs_virsh
def test_help_of_many_commands_like_virsh_in_one_run() -> None:
    assert VIRSH is not None
    line = "; ".join(f"help {name}" for name in SAME_AS_VIRSH_ONE_RUN)
    env = dict(os.environ, LC_ALL="C")
    runs = [subprocess.run([*tool, line], capture_output=True, text=True, env=env, timeout=120, check=False)
            for tool in ([VIRSH], PYVIRSH)]  # fmt: skip
    expected, got = runs
    assert (got.stderr, got.returncode) == (expected.stderr, expected.returncode)
    if got.stdout != expected.stdout:  # name the first command that differs rather than print ten thousand lines
        import difflib

        diff = difflib.unified_diff(expected.stdout.splitlines(), got.stdout.splitlines(), "virsh", "pyvirsh", n=8)
        pytest.fail("\n".join(list(diff)[:60]))
