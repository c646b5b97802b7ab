"""dommemstat --period beside Debian's virsh on test:///default: the balloon's <stats period>, virsh's checks.

libvirt's test driver sets the period in the one definition the flags name
(testDomainSetMemoryStatsPeriod); dumpxml shows it where virsh's shows it.
"""

from __future__ import annotations

import pytest
from virsh_compare import PYVIRSH, VIRSH
from virsh_compare import run_line as _run


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "line",
    [
        "dommemstat test --period 5; dumpxml test; dumpxml test --inactive",
        "dommemstat test --period 5 --config; dumpxml test --inactive; dumpxml test",
        "dommemstat test --period -1",
        "dommemstat test --period x",
        "dommemstat test --period 5 --live --config",
        "dommemstat test --period 5 --current --live",
        "destroy test; dommemstat test --period 7; dumpxml test",
        "destroy test; dommemstat test --period 7 --live",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, line) == _run([VIRSH], line)
