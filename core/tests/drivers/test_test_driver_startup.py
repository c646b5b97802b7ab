"""What a short run on test:///default loads: each kind of the fixture's objects only when it is first used.

A ``pyvirsh net-list`` used to parse every network, interface, node device,
pool and volume of the default fixture, importing all their XML models, to
print one network.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MODELS = ("pyvirt.conf.network", "pyvirt.conf.storage", "pyvirt.conf.interface", "pyvirt.conf.nodedev")


def _loaded_after(calls: str) -> dict[str, object]:
    probe = (
        "import json, sys, pyvirt\n"
        "conn = pyvirt.open('test:///default')\n"
        f"out = {calls}\n"
        f"print(json.dumps({{'out': out, 'models': [m for m in {MODELS!r} if m in sys.modules]}}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("calls", "out", "models"),
    [
        ("[n.name for n in conn.list_all_networks()]", ["default"], []),
        ("[p.name for p in conn.list_all_storage_pools()]", ["default-pool"], []),
        ("conn.lookup_network_by_name('default').xml_desc()[:9]", "<network>", ["pyvirt.conf.network"]),
        (
            "conn.lookup_storage_pool_by_name('default-pool').xml_desc()[:16]",
            "<pool type='dir'",
            ["pyvirt.conf.storage"],
        ),
        ("conn.lookup_domain_by_name('test').name", "test", []),
    ],
)
def test_each_kind_is_parsed_when_first_used(calls: str, out: object, models: list[str]) -> None:
    """Listing needs names and UUIDs only; a model is imported when a definition is first read."""
    assert _loaded_after(calls) == {"out": out, "models": models}


_NO_MODELS = (
    "lxml.etree",
    "pyvirt.conf.network",
    "pyvirt.conf.storage",
    "pyvirt.conf.domain",
    "pyvirt.conf.interface",
    "pyvirt.conf.nodedev",
)


@pytest.mark.parametrize(
    ("line", "listed"),
    [
        ("net-list --all", " default "),
        ("net-info default", "virbr0"),
        ("pool-list --all; vol-list default-pool", " default-pool "),
        ("list --all", " test "),
        ("iface-list --all", " eth1 "),
        ("nodedev-list --cap fc_host", "scsi_host11"),
        ("nodedev-list --tree", "+- scsi_host2"),
    ],
)
def test_listing_the_default_fixture_loads_neither_lxml_nor_a_model(line: str, listed: str) -> None:
    """``pyvirsh net-list`` parsed the default network with pyvirt.conf.network, which loads lxml (twice the
    instructions of ``pyvirsh uri``); a listing reads names, UUIDs, parents and flags only, so it loads neither."""
    probe = (
        "import sys\nfrom pyvirt.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', [m for m in {_NO_MODELS!r} if m in sys.modules])\n"
    )
    argv = [sys.executable, "-c", probe, "-c", "test:///default", line]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert listed in run.stdout and not run.stderr  # the probe saw a real listing, not an early exit
    assert run.stdout.splitlines()[-1] == "LOADED []"


def test_built_in_identities_are_what_the_models_parse() -> None:
    """The names, UUIDs and MAC a built-in object is indexed by before its parse are those its model reads."""
    from pyvirt.conf.domain import parse_domain
    from pyvirt.conf.interface import parse_interface
    from pyvirt.conf.network import parse_network
    from pyvirt.conf.nodedev import parse_nodedev
    from pyvirt.conf.storage import parse_pool
    from pyvirt.drivers.test import fixture

    for xml, parse in (
        (fixture.DEFAULT_DOMAIN_XML, parse_domain),
        (fixture.DEFAULT_NETWORK_XML, parse_network),
        (fixture.DEFAULT_POOL_XML, parse_pool),
    ):
        model = parse(xml)
        assert fixture.domain_identity(xml) == (model.name, model.uuid)
    assert (
        fixture.network_bridge_name(fixture.DEFAULT_NETWORK_XML)
        == parse_network(fixture.DEFAULT_NETWORK_XML).bridge_name
    )
    iface = parse_interface(fixture.DEFAULT_INTERFACE_XML)
    assert fixture.interface_identity(fixture.DEFAULT_INTERFACE_XML) == (iface.name, iface.mac)
    for xml in fixture.DEFAULT_DEVICE_XMLS:
        dev = parse_nodedev(xml)
        name, parent, caps = fixture.device_identity(xml)
        assert (name, parent, sorted(caps)) == (dev.name, dev.parent or "", sorted(dev.capability_types()))


def test_a_built_in_document_type_declaration_is_refused() -> None:
    from pyvirt.drivers.test.fixture import domain_identity

    with pytest.raises(ValueError, match="document type"):
        domain_identity("<!DOCTYPE network [<!ENTITY x 'y'>]><network><name>&x;</name></network>")


def test_a_built_in_object_is_parsed_once_and_keeps_its_changes() -> None:
    """The first read parses; later reads see the same model, so a change made through it stays; a built-in
    pool's figures before its parse are those after it."""
    import pyvirt

    with pyvirt.open("test:///default") as conn:
        from pyvirt.drivers.test import driver

        state = driver._Shared.state
        assert state is not None
        net, pool = state.networks["default"], state.pools["default-pool"]
        assert not net.parsed and not pool.parsed
        info_before = conn.lookup_storage_pool_by_name("default-pool").info()
        assert net.defn is net.defn and pool.defn is pool.defn
        assert conn.lookup_storage_pool_by_name("default-pool").info() == info_before
        first = net.defn
        first.bridge_name = "virbr9"  # a change made through the model is kept: nothing parses it again
        assert "<bridge name='virbr9'" in conn.lookup_network_by_name("default").xml_desc()
        assert net.defn is first


