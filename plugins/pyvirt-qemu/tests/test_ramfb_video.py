"""``<video><model type='ramfb'/>``: a framebuffer in guest RAM, for firmware and guests without a GPU driver.

It was refused by name; libvirt gives QEMU a ``ramfb`` device with no PCI address. A started guest has it.
"""

from __future__ import annotations

from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>ramfb</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<video><model type='ramfb'/>{address}</video><graphics type='vnc' autoport='yes'/>
<memballoon model='none'/></devices></domain>"""


def _monitor(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process.monitor
    raise AssertionError(f"{dom.name} is not running")


def test_the_guest_gets_a_ramfb_display(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, address=""))
    assert "bus=" not in dom.xml_desc().split("<video>")[1].split("</video>")[0]  # no PCI slot
    dom.create()
    try:
        peripherals = {p["name"]: p["type"] for p in _monitor(dom).execute("qom-list", {"path": "/machine/peripheral"})}
        assert peripherals["video0"] == "child<ramfb>"
    finally:
        dom.destroy()
