"""Live migration between two pyvirtd hosts (two ``--root`` instances on this machine), as users run it.

A TCG Linux guest that counts on its serial console moves from host A to
host B with ``pyvirsh migrate --live`` and keeps counting: same boot, same
uptime, no gap in its numbers. Debian's virsh drives the same migration,
both with the client running the phases and peer to peer. Progress shows in
``domjobinfo`` (pyvirsh's and virsh's) while the job runs, ``domjobabort``
cancels it, ``--timeout`` pauses the guest so the last pass can end, and
``--copy-storage-all`` copies a qcow2 disk over NBD.

Every failure leaves the guest running on the source (or gone, where it was
its QEMU that died) and nothing on the destination: no domain, no QEMU, no
status file. The failures: a name clash on the destination, the same host,
a destination whose QEMU cannot run the guest, a disk on host-local storage
(libvirt's "unsafe" rule), an abort, the source's QEMU killed, the
destination's daemon killed, and the client itself gone between phases.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pyvirt
from pyvirt import DomainState
from pyvirt.errors import ErrorCode
from pyvirt.migration import MigrateFlag, MigrateParam
from pyvirt.plugin.typed_params import TypedParam, TypedParamType


def _load_hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hosts = _load_hosts()
TwoHosts, qemu_pids, slow_guest_xml, wait_for = (
    _hosts.TwoHosts,
    _hosts.qemu_pids,
    _hosts.slow_guest_xml,
    _hosts.wait_for,
)
FIRMWARE_GUEST, counter_guest, ticks, _migrating = (
    _hosts.FIRMWARE_GUEST, _hosts.counter_guest, _hosts.ticks, _hosts.migrating,
)  # fmt: skip
two_hosts = _hosts.two_hosts  # the fixture
guest_linux = _hosts.guest_linux  # the fixture: Debian's kernel and busybox, fetched once

LOOPBACK = [TypedParam(MigrateParam.LISTEN_ADDRESS, TypedParamType.STRING, "127.0.0.1")]


def test_linux_guest_migrates_live_and_keeps_counting(
    two_hosts: TwoHosts,
    guest_linux: Path,
    tmp_path: Path,
) -> None:
    a, b = two_hosts.a, two_hosts.b
    console = tmp_path / "console.log"
    (tmp_path / "counter.xml").write_text(counter_guest(guest_linux, tmp_path, console))
    assert a.pyvirsh("define", str(tmp_path / "counter.xml")).returncode == 0
    assert a.pyvirsh("start", "counter").returncode == 0
    wait_for(lambda: len(ticks(console)) >= 20, 180, "the guest counting on its console")
    before = ticks(console)[-1]
    [source_pid] = qemu_pids(a.root)
    run = a.pyvirsh("migrate", "--live", "--verbose", "--persistent", "--undefinesource",
                    "--listen-address", "127.0.0.1", "counter", b.uri)  # fmt: skip
    assert run.returncode == 0, run.stderr + a.daemon.log() + b.daemon.log()
    assert run.stderr.endswith("Migration: [100 %]"), run.stderr  # virsh's progress line, on stderr
    # on B it runs, migrated; A has neither the guest nor its QEMU; B's QEMU is a new process
    assert b.pyvirsh("domstate", "--reason", "counter").stdout.strip() == "running (migrated)"
    assert a.pyvirsh("list", "--all", "--name").stdout.strip() == ""
    assert qemu_pids(a.root) == [] and a.status_files() == []
    [dest_pid] = qemu_pids(b.root)
    assert dest_pid != source_pid
    assert (b.root / "etc" / "qemu" / "counter.xml").exists()  # --persistent defined it there
    # the same guest keeps counting: one boot, every number once and in order, its uptime going on
    wait_for(lambda: ticks(console)[-1][0] >= before[0] + 20, 120, "the guest counting on after the migration")
    log = console.read_text(errors="replace")
    assert log.count("PYVIRT-BOOT") == 1, "the guest booted again"
    numbers = [n for n, _ in ticks(console)]
    assert numbers == list(range(len(numbers))), "the counter restarted or skipped"
    uptimes = [up for _, up in ticks(console)]
    assert uptimes == sorted(uptimes) and uptimes[-1] > before[1]
    assert b.pyvirsh("destroy", "counter").returncode == 0


def test_virsh_drives_the_migration_and_peer_to_peer(two_hosts: TwoHosts, virt_type: str, tmp_path: Path) -> None:
    """Debian's virsh, unchanged, against two pyvirtd: the client-driven phases, then --p2p back."""
    virsh = shutil.which("virsh")
    if virsh is None:
        pytest.skip("Debian's virsh (libvirt-clients) is not installed")
    a, b = two_hosts.a, two_hosts.b
    with pyvirt.open(a.uri) as ca:
        ca.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="fw")).create()

    def virsh_run(uri: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([virsh, "-c", uri, *argv], capture_output=True, text=True, timeout=120, check=False)

    # libvirt's migration events on the source: one migration-iteration per pass over the guest's memory (QEMU's
    # MIGRATION_PASS), then job-completed with the statistics, after the guest stopped there
    watcher = pyvirt.open(a.uri)
    seen: dict[str, list[Any]] = {"migration-iteration": [], "job-completed": []}
    for kind, got in seen.items():
        watcher.register_event(kind, got.append)
    run = virsh_run(a.uri, "migrate", "--live", "--verbose", "--migrateuri", "tcp://127.0.0.1", "fw", b.uri)
    assert run.returncode == 0, run.stderr + b.daemon.log()
    assert "Migration: [100 %]" in run.stderr
    deadline = time.monotonic() + 10
    while not seen["job-completed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.close()
    iterations = [ev.iteration for ev in seen["migration-iteration"]]
    assert iterations and iterations == list(range(1, len(iterations) + 1)), iterations
    (done,) = seen["job-completed"]
    stats = {p.field: p.value for p in done.params}
    assert done.domain.name == "fw" and stats["operation"] == 5  # VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT
    assert stats["memory_total"] > 0 and "time_elapsed" in stats, stats
    assert virsh_run(b.uri, "domstate", "--reason", "fw").stdout.strip() == "running (migrated)"
    assert virsh_run(a.uri, "domstate", "--reason", "fw").stdout.strip() == "shut off (migrated)"
    # peer to peer: B's daemon opens A itself and runs the phases; virsh only talks to B
    run = virsh_run(b.uri, "migrate", "--live", "--p2p", "--migrateuri", "tcp://127.0.0.1", "fw", a.uri)
    assert run.returncode == 0, run.stderr + a.daemon.log() + b.daemon.log()
    assert virsh_run(a.uri, "domstate", "--reason", "fw").stdout.strip() == "running (migrated)"
    assert virsh_run(b.uri, "list", "--all", "--name").stdout.strip() == ""  # it was transient there
    assert qemu_pids(b.root) == [] and b.status_files() == []
    assert len(qemu_pids(a.root)) == 1


def _start_slow(two_hosts: TwoHosts, virt_type: str, tmp_path: Path) -> tuple[pyvirt.Connection, pyvirt.Domain]:
    conn = pyvirt.open(two_hosts.a.uri)
    dom = conn.define_domain(slow_guest_xml(virt_type, "slow", tmp_path / "nvdimm.img"))
    dom.create()
    return conn, dom


def _migrate_in_background(
    dom: pyvirt.Domain, dest: pyvirt.Connection, mib_per_s: int = 8
) -> tuple[threading.Thread, list]:
    """A live migration capped at 8 MiB/s: the guest's 64 MiB of random bytes take about 8 s."""
    outcome: list[object] = []
    params = [*LOOPBACK, TypedParam(MigrateParam.BANDWIDTH, TypedParamType.ULLONG, mib_per_s)]

    def run() -> None:
        try:
            outcome.append(dom.migrate3(dest, params, MigrateFlag.LIVE))
        except pyvirt.Error as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _destination_clean(two_hosts: TwoHosts) -> None:
    b = two_hosts.b
    assert b.pyvirsh("list", "--all", "--name").stdout.strip() == ""
    assert qemu_pids(b.root) == [], "a QEMU was left on the destination"
    assert b.status_files() == []


def test_domjobinfo_shows_progress_and_domjobabort_cancels(two_hosts: TwoHosts, virt_type: str, tmp_path: Path) -> None:
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn, pyvirt.open(two_hosts.b.uri) as dest:
        # 2 MiB/s: about 30 s, so that two command-line clients on a loaded machine still find it running
        thread, outcome = _migrate_in_background(dom, dest, mib_per_s=2)
        wait_for(lambda: _migrating(dom), 30, "the migration under way")
        info = two_hosts.a.pyvirsh("domjobinfo", "slow")
        assert info.returncode == 0, info.stderr
        lines = dict(line.split(":", 1) for line in info.stdout.splitlines() if ":" in line)
        assert lines["Job type"].strip() == "Bounded"
        assert lines["Operation"].strip() == "Outgoing migration"
        for row in ("Data processed", "Data remaining", "Data total", "Memory processed", "Memory total"):
            assert row in lines, info.stdout
        assert float(lines["Data total"].split()[0]) > 0
        virsh = shutil.which("virsh")
        if virsh is not None:  # Debian's virsh reads the same job through virDomainGetJobStats
            run = subprocess.run([virsh, "-c", two_hosts.a.uri, "domjobinfo", "slow"], capture_output=True,
                                 text=True, timeout=60, check=False)  # fmt: skip
            assert run.returncode == 0, run.stderr
            assert "Outgoing migration" in run.stdout and "Data remaining:" in run.stdout, run.stdout
        abort = two_hosts.a.pyvirsh("domjobabort", "slow")
        assert abort.returncode == 0, abort.stderr
        thread.join(60)
        [error] = outcome
        assert isinstance(error, pyvirt.Error) and error.code == ErrorCode.OPERATION_ABORTED, error
        assert "migration out job: canceled by client" in str(error)
        # still running, and as libvirt says it: the migration never paused it, so "booted" as before
        assert dom.state() == (DomainState.RUNNING, 1)
        _destination_clean(two_hosts)
        assert dom.job_stats() == (0, [])  # the job is over: a new one may begin
        dom.destroy()


def test_name_clash_on_the_destination_is_refused(two_hosts: TwoHosts, virt_type: str) -> None:
    with pyvirt.open(two_hosts.a.uri) as ca, pyvirt.open(two_hosts.b.uri) as cb:
        dom = ca.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="twin"))
        dom.create()
        other = cb.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="twin"))  # another uuid, same name
        with pytest.raises(pyvirt.Error) as err:
            dom.migrate3(cb, LOOPBACK, MigrateFlag.LIVE)
        assert err.value.code == ErrorCode.OPERATION_FAILED
        assert str(err.value) == f"operation failed: domain 'twin' already exists with uuid {other.uuid}"
        assert dom.state()[0] == DomainState.RUNNING
        assert [d.uuid for d in cb.list_all_domains()] == [other.uuid]
        assert qemu_pids(two_hosts.b.root) == []
        dom.destroy()