def test_a_node_file_is_parsed_whole_at_open(tmp_path: object) -> None:
    """A custom node file's objects are all parsed when the connection opens, so its errors surface there."""
    from pathlib import Path

    import pyvirt
    from pyvirt.errors import Error

    node = Path(str(tmp_path)) / "node.xml"
    node.write_text("<node><pool type='nosuchtype'><name>p</name><target><path>/x</path></target></pool></node>")
    with pytest.raises(Error, match="Invalid value for attribute 'type' in element 'pool': 'nosuchtype'"):
        pyvirt.open(f"test://{node}")  # libvirt's test driver refuses it at open too


_LIFECYCLE = (
    "dom = conn.lookup_domain_by_name('test')\n"
    "{first}"
    "dom.destroy(); dom.create(); dom.destroy(); dom.create()\n"
    "before = 'pyvirt.conf.domain' in sys.modules\n"
    "labels = [tuple(label) for label in dom.security_labels()]\n"
    "dom.destroy()\n"
    "print(json.dumps([before, labels, [tuple(label) for label in dom.security_labels()], dom.xml_desc()]))\n"
)


def _lifecycle(first: str) -> list[object]:
    probe = "import json, sys, pyvirt\nconn = pyvirt.open('test:///default')\n" + _LIFECYCLE.format(first=first)
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def test_start_and_destroy_parse_no_definition_and_label_as_when_parsed() -> None:
    """Stopping and starting a built-in domain reads no XML; its labels, once read, are those of a domain
    whose definition was parsed (and labelled at each start and stop) all along."""
    lazy = _lifecycle("")
    parsed_first = _lifecycle("dom.xml_desc()\n")
    assert lazy[0] is False and parsed_first[0] is True
    assert lazy[1:] == parsed_first[1:]
    assert lazy[1] and lazy[1] != lazy[2]  # running: the test model's label; stopped: none of it


def _imported_by_pyvirsh(env: dict[str, str], *args: str) -> set[str]:
    """Every module a ``pyvirsh -c test:///default ARGS`` run imports, read from ``-X importtime``."""
    probe = (
        "import sys\nfrom pyvirt.cli.console import console_main\nsys.argv[0] = 'pyvirsh'\nsys.exit(console_main())\n"
    )
    argv = [sys.executable, "-X", "importtime", "-c", probe, "-c", "test:///default", *args]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return {line.split("|")[2].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args", [("uri",), ("list", "--all"), ("domstate", "test"), ("destroy", "test")])
def test_short_commands_import_neither_typing_nor_json(tmp_path: object, args: tuple[str, ...]) -> None:
    """``typing`` (with the re, enum and contextlib it pulls in) and ``json`` were about a third of a short
    run's instructions; only annotations needed typing and the entry-point index needed json."""
    import os

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    _imported_by_pyvirsh(env, "uri")  # the first run of a fresh cache scans the distributions (importlib.metadata)
    modules = _imported_by_pyvirsh(env, *args)
    assert "pyvirt.drivers.test.driver" in modules  # the probe saw a real run, not an early exit
    assert {"typing", "json"} & modules == set()


def test_opening_builds_none_of_pyvirts_flag_enums() -> None:
    """pyvirt.flags makes each enum class when it is first named (hundreds of thousands of instructions
    each); the test driver's modules name libvirt's bits as plain constants, so a connection that is only
    opened (``pyvirsh uri``, ``list``) builds none of them."""
    probe = (
        "import json, sys, pyvirt, pyvirt.flags\n"
        "conn = pyvirt.open('test:///default')\n"
        "names = [d.name for d in conn.list_all_domains()]\n"
        "built = sorted(k for k, v in vars(pyvirt.flags).items() if isinstance(v, type) and k[0].isupper())\n"
        "print(json.dumps({'names': names, 'built': built}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(run.stdout) == {"names": ["test"], "built": []}


def test_the_driver_makes_no_exception_class_until_it_raises_one() -> None:
    """pyvirt.errors makes each exception class when first named (~110k instructions); the test driver's
    modules name them where they raise, so opening and listing makes none on the driver's account."""
    probe = (
        "import sys, traceback, pyvirt.errors as e\n"
        "made, original = [], e.__getattr__\n"
        "def named(name):\n"
        "    if name[0].isupper() and name not in vars(e):\n"
        "        frames = [f for f in traceback.extract_stack()[:-1] if 'importlib' not in f.filename]\n"
        "        made.append((name, frames[-1].filename))\n"
        "    return original(name)\n"
        "e.__getattr__ = named\n"
        "import pyvirt\n"
        "conn = pyvirt.open('test:///default')\n"
        "names = [d.name for d in conn.list_all_domains()] + [n.name for n in conn.list_all_networks()]\n"
        "print(names, sorted(n for n, f in made if '/drivers/test/' in f or '/conf/metadata' in f))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.splitlines()[-1] == "['test', 'default'] []"
