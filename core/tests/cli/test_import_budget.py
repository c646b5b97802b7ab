"""What a pyvirsh line loads: its commands' modules, and only what those commands use when they run.

A short pyvirsh run is mostly start-up, and every module it imports is paid
by every script line that names a command of that group. ``snapshot-list``
once loaded lxml and the XML model classes at parse time (a quarter of the
run), ``secret-list`` the whole domain command module for a file reader,
``pool-list`` typing and lxml. These stories pin what each line may load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from virsh_compare import SKIP_WITHOUT_VIRSH, VIRSH, run_line

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))

# Standard modules no command module needs at import, and the XML models behind pyvirt.conf: each costs a
# short run from about a million instructions (contextlib) to tens of millions (threading with functools
# and collections; lxml with the model classes), against virsh's 45 million for a whole command.
COSTLY = ("lxml", "typing", "re", "threading", "contextlib", "importlib", "warnings", "enum", "functools",
          "collections", "socket", "selectors", "json", "base64", "tempfile", "dataclasses", "string", "urllib",
          "termios", "tty", "pyvirt.conf", "pyvirt.events")  # fmt: skip

# Command modules that load some of them at import, and why.
LOADS_AT_IMPORT = {
    "migrate_cmds": "its option tables name pyvirt.migration's flags, and pyvirt.migration loads threading",
}
# Event commands are the ones that need pyvirt.events (threading with it): another helper's file, not checked here.
NOT_CHECKED_HERE = ("event_cmd",)


def _costly(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == c or m.startswith(c + ".") for c in COSTLY)}


def test_naming_any_command_loads_none_of_the_costly_modules() -> None:
    """Parsing a line imports the module of each command on it (``_lookup``); none of those modules may load
    lxml, typing, threading, the models... at import: the command body that needs one imports it."""
    from pyvirt.cli.main import COMMAND_MODULES

    names = [
        n for n, module in COMMAND_MODULES.items() if module not in LOADS_AT_IMPORT and module not in NOT_CHECKED_HERE
    ]
    probe = (
        "import json, sys\n"
        "from pyvirt.cli.main import _lookup\n"
        "before = set(sys.modules)\n"
        f"missing = [n for n in {names!r} if _lookup(n) is None]\n"
        "print(json.dumps({'missing': missing, 'new': sorted(set(sys.modules) - before)}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(run.stdout)
    assert out["missing"] == []
    assert sorted(_costly(set(out["new"]))) == []


def test_naming_a_not_supported_command_declares_that_one_only() -> None:
    """The 101 commands declared from virsh's option table are made when named: all of them at once cost
    any line naming one (``nodesevinfo``) 8 million instructions. ``help`` still lists every one."""
    probe = (
        "import json\n"
        "from pyvirt.cli.framework import REGISTRY\n"
        "from pyvirt.cli.main import _lookup\n"
        "from pyvirt.cli.nosupport_table import COMMANDS\n"
        "cmd = _lookup('nodesevinfo')\n"
        "declared = sorted(n for n in COMMANDS if n in REGISTRY)\n"
        "print(json.dumps([cmd.name, [o.name for o in cmd.opts], declared]))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    name, opts, declared = json.loads(run.stdout)
    assert (name, opts, declared) == ("nodesevinfo", [], ["nodesevinfo"])
    out = subprocess.run([PYVIRSH, "help", "filter"], capture_output=True, text=True, timeout=60, check=True)
    assert "nwfilter-binding-list" in out.stdout and "nwfilter-define" in out.stdout


@pytest.mark.parametrize("module", sorted(LOADS_AT_IMPORT))
def test_an_exempt_module_still_needs_its_exemption(module: str) -> None:
    """An exempt module that no longer loads a costly module at import leaves the list, so it is guarded too."""
    probe = (
        "import json, sys\n"
        "import pyvirt.cli.main\n"
        "before = set(sys.modules)\n"
        f"import pyvirt.cli.{module}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert _costly(set(json.loads(run.stdout))), f"{module} loads none of them now: remove it from LOADS_AT_IMPORT"


def _imported_by_run(
    tmp_path: Path, line: str, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The modules one ``pyvirsh -c test:///default LINE`` imports (the console script users run).

    The entry-point index lives in a cache of the test's own, written by a
    first run: a stale index is rescanned with importlib.metadata, which
    would load typing and re for reasons that are not the line's.
    """
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    argv = [sys.executable, "-X", "importtime", PYVIRSH, "-c", "test:///default", *([line] if stdin is None else [])]
    for _ in range(2):  # the first run writes the index
        out = subprocess.run(argv, input=stdin or "", capture_output=True, text=True, timeout=60, env=env, check=False)
    imported = {row.rsplit("|", 1)[1].strip() for row in out.stderr.splitlines() if row.startswith("import time:")}
    return out, imported