def test_a_destination_xml_that_changes_the_guest_is_refused_before_anything_moves(
    two_hosts: TwoHosts, virt_type: str
) -> None:
    """libvirt's Begin checks a caller's destination XML against the guest (virDomainDefCheckABIStability on
    both migratable copies) and refuses it with that check's words; the guest runs on here, B has nothing."""
    with pyvirt.open(two_hosts.a.uri) as ca, pyvirt.open(two_hosts.b.uri) as cb:
        dom = ca.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="abi"))
        dom.create()
        live = dom.xml_desc(1)  # the live XML as a client reads it: aliases, ids, the PS/2 keyboard
        for changed, words in (
            (re.sub(r"<memory unit='KiB'>\d+", "<memory unit='KiB'>131072", live.replace('"', "'")),
             "Target domain max memory 131072 does not match source"),
            (live.replace("<name>abi</name>", "<name>other</name>"),
             "Target domain name 'other' does not match source 'abi'"),
        ):  # fmt: skip
            assert changed != live
            params = [*LOOPBACK, TypedParam(MigrateParam.DEST_XML, TypedParamType.STRING, changed)]
            with pytest.raises(pyvirt.Error) as err:
                dom.migrate3(cb, params, MigrateFlag.LIVE)
            assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and words in str(err.value), str(err.value)
            assert dom.state()[0] == DomainState.RUNNING and cb.list_all_domains() == []
        assert qemu_pids(two_hosts.b.root) == []
        dom.destroy()


