"""The dir pool against real directories and images, checked with ``qemu-img`` and the filesystem itself."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import pyvirt
from pyvirt import ErrorCode
from pyvirt.conf.schema import validate

needs_qemu_img = pytest.mark.skipif(not shutil.which("qemu-img"), reason="qemu-img (Debian's qemu-utils) is missing")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "embed"


@pytest.fixture
def conn(root: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"storage:///embed?root={root}") as c:
        yield c


def _pool_xml(name: str, path: Path, extra: str = "") -> str:
    return f"<pool type='dir'><name>{name}</name><target><path>{path}</path>{extra}</target></pool>"


def _qemu_img_info(path: Path) -> dict[str, object]:
    out = subprocess.run(["qemu-img", "info", "--output=json", "-U", str(path)], capture_output=True, text=True,
                         check=True)  # fmt: skip
    info: dict[str, object] = json.loads(out.stdout)
    return info


def test_pool_lifecycle_follows_the_directory(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images = tmp_path / "images"
    pool = conn.define_storage_pool(_pool_xml("images", images))
    assert not pool.is_active() and pool.is_persistent()
    inactive = etree.fromstring(pool.xml_desc().encode())
    assert inactive.findtext("capacity") == "0"  # libvirt shows zeros until the pool runs
    with pytest.raises(pyvirt.Error) as err:
        pool.create()
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    assert f"cannot open directory '{images}': No such file or directory" in err.value.message
    assert not images.exists() and not pool.is_active()
    pool.create(1)  # WITH_BUILD: the directory is made, mode 0711 as libvirt builds it
    assert images.is_dir() and (images.stat().st_mode & 0o777) == 0o711
    xml = pool.xml_desc()
    validate(xml, "pool")
    doc = etree.fromstring(xml.encode())
    vfs = os.statvfs(images)
    assert int(doc.findtext("capacity") or 0) == vfs.f_frsize * vfs.f_blocks
    assert doc.findtext("target/permissions/mode") == "0711"
    info = pool.info()
    assert info.state == 2 and info.capacity == vfs.f_frsize * vfs.f_blocks
    with pytest.raises(pyvirt.Error) as err:
        pool.undefine()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "is still active" in err.value.message
    # a second pool on the same directory is refused; a pool type with no backend installed too
    with pytest.raises(pyvirt.Error) as err:
        conn.define_storage_pool(_pool_xml("again", images))
    assert "Storage source conflict with pool: 'images'" in err.value.message
    with pytest.raises(pyvirt.Error) as err:
        conn.define_storage_pool("<pool type='logical'><name>vg</name><target><path>/dev/vg</path></target></pool>")
    assert "missing backend for pool type 'logical'" in err.value.message
    pool.destroy()
    pool.undefine()
    assert conn.list_all_storage_pools() == [] and images.is_dir()  # undefine leaves the data alone


def test_pools_are_shared_by_every_process(conn: pyvirt.Connection, root: Path, tmp_path: Path) -> None:
    conn.define_storage_pool(_pool_xml("shared", tmp_path / "shared")).create(1)
    conn.create_storage_pool(_pool_xml("transient", tmp_path / "transient"), 1)
    listing = subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"storage:///embed?root={root}",
                              "pool-list", "--all"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert [line.split()[:2] for line in listing.splitlines()[2:] if line.strip()] == [
        ["shared", "active"], ["transient", "active"]]  # fmt: skip
    transient = conn.lookup_storage_pool_by_name("transient")
    assert not transient.is_persistent()
    transient.destroy()
    with pytest.raises(pyvirt.Error) as err:
        conn.lookup_storage_pool_by_name("transient")
    assert err.value.code == ErrorCode.NO_STORAGE_POOL
    # a qemu:/// connection of the same mode answers pool calls through the storage driver, as libvirt's do
    # (when pyvirt-qemu is installed beside this distribution: ``tox -e storage`` installs only this one)
    if importlib.util.find_spec("pyvirt_qemu") is not None:
        with pyvirt.open(f"qemu:///embed?root={root}") as qemu:
            assert [p.name for p in qemu.list_all_storage_pools()] == ["shared"]


def test_autostart_pools_start_on_the_first_open_after_boot(
    conn: pyvirt.Connection, root: Path, tmp_path: Path
) -> None:
    pool = conn.define_storage_pool(_pool_xml("boot", tmp_path / "boot"))
    pool.create(1)
    pool.autostart = True
    assert pool.autostart
    pool.destroy()
    shutil.rmtree(root / "storage" / "run")  # what a reboot does to the run directory
    with pyvirt.open(f"storage:///embed?root={root}") as again:
        assert again.lookup_storage_pool_by_name("boot").is_active()
    with pytest.raises(pyvirt.Error) as err:
        conn.create_storage_pool(_pool_xml("t", tmp_path / "t"), 1).autostart = True
    assert err.value.code == ErrorCode.OPERATION_INVALID


@needs_qemu_img
def test_volumes_are_real_images(conn: pyvirt.Connection, tmp_path: Path) -> None:
    images = tmp_path / "vols"
    pool = conn.define_storage_pool(_pool_xml("vols", images))
    pool.create(1)
    mib = 1 << 20
    raw = pool.create_volume(f"<volume><name>full.img</name><capacity>{8 * mib}</capacity></volume>")
    sparse = pool.create_volume(
        f"<volume><name>sparse.img</name><capacity>{8 * mib}</capacity><allocation>0</allocation></volume>"
    )
    # raw volumes are allocated up to the requested allocation, which defaults to the capacity (libvirt's rule)
    assert (images / "full.img").stat().st_blocks * 512 >= 8 * mib
    assert (images / "sparse.img").stat().st_blocks * 512 < mib
    assert (images / "full.img").stat().st_mode & 0o777 == 0o600
    assert raw.info().capacity == 8 * mib and sparse.info().allocation < mib
    base = pool.create_volume(
        f"<volume><name>base.qcow2</name><capacity>{16 * mib}</capacity><target><format type='qcow2'/></target></volume>"
    )
    top = pool.create_volume(f"""<volume><name>top.qcow2</name><capacity>{32 * mib}</capacity>