@pytest.mark.parametrize(
    ("line", "shown", "not_loaded"),
    [
        # no snapshots: nothing to read; with some, their fields are read with expat (the virsh comparison below)
        ("snapshot-list test", "Name", {"lxml", "pyvirt.conf.snapshot", "pyvirt.conf.xmlmodel", "typing"}),
        # the file reader it shares with define/net-define once came with all of domain_cmds
        ("secret-list", "UUID", {"pyvirt.cli.domain_cmds", "base64", "typing", "re"}),
        # the lazily bound XML modules of the test driver came with importlib (and warnings)
        ("list --all", " test ", {"importlib", "warnings", "typing", "re", "lxml"}),
        ("uri", "test:///default", {"importlib", "warnings", "typing", "re", "lxml", "pyvirt.cli.domain_cmds"}),
        # the test driver's hooks are bound on first call: neither the API table nor its rarely used groups load
        (
            "list --all",
            " test ",
            {
                "pyvirt.plugin.api",
                "pyvirt.drivers.test.tuning",
                "pyvirt.drivers.test.host",
                "pyvirt.drivers.test.nodedevs",
                "pyvirt.drivers.test.interfaces",
                "pyvirt.drivers.test.resources",
                "pyvirt.drivers.test.checkpoints",
            },
        ),
        # lxml's import stand-in (a million instructions) comes with the first import of lxml.etree, not before
        ("list --all", " test ", {"pyvirt.util.lxml_import", "pyvirt.cli.xpath_output"}),
        ("help uri", "uri - print the hypervisor canonical URI", {"contextlib", "typing", "re", "lxml"}),
        # reading XML: lxml's init without typing, inspect and re (pyvirt.util.lxml_import), the models without
        # typing nor ElementPath (re), the deep copy dumpxml formats made without the copy module, the security
        # stack without contextlib
        (
            "dumpxml test",
            "<name>test</name>",
            {
                "typing",
                "inspect",
                "gzip",
                "warnings",
                "copy",
                "re",
                "enum",
                "contextlib",
                "collections",
                "functools",
                "types",
            },
        ),
        (
            "net-dumpxml default; pool-dumpxml default-pool",
            "<name>default-pool</name>",
            {"typing", "copy", "warnings", "re", "contextlib"},
        ),
        (
            "snapshot-create-as test s1; snapshot-revert test s1",
            "Domain snapshot s1 created",
            {"typing", "re", "contextlib"},
        ),
    ],
)
def test_a_short_line_loads_only_what_it_uses(tmp_path: Path, line: str, shown: str, not_loaded: set[str]) -> None:
    out, imported = _imported_by_run(tmp_path, line)
    assert out.returncode == 0, out.stderr[-2000:]
    assert shown in out.stdout
    assert "pyvirt.cli.main" in imported  # the probe sees pyvirsh's imports at all
    assert sorted(not_loaded & imported) == []


