"""``<video><model type='ramfb'/>``: a framebuffer in guest RAM, for firmware and guests without a GPU driver.

It was refused by name; libvirt gives QEMU a ``ramfb`` device with no PCI address. A started guest has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>ramfb</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<video><model type='ramfb'/>{address}</video><graphics type='vnc' autoport='yes'/>
<memballoon model='none'/></devices></domain>"""


def test_the_guest_gets_a_ramfb_display(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, address=""))
    assert "bus=" not in dom.xml_desc().split("<video>")[1].split("</video>")[0]  # no PCI slot
    dom.create()
    try:
        peripherals = {
            p["name"]: p["type"] for p in guest_monitor(dom).execute("qom-list", {"path": "/machine/peripheral"})
        }
        assert peripherals["video0"] == "child<ramfb>"
    finally:
        dom.destroy()
