"""``virsh dump`` on real QEMU guests, as libvirt 9.0's qemuDomainCoreDumpWithFormat does it.

A user dumps a firmware-only guest (KVM where it works, else TCG): a
memory-only dump is an ELF core (or a kdump file) a debugger reads, a plain
dump is QEMU's migration stream; the guest is paused while it is dumped and
runs again after, unless ``--crash`` ends it or ``--reset`` restarts it. A
dump that fails leaves no file it created and the guest as it was. While a
dump into a slow reader (a FIFO) runs, ``domjobinfo`` shows its progress and
``domjobabort`` cancels it (or, memory-only, is refused as libvirt refuses it).
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import DomainEvent
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import ErrorCode
from pyvirt.events import Resumed, Stopped, Suspended
from pyvirt.flags import DomainCoreDumpFlags as Dump
from pyvirt.flags import DomainGetJobStatsFlags
from pyvirt.migration import JobType

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_cache import cached_bytes

GUEST = """<domain type='{t}'><name>{name}</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""
ELF, KDUMP_ZLIB, KDUMP_LZO, WIN_DMP = 0, 1, 2, 4  # virDomainCoreDumpFormat
OPERATION_DUMP = 8  # VIR_DOMAIN_JOB_OPERATION_DUMP


def _wait_for(seen: list[Any], last: Any) -> None:
    """Events reach the callbacks from the driver's event thread: wait for the last one expected."""
    deadline = time.monotonic() + 10
    while last not in seen and time.monotonic() < deadline:
        time.sleep(0.02)


def _elf_segments(path: Path) -> tuple[int, int, list[tuple[int, int]]]:
    """(e_type, e_machine, [(p_type, p_filesz)]) of a 64-bit little-endian ELF file."""
    with path.open("rb") as f:
        head = f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1, head[:16]  # ELFCLASS64, ELFDATA2LSB
        e_type, e_machine = struct.unpack_from("<HH", head, 16)
        e_phoff, e_phentsize, e_phnum = struct.unpack_from("<Q", head, 32)[0], *struct.unpack_from("<HH", head, 54)
        segments = []
        for i in range(e_phnum):
            f.seek(e_phoff + i * e_phentsize)
            p_type, _flags, _off, _vaddr, _paddr, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            segments.append((p_type, p_filesz))
    return e_type, e_machine, segments


@pytest.fixture
def guest(conn: pyvirt.Connection, virt_type: str) -> pyvirt.Domain:
    dom = conn.define_domain(GUEST.format(t=virt_type, name="dumped"))
    dom.create()
    return dom


def test_memory_only_dump_is_an_elf_core_and_the_guest_runs_on(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path
) -> None:
    seen: list[Any] = []
    conn.register_domain_event(lambda ev: seen.append((ev.event, ev.detail)))
    core = tmp_path / "guest.core"
    guest.core_dump_with_format(str(core), ELF, Dump.MEMORY_ONLY)
    e_type, e_machine, segments = _elf_segments(core)
    # ET_CORE; QEMU names the machine by the vCPU's mode: the firmware runs 32-bit (EM_386), a kernel EM_X86_64
    assert (e_type, e_machine in (3, 62)) == (4, True)
    assert any(p_type == 4 for p_type, _ in segments), segments  # PT_NOTE: the vCPUs' registers
    loaded = sum(size for p_type, size in segments if p_type == 1)  # PT_LOAD: the guest's RAM
    assert 64 << 20 <= loaded < 65 << 20, segments
    info = core.stat()  # made by the daemon (root), private to it, as libvirt makes it
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    # paused while QEMU wrote, running again after ("paused (dumping)" meanwhile)
    _wait_for(seen, (DomainEvent.RESUMED, Resumed.UNPAUSED))
    assert seen == [(DomainEvent.SUSPENDED, Suspended.PAUSED), (DomainEvent.RESUMED, Resumed.UNPAUSED)]
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)


