"""Begin's refusals that need no second host: libvirt's qemuMigrationSrcIsAllowed and qemuMigrationSrcIsSafe.

A host device (other than USB) stays bound to this host, and snapshots'
metadata would stay behind; a writable image on a local filesystem is not
the destination's to open. The messages and codes are libvirt's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyvirt_qemu.migration_checks import check_allowed, check_safe
from pyvirt_qemu.state import DomainObj

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.local_driver.paths import embed_paths

GUEST = """<domain type='kvm'><name>g</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}</devices></domain>"""
PCI = ("<hostdev mode='subsystem' type='pci' managed='yes'><source>"
       "<address domain='0x0000' bus='0x00' slot='0x1f' function='0x0'/></source></hostdev>")  # fmt: skip
USB = "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1d6b'/><product id='0x0002'/></source></hostdev>"


def _obj(devices: str) -> DomainObj:
    return DomainObj(live=parse_domain(GUEST.format(devices=devices)), persistent=False)


def test_a_pci_host_device_stays_here(tmp_path: Path) -> None:
    with pytest.raises(Error) as err:
        check_allowed(embed_paths(str(tmp_path), "qemu"), _obj(PCI))
    assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED
    assert (
        err.value.message
        == "Operation not supported: cannot migrate a domain with <hostdev mode='subsystem' type='pci'>"
    )


def test_usb_host_devices_and_plain_guests_may_go(tmp_path: Path) -> None:
    check_allowed(embed_paths(str(tmp_path), "qemu"), _obj(USB))
    check_allowed(embed_paths(str(tmp_path), "qemu"), _obj(""))


def test_a_writable_image_on_a_local_filesystem_is_unsafe_a_read_only_one_is_not(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    disk = f"<disk type='file' device='disk'><source file='{image}'/><target dev='vda' bus='virtio'/>{{ro}}</disk>"
    with pytest.raises(Error) as err:
        check_safe(_obj(disk.format(ro="")).live)
    assert err.value.code == ErrorCode.MIGRATE_UNSAFE
    assert err.value.message == "Unsafe migration: Migration without shared storage is unsafe"
    check_safe(_obj(disk.format(ro="<readonly/>")).live)
