"""Settings pyvirt's domain model maps (for the Xen driver) that this driver cannot apply yet are refused, not dropped.

``<vlan>`` and ``<virtualport>`` (Open vSwitch ports) and ``<os><acpi><table>`` (libvirt
passes ``-acpitable``) are read by the shared
model since pyvirt-xen converts them; a QEMU guest defined with them must
fail as it did before the model read them, or the guest would start without
what its XML asks for.
"""

from __future__ import annotations

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

GUEST = """<domain type='qemu'>
  <name>unapplied</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type>{os}</os>
  <devices>{devices}</devices>
</domain>"""


@pytest.mark.parametrize(
    ("os_xml", "devices", "element"),
    [
        ("<acpi><table type='slic'>/var/lib/slic.dat</table></acpi>", "", "<acpi> in <domain/os>"),
        ("", "<interface type='bridge'><source bridge='br0'/><vlan><tag id='42'/></vlan></interface>",
         "<vlan> in <domain/devices/interface>"),
        ("", "<interface type='bridge'><source bridge='br0'/><virtualport type='openvswitch'/></interface>",
         "<virtualport> in <domain/devices/interface>"),
    ],
)  # fmt: skip
def test_define_refuses_what_the_driver_would_drop(
    conn: pyvirt.Connection, os_xml: str, devices: str, element: str
) -> None:
    with pytest.raises(Error) as err:
        conn.define_domain(GUEST.format(os=os_xml, devices=devices))
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert err.value.message == f"unsupported configuration: {element} is not supported by pyvirt yet"
    assert conn.list_all_domains() == []
