"""blockjob beside Debian's virsh on test:///default: virsh's option checks and the words of a driver without jobs.

libvirt's test driver has no virDomainGetBlockJobInfo, nor any other block
job call, and neither has pyvirt's: each mode ends in libvirt's not-supported
error for the API virsh calls in that mode, after virsh's own checks (the
exclusive options, the --bandwidth value). The query on a real job is in
pyvirt-qemu's tests, beside libvirt's QEMU driver.
"""

from __future__ import annotations

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "blockjob test vda; blockjob test vda --info; blockjob test vda --raw; blockjob test vda --bytes",
        "blockjob test vda --abort; blockjob test vda --pivot; blockjob test vda --async",
        "blockjob test vda --bandwidth 5; blockjob test vda --bandwidth 5M; blockjob test vda --bandwidth -3",
        "blockjob test vda --bandwidth x",
        "blockjob test vda --bandwidth 5X",
        "blockjob test vda --bandwidth 99999999999999999M",
        "blockjob test vda --bandwidth 18446744073709551616",
        "blockjob test vda --raw --abort",
        "blockjob test vda --info --bandwidth 3",
        "blockjob test vda --bytes --pivot",
        "blockjob nope vda",
        "blockjob test",
        "help blockjob",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)