<target><format type='qcow2'/></target><backingStore><path>{base.path()}</path><format type='qcow2'/>
</backingStore></volume>""")
    info = _qemu_img_info(images / "top.qcow2")
    assert (info["format"], info["virtual-size"], info["backing-filename"]) == ("qcow2", 32 * mib, base.path())
    assert info["backing-filename-format"] == "qcow2"
    # as in libvirt, a backing store given without a format is raw (the pool's default format), never probed
    pool.create_volume(f"""<volume><name>over-raw.qcow2</name><capacity>{mib}</capacity>
<target><format type='qcow2'/></target><backingStore><path>{raw.path()}</path></backingStore></volume>""")
    assert _qemu_img_info(images / "over-raw.qcow2")["backing-filename-format"] == "raw"
    pool.lookup_volume_by_name("over-raw.qcow2").delete()
    xml = top.xml_desc()
    validate(xml, "volume")
    doc = etree.fromstring(xml.encode())
    assert doc.xpath("string(target/format/@type)") == "qcow2"
    assert doc.findtext("backingStore/path") == base.path() and doc.findtext("capacity") == str(32 * mib)
    # files put there by other tools are volumes at once, with their real format and size
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(images / "other.vmdk"), "4M"], check=True)
    assert [v.name for v in pool.list_all_volumes()] == ["base.qcow2", "full.img", "other.vmdk", "sparse.img",
                                                         "top.qcow2"]  # fmt: skip
    other = conn.lookup_storage_volume_by_path(str(images / "other.vmdk"))
    assert other.pool_name == "vols" and other.info().capacity == 4 * mib
    assert conn.lookup_storage_volume_by_key(top.key).name == "top.qcow2"
    # errors leave nothing behind
    with pytest.raises(pyvirt.Error) as err:
        pool.create_volume(f"<volume><name>full.img</name><capacity>{mib}</capacity></volume>")
    assert err.value.code == ErrorCode.STORAGE_VOL_EXIST and "storage volume 'full.img' exists already" in str(
        err.value
    )
    with pytest.raises(pyvirt.Error):
        pool.create_volume(f"""<volume><name>broken.qcow2</name><capacity>{mib}</capacity>
<target><format type='qcow2'/></target><backingStore><path>{images}/missing</path></backingStore></volume>""")
    with pytest.raises(pyvirt.Error) as err:
        pool.create_volume(f"""<volume><name>raw-on-base</name><capacity>{mib}</capacity>
