"""virsh's commands that no pyvirt driver hook carries yet: they exist, parse as virsh parses, fail as virsh fails.

A script written for virsh that uses ``blockcommit`` or ``nwfilter-list``
gets, on a driver that cannot do it, what virsh prints against a libvirt
driver without that entry point, instead of "unknown command". The
reference is Debian's virsh 9.0 on ``test:///default`` for the APIs libvirt's
own test driver lacks too, and ``virsh help CMD`` for every command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pyvirt.cli.groups import GROUPS
from pyvirt.cli.main import COMMAND_MODULES, _lookup
from pyvirt.cli.nosupport_cmds import options_of
from pyvirt.cli.nosupport_table import COMMANDS
from pyvirt.cli.virsh_options import VIRSH_OPTIONS

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
needs_virsh = pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
VIRSH_COMMANDS = [c for _, _, names in GROUPS for c in names]

# Commands whose API libvirt 9.0's test driver lacks as well: there both must print the same.
ALSO_MISSING_IN_LIBVIRTS_TEST_DRIVER = [
    "nodesevinfo", "nodedev-detach", "nodedev-reattach",
    "nodedev-reset", "nodedev-undefine", "nodedev-start", "nodedev-autostart",
    "nodesuspend",
]  # fmt: skip
# a value for each required option, naming objects of test:///default
VALUES = {"domain": "test", "network": "default", "pool": "default-pool", "vol": "/default-pool/nosuch",
          "interface": "eth1", "device": "computer", "file": "/dev/null", "target": "mem", "pass-fds": "0"}  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return env


def _run(tool: list[str], args: list[str]) -> tuple[str, str, int]:
    p = subprocess.run([*tool, *args], capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL,
                       timeout=60, check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


_SEPARATOR = "--- end of help ---"


def _required_argv(name: str) -> list[str]:
    argv = [name]
    for item in VIRSH_OPTIONS[name].split():
        opt, _, kind = item.partition(":")
        if kind.endswith("!"):
            argv += [f"--{opt}", VALUES.get(opt, "1" if kind[0] == "i" else "x")]
    return argv


def test_every_one_of_virshs_274_commands_exists() -> None:
    assert len(VIRSH_COMMANDS) == len(set(VIRSH_COMMANDS)) == 274
    present = [c for c in VIRSH_COMMANDS if c in COMMAND_MODULES and _lookup(c) is not None]
    assert present == VIRSH_COMMANDS, sorted(set(VIRSH_COMMANDS) - set(present))


def test_the_option_table_covers_every_virsh_command() -> None:
    assert set(VIRSH_OPTIONS) == set(VIRSH_COMMANDS)
    for name in COMMANDS:  # each declared one parses its options from it
        assert [o.name for o in options_of(name)] == [i.partition(":")[0] for i in VIRSH_OPTIONS[name].split()]


@needs_virsh
def test_help_of_each_is_virshs() -> None:
    """``help CMD`` shows virsh's synopsis and options: the table reproduces what virsh declares."""
    assert VIRSH is not None
    mine = [name for name in COMMANDS if COMMAND_MODULES[name] == "nosupport_cmds"]
    # One process per tool for all of them (a process per command took most of a minute of CI): each help
    # text is followed by an echoed separator, and the texts are compared command by command.
    line = "; ".join(f"help {name}; echo {_SEPARATOR}" for name in mine)
    (virsh_out, virsh_err, virsh_rc), (out, err, rc) = _run([VIRSH], [line]), _run(PYVIRSH, [line])
    assert (err, rc) == (virsh_err, virsh_rc) == ("", 0)
    texts, virsh_texts = out.split(_SEPARATOR + "\n"), virsh_out.split(_SEPARATOR + "\n")
    assert len(virsh_texts) == len(mine) + 1
    differ = [name for name, text, virsh_text in zip(mine, texts, virsh_texts, strict=False) if text != virsh_text]
    assert not differ
    assert len(texts) == len(virsh_texts)


@needs_virsh
@pytest.mark.parametrize("name", ALSO_MISSING_IN_LIBVIRTS_TEST_DRIVER)
def test_fails_as_virsh_on_a_driver_without_the_api(name: str) -> None:
    assert VIRSH is not None and COMMAND_MODULES[name] == "nosupport_cmds"
    args = ["-c", "test:///default", *_required_argv(name)]
    out, err, rc = _run(PYVIRSH, args)
    assert (out, err, rc) == _run([VIRSH], args)
    assert rc == 1 and "this function is not supported by the connection driver: vir" in err


