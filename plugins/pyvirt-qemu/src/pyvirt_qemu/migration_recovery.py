"""Recovery of an outgoing migration after the source's daemon died (libvirt's qemuProcessRecoverMigrationOut).

The source records the phase its outgoing job has reached in the guest's
status file (:func:`pyvirt_qemu.migration_jobs.record_phase`, with libvirt's names:
``<job async='migration out' phase='perform3_done' .../>``). A daemon that
starts and finds one resolves it, once the guests are reconnected
(:mod:`pyvirt_qemu.autostart` calls :func:`recover`): before Perform ended,
the migration is cancelled and the guest resumed; once Confirm was told the
destination runs the guest ("confirm3"), the guest here is killed (and with
UNDEFINE_SOURCE undefined), told it does not ("confirm3_cancelled"),
resumed. Between Perform and Confirm ("perform3_done") libvirt leaves the
paused guest to a third party; when the migration was peer to peer this
daemon is that party: it asks the destination it recorded whether the guest
runs there, and kills or resumes its own accordingly.

Kept apart from :mod:`pyvirt_qemu.migration` because it runs at a different
time (a daemon's start, not a migration) and only reads the migration's
record; it uses the same ending steps (:func:`~pyvirt_qemu.migration_source.complete_source`,
:func:`~pyvirt_qemu.migration_source.restore_source`) so that a recovered migration
ends exactly as an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from pyvirt.domain_state import DomainState, PausedReason
from pyvirt.errors import Error, ErrorCode
from pyvirt.local_driver.domain_jobs import AsyncJob
from pyvirt.local_driver.status_file import read_status
from pyvirt_qemu.migration_jobs import OUT_MASK, Outgoing
from pyvirt_qemu.migration_source import complete_source, restore_source
from pyvirt_qemu.process import QemuProcess
from pyvirt_qemu.state import DomainObj, QemuState

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = ["recover"]

log = logging.getLogger("pyvirt.qemu.migration")


def recover(conn: QemuConnection) -> None:
    """libvirt's qemuProcessRecoverMigrationOut, for each guest whose status file names an outgoing job: run
    by the daemon's state initialization, once the guests are reconnected. Guests whose resolution needs the
    destination (peer to peer, "perform3_done") are resolved on a thread of their own, holding the domain's
    outgoing job meanwhile, so that the daemon does not wait for another host to answer before it serves."""
    st = conn.state
    for obj in list(st.domains.values()):
        proc = obj.process
        if proc is None or not proc.alive():
            continue
        try:
            job = read_status(st.paths.status_xml(obj.name)).runtime.get("job", {})
        except (Error, OSError, ValueError):
            continue
        if job.get("async") != "migration out":
            continue
        phase, flags, dconnuri = job.get("phase", ""), int(job.get("flags", "0"), 16), job.get("dconnuri")
        log.warning("domain %s: recovering an outgoing migration found in phase %s", obj.name, phase)
        try:
            if phase == "perform3_done" and dconnuri:
                obj.job.begin_async(AsyncJob.MIGRATION_OUT, mask=OUT_MASK)
                threading.Thread(target=_recover_with_peer, args=(st, obj, proc, flags, dconnuri),
                                 name=f"migration-recover-{obj.name}", daemon=True).start()  # fmt: skip
            else:
                _recover_phase(st, obj, proc, phase, flags)
        except Error:  # one guest's trouble must not keep the daemon from serving the others
            log.exception("domain %s: recovering its outgoing migration failed", obj.name)


def _recover_phase(st: QemuState, obj: DomainObj, proc: QemuProcess, phase: str, flags: int) -> None:
    """What each phase leaves to do (libvirt's switch): Begin had changed nothing; Perform under way is
    cancelled and the guest resumed; Confirm told success kills the guest here, told failure resumes it;
    "perform3_done" without a known destination stays paused for whoever manages the hosts (libvirt)."""
    obj.migration_job = None
    if phase == "perform3":
        with contextlib.suppress(Error):
            proc.monitor.execute("migrate_cancel")
    if phase in ("perform3", "confirm3_cancelled"):
        # only a guest the migration paused: QEMU's pause for the last pass (the status said "running" then,
        # so the reconnect found the reason unknown) or the recorded "paused (migration)"
        if obj.state == DomainState.PAUSED and obj.reason in (0, PausedReason.MIGRATION):
            out = Outgoing(True, (obj.state, obj.reason), time.monotonic(), False)
            restore_source(st, obj, proc, out)
            return
    elif phase == "confirm3":
        complete_source(st, obj, flags, False, Outgoing(False, (obj.state, obj.reason), time.monotonic(), False))
        return
    st.save_status(obj)


def _recover_with_peer(st: QemuState, obj: DomainObj, proc: QemuProcess, flags: int, dconnuri: str) -> None:
    """ "perform3_done" of a peer-to-peer migration: this daemon drove it, so it is the party that decides.
    The destination says whether Finish ran the guest there (it runs, or is paused but no longer starting
    up): then it is confirmed here, else cancelled. An unreachable destination decides nothing: the guest
    stays paused, as libvirt leaves it."""
    try:
        phase = _ask_destination(obj, dconnuri)
        if phase is None:
            log.warning("domain %s: the destination %s cannot say whether the migration finished; the guest "
                        "stays paused", obj.name, dconnuri)  # fmt: skip
            obj.migration_job = None
            st.save_status(obj)
        else:
            _recover_phase(st, obj, proc, phase, flags)
    except Exception:
        log.exception("domain %s: recovering its outgoing migration failed", obj.name)
    finally:
        obj.job.end_async()


def _ask_destination(obj: DomainObj, dconnuri: str, timeout: float = 60.0) -> str | None:
    """ "confirm3" when the guest runs on the destination, "confirm3_cancelled" when it is not there (its
    Finish failed, or cleaned up after us), None when the destination cannot be asked."""
    import pyvirt

    deadline = time.monotonic() + timeout
    try:
        dest = pyvirt.open(dconnuri)
    except Error:
        return None
    try:
        while time.monotonic() < deadline:
            try:
                state, reason = dest.lookup_domain_by_uuid(obj.uuid).state()
            except Error as exc:
                if exc.code == ErrorCode.NO_DOMAIN:
                    return "confirm3_cancelled"
                return None
            if state == DomainState.SHUTOFF:
                return "confirm3_cancelled"
            if not (state == DomainState.PAUSED and reason == PausedReason.STARTING_UP):
                return "confirm3"
            time.sleep(0.5)  # still arriving, or its daemon is cleaning it up: wait for either end
        return None
    finally:
        with contextlib.suppress(Error):
            dest.close()
