"""What the local drivers share to implement pyvirtd's state hooks (``pyvirt.plugin.specs.state``).

- :class:`HeldState`: the driver's own connection, opened by
  ``state_initialize`` and closed by ``state_cleanup``. The QEMU and LXC
  drivers keep one state per set of paths for as long as a connection to
  it is open, so holding one connection is what keeps the state (monitors,
  watchers, ids, job locks) alive between clients; every connection the
  daemon opens later shares it.
- :func:`should_autostart`: libvirt's ``virDriverShouldAutostart``: a marker
  file ``autostarted`` in the driver's run directory, which lives on tmpfs,
  so only the first initialisation after a host boot autostarts.
- :func:`autostart_domains`: start every domain marked autostart that is
  not running, logging each failure and going on with the others
  (libvirt's ``qemuAutostartDomain``/``virLXCProcessAutostartDomain``).
- :func:`reload_definitions`: libvirt's ``stateReload`` for domains: the
  config directory read again, new and changed definitions taken in.
- :func:`wait_for_jobs`, :func:`wait_unlocked`: the work in flight (domain
  jobs; the object stores' ``driver.lock``), waited for at shutdown.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from typing import Any

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode, InternalError
from pyvirt.events import Defined, DomainEvent, EventSink
from pyvirt.local_driver.domain_table import DomainTable
from pyvirt.local_driver.names import definition_files
from pyvirt.uri import URI, parse_uri
from pyvirt.util.fileio import read_limited

__all__ = ["AUTOSTART_MARKER", "HeldState", "autostart_domains", "in_daemon", "reload_definitions",
           "should_autostart", "state_uri", "wait_for_jobs", "wait_unlocked"]  # fmt: skip

AUTOSTART_MARKER = "autostarted"


def should_autostart(run_dir: str) -> bool:
    """True exactly once per host boot (per run directory): whoever creates the marker autostarts.

    libvirt tests for the file and then touches it; creating it with
    O_EXCL instead makes two processes opening the same fresh root at once
    agree on which of them autostarts.
    """
    os.makedirs(run_dir, mode=0o755, exist_ok=True)
    try:
        fd = os.open(
            os.path.join(run_dir, AUTOSTART_MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
    except FileExistsError:
        return False
    os.close(fd)
    return True


def in_daemon() -> bool:
    """Whether this process is pyvirtd: the driver state it creates is then the one owner of its paths.

    (For plugins, which may not reach into ``pyvirt.opening``, where the daemon records it.)
    """
    from pyvirt.opening import in_daemon as _in_daemon

    return _in_daemon()


def state_uri(scheme: str, privileged: bool, root: str | None) -> URI:
    """The URI whose paths a daemon instance's driver state uses: embedded root, system or session."""
    if root is not None:
        return parse_uri(f"{scheme}:///embed?root={root}")
    return parse_uri(f"{scheme}:///{'system' if privileged else 'session'}")


class HeldState:
    """One driver's state as pyvirtd holds it: a connection of the driver's own, from initialize to cleanup.

    ``accepting`` turns False at ``state_shutdown_prepare``: autostart in
    progress stops before the next guest.
    """

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        self.conn: Any = None
        self.accepting = False
        self._lock = threading.Lock()

    def open(self, driver: Any, privileged: bool, root: str | None) -> Any:
        """Open and hold the driver's connection (its ``connect_open`` creates or joins the shared state)."""
        with self._lock:
            if self.conn is not None:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"the {self.scheme} driver's state is already initialized"
                )
            conn = driver.connect_open(uri=state_uri(self.scheme, privileged, root), read_only=False,
                                       events=EventSink())  # fmt: skip
            if conn is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"the {self.scheme} driver declined its own URI")
            self.conn, self.accepting = conn, True
            return conn

    def prepare(self) -> None:
        self.accepting = False

    def close(self) -> None:
        with self._lock:
            conn, self.conn, self.accepting = self.conn, None, False
        if conn is not None:
            conn.connect_close()


