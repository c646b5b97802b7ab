"""attach-device/detach-device of disks on a definition (``--config``), and the refusals made before xl runs.

The live half (``xl block-attach``/``block-detach``) runs on the nested Xen (``in_dom0/``).
"""

from __future__ import annotations

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
        dom.attach_device("<interface type='bridge'><source bridge='xenbr0'/></interface>")
    assert err.value.code == ErrorCode.NO_SUPPORT and "network interface hotplug" in err.value.message
    with pytest.raises(Error) as err:
        dom.attach_device("<sound model='ich6'/>")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    with pytest.raises(Error) as err:
        dom.attach_device(DISK, 4)
    assert err.value.message == "unsupported flags (0x4) in function libxlDomainAttachDeviceFlags"
