"""vol-clone, vol-create-from and vol-wipe on a datastore, as libvirt's esxStorageVolCreateXMLFrom / esxStorageVolWipe.

Through the public API (StoragePool.create_volume_from, StorageVolume.wipe)
and pyvirsh, against vcsim: the copy is the host's (CopyVirtualDisk_Task),
the wipe too (ZeroFillVirtualDisk_Task, which vcsim 0.24 does not
implement: its refusal is checked, under libvirt's words and code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vcsim import Simulator

import pyvirt
from pyvirt.errors import Error, ErrorCode

pytestmark = pytest.mark.usefixtures("auth_file")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


def volume_xml(name: str, fmt: str = "vmdk") -> str:
    return f"<volume><name>{name}</name><capacity unit='M'>4</capacity><target><format type='{fmt}'/></target></volume>"


def pyvirsh(sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYVIRSH, "-c", sim.uri(), *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), check=False)  # fmt: skip


def test_a_volume_copied_by_the_host(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        pool = conn.lookup_storage_pool_by_name("LocalDS_0")
        source = pool.create_volume(volume_xml("originals/base.vmdk"))
        copy = pool.create_volume_from(volume_xml("copies/clone.vmdk"), source)
        assert copy.name == "copies/clone.vmdk" and copy.key != source.key
        assert {"originals/base.vmdk", "copies/clone.vmdk"} <= {v.name for v in pool.list_all_volumes()}
        assert conn.lookup_storage_volume_by_path("[LocalDS_0] copies/clone.vmdk").key == copy.key
        with pytest.raises(Error) as err:  # the host refuses to copy over an existing disk (force=False)
            pool.create_volume_from(volume_xml("copies/clone.vmdk"), source)
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        assert "internal error: Could not copy volume: " in err.value.message
        with pytest.raises(Error) as err:  # the new volume's checks are create's
            pool.create_volume_from(volume_xml("copies/clone.img", "raw"), source)
        assert err.value.code == ErrorCode.NO_SUPPORT and "unsupported suffix, expecting '.vmdk'" in err.value.message
        with pytest.raises(Error) as err:
            pool.create_volume_from(volume_xml("copies/other.vmdk"), source, 1)
        assert "unsupported flags (0x1) in function esxStorageVolCreateXMLFrom" in err.value.message
        for vol in (copy, source):
            vol.delete()


def test_wipe_is_the_hosts_zero_fill(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        pool = conn.lookup_storage_pool_by_name("LocalDS_0")
        vol = pool.create_volume(volume_xml("wiped/disk.vmdk"))
        with pytest.raises(Error) as err:  # vcsim 0.24 has no ZeroFillVirtualDisk_Task: the host's refusal
            vol.wipe()
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        assert "internal error: Could not wipe volume: " in err.value.message
        assert "ZeroFillVirtualDisk_Task" in err.value.message
        with pytest.raises(Error) as err:
            vol.wipe(4)
        assert "unsupported flags (0x4) in function esxStorageVolWipe" in err.value.message
        # libvirt's ESX driver has no wipe patterns: another algorithm is refused, never zeroed instead
        with pytest.raises(Error) as err:
            vol.wipe_pattern(9)  # trim
        assert err.value.code == ErrorCode.NO_SUPPORT
        assert err.value.message == "this function is not supported by the connection driver: virStorageVolWipePattern"
        vol.delete()


def test_pyvirsh_clones_and_wipes_as_virsh_says(esx_sim: Simulator) -> None:
    made = pyvirsh(esx_sim, "vol-create-as", "LocalDS_0", "cli/base.vmdk", "4M", "--format", "vmdk")
    assert made.returncode == 0, made.stderr
    shown = pyvirsh(esx_sim, "vol-clone", "cli/base.vmdk", "cli/copy.vmdk", "--pool", "LocalDS_0", "--print-xml")
    assert shown.returncode == 0 and "<name>cli/copy.vmdk</name>" in shown.stdout
    assert "copy" not in pyvirsh(esx_sim, "vol-list", "LocalDS_0").stdout  # --print-xml creates nothing
    cloned = pyvirsh(esx_sim, "vol-clone", "cli/base.vmdk", "cli/copy.vmdk", "--pool", "LocalDS_0")
    assert (cloned.stdout, cloned.returncode) == ("Vol cli/copy.vmdk cloned from cli/base.vmdk\n\n", 0), cloned.stderr
    again = pyvirsh(esx_sim, "vol-clone", "cli/base.vmdk", "cli/copy.vmdk", "--pool", "LocalDS_0")
    assert again.returncode == 1
    assert again.stderr.startswith(
        "error: Failed to clone vol from cli/base.vmdk\nerror: internal error: Could not copy"
    )
    with pyvirt.open(esx_sim.uri()) as conn:
        xml = conn.lookup_storage_pool_by_name("LocalDS_0").lookup_volume_by_name("cli/copy.vmdk").xml_desc()
    definition = Path(os.environ["LIBVIRT_AUTH_FILE"]).with_name("from.xml")
    definition.write_text(volume_xml("cli/from.vmdk"))
    created = pyvirsh(esx_sim, "vol-create-from", "LocalDS_0", str(definition), "cli/base.vmdk",
                      "--inputpool", "LocalDS_0")  # fmt: skip
    assert (created.stdout, created.returncode) == ("Vol cli/from.vmdk created from input vol cli/base.vmdk\n\n", 0)
    assert "<path>[LocalDS_0] cli/copy.vmdk</path>" in xml
    wiped = pyvirsh(esx_sim, "vol-wipe", "cli/from.vmdk", "--pool", "LocalDS_0")
    assert wiped.returncode == 1
    assert wiped.stderr.startswith(
        "error: Failed to wipe vol cli/from.vmdk\nerror: internal error: Could not wipe volume"
    )
    pattern = pyvirsh(esx_sim, "vol-wipe", "cli/from.vmdk", "--pool", "LocalDS_0", "--algorithm", "trim")
    assert pattern.stderr == (
        "error: Failed to wipe vol cli/from.vmdk\n"
        "error: this function is not supported by the connection driver: virStorageVolWipePattern\n"
    )
    for name in ("cli/from.vmdk", "cli/copy.vmdk", "cli/base.vmdk"):
        assert pyvirsh(esx_sim, "vol-delete", name, "--pool", "LocalDS_0").returncode == 0


def test_through_a_vcenter(vpx_sim: Simulator) -> None:
    """vpx://vc/DC/CLUSTER/HOST: the copy and the wipe go to the host's datacenter, as on ESX."""
    with pyvirt.open(vpx_sim.uri(scheme="vpx").replace("/?", "/DC0/DC0_C0/DC0_C0_H0/?")) as conn:
        pool = conn.lookup_storage_pool_by_name("LocalDS_0")
        source = pool.create_volume(volume_xml("vc/base.vmdk"))
        copy = pool.create_volume_from(volume_xml("vc/copy.vmdk"), source)
        assert "vc/copy.vmdk" in {v.name for v in pool.list_all_volumes()} and copy.key != source.key
        with pytest.raises(Error) as err:
            copy.wipe()
        assert "Could not wipe volume: " in err.value.message
        for vol in (copy, source):
            vol.delete()
