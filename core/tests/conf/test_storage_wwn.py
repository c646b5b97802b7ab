"""An fc_host adapter's WWNs as libvirt's virValidateWWN reads them: sixteen hex digits, ``0x`` before them
allowed, anything else "Malformed wwn". Checked by hand rather than with a pattern (a test:/// node file with
such a pool is parsed at every open, and ``re`` cost it 20M instructions), so the verdicts are compared with
libvirt's own on test:///default when libvirt-python is installed.
"""

from __future__ import annotations

import pytest
from libvirt_oracle import libvirt_available, libvirt_verdicts

from pyvirt.conf.storage import parse_pool
from pyvirt.errors import Error

GOOD = "20000000c9831b4b"
WWNS = [
    (GOOD, True), ("0x" + GOOD, True), (GOOD.upper(), True), ("0X" + GOOD, False), (GOOD[:-1], False),
    (GOOD + "0", False), ("0x" + GOOD[:-1], False), ("g" + GOOD[1:], False), (" " + GOOD, False), (GOOD + " ", False),
]  # fmt: skip


def _pool(wwnn: str) -> str:
    return (
        f"<pool type='scsi'><name>fc</name><source><adapter type='fc_host' wwnn='{wwnn}' wwpn='{GOOD}'/>"
        "</source><target><path>/dev/disk/by-path</path></target></pool>"
    )


@pytest.mark.parametrize(("wwn", "valid"), WWNS)
def test_a_wwn_is_sixteen_hex_digits_after_an_optional_0x(wwn: str, valid: bool) -> None:
    if valid:
        adapter = parse_pool(_pool(wwn)).source.adapter  # type: ignore[union-attr]
        assert adapter is not None and adapter.wwnn == wwn
    else:
        with pytest.raises(Error) as caught:
            parse_pool(_pool(wwn))
        assert str(caught.value) == f"XML error: Malformed wwn: {wwn}"


@pytest.mark.skipif(not libvirt_available(), reason="Debian's python3-libvirt is needed for the comparison")
def test_same_verdicts_as_libvirt() -> None:
    verdicts = libvirt_verdicts([("pool", _pool(wwn)) for wwn, _valid in WWNS])
    assert [ok for ok, _message in verdicts] == [valid for _wwn, valid in WWNS]
