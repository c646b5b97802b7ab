"""blockpull and blockcommit beside Debian's virsh on test:///default: virsh's own checks, then the driver's words.

libvirt's test driver has neither virDomainBlockPull, virDomainBlockRebase nor
virDomainBlockCommit, and neither has pyvirt's: each line ends in libvirt's
not-supported error for the API virsh picks (BlockPull without --base, Rebase
with it or --keep-relative), unless one of virsh's checks refuses it first.
The jobs themselves run in pyvirt-qemu's tests, beside libvirt's QEMU driver.
"""

from __future__ import annotations

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "blockpull test vda; blockpull test vda --base /b; blockpull test vda --keep-relative --bytes",
        "blockpull test vda --verbose",
        "blockpull test vda --async --wait --timeout 0",
        "blockpull test vda --bandwidth 5X",
        "blockpull test vda --bandwidth 3M --bytes",
        "blockcommit test vda; blockcommit test vda --active; blockcommit test vda --top /t --base /b --shallow",
        "blockcommit test vda --pivot --keep-overlay",
        "blockcommit test vda --verbose",
        "blockcommit test vda --async --active",
        "blockcommit test vda --timeout 5 --delete --keep-relative",
        "blockcommit test vda --timeout -1",
        "blockcommit nope vda --pivot",
        "blockcommit test",
        "help blockpull; help blockcommit",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)