@needs_virsh
@pytest.mark.parametrize(
    "name",
    [
        "migrate-postcopy",
        "migrate-setmaxdowntime",
        "migrate-getmaxdowntime",
        "blockpull",
        "blockcommit",
        "domblkthreshold",
        "managedsave-dumpxml",
        "managedsave-edit",
        "blockresize",
        "migrate-setspeed",
        "migrate-getspeed",
        "migrate-compcache",
        "domdirtyrate-calc",
        "backup-begin",
        "backup-dumpxml",
        "qemu-monitor-command",
        "qemu-agent-command",
        "net-port-list",
        "net-port-create",
        "nodememstats",
        "allocpages",
        "node-memory-tune",
        "pool-capabilities",
        "nwfilter-list",
        "nwfilter-dumpxml",
        "nwfilter-undefine",
        "nwfilter-binding-delete",
        "nwfilter-binding-dumpxml",
        "nwfilter-binding-list",
        "detach-device-alias",
        "get-user-sshkeys",
        "guest-agent-timeout",
        "guestvcpus",
        "guestinfo",
        "dompmwakeup",
        "lxc-enter-namespace",
        "dom-fd-associate",
    ],
)
def test_implemented_commands_fail_as_virsh_on_a_driver_without_the_api(name: str) -> None:
    """Commands pyvirsh implements whose API libvirt's test driver lacks as well (and so pyvirt's)."""
    assert VIRSH is not None and COMMAND_MODULES[name] != "nosupport_cmds"
    args = ["-c", "test:///default", *_required_argv(name)]
    out, err, rc = _run(PYVIRSH, args)
    assert (out, err, rc) == _run([VIRSH], args)
    assert rc == 1 and "this function is not supported by the connection driver: vir" in err


@needs_virsh
@pytest.mark.parametrize(
    "line",
    [
        "reset nosuch",  # the object first: virsh's lookup error, not the API's
        "setvcpu test 1",  # virsh's own checks before any call
        "setvcpu test 1 --enable --disable",
        "setvcpu test 1 --enable --current --live",
        "setvcpu test 1 --enable",  # then the API, which libvirt's test driver lacks too
        "setvcpu nosuch 1 --disable --config",
        "dompmsuspend test x",
        "dompmsuspend test mem --duration -1",
        "dompmsuspend test mem --duration 5x",
        "dompmsuspend test mem",
        "dompmsuspend nosuch mem",
        "set-user-sshkeys test root",  # append needs a file
        "set-user-sshkeys test root --remove",
        "set-user-sshkeys test root --reset --remove --file /dev/null",
        "set-user-sshkeys test root --reset",
        "set-user-sshkeys test root --file /nonexistent",
        "guestvcpus test --enable",
        "guestvcpus test --cpulist 1",
        "guestvcpus test --cpulist 1 --enable --disable",
        "guestvcpus test --cpulist 1 --disable",
        "guest-agent-timeout test --timeout x",
        "guest-agent-timeout nosuch --timeout x",
        "guest-agent-timeout test --timeout 2147483648",
        "detach-device-alias test ua-x --current --config",
        "detach-device-alias test ua-x --live",
        "set-lifecycle-action test poweroff y",
        "blockresize test vda 1X",  # a scaled number with an unknown suffix: two lines, as virsh
        "blockresize test vda abc",
        "nwfilter-define /nonexistent",  # the file is read before the call
        "iface-undefine nosuch",
        "vol-wipe nosuch",
        "memtune test --current --live",
        "freepages",  # cmdFreepages' own checks for one cell
        "freepages --cellno -2",
        "freepages --cellno 0",
        "freepages --cellno 0 --pagesize 4X",
        "iface-unbridge br0",  # the bridge looked up by its own option's name
        "iface-bridge nosuch br0",
        "dom-fd-associate nosuch a b",
        "dom-fd-associate test a x",  # the FD list is parsed before the call
        "dom-fd-associate test a 0,,1",
        "dom-fd-associate test a 0,1",
        "vol-resize nosuch 1G",  # the volume first, then the size
        "allocpages 4 1 --all --cellno 0",  # cmdAllocpages' own checks, before any call
        "allocpages 4X 1",
        "allocpages 4 -1",
        "nodememstats abc",
        "node-memory-tune --shm-pages-to-scan -1",
    ],
)
def test_bad_input_is_refused_as_virsh_refuses_it(line: str) -> None:
    assert VIRSH is not None
    args = ["-c", "test:///default", line]
    assert _run(PYVIRSH, args) == _run([VIRSH], args)
