"""vol-resize and pool-capabilities on a dir pool, against libvirt 9.0's storage driver.

libvirt's storageVolResize checks (DELTA, SHRINK, the allocation, the pool's free
space) and its dir backend (virStorageBackendVolResizeLocal: a raw file truncated or
allocated, other formats through ``qemu-img resize``) are compared command by command:
the same virsh lines run by Debian's virsh against a private libvirtd 9.0 (its storage
driver only) and by pyvirsh against pyvirt's storage driver, each on its own pool of
the same name, then the volumes compared. pool-capabilities is libvirt's document with
only the ``supported`` answers differing, which here are the backends installed.
Last, Debian's virsh drives both through pyvirtd, over libvirt's own procedures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.plugin.registry import entry_point_value
from pyvirt.testing.virsh import run_line

needs_qemu_img = pytest.mark.skipif(not shutil.which("qemu-img"), reason="qemu-img (Debian's qemu-utils) is missing")
VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
MIB = 1 << 20


def _qemu_img_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(["qemu-img", "info", "--output=json", "-U", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    info: dict[str, Any] = json.loads(out)
    return info


@pytest.fixture(scope="module")
def libvirtd_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One private libvirtd 9.0 with only its storage driver loaded (bench/private_libvirtd.py)."""
    harness = Path(__file__).parents[3] / "bench" / "private_libvirtd.py"
    if VIRSH is None or not harness.exists():
        pytest.skip("needs Debian's virsh and the repository's bench/private_libvirtd.py")
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not os.path.exists(module.LIBVIRTD):
        pytest.skip("needs Debian's libvirtd (libvirt-daemon-driver-storage)")
    proc, uri = module.start_libvirtd(tmp_path_factory.mktemp("libvirtd-storage"), "storage")
    try:
        yield uri
    finally:
        module.stop_libvirtd(proc)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}") as c:
        yield c


def _pool(conn: pyvirt.Connection, path: Path) -> pyvirt.StoragePool:
    pool = conn.define_storage_pool(f"<pool type='dir'><name>p</name><target><path>{path}</path></target></pool>")
    pool.create(1)  # WITH_BUILD
    return pool


def _volume(pool: pyvirt.StoragePool, name: str, capacity: int, fmt: str, allocation: int | None = None) -> Any:
    alloc = f"<allocation>{allocation}</allocation>" if allocation is not None else ""
    return pool.create_volume(
        f"<volume><name>{name}</name><capacity>{capacity}</capacity>{alloc}"
        f"<target><format type='{fmt}'/></target></volume>"
    )


@needs_qemu_img
def test_resizing_changes_the_real_images(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """A raw file is truncated (sparse) or allocated (ALLOCATE); a qcow2 image's virtual size is qemu-img's."""
    pool = _pool(conn, tmp_path / "pool")
    raw = _volume(pool, "a.img", MIB, "raw", allocation=0)
    raw.resize(3 * MIB)
    path = tmp_path / "pool/a.img"
    assert (path.stat().st_size, path.stat().st_blocks) == (3 * MIB, 0)  # grown, still sparse
    raw.resize(MIB, 2 | 1)  # DELTA | ALLOCATE: one MiB more, all of it allocated
    assert path.stat().st_size == 4 * MIB and path.stat().st_blocks * 512 >= 4 * MIB
    assert raw.info().allocation >= 4 * MIB
    with pytest.raises(pyvirt.Error) as err:
        raw.resize(2 * MIB, 4)  # SHRINK, but below what is now allocated
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG, "invalid argument: can't shrink capacity below existing allocation"
    )  # fmt: skip

    qcow = _volume(pool, "b.qcow2", MIB, "qcow2")
    qcow.resize(5 * MIB + 1)  # qemu-img wants a multiple of 512: libvirt rounds up
    assert _qemu_img_info(tmp_path / "pool/b.qcow2")["virtual-size"] == 5 * MIB + 512
    qcow.resize(2 * MIB, 2 | 4)  # DELTA | SHRINK: --shrink given to qemu-img
    assert _qemu_img_info(tmp_path / "pool/b.qcow2")["virtual-size"] == 3 * MIB + 512
    assert qcow.info().capacity == 3 * MIB + 512
    with pytest.raises(pyvirt.Error) as err:
        qcow.resize(4 * MIB, 1)  # ALLOCATE is for raw files only
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_UNSUPPORTED, "Operation not supported: preallocate is only supported for raw type volume"
    )  # fmt: skip
    with pytest.raises(pyvirt.Error) as err:
        qcow.resize(0)
    assert err.value.message == "capacity in virStorageVolResize cannot be zero without 'delta' or 'shrink' flags set"
    with pytest.raises(pyvirt.Error) as err:
        qcow.resize(MIB, 8)
    assert err.value.message == "unsupported flags (0x8) in function storageVolResize"


def test_pool_capabilities_name_the_installed_backends(conn: pyvirt.Connection) -> None:
    caps = conn.get_storage_pool_capabilities()
    kinds = re.findall(r"<pool type='([^']+)' supported='(yes|no)'>", caps)
    assert [k for k, _ in kinds][:3] == ["dir", "fs", "netfs"] and len(kinds) == 14
    installed = {k for k, _ in kinds if entry_point_value("pyvirt.storage_backend", k) is not None}
    assert {k for k, yes in kinds if yes == "yes"} == installed and "dir" in installed