def test_memory_only_formats_as_qemu_offers_them(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path, guest_monitor: Any
) -> None:
    offered = guest_monitor(guest).execute("query-dump-guest-memory-capability")["formats"]
    if "kdump-zlib" in offered:
        kdump = tmp_path / "guest.kdump"
        guest.core_dump_with_format(str(kdump), KDUMP_ZLIB, Dump.MEMORY_ONLY | Dump.LIVE)
        assert kdump.read_bytes()[:12] == b"makedumpfile"  # QEMU 7.2 writes kdump flattened
        assert kdump.stat().st_size < 16 << 20  # compressed: a firmware-only guest's RAM is mostly zeros
    if "kdump-lzo" not in offered:  # Debian's QEMU 7.2 is built without lzo
        target = tmp_path / "guest.lzo"
        with pytest.raises(pyvirt.Error) as err:
            guest.core_dump_with_format(str(target), KDUMP_LZO, Dump.MEMORY_ONLY)
        assert err.value.code == ErrorCode.INVALID_ARG
        assert err.value.message.endswith("unsupported dumpformat 'kdump-lzo' for this QEMU binary")
        assert not target.exists()
    # win-dmp needs a Windows guest's vmcoreinfo: QEMU fails the dump itself, after it began (its
    # DUMP_COMPLETED carries the reason), and the file it had begun goes
    target = tmp_path / "guest.dmp"
    with pytest.raises(pyvirt.Error) as err:
        guest.core_dump_with_format(str(target), WIN_DMP, Dump.MEMORY_ONLY)
    if "win-dmp" in offered:
        assert err.value.code == ErrorCode.OPERATION_FAILED
        assert err.value.message.startswith("operation failed: memory-only dump failed: win-dump: "), err.value
    else:
        assert err.value.code == ErrorCode.INVALID_ARG
    assert not target.exists()
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)


def test_raw_dump_streams_the_guest_pausing_it_unless_live(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path
) -> None:
    seen: list[Any] = []
    conn.register_domain_event(lambda ev: seen.append(("lifecycle", (ev.event, ev.detail))))
    conn.register_event("job-completed", lambda ev: seen.append(("job-completed", ev)))
    image = tmp_path / "raw"
    guest.core_dump(str(image))
    assert image.read_bytes()[:4] == b"QEVM"  # QEMU's migration stream, as libvirt writes it
    _wait_for(seen, ("lifecycle", (DomainEvent.RESUMED, Resumed.UNPAUSED)))
    assert [kind for kind, _ in seen] == ["lifecycle", "job-completed", "lifecycle"], seen
    (done,) = [ev for kind, ev in seen if kind == "job-completed"]
    stats = {p.field: p.value for p in done.params}
    assert stats["operation"] == OPERATION_DUMP and stats["memory_total"] > 0 and stats["memory_remaining"] == 0
    assert guest.job_stats(DomainGetJobStatsFlags.COMPLETED) == (JobType.COMPLETED, done.params)
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    # live: QEMU itself stops the guest at the end of its stream; it runs again after
    guest.core_dump(str(tmp_path / "live"), Dump.LIVE)
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    # a paused guest stays paused, with its reason
    guest.suspend()
    guest.core_dump(str(tmp_path / "paused"))
    assert guest.state() == (DomainState.PAUSED, PausedReason.USER)
    # only QEMU's own dump writes the other formats; the file the refusal created goes again, and an
    # existing file (another owner's) stays
    with pytest.raises(pyvirt.Error) as err:
        guest.core_dump_with_format(str(tmp_path / "kdump"), KDUMP_ZLIB, 0)
    assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED
    assert err.value.message.endswith("kdump-compressed format is only supported with memory-only dump")
    assert not (tmp_path / "kdump").exists()
    kept = tmp_path / "kept"
    kept.write_bytes(b"x")
    os.chown(kept, 65534, 65534)
    with pytest.raises(pyvirt.Error):
        guest.core_dump_with_format(str(kept), KDUMP_ZLIB, 0)
    assert kept.exists() and kept.stat().st_uid == 65534
    assert guest.state() == (DomainState.PAUSED, PausedReason.USER)


