"""The driver's halves of vol-create-from and vol-wipe, as libvirt's esxStorageVolCreateXMLFrom / esxStorageVolWipe.

pyvirt's API table has neither virStorageVolCreateXMLFrom nor
virStorageVolWipe yet, so these run the driver's storage object directly,
on a session of its own, against vcsim.
"""

from __future__ import annotations

import pytest
from pyvirt_esx.storage import DatastorePools
from pyvirt_esx.vsphere import Session
from vcsim import Simulator

import pyvirt
from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin.records import PoolRef, VolumeRef
from pyvirt.uri import parse_uri

pytestmark = pytest.mark.usefixtures("auth_file")


def volume_xml(name: str, fmt: str = "vmdk") -> str:
    return f"<volume><name>{name}</name><capacity unit='M'>4</capacity><target><format type='{fmt}'/></target></volume>"


def test_a_volume_copied_by_the_host(esx_sim: Simulator) -> None:
    session = Session(parse_uri(esx_sim.uri()))
    try:
        pools = DatastorePools(session)
        pool = PoolRef("LocalDS_0", pools.lookup_by_name("LocalDS_0").uuid)
        source = pools.create_volume(pool, volume_xml("originals/base.vmdk"), 0)
        copy = pools.create_volume_from(pool, volume_xml("copies/clone.vmdk"), source, 0)
        assert copy.name == "copies/clone.vmdk" and copy.key != source.key
        assert {"originals/base.vmdk", "copies/clone.vmdk"} <= {v.name for v in pools.list_volumes(pool)}
        # and the public API sees it, as a volume like any other
        with pyvirt.open(esx_sim.uri()) as conn:
            assert conn.lookup_storage_volume_by_path("[LocalDS_0] copies/clone.vmdk").key == copy.key
        with pytest.raises(Error) as err:  # the host refuses to copy over an existing disk (force=False)
            pools.create_volume_from(pool, volume_xml("copies/clone.vmdk"), source, 0)
        assert (
            err.value.code == ErrorCode.INTERNAL_ERROR
            and "internal error: Could not copy volume: " in err.value.message
        )
        with pytest.raises(Error) as err:  # the new volume's checks are create's
            pools.create_volume_from(pool, volume_xml("copies/clone.img", "raw"), source, 0)
        assert err.value.code == ErrorCode.NO_SUPPORT and "unsupported suffix, expecting '.vmdk'" in err.value.message
        with pytest.raises(Error) as err:
            pools.create_volume_from(pool, volume_xml("copies/other.vmdk"), source, 1)
        assert "unsupported flags (0x1) in function esxStorageVolCreateXMLFrom" in err.value.message
        for vol in (copy, source):
            pools.delete_volume(vol, 0)
    finally:
        session.close()


def test_wipe_is_the_hosts_zero_fill(esx_sim: Simulator) -> None:
    """vcsim 0.24 has no ZeroFillVirtualDisk_Task: the refusal is the host's, under libvirt's words and code."""
    session = Session(parse_uri(esx_sim.uri()))
    try:
        pools = DatastorePools(session)
        pool = PoolRef("LocalDS_0", pools.lookup_by_name("LocalDS_0").uuid)
        vol = pools.create_volume(pool, volume_xml("wiped/disk.vmdk"), 0)
        with pytest.raises(Error) as err:
            pools.wipe_volume(vol, 0)
        assert (
            err.value.code == ErrorCode.INTERNAL_ERROR
            and "internal error: Could not wipe volume: " in err.value.message
        )
        with pytest.raises(Error) as err:
            pools.wipe_volume(VolumeRef("LocalDS_0", "wiped/disk.vmdk", vol.key), 4)
        assert "unsupported flags (0x4) in function esxStorageVolWipe" in err.value.message
        pools.delete_volume(vol, 0)
    finally:
        session.close()