<backingStore><path>{base.path()}</path></backingStore></volume>""")
    assert "backing storage not supported for raw volumes" in err.value.message
    assert not (images / "broken.qcow2").exists() and not (images / "raw-on-base").exists()
    sparse.delete()
    assert not (images / "sparse.img").exists()
    with pytest.raises(pyvirt.Error) as err:
        pool.lookup_volume_by_name("sparse.img")
    assert err.value.code == ErrorCode.NO_STORAGE_VOL
    pool.destroy()
    with pytest.raises(pyvirt.Error) as err:
        pool.list_all_volumes()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "storage pool 'vols' is not active" in err.value.message


@needs_qemu_img
def test_pyvirsh_vol_create_as_with_a_backing_volume(root: Path, tmp_path: Path) -> None:
    def pyvirsh(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"storage:///embed?root={root}", *args],
                              check=False, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    (tmp_path / "pool.xml").write_text(_pool_xml("cli", tmp_path / "cli"))
    pyvirsh("pool-define", str(tmp_path / "pool.xml"))
    pyvirsh("pool-start", "cli", "--build")
    pyvirsh("vol-create-as", "cli", "base.qcow2", "8M", "--format", "qcow2")
    pyvirsh("vol-create-as", "cli", "top.qcow2", "16M", "--format", "qcow2", "--backing-vol", "base.qcow2")
    info = _qemu_img_info(tmp_path / "cli" / "top.qcow2")
    assert info["backing-filename"] == str(tmp_path / "cli" / "base.qcow2") and info["virtual-size"] == 16 << 20
    pyvirsh("vol-create-as", "cli", "meta.qcow2", "64M", "--format", "qcow2", "--prealloc-metadata")
    assert _qemu_img_info(tmp_path / "cli" / "meta.qcow2")["actual-size"] > _qemu_img_info(
        tmp_path / "cli" / "base.qcow2")["actual-size"]  # type: ignore[operator]  # fmt: skip
    details = pyvirsh("vol-list", "cli", "--details")
    assert "top.qcow2" in details and "16.00 MiB" in details


@needs_qemu_img
def test_qcow2_volumes_get_libvirts_qemu_img_options(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """The volume is created with libvirt's command line: compat 0.10 unless asked, cluster size and
    features passed on, and an encrypted volume refused rather than created in the clear."""
    images = tmp_path / "opts"
    pool = conn.define_storage_pool(_pool_xml("opts", images))
    pool.create(1)
    pool.create_volume("<volume><name>old.qcow2</name><capacity>1025</capacity><target><format type='qcow2'/>"
                       "</target></volume>")  # fmt: skip
    info = _qemu_img_info(images / "old.qcow2")
    assert info["format-specific"]["data"]["compat"] == "0.10"  # type: ignore[index]
    assert info["virtual-size"] == 2048  # the size is given in KiB, rounded up
    pool.create_volume("""<volume><name>new.qcow2</name><capacity>1048576</capacity><target>
<format type='qcow2'/><clusterSize unit='KiB'>128</clusterSize><features><lazy_refcounts/></features></target>
</volume>""")
    info = _qemu_img_info(images / "new.qcow2")
    data = info["format-specific"]["data"]  # type: ignore[index]
    assert (data["compat"], data["lazy-refcounts"], info["cluster-size"]) == ("1.1", True, 131072)
    # dumped as libvirt dumps them: a v3 image's compat and features, a v2 image's neither; the file's times
    new_xml = pool.lookup_volume_by_name("new.qcow2").xml_desc()
    validate(new_xml, "volume")
    assert "<compat>1.1</compat>\n    <features>\n      <lazy_refcounts/>\n    </features>" in new_xml
    old_xml = pool.lookup_volume_by_name("old.qcow2").xml_desc()
    assert "<compat>" not in old_xml and "<features" not in old_xml
    st = os.stat(images / "old.qcow2")
    mtime = etree.fromstring(old_xml.encode()).findtext("target/timestamps/mtime") or ""
    assert int(mtime.split(".")[0]) == st.st_mtime_ns // 10**9 and "<btime>0</btime>" in old_xml
    with pytest.raises(pyvirt.Error) as err:
        pool.create_volume("""<volume><name>secret.img</name><capacity>1048576</capacity><target>
<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption>
</target></volume>""")
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert not (images / "secret.img").exists()
