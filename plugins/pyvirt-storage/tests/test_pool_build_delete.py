"""pool-build and pool-delete of a dir pool on real directories, as libvirt's storage driver does them.

Build is virStorageBackendFileSystemBuild: parents made as needed, the
directory with the pool's mode, owner and group (0711 for a new directory
that names no mode; an existing one then keeps its mode), a directory that
already exists accepted. OVERWRITE/NO_OVERWRITE ask to format a device a dir
pool does not have, and libvirt refuses them (after the mkdir). Delete is
virStorageBackendDeleteLocal: ``rmdir`` and nothing more, so a directory
still holding volumes is refused with the kernel's words. Both only for an
inactive pool, both announced with a lifecycle event, both through pyvirtd
for Debian's virsh with virsh's lines.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.events import PoolEvent, PoolLifecycleEvent
from pyvirt.flags import StoragePoolBuildFlags, StoragePoolCreateFlags


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"storage:///embed?root={tmp_path / 'embed'}") as c:
        yield c


def _define(conn: pyvirt.Connection, path: Path, perms: str = "", name: str = "p") -> pyvirt.StoragePool:
    xml = f"<pool type='dir'><name>{name}</name><target><path>{path}</path>{perms}</target></pool>"
    return conn.define_storage_pool(xml)


def test_build_makes_the_directory_and_its_parents(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "images"
    pool = _define(conn, target)
    seen: list[PoolLifecycleEvent] = []
    conn.register_event("pool-lifecycle", seen.append)
    pool.build()
    assert target.is_dir() and stat.S_IMODE(target.stat().st_mode) == 0o711  # libvirt's default pool mode
    assert [(e.pool.name, e.event) for e in seen] == [("p", PoolEvent.CREATED)]
    assert not pool.is_active()  # built, not started
    pool.create()
    assert pool.is_active()


def test_build_applies_the_pools_permissions(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "owned"
    pool = _define(conn, target, "<permissions><mode>0750</mode><owner>123</owner><group>456</group></permissions>")
    pool.build()
    st = target.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 123, 456)


def test_building_again_is_allowed_and_keeps_an_unnamed_mode(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "there"
    target.mkdir()
    os.chmod(target, 0o755)
    (target / "keep.img").write_bytes(b"data")
    pool = _define(conn, target)
    pool.build()
    pool.build()
    # the pool names no mode and the directory exists: libvirt leaves its mode (and its files) alone
    assert stat.S_IMODE(target.stat().st_mode) == 0o755 and (target / "keep.img").read_bytes() == b"data"


@pytest.mark.parametrize("flag", [StoragePoolBuildFlags.OVERWRITE, StoragePoolBuildFlags.NO_OVERWRITE])
def test_overwrite_flags_have_no_device_to_format(conn: pyvirt.Connection, tmp_path: Path, flag: int) -> None:
    target = tmp_path / "fmt"
    pool = _define(conn, target)
    with pytest.raises(pyvirt.Error) as err:
        pool.build(int(flag))
    assert err.value.code == ErrorCode.OPERATION_INVALID
    assert err.value.message == "Requested operation is not valid: No source device specified when formatting pool 'p'"
    assert target.is_dir()  # libvirt made the directory before it looked for a device


def test_build_flags_checked_as_libvirt_checks_them(conn: pyvirt.Connection, tmp_path: Path) -> None:
    pool = _define(conn, tmp_path / "f")
    both = StoragePoolBuildFlags.OVERWRITE | StoragePoolBuildFlags.NO_OVERWRITE
    with pytest.raises(pyvirt.Error) as err:
        pool.build(int(both))
    assert err.value.code == ErrorCode.INVALID_ARG
    assert err.value.message == (
        "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' are mutually exclusive"
    )
    with pytest.raises(pyvirt.Error) as err:
        pool.build(int(StoragePoolBuildFlags.REPAIR))
    assert err.value.message == "unsupported flags (0x1) in function virStorageBackendFileSystemBuild"
    assert not (tmp_path / "f").exists()


def test_start_with_build_overwrite_hands_the_backend_build_flags(conn: pyvirt.Connection, tmp_path: Path) -> None:
    # storagePoolCreate turns WITH_BUILD_OVERWRITE into BUILD_OVERWRITE: the dir backend refuses it, as libvirt's
    pool = _define(conn, tmp_path / "s")
    with pytest.raises(pyvirt.Error, match="No source device specified when formatting pool 'p'"):
        pool.create(int(StoragePoolCreateFlags.WITH_BUILD_OVERWRITE))
    assert not pool.is_active()
    pool.create(int(StoragePoolCreateFlags.WITH_BUILD))
    assert pool.is_active()


def test_an_active_pool_is_neither_built_nor_deleted(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    pool = _define(conn, target)
    pool.create(int(StoragePoolCreateFlags.WITH_BUILD))
    with pytest.raises(pyvirt.Error) as err:
        pool.build()
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID, "Requested operation is not valid: storage pool 'p' is already active"
    )  # fmt: skip
    with pytest.raises(pyvirt.Error) as err:
        pool.delete()
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID, "Requested operation is not valid: storage pool 'p' is still active"
    )  # fmt: skip
    assert target.is_dir()


def test_delete_removes_the_empty_directory_and_keeps_the_pool(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "gone"
    pool = _define(conn, target)
    pool.build()
    seen: list[PoolLifecycleEvent] = []
    conn.register_event("pool-lifecycle", seen.append)
    pool.delete()
    assert not target.exists()
    assert [(e.pool.name, e.event) for e in seen] == [("p", PoolEvent.DELETED)]
    assert conn.lookup_storage_pool_by_name("p").is_persistent()  # the definition stays


def test_delete_refuses_a_directory_with_volumes(conn: pyvirt.Connection, tmp_path: Path) -> None:
    target = tmp_path / "full"
    pool = _define(conn, target)
    pool.build()
    (target / "disk.img").write_bytes(b"x")
    with pytest.raises(pyvirt.Error) as err:
        pool.delete()
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    assert err.value.message == f"failed to remove pool '{target}': Directory not empty"
    assert (target / "disk.img").read_bytes() == b"x"
    with pytest.raises(pyvirt.Error) as err:
        pool.delete(1)  # ZEROED: no local backend overwrites data
    assert err.value.message == "unsupported flags (0x1) in function virStorageBackendDeleteLocal"


def test_delete_of_a_missing_directory_says_so(conn: pyvirt.Connection, tmp_path: Path) -> None:
    pool = _define(conn, tmp_path / "never")
    with pytest.raises(pyvirt.Error) as err:
        pool.delete()
    assert err.value.message == f"failed to remove pool '{tmp_path / 'never'}': No such file or directory"


@pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")
def test_debian_virsh_builds_and_deletes_through_pyvirtd(tmp_path: Path) -> None:
    target = tmp_path / "viaDaemon"
    xml = tmp_path / "pool.xml"
    xml.write_text(f"<pool type='dir'><name>d1</name><target><path>{target}</path>"
                   "<permissions><mode>0700</mode></permissions></target></pool>")  # fmt: skip
    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("storage:///system")

        def run(client: str, command: str) -> tuple[str, str, int]:
            env = dict(os.environ, LC_ALL="C")
            env.pop("LIBVIRT_DEFAULT_URI", None)
            p = subprocess.run([client, "-c", uri, command], capture_output=True, text=True, env=env, timeout=60,
                               check=False)  # fmt: skip
            return p.stdout, p.stderr, p.returncode

        assert run("virsh", f"pool-define {xml}")[2] == 0
        assert run("virsh", "pool-build d1") == ("Pool d1 built\n\n", "", 0)
        assert target.is_dir() and stat.S_IMODE(target.stat().st_mode) == 0o700
        (target / "v.img").write_bytes(b"")
        refused = run("virsh", "pool-delete d1")
        assert refused == ("\n", f"error: Failed to delete pool d1\nerror: failed to remove pool '{target}': "
                                 "Directory not empty\n", 1)  # fmt: skip
        assert run(pyvirsh, "pool-delete d1") == refused  # pyvirsh through the daemon says the same
        (target / "v.img").unlink()
        assert run("virsh", "pool-delete d1") == ("Pool d1 deleted\n\n", "", 0)
        assert not target.exists()
        assert run(pyvirsh, "pool-build d1") == ("Pool d1 built\n\n", "", 0)
        active = run("virsh", "pool-start d1; pool-delete d1")
        assert active[1] == (
            "error: Failed to delete pool d1\nerror: Requested operation is not valid: storage pool 'd1' is still active\n"
        )
        assert run(pyvirsh, "pool-delete d1")[1:] == active[1:]


# ---------------------------------------------------------------- against libvirt 9.0's own storage driver
LIBVIRTD = "/usr/sbin/libvirtd"
LIBVIRT_STORAGE = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_storage.so"
SCRIPTS = (
    "pool-define {w}/p.xml; pool-build e4; pool-build e4 --overwrite; pool-build e4 --overwrite --no-overwrite; "
    "pool-start e4; pool-delete e4; pool-build e4; vol-create-as e4 v 1M; pool-destroy e4; pool-delete e4",
    "pool-start e4; vol-delete v --pool e4; pool-destroy e4; pool-delete e4; pool-delete e4; pool-undefine e4",
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory both root (pyvirsh) and ``nobody`` (a session libvirtd) reach, so messages name the same paths."""
    import pwd
    import tempfile

    missing = [p for p in (LIBVIRTD, LIBVIRT_STORAGE) if not os.path.exists(p)]
    if missing or os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("virsh"):
        pytest.skip(f"needs root, runuser, virsh and Debian's libvirtd with its storage driver (missing: {missing})")
    work = Path(tempfile.mkdtemp(prefix="pyvirt-pool-build-", dir="/tmp"))
    nobody = pwd.getpwnam("nobody")
    try:
        os.chmod(work, 0o755)
        for sub in ("home", "run", "drivers"):
            (work / sub).mkdir(mode=0o700)
            os.chown(work / sub, nobody.pw_uid, nobody.pw_gid)
        os.chown(work, nobody.pw_uid, nobody.pw_gid)  # the pools' parents are made by the daemon's user
        (work / "drivers" / "libvirt_driver_storage.so").symlink_to(LIBVIRT_STORAGE)  # the storage driver alone
        yield work
    finally:
        _stop_session_libvirtd(work / "run" / "libvirt" / "libvirtd.pid")
        shutil.rmtree(work, ignore_errors=True)