def autostart_domains(held: HeldState, log: logging.Logger, flags: int = 0) -> list[str]:
    """Start the domains marked autostart that are not running; the names started, in libvirt's list order.

    Each start goes through the driver's own ``domain_create`` (its jobs,
    labels, status files and events), as libvirt's autostart calls
    ``qemuDomainObjStart``. A failure is logged with libvirt's wording and
    the next domain is tried. ``flags`` are the start flags the driver's
    configuration asks for (qemu.conf's ``auto_start_bypass_cache`` gives
    ``START_BYPASS_CACHE``, as ``qemuAutostartDomain`` adds it).
    """
    conn = held.conn
    started: list[str] = []
    for ref in conn.domain_list_all():
        if not held.accepting:
            log.info("%s autostart stopped: the daemon is shutting down", held.scheme)
            break
        try:
            marks = conn.domain_get_flags(ref)
            if not marks["autostart"] or marks["active"]:
                continue
            conn.domain_create(ref, flags)
        except Error as e:
            log.error("internal error: Failed to autostart VM '%s': %s", ref.name, e.message)
        except Exception:  # a driver bug in one guest's start must not keep the others (or the daemon) down
            log.exception("internal error: Failed to autostart VM '%s'", ref.name)
        else:
            log.info("%s: autostarted domain '%s'", held.scheme, ref.name)
            started.append(ref.name)
    return started


def reload_definitions(table: DomainTable[Any], log: logging.Logger) -> None:
    """libvirt's ``stateReload`` for a domain driver: definitions on disk read again.

    A definition file added behind the daemon's back defines a new domain
    (event DEFINED ADDED, as ``qemuNotifyLoadDomain``); a changed one
    replaces an inactive domain's definition, or becomes the next
    definition of a running one; autostart marks are read again. A file
    that cannot be read or parsed is logged and skipped; running guests are
    not touched.
    """
    for _name, path in definition_files(table.paths.config):
        try:
            with open(path, "rb") as f:
                dom = parse_domain(read_limited(f, path), url=path)
            with table.lock:
                existing = table.domains.get(dom.uuid or "")
                if existing is not None and existing.persistent and _same(existing.persistent_def(), dom):
                    continue
                obj, new = table.add_definition(dom, live=False)
                obj.persistent = True
        except (Error, OSError, ValueError) as e:
            log.error("%s: cannot reload %s: %s", table.paths.config, path, getattr(e, "message", e))
            continue
        if new:
            table.emit(obj, DomainEvent.DEFINED, Defined.ADDED)
    with table.lock:
        objs = list(table.domains.values())
    for obj in objs:
        if obj.persistent:
            obj.autostart = os.path.exists(table.paths.autostart_link(obj.name))


def _same(current: Any, loaded: Any) -> bool:
    """Whether a definition read again is the one the table has (formatted as the config file is)."""
    with contextlib.suppress(Error):
        return bool(format_domain(current, 2) == format_domain(loaded, 2))
    return False


def wait_for_jobs(table: DomainTable[Any], timeout: float) -> bool:
    """Until no domain of ``table`` has a job (sync or async) in flight, for ``timeout`` seconds at most.

    Domains without a job model (``obj.job``) are waited for through their
    data lock, which their operations hold while they change the domain.
    """
    deadline = time.monotonic() + timeout
    while True:
        with table.lock:
            objs = list(table.domains.values())
        busy = False
        for obj in objs:
            jobs = getattr(obj, "job", None)
            if jobs is not None:
                busy = busy or int(jobs.active) != 0 or int(jobs.async_job) != 0
            elif obj.lock.acquire(timeout=max(0.0, min(0.1, deadline - time.monotonic()))):
                obj.lock.release()
            else:
                busy = True
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def wait_unlocked(lock_path: str, timeout: float) -> bool:
    """Until nobody holds the ``flock`` of ``lock_path`` (an object store's change in flight), ``timeout`` s at most.

    flock conflicts between open file descriptions, so this sees the
    changes of this process's other threads as well as other processes'.
    """
    deadline = time.monotonic() + timeout
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # never locked since the run directory was made
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
            else:
                return True
    finally:
        os.close(fd)