# One batch per tool: each line a command, the checks between them (vol-info) in the same run.
_RESIZE_LINES = [
    "vol-resize a.img 2M --pool p", "vol-info a.img --pool p",
    "vol-resize a.img 1M --pool p",  # smaller without --shrink
    "vol-resize a.img --capacity -512K --shrink --pool p", "vol-info a.img --pool p",
    "vol-resize a.img --capacity -1M --pool p",  # a minus needs --shrink
    "vol-resize a.img 1M --delta --shrink --pool p", "vol-info a.img --pool p",
    "vol-resize a.img 0 --pool p",
    "vol-resize a.img 1P --allocate --pool p",  # more than the pool has
    "vol-resize a.img 1X --pool p", "vol-resize a.img abc --pool p",
    "vol-resize a.img 4M --allocate --pool p", "vol-info a.img --pool p",
    "vol-resize a.img 1M --shrink --pool p",  # below the allocation now
    "vol-resize b.qcow2 3M --pool p", "vol-info b.qcow2 --pool p",
    "vol-resize b.qcow2 1M --delta --pool p", "vol-info b.qcow2 --pool p",
    "vol-resize b.qcow2 --capacity -1M --shrink --pool p", "vol-info b.qcow2 --pool p",
    "vol-resize b.qcow2 3M --allocate --pool p",
    "vol-resize b.qcow2 1000 --shrink --pool p", "vol-info b.qcow2 --pool p",
    "vol-resize nosuch 1M --pool p",
    "vol-resize --vol a.img --capacity 8M --pool p",
]  # fmt: skip


@needs_qemu_img
def test_vol_resize_like_virsh_against_libvirtd(libvirtd_storage: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    embed = f"storage:///embed?root={tmp_path / 'embed'}"
    setup = "pool-create-as p dir --target {dir} --build; vol-create-as p a.img 1M; vol-create-as p b.qcow2 1M --format qcow2"
    batch = "; ".join(_RESIZE_LINES)
    results = []
    for tool, uri, where in (([VIRSH], libvirtd_storage, tmp_path / "theirs"), (PYVIRSH, embed, tmp_path / "ours")):
        _, err, rc = run_line(tool, uri, setup.format(dir=where))
        assert (err, rc) == ("", 0), err
        results.append(run_line(tool, uri, batch))
        results.append(((where / "a.img").stat().st_size, _qemu_img_info(where / "b.qcow2")["virtual-size"]))
        run_line(tool, uri, "vol-delete a.img --pool p; vol-delete b.qcow2 --pool p; pool-destroy p")
    theirs, their_files, ours, our_files = results
    assert ours == theirs
    assert our_files == their_files == (8 * MIB, 3 * MIB)
    assert "Size of volume 'a.img' successfully changed by 512K" in ours[0]
    assert "error: negative size requires --shrink" in ours[1]


@needs_qemu_img
def test_pool_capabilities_layout_is_libvirts(libvirtd_storage: str, tmp_path: Path) -> None:
    """Debian's libvirtd supports more pool types than the backends installed here: only those answers differ."""
    assert VIRSH is not None
    theirs = run_line([VIRSH], libvirtd_storage, "pool-capabilities")
    ours = run_line(PYVIRSH, f"storage:///embed?root={tmp_path / 'embed'}", "pool-capabilities")
    assert (ours[1:], theirs[1:]) == (("", 0), ("", 0))
    supported = re.compile(r"supported='(yes|no)'")
    assert supported.sub("supported=''", ours[0]) == supported.sub("supported=''", theirs[0])
    assert re.findall(r"<pool type='([^']+)' supported='yes'>", ours[0]) == ["dir"]
    with pyvirt.open(libvirtd_storage) as remote:  # pyvirt's own client reads libvirtd's document whole
        assert remote.get_storage_pool_capabilities() + "\n" in theirs[0]


@needs_qemu_img
@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the client")
def test_debian_virsh_resizes_through_pyvirtd(tmp_path: Path) -> None:
    target = tmp_path / "pooldir"
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("storage:///system")
        out, err, rc = run_line(
            [VIRSH], uri, f"pool-create-as p dir --target {target} --build; vol-create-as p a.img 1M"
        )
        assert (err, rc) == ("", 0)
        out, err, rc = run_line(
            [VIRSH], uri, "vol-resize a.img 2M --pool p; vol-resize a.img 0 --pool p; pool-capabilities"
        )
        # each command's output then virsh's blank line, the failed one's too
        assert out.startswith("Size of volume 'a.img' successfully changed to 2M\n\n\n<storagepoolCapabilities>\n")
        assert "  <pool type='dir' supported='yes'>\n" in out
        # libvirt's client library refuses a zero size before sending, as pyvirt's public method does
        assert err == (
            "error: Failed to change size of volume 'a.img' to 0\n"
            "error: capacity in virStorageVolResize cannot be zero without 'delta' or 'shrink' "
            "flags set\n"
        )
        assert (target / "a.img").stat().st_size == 2 * MIB
        with pyvirt.open(uri) as remote:  # pyvirt's own client, over the same procedures
            vol = remote.lookup_storage_pool_by_name("p").lookup_volume_by_name("a.img")
            vol.resize(MIB, 2)
            assert (target / "a.img").stat().st_size == 3 * MIB
            with pytest.raises(pyvirt.Error) as exc:
                vol.resize(MIB)
            assert exc.value.code == ErrorCode.INVALID_ARG
            assert "<pool type='dir' supported='yes'>" in remote.get_storage_pool_capabilities()
        run_line([VIRSH], uri, "pool-destroy p")
