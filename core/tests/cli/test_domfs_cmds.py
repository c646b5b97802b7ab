"""domfsinfo / domfsfreeze / domfsthaw / domfstrim beside Debian's virsh on test:///default.

libvirt 9.0's test driver answers for a guest agent it does not have: the
running guest's first disk holds ``/`` and ``/boot`` (ext4, partitions 1
and 2), which of the two are frozen is kept per domain (and survives a
restart), and any other mount point is "not found". Through pyvirtd, virsh
itself lists, freezes, thaws and trims.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

from pyvirt.daemon.instance import PrivateDaemon

# a guest whose first disk is a CD-ROM: the file systems are on the second, vdb
_DOMAIN = """<domain type='test'><name>fs</name><uuid>0c9c6e4c-3d62-4cf7-a4c3-1e3cbf6e0a11</uuid>
<memory>1024</memory><os><type>hvm</type></os><devices>
<disk type='file' device='cdrom'><source file='/cd'/><target dev='hdc' bus='ide'/></disk>
<disk type='file' device='disk'><source file='/x'/><target dev='vdb' bus='virtio'/></disk>
</devices></domain>"""


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "domfsinfo test; domfsinfo --domain test",
        "domfsfreeze test; domfsfreeze test /; domfsthaw test /boot /; domfsthaw test; domfsthaw test",
        "domfsfreeze test /boot; domfsfreeze test / /boot; domfsthaw test --mountpoint /boot --mountpoint /boot",
        "domfsfreeze test / /x; domfsthaw test /; domfsthaw test /nope /",
        "domfsfreeze --domain test --mountpoint /boot --mountpoint /; domfsthaw --domain test",
        "domfstrim test; domfstrim test --minimum 5 --mountpoint /boot; domfstrim test --mountpoint /x",
        "domfstrim test 5; domfstrim test 5 /x; domfstrim test /x; domfstrim test --mountpoint ''",
        "domfstrim test --minimum -1; domfstrim test --minimum 18446744073709551616; domfstrim test --minimum ' +7'",
        "destroy test; domfsinfo test; domfsfreeze test; domfsthaw test; domfstrim test",
        "domfsfreeze test /; destroy test; start test; domfsfreeze test; domfsthaw test",
        "domfsinfo nope; domfsfreeze nope; domfsthaw nope /; domfstrim nope",
        "help domfsinfo; help domfsfreeze; help domfsthaw; help domfstrim",
    ],
)
def test_same_words_as_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize("flag", [[], ["-q"]])
def test_the_first_real_disk_and_a_guest_without_disks(tmp_path: Path, flag: list[str]) -> None:
    assert VIRSH is not None
    xml = tmp_path / "fs.xml"
    xml.write_text(_DOMAIN)
    bare = tmp_path / "bare.xml"
    bare.write_text(_DOMAIN.replace("fs</name>", "bare</name>").replace("0c9c6e4c", "1c9c6e4c").split("<devices>")[0]
                    + "</domain>")  # fmt: skip
    line = (f"create {xml}; domfsinfo fs; domfsfreeze fs; create {bare}; domfsinfo bare; domfsfreeze bare; "
            "domfsthaw bare /boot")  # fmt: skip
    assert run_line([*PYVIRSH, *flag], line) == run_line([VIRSH, *flag], line)


def test_virsh_through_pyvirtd_lists_freezes_thaws_and_trims(tmp_path: Path) -> None:
    """The daemon's dispatch of the four guest file system procedures, with virsh as the client."""
    if VIRSH is None:
        pytest.skip(SKIP_WITHOUT_VIRSH)
    line = ("domfsinfo test; domfsfreeze test /boot; domfsfreeze test; domfsthaw test / /boot; "
            "domfstrim test --minimum 4096 --mountpoint /; domfstrim test --mountpoint /x; domfsfreeze test /x")  # fmt: skip
    expected = run_line([VIRSH], line)
    assert "Froze 1 filesystem(s)" in expected[0]
    with PrivateDaemon(tmp_path) as daemon:
        assert run_line([VIRSH], line, uri=daemon.uri()) == expected
