"""Saving a guest past the host's page cache, and at full speed whatever the guest's migration limit.

A user saves a guest with ``--bypass-cache`` (``virsh save``, ``managedsave``)
so that its memory does not push the host's cached data out, and restores it
(``virsh restore --bypass-cache``, ``virsh start --bypass-cache`` from a
managed save) the same way: as libvirt 9.0 does through its iohelper, the
image never enters the page cache (mincore(2) shows it). A save or dump
runs at libvirt's unlimited bandwidth even when ``migrate-setspeed`` set a low
one for real migrations, and that recorded limit is QEMU's again once the dump
is over, also when the dump was cancelled (libvirt's qemuMigrationSrcToFile).

The guest's RAM gets 32 MiB of random bytes (QEMU's generic ``loader``
device), so that its migration stream is that large: an idle firmware
guest's memory is zeros, which QEMU's stream hardly carries.
"""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.domain_state import DomainState, RunningReason
from pyvirt.errors import ErrorCode
from pyvirt.flags import DomainCreateFlags, DomainSaveRestoreFlags

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_cache import cached_bytes

_BLOB = 32 << 20
GUEST = """<domain type='{t}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>{name}</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/></devices>
<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='loader,file={blob},addr=0x1000000'/></qemu:commandline>
</domain>"""


