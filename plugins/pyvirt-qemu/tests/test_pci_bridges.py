"""PCI bridges libvirt adds (qemuDomainAssignPCIAddresses), and so does pyvirt, writing them into the definition.

On i440fx: a guest with more PCI devices than the 31 slots of bus 0 (here 33 virtio RNGs), or one pinned to
a bus the guest has no controller for, gets pci-bridges. On q35: a conventional PCI device (a
virtio-transitional one) goes behind a pcie-to-pci-bridge on a root port of its own, and one more root port
stays free for hotplug. QEMU then shows the devices behind the bridges.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyvirt

RNG = "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
PINNED = ("<rng model='virtio'><backend model='random'>/dev/urandom</backend>"
          "<address type='pci' domain='0x0000' bus='0x02' slot='0x05' function='0x0'/></rng>")  # fmt: skip

GUEST = """<domain type='{virt}'><name>bridges</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}<memballoon model='none'/></devices></domain>"""


def _bridged(mon: Any) -> dict[str, list[str]]:
    """Ids of the devices on each bus, from QEMU's device tree (a paused guest's bridges have no bus numbers yet,
    so ``query-pci`` cannot list what is behind them)."""
    out: dict[str, list[str]] = {}
    buses: list[tuple[int, str]] = []  # (indent, name) of the buses enclosing the current line
    for line in mon.execute("human-monitor-command", {"command-line": "info qtree"}).splitlines():
        indent = len(line) - len(line.lstrip())
        while buses and buses[-1][0] >= indent:
            buses.pop()
        if bus := re.match(r"\s*bus: (\S+)", line):
            buses.append((indent, bus.group(1)))
        elif (dev := re.match(r'\s*dev: \S+, id "([^"]+)"', line)) and buses:
            out.setdefault(buses[-1][1], []).append(dev.group(1))
    return out


def test_devices_beyond_bus_0_go_behind_an_added_bridge(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, devices=RNG * 33))
    defined = dom.xml_desc().replace('"', "'")
    assert "<controller type='pci' index='1' model='pci-bridge'>" in defined
    assert (
        defined.count("bus='0x01'") == 4
    )  # slots 1.. of the bridge: 32 devices, 31 slots minus PIIX3's and the bridge's
    dom.create()
    try:
        assert len(_bridged(guest_monitor(dom))["pci.1"]) == 4
    finally:
        dom.destroy()


def test_a_bus_an_address_names_gets_its_bridges(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, devices=PINNED))
    defined = dom.xml_desc().replace('"', "'")
    assert "<controller type='pci' index='1' model='pci-bridge'>" in defined
    assert "<controller type='pci' index='2' model='pci-bridge'>" in defined
    dom.create()
    try:
        assert _bridged(guest_monitor(dom))["pci.2"] == ["rng0"]
    finally:
        dom.destroy()


Q35 = """<domain type='{virt}'><name>q35bridge</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<rng model='virtio-transitional'><backend model='random'>/dev/urandom</backend></rng>
<memballoon model='none'/></devices></domain>"""


def test_a_conventional_device_on_q35_goes_behind_a_pcie_to_pci_bridge(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(Q35.format(virt=virt_type))
    defined = dom.xml_desc().replace('"', "'")
    # as libvirt 9.0 lays it out (measured): the added bridge, a controller, takes the first root port before
    # any device does, the USB controller (PCIe) port 2, port 4 stays free
    assert "<controller type='pci' index='3' model='pcie-to-pci-bridge'>" in defined
    assert "<controller type='pci' index='4' model='pcie-root-port'>" in defined
    dom.create()
    try:
        buses = _bridged(guest_monitor(dom))
        assert buses["pci.1"] == ["pci.3"] and buses["pci.3"] == ["rng0"] and "pci.4" not in buses
        assert buses["pci.2"] == ["usb"]
    finally:
        dom.destroy()
