"""vol-clone, vol-create-from and vol-wipe beside Debian's virsh on test:///default: same output, same errors.

Both test drivers clone the way libvirt's testStorageVolCreateXMLFrom does
(the new volume is the document's: virsh's clone sends the source's own,
so it takes the source's capacity and allocation; the pool's accounting
follows); neither has a wipe, so the wipe lines compare the not-supported
error (named virStorageVolWipe for zeros, virStorageVolWipePattern otherwise).
"""

from __future__ import annotations

import os

import pytest
from virsh_compare import PYVIRSH, VIRSH
from virsh_compare import run_line as _run

MADE = "vol-create-as default-pool a.img 1M; "


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    "line",
    [
        MADE + "vol-clone a.img b.img --pool default-pool --print-xml",
        "vol-clone nope b --pool default-pool",
        "vol-create-from default-pool /dev/null nope",
        "vol-create-from default-pool /dev/null nope --inputpool default-pool",
        "vol-wipe nope",
        MADE + "vol-wipe a.img --pool default-pool --algorithm foo",
        MADE + "vol-wipe a.img --pool default-pool --algorithm trim",
        MADE + "vol-wipe a.img --pool default-pool",
        MADE + "vol-clone a.img b.img --pool default-pool; vol-list default-pool --details; "
        "vol-dumpxml b.img --pool default-pool; pool-info default-pool",
        "vol-create-as default-pool a.img 1M --allocation 0; vol-clone a.img b.img --pool default-pool; "
        "vol-info b.img --pool default-pool; pool-info default-pool",
        MADE + "vol-clone a.img a.img --pool default-pool",
        MADE + "vol-clone a.img b.img --pool default-pool --prealloc-metadata",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert _run(PYVIRSH, line) == _run([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize(
    ("document", "tail"),
    [
        ("<volume><name>n.img</name><capacity unit='G'>2</capacity><allocation>0</allocation></volume>",
         "; vol-info n.img --pool default-pool; vol-path n.img --pool default-pool; pool-info default-pool"),
        ("<volume><name>n.img</name><capacity unit='G'>2</capacity></volume>", " --validate; vol-list default-pool"),
        ("<volume><name>big.img</name><capacity unit='T'>200</capacity></volume>", "; pool-info default-pool"),
    ],
)  # fmt: skip
def test_create_from_document_as_virsh(tmp_path: os.PathLike[str], document: str, tail: str) -> None:
    """vol-create-from takes the new volume's size from the file, refusing one the pool cannot hold."""
    assert VIRSH is not None
    doc = os.path.join(tmp_path, "vol.xml")
    with open(doc, "w", encoding="utf-8") as f:
        f.write(document)
    line = MADE + f"vol-create-from default-pool {doc} a.img --inputpool default-pool" + tail
    assert _run(PYVIRSH, line) == _run([VIRSH], line)
