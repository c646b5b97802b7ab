"""What labels apply to, found from real host state (sysfs, device nodes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.security.resources import domain_files, hostdev_paths

BASE = "<domain type='kvm'><name>h</name><memory>1024</memory><os><type>hvm</type></os><devices>{}</devices></domain>"


def hostdev(xml: str) -> object:
    return parse_domain(BASE.format(xml)).devices.hostdevs[0]  # type: ignore[union-attr]


def test_pci_passthrough_needs_a_present_device_and_an_iommu_group() -> None:
    devices = sorted(os.listdir("/sys/bus/pci/devices")) if os.path.isdir("/sys/bus/pci/devices") else []
    if not devices:
        pytest.skip("this host exposes no PCI devices in sysfs")
    dom, rest = devices[0].split(":", 1)
    bus, slotfn = rest.split(":")
    slot, fn = slotfn.split(".")
    xml = (f"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x{dom}' bus='0x{bus}' "
           f"slot='0x{slot}' function='0x{fn}'/></source></hostdev>")  # fmt: skip
    group = f"/sys/bus/pci/devices/{devices[0]}/iommu_group"
    if os.path.exists(group):
        assert hostdev_paths(hostdev(xml)) == [f"/dev/vfio/{os.path.basename(os.readlink(group))}"]  # type: ignore[arg-type]
    else:
        with pytest.raises(Error) as e:
            hostdev_paths(hostdev(xml))  # type: ignore[arg-type]
        assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED and "has no IOMMU group" in e.value.message
    absent = xml.replace(f"bus='0x{bus}'", "bus='0xfe'")
    with pytest.raises(Error) as e:
        hostdev_paths(hostdev(absent))  # type: ignore[arg-type]
    assert e.value.code == ErrorCode.DEVICE_MISSING


def test_usb_and_capability_mode_devices(tmp_path: Path) -> None:
    usb = "<hostdev mode='subsystem' type='usb'><source><address bus='1' device='200'/></source></hostdev>"
    with pytest.raises(Error) as e:
        hostdev_paths(hostdev(usb))  # type: ignore[arg-type]
    assert "/dev/bus/usb/001/200" in e.value.message
    caps = "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdz</block></source></hostdev>"
    assert hostdev_paths(hostdev(caps)) == ["/dev/sdz"]  # type: ignore[arg-type]


def test_pipe_chardevs_use_their_in_out_pair_when_both_exist(tmp_path: Path) -> None:
    base = tmp_path / "pipe"
    xml = BASE.format(f"<serial type='pipe'><source path='{base}'/><target port='0'/></serial>")
    assert [r.path for r in domain_files(parse_domain(xml))] == [str(base)]
    (tmp_path / "pipe.in").touch()
    (tmp_path / "pipe.out").touch()
    assert [r.path for r in domain_files(parse_domain(xml))] == [f"{base}.in", f"{base}.out"]
