"""nodedev-create and nodedev-destroy: libvirt 9.0's test driver's vHBA mock, as Debian's virsh shows it.

A vHBA request (an ``fc_host`` under a ``vport_ops`` capable parent) makes
``scsi_host12``, a copy of ``scsi_host11`` with the new WWNs; every other
device is refused, and destroying anything but an FC host "succeeds" without
removing it. Each story runs as one virsh command line on a fresh
``test:///default`` (every line starts its own process), and pyvirsh must print
what virsh prints and exit the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, assert_like_virsh, run_line, write_files

import pyvirt
from pyvirt.errors import ErrorCode

needs_virsh = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)

FC = (
    "<capability type='scsi_host'><capability type='fc_host'><wwnn>{0}</wwnn><wwpn>{1}</wwpn></capability></capability>"
)
VHBA = "<device><parent>scsi_host1</parent>" + FC.format("2000000012341234", "1000000012341234") + "</device>"
FILES = {
    "vhba.xml": VHBA,
    # the parent found by its WWNs, by its fabric WWN, or as the first vport_ops host when none is named
    "by_wwns.xml": "<device><parent wwnn='2000000012341234' wwpn='1000000012341234'/>"
    + FC.format("a", "b")
    + "</device>",
    "by_fabric.xml": "<device><parent fabric_wwn='2000000043214321'/>" + FC.format("c", "d") + "</device>",
    "no_parent.xml": "<device>" + FC.format("e", "f") + "</device>",
    "no_such_parent.xml": "<device><parent>nosuch</parent>" + FC.format("a", "b") + "</device>",
    "not_vport.xml": "<device><parent>scsi_host11</parent>" + FC.format("a", "b") + "</device>",
    "mdev.xml": "<device><parent>computer</parent><capability type='mdev'><type id='nvidia-11'/></capability></device>",
    "no_wwnn.xml": "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>"
    "<wwpn>1</wwpn></capability></capability></device>",
    "half_parent.xml": "<device><parent wwnn='1'/><capability type='scsi_host'/></device>",
    "bad_cap.xml": "<device><parent>scsi_host1</parent><capability type='bogus'/></device>",
    "bad_scsi_cap.xml": "<device><capability type='scsi_host'><capability type='x'/></capability></device>",
    "no_caps.xml": "<device><parent>scsi_host1</parent></device>",
    "root.xml": "<nodev/>",
    "garbage.xml": "not xml",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("nodedev"), FILES)


@needs_virsh
@pytest.mark.parametrize(
    "line",
    [
        "nodedev-create vhba.xml; nodedev-dumpxml scsi_host12; nodedev-destroy scsi_host12; nodedev-dumpxml scsi_host12",
        "nodedev-create --file by_wwns.xml; nodedev-dumpxml scsi_host12",
        "nodedev-create by_fabric.xml; nodedev-dumpxml scsi_host12",
        "nodedev-create no_parent.xml; nodedev-create vhba.xml; nodedev-dumpxml scsi_host12",  # the second replaces
        "nodedev-create no_such_parent.xml",
        "nodedev-create not_vport.xml",
        "nodedev-create mdev.xml",
        "nodedev-create no_wwnn.xml",
        "nodedev-create half_parent.xml",
        "nodedev-create bad_cap.xml",
        "nodedev-create bad_scsi_cap.xml",
        "nodedev-create no_caps.xml",
        "nodedev-create root.xml",
        "nodedev-create garbage.xml",
        "nodedev-create /nonexistent/dev.xml",
        "nodedev-create ''",
        "nodedev-destroy computer; nodedev-dumpxml computer",  # not an FC host: "destroyed", still there
        "nodedev-destroy scsi_host11; nodedev-dumpxml scsi_host11",
        "nodedev-destroy --name nosuch",
        "nodedev-destroy a,b,c",
        "nodedev-destroy 2000000034563456,xyz",
        "help nodedev-create",
        "help nodedev-destroy",
    ],
)
def test_like_virsh(line: str, files: Path) -> None:
    assert_like_virsh(line, cwd=files)


@needs_virsh
def test_quiet_prints_nothing_on_success(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert VIRSH is not None
    monkeypatch.chdir(files)
    line = "nodedev-create vhba.xml; nodedev-destroy scsi_host12"
    assert run_line([*PYVIRSH, "-q"], line) == run_line([VIRSH, "-q"], line) == ("", "", 0)


def test_the_library_refuses_a_read_only_connection() -> None:
    with pyvirt.open_readonly("test:///default") as conn:
        with pytest.raises(pyvirt.Error) as exc:
            conn.create_node_device(VHBA)
        assert (exc.value.code, exc.value.message) == (
            ErrorCode.OPERATION_DENIED,
            "operation forbidden: read only access prevents virNodeDeviceCreateXML",
        )
        with pytest.raises(pyvirt.Error) as exc:
            conn.lookup_node_device_by_name("scsi_host11").destroy()
        assert exc.value.code == ErrorCode.OPERATION_DENIED


def test_created_device_is_listed_until_destroyed() -> None:
    with pyvirt.open("test:///default") as conn:
        dev = conn.create_node_device(VHBA)
        try:
            assert dev.name == "scsi_host12"
            assert "scsi_host12" in [d.name for d in conn.list_all_node_devices("fc_host")]
            assert dev.parent() == "scsi_host1"
        finally:
            dev.destroy()
        assert "scsi_host12" not in [d.name for d in conn.list_all_node_devices()]
        with pytest.raises(pyvirt.Error) as exc:
            dev.destroy()
        assert exc.value.code == ErrorCode.NO_NODE_DEVICE
        with pytest.raises(pyvirt.Error) as exc:
            conn.create_node_device(VHBA, 2)
        assert exc.value.message == "unsupported flags (0x2) in function testNodeDeviceCreateXML"
