"""vcpupin beside Debian's virsh on test:///default: the query table, pinning, virsh's own checks, the same words.

libvirt's test driver pins only the running definition and takes no flags
(virDomainPinVcpu; virDomainPinVcpuFlags refuses --config and --live), as
pyvirt's does; ``dumpxml`` and ``vcpuinfo`` show the new ``<vcpupin>``. Through
pyvirtd, virsh pins and sets the balloon period exactly as on libvirt's own driver.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, VIRSH
from virsh_compare import run_line as _run

from pyvirt.daemon.instance import PrivateDaemon


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "line",
    [
        "vcpupin test; vcpupin test 0; vcpupin test --vcpu 1; vcpupin test --config",
        "vcpupin test 5",
        "vcpupin test 5 --config",
        "vcpupin test --live --config",
        "vcpupin test --current --live",
        "vcpupin test --vcpu -1",
        "vcpupin test --cpulist 1",
        "vcpupin test 0 x",
        "vcpupin test 0 ''",
        "vcpupin test 0 0^0",
        "vcpupin test 0 99",
        "destroy test; vcpupin test; vcpupin test --live",
        "help vcpupin",
        "vcpupin test 0 1; vcpupin test; dumpxml test",
        "vcpupin test 0 1 --current; vcpuinfo test",
        "vcpupin test 0 r --config",
        "vcpupin test --vcpu 0 --cpulist 0-1 --live; vcpupin test 0",
        "vcpupin test 5 1",
        "destroy test; vcpupin test 0 1",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


def test_virsh_through_pyvirtd_pins_and_sets_the_period(tmp_path: Path) -> None:
    """The daemon's dispatch of virDomainPinVcpu(Flags) and virDomainSetMemoryStatsPeriod, with virsh as client."""
    if VIRSH is None:
        pytest.skip("Debian's virsh (libvirt-clients) is the reference")
    line = ("vcpupin test 1 3; vcpupin test 1 0-2 --current; vcpupin test; vcpupin test 0 1 --config; "
            "dommemstat test --period 4; dommemstat test --period 6 --config; dumpxml test; dumpxml test --inactive")  # fmt: skip
    expected = _run([VIRSH], line)
    assert "<stats period='4'/>" in expected[0]
    with PrivateDaemon(tmp_path) as daemon:
        assert _run([VIRSH], line, uri=daemon.uri()) == expected
