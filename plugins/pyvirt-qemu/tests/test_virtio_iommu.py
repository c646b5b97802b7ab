"""``<iommu model='virtio'/>``: a paravirtual IOMMU, a PCI device on the root bus of a q35 guest.

It was refused by name; libvirt writes ``-device virtio-iommu`` with the PCI address the guest's layout gives
it. A started q35 guest has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>viommu</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features><devices>
<controller type='usb' model='none'/><memballoon model='none'/><iommu model='virtio'/></devices></domain>"""


def test_a_q35_guest_gets_a_virtio_iommu_on_its_root_bus(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x01'" in dom.xml_desc().replace('"', "'")
    dom.create()
    try:
        mon = guest_monitor(dom)
        peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
        assert peripherals["iommu0"] == "child<virtio-iommu-pci>"
        slots = {
            d["qdev_id"]: d["slot"] for bus in mon.execute("query-pci") for d in bus["devices"] if d.get("qdev_id")
        }
        assert slots["iommu0"] == 1
    finally:
        dom.destroy()
