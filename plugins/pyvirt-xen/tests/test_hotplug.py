"""attach-device/detach-device of disks and NICs on a definition (``--config``), and the refusals made before xl runs.

The live half (``xl block-attach``/``block-detach``) runs on the nested Xen (``in_dom0/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

PV = """<domain type='xen'>
  <name>pv1</name>
  <memory unit='MiB'>256</memory>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel></os>
</domain>"""

DISK = "<disk type='file' device='disk'><source file='/srv/data.img'/><target dev='xvdb'/></disk>"
CONFIG, LIVE = 2, 1


@pytest.fixture
def dom(tmp_path: Path) -> Iterator[pyvirt.Domain]:
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as conn:
        yield conn.define_domain(PV)


def _stored(tmp_path: Path) -> str:
    return (tmp_path / "etc" / "libxl" / "pv1.xml").read_text()


def test_a_disk_joins_and_leaves_the_definition_with_xens_defaults(dom: pyvirt.Domain, tmp_path: Path) -> None:
    dom.attach_device(DISK)  # flags 0 on a shut-off guest: its definition
    stored = _stored(tmp_path)
    assert (
        """    <disk type='file' device='disk'>
      <driver type='raw'/>
      <source file='/srv/data.img'/>
      <target dev='xvdb' bus='xen'/>
    </disk>"""
        in stored
    )
    with pytest.raises(Error) as err:
        dom.attach_device(DISK, CONFIG)
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG,
        "invalid argument: target xvdb already exists.",
    )
    dom.detach_device("<disk type='file' device='disk'><target dev='xvdb'/></disk>", CONFIG)
    assert "xvdb" not in _stored(tmp_path)
    with pytest.raises(Error) as err:
        dom.detach_device(DISK)
    assert (err.value.code, err.value.message) == (ErrorCode.INVALID_ARG, "invalid argument: no target device xvdb")


def test_refusals_before_xl_runs(dom: pyvirt.Domain) -> None:
    with pytest.raises(Error) as err:
        dom.attach_device(DISK, LIVE)
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID, "Requested operation is not valid: domain is not running")  # fmt: skip
    with pytest.raises(Error) as err:
        dom.attach_device("<hostdev mode='subsystem' type='pci'><source><address bus='0' slot='1'/></source></hostdev>")
    assert err.value.code == ErrorCode.NO_SUPPORT and "host device hotplug" in err.value.message
    with pytest.raises(Error) as err:
        dom.attach_device("<sound model='ich6'/>")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    with pytest.raises(Error) as err:
        dom.attach_device(DISK, 4)
    assert err.value.message == "unsupported flags (0x4) in function libxlDomainAttachDeviceFlags"


NIC = "<interface type='bridge'><mac address='00:16:3e:12:34:56'/><source bridge='xenbr0'/></interface>"


def test_a_nic_joins_and_leaves_the_definition_found_by_its_mac(dom: pyvirt.Domain, tmp_path: Path) -> None:
    dom.attach_device(NIC)
    assert "<mac address='00:16:3e:12:34:56'/>" in _stored(tmp_path)
    with pytest.raises(Error) as err:
        dom.attach_device(NIC, CONFIG)
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG, "invalid argument: network device with mac 00:16:3e:12:34:56 already exists")  # fmt: skip
    with pytest.raises(Error) as err:
        dom.detach_device("<interface type='bridge'><mac address='00:16:3e:00:00:01'/></interface>", CONFIG)
    assert (err.value.code, err.value.message) == (
        ErrorCode.DEVICE_MISSING,
        "device not found: no device found at address '(<null>)' matching MAC address '00:16:3e:00:00:01' "
        "and alias '(<null>)'",
    )
    dom.detach_device("<interface type='bridge'><mac address='00:16:3E:12:34:56'/></interface>", CONFIG)
    assert "<interface" not in _stored(tmp_path)


def test_a_nic_given_without_a_mac_gets_one_in_xens_range(dom: pyvirt.Domain, tmp_path: Path) -> None:
    """libvirt's parser gives a NIC without a MAC one with the driver's prefix (Xen's OUI, 00:16:3e)."""
    dom.attach_device("<interface type='bridge'><source bridge='xenbr0'/></interface>")
    dom.attach_device("<interface type='bridge'><source bridge='xenbr1'/></interface>")
    macs = re.findall(r"<mac address='([0-9a-f:]+)'/>", _stored(tmp_path))
    assert len(macs) == 2 and macs[0] != macs[1] and all(m.startswith("00:16:3e:") for m in macs)
    # without a MAC a detach matches every NIC: two are one too many
    with pytest.raises(Error) as err:
        dom.detach_device("<interface type='bridge'/>", CONFIG)
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_FAILED, "operation failed: multiple matching devices found")  # fmt: skip
