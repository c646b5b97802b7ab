"""The QEMU driver's state hooks for pyvirtd: its state held for the daemon's life, domain autostart once per boot.

libvirt's ``qemuStateInitialize`` loads the definitions, reconnects to the
running guests and then, on the first start after a host boot, starts the
domains marked autostart (``qemuAutostartDomains``). Here the driver's own
connection is opened and held (so the per-path ``QemuState`` it creates
stays, shared by every connection the daemon opens), then autostart runs
through that connection. ``qemuStateReload`` reads the definitions again,
not ``qemu.conf`` (a changed ``qemu.conf`` needs a daemon restart in libvirt
too). Shutdown waits for the jobs in flight and keeps the guests running.
"""

from __future__ import annotations

import logging
from typing import Any

from pyvirt.flags import DomainCreateFlags
from pyvirt.local_driver.state_driver import (
    HeldState,
    autostart_domains,
    reload_definitions,
    should_autostart,
    wait_for_jobs,
)
from pyvirt.plugin import hookimpl
from pyvirt_qemu.file_job_recovery import recover as recover_file_jobs
from pyvirt_qemu.migration_recovery import recover as recover_migrations

__all__ = ["QemuStateHooks"]

log = logging.getLogger("pyvirt.qemu.state")

_held = HeldState("qemu")


class QemuStateHooks:
    """The ``state_*`` hooks of the ``qemu`` entry point's driver object (mixed into ``QemuDriver``)."""

    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        conn = _held.open(self, privileged, root)
        try:
            recover_migrations(conn)  # (libvirt's reconnect: an outgoing migration the last daemon left)
            recover_file_jobs(conn.state)  # (and a save or dump it left)
            if should_autostart(conn.state.paths.run):
                # libvirt's qemuAutostartDomain: qemu.conf may ask for a managed save read past the page cache
                flags = DomainCreateFlags.START_BYPASS_CACHE if conn.state.auto_start_bypass_cache else 0
                autostart_domains(_held, log, flags)
        except BaseException:
            _held.close()
            raise
        return True

    @hookimpl
    def state_reload(self) -> None:
        if _held.conn is not None:
            reload_definitions(_state(), log)

    @hookimpl
    def state_shutdown_prepare(self) -> None:
        _held.prepare()

    @hookimpl
    def state_shutdown_wait(self, timeout: float) -> bool:
        return True if _held.conn is None else wait_for_jobs(_state(), timeout)

    @hookimpl
    def state_cleanup(self) -> None:
        _held.close()


def _state() -> Any:
    return _held.conn.state