def _stop_session_libvirtd(pidfile: Path) -> None:
    """The session libvirtd virsh started for the test (it would linger for its idle timeout): by its pid file."""
    import signal
    import time

    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":  # gone; PID 1 reaps it in its own time
            return
        time.sleep(0.1)


def test_pyvirsh_says_what_libvirts_storage_driver_says(shared_dir: Path) -> None:
    """Both scripts through libvirt 9.0's storage driver (``storage:///session`` of a libvirtd run as nobody) and
    through pyvirt's (an embedded root), on the same paths: the same lines, the same directory in between."""
    w = shared_dir
    (w / "p.xml").write_text(f"<pool type='dir'><name>e4</name><target><path>{w}/x/y/pooldir</path>"
                             "<permissions><mode>0750</mode></permissions></target></pool>")  # fmt: skip
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    libvirt_env = dict(env, HOME=f"{w}/home", XDG_RUNTIME_DIR=f"{w}/run", XDG_CONFIG_HOME=f"{w}/home/.config",
                       XDG_CACHE_HOME=f"{w}/home/.cache", LIBVIRT_DRIVER_DIR=f"{w}/drivers")  # fmt: skip

    def run(argv: list[str], script: str, run_env: dict[str, str]) -> tuple[str, str, int]:
        p = subprocess.run([*argv, script.format(w=w)], capture_output=True, text=True, env=run_env, timeout=120,
                           check=False)  # fmt: skip
        return p.stdout, p.stderr, p.returncode

    def both(argv: list[str], run_env: dict[str, str]) -> list[tuple[str, str, int] | tuple[int, list[str]]]:
        first = run(argv, SCRIPTS[0], run_env)
        pooldir = w / "x" / "y" / "pooldir"
        between = (stat.S_IMODE(pooldir.stat().st_mode), sorted(os.listdir(pooldir)))
        second = run(argv, SCRIPTS[1], run_env)
        assert not pooldir.exists()
        shutil.rmtree(w / "x")
        return [first, between, second]

    libvirt = both(["runuser", "-u", "nobody", "--", "virsh", "-c", "storage:///session"], libvirt_env)
    assert libvirt[1] == (0o750, ["v"]), "libvirt's own run did not go as expected"
    pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
    assert both([pyvirsh, "-c", f"storage:///embed?root={w}/embed"], env) == libvirt
