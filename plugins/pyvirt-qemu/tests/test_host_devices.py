"""Host PCI and USB devices for the guest: vfio-pci and usb-host on the addresses libvirt gives them, and a
managed PCI function this driver cannot rebind refused before anything starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import pyvirt_qemu.host_devices
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import ErrorCode

SYSFS = Path("/sys/bus/pci/devices")


def _guest(virt: str, hostdevs: str) -> str:
    return f"""<domain type='{virt}'><name>hd</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
{hostdevs}<memballoon model='none'/></devices></domain>"""


def _pci(address: str, managed: str) -> str:
    domain, bus, rest = address.split(":")
    slot, function = rest.split(".")
    return (f"<hostdev mode='subsystem' type='pci' managed='{managed}'><source><address domain='0x{domain}' "
            f"bus='0x{bus}' slot='0x{slot}' function='0x{function}'/></source></hostdev>")  # fmt: skip


def _bound_function() -> tuple[str, str]:
    """A PCI function of this host and the driver it is bound to (not vfio-pci)."""
    for dev in sorted(SYSFS.iterdir()) if SYSFS.is_dir() else []:
        driver = dev / "driver"
        if driver.is_symlink() and os.path.basename(os.readlink(driver)) != "vfio-pci":
            return dev.name, os.path.basename(os.readlink(driver))
    pytest.skip("no PCI function bound to a host driver here")


def test_a_managed_function_still_on_its_host_driver_is_refused(conn: pyvirt.Connection, virt_type: str) -> None:
    """libvirt would unbind it from its driver; this driver refuses, and the function stays with the host."""
    address, driver = _bound_function()
    dom = conn.define_domain(_guest(virt_type, _pci(address, "yes")))
    with pytest.raises(pyvirt.Error) as info:
        dom.create()
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert f"managed='yes' for PCI host device {address}, bound to '{driver}'" in str(info.value)
    assert os.path.basename(os.readlink(SYSFS / address / "driver")) == driver
    assert not dom.is_active()
    missing = conn.define_domain(_guest(virt_type, _pci("0000:7f:1f.7", "yes")).replace("<name>hd", "<name>hd2"))
    with pytest.raises(pyvirt.Error) as info:
        missing.create()
    assert str(info.value).startswith("operation failed: Device 0000:7f:1f.7 not found: could not access")


def test_assigned_devices_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A function already on vfio-pci (what libvirt's detach leaves) and a USB device by bus and device number."""
    monkeypatch.setattr(pyvirt_qemu.host_devices, "host_pci_driver", lambda address: "vfio-pci")
    usb = ("<controller type='usb' index='0' model='piix3-uhci'/><hostdev mode='subsystem' type='usb'><source>"
           "<address bus='14' device='6'/></source><boot order='1'/></hostdev>")  # fmt: skip
    dom = apply_defaults(parse_domain(_guest("qemu", _pci("0021:de:1f.1", "yes") + usb)))
    argv = build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", hugepage_mounts=[], host_nodes={0}).argv
    devices = {p["id"]: p for p in (json.loads(a) for a in argv if a.startswith('{"driver"')) if "id" in p}
    assert devices["hostdev0"] == {"driver": "vfio-pci", "host": "0021:de:1f.1", "id": "hostdev0", "bus": "pci.0",
                                   "addr": "0x2"}  # fmt: skip
    assert devices["hostdev1"] == {"driver": "usb-host", "hostdevice": "/dev/bus/usb/014/006", "id": "hostdev1",
                                   "bootindex": 1, "bus": "usb.0", "port": "1"}  # fmt: skip


def test_usb_host_before_qemu_took_the_device_node() -> None:
    """Without usb-host's hostdevice= (libvirt's QEMU_CAPS_USB_HOST_HOSTDEVICE) the device is named by numbers."""
    from pyvirt_qemu.emulator_caps import EmulatorCaps, Machine

    caps = EmulatorCaps(path="", identity="fake", version=0, version_text="0", kvm=True, arch="x86_64",
                        machines=[Machine("pc", None, 255, True)], flags=["piix3-usb-uhci"], probed=False)  # fmt: skip
    usb = "<hostdev mode='subsystem' type='usb'><source><address bus='14' device='6'/></source></hostdev>"
    dom = apply_defaults(parse_domain(_guest("qemu", usb)), caps=caps)
    argv = build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/l", caps=caps, hugepage_mounts=[],
                              host_nodes={0}).argv  # fmt: skip
    assert "usb-host,hostbus=14,hostaddr=6,id=hostdev0,bus=usb.0,port=1" in argv


