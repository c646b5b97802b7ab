"""A save's end, as libvirt 9.0 reports it: job-completed with the statistics, and ``domjobinfo --completed``.

libvirt's qemuMigrationSrcToFile (save, managedsave, a non-memory-only dump
and an external memory snapshot all stream the guest through it) keeps QEMU's
final migration figures as the completed job and raises job-completed with
them, after a migration-iteration per pass over memory and before the guest's
"stopped (saved)". The comparison runs the same ``virsh`` session against
Debian's libvirtd 9.0 and against pyvirtd and compares what scripts read:
the kinds of events in order, each job-completed's field names in order, and
``domjobinfo --completed``'s labels (the figures themselves are timings).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyvirt
from pyvirt import DomainEvent
from pyvirt.events import Stopped, Suspended
from pyvirt.flags import DomainGetJobStatsFlags
from pyvirt.migration import JobType

GUEST = """<domain type='{t}'><name>{name}</name>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""
SAVE = 2  # VIR_DOMAIN_JOB_OPERATION_SAVE


def _wait_for(seen: list[tuple[str, Any]], last: tuple[str, Any]) -> None:
    """Events reach the callbacks from the driver's event thread: wait for the last one expected."""
    deadline = time.monotonic() + 10
    while last not in seen and time.monotonic() < deadline:
        time.sleep(0.02)


def test_save_and_managedsave_report_the_completed_job(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    seen: list[tuple[str, Any]] = []
    for kind in ("job-completed", "migration-iteration"):
        conn.register_event(kind, lambda ev, kind=kind: seen.append((kind, ev)))
    conn.register_domain_event(lambda ev: seen.append(("lifecycle", (ev.event, ev.detail))))
    dom = conn.define_domain(GUEST.format(t=virt_type, name="jc"))
    for save in (lambda: dom.save(str(tmp_path / "jc.img")), dom.managed_save):
        dom.create()
        seen.clear()
        save()
        _wait_for(seen, ("lifecycle", (DomainEvent.STOPPED, Stopped.SAVED)))
        kinds = [kind for kind, _ in seen]
        (done,) = [ev for kind, ev in seen if kind == "job-completed"]
        # migration-iteration for each pass first, then job-completed, then the guest stops (saved)
        assert "migration-iteration" in kinds, kinds
        assert kinds.index("job-completed") > max(i for i, k in enumerate(kinds) if k == "migration-iteration")
        assert kinds.index("job-completed") < seen.index(("lifecycle", (DomainEvent.STOPPED, Stopped.SAVED)))
        # libvirt reports the pause for the save, and not the end of QEMU it causes: only "stopped (saved)"
        assert [ev for kind, ev in seen if kind == "lifecycle"] == [
            (DomainEvent.SUSPENDED, Suspended.PAUSED),
            (DomainEvent.STOPPED, Stopped.SAVED),
        ]
        stats = {p.field: p.value for p in done.params}
        assert done.domain.name == "jc" and stats["operation"] == SAVE, stats
        assert stats["memory_total"] == stats["data_total"] > 0 and stats["memory_remaining"] == 0, stats
        assert 0 < stats["memory_processed"] == stats["data_processed"] <= stats["memory_total"], stats
        # the same figures stay for domjobinfo --completed (KEEP_COMPLETED leaves them; without it they go)
        keep = DomainGetJobStatsFlags.COMPLETED | DomainGetJobStatsFlags.KEEP_COMPLETED
        assert dom.job_stats(keep) == (JobType.COMPLETED, done.params)
        assert dom.job_stats(DomainGetJobStatsFlags.COMPLETED) == (JobType.COMPLETED, done.params)
        assert dom.job_stats(DomainGetJobStatsFlags.COMPLETED) == (JobType.NONE, [])
    dom.managed_save_remove()
    dom.undefine()


# What shows the listener registered: a live description (the story sets none), and the event it prints
PROBE_LINE = "event 'metadata-change' for domain 'jc': type description, uri <null>"


def _session(virsh: str, uri: str, work: Path, listeners: Any) -> tuple[list[str], str]:
    """Events seen while a guest is saved, one line per event with the figures masked; domjobinfo's labels."""
    env = dict(os.environ, LC_ALL="C")

    def run(*argv: str) -> str:
        done = subprocess.run(
            [virsh, "-c", uri, *argv], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert done.returncode == 0, (argv, done.stderr)
        return done.stdout

    run("define", str(work / "g.xml"))
    run("start", "jc")
    listener = listeners.start([virsh, "-c", uri, "event", "--all", "--loop", "--timeout", "60"], env)
    listeners.registered([listener], lambda: run("desc", "jc", "--live", "probe"), PROBE_LINE)  # before the save
    run("save", "jc", str(work / "jc.img"))
    listener.wait_for("event 'lifecycle' for domain 'jc': Stopped Saved")  # the save's last event
    jobinfo = run("domjobinfo", "jc", "--completed")
    events = listeners.without_probe(listener.stop()[0], PROBE_LINE)
    run("undefine", "jc")
    lines = re.sub(r"\n\t", "\t", events).splitlines()  # a job-completed's fields on its own line
    masked = [re.sub(r"(\t[a-z_]+): \d+", r"\1", re.sub(r"iteration: '\d+'", "iteration", line)) for line in lines]
    masked = [line for line in masked if not line.startswith("events received: ")]  # passes vary in number
    unique = [line for i, line in enumerate(masked) if i == 0 or line != masked[i - 1]]  # passes vary in number
    labels = "\n".join(line.split(":")[0] for line in jobinfo.splitlines())
    return unique, labels


def test_virsh_sees_the_same_save_from_pyvirtd_as_from_libvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str, event_listeners: Any
) -> None:
    from pyvirt.daemon.instance import PrivateDaemon

    results = {}
    # short directory names: pyvirtd's socket path must fit a sockaddr_un (108 bytes)
    for side, short in (("libvirtd", "lv"), ("pyvirtd", "pd"), ("pyvirsh on pyvirtd", "ps")):
        work = tmp_path / short
        work.mkdir()
        (work / "g.xml").write_text(GUEST.format(t=virt_type, name="jc"))
        if side == "libvirtd":
            results[side] = _session("virsh", shared_libvirtd, work, event_listeners)
        else:
            virsh = "virsh" if side == "pyvirtd" else str(Path(sys.executable).with_name("pyvirsh"))
            with PrivateDaemon(qemu_root / short) as daemon:
                results[side] = _session(virsh, daemon.uri("qemu:///system"), work, event_listeners)
    theirs = results.pop("libvirtd")
    assert any("job-completed" in line and "operation" in line for line in theirs[0]), theirs  # it compares
    for side, ours in results.items():
        assert ours == theirs, f"{side}:\n{ours}\nlibvirtd:\n{theirs}"