def test_same_host_is_refused(two_hosts: TwoHosts, virt_type: str) -> None:
    with pyvirt.open(two_hosts.a.uri) as ca, pyvirt.open(two_hosts.a.uri) as again:
        dom = ca.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="here"))
        dom.create()
        with pytest.raises(pyvirt.Error, match="Attempt to migrate guest to the same host"):
            dom.migrate(again, MigrateFlag.LIVE, uri="tcp://127.0.0.1")  # virDomainMigrate's own signature
        assert dom.state()[0] == DomainState.RUNNING
        dom.destroy()


def test_source_qemu_killed_mid_migration_leaves_the_destination_clean(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn, pyvirt.open(two_hosts.b.uri) as dest:
        thread, outcome = _migrate_in_background(dom, dest)
        wait_for(lambda: _migrating(dom), 30, "the migration under way")
        [pid] = qemu_pids(two_hosts.a.root)
        os.kill(pid, signal.SIGKILL)  # (QEMU is daemonized: not our child, and its pid cannot be reused yet)
        thread.join(60)
        [error] = outcome
        assert isinstance(error, pyvirt.Error), error
        wait_for(lambda: dom.state()[0] == DomainState.SHUTOFF, 30, "the source guest reported gone")
        _destination_clean(two_hosts)


def test_destination_daemon_killed_mid_migration_keeps_the_source_running(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn:
        dest = pyvirt.open(two_hosts.b.uri)
        thread, outcome = _migrate_in_background(dom, dest)
        wait_for(lambda: _migrating(dom), 30, "the migration under way")
        two_hosts.b.daemon.kill()
        thread.join(60)
        [error] = outcome
        assert isinstance(error, pyvirt.Error), error
        assert dom.state()[0] == DomainState.RUNNING, dom.state()
        with contextlib.suppress(pyvirt.Error):
            dest.close()  # its daemon is gone
        # the next daemon on B finds the half-arrived guest as an abandoned start and removes it
        two_hosts.b.restart()
        wait_for(lambda: qemu_pids(two_hosts.b.root) == [], 30, "the incoming QEMU gone")
        _destination_clean(two_hosts)
        # and the guest can still migrate
        with pyvirt.open(two_hosts.b.uri) as dest2:
            moved = dom.migrate3(dest2, LOOPBACK, MigrateFlag.LIVE)
            assert moved.state() == (DomainState.RUNNING, 2)
            moved.destroy()


def test_pyvirsh_peer_to_peer_with_a_timeout_suspends_the_guest_and_completes(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    """--p2p: A's daemon drives B itself; --timeout: pyvirsh pauses the guest so that the last pass ends."""
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn:
        run = two_hosts.a.pyvirsh("migrate", "--live", "--p2p", "--verbose", "--timeout", "1", "--bandwidth", "8",
                                  "--listen-address", "127.0.0.1", "slow", two_hosts.b.uri)  # fmt: skip
        assert run.returncode == 0, run.stderr + two_hosts.a.daemon.log() + two_hosts.b.daemon.log()
        # (each line starts with a carriage return, which text mode reads as a newline)
        shown = [int(p) for p in re.findall(r"Migration: \[ *(\d+) %\]", run.stderr)]
        assert shown[-1] == 100 and any(p < 100 for p in shown[:-1]), run.stderr  # progress, then the end
        assert dom.state() == (DomainState.SHUTOFF, 4)  # shut off (migrated)
        assert two_hosts.b.pyvirsh("domstate", "--reason", "slow").stdout.strip() == "running (migrated)"
        # the completed job's figures stay on the source for domjobinfo --completed
        done = two_hosts.a.pyvirsh("domjobinfo", "--completed", "slow")
        assert "Job type:         Completed" in done.stdout and "Total downtime:" in done.stdout, done.stdout
        two_hosts.b.pyvirsh("destroy", "slow")


def test_a_disk_on_host_local_storage_is_refused_unless_unsafe(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    """libvirt's rule: a writable disk on a local filesystem (here /tmp's) is not the destination's to see.
    ``--unsafe`` says the path is shared after all (it is: both hosts live on this machine)."""
    disk = tmp_path / "local.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True, timeout=60)
    xml = FIRMWARE_GUEST.format(virt=virt_type, name="disky").replace(
        "<devices>",
        f"<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>"
        "<target dev='vda' bus='virtio'/></disk>",
    )
    a, b = two_hosts.a, two_hosts.b
    (tmp_path / "disky.xml").write_text(xml)
    assert a.pyvirsh("define", str(tmp_path / "disky.xml")).returncode == 0
    assert a.pyvirsh("start", "disky").returncode == 0
    refused = a.pyvirsh("migrate", "--live", "--listen-address", "127.0.0.1", "disky", b.uri)
    assert refused.returncode == 1
    assert refused.stderr == "error: Unsafe migration: Migration without shared storage is unsafe\n"
    assert a.pyvirsh("domstate", "disky").stdout.strip() == "running"
    _destination_clean(two_hosts)
    moved = a.pyvirsh("migrate", "--live", "--unsafe", "--listen-address", "127.0.0.1", "disky", b.uri)
    assert moved.returncode == 0, moved.stderr
    assert b.pyvirsh("domstate", "--reason", "disky").stdout.strip() == "running (migrated)"
    assert b.pyvirsh("destroy", "disky").returncode == 0


def test_copy_storage_all_copies_a_qcow2_disk_over_nbd(two_hosts: TwoHosts, virt_type: str, tmp_path: Path) -> None:
    """--copy-storage-all: the destination's own (empty) image receives the source's data through NBD."""
    src_img, dst_img = tmp_path / "a-disk.qcow2", tmp_path / "b-disk.qcow2"
    for img in (src_img, dst_img):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "32M"], check=True, timeout=60)
    written = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 2M", str(src_img)],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert written.returncode == 0, written.stderr
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{src_img}'/>"
            "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    with pyvirt.open(two_hosts.a.uri) as ca, pyvirt.open(two_hosts.b.uri) as cb:
        dom = ca.define_domain(
            FIRMWARE_GUEST.format(virt=virt_type, name="copy").replace("<devices>", "<devices>" + disk)
        )
        dom.create()
        target_xml = dom.xml_desc(1).replace(str(src_img), str(dst_img))  # host B keeps the disk elsewhere
        params = [*LOOPBACK, TypedParam(MigrateParam.DEST_XML, TypedParamType.STRING, target_xml)]
        moved = dom.migrate3(cb, params, MigrateFlag.LIVE | MigrateFlag.NON_SHARED_DISK)
        assert moved.state() == (DomainState.RUNNING, 2)
        assert str(dst_img) in moved.xml_desc()
        completed = dict((p.field, p.value) for p in dom.job_stats(1)[1])
        moved.destroy()
    assert qemu_pids(two_hosts.a.root) == [] and qemu_pids(two_hosts.b.root) == []
    check = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0xab 1M 2M", str(dst_img)],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout + check.stderr
    assert completed.get("operation") == 5


CLIENT_DIES = """
import os, sys, threading, time
import pyvirt
from pyvirt.migration import MigrateFlag
from pyvirt.plugin.typed_params import TypedParam, TypedParamType
src, dst = pyvirt.open(sys.argv[1]), pyvirt.open(sys.argv[2])
dom = src.lookup_domain_by_name("slow")
params = [TypedParam("listen_address", TypedParamType.STRING, "127.0.0.1"),
          TypedParam("bandwidth", TypedParamType.ULLONG, 8)]
threading.Thread(target=lambda: dom.migrate3(dst, params, MigrateFlag.LIVE), daemon=True).start()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    kind, stats = dom.job_stats()
    if any(p.field == "data_processed" and p.value > 0 for p in stats):
        break
    time.sleep(0.05)
print("MIGRATING", flush=True)
os._exit(0)  # the client vanishes mid-migration: no Finish, no Confirm
"""


def test_a_client_gone_mid_migration_leaves_the_guest_on_the_source(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    """The client drives the phases; when it dies between them, each daemon undoes its part (libvirt's
    close callbacks): the source's migration is cancelled and its job ends, the destination's QEMU goes."""
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn:
        run = subprocess.run([sys.executable, "-c", CLIENT_DIES, two_hosts.a.uri, two_hosts.b.uri],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert "MIGRATING" in run.stdout, run.stderr
        wait_for(lambda: dom.job_stats() == (0, []), 60, "the source's migration job ended")
        assert dom.state()[0] == DomainState.RUNNING
        wait_for(lambda: qemu_pids(two_hosts.b.root) == [], 60, "the destination's QEMU gone")
        _destination_clean(two_hosts)
        with pyvirt.open(two_hosts.b.uri) as dest:  # nothing is left holding the guest: it migrates again
            moved = dom.migrate3(dest, LOOPBACK, MigrateFlag.LIVE)
            assert moved.state() == (DomainState.RUNNING, 2)
            moved.destroy()


def test_a_destination_that_cannot_run_the_guest_refuses_it_in_prepare(two_hosts: TwoHosts, virt_type: str) -> None:
    """An incompatible destination (no such emulator there): Prepare fails there with the destination's own
    error, the source's job is confirmed cancelled, and the guest runs on as before. (A changed machine type
    would not get that far: the source's Begin refuses a destination XML that changes the guest's ABI.)"""
    with pyvirt.open(two_hosts.a.uri) as ca, pyvirt.open(two_hosts.b.uri) as cb:
        dom = ca.define_domain(FIRMWARE_GUEST.format(virt=virt_type, name="picky"))
        dom.create()
        pid = qemu_pids(two_hosts.a.root)
        alien = re.sub(r"<emulator>[^<]*</emulator>", "<emulator>/nonexistent/qemu-system-x86_64</emulator>",
                       dom.xml_desc(1))  # fmt: skip
        assert "/nonexistent/" in alien
        params = [*LOOPBACK, TypedParam(MigrateParam.DEST_XML, TypedParamType.STRING, alien)]
        with pytest.raises(pyvirt.Error, match="cannot find QEMU binary /nonexistent/qemu-system-x86_64"):
            dom.migrate3(cb, params, MigrateFlag.LIVE)  # (B's words, through A)
        assert dom.state() == (DomainState.RUNNING, 1) and qemu_pids(two_hosts.a.root) == pid
        assert dom.job_stats() == (0, [])  # Confirm (cancelled) ended the source's job
        _destination_clean(two_hosts)
        dom.destroy()


def test_tunnelled_migration_goes_through_the_rpc_connection(
    two_hosts: TwoHosts, virt_type: str, tmp_path: Path
) -> None:
    """--p2p --tunnelled: QEMU's stream travels inside the daemons' libvirt connection (the destination's
    QEMU reads it from a socket its daemon feeds, and listens on no port); pyvirsh there, Debian's virsh back."""
    conn, dom = _start_slow(two_hosts, virt_type, tmp_path)
    with conn:
        run = two_hosts.a.pyvirsh("migrate", "--live", "--p2p", "--tunnelled", "--verbose", "slow", two_hosts.b.uri)
        assert run.returncode == 0, run.stderr + two_hosts.a.daemon.log() + two_hosts.b.daemon.log()
        assert run.stderr.endswith("Migration: [100 %]")
        assert dom.state() == (DomainState.SHUTOFF, 4)
        assert two_hosts.b.pyvirsh("domstate", "--reason", "slow").stdout.strip() == "running (migrated)"
        [pid] = qemu_pids(two_hosts.b.root)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"defer" in cmdline and not any(a.startswith(b"tcp:") for a in cmdline)
        virsh = shutil.which("virsh")
        if virsh is not None:
            back = subprocess.run([virsh, "-c", two_hosts.b.uri, "migrate", "--live", "--p2p", "--tunnelled", "slow",
                                   two_hosts.a.uri], capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
            assert back.returncode == 0, back.stderr
            assert dom.state() == (DomainState.RUNNING, 2)
            _destination_clean(two_hosts)
        with contextlib.suppress(pyvirt.Error):
            dom.destroy()
