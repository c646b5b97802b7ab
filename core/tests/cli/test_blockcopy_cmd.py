"""blockcopy beside Debian's virsh on test:///default: virsh's checks, the XML it builds, the API it picks.

libvirt's test driver has no block copy: once virsh's own checks pass, the
command ends in libvirt's not-supported error naming the API virsh chose
(virDomainBlockCopy for the options only it carries, else
virDomainBlockRebase), which shows that pyvirsh chooses the same way. The
copy itself, its wait and its progress are in pyvirt-qemu's tests, beside
libvirt's QEMU driver.
"""

from __future__ import annotations

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "blockcopy test vda --dest /tmp/c.img; blockcopy test vda --dest /tmp/c.img --wait --pivot",
        "blockcopy test vda --dest /tmp/c.img --format raw --bandwidth 3 --bytes --shallow --reuse-external",
        "blockcopy test vda --dest /tmp/c.img --format qcow2; blockcopy test vda --dest /tmp/c.img --granularity 512",
        "blockcopy test vda --dest /tmp/c.img --buf-size 1024; blockcopy test vda --dest /tmp/c.img --transient-job",
        "blockcopy test vda --dest /tmp/c.img --synchronous-writes --blockdev",
        'blockcopy test vda --dest "/tmp/a\'b<c&.img" --format qcow2 --print-xml',
        "blockcopy test vda --dest /dev/sdz --blockdev --print-xml; blockcopy test vda --dest /tmp/c --print-xml",
        "blockcopy test vda",
        "blockcopy test vda --dest /tmp/c.img --xml /tmp/c.xml",
        "blockcopy test vda --format raw --xml /tmp/c.xml",
        "blockcopy test vda --blockdev --xml /tmp/c.xml",
        "blockcopy test vda --dest /tmp/c.img --pivot --finish",
        "blockcopy test vda --dest /tmp/c.img --verbose",
        "blockcopy test vda --dest /tmp/c.img --async",
        "blockcopy test vda --dest /tmp/c.img --timeout 0",
        "blockcopy test vda --dest /tmp/c.img --timeout x",
        "blockcopy test vda --dest /tmp/c.img --granularity -1",
        "blockcopy test vda --dest /tmp/c.img --buf-size x",
        "blockcopy test vda --dest /tmp/c.img --bandwidth 5X",
        "blockcopy test vda --xml /nonexistent/c.xml",
        "blockcopy nope vda --dest /tmp/c.img",
        "help blockcopy",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)
