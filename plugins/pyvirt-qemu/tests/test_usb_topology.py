"""USB devices get the ports libvirt gives them: hubs added when the controller's ports run out, and
definitions naming ports that do not exist refused in libvirt's words."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyvirt_qemu.domain_defaults import apply_defaults

import pyvirt
from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode


def _guest(virt: str, devices: str) -> str:
    return f"""<domain type='{virt}'><name>usb</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<controller type='usb' index='0' model='piix3-uhci'/>{devices}<memballoon model='none'/></devices></domain>"""


def test_a_hub_is_added_when_the_root_ports_run_out(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """Four pointing devices on a two-port UHCI: libvirt plugs a hub into port 1 and the rest below it."""
    inputs = "<input type='mouse' bus='usb'/>" * 3 + "<input type='tablet' bus='usb'/>"
    dom = conn.define_domain(_guest(virt_type, inputs))
    xml = dom.xml_desc()
    assert "<hub type='usb'>" in xml and "<address type='usb' bus='0' port='1'/>" in xml
    assert "port='1.3'" in xml  # the tablet, the fourth device
    dom.create()
    try:
        mon = guest_monitor(dom)
        ports = {
            dev: mon.execute("qom-get", {"path": f"/machine/peripheral/{dev}", "property": "port"})
            for dev in ("hub0", "input0", "input1", "input2", "input3")
        }
        assert ports == {"hub0": "1", "input0": "2", "input1": "1.1", "input2": "1.2", "input3": "1.3"}
        hub = next(p for p in mon.execute("qom-list", {"path": "/machine/peripheral"}) if p["name"] == "hub0")
        assert hub["type"] == "child<usb-hub>"
    finally:
        dom.destroy()


GUEST = _guest("qemu", "{}").replace(
    "<controller type='usb' index='0' model='piix3-uhci'/>", "<controller type='usb' index='0'/>"
)


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ("<input type='mouse' bus='usb'><address type='usb' bus='0' port='1.2.3'/></input>",
         "there is no hub at port 1 in USB address bus: 0 port: 1.2.3"),
        ("<input type='mouse' bus='usb'><address type='usb' bus='0' port='3'/></input>",
         "requested USB port 3 not present on USB bus 0"),
        ("<hub type='usb'><address type='usb' bus='0' port='1'/></hub>"
         "<input type='mouse' bus='usb'><address type='usb' bus='0' port='1'/></input>",
         "Duplicate USB address bus 0 port 1"),
        ("<input type='mouse' bus='usb'><address type='usb' bus='1'/></input>",
         "USB bus 1 requested but no controller with that index is present"),
    ],
)  # fmt: skip
def test_ports_that_do_not_exist_are_refused(devices: str, message: str) -> None:
    with pytest.raises(Error) as info:
        apply_defaults(parse_domain(GUEST.format(devices)))
    assert info.value.code == ErrorCode.XML_ERROR and str(info.value) == f"XML error: {message}"


def test_a_hub_on_a_named_port_carries_devices_below_it() -> None:
    dom = apply_defaults(
        parse_domain(
            GUEST.format(
                "<hub type='usb'><address type='usb' bus='0' port='2'/></hub>" + "<input type='tablet' bus='usb'/>" * 3
            )
        )
    )
    xml = format_domain(dom)
    # the root's free port first, then the hub's ports depth first
    assert [i.address.attrs["port"] for i in dom.devices.inputs if i.bus == "usb"] == ["1", "2.1", "2.2"]
    assert "<address type='usb' bus='0' port='2'/>" in xml


def test_passthrough_smartcard_sits_in_a_usb_reader(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """A passthrough card: the driver listens on the card's socket for QEMU, the reader takes a USB port."""
    sock = tmp_path / "card.sock"
    card = f"<smartcard mode='passthrough' type='unix'><source mode='bind' path='{sock}'/></smartcard>"
    dom = conn.create_domain(_guest(virt_type, card))
    try:
        mon = guest_monitor(dom)
        peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
        assert peripherals["ccid0"] == "child<usb-ccid>" and peripherals["smartcard0"] == "child<ccid-card-passthru>"
        assert mon.execute("qom-get", {"path": "/machine/peripheral/ccid0", "property": "port"}) == "1"
        with socket.socket(socket.AF_UNIX) as client:  # a remote card's relay connects here
            client.connect(str(sock))
        xml = dom.xml_desc()
        assert "<controller type='ccid' index='0'>" in xml and "<address type='ccid' controller='0' slot='0'/>" in xml
    finally:
        dom.destroy()


def test_serial_ports_on_pci_usb_and_the_debug_port(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """A PCI UART, a USB one on the next USB port, and QEMU's ISA debug console at the I/O port named."""
    serials = ("<serial type='pty'><target type='pci-serial'/></serial>"
               "<serial type='pty'><target type='usb-serial'/></serial>"
               "<serial type='pty'><target type='isa-debug'/><address type='isa' iobase='0x402'/></serial>")  # fmt: skip
    dom = conn.create_domain(_guest(virt_type, serials))
    try:
        mon = guest_monitor(dom)
        peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
        assert peripherals["serial0"] == "child<pci-serial>" and peripherals["serial1"] == "child<usb-serial>"
        assert peripherals["serial2"] == "child<isa-debugcon>"
        assert mon.execute("qom-get", {"path": "/machine/peripheral/serial1", "property": "port"}) == "1"
        assert mon.execute("qom-get", {"path": "/machine/peripheral/serial2", "property": "iobase"}) == 0x402
        slots = {
            d["qdev_id"]: d["slot"] for bus in mon.execute("query-pci") for d in bus["devices"] if d.get("qdev_id")
        }
        assert "serial0" in slots
    finally:
        dom.destroy()


def test_smartcard_modes_follow_the_capabilities() -> None:
    """libvirt's flags (as its capability cache spells them) decide the modes of a QEMU not probed here."""
    from pyvirt_qemu.command_line import build_command_line
    from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

    def caps(*flags: str) -> EmulatorCaps:
        return EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="x86_64",
                            machines=[Machine("pc", None, 255, True)], flags=list(flags), probed=False)  # fmt: skip

    xml = GUEST.format("<smartcard mode='host'/>").replace("<controller type='usb' index='0'/>", "")
    with_flag = caps("ccid-emulated", "piix3-usb-uhci")
    argv = build_command_line(apply_defaults(parse_domain(xml), caps=with_flag), "/tmp/m.sock", lib_dir="/tmp/l",
                              caps=with_flag, hugepage_mounts=[], host_nodes={0}).argv  # fmt: skip
    assert "ccid-card-emulated,backend=nss-emulated,id=smartcard0,bus=ccid0.0" in argv
    without = caps("piix3-usb-uhci")
    with pytest.raises(Error) as info:
        build_command_line(apply_defaults(parse_domain(xml), caps=without), "/tmp/m.sock", caps=without,
                           hugepage_mounts=[], host_nodes={0})  # fmt: skip
    assert str(info.value) == "unsupported configuration: this QEMU binary lacks smartcard host mode support"
