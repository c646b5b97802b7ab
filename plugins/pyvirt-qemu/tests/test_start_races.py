"""Starts that race each other or die mid-way, across processes sharing one embedded root.

What a user must never see: two QEMUs for one guest, a QEMU that ``list``
does not show (or a "running" guest without one), or a guest that cannot be
started or destroyed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from lxml import etree

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.uri import parse_uri

PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")


def run_dir(root: Path) -> Path:
    """The qemu driver's run directory under an embedded root (wherever the layout puts it)."""
    return Path(paths_for_uri(parse_uri(f"qemu:///embed?root={root}"), "qemu").run)


def guest(virt_type: str, name: str) -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>"""


def qemus_of(root: Path, name: str) -> list[int]:
    """Live QEMU processes of guest ``name`` under ``root`` (a zombie has no command line: it is gone)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        args = raw.split(b"\0")
        if b"qemu-system" in raw and f"guest={name},debug-threads=on".encode() in args and str(root).encode() in raw:
            pids.append(int(entry))
    return pids


def pyvirsh(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYVIRSH, "-c", f"qemu:///embed?root={root}", *args], capture_output=True, text=True,
                          check=check, timeout=120)  # fmt: skip


def define(root: Path, xml: str) -> None:
    with pyvirt.open(f"qemu:///embed?root={root}") as conn:
        conn.define_domain(xml)


def assert_list_agrees(root: Path, name: str) -> int:
    """At most one QEMU, and what a new process reports (domstate, list) is what /proc shows."""
    state = pyvirsh(root, "domstate", name).stdout.strip()  # a new process: it finds, adopts or cleans up
    qemus = qemus_of(root, name)
    assert len(qemus) <= 1, f"{len(qemus)} QEMUs for one guest: {qemus}"
    listed = [line.split() for line in pyvirsh(root, "list", "--all").stdout.splitlines()[2:] if line.strip()]
    row = next(r for r in listed if r[1] == name)
    if qemus:
        assert state in ("running", "paused"), f"a QEMU runs but domstate says {state!r}"
        assert row[0] != "-" and " ".join(row[2:]) == state
    else:
        assert state == "shut off", f"no QEMU runs but domstate says {state!r}"
        assert row[0] == "-" and " ".join(row[2:]) == "shut off"
    return len(qemus)


