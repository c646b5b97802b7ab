"""emulatorpin beside Debian's virsh on test:///default: the query, pinning each definition, virsh's checks.

libvirt's test driver keeps the pinning in the one definition the flags name
(testDomainPinEmulator), with no live/config pair and nothing else done, and
answers a query from ``<emulatorpin>``, else ``<vcpu cpuset>``, else every
host CPU; pin mode defaults to the running domain, query mode to the current
definition, as virsh decides. Through pyvirtd, virsh itself pins and queries.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

from pyvirt.daemon.instance import PrivateDaemon


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "emulatorpin test; emulatorpin test --live; emulatorpin test --config; emulatorpin test --current",
        "emulatorpin test 1; emulatorpin test; emulatorpin test --config; dumpxml test; dumpxml test --inactive",
        "emulatorpin test 2-3 --config; emulatorpin test --config; emulatorpin test; dumpxml test --inactive",
        "emulatorpin test 0,5 --current; emulatorpin test; dumpxml test",
        "emulatorpin test r; emulatorpin test",
        "emulatorpin test --live --config",
        "emulatorpin test 0 --live --config",
        "emulatorpin test --current --live",
        "emulatorpin test 1 --current --config",
        "emulatorpin test ''",
        "emulatorpin test x",
        "emulatorpin test 99",
        "emulatorpin test 1-3^2",
        "destroy test; emulatorpin test; emulatorpin test 1; emulatorpin test --live",
        "destroy test; emulatorpin test 4 --config; emulatorpin test; start test; emulatorpin test",
        "emulatorpin nope",
        "help emulatorpin",
        "emulatorpin --domain test --cpulist 3 --live; emulatorpin test",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_quiet_prints_the_cpu_list_alone() -> None:
    assert run_line([*PYVIRSH, "-q"], "emulatorpin test 6-7; emulatorpin test") == ("6-7\n", "", 0)
    assert VIRSH is not None
    assert run_line([VIRSH, "-q"], "emulatorpin test 6-7; emulatorpin test") == ("6-7\n", "", 0)


def test_virsh_through_pyvirtd_pins_and_queries(tmp_path: Path) -> None:
    """The daemon's dispatch of virDomainPinEmulator and virDomainGetEmulatorPinInfo, with virsh as client.

    The test driver has no virDomainBlockStatsFlags: the daemon must say NO_SUPPORT for virsh to fall back.
    """
    if VIRSH is None:
        pytest.skip(SKIP_WITHOUT_VIRSH)
    line = ("emulatorpin test; emulatorpin test 1,3; emulatorpin test; emulatorpin test 0 --config; "
            "emulatorpin test --config; dumpxml test; dumpxml test --inactive; emulatorpin test --live --config; "
            "domblkstat test nope")  # fmt: skip
    expected = run_line([VIRSH], line)
    assert "<emulatorpin cpuset='1,3'/>" in expected[0]
    with PrivateDaemon(tmp_path) as daemon:
        assert run_line([VIRSH], line, uri=daemon.uri()) == expected
