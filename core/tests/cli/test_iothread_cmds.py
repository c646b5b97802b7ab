"""iothreadinfo / iothreadadd / iothreaddel / iothreadset / iothreadpin beside Debian's virsh on test:///default.

libvirt 9.0's test driver keeps I/O threads in the one definition the flags
name (testDomainAddIOThread and friends): ``<iothreads>`` counts them,
``<iothreadids>`` names them once one is named, ``<cputune><iothreadpin>``
pins them, and a thread's default affinity is the definition's vCPUs. Its
polling tunables live beside the definition, so iothreadset changes nothing
dumpxml shows but refuses what the driver refuses. Through pyvirtd, virsh
itself adds, pins, lists and deletes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

from pyvirt.daemon.instance import PrivateDaemon

# a persistent domain (defined: libvirt's test driver then has no polling values for its threads, and
# iothreadset fails without saying why) whose definition has autofilled threads 1..3 and a disk on thread 2
_DOMAIN = """<domain type='test'><name>io</name><uuid>4ac492af-0523-4b18-9636-6860ece6c404</uuid><memory>1024</memory><vcpu cpuset='1,3'>4</vcpu>
<iothreads>3</iothreads><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' iothread='2'/><source file='/x'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>"""


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "iothreadinfo test; iothreadinfo test --live; iothreadinfo test --config; iothreadinfo test --current",
        "iothreadadd test 3; iothreadadd test 1 --config; iothreadinfo test; iothreadinfo test --config; "
        "dumpxml test; dumpxml test --inactive",
        "iothreadadd test 3; iothreadpin test 3 1-2; iothreadinfo test; iothreadadd test 5; iothreadadd test 6; "
        "iothreaddel test 5; dumpxml test; iothreaddel test 3; dumpxml test; iothreaddel test 6; dumpxml test",
        "iothreadadd test 4 --live; iothreadpin test 4 r --live; iothreadpin test 4 0,7 --current; iothreadinfo test",
        "iothreadadd test 2; iothreadset test 2 --poll-max-ns 5 --poll-grow 4 --poll-shrink 1; iothreadset test 2 "
        "--poll-grow 0 --live; dumpxml test",
        "iothreadadd test 2; iothreadset test 2; iothreadset test 2 --poll-grow -1; iothreadset test 2 "
        "--thread-pool-min 1; iothreadset test 2 --poll-max-ns 1 --config; iothreadset test 9 --poll-grow 1",
        "iothreadadd test -1; iothreadadd test 0; iothreadadd test x; iothreadadd test 99999999999",
        "iothreadadd test 1; iothreadadd test 1; iothreaddel test 9; iothreaddel test 0; iothreadset test 0 "
        "--poll-grow 1",
        "iothreadadd test 1; iothreadpin test 1 ''; iothreadpin test -1 1; iothreadpin test 9 1; "
        "iothreadpin test 1 1-3^1-3; iothreadpin test 1 99; iothreadpin test 1 x",
        "iothreadadd test 1 --live --config; iothreadinfo test --current --live; iothreaddel test 1 --current "
        "--config; iothreadpin test 1 1 --live --config",
        "destroy test; iothreadadd test 7 --live; iothreadadd test 7; iothreadinfo test; iothreadinfo test --live; "
        "start test; iothreadinfo test; iothreadadd test 8 --config; dumpxml test --inactive",
        "iothreadinfo nope; iothreadadd nope 1; iothreaddel nope 1; iothreadset nope 1 --poll-grow 1; "
        "iothreadpin nope 1 1",
        "help iothreadinfo; help iothreadpin; help iothreadadd; help iothreadset; help iothreaddel",
        "iothreadadd --domain test --id 2; iothreadpin --domain test --iothread 2 --cpulist 5; iothreadinfo test",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "commands",
    [
        # autofilled threads take their default affinity from <vcpu cpuset>; deleting the last keeps them unnamed,
        # deleting one before it names the rest; a thread a disk uses stays
        "iothreadinfo io; dumpxml io; iothreaddel io 3; dumpxml io; iothreaddel io 2; iothreaddel io 1; dumpxml io",
        "iothreadpin io 1 0; dumpxml io; iothreadinfo io; iothreadset io 3 --poll-grow 2",
    ],
)
def test_threads_from_the_definition(tmp_path: Path, commands: str) -> None:
    assert VIRSH is not None
    xml = tmp_path / "io.xml"
    xml.write_text(_DOMAIN)
    line = f"define {xml}; {commands}"
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_quiet_table_has_no_header() -> None:
    line = "iothreadinfo test; iothreadadd test 2; iothreadinfo test"
    assert run_line([*PYVIRSH, "-q"], line) == (" 2   0-1\n", "", 0)
    assert VIRSH is not None
    assert run_line([VIRSH, "-q"], line) == (" 2   0-1\n", "", 0)


def test_virsh_through_pyvirtd_adds_pins_lists_and_deletes(tmp_path: Path) -> None:
    """The daemon's dispatch of the five I/O thread procedures, with virsh as the client."""
    if VIRSH is None:
        pytest.skip(SKIP_WITHOUT_VIRSH)
    line = ("iothreadinfo test; iothreadadd test 3; iothreadadd test 4; iothreadpin test 3 1,3; iothreadinfo test; "
            "iothreadset test 3 --poll-max-ns 10 --poll-grow 2; iothreadset test 3 --thread-pool-max 2; "
            "iothreaddel test 4; dumpxml test; iothreaddel test 9")  # fmt: skip
    expected = run_line([VIRSH], line)
    assert "<iothreadpin iothread='3' cpuset='1,3'/>" in expected[0]
    with PrivateDaemon(tmp_path) as daemon:
        assert run_line([VIRSH], line, uri=daemon.uri()) == expected


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_a_fixture_files_threads_have_polling_values(tmp_path: Path) -> None:
    """testDomainGenerateIOThreadInfos: a node file's domains get the driver's polling values, so iothreadset
    works on their threads (a defined domain's fail, see test_threads_from_the_definition)."""
    assert VIRSH is not None
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{_DOMAIN}</node>")
    line = "iothreadinfo io; iothreadset io 2 --poll-max-ns 100; iothreadset io 9 --poll-grow 1; iothreaddel io 2"
    uri = f"test://{node}"
    assert run_line(PYVIRSH, line, uri=uri) == run_line([VIRSH], line, uri=uri)
