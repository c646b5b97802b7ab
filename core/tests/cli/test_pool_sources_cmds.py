"""find-storage-pool-sources(-as): libvirt 9.0's test driver's fixed discoveries, as Debian's virsh prints them.

``logical`` finds two volume groups, ``netfs`` one export of the host the
specification names; ``dir`` is "unknown" (its type number is 0, which the
test driver's check takes for none), every other type unsupported. The
specification is parsed first, with libvirt's errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import SKIP_WITHOUT_VIRSH, VIRSH, assert_like_virsh, write_files

import pyvirt
from pyvirt.errors import ErrorCode

needs_virsh = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)

SPECS = {
    "host.xml": "<source><host name='nfs1.example.org'/></source>",
    "no_name.xml": "<source><host/></source>",
    "bad_port.xml": "<source><host name='h' port='x'/></source>",
    "root.xml": "<pool/>",
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("sources"), SPECS)


@needs_virsh
@pytest.mark.parametrize(
    "line",
    [
        "find-storage-pool-sources logical",
        "find-storage-pool-sources netfs host.xml",
        "find-storage-pool-sources --type netfs --srcSpec host.xml",
        "find-storage-pool-sources dir",
        "find-storage-pool-sources iscsi",
        "find-storage-pool-sources bogus",
        "find-storage-pool-sources bogus host.xml",  # with a specification: no backend to parse it for
        "find-storage-pool-sources netfs no_name.xml",
        "find-storage-pool-sources netfs bad_port.xml",
        "find-storage-pool-sources logical root.xml",
        "find-storage-pool-sources netfs /nonexistent/spec.xml",
        "find-storage-pool-sources netfs ''",
        "find-storage-pool-sources-as logical",
        "find-storage-pool-sources-as netfs nfs2.example.org",
        "find-storage-pool-sources-as netfs myhost 2049 iqn.2026-01.org.example:init",
        "find-storage-pool-sources-as netfs --host myhost --port ''",
        "find-storage-pool-sources-as netfs --host ''",
        "find-storage-pool-sources-as bogus somehost",
        "find-storage-pool-sources-as dir",
        "help find-storage-pool-sources",
        "help find-storage-pool-sources-as",
    ],
)
def test_like_virsh(line: str, specs: Path) -> None:
    assert_like_virsh(line, cwd=specs)


def test_a_netfs_search_needs_a_host_and_a_read_write_connection() -> None:
    with pyvirt.open("test:///default") as conn:
        with pytest.raises(pyvirt.Error) as exc:
            conn.find_storage_pool_sources("netfs")
        assert (exc.value.code, exc.value.message) == (
            ErrorCode.INVALID_ARG,
            "invalid argument: hostname must be specified for netfs sources",
        )
    with pyvirt.open_readonly("test:///default") as ro:
        with pytest.raises(pyvirt.Error) as exc:
            ro.find_storage_pool_sources("logical")
        assert exc.value.message == "operation forbidden: read only access prevents virConnectFindStoragePoolSources"