MDEV = ("<hostdev mode='subsystem' type='mdev' model='vfio-pci'{attrs}><source>"
        "<address uuid='53764d0e-85a0-42b4-af5c-2046b460b1d{n}'/></source>{extra}</hostdev>")  # fmt: skip


def test_a_mediated_device_that_does_not_exist_is_refused(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(_guest(virt_type, MDEV.format(attrs="", n="c", extra="")))
    with pytest.raises(pyvirt.Error) as info:
        dom.create()
    assert str(info.value) == ("operation failed: mediated device "
                               "'/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc' not found")  # fmt: skip
    assert not dom.is_active()


def test_mediated_devices_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A vGPU with its display and ramfb (then not hot-pluggable), by its sysfs node."""
    monkeypatch.setattr(pyvirt_qemu.host_devices, "mdev_exists", lambda path: True)
    xml = _guest("qemu", "<graphics type='vnc' port='5900'/>" + MDEV.format(attrs=" display='on' ramfb='on'",
                                                                             n="c", extra=""))  # fmt: skip
    dom = apply_defaults(parse_domain(xml))
    argv = build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", hugepage_mounts=[], host_nodes={0}).argv
    devices = {p["id"]: p for p in (json.loads(a) for a in argv if a.startswith('{"driver"')) if "id" in p}
    assert devices["hostdev0"] == {"driver": "vfio-pci-nohotplug", "id": "hostdev0",
                                   "sysfsdev": "/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc",
                                   "display": "on", "ramfb": True, "bus": "pci.0", "addr": "0x3"}  # fmt: skip


@pytest.mark.parametrize(
    ("hostdevs", "message"),
    [
        (MDEV.format(attrs=" display='on'", n="c", extra=""),
         "unsupported configuration: graphics device is needed for attribute value 'display=on' in <hostdev>"),
        (MDEV.format(attrs=" ramfb='on'", n="c", extra="") + MDEV.format(attrs=" ramfb='on'", n="d", extra=""),
         "unsupported configuration: Only one vgpu device can have 'ramfb' enabled"),
        (MDEV.format(attrs="", n="c", extra="<address type='drive' controller='0' bus='0' target='0' unit='0'/>"),
         "XML error: Unsupported address type 'drive' with mediated device model 'vfio-pci'"),
        (MDEV.format(attrs="", n="c", extra="<boot order='1'/>"),
         "unsupported configuration: booting from assigned devices is not supported by mediated devices of model "
         "vfio-pci"),
    ],
)  # fmt: skip
def test_mediated_device_rules(hostdevs: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyvirt_qemu.host_devices, "mdev_exists", lambda path: True)
    dom = apply_defaults(parse_domain(_guest("qemu", hostdevs)))
    with pytest.raises(pyvirt.Error) as info:
        build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", hugepage_mounts=[], host_nodes={0})
    assert str(info.value) == message


def test_an_unassigned_function_is_prepared_but_not_given_to_the_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    """``<address type='unassigned'/>``: libvirt keeps the function from the host, and QEMU never sees it."""
    monkeypatch.setattr(pyvirt_qemu.host_devices, "host_pci_driver", lambda address: "vfio-pci")
    unassigned = _pci("0021:de:1f.2", "yes").replace("</hostdev>", "<address type='unassigned'/></hostdev>")
    dom = apply_defaults(parse_domain(_guest("qemu", _pci("0021:de:1f.1", "yes") + unassigned)))
    argv = build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", hugepage_mounts=[], host_nodes={0}).argv
    hosts = [json.loads(a)["host"] for a in argv if a.startswith('{"driver":"vfio-pci"')]
    assert hosts == ["0021:de:1f.1"]
