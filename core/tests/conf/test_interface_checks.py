"""A host ``<interface>`` definition is checked as libvirt 9.0's virInterfaceDefParseXML checks it: its type
first (a required attribute of four values, in virXMLPropEnum's words), then its name ("interface has no
name" when absent; an empty name or one with '/' is libvirt's to accept, and it does). Compared with libvirt's
own verdicts on test:///default when libvirt-python is installed.
"""

from __future__ import annotations

import pytest
from libvirt_oracle import libvirt_available, libvirt_verdicts

from pyvirt.conf.interface import parse_interface
from pyvirt.errors import Error, ErrorCode

START = "<start mode='onboot'/>"
CASES = [
    (f"<interface type='ethernet' name='eth9'>{START}</interface>", ""),
    (f"<interface name='eth9'>{START}</interface>", "XML error: Missing required attribute 'type' in element 'interface'"),
    (f"<interface type='foo' name='eth9'>{START}</interface>",
     "XML error: Invalid value for attribute 'type' in element 'interface': 'foo'."),
    (f"<interface type='ethernet'>{START}</interface>", "XML error: interface has no name"),
    (f"<interface type='ethernet' name=''>{START}</interface>", ""),
    (f"<interface type='ethernet' name='a/b'>{START}</interface>", ""),
]  # fmt: skip


@pytest.mark.parametrize(("xml", "error"), CASES)
def test_type_then_name_as_libvirt_checks_them(xml: str, error: str) -> None:
    if not error:
        assert parse_interface(xml).type == "ethernet"
        return
    with pytest.raises(Error) as caught:
        parse_interface(xml)
    assert (caught.value.code, str(caught.value)) == (ErrorCode.XML_ERROR, error)


@pytest.mark.skipif(not libvirt_available(), reason="Debian's python3-libvirt is needed for the comparison")
def test_same_verdicts_as_libvirt() -> None:
    assert libvirt_verdicts([("interface", xml) for xml, _error in CASES]) == [(not e, e) for _x, e in CASES]