def test_a_start_killed_at_any_point_leaves_one_qemu_or_none(qemu_root: Path, virt_type: str) -> None:
    define(qemu_root, guest(virt_type, "kill9"))
    began = time.monotonic()
    pyvirsh(qemu_root, "start", "kill9")
    duration = time.monotonic() - began  # interpreter start-up included: that is when a user's kill lands
    assert len(qemus_of(qemu_root, "kill9")) == 1
    pyvirsh(qemu_root, "destroy", "kill9")
    delays = [duration * i / 10 for i in range(1, 11)]
    for delay in delays:
        proc = subprocess.Popen([PYVIRSH, "-c", f"qemu:///embed?root={qemu_root}", "start", "kill9"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        proc.kill()
        proc.wait()
        running = assert_list_agrees(qemu_root, "kill9")
        # whatever was left, the guest can be driven again: destroy it if it runs, then start and destroy it
        if running:
            pyvirsh(qemu_root, "destroy", "kill9")
            assert qemus_of(qemu_root, "kill9") == []
        pyvirsh(qemu_root, "start", "kill9")
        assert len(qemus_of(qemu_root, "kill9")) == 1
        pyvirsh(qemu_root, "destroy", "kill9")
        assert qemus_of(qemu_root, "kill9") == []
    # and nothing of all those starts is left in the run directory
    assert sorted(p.name for p in run_dir(qemu_root).iterdir() if p.name.startswith("kill9")) == []


def test_a_start_killed_with_qemu_paused_at_s_is_killed_by_the_next_process(qemu_root: Path, virt_type: str) -> None:
    """The starter dies once QEMU exists but before ``cont``: the next process finds libvirt's "paused,
    starting up" status with the pid, kills that QEMU and undoes the start, as libvirt's reconnect does."""
    define(qemu_root, guest(virt_type, "halfway"))
    status = run_dir(qemu_root) / "halfway.xml"
    for _attempt in range(5):
        proc = subprocess.Popen([PYVIRSH, "-c", f"qemu:///embed?root={qemu_root}", "start", "halfway"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        caught = 0
        while proc.poll() is None:
            with contextlib.suppress(OSError, etree.XMLSyntaxError):
                root = etree.fromstring(status.read_bytes())
                if root.get("reason") == "11" and int(root.get("pid", "0")) > 0:  # paused, starting up
                    proc.kill()
                    caught = int(root.get("pid", "0"))
                    break
        proc.wait()
        if caught:
            break
        pyvirsh(qemu_root, "destroy", "halfway")  # too quick this time: it started; try again
    else:
        pytest.skip("the start never stayed in 'starting up' long enough to be caught")
    assert qemus_of(qemu_root, "halfway") == [caught]  # left behind, paused at -S
    assert pyvirsh(qemu_root, "domstate", "halfway", "--reason").stdout.strip() == "shut off (daemon)"
    assert qemus_of(qemu_root, "halfway") == []
    assert sorted(p.name for p in run_dir(qemu_root).iterdir() if p.name.startswith("halfway")) == []
    pyvirsh(qemu_root, "start", "halfway")
    assert len(qemus_of(qemu_root, "halfway")) == 1
    pyvirsh(qemu_root, "destroy", "halfway")


def test_sixteen_processes_starting_one_guest_start_one_qemu(qemu_root: Path, virt_type: str) -> None:
    """All sixteen have loaded the guest as shut off before any of them starts it: exactly one may win."""
    define(qemu_root, guest(virt_type, "crowd"))
    go = qemu_root.parent / "go"
    code = textwrap.dedent(f"""
        import os, sys, time
        import pyvirt
        with pyvirt.open("qemu:///embed?root={qemu_root}") as c:
            dom = c.lookup_domain_by_name("crowd")
            assert dom.state()[0] == pyvirt.DomainState.SHUTOFF
            print("ready", flush=True)
            while not os.path.exists({str(go)!r}):
                time.sleep(0.005)
            try:
                dom.create()
            except pyvirt.Error as e:
                print(f"error {{int(e.code)}} {{e.message}}", flush=True)
                sys.exit(1)
            print("started", flush=True)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(16)]  # fmt: skip
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
        go.touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill()
    results = [out.strip().splitlines()[-1] for out, _err in outs]
    assert results.count("started") == 1, results
    refused = [r for r in results if r != "started"]
    assert refused == [f"error {int(ErrorCode.OPERATION_INVALID)} Requested operation is not valid: "
                       "domain is already running"] * 15, [*refused, *(err for _out, err in outs)]  # fmt: skip
    assert len(qemus_of(qemu_root, "crowd")) == 1
    assert assert_list_agrees(qemu_root, "crowd") == 1
    pyvirsh(qemu_root, "destroy", "crowd")
    assert qemus_of(qemu_root, "crowd") == []


def test_sixteen_pyvirsh_starts_one_qemu(qemu_root: Path, virt_type: str) -> None:
    """The same through pyvirsh, as a user's scripts do it: one "started", fifteen refusals, one QEMU.

    A pyvirsh that opens its connection after the start has finished sees the
    guest running and says so itself ("Domain is already active", as virsh
    does); one that raced the start gets the driver's refusal.
    """
    define(qemu_root, guest(virt_type, "crowd2"))
    procs = [subprocess.Popen([PYVIRSH, "-c", f"qemu:///embed?root={qemu_root}", "start", "crowd2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(16)]  # fmt: skip
    outs = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [rc for rc, _o, _e in outs].count(0) == 1, outs
    for rc, _out, err in outs:
        if rc:
            assert ("error: Requested operation is not valid: domain is already running" in err
                    or "error: Domain is already active" in err), err  # fmt: skip
    assert len(qemus_of(qemu_root, "crowd2")) == 1
    assert assert_list_agrees(qemu_root, "crowd2") == 1
    pyvirsh(qemu_root, "destroy", "crowd2")


def test_suspend_and_resume_racing_destroy_fail_cleanly(conn: pyvirt.Connection, virt_type: str) -> None:
    """A suspend or resume that loses the race with a destroy is told the domain is not running, never
    a Python error about the process that went away under it."""
    dom = conn.define_domain(guest(virt_type, "racer"))
    unexpected: list[BaseException] = []
    for _round in range(8):
        dom.create()
        stop = threading.Event()

        def toggle(stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    dom.suspend()
                    dom.resume()
                except pyvirt.Error as exc:
                    clean = (
                        exc.code == ErrorCode.OPERATION_INVALID and exc.message.endswith("domain is not running")
                    ) or (
                        exc.code == ErrorCode.OPERATION_FAILED and exc.message.endswith("domain is no longer running")
                    )
                    if not clean:
                        unexpected.append(exc)
                    return
                except BaseException as exc:  # what the user saw before: a traceback
                    unexpected.append(exc)
                    return

        threads = [threading.Thread(target=toggle) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.05 * (_round % 4))
        dom.destroy()
        stop.set()
        for t in threads:
            t.join(30)
        assert dom.state()[0] == DomainState.SHUTOFF
    assert unexpected == []
    with pytest.raises(pyvirt.OperationInvalidError) as exc:
        dom.suspend()
    assert exc.value.message == "Requested operation is not valid: domain is not running"
