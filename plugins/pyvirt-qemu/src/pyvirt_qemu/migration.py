"""Live migration of a QEMU guest between two hosts, libvirt's way (``src/qemu/qemu_migration.c``).

The five phases of libvirt's protocol version 3 (``pyvirt.migration`` drives
them from the client; :func:`perform` drives them itself for peer-to-peer):

- **Begin** (source): the guest must be running and migratable (no host
  devices but USB, no snapshots: they would stay behind); the outgoing async
  job "migration out" begins and lasts until Confirm (libvirt's
  CHANGE_PROTECTION); the answer is the guest's XML and a cookie.
- **Prepare** (destination): a QEMU with the same configuration started
  with ``-incoming defer``, then ``migrate-incoming tcp:ADDR:PORT`` on a port
  of libvirt's migration range; the async job "migration in" holds the new
  domain until Finish. The URI goes back to the caller.
- **Perform** (source): QEMU's ``migrate`` to that URI, progress from
  ``query-migrate`` (what ``domjobinfo`` and ``migrate --verbose`` show);
  ``domjobabort`` runs ``migrate_cancel``. When it completes, QEMU has
  paused the guest; it stays so until Confirm.
- **Finish** (destination): the arrived guest runs (unless PAUSED), and is
  defined when PERSIST_DEST asks; when Perform failed, the incoming QEMU is
  killed and the domain forgotten.
- **Confirm** (source): the guest's QEMU ends ("shut off (migrated)"), and
  with UNDEFINE_SOURCE its definition goes; when the destination failed, the
  guest runs again here ("running (migration canceled)").

This module is the driver's entry to them; the phases live by side:
:mod:`pyvirt_qemu.migration_source` (Begin, Perform, Confirm),
:mod:`pyvirt_qemu.migration_destination` (Prepare, Finish),
:mod:`pyvirt_qemu.migration_peer` (peer to peer, tunnelled), and
:mod:`pyvirt_qemu.migration_jobs` (flags, the table of migrations under
way, the recorded phase, ``domjobinfo``'s figures).

The cookie (:mod:`pyvirt_qemu.migration_cookie`) carries the domain's name
and UUID, the source host's name and UUID (a guest cannot migrate to the host
it runs on), its security labels (the destination must offer the same
models), and with PERSIST_DEST the persistent definition. Begin's checks are
in :mod:`pyvirt_qemu.migration_checks` (host devices, snapshots, disks on
host-local storage), the disk copy of ``--copy-storage-all`` (NBD) in
:mod:`pyvirt_qemu.migration_storage`. ``--tunnelled`` (peer to peer only)
replaces Prepare's port with a socket the destination's daemon feeds from the
RPC stream, and Perform's URI with a socket the remote driver relays into it.

During Prepare the destination's status file says "paused, starting up", as
libvirt's state then is: a daemon that dies before Finish is followed by one
that kills that QEMU as an abandoned start. The source records the phase its
outgoing job has reached in the guest's status file, with libvirt's names
(``<job async='migration out' phase='perform3_done' .../>``), and a daemon
that starts and finds one resolves it as libvirt's
``qemuProcessRecoverMigrationOut`` does (:mod:`pyvirt_qemu.migration_recovery`).

Peer to peer, the source's daemon holds a connection to the destination
(with qemu.conf's keepalive, ``keepalive_interval`` x ``keepalive_count``,
libvirt's 5 s x 5 by default) and watches it while QEMU sends: when it dies
(a cut network, a dead host) the migration is cancelled with libvirt's "Lost
connection to destination host" and the guest runs on here. A client
driving the phases itself watches its own connection to the destination
the same way and aborts this side's job (:mod:`pyvirt.migration`).

For tests, ``PYVIRT_TEST_MIGRATION_CRASH=PHASE`` in the daemon's environment
makes it kill itself (SIGKILL) right after recording PHASE: the crash the
recovery is for, at a chosen point.

Post-copy (VIR_MIGRATE_POSTCOPY): both QEMUs get ``postcopy-ram``; Perform
ends when QEMU switches (``migrate-postcopy``, :func:`start_post_copy`), the
source's guest then "paused (post-copy)"; Finish runs the guest at once
("running (post-copy)") and waits for its last pages ("running
(migrated)"). When the stream breaks after the switch (``domjobabort
--postcopy`` breaks it on purpose) neither side has the whole guest: the
source's stays "paused (post-copy failed)", the destination's "running
(post-copy failed)", as libvirt leaves them, until a migration with
VIR_MIGRATE_POSTCOPY_RESUME takes the stream up again through the same five
phases (:mod:`pyvirt_qemu.migration_resume`). What is not handled: offline
and incremental-storage migration (refused by name), and the migration
parameters beyond ``PARAMS`` (refused by name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.flags import DomainMigrateFlags as Flag
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam
from pyvirt_qemu import migration_source
from pyvirt_qemu.migration_destination import finish, prepare, prepare_tunnel
from pyvirt_qemu.migration_jobs import check_flags_and_params, job_stats
from pyvirt_qemu.migration_peer import peer_to_peer
from pyvirt_qemu.migration_source import begin, confirm, pause_post_copy, start_post_copy

if TYPE_CHECKING:
    from pyvirt_qemu.driver import QemuConnection

__all__ = [
    "begin", "confirm", "finish", "job_stats", "pause_post_copy", "perform", "prepare", "prepare_tunnel",
    "start_post_copy",
]  # fmt: skip


def perform(
    conn: QemuConnection, dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
) -> bytes:
    """libvirt's qemuMigrationSrcPerform: with PEER2PEER this daemon drives the whole migration to
    ``dconnuri``; otherwise the Perform phase of a migration the client drives."""
    if flags & Flag.PEER2PEER:
        check_flags_and_params(params, flags, "qemuDomainMigratePerform3Params")
        if not dconnuri:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "dconnuri is required for peer-to-peer migration")
        peer_to_peer(conn, dom, dconnuri, params, flags)
        return b""
    return migration_source.perform(conn, dom, params, cookie, flags)