def _drop_from_cache(path: Path) -> None:
    """Out of the page cache (the image is synced, so its pages are clean and go at once)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    assert cached_bytes(path) == 0


@pytest.fixture
def blob(qemu_root: Path) -> Iterator[Path]:
    """32 MiB of random bytes that QEMU's user can read (not under root's private pytest directory): what the
    guest's RAM holds from 16 MiB on."""
    fd, name = tempfile.mkstemp(prefix="pyvirt-test-blob-", dir="/var/tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(_BLOB))
    path = Path(name)
    path.chmod(0o644)
    yield path
    path.unlink()


@pytest.fixture
def guest(conn: pyvirt.Connection, virt_type: str, blob: Path) -> pyvirt.Domain:
    dom = conn.define_domain(GUEST.format(t=virt_type, name="bypassed", blob=blob))
    dom.create()
    return dom


def test_save_and_restore_with_bypass_cache_leave_the_image_out_of_the_page_cache(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path
) -> None:
    image = tmp_path / "guest.save"
    guest.save(str(image), flags=DomainSaveRestoreFlags.BYPASS_CACHE)
    assert image.stat().st_size > _BLOB
    # only the stream's last, partial block and the page of the completed magic went through the cache
    assert cached_bytes(image) <= (1 << 20) + mmap.PAGESIZE, (cached_bytes(image), image.stat().st_size)
    _drop_from_cache(image)
    conn.restore_domain(str(image), flags=DomainSaveRestoreFlags.BYPASS_CACHE)
    assert cached_bytes(image) == 0  # header and stream were read with O_DIRECT
    assert guest.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    # the guest's memory came back whole: a plain save of it is as large again
    plain = tmp_path / "plain.save"
    guest.save(str(plain))
    assert abs(plain.stat().st_size - image.stat().st_size) < 1 << 20
    assert cached_bytes(plain) > _BLOB  # (what the page cache holds without --bypass-cache)


def test_managed_save_and_start_with_bypass_cache(
    conn: pyvirt.Connection, guest: pyvirt.Domain, qemu_root: Path
) -> None:
    guest.managed_save(DomainSaveRestoreFlags.BYPASS_CACHE)
    assert guest.state()[0] == DomainState.SHUTOFF and guest.has_managed_save()
    (image,) = (qemu_root / "lib" / "qemu" / "save").glob("bypassed.save")
    assert image.stat().st_size > _BLOB
    assert cached_bytes(image) <= (1 << 20) + mmap.PAGESIZE, cached_bytes(image)
    _drop_from_cache(image)
    fd = os.open(image, os.O_RDONLY)  # (mincore needs the file; the start removes its name)
    try:
        guest.create(DomainCreateFlags.START_BYPASS_CACHE)
        assert not image.exists()
        assert guest.state() == (DomainState.RUNNING, RunningReason.RESTORED)
        probe = Path(f"/proc/self/fd/{fd}")
        assert cached_bytes(probe) == 0
    finally:
        os.close(fd)


def _max_bandwidth(monitor: Any) -> int:
    return int(monitor.execute("query-migrate-parameters")["max-bandwidth"])


def test_save_and_dump_run_unthrottled_and_keep_the_guests_migration_speed(
    guest: pyvirt.Domain, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    slow = 1 << 20  # migrate-setspeed's 1 MiB/s: QEMU would take over 30 s for the guest's 32 MiB
    monitor = guest_monitor(guest)
    guest.migrate_set_max_speed(1)
    assert _max_bandwidth(monitor) == slow  # the recorded speed is QEMU's
    began = time.monotonic()
    guest.core_dump(str(tmp_path / "raw"))  # the guest stays: its speed can be read afterwards
    assert time.monotonic() - began < 30
    assert (tmp_path / "raw").stat().st_size > _BLOB
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    assert _max_bandwidth(monitor) == slow

    # a dump that is cancelled (its reader stalls, domjobabort) gives the speed back too
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    first, go = threading.Event(), threading.Event()

    def read() -> None:
        with fifo.open("rb") as f:
            f.read(4096)
            first.set()
            go.wait(30)
            while f.read(1 << 20):
                pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    errors: list[BaseException] = []

    def dump() -> None:
        try:
            guest.core_dump(str(fifo))
        except BaseException as exc:
            errors.append(exc)

    dumper = threading.Thread(target=dump, daemon=True)
    dumper.start()
    try:
        assert first.wait(20), "QEMU wrote nothing"
        assert _max_bandwidth(monitor) > 1 << 40  # lifted while the dump runs
        assert guest.migrate_get_max_speed() == (2**63 - 1) >> 20  # libvirt's record reads its maximum meanwhile
        guest.abort_job()
    finally:
        go.set()
        dumper.join(30)
        reader.join(30)
    (error,) = errors
    assert isinstance(error, pyvirt.Error) and error.code == ErrorCode.OPERATION_ABORTED, error
    assert _max_bandwidth(monitor) == slow
    assert guest.migrate_get_max_speed() == 1

    began = time.monotonic()
    guest.save(str(tmp_path / "guest.save"))
    assert time.monotonic() - began < 30
    assert (tmp_path / "guest.save").stat().st_size > _BLOB


@pytest.fixture
def auto_start_conf(request: pytest.FixtureRequest, qemu_root: Path) -> bool:
    """qemu.conf's ``auto_start_bypass_cache`` (the test's parameter), written before the driver reads it."""
    on = bool(request.param)
    (qemu_root / "etc").mkdir(parents=True, exist_ok=True)
    (qemu_root / "etc" / "qemu.conf").write_text(f"auto_start_bypass_cache = {int(on)}\n")
    return on


@pytest.mark.parametrize("auto_start_conf", [True, False], indirect=True, ids=["bypass", "cached"])
def test_autostart_restores_the_managed_save_past_the_cache_as_qemu_conf_asks(
    auto_start_conf: bool, conn: pyvirt.Connection, guest: pyvirt.Domain, qemu_root: Path
) -> None:
    """A host boots with a guest marked autostart that was managed-saved: pyvirtd's first start restores it,
    through the page cache unless qemu.conf says ``auto_start_bypass_cache = 1`` (libvirt's
    qemuAutostartDomain adds VIR_DOMAIN_START_BYPASS_CACHE then)."""
    from pyvirt_qemu.driver import QemuDriver

    guest.autostart = True
    guest.managed_save()
    (image,) = (qemu_root / "lib" / "qemu" / "save").glob("bypassed.save")
    _drop_from_cache(image)
    fd = os.open(image, os.O_RDONLY)  # (mincore needs the file; the start removes its name)
    driver = QemuDriver()
    try:
        assert driver.state_initialize(privileged=True, root=str(qemu_root))
        assert guest.state() == (DomainState.RUNNING, RunningReason.RESTORED)
        assert not image.exists()
        cached = cached_bytes(Path(f"/proc/self/fd/{fd}"))
        if auto_start_conf:
            assert cached == 0, cached
        else:
            assert cached > _BLOB, cached  # (what the page cache holds without the setting)
    finally:
        driver.state_cleanup()
        os.close(fd)
