"""Host facts through pyvirtd: Debian's virsh as the client, libvirt's test driver as the oracle.

maxvcpus, freecell, freepages, nodecpustats, cpu-models and sysinfo reach
the daemon as CONNECT_GET_MAX_VCPUS, CONNECT_GET_CPU_MODEL_NAMES,
NODE_GET_FREE_MEMORY, NODE_GET_CELLS_FREE_MEMORY, NODE_GET_FREE_PAGES,
NODE_GET_CPU_STATS (virsh's two calls: the count, then the counters) and
CONNECT_GET_SYSINFO. They are reads, so the read-only socket answers them
too; nodedev-create and nodedev-destroy are writes. pyvirt's own client goes
the same way and gets the same figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote import _remote
from pyvirt.remote.client import RemoteClient, connect_unix

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

PROCS = {p.name.removeprefix("REMOTE_PROC_"): p for p in _remote.PROCEDURES.values()}

SCRIPT = [
    "maxvcpus",
    "maxvcpus --type kvm",
    "freecell",
    "freecell --all",
    "freecell --cellno 1",
    "freecell --cellno 7",
    "freecell --cellno -1",
    "nodecpustats",
    "nodecpustats --cpu 1",
    "nodecpustats --cpu -4",
    "freepages --all",
    "freepages --cellno 1 --pagesize 2M",
    "cpu-models x86_64",
    "cpu-models s390x",
    "cpu-models sparc",
    "sysinfo",
]


def _virsh(uri: str, line: str) -> tuple[str, str, int]:
    run = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True,
                         env=dict(os.environ, LC_ALL="C"), timeout=120, check=False)  # fmt: skip
    return run.stdout, run.stderr, run.returncode


@pytest.mark.parametrize("read_only", [False, True], ids=["rw", "ro"])
def test_virsh_through_pyvirtd_prints_what_libvirts_test_driver_prints(pyvirtd: PrivateDaemon, read_only: bool) -> None:
    # one line per command: each command's exit status is compared, not only the last one's
    for line in SCRIPT:
        assert _virsh(pyvirtd.uri(read_only=read_only), line) == _virsh("test:///default", line), line


def _call(client: RemoteClient, name: str, args: Any) -> Any:
    proc = PROCS[name]
    return client.call(proc.number, proc.pack_args, args, proc.unpack_ret)


def test_raw_cpu_stats_calls_get_libvirtds_checks(pyvirtd: PrivateDaemon) -> None:
    client = RemoteClient(connect_unix(pyvirtd.socket))
    try:
        _call(client, "CONNECT_OPEN", ("test:///default", 0))
        # the count alone, then as many counters as asked (libvirtd leaves the count 0 in that reply)
        assert _call(client, "NODE_GET_CPU_STATS", (-1, 0, 0)) == ([], 4)
        assert _call(client, "NODE_GET_CPU_STATS", (-1, 2, 0)) == (
            [("user", 9797400000), ("kernel", 34678723400000)],
            0,
        )
        for nparams, message in ((-1, "internal error: nparams must be non-negative"),
                                 (17, "internal error: nparams too large")):  # fmt: skip
            with pytest.raises(Error) as info:
                _call(client, "NODE_GET_CPU_STATS", (-1, nparams, 0))
            assert (info.value.code, info.value.message) == (ErrorCode.INTERNAL_ERROR, message)
        assert _call(client, "NODE_GET_FREE_PAGES", ([4, 8], 0, 2, 0)) == ([19, 45, 97, 201],)
        # the names only when the caller wants them (need_results), the count always
        assert _call(client, "CONNECT_GET_CPU_MODEL_NAMES", ("ppc64", 0, 0)) == ([], 7)
        assert _call(client, "CONNECT_GET_CPU_MODEL_NAMES", ("ppc64", 1, 0))[0][:2] == ["POWER6", "POWER7"]
        with pytest.raises(Error) as info:
            _call(client, "NODE_GET_FREE_PAGES", ([4] * 513, 0, 2, 0))
        assert info.value.message == "internal error: the result won't fit into REMOTE_NODE_MAX_CELLS"
        with pytest.raises(Error) as info:
            _call(client, "NODE_GET_CELLS_FREE_MEMORY", (0, 0))
        assert info.value.message == "maxCells in virNodeGetCellsFreeMemory must be greater than zero"
    finally:
        client.close()


def test_pyvirts_client_reads_the_same_figures(pyvirtd: PrivateDaemon) -> None:
    with pyvirt.open(pyvirtd.uri()) as remote, pyvirt.open("test:///default") as local:
        for conn in (remote, local):
            assert conn.get_max_vcpus("kvm") == 32
            assert conn.get_free_memory() == 3072 * 1024
            assert conn.get_cells_free_memory(0, 4) == [2048 * 1024, 4096 * 1024]
            assert conn.get_cpu_stats(2)[3] == ("iowait", 763600000)
            assert conn.get_sysinfo().startswith("<sysinfo type='smbios'>\n")
        with pytest.raises(Error) as info:
            remote.get_cells_free_memory(2, 1)
        assert (info.value.code, info.value.message) == (
            ErrorCode.INVALID_ARG,
            "invalid argument: Range exceeds available cells",
        )


VHBA = (
    "<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>"
    "<wwnn>2000000012341234</wwnn><wwpn>1000000012341234</wwpn></capability></capability></device>\n"
)


def test_nodedev_create_destroy_and_pool_sources_through_pyvirtd(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    """NODE_DEVICE_CREATE_XML, NODE_DEVICE_DESTROY (the vHBA mock as libvirt's test driver) and
    CONNECT_FIND_STORAGE_POOL_SOURCES; writes, so refused on the read-only socket in libvirt's words."""
    (tmp_path / "vhba.xml").write_text(VHBA)
    line = (
        f"nodedev-create {tmp_path}/vhba.xml; nodedev-dumpxml scsi_host12; nodedev-destroy scsi_host12; "
        "nodedev-dumpxml scsi_host12; nodedev-destroy computer; find-storage-pool-sources logical; "
        "find-storage-pool-sources-as netfs nfs.example.org; find-storage-pool-sources iscsi"
    )
    assert _virsh(pyvirtd.uri(), line) == _virsh("test:///default", line)
    out, err, rc = _virsh(pyvirtd.uri(read_only=True), f"nodedev-create {tmp_path}/vhba.xml")
    assert (out, rc) == ("\n", 1)
    assert err.splitlines()[-1] == "error: operation forbidden: read only access prevents virNodeDeviceCreateXML"