def test_crash_ends_the_guest_and_reset_restarts_it(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path
) -> None:
    seen: list[Any] = []
    conn.register_domain_event(lambda ev: seen.append((ev.event, ev.detail)))
    conn.register_event("reboot", lambda ev: seen.append("reboot"))
    guest.core_dump(str(tmp_path / "reset"), Dump.RESET | Dump.MEMORY_ONLY)
    _wait_for(seen, (DomainEvent.RESUMED, Resumed.UNPAUSED))
    assert "reboot" in seen, seen  # QEMU's system_reset, reported as libvirt reports it
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    seen.clear()
    guest.core_dump(str(tmp_path / "crash"), Dump.CRASH)
    _wait_for(seen, (DomainEvent.STOPPED, Stopped.CRASHED))
    assert seen == [(DomainEvent.SUSPENDED, Suspended.PAUSED), (DomainEvent.STOPPED, Stopped.CRASHED)], seen
    assert guest.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED)
    assert (tmp_path / "crash").stat().st_size > 0
    # a guest that is not running cannot be dumped
    with pytest.raises(pyvirt.Error) as err:
        guest.core_dump(str(tmp_path / "again"))
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID, "Requested operation is not valid: domain is not running"
    )  # fmt: skip
    assert not (tmp_path / "again").exists()


@pytest.fixture
def kernel_audit() -> Iterator[None]:
    """Kernel audit on for the test (it starts disabled here), before the driver looks whether it is."""
    import shutil

    from pyvirt.util.audit import read_audit_status

    if not shutil.which("auditctl"):
        pytest.skip("auditctl (Debian's auditd package) is not installed")
    try:
        before = read_audit_status().enabled
    except OSError as exc:
        pytest.skip(f"this kernel has no audit support: {exc}")
    if before == 2:
        pytest.skip("audit configuration is locked (enabled=2)")
    subprocess.run(["auditctl", "-e", "1"], check=True, stdout=subprocess.DEVNULL)
    yield
    subprocess.run(["auditctl", "-e", str(before)], check=True, stdout=subprocess.DEVNULL)


def test_crash_is_audited_as_libvirt_audits_it(
    kernel_audit: None, conn: pyvirt.Connection, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    """virDomainAuditStop(vm, "crashed") after a dump with ``--crash``."""
    from pyvirt.util.audit import AuditReader

    dom = conn.create_domain(GUEST.format(t=virt_type, name="audited-dump"))
    pid = int((qemu_root / "run" / "qemu" / "audited-dump.pid").read_text())
    with AuditReader() as reader:
        dom.core_dump(str(tmp_path / "core"), Dump.CRASH | Dump.MEMORY_ONLY)
        got = [text for rtype, text in reader.records(2.0) if rtype == 2500 and f"uuid={dom.uuid}" in text]
    assert any(f'op=stop reason=crashed vm="audited-dump" uuid={dom.uuid} vm-pid={pid}' in t for t in got), got


def test_unwritable_target_leaves_the_guest_as_it_was(
    conn: pyvirt.Connection, guest: pyvirt.Domain, tmp_path: Path
) -> None:
    seen: list[Any] = []
    conn.register_domain_event(lambda ev: seen.append((ev.event, ev.detail)))
    missing = tmp_path / "no-such-dir" / "core"
    # live: the guest is not even paused
    with pytest.raises(pyvirt.Error) as err:
        guest.core_dump(str(missing), Dump.MEMORY_ONLY | Dump.LIVE)
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    assert err.value.message == f"Failed to create file '{missing}': No such file or directory"
    assert guest.state() == (DomainState.RUNNING, RunningReason.BOOTED)
    # otherwise it is paused before the file is made, as libvirt does, and runs again
    with pytest.raises(pyvirt.Error) as err:
        guest.core_dump(str(missing))
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    _wait_for(seen, (DomainEvent.RESUMED, Resumed.UNPAUSED))
    assert seen == [(DomainEvent.SUSPENDED, Suspended.PAUSED), (DomainEvent.RESUMED, Resumed.UNPAUSED)]
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    assert not missing.parent.exists()


def test_bypass_cache_leaves_the_dump_out_of_the_page_cache(guest: pyvirt.Domain, tmp_path: Path) -> None:
    core = tmp_path / "core"
    guest.core_dump(str(core), Dump.BYPASS_CACHE | Dump.MEMORY_ONLY)
    assert _elf_segments(core)[0] == 4 and core.stat().st_size > 64 << 20  # ET_CORE, whole
    # only the last, partial block went through the cache (a plain dump leaves all 64 MiB there)
    assert cached_bytes(core) <= 1 << 20, (cached_bytes(core), core.stat().st_size)
    # QEMU's migration stream takes the same way
    guest.core_dump(str(tmp_path / "raw"), Dump.BYPASS_CACHE)
    assert (tmp_path / "raw").read_bytes()[:4] == b"QEVM"
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)