_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}")


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_commands_on_standard_input_load_no_more_than_on_the_command_line(tmp_path: Path) -> None:
    """``pyvirsh -c URI < script``, the other way scripts feed it: the shell's reader once loaded
    contextlib (and, through ``collections.abc``, the collections package) for a terminal's needs; that
    package still comes with pyvirt.events (threading, collections.abc) at open, which is another file's."""
    out, imported = _imported_by_run(tmp_path, "", stdin="uri\nlist --all\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test:///default" in out.stdout and " test " in out.stdout
    assert "pyvirt.cli.shell" in imported
    assert sorted({"contextlib", "typing", "re", "importlib", "readline"} & imported) == []


def test_snapshot_list_and_info_read_the_fields_as_virsh_shows_them() -> None:
    """With snapshots defined, the fields read with expat print as virsh prints them: states, parents,
    the tree, roots and leaves, locations, children and descendants (creation dates masked)."""
    line = ("snapshot-create-as test s1; snapshot-create-as test s2 --description two; "
            "snapshot-create-as test s3; snapshot-revert test s1; snapshot-create-as test s4; "
            "snapshot-list test --parent; snapshot-list test --tree; snapshot-list test --roots --name; "
            "snapshot-list test --leaves; snapshot-info test s1; snapshot-info test --current; "
            "snapshot-info test s3")  # fmt: skip
    assert VIRSH is not None
    mine, theirs = run_line([PYVIRSH], line), run_line([VIRSH], line)
    assert (_DATE.sub("DATE", mine[0]), mine[1], mine[2]) == (_DATE.sub("DATE", theirs[0]), theirs[1], theirs[2])


# What a command module loads only in the commands that use it, and why it must not come at import.
LOADED_BY_ITS_COMMANDS = {
    # list/dominfo/domstate name the states (five tables, 1.3M instructions); destroy, start... do not;
    # typed_params gave two numbers (libvirt's AFFECT bits, now named here); files reads define's XML;
    # table prints list's rows and xpath_output dumpxml's XML (their options are the framework's)
    "domain_cmds": (
        "pyvirt.domain_state",
        "pyvirt.plugin.typed_params",
        "pyvirt.cli.files",
        "pyvirt.cli.table",
        "pyvirt.cli.xpath_output",
    ),
}


@pytest.mark.parametrize("module", sorted(LOADED_BY_ITS_COMMANDS))
def test_a_command_module_leaves_to_its_commands_what_only_they_read(module: str) -> None:
    probe = (
        "import json, sys\n"
        "import pyvirt.cli.main\n"
        "before = set(sys.modules)\n"
        f"import pyvirt.cli.{module}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert sorted(set(LOADED_BY_ITS_COMMANDS[module]) & set(json.loads(run.stdout))) == []


def test_the_event_sink_makes_a_record_only_when_it_delivers_one() -> None:
    """Every in-process connection loads pyvirt.events for its sink; its thirty records (a class each, about
    190,000 instructions) and the modules behind their field types are made when an event is delivered."""
    probe = (
        "import json, sys\n"
        "import pyvirt.events as e\n"
        "def records():\n"
        "    return sorted(n for n, v in vars(e).items() if isinstance(v, type) and issubclass(v, tuple)"
        " and v is not tuple)\n"
        "at_import = [records(), sorted(m for m in ('pyvirt.plugin.records', 'pyvirt.plugin.typed_params')"
        " if m in sys.modules)]\n"
        "from pyvirt.plugin.records import DomainRef\n"
        "sink, got = e.EventSink(), []\n"
        "sink.register(got.append)\n"
        "sink.register_typed('reboot', got.append)\n"
        "dom = DomainRef('vm', '6695eb01-f6a4-8304-79aa-97f2502e193f', 1)\n"
        "sink.lifecycle(dom, e.DomainEvent.STARTED, e.Started.BOOTED)\n"
        "sink.reboot(dom)\n"
        "print(json.dumps([at_import, records(), [type(g).__name__ for g in got], [type(g) is getattr(e, type(g)"
        ".__name__) for g in got], list(got[0][1:])]))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    at_import, made, kinds, same_class, numbers = json.loads(run.stdout)
    assert at_import == [[], []]
    assert made == ["LifecycleEvent", "RebootEvent"]
    assert (kinds, same_class, numbers) == (["LifecycleEvent", "RebootEvent"], [True, True], [2, 0])
