"""The node-device capability names: libvirt's, and the one list both the test driver and nodedev-list use."""

from __future__ import annotations

import re

import pytest
from libvirt_testdata import libvirt_source

import pyvirt
from pyvirt.conf.nodedev_caps import NODEDEV_CAP_TYPES
from pyvirt.errors import ErrorCode


def test_the_names_are_libvirts_enum_in_its_order() -> None:
    """VIR_ENUM_IMPL(virNodeDevCap, ...) in libvirt 9.0's node_device_conf.c, name for name."""
    src = libvirt_source()
    if src is None:
        pytest.skip("libvirt 9.0.0's source is not available")
    text = (src / "src" / "conf" / "node_device_conf.c").read_text()
    body = re.search(r"VIR_ENUM_IMPL\(virNodeDevCap,\s*VIR_NODE_DEV_CAP_LAST,(.*?)\);", text, re.S)
    assert body is not None
    assert tuple(re.findall(r'"([^"]+)"', body.group(1))) == NODEDEV_CAP_TYPES


@pytest.mark.parametrize("kind", [NODEDEV_CAP_TYPES[-1], "bogus"])
def test_the_test_driver_knows_a_capability_by_the_list(kind: str) -> None:
    """A known type that is no vHBA is refused as not an HBA; an unknown one fails to parse, in libvirt's words."""
    xml = f"<device><parent>scsi_host1</parent><capability type='{kind}'/></device>"
    with pyvirt.open("test:///default") as conn, pytest.raises(pyvirt.Error) as err:
        conn.create_node_device(xml)
    if kind == "bogus":
        assert err.value.code == ErrorCode.XML_ERROR
        assert "Invalid value for attribute 'type' in element 'capability': 'bogus'." in err.value.message
    else:
        assert "Device is not a fibre channel HBA" in err.value.message