def _slow_reader(fifo: Path, first: threading.Event, go: threading.Event, got: list[int]) -> threading.Thread:
    """Read the dump from ``fifo``: one chunk, then nothing until ``go`` (QEMU blocks on the full pipe)."""

    def read() -> None:
        with fifo.open("rb") as f:
            got.append(len(f.read(4096)))
            first.set()
            go.wait(30)
            while chunk := f.read(1 << 20):
                got.append(len(chunk))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _dump_in_thread(call: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("memory_only", [True, False], ids=["memory-only", "raw"])
def test_jobinfo_and_abort_while_dumping_into_a_slow_reader(
    guest: pyvirt.Domain, tmp_path: Path, memory_only: bool
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    first, go, got = threading.Event(), threading.Event(), []
    reader = _slow_reader(fifo, first, go, got)
    flags = Dump.MEMORY_ONLY if memory_only else 0
    dumper, errors = _dump_in_thread(lambda: guest.core_dump(str(fifo), flags))
    try:
        assert first.wait(20), "QEMU wrote nothing"
        kind, params = guest.job_stats()
        stats = {p.field: p.value for p in params}
        assert kind == JobType.UNBOUNDED and stats["operation"] == OPERATION_DUMP, stats
        assert stats["memory_total"] >= 64 << 20 and stats["memory_remaining"] > 0, stats
        assert guest.state() == (DomainState.PAUSED, PausedReason.DUMP)
        if memory_only:
            with pytest.raises(pyvirt.Error) as err:
                guest.abort_job()
            assert err.value.code == ErrorCode.OPERATION_INVALID
            assert err.value.message.endswith("cannot abort memory-only dump")
        else:
            guest.abort_job()
    finally:
        go.set()
        dumper.join(30)
        reader.join(30)
    if memory_only:
        assert not errors, errors
        assert sum(got) > 64 << 20
    else:
        (error,) = errors
        assert isinstance(error, pyvirt.Error) and error.code == ErrorCode.OPERATION_ABORTED, error
        assert error.message.endswith("job 'domain core dump' canceled by client")
    assert fifo.exists()  # not ours to remove: it was there before
    assert guest.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)


def test_debian_virsh_dumps_through_pyvirtd(qemu_root: Path, tmp_path: Path, virt_type: str) -> None:
    from pyvirt.daemon.instance import PrivateDaemon

    (tmp_path / "g.xml").write_text(GUEST.format(t=virt_type, name="vd"))
    env = dict(os.environ, LC_ALL="C")
    with PrivateDaemon(qemu_root / "d") as daemon:
        uri = daemon.uri("qemu:///system")

        def virsh(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["virsh", "-c", uri, *argv],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                cwd=tmp_path,
                check=False,
            )

        assert virsh("create", "g.xml").returncode == 0
        # a relative name is the client's: the daemon writes where virsh runs
        done = virsh("dump", "vd", "vd.core", "--memory-only", "--format", "elf", "--verbose")
        assert done.returncode == 0 and "Domain 'vd' dumped to vd.core" in done.stdout, done
        assert _elf_segments(tmp_path / "vd.core")[0] == 4  # ET_CORE
        done = virsh("dump", "vd", "crashed", "--crash")
        assert done.returncode == 0, done.stderr
        done = virsh("domstate", "vd")  # transient: gone once it crashed
        assert done.returncode == 1 and "failed to get domain 'vd'" in done.stderr, done
