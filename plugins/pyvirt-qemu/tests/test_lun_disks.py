"""``<disk device='lun'>``: a host block device whose SCSI commands the guest sends through (SG_IO).

On a SCSI controller the device is a ``scsi-block``; on the virtio bus QEMU's virtio-blk gets
``scsi=on``, as libvirt 9.0 writes it. Both need a real SCSI device on the host, which this machine
lacks: started on a loop device, QEMU takes the command line and names what is missing, and the user
sees QEMU's reason. (QEMU 7.2 also refuses ``scsi=on`` on a virtio 1.0 device: libvirt's command line
fails the same way there.) libvirt's own refusals come in its words.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode

GUEST = """<domain type='{virt}'><name>lun</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='block' device='lun'><driver name='qemu' type='raw'/><source dev='{dev}'/>
  <target dev='{target}' bus='{bus}'/>{extra}</disk>
<memballoon model='none'/></devices></domain>"""


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    image = tmp_path / "lun.img"
    image.write_bytes(b"\0" * (1 << 20))
    try:
        dev = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True,
                             text=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no loop device: {exc}")
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def _argv(bus: str, target: str, extra: str = "") -> list[str]:
    xml = GUEST.format(virt="qemu", dev="/dev/sdz", target=target, bus=bus, extra=extra)
    return build_command_line(apply_defaults(parse_domain(xml)), "/tmp/m.sock", hugepage_mounts=[],
                              host_nodes={0}).argv  # fmt: skip


@pytest.mark.parametrize(("bus", "controller", "reason"), [
    ("scsi", "<controller type='scsi' model='virtio-scsi'/>", "cannot get SG_IO version number"),
    ("virtio", "", "Please set scsi=off for virtio-blk devices in order to use virtio 1.0"),
])  # fmt: skip
def test_qemu_takes_the_lun_and_names_what_the_host_lacks(conn: pyvirt.Connection, virt_type: str, loop_device: str,
                                                          bus: str, controller: str, reason: str) -> None:  # fmt: skip
    xml = GUEST.format(virt=virt_type, dev=loop_device, target="sda" if bus == "scsi" else "vda", bus=bus, extra="")
    dom = conn.define_domain(xml.replace("<memballoon", controller + "<memballoon"))
    with pytest.raises(Error) as err:
        dom.create()
    assert reason in str(err.value)
    assert not dom.is_active()


def test_a_scsi_lun_is_a_scsi_block_device_without_vpd_id() -> None:
    device = next(a for a in _argv("scsi", "sda") if a.startswith('{"driver":"scsi-block"'))
    assert '"device_id"' not in device and '"drive":"libvirt-1-format"' in device


@pytest.mark.parametrize(("bus", "extra", "message"), [
    ("sata", "", "disk device='lun' is not supported for bus='sata'"),
    ("scsi", "<wwn>5000c50015ea71ac</wwn>", "Setting wwn is not supported for lun device"),
    ("scsi", "<serial>x</serial>", "scsi-block 'lun' devices do not support the serial property"),
])  # fmt: skip
def test_lun_refusals_are_libvirts(bus: str, extra: str, message: str) -> None:
    with pytest.raises(Error) as err:
        _argv(bus, "sda", extra)
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(err.value).endswith(message)
